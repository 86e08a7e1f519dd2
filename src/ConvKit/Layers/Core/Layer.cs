using ConvKit.Autograd;
using ConvKit.Tensors;

namespace ConvKit.Layers;

/// <summary>
/// A Keras layer: the constructor validates the arguments, <see cref="Build"/> creates the weights once the
/// input shape is known (on the first call), <see cref="ComputeOutputShape(Shape)"/> is pure shape arithmetic,
/// and <see cref="Call(Tensor, bool)"/> computes.
/// </summary>
public abstract class Layer
{
    private readonly List<Variable> weights = [];
    private int seed;

    protected Layer(string? name)
    {
        Name = name ?? Names.Unique(Names.ToSnakeCase(TypeName));
        seed = RandomSource.NextGlobalSeed();
    }

    /// <summary>The unique name, e.g. <c>conv2d_1</c>.</summary>
    public string Name { get; }

    /// <summary>
    /// The Keras class name shown by <c>Summary()</c> and used for auto-names, e.g. <c>Conv2D</c>;
    /// aliases such as <c>MaxPool2D</c> report their canonical class, <c>MaxPooling2D</c>.
    /// </summary>
    public virtual string TypeName => GetType().Name;

    public bool Built { get; protected set; }

    /// <summary>When false, the layer's weights are not trained (they move to the non-trainable list).</summary>
    public bool Trainable
    {
        get => trainable;
        set
        {
            trainable = value;
            foreach (var w in weights) w.Trainable = value && !frozen.Contains(w);
        }
    }
    private bool trainable = true;
    private readonly HashSet<Variable> frozen = [];

    /// <summary>All weights in creation order: Keras's <c>layer.weights</c> (trainable ones, then non-trainable).</summary>
    public IReadOnlyList<Variable> Weights => [.. TrainableWeights, .. NonTrainableWeights];
    public IReadOnlyList<Variable> TrainableWeights => weights.Where(w => w.Trainable).ToList();
    public IReadOnlyList<Variable> NonTrainableWeights => weights.Where(w => !w.Trainable).ToList();

    /// <summary>The number of weight values, trainable or not.</summary>
    public long CountParams() => weights.Sum(w => (long)w.Shape.Size);

    /// <summary>The output of this layer's first call on symbolic tensors (for feature extraction), if any.</summary>
    public SymbolicTensor? Output { get; internal set; }

    /// <summary>The input shape the layer was built for (batch <c>None</c>).</summary>
    public Shape? InputShape { get; private set; }

    /// <summary>
    /// While a model file is read on this thread: called with each weight's path and shape before the weight is allocated,
    /// and throws for a weight the file does not hold with that shape, so a file cannot make its reader allocate more than it backs.
    /// </summary>
    [ThreadStatic] internal static Action<string, Shape>? CheckWeightBacked;

    /// <summary>Creates a weight. Its initial value comes from <paramref name="initializer"/> with this layer's seed.</summary>
    protected Variable AddWeight(string name, Shape shape, Initializer initializer, bool trainable = true)
    {
        string path = $"{Name}/{name}";
        CheckWeightBacked?.Invoke(path, shape);
        var variable = new Variable(path, initializer.Create(shape, seed++), trainable && Trainable);
        if (!trainable) frozen.Add(variable);
        weights.Add(variable);
        return variable;
    }

    /// <summary>Creates the weights for inputs of <paramref name="inputShape"/> (batch may be <c>None</c>); runs once.</summary>
    public void Build(Shape inputShape)
    {
        if (Built) return;
        ValidateInput(inputShape);
        BuildCore(inputShape);
        InputShape = inputShape;
        Built = true;
    }

    /// <summary>Checks rank and sizes before building; layers override to name what they need.</summary>
    protected virtual void ValidateInput(Shape inputShape) { }

    /// <summary>Creates weights; the default layer has none.</summary>
    protected virtual void BuildCore(Shape inputShape) { }

