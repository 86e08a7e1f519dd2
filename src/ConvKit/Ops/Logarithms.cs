using ConvKit.Autograd;
using ConvKit.Tensors;

namespace ConvKit.Operations;

/// <summary>y = ln x.  dx = dy / x.</summary>
internal sealed class LogOp(Tensor x) : Op
{
    public override string Name => "Log";

    public static Tensor Forward(Tensor x)
    {
        var y = Tensor.Zeros(x.Shape);
        TensorPrimitives.Log(x.Span, y.Span);
        GradientTape.Record(new LogOp(x), [x], y);
        return y;
    }

    public override Tensor?[] Backward(Tensor dy, bool[] needs)
    {
        var dx = Tensor.Zeros(x.Shape);
        TensorPrimitives.Divide(dy.Span, x.Span, dx.Span);
        return [dx];
    }
}

/// <summary>y = eˣ.  dx = dy · y.</summary>
internal sealed class ExpOp(Tensor y) : Op
{
    public override string Name => "Exp";

    public static Tensor Forward(Tensor x)
    {
        var y = Tensor.Zeros(x.Shape);
        TensorPrimitives.Exp(x.Span, y.Span);
        GradientTape.Record(new ExpOp(y), [x], y);
        return y;
    }

    public override Tensor?[] Backward(Tensor dy, bool[] needs)
    {
        var dx = Tensor.Zeros(y.Shape);
        TensorPrimitives.Multiply(dy.Span, y.Span, dx.Span);
        return [dx];
    }
}

/// <summary>y = min(max(x, lo), hi).  dx = dy where lo ≤ x ≤ hi, 0 outside.</summary>
internal sealed class ClipOp(Tensor x, float min, float max) : Op
{
    public override string Name => "Clip";

    public static Tensor Forward(Tensor x, float min, float max)
    {
        var y = Tensor.Zeros(x.Shape);
        TensorPrimitives.Clamp(x.Span, min, max, y.Span);
        GradientTape.Record(new ClipOp(x, min, max), [x], y);
        return y;
    }

    public override Tensor?[] Backward(Tensor dy, bool[] needs)
    {
        var dx = Tensor.Zeros(x.Shape);
        var xv = x.Data;
        var g = dy.Data;
        var d = dx.Span;
        for (int i = 0; i < d.Length; i++) d[i] = xv[i] >= min && xv[i] <= max ? g[i] : 0f;
        return [dx];
    }
}

/// <summary>z = a / b (broadcasting).  da = Σ dz / b, db = −Σ dz · a / b².</summary>
internal sealed class DivideOp(Tensor a, Tensor b, Tensor z) : Op
{
    public override string Name => "Divide";

    public static Tensor Forward(Tensor a, Tensor b)
    {
        var shape = Broadcast.ResultShape(a.Shape, b.Shape, "Divide");
        var z = Tensor.Zeros(shape);
        var ia = Broadcast.SourceIndices(a.Shape, shape);
        var ib = Broadcast.SourceIndices(b.Shape, shape);
        var x = a.Data;
        var y = b.Data;
        var o = z.Span;
        for (int i = 0; i < o.Length; i++) o[i] = x[ia[i]] / y[ib[i]];
        GradientTape.Record(new DivideOp(a, b, z), [a, b], z);
        return z;
    }

    public override Tensor?[] Backward(Tensor dz, bool[] needs)
    {
        var shape = dz.Shape;
        var ib = Broadcast.SourceIndices(b.Shape, shape);
        var (g, bv, zv) = (dz.Data, b.Data, z.Data);
        Tensor? da = null, db = null;
        if (needs[0])
        {
            var full = Tensor.Zeros(shape);
            for (int i = 0; i < g.Length; i++) full.Data[i] = g[i] / bv[ib[i]];
            da = Broadcast.ReduceTo(full, a.Shape);
        }
        if (needs[1])
        {
            var full = Tensor.Zeros(shape);
            for (int i = 0; i < g.Length; i++) full.Data[i] = -g[i] * zv[i] / bv[ib[i]];
            db = Broadcast.ReduceTo(full, b.Shape);
        }
        return [da, db];
    }
}

/// <summary>
/// Negative log-likelihood of integer labels: y = −(1/N) Σ_i logp[i, label_i] for logp (N, C) and labels (N,).
/// dlogp[i, label_i] = −dy / N, zero elsewhere. Labels are not differentiable.
/// </summary>
internal sealed class NegativeLogLikelihoodOp(Shape shape, int[] labels) : Op
{
    public override string Name => "NegativeLogLikelihood";

    public static Tensor Forward(Tensor logProbabilities, Tensor labels)
    {
        int n = logProbabilities.Shape[0], c = logProbabilities.Size / Math.Max(1, n);
        if (labels.Size != n)
            throw new ArgumentException($"Sparse labels need one class index per sample: predictions {logProbabilities.Shape}, labels {labels.Shape}.");
        var classes = new int[n];
        double sum = 0;
        for (int i = 0; i < n; i++)
        {
            float label = labels.Data[i];
            int k = (int)label;
            if (k != label || k < 0 || k >= c)
                throw new ArgumentException($"Label {label} at position {i} is not a class index in [0, {c}).");
            classes[i] = k;
            sum += logProbabilities.Data[i * c + k];
        }
        var y = Tensor.Scalar((float)(-sum / Math.Max(1, n)));
        GradientTape.Record(new NegativeLogLikelihoodOp(logProbabilities.Shape, classes), [logProbabilities, labels], y);
        return y;
    }

    public override Tensor?[] Backward(Tensor dy, bool[] needs)
    {
        int n = shape[0], c = shape.Size / Math.Max(1, n);
        var d = Tensor.Zeros(shape);
        float g = -dy.Item() / Math.Max(1, n);
        for (int i = 0; i < n; i++) d.Data[i * c + labels[i]] = g;
        return [d, null];
    }
}
