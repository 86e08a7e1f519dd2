using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ConvKit.Kernels;

/// <summary>
/// The epilogue of one convolution or dense layer, for <see cref="Apply"/> to run on each part of its output as the part is computed:
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

    /// <summary>
    /// <see cref="Apply"/> on the calling thread, with nothing allocated: for a kernel's tile or row inside a parallel
    /// region, where a call per 2×2 Winograd tile made a delegate each time (a fifth of the time of a 56×56×64
    /// convolution with batch norm folded in and a ReLU, at batch 1).
    /// </summary>
    public void ApplyHere(float* part, int rows, int k) =>
        Epilogue.ApplyHere(part, rows, k, k, Bias, Relu, Scale, Residual == null ? null : Residual + (part - Output));

    /// <summary>Whether there is anything to do.</summary>
    public bool IsEmpty => Bias == null && Scale == null && Residual == null && !Relu;

    /// <summary>
    /// <see cref="ApplyHere(float*, int, int)"/> on a block of an output whose rows are <paramref name="ld"/> apart:
    /// <paramref name="rows"/> × <paramref name="columns"/> at <paramref name="part"/>, its first column
    /// (part − Output) mod ld, so that a GEMM's thread applies it to the columns it computed.
    /// </summary>
    public void ApplyHere(float* part, int rows, int columns, nint ld) => ApplyHere(part, rows, columns, ld, (nint)(part - Output) % ld);

    /// <summary>This epilogue for the register tile at <paramref name="tile"/>, whose first column is <paramref name="column"/>.</summary>
    public TileEpilogue ForTile(float* tile, nint column) =>
        new(Bias == null ? null : Bias + column, Scale == null ? null : Scale + column, Residual == null ? null : Residual + (tile - Output), Relu);

    /// <summary><see cref="ApplyHere(float*, int, int, nint)"/> with the block's first column known.</summary>
    public void ApplyHere(float* part, int rows, int columns, nint ld, nint column) =>
        Epilogue.ApplyHere(part, rows, columns, ld, Bias == null ? null : Bias + column, Relu, Scale == null ? null : Scale + column,
            Residual == null ? null : Residual + (part - Output));
}

/// <summary>
/// <see cref="OutputEpilogue"/> cut to one register tile of a GEMM, for the micro-kernel that applies it as it stores the
/// tile: bias and scale from the tile's first column, the residual at the tile's first element (rows as far apart as
/// the output's).
/// </summary>
internal readonly unsafe struct TileEpilogue(float* bias, float* scale, float* residual, bool relu)
{
    public readonly float* Bias = bias, Scale = scale, Residual = residual;
    public readonly bool Relu = relu;
}

