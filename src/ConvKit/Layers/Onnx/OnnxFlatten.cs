using ConvKit.Operations;
using ConvKit.Tensors;

namespace ConvKit.Layers;

/// <summary>
/// ONNX's <c>Flatten</c>: a 2-D result (d0·…·d(axis−1), d(axis)·…·d(n−1)). Axis 0 gives (1, all); a negative axis counts from the end.
/// Example: (2, 3, 4, 5) with axis 2 → (6, 20).
/// </summary>
public sealed class OnnxFlatten(int axis = 1, string? name = null) : Layer(name)
{
    public int Axis { get; } = axis;

    private int NormalizedAxis(Shape shape)
    {
        int a = Axis < 0 ? Axis + shape.Rank : Axis;
        if (a < 0 || a > shape.Rank)
            throw new ArgumentException($"OnnxFlatten '{Name}': axis {Axis} is out of range for input {shape}.");
        return a;
    }

    private static int Product(IEnumerable<int> dims)
    {
        var list = dims.ToList();
        return list.Contains(Shape.Unknown) ? Shape.Unknown : list.Aggregate(1, (x, y) => checked(x * y));
    }

    public override Shape ComputeOutputShape(Shape inputShape)
    {
        int a = NormalizedAxis(inputShape);
        return new Shape(Product(inputShape.Take(a)), Product(inputShape.Skip(a)));
    }

    protected override Tensor CallCore(Tensor input, bool training) => Ops.Reshape(input, ComputeOutputShape(input.Shape).ToArray());

    public override IReadOnlyDictionary<string, object?> GetConfig() =>
        new Dictionary<string, object?>(base.GetConfig()) { ["axis"] = Axis };
}
