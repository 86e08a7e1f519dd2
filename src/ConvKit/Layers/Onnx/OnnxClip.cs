using ConvKit.Operations;
using ConvKit.Tensors;

namespace ConvKit.Layers;

/// <summary>y = min(max(x, min), max), elementwise (ONNX's <c>Clip</c>). dx = dy where min ≤ x ≤ max. Shape unchanged.</summary>
public sealed class OnnxClip(float min = float.NegativeInfinity, float max = float.PositiveInfinity, string? name = null) : Layer(name)
{
    public float Min { get; } = min;
    public float Max { get; } = max;

    public override Shape ComputeOutputShape(Shape inputShape) => inputShape;

    protected override Tensor CallCore(Tensor input, bool training) => Ops.Clip(input, Min, Max);

    public override IReadOnlyDictionary<string, object?> GetConfig() => new Dictionary<string, object?>(base.GetConfig())
    {
        ["min"] = float.IsNegativeInfinity(Min) ? null : Min,
        ["max"] = float.IsPositiveInfinity(Max) ? null : Max,
    };
}

/// <summary>y = x for x ≥ 0, negative_slope · x otherwise (Keras's <c>LeakyReLU</c> layer; ONNX's <c>LeakyRelu</c> alpha). Shape unchanged.</summary>
public sealed class LeakyReLU(float negativeSlope = 0.3f, string? name = null) : Layer(name)
{
    public float NegativeSlope { get; } = negativeSlope;

    public override Shape ComputeOutputShape(Shape inputShape) => inputShape;

    protected override Tensor CallCore(Tensor input, bool training) => Ops.LeakyRelu(input, NegativeSlope);

    public override IReadOnlyDictionary<string, object?> GetConfig() =>
        new Dictionary<string, object?>(base.GetConfig()) { ["negative_slope"] = NegativeSlope };
}