    /// <summary>The output shape for an input shape, without running anything (batch passes through).</summary>
    public abstract Shape ComputeOutputShape(Shape inputShape);

    /// <summary>Runs the layer on a batch, building it first if needed. <paramref name="training"/> switches dropout and batch norm.</summary>
    public Tensor Call(Tensor input, bool training = false)
    {
        if (!Built) Build(input.Shape.WithBatch(Shape.Unknown));
        else CheckBuiltInput(input.Shape);
        ConvKit.Autograd.OpTrace.Mark();
        return CallCore(input, training);
    }

    /// <summary>Wires this layer into a functional model: returns the symbolic output.</summary>
    public SymbolicTensor Call(SymbolicTensor input)
    {
        if (!Built) Build(input.Shape);
        else CheckBuiltInput(input.Shape);
        var output = new SymbolicTensor(ComputeOutputShape(input.Shape), this, [input]);
        Output ??= output;
        return output;
    }

    /// <summary>The computation on a built layer.</summary>
    protected abstract Tensor CallCore(Tensor input, bool training);

    /// <summary>
    /// At inference, with nothing recording: this layer's output with a per-channel y·scale + shift (a batch
    /// normalization that follows it), + <paramref name="residual"/> (a residual block's Add) when given, and ReLU
    /// applied in the same pass, named <paramref name="name"/> in traces; null when the layer cannot fold them in (the
    /// caller then runs the layers one by one).
    /// </summary>
    internal Tensor? CallFolded(Tensor input, float[] scale, float[] shift, Tensor? residual, bool relu, string name)
    {
        if (!Built) return null;
        CheckBuiltInput(input.Shape);
        ConvKit.Autograd.OpTrace.Mark();
        return CallFoldedCore(input, scale, shift, residual, relu, name);
    }

    /// <summary>What <see cref="CallFolded"/> runs on a built layer; the default layer folds nothing.</summary>
    private protected virtual Tensor? CallFoldedCore(Tensor input, float[] scale, float[] shift, Tensor? residual, bool relu, string name) => null;

    /// <summary>
    /// max(this layer's output, 0) in one op, for a ReLU that follows this layer and is the only reader of its output;
    /// null when the layer cannot take the ReLU in (the caller then runs the two layers one after the other).
    /// </summary>
    internal Tensor? CallWithRelu(Tensor input, bool training)
    {
        if (!Built) return null;
        CheckBuiltInput(input.Shape);
        ConvKit.Autograd.OpTrace.Mark();
        return CallWithReluCore(input, training);
    }

    /// <summary>What <see cref="CallWithRelu"/> runs on a built layer; the default layer takes no ReLU in.</summary>
    private protected virtual Tensor? CallWithReluCore(Tensor input, bool training) => null;

    /// <summary>Runs the layer on the values of its graph inputs (one for most layers).</summary>
    internal virtual Tensor Invoke(IReadOnlyList<Tensor> inputs, bool training) => Call(inputs[0], training);

    /// <summary>The output shape for the graph inputs' shapes.</summary>
    internal virtual Shape ComputeOutputShape(IReadOnlyList<Shape> inputShapes) => ComputeOutputShape(inputShapes[0]);

    private void CheckBuiltInput(Shape shape)
    {
        if (InputShape is { } expected && !shape.IsCompatibleWith(expected))
            throw new ArgumentException($"{TypeName} '{Name}' was built for input {expected}; received {shape}.");
    }

    /// <summary>The layer's arguments as Keras's <c>get_config()</c> names them.</summary>
    public virtual IReadOnlyDictionary<string, object?> GetConfig() => new Dictionary<string, object?>
    {
        ["name"] = Name,
        ["trainable"] = Trainable,
    };

    /// <summary>Runs <paramref name="body"/> without recording on gradient tapes.</summary>
    protected static T WithoutTape<T>(Func<T> body)
    {
        using var _ = GradientTape.Pause();
        return body();
    }

    public override string ToString() => $"<{TypeName} name={Name}, built={Built}>";
}