/// <summary>
/// What a convolution or dense layer does to its GEMM's output before anyone reads it (bias, then ReLU; at inference a
/// following batch normalization's per-channel scale too), and the backward of that: the ReLU mask and the bias
/// gradient, in one pass.
/// </summary>
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
        if (KernelOptions.UseReference)
        {
            ElementwiseReference.Epilogue(y, k, bias, relu, scale, residual);
            return;
        }
        fixed (float* py = y, pb = bias, ps = scale, pr = residual)
        {
            float* start = py, b = pb, s = ps, r = pr;
            int rows = y.Length / k;
            KernelThreads.ForRows(rows, k, new ApplyRanges(start, k, b, relu, s, r));
        }
    }

    /// <summary>y = max(x, 0), split across the threads when large.</summary>
    public static void Relu(ReadOnlySpan<float> x, Span<float> y)
    {
        if (KernelOptions.UseReference)
        {
            ElementwiseReference.Relu(x, y);
            return;
        }
        fixed (float* px = x, py = y)
        {
            float* source = px, target = py;
            KernelThreads.ForRows(y.Length, 1, new ReluRanges(source, target));
        }
    }

    /// <summary>
    /// The pass of <see cref="ApplyRows"/> on the calling thread, over <paramref name="rows"/> rows of <paramref name="k"/>
    /// values <paramref name="ld"/> apart, the residual laid out alike (nothing to do without bias, scale, residual or ReLU).
    /// </summary>
    public static void ApplyHere(float* y, int rows, int k, nint ld, float* bias, bool relu, float* scale, float* residual)
    {
        if (bias == null && scale == null && residual == null && !relu) return;
        if (!KernelOptions.UseReference)
        {
            ApplyRows(y, rows, k, ld, bias, relu, scale, residual);
            return;
        }
        for (int row = 0; row < rows; row++)
            ElementwiseReference.Epilogue(new Span<float>(y + row * ld, k), k, bias == null ? default : new ReadOnlySpan<float>(bias, k), relu,
                scale == null ? default : new ReadOnlySpan<float>(scale, k), residual == null ? default : new ReadOnlySpan<float>(residual + row * ld, k));
    }

    public static void Apply(float* y, nint rows, int k, float* bias, bool relu, float* scale = null, float* residual = null) =>
        Apply(new Span<float>(y, checked((int)(rows * k))), k, bias == null ? default : new ReadOnlySpan<float>(bias, k), relu,
            scale == null ? default : new ReadOnlySpan<float>(scale, k), residual == null ? default : new ReadOnlySpan<float>(residual, checked((int)(rows * k))));

    /// <summary>
    /// The pass of <see cref="Apply(Span{float}, int, ReadOnlySpan{float}, bool, ReadOnlySpan{float}, ReadOnlySpan{float})"/>
    /// over <paramref name="rows"/> rows of <paramref name="k"/> channels: per row, sixteen channels at a time with
    /// AVX-512 (eight for the rest or without it), y·scale,
    /// + bias, + residual, max(·, 0), each rounded as TensorPrimitives' Multiply, Add and Max round it, so the bits are
    /// those of those calls one after another.
    /// </summary>
    /// <remarks>
    /// It was those calls, one per step and output pixel: 0.6 ms on one thread for a 56×56×64 output with scale, bias
    /// and ReLU (now 45–75 µs), a third of the thread time of the convolution that computed it.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ApplyRows(float* y, int rows, int k, nint ld, float* bias, bool relu, float* scale, float* residual)
    {
        if (bias == null && scale == null && residual == null && ld == k)
        {
            var all = new Span<float>(y, rows * k);
            TensorPrimitives.Max(all, 0f, all);
            return;
        }
        int width = Vector256<float>.Count, vectorEnd = k - k % width;
        int wideEnd = Vector512.IsHardwareAccelerated ? k - k % Vector512<float>.Count : 0;
        for (int row = 0; row < rows; row++, y += ld)
        {
            float* r = residual == null ? null : residual + row * ld;
            for (int c = 0; c < wideEnd; c += Vector512<float>.Count)
            {
                var v = Vector512.Load(y + c);
                if (scale != null) v *= Vector512.Load(scale + c);
                if (bias != null) v += Vector512.Load(bias + c);
                if (r != null) v += Vector512.Load(r + c);
                if (relu) v = Vector512.Max(v, Vector512<float>.Zero);
                v.Store(y + c);
            }
            for (int c = wideEnd; c < vectorEnd; c += width)
            {
                var v = Vector256.Load(y + c);
                if (scale != null) v *= Vector256.Load(scale + c);
                if (bias != null) v += Vector256.Load(bias + c);
                if (r != null) v += Vector256.Load(r + c);
                if (relu) v = Vector256.Max(v, Vector256<float>.Zero);
                v.Store(y + c);
            }
            for (int c = vectorEnd; c < k; c++)
            {
                float v = y[c];
                if (scale != null) v *= scale[c];
                if (bias != null) v += bias[c];
                if (r != null) v += r[c];
                if (relu) v = MathF.Max(v, 0f);
                y[c] = v;
            }
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
            KernelThreads.ForRows(rows, k, new ReluBackwardRanges(yv, g, d, k, withBias ? (sums == null ? bias : sums) : null, sums != null));
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
        if (KernelOptions.UseReference)
        {
            ConvolutionReference.BackwardBias(gradOutput, k, gradBias);
            return;
        }
        int rows = gradOutput.Length / k;
        int parts = KernelThreads.RowParts(rows, k);
        float* partials = parts > 1 ? KernelBuffers.Partials(parts * k) : null;
        fixed (float* pdy = gradOutput, pbias = gradBias)
        {
            float* g = pdy, bias = pbias, sums = partials;
            KernelThreads.ForRows(rows, k, new BiasGradientRanges(g, k, sums == null ? bias : sums, sums != null));
            if (sums != null) AddParts(sums, parts, k, bias);
        }
    }

    /// <summary>y[r, ·] = x[r, ·] + bias for every row of bias.Length values.</summary>
    public static void BiasAdd(ReadOnlySpan<float> x, ReadOnlySpan<float> bias, Span<float> y)
    {
        int k = bias.Length;
        if (KernelOptions.UseReference)
        {
            for (int i = 0; i < y.Length; i++) y[i] = x[i] + bias[i % k];
            return;
        }
        for (int row = 0; row < y.Length; row += k) TensorPrimitives.Add(x.Slice(row, k), bias, y.Slice(row, k));
    }

    /// <summary>dx = dy where y &gt; 0, else 0.</summary>
    public static void Mask(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        if (KernelOptions.UseReference)
        {
            ElementwiseReference.Mask(y, dy, dx);
            return;
        }
        if (y.Length < dx.Length || dy.Length < dx.Length)
            throw new ArgumentException($"The mask needs {dx.Length} values of y and dy; received {y.Length} and {dy.Length}.");
        fixed (float* py = y, pdy = dy, pdx = dx) Mask(py, pdy, pdx, dx.Length);
    }

    /// <summary>
    /// <see cref="Mask(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float})"/> on <paramref name="count"/> values, through
    /// pointers: as spans, the vector loads and stores were calls the JIT did not inline inside a thread's range.
    /// </summary>
    private static void Mask(float* y, float* dy, float* dx, int count)
    {
        int i = 0;
        for (; i <= count - Vector256<float>.Count; i += Vector256<float>.Count)
            Vector256.ConditionalSelect(Vector256.GreaterThan(Vector256.Load(y + i), Vector256<float>.Zero), Vector256.Load(dy + i), Vector256<float>.Zero)
                .Store(dx + i);
        for (; i < count; i++) dx[i] = y[i] > 0 ? dy[i] : 0f;
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

    // The threads' ranges of rows, as structs where a lambda would allocate its captures at every call (KernelThreads.ForRows<TRows>).

    /// <summary><see cref="Apply(Span{float}, int, ReadOnlySpan{float}, bool, ReadOnlySpan{float}, ReadOnlySpan{float})"/> on a range of rows.</summary>
    private readonly struct ApplyRanges(float* y, int k, float* bias, bool relu, float* scale, float* residual) : KernelThreads.IRows
    {
        public void Run(int part, int first, int last) =>
            ApplyRows(y + (nint)first * k, last - first, k, k, bias, relu, scale, residual == null ? null : residual + (nint)first * k);
    }

    /// <summary><see cref="Relu"/> on a range of elements.</summary>
    private readonly struct ReluRanges(float* x, float* y) : KernelThreads.IRows
    {
        public void Run(int part, int first, int last) =>
            TensorPrimitives.Max(new ReadOnlySpan<float>(x + first, last - first), 0f, new Span<float>(y + first, last - first));
    }

    /// <summary>
    /// <see cref="ReluBackward"/> on a range of rows, summing its bias gradient (when <paramref name="sums"/> is not null)
    /// into part i's row of <paramref name="sums"/> if <paramref name="perPart"/>, else into <paramref name="sums"/> itself.
    /// </summary>
    private readonly struct ReluBackwardRanges(float* y, float* dy, float* dz, int k, float* sums, bool perPart) : KernelThreads.IRows
    {
        public void Run(int part, int first, int last)
        {
            nint offset = (nint)first * k;
            int count = (last - first) * k;
            Mask(y + offset, dy + offset, dz + offset, count);
            if (sums != null) SumRows(new ReadOnlySpan<float>(dz + offset, count), k, new Span<float>(perPart ? sums + (nint)part * k : sums, k));
        }
    }

    /// <summary><see cref="BiasGradient"/> on a range of rows, into part i's row of <paramref name="sums"/> if <paramref name="perPart"/>.</summary>
    private readonly struct BiasGradientRanges(float* dy, int k, float* sums, bool perPart) : KernelThreads.IRows
    {
        public void Run(int part, int first, int last) =>
            SumRows(new ReadOnlySpan<float>(dy + (nint)first * k, (last - first) * k), k, new Span<float>(perPart ? sums + (nint)part * k : sums, k));
    }
}
