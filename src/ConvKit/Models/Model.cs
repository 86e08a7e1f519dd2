using ConvKit.Autograd;
using ConvKit.Kernels;
using ConvKit.Layers;
using ConvKit.Operations;
using ConvKit.Tensors;

namespace ConvKit.Models;

/// <summary>
/// A graph of layers from inputs to outputs (Keras's functional <c>Model</c>): wire layers by calling them on
/// <see cref="Input"/>s and symbolic tensors, then hand the inputs and outputs to the constructor. Branches join
/// with <see cref="Add"/> or <see cref="Concatenate"/>; any layer's <see cref="Layer.Output"/> can be a model output,
/// which is how features are extracted.
/// </summary>
/// <example>
/// <code>
/// var input = new Input(28, 28, 1);
/// var x = new Conv2D(8, 3, padding: Padding.Same, activation: Activation.Relu).Call(input);
/// var y = new Add().Call(x, new Conv2D(8, 1).Call(input));
/// var model = new Model(input, new Dense(10).Call(new Flatten().Call(y)));
/// </code>
/// </example>
public partial class Model
{
    private List<SymbolicTensor> nodes = [];

    public Model(SymbolicTensor input, SymbolicTensor output, string? name = null) : this([input], [output], name) { }

    public Model(IReadOnlyList<SymbolicTensor> inputs, IReadOnlyList<SymbolicTensor> outputs, string? name = null)
    {
        Name = name ?? Names.Unique("functional");
        SetGraph(inputs, outputs);
    }

    /// <summary>For subclasses that wire their graph later (Sequential without an Input).</summary>
    private protected Model(string name) => Name = name;

    public string Name { get; }

    public IReadOnlyList<SymbolicTensor> Inputs { get; private set; } = [];
    public IReadOnlyList<SymbolicTensor> Outputs { get; private set; } = [];

    /// <summary>True once the graph, and so every layer's weights, exist.</summary>
    public bool Built => Outputs.Count > 0;

    /// <summary>The layers in the order data flows through them (functional models include their InputLayers, as in Keras).</summary>
    public virtual IReadOnlyList<Layer> Layers => nodes.Select(n => n.Layer).Distinct().ToList();

    /// <summary>Every weight of every layer, each once.</summary>
    public IReadOnlyList<Variable> Weights => Layers.SelectMany(l => l.Weights).Distinct().ToList();
    public IReadOnlyList<Variable> TrainableWeights => Layers.SelectMany(l => l.TrainableWeights).Distinct().ToList();
    public IReadOnlyList<Variable> NonTrainableWeights => Layers.SelectMany(l => l.NonTrainableWeights).Distinct().ToList();

    public long CountParams() => Weights.Sum(w => (long)w.Shape.Size);

    /// <summary>The layer called <paramref name="name"/>.</summary>
    public Layer GetLayer(string name) =>
        Layers.FirstOrDefault(l => l.Name == name)
        ?? throw new ArgumentException($"Model '{Name}' has no layer '{name}'; its layers are {string.Join(", ", Layers.Select(l => l.Name))}.");

    /// <summary>The layer at <paramref name="index"/> of <see cref="Layers"/>.</summary>
    public Layer GetLayer(int index) => Layers[index];

    private protected void SetGraph(IReadOnlyList<SymbolicTensor> inputs, IReadOnlyList<SymbolicTensor> outputs)
    {
        if (inputs.Count == 0 || outputs.Count == 0) throw new ArgumentException($"Model '{Name}' needs at least one input and one output.");
        var order = new List<SymbolicTensor>();
        var visited = new HashSet<SymbolicTensor>(ReferenceEqualityComparer.Instance);
        var inputSet = new HashSet<SymbolicTensor>(inputs, ReferenceEqualityComparer.Instance);
        void Visit(SymbolicTensor t)
        {
            if (!visited.Add(t)) return;
            if (!inputSet.Contains(t))
            {
                if (t.Parents.Count == 0)
                    throw new ArgumentException($"Model '{Name}': an output depends on input '{t.Layer.Name}' {t.Shape}, which is not among the model's inputs.");
                foreach (var p in t.Parents) Visit(p);
            }
            order.Add(t);
        }
        foreach (var o in outputs) Visit(o);
        foreach (var i in inputs) if (!visited.Contains(i)) order.Insert(0, i);
        nodes = order;
        Inputs = inputs;
        Outputs = outputs;
    }

