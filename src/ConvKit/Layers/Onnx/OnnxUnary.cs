using ConvKit.Operations;
using ConvKit.Tensors;

namespace ConvKit.Layers;

/// <summary>The elementwise function of an <see cref="OnnxUnary"/> layer.</summary>
public enum UnaryOperation { Exp, Log, Neg, Sqrt }

/// <summary>
/// ONNX's <c>Exp</c>, <c>Log</c>, <c>Neg</c> and <c>Sqrt</c>, elementwise: y = eˣ, ln x, −x, √x.
/// dx = dy · y, dy / x, −dy, dy / (2y). Shape unchanged.
/// </summary>
public sealed class OnnxUnary(UnaryOperation operation, string? name = null) : Layer(name)
{
    public UnaryOperation Operation { get; } = operation;

    public override Shape ComputeOutputShape(Shape inputShape) => inputShape;

    protected override Tensor CallCore(Tensor input, bool training) => Apply(Operation, input);

    /// <summary>The function itself, for layers and for folding constants at import.</summary>
    public static Tensor Apply(UnaryOperation operation, Tensor x) => operation switch
    {
        UnaryOperation.Exp => Ops.Exp(x),
        UnaryOperation.Log => Ops.Log(x),
        UnaryOperation.Neg => Ops.Scale(x, -1f),
        UnaryOperation.Sqrt => Ops.Sqrt(x),
        _ => throw new InvalidOperationException($"Unknown operation {operation}."),
    };

    public override IReadOnlyDictionary<string, object?> GetConfig() =>
        new Dictionary<string, object?>(base.GetConfig()) { ["operation"] = Operation.ToString().ToLowerInvariant() };
}
