using ConvKit.Operations;
using ConvKit.Tensors;

namespace ConvKit.Layers;

/// <summary>The reduction of an <see cref="OnnxReduce"/> layer.</summary>
public enum ReduceOperation { Sum, Mean, Max, Min }

/// <summary>
/// ONNX's <c>ReduceSum</c>, <c>ReduceMean</c>, <c>ReduceMax</c> and <c>ReduceMin</c> over the whole tensor, batch included:
/// out = Σ (mean, max, min) of x over <see cref="Axes"/> (every axis when empty), the reduced axes kept as 1 when
/// <see cref="KeepDims"/>. Example: (3, 4, 5) over axes (1,) → (3, 1, 5) with keepdims, (3, 5) without.
/// Gradients: sum and mean spread dy over the slice; max and min route it to the first extremum.
/// </summary>
public sealed class OnnxReduce : Layer
{
    public OnnxReduce(ReduceOperation operation, int[] axes, bool keepDims = true, string? name = null) : base(name)
    {
        if (axes.Distinct().Count() != axes.Length)
            throw new ArgumentException($"OnnxReduce: axes must be distinct. Received axes={Describe.Tuple(axes)}.");
        Operation = operation;
        Axes = axes;
        KeepDims = keepDims;
    }

    public ReduceOperation Operation { get; }

    /// <summary>The axes reduced (negative ones count from the end); empty means all.</summary>
    public int[] Axes { get; }
    public bool KeepDims { get; }

    private bool[] Reduced(Shape shape)
    {
        var reduced = new bool[shape.Rank];
        if (Axes.Length == 0) Array.Fill(reduced, true);
        foreach (int a in Axes)
        {
            int axis = a < 0 ? a + shape.Rank : a;
            if (axis < 0 || axis >= shape.Rank)
                throw new ArgumentException($"OnnxReduce '{Name}': axis {a} is out of range for input {shape}.");
            if (reduced[axis])
                throw new ArgumentException($"OnnxReduce '{Name}': axes {Describe.Tuple(Axes)} name axis {axis} twice for input {shape}.");
            reduced[axis] = true;
        }
        return reduced;
    }

    protected override void ValidateInput(Shape inputShape) => Reduced(inputShape);

    public override Shape ComputeOutputShape(Shape inputShape)
    {
        var reduced = Reduced(inputShape);
        return KeepDims
            ? new Shape(inputShape.Select((d, i) => reduced[i] ? 1 : d).ToArray())
            : new Shape(inputShape.Where((_, i) => !reduced[i]).ToArray());
    }

    protected override Tensor CallCore(Tensor input, bool training)
    {
        var axes = Axes.Length == 0 ? null : Axes;
        return Operation switch
        {
            ReduceOperation.Sum => Ops.Sum(input, axes, KeepDims),
            ReduceOperation.Mean => Ops.Mean(input, axes, KeepDims),
            ReduceOperation.Max => Ops.Max(input, axes, KeepDims),
            ReduceOperation.Min => Ops.Min(input, axes, KeepDims),
            _ => throw new InvalidOperationException($"Unknown reduction {Operation}."),
        };
    }

    public override IReadOnlyDictionary<string, object?> GetConfig() => new Dictionary<string, object?>(base.GetConfig())
    {
        ["operation"] = Operation.ToString().ToLowerInvariant(),
        ["axes"] = Axes,
        ["keepdims"] = KeepDims,
    };
}
