namespace ConvKit.Kernels;

/// <summary>
/// What a convolution or dense layer does to its GEMM's output before anyone reads it (bias, then ReLU; at inference a
/// following batch normalization's per-channel scale too), and the backward of that: the ReLU mask and the bias
/// gradient, in one pass.
/// </summary>
/// <summary>
/// The epilogue of one convolution, for <see cref="Apply"/> to run on each part of its output as the part is computed:
/// y = y·scale + bias (scale 1 and bias 0 when null), plus the residual's matching part, then max(y, 0).
/// </summary>
internal readonly unsafe struct OutputEpilogue(float* bias, float* scale, float* residual, bool relu, float* output)
{
    public readonly float* Bias = bias, Scale = scale;

    /// <summary>Laid out as the output, whose first element is at <see cref="Output"/>.</summary>
    public readonly float* Residual = residual, Output = output;
    public readonly bool Relu = relu;

    /// <summary>The same without bias and scale, for kernels that apply those two while they write their sums.</summary>
    public OutputEpilogue WithoutBiasAndScale => new(null, null, Residual, Relu, Output);

    /// <summary>Runs on <paramref name="rows"/> rows of <paramref name="k"/> channels at <paramref name="part"/>, within the output.</summary>
    public void Apply(float* part, nint rows, int k) =>
        Epilogue.Apply(part, rows, k, Bias, Relu, Scale, Residual == null ? null : Residual + (part - Output));
}

internal static unsafe class Epilogue
{
    /// <summary>
    /// y[i, ·] += bias for every row of <paramref name="k"/> values (y[i, ·] = y[i, ·] · scale + bias when
    /// <paramref name="scale"/> is given), then max(y, 0) when <paramref name="relu"/> is set; a row at a time, so each
    /// row is still in L1 for the second step. Without a scale, the same operations as BiasAdd then Relu, so the same
    /// bits. Large outputs are split by rows across the threads.
    /// </summary>
    public static void Apply(Span<float> y, int k, ReadOnlySpan<float> bias, bool relu, ReadOnlySpan<float> scale = default, ReadOnlySpan<float> residual = default)
    {
        if ((bias.IsEmpty && scale.IsEmpty && residual.IsEmpty && !relu) || y.IsEmpty) return;
        fixed (float* py = y, pb = bias, ps = scale, pr = residual)
        {
            float* start = py, b = pb, s = ps, r = pr;
            int rows = y.Length / k;
            KernelThreads.ForRows(rows, k, (_, first, last) =>
                ApplyRows(new Span<float>(start + (nint)first * k, (last - first) * k), k, b == null ? default : new ReadOnlySpan<float>(b, k), relu,
                    s == null ? default : new ReadOnlySpan<float>(s, k), r == null ? default : new ReadOnlySpan<float>(r + (nint)first * k, (last - first) * k)));
        }
    }

    /// <summary>y = max(x, 0), split across the threads when large.</summary>
    public static void Relu(ReadOnlySpan<float> x, Span<float> y)
    {
        fixed (float* px = x, py = y)
        {
            float* source = px, target = py;
            KernelThreads.ForRows(y.Length, 1, (_, first, last) =>
                TensorPrimitives.Max(new ReadOnlySpan<float>(source + first, last - first), 0f, new Span<float>(target + first, last - first)));
        }
    }

    public static void Apply(float* y, nint rows, int k, float* bias, bool relu, float* scale = null, float* residual = null) =>
        Apply(new Span<float>(y, checked((int)(rows * k))), k, bias == null ? default : new ReadOnlySpan<float>(bias, k), relu,
            scale == null ? default : new ReadOnlySpan<float>(scale, k), residual == null ? default : new ReadOnlySpan<float>(residual, checked((int)(rows * k))));

    private static void ApplyRows(Span<float> y, int k, ReadOnlySpan<float> bias, bool relu, ReadOnlySpan<float> scale, ReadOnlySpan<float> residual)
    {
        if (bias.IsEmpty && scale.IsEmpty && residual.IsEmpty)
        {
            TensorPrimitives.Max(y, 0f, y);
            return;
        }
        for (int start = 0; start < y.Length; start += k)
        {
            var row = y.Slice(start, k);
            if (scale.IsEmpty) { if (!bias.IsEmpty) TensorPrimitives.Add(row, bias, row); }
            else if (bias.IsEmpty) TensorPrimitives.Multiply(row, scale, row);
            else TensorPrimitives.MultiplyAdd(row, scale, bias, row);
            if (!residual.IsEmpty) TensorPrimitives.Add(row, residual.Slice(start, k), row);
            if (relu) TensorPrimitives.Max(row, 0f, row);
        }
    }

