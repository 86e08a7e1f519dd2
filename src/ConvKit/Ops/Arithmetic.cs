using ConvKit.Autograd;
using ConvKit.Tensors;

namespace ConvKit.Operations;

/// <summary>z = a + b (broadcasting).  da = Σ_broadcast dz, db = Σ_broadcast dz.</summary>
internal sealed class AddOp(Shape a, Shape b) : Op
{
    public override string Name => "Add";

    public static Tensor Forward(Tensor a, Tensor b) =>
        BinaryForward(a, b, "Add", new AddOp(a.Shape, b.Shape), (x, y, z) => TensorPrimitives.Add(x, y, z), (x, y) => x + y);

    public override Tensor?[] Backward(Tensor dz, bool[] needs) =>
        [needs[0] ? Broadcast.ReduceTo(dz, a) : null, needs[1] ? Broadcast.ReduceTo(dz, b) : null];

    /// <summary>Runs an elementwise binary op, with a vectorised path when the shapes are equal.</summary>
    internal static Tensor BinaryForward(Tensor a, Tensor b, string name, Op op,
        TensorPrimitivesBinary same, Func<float, float, float> scalar)
    {
        Tensor z;
        if (a.Shape == b.Shape)
        {
            z = Tensor.Zeros(a.Shape);
            same(a.Span, b.Span, z.Span);
        }
        else
        {
            var shape = Broadcast.ResultShape(a.Shape, b.Shape, name);
            z = Tensor.Zeros(shape);
            var ia = Broadcast.SourceIndices(a.Shape, shape);
            var ib = Broadcast.SourceIndices(b.Shape, shape);
            var x = a.Data;
            var y = b.Data;
            var o = z.Span;
            for (int i = 0; i < o.Length; i++) o[i] = scalar(x[ia[i]], y[ib[i]]);
        }
        GradientTape.Record(op, [a, b], z);
        return z;
    }

    internal delegate void TensorPrimitivesBinary(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> destination);
}

/// <summary>z = a − b (broadcasting).  da = Σ dz, db = −Σ dz.</summary>
internal sealed class SubtractOp(Shape a, Shape b) : Op
{
    public override string Name => "Subtract";

    public static Tensor Forward(Tensor a, Tensor b) =>
        AddOp.BinaryForward(a, b, "Subtract", new SubtractOp(a.Shape, b.Shape), (x, y, z) => TensorPrimitives.Subtract(x, y, z), (x, y) => x - y);

    public override Tensor?[] Backward(Tensor dz, bool[] needs) =>
        [needs[0] ? Broadcast.ReduceTo(dz, a) : null, needs[1] ? Scale(Broadcast.ReduceTo(dz, b), -1f) : null];

    internal static Tensor Scale(Tensor t, float factor)
    {
        var r = Tensor.Zeros(t.Shape);
        TensorPrimitives.Multiply(t.Span, factor, r.Span);
        return r;
    }
}

/// <summary>z = a · b elementwise (broadcasting).  da = Σ dz·b, db = Σ dz·a.</summary>
internal sealed class MultiplyOp(Tensor a, Tensor b) : Op
{
    public override string Name => "Multiply";

    public static Tensor Forward(Tensor a, Tensor b) =>
        AddOp.BinaryForward(a, b, "Multiply", new MultiplyOp(a, b), (x, y, z) => TensorPrimitives.Multiply(x, y, z), (x, y) => x * y);

    public override Tensor?[] Backward(Tensor dz, bool[] needs)
    {
        Tensor? da = null, db = null;
        if (needs[0]) da = Broadcast.ReduceTo(ProductWith(dz, b), a.Shape);
        if (needs[1]) db = Broadcast.ReduceTo(ProductWith(dz, a), b.Shape);
        return [da, db];
    }