    /// <summary>Runs the model on one input batch and returns its first output.</summary>
    public Tensor Call(Tensor input, bool training = false) => CallAll([input], training)[0];

    /// <summary>Runs the model on its input batches (one per model input) and returns every output.</summary>
    public virtual Tensor[] CallAll(IReadOnlyList<Tensor> inputs, bool training = false)
    {
        if (inputs.Count != Inputs.Count)
            throw new ArgumentException($"Model '{Name}' takes {Inputs.Count} input(s); received {inputs.Count}.");
        var values = new Dictionary<SymbolicTensor, Tensor>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < inputs.Count; i++)
        {
            if (!inputs[i].Shape.IsCompatibleWith(Inputs[i].Shape))
                throw new ArgumentException($"Model '{Name}' input {i} ('{Inputs[i].Layer.Name}') expects shape {Inputs[i].Shape}; received {inputs[i].Shape}.");
            values[Inputs[i]] = inputs[i];
        }
        // In inference, an intermediate made by this call is disposed once its last consumer has run, so that its
        // storage serves the next layers; under a gradient tape the backward pass still needs every one of them.
        bool release = !training && !GradientTape.IsRecording;
        long callStart = Tensor.NextSequence;
        var uses = new Dictionary<SymbolicTensor, int>(ReferenceEqualityComparer.Instance);
        if (release)
            foreach (var node in nodes)
                foreach (var parent in node.Parents) uses[parent] = uses.GetValueOrDefault(parent) + 1;
        var folds = release ? BatchNormFolds(uses) : null;
        var reluAfterNorm = NormalizationsBeforeRelu();
        foreach (var node in nodes)
        {
            if (values.ContainsKey(node)) continue;
            var args = node.Parents.Select(p => values[p]).ToList();
            if (folds is not null && folds.TryGetValue(node, out var fold) && RunFolded(node, args[0], fold, values) is var (folded, residual, relu))
            {
                // The convolution's output and those of the layers folded into it are this one tensor; those layers are
                // skipped, and their inputs count as consumed.
                values[node] = values[fold.NormNode] = folded;
                uses[node]--;
                var last = fold.NormNode;
                if (residual is not null)
                {
                    values[fold.AddNode!] = folded;
                    uses[fold.NormNode]--;
                    if (--uses[fold.Residual!] == 0) Release(residual);
                    last = fold.AddNode!;
                }
                if (relu is not null)
                {
                    values[relu] = folded;
                    uses[last]--;
                }
            }
            else if (reluAfterNorm.TryGetValue(node, out var reluNode) && node.Layer.CallWithRelu(args[0], training) is { } normalized)
            {
                // The normalization's output and the ReLU's are this one tensor; the ReLU is skipped, and its input counts as consumed.
                values[node] = values[reluNode] = normalized;
                if (release) uses[node]--;
            }
            else values[node] = node.Layer.Invoke(args, training);
            if (!release) continue;
            foreach (var parent in node.Parents)
                if (--uses[parent] == 0) Release(values[parent]);
        }
        return Outputs.Select(o => values[o]).ToArray();

