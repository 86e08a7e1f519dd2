using ConvKit.Autograd;
using ConvKit.Kernels;
using ConvKit.Tensors;

namespace ConvKit.Operations;

/// <summary>
/// z = a · b for a [..., M, K] (leading axes flattened into M) and b [K, N].
/// da = dz · bᵀ, db = aᵀ · dz.
/// </summary>
internal sealed class MatMulOp(Tensor a, Tensor b) : Op
{
    public override string Name => "MatMul";

    public static Tensor Forward(Tensor a, Tensor b)
    {
        if (b.Rank != 2 || a.Rank < 1 || a.Shape[-1] != b.Shape[0])
            throw new ArgumentException($"MatMul needs a (..., K) and b (K, N); received a {a.Shape} and b {b.Shape}.");
        int k = b.Shape[0], n = b.Shape[1], m = a.Size / Math.Max(1, k);
        var z = Tensor.Uninitialized(a.Shape.With(-1, n));
        GemmKernels.Multiply(false, false, m, n, k, a.Span, k, b.Span, n, z.Span, n, accumulate: false);
        GradientTape.Record(new MatMulOp(a, b), [a, b], z);
        return z;
    }

    public override Tensor?[] Backward(Tensor dz, bool[] needs)
    {
        int k = b.Shape[0], n = b.Shape[1], m = a.Size / Math.Max(1, k);
        Tensor? da = null, db = null;
        if (needs[0])
        {
            da = Tensor.Uninitialized(a.Shape);
            GemmKernels.Multiply(false, true, m, k, n, dz.Span, n, b.Span, n, da.Span, k, accumulate: false);
        }
        if (needs[1])
        {
            db = Tensor.Uninitialized(b.Shape);
            GemmKernels.Multiply(true, false, k, n, m, a.Span, k, dz.Span, n, db.Span, n, accumulate: false);
        }
        return [da, db];
    }
}

/// <summary>
/// The dense layer in one op: y = x · w + bias for x [..., in] (leading axes flattened into M rows) and w [in, units],
/// then max(y, 0) when ReLU is fused. Bias and ReLU are applied by the GEMM's micro-kernel to its sums before it stores
/// them (for at most one panel of units, 32 with AVX-512, in a pass after the GEMM).
/// dz = dy masked by y &gt; 0 (with ReLU) or dy; dx = dz · wᵀ, dw = xᵀ · dz, dBias[j] = Σ over rows of dz[·, j].
/// </summary>
internal sealed class DenseOp(Tensor x, Tensor w, Tensor? reluOutput) : Op
{
    public override string Name => reluOutput is null ? "Dense" : "Dense+Relu";

    public static Tensor Forward(Tensor x, Tensor w, Tensor? bias, bool relu)
    {
        if (w.Rank != 2 || x.Rank < 1 || x.Shape[-1] != w.Shape[0])
            throw new ArgumentException($"Dense needs x (..., in) and kernel (in, units); received x {x.Shape} and kernel {w.Shape}.");
        int k = w.Shape[0], n = w.Shape[1], m = x.Size / Math.Max(1, k);
        if (bias is not null && (bias.Rank != 1 || bias.Size != n))
            throw new ArgumentException($"Dense bias must have shape ({n},); received {bias.Shape}.");
        var y = Tensor.Uninitialized(x.Shape.With(-1, n));
        GemmKernels.MultiplyWeights(m, n, k, x.Span, w.Data, y.Span, KeptPacking.For(w), bias is null ? default : bias.Span, relu);
        GradientTape.Record(new DenseOp(x, w, relu ? y : null), bias is null ? [x, w] : [x, w, bias], y);
        return y;
    }

    public override Tensor?[] Backward(Tensor dy, bool[] needs)
    {
        int k = w.Shape[0], n = w.Shape[1], m = x.Size / Math.Max(1, k);
        var grads = new Tensor?[needs.Length];
        bool biasGradient = needs.Length > 2 && needs[2];
        if (biasGradient) grads[2] = Tensor.Zeros(n);
        var dz = dy;
        if (reluOutput is not null)
        {
            // The ReLU mask and the bias gradient in one pass.
            dz = Tensor.Uninitialized(dy.Shape);
            Epilogue.ReluBackward(reluOutput.Span, dy.Span, dz.Span, n, biasGradient ? grads[2]!.Span : default);
        }
        else if (biasGradient) ConvolutionKernels.BackwardBias(dz.Span, n, grads[2]!.Span);
        if (needs[0])
        {
            grads[0] = Tensor.Uninitialized(x.Shape);
            GemmKernels.Multiply(false, true, m, k, n, dz.Span, n, w.Data, n, grads[0]!.Span, k, accumulate: false);
        }
        if (needs[1])
        {
            grads[1] = Tensor.Uninitialized(w.Shape);
            GemmKernels.Multiply(true, false, k, n, m, x.Span, k, dz.Span, n, grads[1]!.Span, n, accumulate: false);
        }
        if (dz != dy) dz.Dispose();
        return grads;
    }
}

/// <summary>y[..., j] = x[..., j] + bias[j].  dx = dy, dBias[j] = Σ over the other axes of dy[..., j].</summary>
internal sealed class BiasAddOp(int units) : Op
{
    public override string Name => "BiasAdd";

    public static Tensor Forward(Tensor x, Tensor bias)
    {
        int n = bias.Size;
        if (bias.Rank != 1 || x.Shape[-1] != n)
            throw new ArgumentException($"BiasAdd needs a bias of the last axis's size; received x {x.Shape} and bias {bias.Shape}.");
        var y = Tensor.Uninitialized(x.Shape);
        Epilogue.BiasAdd(x.Span, bias.Span, y.Span);
        GradientTape.Record(new BiasAddOp(n), [x, bias], y);
        return y;
    }

    public override Tensor?[] Backward(Tensor dy, bool[] needs)
    {
        Tensor? dBias = null;
        if (needs[1])
        {
            dBias = Tensor.Zeros(units);
            ConvolutionKernels.BackwardBias(dy.Span, units, dBias.Span);
        }
        return [needs[0] ? dy : null, dBias];
    }
}
