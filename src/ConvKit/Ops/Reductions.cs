using ConvKit.Autograd;
using ConvKit.Tensors;

namespace ConvKit.Operations;

/// <summary>
/// y = Σ of x over <c>axes</c> (all axes when none are given), times <c>scale</c> (1/count for a mean).
/// dx = dy broadcast back over the reduced axes, times the same scale.
/// </summary>
internal sealed class SumOp(Shape inputShape, Shape keptShape, float scale) : Op
{
    public override string Name => "Sum";

    public static Tensor Forward(Tensor x, int[]? axes, bool keepDims, bool mean)
    {
        var reduce = new bool[x.Rank];
        if (axes is null || axes.Length == 0) Array.Fill(reduce, true);
        else foreach (int a in axes) reduce[x.Shape.NormalizeAxis(a)] = true;
        var kept = x.Shape.Select((d, i) => reduce[i] ? 1 : d).ToArray();
        var keptShape = new Shape(kept);
        int count = x.Size / Math.Max(1, keptShape.Size);
        float scale = mean ? 1f / Math.Max(1, count) : 1f;

        var sum = Broadcast.ReduceTo(x, keptShape);
        var y = ReferenceEquals(sum, x) ? x.Clone() : sum;
        if (scale != 1f) System.Numerics.Tensors.TensorPrimitives.Multiply(y.Span, scale, y.Span);
        var outShape = keepDims ? keptShape : new Shape(kept.Where((_, i) => !reduce[i]).ToArray());
        y = y.Reshape(outShape.ToArray());
        GradientTape.Record(new SumOp(x.Shape, keptShape, scale), [x], y);
        return y;
    }

    public override Tensor?[] Backward(Tensor dy, bool[] needs)
    {
        var dx = Tensor.Zeros(inputShape);
        var g = dy.Span;
        var d = dx.Span;
        if (keptShape.Size == 1) d.Fill(g[0] * scale);                  // a loss's mean: one value everywhere
        else if (Broadcast.TrailingBlock(keptShape, inputShape))
            for (int start = 0; start < d.Length; start += g.Length) TensorPrimitives.Multiply(g, scale, d.Slice(start, g.Length));
        else
        {
            var idx = Broadcast.SourceIndices(keptShape, inputShape);
            for (int i = 0; i < d.Length; i++) d[i] = g[idx[i]] * scale;
        }
        return [dx];
    }
}

/// <summary>
/// The Gram matrix of channels-last feature maps F (N, H, W, C) seen as (N, H·W, C):
/// G[n] = F[n]ᵀ F[n] / (H·W), shape (N, C, C); G[n,i,j] measures how often features i and j fire together.
/// dF[n] = F[n] (dG[n] + dG[n]ᵀ) / (H·W).
/// </summary>
internal sealed class GramMatrixOp(Tensor features) : Op
{
    public override string Name => "GramMatrix";

    public static Tensor Forward(Tensor features)
    {
        var (n, hw, c) = GlobalMaxPoolOp.Dims(features);
        var gram = Tensor.Zeros(n, c, c);
        for (int b = 0; b < n; b++)
        {
            var f = features.Span.Slice(b * hw * c, hw * c);
            Kernels.GemmKernels.Multiply(true, false, c, c, hw, f, c, f, c, gram.Span.Slice(b * c * c, c * c), c, accumulate: false);
        }
        System.Numerics.Tensors.TensorPrimitives.Multiply(gram.Span, 1f / hw, gram.Span);
        GradientTape.Record(new GramMatrixOp(features), [features], gram);
        return gram;
    }

    public override Tensor?[] Backward(Tensor dGram, bool[] needs)
    {
        var (n, hw, c) = GlobalMaxPoolOp.Dims(features);
        var dx = Tensor.Zeros(features.Shape);
        var symmetric = new float[c * c];
        for (int b = 0; b < n; b++)
        {
            var dg = dGram.Span.Slice(b * c * c, c * c);
            for (int i = 0; i < c; i++)
                for (int j = 0; j < c; j++) symmetric[i * c + j] = (dg[i * c + j] + dg[j * c + i]) / hw;
            Kernels.GemmKernels.Multiply(false, false, hw, c, c, features.Span.Slice(b * hw * c, hw * c), c, symmetric, c,
                dx.Span.Slice(b * hw * c, hw * c), c, accumulate: false);
        }
        return [dx];
    }
}

/// <summary>
/// y = max (or min) of x over <c>axes</c> (all axes when none are given).
/// dx = dy at the first position that attains the extremum of each reduced slice, 0 elsewhere.
/// </summary>
internal sealed class ExtremumOp(Shape inputShape, int[] winners) : Op
{
    public override string Name => "Extremum";

    public static Tensor Forward(Tensor x, int[]? axes, bool keepDims, bool min)
    {
        var reduce = new bool[x.Rank];
        if (axes is null || axes.Length == 0) Array.Fill(reduce, true);
        else foreach (int a in axes) reduce[x.Shape.NormalizeAxis(a)] = true;
        var kept = x.Shape.Select((d, i) => reduce[i] ? 1 : d).ToArray();
        var keptShape = new Shape(kept);
        if (x.Size == 0 && keptShape.Size > 0)
            throw new ArgumentException($"{(min ? "Min" : "Max")} over an empty axis of {x.Shape} has no value.");

        var y = Tensor.Zeros(keptShape);
        var winners = new int[keptShape.Size];
        Array.Fill(winners, -1);
        var target = Broadcast.SourceIndices(keptShape, x.Shape);
        var xv = x.Data;
        var yv = y.Span;
        for (int i = 0; i < xv.Length; i++)
        {
            int o = target[i];
            if (winners[o] < 0 || (min ? xv[i] < yv[o] : xv[i] > yv[o]) || (float.IsNaN(xv[i]) && !float.IsNaN(yv[o])))
            {
                yv[o] = xv[i];
                winners[o] = i;
            }
        }
        var outShape = keepDims ? keptShape : new Shape(kept.Where((_, i) => !reduce[i]).ToArray());
        y = y.Reshape(outShape.ToArray());
        GradientTape.Record(new ExtremumOp(x.Shape, winners), [x], y);
        return y;
    }

    public override Tensor?[] Backward(Tensor dy, bool[] needs)
    {
        var dx = Tensor.Zeros(inputShape);
        var g = dy.Data;
        var d = dx.Span;
        for (int o = 0; o < winners.Length; o++) d[winners[o]] += g[o];
        return [dx];
    }
}