    /// <summary>dz · other, with <paramref name="other"/> broadcast to dz's shape.</summary>
    private static Tensor ProductWith(Tensor dz, Tensor other)
    {
        var r = Tensor.Zeros(dz.Shape);
        if (other.Shape == dz.Shape) { TensorPrimitives.Multiply(dz.Span, other.Span, r.Span); return r; }
        var idx = Broadcast.SourceIndices(other.Shape, dz.Shape);
        var g = dz.Data;
        var o = other.Data;
        var dst = r.Span;
        for (int i = 0; i < dst.Length; i++) dst[i] = g[i] * o[idx[i]];
        return r;
    }
}

/// <summary>y = x · factor.  dx = dy · factor.</summary>
internal sealed class ScaleOp(float factor) : Op
{
    public override string Name => "Scale";

    public static Tensor Forward(Tensor x, float factor)
    {
        var y = SubtractOp.Scale(x, factor);
        GradientTape.Record(new ScaleOp(factor), [x], y);
        return y;
    }

    public override Tensor?[] Backward(Tensor dy, bool[] needs) => [SubtractOp.Scale(dy, factor)];
}

/// <summary>y = x².  dx = 2·x·dy.</summary>
internal sealed class SquareOp(Tensor x) : Op
{
    public override string Name => "Square";

    public static Tensor Forward(Tensor x)
    {
        var y = Tensor.Zeros(x.Shape);
        TensorPrimitives.Multiply(x.Span, x.Span, y.Span);
        GradientTape.Record(new SquareOp(x), [x], y);
        return y;
    }

    public override Tensor?[] Backward(Tensor dy, bool[] needs)
    {
        var dx = Tensor.Zeros(x.Shape);
        TensorPrimitives.Multiply(x.Span, dy.Span, dx.Span);
        TensorPrimitives.Multiply(dx.Span, 2f, dx.Span);
        return [dx];
    }
}

/// <summary>z = max(a, b) (or min) elementwise, broadcasting.  da = Σ dz where a wins (ties go to a), db = Σ dz where b wins.</summary>
internal sealed class MaximumOp(Tensor a, Tensor b, bool min) : Op
{
    public override string Name => min ? "Minimum" : "Maximum";

    public static Tensor Forward(Tensor a, Tensor b, bool min) =>
        AddOp.BinaryForward(a, b, min ? "Minimum" : "Maximum", new MaximumOp(a, b, min),
            min ? (x, y, z) => TensorPrimitives.Min(x, y, z) : (x, y, z) => TensorPrimitives.Max(x, y, z),
            min ? MathF.Min : MathF.Max);

    public override Tensor?[] Backward(Tensor dz, bool[] needs)
    {
        var shape = dz.Shape;
        var ia = Broadcast.SourceIndices(a.Shape, shape);
        var ib = Broadcast.SourceIndices(b.Shape, shape);
        var (g, av, bv) = (dz.Data, a.Data, b.Data);
        var toA = Tensor.Zeros(shape);
        var toB = Tensor.Zeros(shape);
        for (int i = 0; i < g.Length; i++)
        {
            float x = av[ia[i]], y = bv[ib[i]];
            bool aWins = min ? x <= y : x >= y;
            (aWins ? toA : toB).Data[i] = g[i];
        }
        return [needs[0] ? Broadcast.ReduceTo(toA, a.Shape) : null, needs[1] ? Broadcast.ReduceTo(toB, b.Shape) : null];
    }
}

/// <summary>y = √x.  dx = dy / (2·y).</summary>
internal sealed class SqrtOp(Tensor y) : Op
{
    public override string Name => "Sqrt";

    public static Tensor Forward(Tensor x)
    {
        var y = Tensor.Zeros(x.Shape);
        TensorPrimitives.Sqrt(x.Span, y.Span);
        GradientTape.Record(new SqrtOp(y), [x], y);
        return y;
    }

    public override Tensor?[] Backward(Tensor dy, bool[] needs)
    {
        var dx = Tensor.Zeros(y.Shape);
        TensorPrimitives.Divide(dy.Span, y.Span, dx.Span);
        TensorPrimitives.Multiply(dx.Span, 0.5f, dx.Span);
        return [dx];
    }
}
