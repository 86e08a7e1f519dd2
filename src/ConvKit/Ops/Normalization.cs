using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using ConvKit.Kernels;
using ConvKit.Autograd;
using ConvKit.Tensors;

namespace ConvKit.Operations;

/// <summary>
/// Batch normalization over the last (channel) axis:
/// y = γ · (x − μ) / √(σ² + ε) + β, where μ and σ² are either this batch's mean and biased variance
/// (training) or the given moving statistics (inference).
/// Training: dx = γ/√(σ²+ε) · (dy − mean(dy) − x̂ · mean(dy · x̂)); inference: dx = dy · γ/√(σ²+ε).
/// dγ = Σ dy · x̂, dβ = Σ dy.
/// With a ReLU after it (<c>relu</c>), one op: y = max(γ · x̂ + β, 0), whose backward takes the ReLU's gradient on the
/// fly from x̂ (dy where γ · x̂ + β &gt; 0), with the same bits as the two ops and one pass over memory fewer each way.
/// </summary>
internal sealed class BatchNormOp(Tensor x, float[] mean, float[] invStd, Tensor? gamma, Tensor? beta, bool training, bool relu) : Op
{
    public override string Name => relu ? "BatchNormalization+Relu" : "BatchNormalization";

    /// <summary>
    /// Normalizes <paramref name="x"/> (then applies ReLU with <paramref name="relu"/>); in training also returns the
    /// batch mean and variance (for the moving averages).
    /// </summary>
    public static (Tensor Output, float[] Mean, float[] Variance) Forward(
        Tensor x, Tensor? gamma, Tensor? beta, Tensor movingMean, Tensor movingVariance, float epsilon, bool training, bool relu = false)
    {
        int c = x.Shape[-1];
        float[] mean = new float[c], variance = new float[c];
        if (training) BatchNormKernels.Moments(x.Data, c, mean, variance);
        else
        {
            movingMean.Span.CopyTo(mean);
            movingVariance.Span.CopyTo(variance);
        }
        var invStd = variance.Select(v => 1f / MathF.Sqrt(v + epsilon)).ToArray();
        var y = Tensor.Uninitialized(x.Shape);
        BatchNormKernels.Normalize(x.Data, c, mean, invStd, gamma?.Data, beta?.Data, y.Data, relu);
        var inputs = new List<Tensor> { x };
        if (gamma is not null) inputs.Add(gamma);
        if (beta is not null) inputs.Add(beta);
        // The backward computes x̂ again from x with these statistics (the same bits) rather than keep a tensor of it.
        GradientTape.Record(new BatchNormOp(x, mean, invStd, gamma, beta, training, relu), inputs.ToArray(), y);
        return (y, mean, variance);
    }

    public override Tensor?[] Backward(Tensor dy, bool[] needs)
    {
        int c = x.Shape[-1];
        var dx = needs[0] ? Tensor.Uninitialized(x.Shape) : null;
        var (sumDy, sumDyXhat) = BatchNormKernels.Backward(dy.Data, x.Data, mean, c, invStd, gamma?.Data, training, dx?.Data, beta?.Data, relu);
        var grads = new Tensor?[needs.Length];
        grads[0] = dx;
        int next = 1;
        if (gamma is not null)
        {
            if (needs[next]) grads[next] = Tensor.FromArray(sumDyXhat.Select(v => (float)v).ToArray());
            next++;
        }
        if (beta is not null && needs[next]) grads[next] = Tensor.FromArray(sumDy.Select(v => (float)v).ToArray());
        return grads;
    }
}

/// <summary>
/// Inverted dropout: y = x · m / (1 − rate) with m ~ Bernoulli(1 − rate) per element, as Keras does in training.
/// dx = dy · m / (1 − rate).
/// </summary>
internal sealed class DropoutOp(Tensor scaledMask) : Op
{
    public override string Name => "Dropout";

    public static Tensor Forward(Tensor x, float rate, RandomSource random)
    {
        if (rate is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(rate), $"Dropout rate must be in [0, 1); received {rate}.");
        var mask = Tensor.Uninitialized(x.Shape);
        var m = mask.Span;
        float keep = 1f / (1f - rate);
        // Draw all the numbers first, then compare eight at a time: as a branch per element, the comparison was
        // mispredicted on a good part of them and cost more than the draws. The same draws and comparisons, so the same mask.
        var draws = MemoryMarshal.Cast<float, uint>(m);
        random.Fill(draws);
        int at = 0;
        var vRate = Vector256.Create(rate);
        var vKeep = Vector256.Create(keep);
        var scale = Vector256.Create(1f / (1 << 24));
        for (; at <= m.Length - Vector256<float>.Count; at += Vector256<float>.Count)
        {
            var uniform = Vector256.ConvertToSingle(Vector256.ShiftRightLogical(Vector256.Create<uint>(draws.Slice(at)), 8).AsInt32()) * scale;
            Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(uniform, vRate), vKeep, Vector256<float>.Zero).CopyTo(m.Slice(at));
        }
        for (; at < m.Length; at++) m[at] = (draws[at] >> 8) * (1f / (1 << 24)) >= rate ? keep : 0f;
        var y = Tensor.Uninitialized(x.Shape);
        System.Numerics.Tensors.TensorPrimitives.Multiply(x.Span, m, y.Span);
        var op = new DropoutOp(mask);
        if (!GradientTape.Record(op, [x], y)) op.ReleaseSaved();
        return y;
    }

    public override Tensor?[] Backward(Tensor dy, bool[] needs)
    {
        var dx = Tensor.Uninitialized(dy.Shape);
        System.Numerics.Tensors.TensorPrimitives.Multiply(dy.Span, scaledMask.Span, dx.Span);
        return [dx];
    }

    internal override void ReleaseSaved() => scaledMask.Dispose();
}