        void Release(Tensor value)
        {
            if (value.Sequence < callStart) return;
            foreach (var (key, other) in values)
                if (ReferenceEquals(other, value) && (uses.GetValueOrDefault(key) > 0 || Outputs.Contains(key))) return;
            value.Dispose();
        }
    }

    /// <summary>
    /// A convolution and the layers after it that inference runs in its epilogue: the batch normalization that is its
    /// only consumer, then either a ReLU, or the Add of a residual block (with <see cref="Residual"/>, the Add's other
    /// input) and the ReLU after that, each the only consumer of the one before and none of them but the last a model
    /// output.
    /// </summary>
    private sealed record Fold(SymbolicTensor NormNode, BatchNormalization Norm, SymbolicTensor? ReluAfterNorm,
        SymbolicTensor? AddNode, SymbolicTensor? Residual, SymbolicTensor? ReluAfterAdd);

    /// <summary>
    /// The batch normalizations whose output only a ReLU reads (and which are not model outputs), with that ReLU: they
    /// run as one op (<see cref="Layer.CallWithRelu"/>), in training too, where <see cref="BatchNormFolds"/> applies only
    /// at inference and only after a convolution. Not with <c>CONVKIT_KERNELS=reference</c>, which runs every layer by itself.
    /// </summary>
    private Dictionary<SymbolicTensor, SymbolicTensor> NormalizationsBeforeRelu()
    {
        var pairs = new Dictionary<SymbolicTensor, SymbolicTensor>(ReferenceEqualityComparer.Instance);
        if (KernelOptions.UseReference) return pairs;
        var readers = new Dictionary<SymbolicTensor, List<SymbolicTensor>>(ReferenceEqualityComparer.Instance);
        foreach (var node in nodes)
            foreach (var parent in node.Parents)
                (readers.TryGetValue(parent, out var list) ? list : readers[parent] = []).Add(node);
        foreach (var node in nodes)
            if (node is { Layer: BatchNormalization, Parents.Count: 1 } && !Outputs.Contains(node)
                && readers.TryGetValue(node, out var list) && list is [{ Layer: Activation { Function: var function }, Parents.Count: 1 } relu]
                && function == Activation.Relu)
                pairs[node] = relu;
        return pairs;
    }

    /// <summary>
    /// The folds of this graph, by convolution node. At inference a convolution → batch normalization (→ ReLU, or → Add
    /// → ReLU) runs as one convolution with the normalization's per-channel scale and shift, the residual and the ReLU in
    /// its epilogue, as ONNX Runtime folds them. That skips a pass over the output for each layer folded, and rounds
    /// differently from the separate layers only in the last bits (x·s + t for (x − μ)·s′·γ + β).
    /// </summary>
    private Dictionary<SymbolicTensor, Fold> BatchNormFolds(Dictionary<SymbolicTensor, int> uses)
    {
        var consumers = new Dictionary<SymbolicTensor, SymbolicTensor>(ReferenceEqualityComparer.Instance);
        foreach (var node in nodes)
            foreach (var parent in node.Parents)
                if (uses.GetValueOrDefault(parent) == 1) consumers[parent] = node;
        SymbolicTensor? Next(SymbolicTensor node) => !Outputs.Contains(node) && consumers.TryGetValue(node, out var next) ? next : null;
        static bool IsRelu(SymbolicTensor? node) =>
            node is { Layer: Activation { Function: var function }, Parents.Count: 1 } && function == Activation.Relu;
        static bool IsSum(SymbolicTensor? node) =>
            node is { Layer: Add or OnnxBinary { Operation: BinaryOperation.Add, Constant: null }, Parents.Count: 2 }
            && !ReferenceEquals(node.Parents[0], node.Parents[1]);

        var folds = new Dictionary<SymbolicTensor, Fold>(ReferenceEqualityComparer.Instance);
        foreach (var node in nodes)
        {
            if (node.Layer is not (Conv2D or Conv1D or DepthwiseConv2D or OnnxConv) || node.Parents.Count != 1) continue;
            if (Next(node) is not { Layer: BatchNormalization norm, Parents.Count: 1 } normNode) continue;
            var afterNorm = Next(normNode);
            SymbolicTensor? addNode = IsSum(afterNorm) ? afterNorm : null;
            var residual = addNode?.Parents.First(p => !ReferenceEquals(p, normNode));
            var afterAdd = addNode is null ? null : Next(addNode);
            folds[node] = new Fold(normNode, norm, IsRelu(afterNorm) ? afterNorm : null, addNode, residual, IsRelu(afterAdd) ? afterAdd : null);
        }
        return folds;
    }

    /// <summary>
    /// Runs the fold at convolution <paramref name="node"/> on <paramref name="input"/>: with the residual when it has
    /// been computed already and has the output's shape (else without the Add and the ReLU after it). Null when the layer
    /// cannot fold; otherwise the output, the residual used (or null) and the ReLU node folded (or null).
    /// </summary>
    private static (Tensor Output, Tensor? Residual, SymbolicTensor? Relu)? RunFolded(SymbolicTensor node, Tensor input, Fold fold,
        Dictionary<SymbolicTensor, Tensor> values)
    {
        if (fold.Norm.InferenceAffine() is not var (scale, shift)) return null;
        Tensor? residual = null;
        if (fold.AddNode is not null && values.TryGetValue(fold.Residual!, out var candidate) && candidate.Rank == node.Shape.Rank
            && candidate.Shape[0] == input.Shape[0] && Enumerable.Range(1, node.Shape.Rank - 1).All(i => candidate.Shape[i] == node.Shape[i])
            && fold.AddNode.Shape.Rank == node.Shape.Rank && Enumerable.Range(1, node.Shape.Rank - 1).All(i => fold.AddNode.Shape[i] == node.Shape[i]))
            residual = candidate;
        var relu = residual is null ? fold.ReluAfterNorm : fold.ReluAfterAdd;
        string name = (node.Layer switch { Conv1D => "Conv1D", DepthwiseConv2D => "DepthwiseConv2D", _ => "Conv2D" }) + "+BatchNormalization" + (residual is null ? "" : "+Add") + (relu is null ? "" : "+Relu");
        return node.Layer.CallFolded(input, scale, shift, residual, relu is not null, name) is { } output ? (output, residual, relu) : null;
    }

    /// <summary>
    /// Inference on a whole data set in batches of <paramref name="batchSize"/> (dropout off, batch norm on its
    /// moving statistics, nothing recorded). Safe to call from several threads at once.
    /// </summary>
    public Tensor Predict(Tensor input, int batchSize = 32)
    {
        if (batchSize <= 0) throw new ArgumentException($"batchSize must be positive; received {batchSize}.");
        using var _ = GradientTape.Pause();
        int n = input.Shape[0];
        if (n <= batchSize) return Call(input);
        var parts = new List<Tensor>();
        for (int start = 0; start < n; start += batchSize)
        {
            var batch = input.Slice(0, start, Math.Min(batchSize, n - start));
            var output = Call(batch);
            if (!ReferenceEquals(output, batch)) batch.Dispose();
            parts.Add(output);
        }
        var result = Ops.Concatenate(parts, 0);
        foreach (var part in parts) part.Dispose();
        return result;
    }

    /// <summary>The outputs of the named layers for <paramref name="input"/> (feature maps of any layer), in one pass.</summary>
    public IReadOnlyDictionary<string, Tensor> Extract(Tensor input, params string[] layerNames)
    {
        var outputs = layerNames.Select(n => GetLayer(n).Output
            ?? throw new ArgumentException($"Layer '{n}' has not been called in a graph yet.")).ToList();
        using var _ = GradientTape.Pause();
        var values = new Model(Inputs, outputs, Name + "_features").CallAll([input]);
        return layerNames.Zip(values).ToDictionary(p => p.First, p => p.Second);
    }

    public override string ToString() => $"<{GetType().Name} '{Name}', {Layers.Count} layers, {CountParams():N0} params>";
}
