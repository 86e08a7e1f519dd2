using ConvKit.Operations;
using ConvKit.Tensors;

namespace ConvKit.Layers;

/// <summary>
/// ONNX's <c>Softmax</c> and <c>LogSoftmax</c>. From opset 13 on, along one <see cref="Axis"/>:
/// y = exp(x − max) / Σ exp(x − max) (log: x − max − log Σ exp(x − max)). Before opset 13 (<see cref="Coerce2D"/>)
/// the input is viewed as 2-D (d0·…·d(axis−1), d(axis)·…·d(n−1)) and normalised over each row. Shape unchanged.
/// </summary>
public sealed class OnnxSoftmax(int axis = -1, bool log = false, bool coerce2D = false, string? name = null) : Layer(name)
{
    public int Axis { get; } = axis;
    public bool Log { get; } = log;
    public bool Coerce2D { get; } = coerce2D;

    public override Shape ComputeOutputShape(Shape inputShape) => inputShape;

    protected override Tensor CallCore(Tensor input, bool training)
    {
        int a = input.Shape.NormalizeAxis(Axis);
        if (!Coerce2D) return Log ? Ops.LogSoftmax(input, a) : Ops.Softmax(input, a);
        int rows = input.Shape.Take(a).Aggregate(1, (x, y) => x * y);
        var matrix = Ops.Reshape(input, rows, input.Size / Math.Max(1, rows));
        var y = Log ? Ops.LogSoftmax(matrix, 1) : Ops.Softmax(matrix, 1);
        return Ops.Reshape(y, input.Shape.ToArray());
    }

    public override IReadOnlyDictionary<string, object?> GetConfig() => new Dictionary<string, object?>(base.GetConfig())
    {
        ["axis"] = Axis,
        ["log"] = Log,
        ["coerce_2d"] = Coerce2D,
    };
}