    /// <summary>
    /// ReLU's backward, dz = dy where y &gt; 0 else 0, and when <paramref name="gradBias"/> is not empty the bias
    /// gradient dBias[j] = Σ over rows of dz[·, j] from the same pass, rows of <paramref name="k"/> values. Large
    /// tensors are split by rows across the threads, each summing its rows in order; the parts' sums are added in
    /// part order, as <see cref="BiasGradient"/> does, so the bias gradient has the same bits either way.
    /// </summary>
    public static void ReluBackward(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dz, int k, Span<float> gradBias)
    {
        if (KernelOptions.UseReference)
        {
            for (int i = 0; i < dz.Length; i++) dz[i] = y[i] > 0 ? dy[i] : 0f;
            if (!gradBias.IsEmpty) ConvolutionReference.BackwardBias(dz, k, gradBias);
            return;
        }
        if (dz.IsEmpty)
        {
            gradBias.Clear();
            return;
        }
        int rows = dz.Length / k;
        bool withBias = !gradBias.IsEmpty;
        int parts = KernelThreads.RowParts(rows, k);
        float* partials = withBias && parts > 1 ? KernelBuffers.Partials(parts * k) : null;
        fixed (float* py = y, pdy = dy, pdz = dz, pbias = gradBias)
        {
            float* yv = py, g = pdy, d = pdz, bias = pbias, sums = partials;
            KernelThreads.ForRows(rows, k, (part, first, last) =>
            {
                nint offset = (nint)first * k;
                int count = (last - first) * k;
                Mask(new ReadOnlySpan<float>(yv + offset, count), new ReadOnlySpan<float>(g + offset, count), new Span<float>(d + offset, count));
                if (withBias) SumRows(new ReadOnlySpan<float>(d + offset, count), k, new Span<float>(sums == null ? bias : sums + (nint)part * k, k));
            });
            if (sums != null) AddParts(sums, parts, k, bias);
        }
    }

    /// <summary>
    /// dBias[j] = Σ over rows of dOut[row, j]: each thread's rows summed in row order, the parts added in part order.
    /// Below <see cref="KernelThreads.ElementwiseChunk"/> · 2 elements that is one part, the reference's order of
    /// additions, so the same bits.
    /// </summary>
    public static void BiasGradient(ReadOnlySpan<float> gradOutput, int k, Span<float> gradBias)
    {
        int rows = gradOutput.Length / k;
        int parts = KernelThreads.RowParts(rows, k);
        float* partials = parts > 1 ? KernelBuffers.Partials(parts * k) : null;
        fixed (float* pdy = gradOutput, pbias = gradBias)
        {
            float* g = pdy, bias = pbias, sums = partials;
            KernelThreads.ForRows(rows, k, (part, first, last) =>
                SumRows(new ReadOnlySpan<float>(g + (nint)first * k, (last - first) * k), k, new Span<float>(sums == null ? bias : sums + (nint)part * k, k)));
            if (sums != null) AddParts(sums, parts, k, bias);
        }
    }

    /// <summary>dx = dy where y &gt; 0, else 0.</summary>
    public static void Mask(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        int i = 0;
        for (; i <= dx.Length - System.Numerics.Vector<float>.Count; i += System.Numerics.Vector<float>.Count)
        {
            var mask = System.Numerics.Vector.GreaterThan(new System.Numerics.Vector<float>(y.Slice(i)), System.Numerics.Vector<float>.Zero);
            System.Numerics.Vector.ConditionalSelect(mask, new System.Numerics.Vector<float>(dy.Slice(i)), System.Numerics.Vector<float>.Zero).CopyTo(dx.Slice(i));
        }
        for (; i < dx.Length; i++) dx[i] = y[i] > 0 ? dy[i] : 0f;
    }

    /// <summary>sum = Σ rows of <paramref name="values"/> in row order (overwritten).</summary>
    private static void SumRows(ReadOnlySpan<float> values, int k, Span<float> sum)
    {
        sum.Clear();
        for (int i = 0; i + k <= values.Length; i += k) TensorPrimitives.Add(sum, values.Slice(i, k), sum);
    }

    private static void AddParts(float* partials, int parts, int k, float* result)
    {
        var target = new Span<float>(result, k);
        new ReadOnlySpan<float>(partials, k).CopyTo(target);
        for (int part = 1; part < parts; part++) TensorPrimitives.Add(target, new ReadOnlySpan<float>(partials + (nint)part * k, k), target);
    }
}
