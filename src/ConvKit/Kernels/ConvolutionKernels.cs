using ConvKit.Autograd;

namespace ConvKit.Kernels;

/// <summary>The entry points that ops call for convolution; each picks the kernel for the case.</summary>
internal static class ConvolutionKernels
{
    /// <summary>
    /// The convolution (its sums times <paramref name="scale"/>[k] before the bias is added, when a scale is given; plus
    /// <paramref name="residual"/>, laid out as the output, when one is given), then max(·, 0) on every output when
    /// <paramref name="relu"/> is set.
    /// </summary>
    public static void Forward(ReadOnlySpan<float> input, ReadOnlySpan<float> kernel, ReadOnlySpan<float> bias, ConvGeometry g, Span<float> output,
        bool relu = false, ReadOnlySpan<float> scale = default, ReadOnlySpan<float> residual = default, WeightPacking packing = default)
    {
        if (KernelOptions.UseReference)
        {
            OpTrace.Kernel("conv forward: the scalar reference (CONVKIT_KERNELS=reference)");
            var y = output.Slice(0, g.OutputSize);
            // With a scale, the bias comes after it: y·scale + bias.
            ConvolutionReference.Forward(input, kernel, scale.IsEmpty ? bias : default, g, output);
            ElementwiseReference.Epilogue(y, g.K, scale.IsEmpty || bias.IsEmpty ? default : bias.Slice(0, g.K), relu,
                scale.IsEmpty ? default : scale.Slice(0, g.K), residual.IsEmpty ? default : residual.Slice(0, y.Length));
        }
        else ConvolutionFast.Forward(input, kernel, bias, g, output, relu, scale, residual, packing);
    }

    public static void BackwardInput(ReadOnlySpan<float> gradOutput, ReadOnlySpan<float> kernel, ConvGeometry g, Span<float> gradInput)
    {
        if (KernelOptions.UseReference) ConvolutionReference.BackwardInput(gradOutput, kernel, g, gradInput);
        else ConvolutionFast.BackwardInput(gradOutput, kernel, g, gradInput);
    }

    public static void BackwardKernel(ReadOnlySpan<float> gradOutput, ReadOnlySpan<float> input, ConvGeometry g, Span<float> gradKernel)
    {
        if (KernelOptions.UseReference) ConvolutionReference.BackwardKernel(gradOutput, input, g, gradKernel);
        else ConvolutionFast.BackwardKernel(gradOutput, input, g, gradKernel);
    }

    /// <summary>dBias[k] = Σ over rows of dOut[row, k]; dOut viewed as [rows, K]; large ones summed by parts (<see cref="Epilogue.BiasGradient"/>).</summary>
    public static void BackwardBias(ReadOnlySpan<float> gradOutput, int k, Span<float> gradBias)
    {
        if (KernelOptions.UseReference) ConvolutionReference.BackwardBias(gradOutput, k, gradBias);
        else if (k > 0) Epilogue.BiasGradient(gradOutput.Slice(0, gradOutput.Length / k * k), k, gradBias.Slice(0, k));
    }
}

/// <summary>The entry points that ops call for pooling.</summary>
internal static class PoolingKernels
{
    public static void MaxForward(ReadOnlySpan<float> input, PoolGeometry g, Span<float> output)
    {
        if (KernelOptions.UseReference) PoolingReference.MaxForward(input, g, output);
        else PoolingFast.MaxForward(input, g, output);
    }

    public static void MaxBackward(ReadOnlySpan<float> gradOutput, ReadOnlySpan<float> input, PoolGeometry g, Span<float> gradInput)
    {
        if (KernelOptions.UseReference) PoolingReference.MaxBackward(gradOutput, input, g, gradInput);
        else PoolingFast.MaxBackward(gradOutput, input, g, gradInput);
    }

    public static void AverageForward(ReadOnlySpan<float> input, PoolGeometry g, Span<float> output)
    {
        if (KernelOptions.UseReference) PoolingReference.AverageForward(input, g, output);
        else PoolingFast.AverageForward(input, g, output);
    }

    public static void AverageBackward(ReadOnlySpan<float> gradOutput, PoolGeometry g, Span<float> gradInput)
    {
        if (KernelOptions.UseReference) PoolingReference.AverageBackward(gradOutput, g, gradInput);
        else PoolingFast.AverageBackward(gradOutput, g, gradInput);
    }

    /// <summary>out[n,c] = max over the hw cells of in[n,·,c]; input [N, HW, C], output [N, C].</summary>
    public static void GlobalMaxForward(ReadOnlySpan<float> input, int n, int hw, int c, Span<float> output)
    {
        if (KernelOptions.UseReference) PoolingReference.GlobalMaxForward(input, n, hw, c, output);
        else PoolingFast.GlobalMaxForward(input, n, hw, c, output);
    }

    /// <summary>out[n,c] = mean over the hw cells of in[n,·,c]; input [N, HW, C], output [N, C].</summary>
    public static void GlobalAverageForward(ReadOnlySpan<float> input, int n, int hw, int c, Span<float> output)
    {
        if (KernelOptions.UseReference) PoolingReference.GlobalAverageForward(input, n, hw, c, output);
        else PoolingFast.GlobalAverageForward(input, n, hw, c, output);
    }
}

/// <summary>The entry point that ops call for matrix multiplication.</summary>
internal static class GemmKernels
{
    public static void Multiply(bool transposeA, bool transposeB, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, Span<float> c, int ldc, bool accumulate)
    {
        if (KernelOptions.UseReference) GemmReference.Multiply(transposeA, transposeB, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
        else Gemm.Multiply(transposeA, transposeB, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
    }

    /// <summary>
    /// C[m, n] = A[m, k] · W[k, n] (row-major, compact) with W a layer's weights, whose packing may be kept, then
    /// + bias[j] and max(·, 0) when <paramref name="relu"/> is set, applied by each thread to the part of C it computed
    /// (<see cref="Gemm.MultiplyWeights"/>).
    /// </summary>
    public static unsafe void MultiplyWeights(int m, int n, int k, ReadOnlySpan<float> a, ReadOnlySpan<float> w, Span<float> c, WeightPacking packing,
        ReadOnlySpan<float> bias = default, bool relu = false)
    {
        if (!bias.IsEmpty && bias.Length < n) throw new ArgumentException($"GEMM bias needs {n} values; received {bias.Length}.");
        if (KernelOptions.UseReference)
        {
            Multiply(false, false, m, n, k, a, k, w, n, c, n, accumulate: false);
            Epilogue.Apply(c.Slice(0, m * n), n, bias.IsEmpty ? default : bias.Slice(0, n), relu);
            return;
        }
        if ((long)m * k > a.Length || (long)k * n > w.Length || (long)m * n > c.Length)
            throw new ArgumentException($"GEMM {m}×{n}×{k} needs A {m * (long)k}, W {k * (long)n} and C {m * (long)n} elements; received {a.Length}, {w.Length} and {c.Length}.");
        fixed (float* pa = a, pw = w, pc = c, pb = bias)
            Gemm.MultiplyWeights(m, n, k, pa, k, pw, n, pc, n, packing, new OutputEpilogue(pb, null, null, relu, pc));
    }
}
