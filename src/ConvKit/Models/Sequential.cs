using ConvKit.Layers;
using ConvKit.Tensors;

namespace ConvKit.Models;

/// <summary>
/// A plain stack of layers, each feeding the next (Keras's <c>Sequential</c>). Given an <see cref="Input"/> it is
/// built at once; otherwise it is built from the shape of the first batch it sees (or <see cref="Build"/>).
/// </summary>
/// <example>
/// <code>
/// var model = new Sequential(
///     new Input(28, 28, 1),
///     new Conv2D(32, 5, padding: Padding.Same, activation: Activation.Relu),
///     new MaxPool2D(2),
///     new Flatten(),
///     new Dense(10));
/// model.Summary();
/// </code>
/// </example>
public sealed class Sequential : Model
{
    private readonly List<Layer> stack = [];
    private Input? input;

    public Sequential(params Layer[] layers) : this(null, layers) { }

    public Sequential(Input? input, params Layer[] layers) : this(input, layers, null) { }

    public Sequential(Input? input, IEnumerable<Layer> layers, string? name) : base(name ?? Names.Unique("sequential"))
    {
        this.input = input;
        foreach (var layer in layers) stack.Add(layer);
        if (input is not null) Wire();
    }

    /// <summary>The layers in order (the input layer is not one of them, as in Keras).</summary>
    public override IReadOnlyList<Layer> Layers => stack;

    /// <summary>Appends a layer on top of the stack.</summary>
    public void Add(Layer layer)
    {
        stack.Add(layer);
        if (input is not null) Wire();
    }

    /// <summary>Builds every layer for batches of <paramref name="inputShape"/> (batch first, may be <c>None</c>).</summary>
    public void Build(Shape inputShape)
    {
        if (Built) return;
        input = new Input(inputShape.Skip(1).ToArray(), inputShape[0] == Shape.Unknown ? null : inputShape[0]);
        Wire();
    }

    private void Wire()
    {
        if (stack.Count == 0) return;
        SymbolicTensor x = input!;
        foreach (var layer in stack) x = layer.Call(x);
        SetGraph([input!], [x]);
    }

    public override Tensor[] CallAll(IReadOnlyList<Tensor> inputs, bool training = false)
    {
        if (!Built && inputs.Count == 1) Build(inputs[0].Shape.WithBatch(Shape.Unknown));
        if (!Built) throw new InvalidOperationException($"Sequential '{Name}' has no layers.");
        return base.CallAll(inputs, training);
    }
}
