using ConvKit.Operations;
using ConvKit.Tensors;

namespace ConvKit.Layers;

/// <summary>
/// ONNX's <c>PRelu</c>: y = x for x ≥ 0, slope · x otherwise, with a trainable <c>slope</c> broadcast over x
/// (NumPy rules). Computed as relu(x) + slope · (x − relu(x)), so dx and dslope follow. Shape unchanged.
/// </summary>
public sealed class OnnxPRelu : Layer
{
    public OnnxPRelu(int[] slopeShape, string? name = null) : base(name)
    {
        SlopeShape = slopeShape;
        Slope = AddWeight("slope", new Shape(slopeShape), Initializer.Zeros);
    }

    public int[] SlopeShape { get; }
    public Variable Slope { get; }

    protected override void ValidateInput(Shape inputShape)
    {
        bool ok = SlopeShape.Length <= inputShape.Rank;
        for (int i = 1; ok && i <= SlopeShape.Length; i++)
            ok = SlopeShape[^i] == 1 || inputShape[^i] == Shape.Unknown || SlopeShape[^i] == inputShape[^i];
        if (!ok)
            throw new ArgumentException($"OnnxPRelu '{Name}': slope {Describe.Tuple(SlopeShape)} does not broadcast to input {inputShape}.");
    }

    public override Shape ComputeOutputShape(Shape inputShape) => inputShape;

    protected override Tensor CallCore(Tensor input, bool training)
    {
        var positive = Ops.Relu(input);
        return Ops.Add(positive, Ops.Multiply(Slope.Value, Ops.Subtract(input, positive)));
    }

    public override IReadOnlyDictionary<string, object?> GetConfig() =>
        new Dictionary<string, object?>(base.GetConfig()) { ["slope_shape"] = SlopeShape };
}
