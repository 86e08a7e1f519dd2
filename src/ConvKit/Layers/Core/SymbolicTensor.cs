using ConvKit.Tensors;

namespace ConvKit.Layers;

/// <summary>
/// A placeholder for the tensor a layer will produce, used to wire functional models
/// (Keras's <c>KerasTensor</c>): it knows its shape, with <c>None</c> for the batch, and which layer
/// call made it from which inputs.
/// </summary>
public class SymbolicTensor
{
    internal SymbolicTensor(Shape shape, Layer layer, IReadOnlyList<SymbolicTensor> parents)
    {
        Shape = shape;
        Layer = layer;
        Parents = parents;
    }

    /// <summary>The shape, batch first (<c>None</c> when the batch size is free).</summary>
    public Shape Shape { get; }

    /// <summary>The layer whose call produced this tensor.</summary>
    public Layer Layer { get; }

    /// <summary>The tensors that layer call read.</summary>
    public IReadOnlyList<SymbolicTensor> Parents { get; }

    public override string ToString() => $"<SymbolicTensor shape={Shape}, source={Layer.Name}>";
}

/// <summary>
/// The input of a model: <c>new Input(28, 28, 1)</c> stands for batches of shape <c>(None, 28, 28, 1)</c>
/// (Keras's <c>keras.Input(shape=(28, 28, 1))</c>).
/// </summary>
public sealed class Input : SymbolicTensor
{
    public Input(params int[] shape) : this(shape, batchSize: null, name: null) { }

    public Input(int[] shape, int? batchSize = null, string? name = null)
        : this(new InputLayer(new Shape(shape).Prepend(batchSize ?? Shape.Unknown), name)) { }

    private Input(InputLayer layer) : base(layer.BatchShape, layer, []) => layer.Output = this;
}

/// <summary>The layer behind an <see cref="Input"/>: it passes data through after checking its shape.</summary>
public sealed class InputLayer : Layer
{
    internal InputLayer(Shape batchShape, string? name) : base(name)
    {
        BatchShape = batchShape;
        Built = true;
    }

    /// <summary>The expected shape, batch first.</summary>
    public Shape BatchShape { get; }

    public override Shape ComputeOutputShape(Shape inputShape) => BatchShape;

    protected override Tensor CallCore(Tensor input, bool training)
    {
        if (!input.Shape.IsCompatibleWith(BatchShape))
            throw new ArgumentException($"Input '{Name}' expects shape {BatchShape}; received {input.Shape}.");
        return input;
    }
}
