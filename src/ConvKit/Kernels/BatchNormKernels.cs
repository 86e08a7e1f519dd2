using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ConvKit.Kernels;

// R rows (every position of every sample), C channels: x is [R, C], channels-last.

/// <summary>
/// Batch normalization over the channel axis: per-channel moments, normalization and the training-mode backward.
/// The scalar reference sums in double; the fast path sums float partials over fixed chunks of rows (vectorised
/// across channels, threaded over chunks) and combines them in double in chunk order, so results do not depend on
/// the thread count.
/// </summary>
internal static unsafe class BatchNormKernels
{
    private const int RowsPerChunk = 256;

    /// <summary>Channels per vector of the row loops.</summary>
    private const int Width = 8;

    /// <summary>Channel counts up to this keep their per-channel scratch on the stack.</summary>
    private const int StackChannels = 1024;

    /// <summary>mean[c] = Σ_r x[r,c] / R; variance[c] = Σ_r (x[r,c] − mean[c])² / R (biased, as Keras uses).</summary>
    public static void Moments(float[] x, int channels, float[] mean, float[] variance)
    {
        if (KernelOptions.UseReference) { MomentsReference(x, channels, mean, variance); return; }
        int rows = x.Length / channels;
        Span<double> total = channels <= StackChannels ? stackalloc double[channels] : new double[channels];
        fixed (float* px = x, pmean = mean)
        {
            ChunkSums(px, channels, rows, null, total);
            for (int c = 0; c < channels; c++) mean[c] = (float)(total[c] / Math.Max(1, rows));
            ChunkSums(px, channels, rows, pmean, total);
            for (int c = 0; c < channels; c++) variance[c] = (float)(total[c] / Math.Max(1, rows));
        }
    }

    public static void MomentsReference(float[] x, int channels, float[] mean, float[] variance)
    {
        int rows = x.Length / channels;
        var sum = new double[channels];
        var squares = new double[channels];
        for (int r = 0; r < rows; r++) for (int c = 0; c < channels; c++) sum[c] += x[r * channels + c];
        for (int c = 0; c < channels; c++) mean[c] = (float)(sum[c] / Math.Max(1, rows));
        for (int r = 0; r < rows; r++) for (int c = 0; c < channels; c++) { double d = x[r * channels + c] - mean[c]; squares[c] += d * d; }
        for (int c = 0; c < channels; c++) variance[c] = (float)(squares[c] / Math.Max(1, rows));
    }

    /// <summary>
    /// total[c] = Σ_r x[r,c] (or Σ_r (x[r,c] − center[c])²): float partials per chunk of rows, added in double in chunk order.
    /// </summary>
    private static void ChunkSums(float* x, int channels, int rows, float* center, Span<double> total)
    {
        int chunks = (rows + RowsPerChunk - 1) / RowsPerChunk;
        float* partials = KernelBuffers.Partials(chunks * channels);
        KernelThreads.For(chunks, new ChunkSumItems(x, channels, rows, center, partials));
        total.Clear();
        for (int k = 0; k < chunks; k++)
            for (int c = 0; c < channels; c++) total[c] += partials[k * channels + c];
    }

    /// <summary><see cref="ChunkSums"/>: chunk k sums its rows into its partial.</summary>
    private readonly struct ChunkSumItems(float* x, int channels, int rows, float* center, float* partials) : KernelThreads.IItems
    {
        public void Run(int k)
        {
            float* acc = partials + (nint)k * channels;
            new Span<float>(acc, channels).Clear();
            int first = k * RowsPerChunk, end = Math.Min(rows, first + RowsPerChunk);
            if (channels % Width == 0)
            {
                SumRows(x + (nint)first * channels, end - first, channels, center, acc);
                return;
            }
            var sum = new Span<float>(acc, channels);
            Span<float> centered = channels <= StackChannels ? stackalloc float[channels] : new float[channels];
            for (int r = first; r < end; r++)
            {
                var row = new ReadOnlySpan<float>(x + (nint)r * channels, channels);
                if (center == null) TensorPrimitives.Add(sum, row, sum);
                else
                {
                    TensorPrimitives.Subtract(row, new ReadOnlySpan<float>(center, channels), centered);
                    TensorPrimitives.MultiplyAdd(centered, centered, sum, sum);
                }
            }
        }
    }

    /// <summary>
    /// y[r,c] = xhat[r,c] · gamma[c] + beta[c] (gamma 1, beta 0 when absent) with xhat[r,c] = (x[r,c] − mean[c]) · invStd[c],
    /// then with <paramref name="relu"/> y = max(y, 0) in the same pass (a ReLU layer that follows: the same bits as
    /// <see cref="Epilogue.Relu"/> on y). x̂ is not stored: <see cref="Backward"/> computes it again from x, with the same bits.
    /// </summary>
    public static void Normalize(float[] x, int channels, float[] mean, float[] invStd, float[]? gamma, float[]? beta, float[] y, bool relu = false)
    {
        if (KernelOptions.UseReference)
        {
            ElementwiseReference.BatchNormNormalize(x, channels, mean, invStd, gamma, beta, null, y);
            if (relu) Epilogue.Relu(y, y);
            return;
        }
        // Absent gamma and beta as ones and zeros: the same arithmetic either way, so the same bits as with given ones.
        float* perChannel = KernelBuffers.PerChannel(2 * channels);
        new Span<float>(perChannel, channels).Fill(1f);
        new Span<float>(perChannel + channels, channels).Clear();
        int rows = x.Length / channels;
        fixed (float* px = x, pmean = mean, pinvStd = invStd, pgamma = gamma, pbeta = beta, py = y)
            Rows(rows, channels, new NormalizeItems(px, channels, pmean, pinvStd, pgamma != null ? pgamma : perChannel,
                pbeta != null ? pbeta : perChannel + channels, py, relu));
    }

    /// <summary>
    /// Training-mode backward: with s[c] = gamma[c]·invStd[c],
    /// dx[r,c] = s[c] · (dy[r,c] − Σdy[c]/R − xhat[r,c] · Σ(dy·xhat)[c]/R); also returns Σdy (dβ) and Σ(dy·xhat) (dγ).
    /// In inference mode dx = s · dy. xhat = (x − mean) · invStd is computed from the forward's input, mean and
    /// invStd as <see cref="Normalize"/> computes it, so it has the forward's bits without a tensor kept for it.
    /// With <paramref name="relu"/> (the forward ran <see cref="Normalize"/> with a ReLU),
    /// <paramref name="dy"/> is the gradient of the ReLU's output, and the ReLU's gradient (dy where
    /// xhat·gamma + beta &gt; 0, else 0, with <paramref name="beta"/> as the forward had it) is taken on the fly, with the
    /// same bits as <see cref="Epilogue.ReluBackward"/> before this backward.
    /// </summary>
    public static (double[] SumDy, double[] SumDyXhat) Backward(float[] dy, float[] x, float[] mean, int channels, float[] invStd, float[]? gamma,
        bool training, float[]? dx, float[]? beta = null, bool relu = false)
    {
        if (KernelOptions.UseReference)
        {
            var xhat = new float[x.Length];
            ElementwiseReference.BatchNormNormalize(x, channels, mean, invStd, null, null, xhat, new float[x.Length]);
            if (!relu) return ElementwiseReference.BatchNormBackward(dy, xhat, channels, invStd, gamma, training, dx);
            var y = new float[xhat.Length];
            ElementwiseReference.BatchNormNormalize(xhat, channels, new float[channels], Enumerable.Repeat(1f, channels).ToArray(), gamma, beta, null, y);
            var masked = new float[dy.Length];
            ElementwiseReference.Mask(y, dy, masked);
            return ElementwiseReference.BatchNormBackward(masked, xhat, channels, invStd, gamma, training, dx);
        }
        int rows = dy.Length / channels;
        int chunks = (rows + RowsPerChunk - 1) / RowsPerChunk;
        float* partialDy = KernelBuffers.Partials(2 * chunks * channels), partialDyXhat = partialDy + (nint)chunks * channels;
        var sumDy = new double[channels];
        var sumDyXhat = new double[channels];
        // The ReLU's mask is recomputed from x̂ with the forward's γ and β (or ones and zeros), in the forward's arithmetic.
        float* perChannel = KernelBuffers.PerChannel(5 * channels);
        float* reluScale = relu ? perChannel + 3 * channels : null, reluShift = perChannel + 4 * channels;
        if (relu)
            for (int c = 0; c < channels; c++) { reluScale[c] = gamma?[c] ?? 1f; reluShift[c] = beta?[c] ?? 0f; }
        fixed (float* pdy = dy, pdx = dx, px = x, pmean = mean, pinvStd = invStd)
        {
            var xhat = new Normalized(px, pmean, pinvStd);
            KernelThreads.For(chunks, new GradientSumItems(pdy, xhat, channels, rows, partialDy, partialDyXhat, reluScale, reluShift));
            for (int k = 0; k < chunks; k++)
                for (int c = 0; c < channels; c++) { sumDy[c] += partialDy[k * channels + c]; sumDyXhat[c] += partialDyXhat[k * channels + c]; }
            if (dx is null) return (sumDy, sumDyXhat);

            float* s = perChannel, offset = s + channels, coefficientXhat = s + 2 * channels;
            for (int c = 0; c < channels; c++)
            {
                s[c] = (gamma?[c] ?? 1f) * invStd[c];
                coefficientXhat[c] = training ? (float)(-s[c] * sumDyXhat[c] / rows) : 0f;
                offset[c] = training ? (float)(-s[c] * sumDy[c] / rows) : 0f;
            }
            Rows(rows, channels, new InputGradientItems(pdy, xhat, channels, s, offset, coefficientXhat, pdx, reluScale, reluShift));
        }
        return (sumDy, sumDyXhat);
    }

    // Row loops for channel counts that are a multiple of the vector width: the same arithmetic, in the same order,
    // as the per-row TensorPrimitives calls (no fused multiply-add), without a call per row of a few channels. They
    // read and write through pointers: as spans, their vector loads and stores were calls the JIT did not inline
    // (Vector256.Create and CopyTo, a tenth of a training step's samples), and normalization moved 10 GB/s.

    /// <summary>acc[c] += Σ_r x[r,c] over <paramref name="rows"/> rows, or Σ_r (x[r,c] − center[c])² when <paramref name="center"/> is not null.</summary>
    /// <remarks>
    /// Four groups of eight channels at a time, as four sums that do not wait on each other: one group alone added a row
    /// only once per add latency. Each channel still sums its rows in order, so the bits are those of one group at a time.
    /// </remarks>
    private static void SumRows(float* x, int rows, int channels, float* center, float* acc)
    {
        float* end = x + (nint)rows * channels;
        int c = 0;
        for (; c + 4 * Width <= channels; c += 4 * Width)
        {
            var s0 = Vector256.Load(acc + c);
            var s1 = Vector256.Load(acc + c + Width);
            var s2 = Vector256.Load(acc + c + 2 * Width);
            var s3 = Vector256.Load(acc + c + 3 * Width);
            if (center == null)
            {
                for (float* p = x + c; p < end; p += channels)
                {
                    s0 += Vector256.Load(p);
                    s1 += Vector256.Load(p + Width);
                    s2 += Vector256.Load(p + 2 * Width);
                    s3 += Vector256.Load(p + 3 * Width);
                }
            }
            else
            {
                var m0 = Vector256.Load(center + c);
                var m1 = Vector256.Load(center + c + Width);
                var m2 = Vector256.Load(center + c + 2 * Width);
                var m3 = Vector256.Load(center + c + 3 * Width);
                for (float* p = x + c; p < end; p += channels)
                {
                    var d0 = Vector256.Load(p) - m0;
                    var d1 = Vector256.Load(p + Width) - m1;
                    var d2 = Vector256.Load(p + 2 * Width) - m2;
                    var d3 = Vector256.Load(p + 3 * Width) - m3;
                    s0 = d0 * d0 + s0;
                    s1 = d1 * d1 + s1;
                    s2 = d2 * d2 + s2;
                    s3 = d3 * d3 + s3;
                }
            }
            s0.Store(acc + c);
            s1.Store(acc + c + Width);
            s2.Store(acc + c + 2 * Width);
            s3.Store(acc + c + 3 * Width);
        }
        for (; c < channels; c += Width)
        {
            var sum = Vector256.Load(acc + c);
            var middle = center == null ? Vector256<float>.Zero : Vector256.Load(center + c);
            for (float* p = x + c; p < end; p += channels)
            {
                if (center == null) sum += Vector256.Load(p);
                else
                {
                    var d = Vector256.Load(p) - middle;
                    sum = d * d + sum;
                }
            }
            sum.Store(acc + c);
        }
    }

    /// <summary>
    /// y[r,c] = xhat[r,c] · scale[c] + shift[c] with xhat[r,c] = (x[r,c] − mean[c]) · invStd[c] (then max(y, 0) with
    /// <paramref name="relu"/>), over <paramref name="rows"/> rows.
    /// </summary>
    private static void NormalizeRows(float* x, int rows, int channels, float* mean, float* invStd, float* scale, float* shift, float* y, bool relu)
    {
        for (nint row = 0, end = (nint)rows * channels; row < end; row += channels)
            for (int c = 0; c < channels; c += Width)
            {
                nint i = row + c;
                var h = (Vector256.Load(x + i) - Vector256.Load(mean + c)) * Vector256.Load(invStd + c);
                var value = h * Vector256.Load(scale + c) + Vector256.Load(shift + c);
                (relu ? Vector256.Max(value, Vector256<float>.Zero) : value).Store(y + i);
            }
    }

    /// <summary>
    /// dy where the ReLU after the normalization passed its input (xhat·scale + shift &gt; 0), else 0; dy itself when
    /// <paramref name="scale"/> is null (no ReLU). The forward's arithmetic, so the forward's mask.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> PassedByRelu(Vector256<float> dy, Vector256<float> xhat, float* scale, float* shift, int c) =>
        scale == null ? dy
            : Vector256.ConditionalSelect(Vector256.GreaterThan(xhat * Vector256.Load(scale + c) + Vector256.Load(shift + c), Vector256<float>.Zero), dy, Vector256<float>.Zero);

    /// <summary>sumDy[c] += Σ_r dy[r,c]; sumDyXhat[c] += Σ_r dy[r,c] · xhat[r,c], over <paramref name="rows"/> rows.</summary>
    /// <remarks>Four groups of eight channels at a time, as <see cref="SumRows"/> does, with the same bits as one at a time.</remarks>
    private static void SumGradients(float* dy, Normalized xhat, int rows, int channels, float* sumDy, float* sumDyXhat, float* reluScale, float* reluShift)
    {
        nint end = (nint)rows * channels;
        int c = 0;
        for (; c + 4 * Width <= channels; c += 4 * Width)
        {
            var a0 = Vector256.Load(sumDy + c);
            var a1 = Vector256.Load(sumDy + c + Width);
            var a2 = Vector256.Load(sumDy + c + 2 * Width);
            var a3 = Vector256.Load(sumDy + c + 3 * Width);
            var b0 = Vector256.Load(sumDyXhat + c);
            var b1 = Vector256.Load(sumDyXhat + c + Width);
            var b2 = Vector256.Load(sumDyXhat + c + 2 * Width);
            var b3 = Vector256.Load(sumDyXhat + c + 3 * Width);
            for (nint i = c; i < end; i += channels)
            {
                Vector256<float> h0 = xhat.At(i, c), h1 = xhat.At(i + Width, c + Width),
                    h2 = xhat.At(i + 2 * Width, c + 2 * Width), h3 = xhat.At(i + 3 * Width, c + 3 * Width);
                var g0 = PassedByRelu(Vector256.Load(dy + i), h0, reluScale, reluShift, c);
                var g1 = PassedByRelu(Vector256.Load(dy + i + Width), h1, reluScale, reluShift, c + Width);
                var g2 = PassedByRelu(Vector256.Load(dy + i + 2 * Width), h2, reluScale, reluShift, c + 2 * Width);
                var g3 = PassedByRelu(Vector256.Load(dy + i + 3 * Width), h3, reluScale, reluShift, c + 3 * Width);
                a0 += g0;
                a1 += g1;
                a2 += g2;
                a3 += g3;
                b0 = g0 * h0 + b0;
                b1 = g1 * h1 + b1;
                b2 = g2 * h2 + b2;
                b3 = g3 * h3 + b3;
            }
            a0.Store(sumDy + c);
            a1.Store(sumDy + c + Width);
            a2.Store(sumDy + c + 2 * Width);
            a3.Store(sumDy + c + 3 * Width);
            b0.Store(sumDyXhat + c);
            b1.Store(sumDyXhat + c + Width);
            b2.Store(sumDyXhat + c + 2 * Width);
            b3.Store(sumDyXhat + c + 3 * Width);
        }
        for (; c < channels; c += Width)
        {
            var a = Vector256.Load(sumDy + c);
            var b = Vector256.Load(sumDyXhat + c);
            for (nint i = c; i < end; i += channels)
            {
                var h = xhat.At(i, c);
                var g = PassedByRelu(Vector256.Load(dy + i), h, reluScale, reluShift, c);
                a += g;
                b = g * h + b;
            }
            a.Store(sumDy + c);
            b.Store(sumDyXhat + c);
        }
    }

    /// <summary>dx[r,c] = dy[r,c] · s[c] + offset[c], then dx[r,c] = xhat[r,c] · coefficient[c] + dx[r,c], over <paramref name="rows"/> rows.</summary>
    private static void InputGradientRows(float* dy, Normalized xhat, int rows, int channels, float* s, float* offset, float* coefficient, float* dx,
        float* reluScale, float* reluShift)
    {
        for (nint row = 0, end = (nint)rows * channels; row < end; row += channels)
            for (int c = 0; c < channels; c += Width)
            {
                nint i = row + c;
                var h = xhat.At(i, c);
                var d = PassedByRelu(Vector256.Load(dy + i), h, reluScale, reluShift, c) * Vector256.Load(s + c) + Vector256.Load(offset + c);
                (h * Vector256.Load(coefficient + c) + d).Store(dx + i);
            }
    }

    /// <summary>
    /// <see cref="PassedByRelu(Vector256{float}, Vector256{float}, float*, float*, int)"/> for one row of any channel count:
    /// y = xhat·scale + shift as <see cref="NormalizeItems"/> computes it, then dy where y &gt; 0, into <paramref name="passed"/>.
    /// </summary>
    private static void PassedByRelu(ReadOnlySpan<float> dy, ReadOnlySpan<float> xhat, float* scale, float* shift, Span<float> passed)
    {
        int channels = dy.Length;
        TensorPrimitives.MultiplyAdd(xhat, new ReadOnlySpan<float>(scale, channels), new ReadOnlySpan<float>(shift, channels), passed);
        for (int c = 0; c < channels; c++) passed[c] = passed[c] > 0 ? dy[c] : 0f;
    }

    /// <summary>A range of rows of a pass over the batch: <c>Run(start, end)</c>.</summary>
    private interface IRowRange
    {
        void Run(int start, int end);
    }

    /// <summary>Runs <paramref name="body"/> over [0, rows) in one range per thread when large.</summary>
    private static void Rows<TBody>(int rows, int channels, in TBody body) where TBody : struct, IRowRange
    {
        int parts = rows * channels < 1 << 15 ? 1 : KernelThreads.Available;
        if (parts == 1) { body.Run(0, rows); return; }
        KernelThreads.For(parts, new RowParts<TBody>(body, rows, parts));
    }

    private readonly struct RowParts<TBody>(TBody body, int rows, int parts) : KernelThreads.IItems where TBody : struct, IRowRange
    {
        public void Run(int part)
        {
            var (start, end) = KernelThreads.Range(rows, parts, part);
            body.Run(start, end);
        }
    }

    /// <summary><see cref="Normalize"/> on a range of rows.</summary>
    private readonly struct NormalizeItems(float* x, int channels, float* mean, float* invStd, float* scale, float* shift, float* y, bool relu)
        : IRowRange
    {
        public void Run(int start, int end)
        {
            nint first = (nint)start * channels;
            if (channels % Width == 0)
            {
                NormalizeRows(x + first, end - start, channels, mean, invStd, scale, shift, y + first, relu);
                return;
            }
            var xhat = new Normalized(x, mean, invStd);
            Span<float> h = channels <= StackChannels ? stackalloc float[channels] : new float[channels];
            ReadOnlySpan<float> g = new(scale, channels), b = new(shift, channels);
            for (int r = start; r < end; r++)
            {
                xhat.Row(r, channels, h);
                var output = new Span<float>(y + (nint)r * channels, channels);
                TensorPrimitives.MultiplyAdd(h, g, b, output);
                if (relu) TensorPrimitives.Max(output, 0f, output);
            }
        }
    }

    /// <summary>
    /// x̂ = (x − mean) · invStd of a normalization's input, computed where it is read, in <see cref="Normalize"/>'s
    /// arithmetic (a subtraction, then a multiplication), so with the bits of the forward's.
    /// </summary>
    private readonly struct Normalized(float* x, float* mean, float* invStd)
    {
        /// <summary>The eight values from element <paramref name="i"/> of x, whose channels start at <paramref name="c"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<float> At(nint i, int c) => (Vector256.Load(x + i) - Vector256.Load(mean + c)) * Vector256.Load(invStd + c);

        /// <summary>Row <paramref name="r"/> of <paramref name="channels"/> values into <paramref name="h"/>.</summary>
        public void Row(int r, int channels, Span<float> h)
        {
            TensorPrimitives.Subtract(new ReadOnlySpan<float>(x + (nint)r * channels, channels), new ReadOnlySpan<float>(mean, channels), h);
            TensorPrimitives.Multiply(h, new ReadOnlySpan<float>(invStd, channels), h);
        }

        /// <summary>The same values from element <paramref name="offset"/> of x on (a whole number of rows).</summary>
        public Normalized From(nint offset) => new(x + offset, mean, invStd);
    }

    /// <summary><see cref="Backward"/>'s sums: chunk k sums Σdy and Σdy·xhat over its rows into its partials.</summary>
    private readonly struct GradientSumItems(float* dy, Normalized xhat, int channels, int rows, float* partialDy, float* partialDyXhat,
        float* reluScale, float* reluShift)
        : KernelThreads.IItems
    {
        public void Run(int k)
        {
            float* a = partialDy + (nint)k * channels, b = partialDyXhat + (nint)k * channels;
            new Span<float>(a, channels).Clear();
            new Span<float>(b, channels).Clear();
            int start = k * RowsPerChunk, end = Math.Min(rows, start + RowsPerChunk);
            if (channels % Width == 0)
            {
                nint first = (nint)start * channels;
                SumGradients(dy + first, xhat.From(first), end - start, channels, a, b, reluScale, reluShift);
                return;
            }
            Span<float> sumA = new(a, channels), sumB = new(b, channels);
            Span<float> h = channels <= StackChannels ? stackalloc float[channels] : new float[channels];
            Span<float> passed = reluScale == null ? default : channels <= StackChannels ? stackalloc float[channels] : new float[channels];
            for (int r = start; r < end; r++)
            {
                xhat.Row(r, channels, h);
                ReadOnlySpan<float> raw = new(dy + (nint)r * channels, channels);
                if (reluScale != null) PassedByRelu(raw, h, reluScale, reluShift, passed);
                ReadOnlySpan<float> g = reluScale == null ? raw : passed;
                TensorPrimitives.Add(sumA, g, sumA);
                TensorPrimitives.MultiplyAdd(g, h, sumB, sumB);
            }
        }
    }

    /// <summary><see cref="Backward"/>'s input gradient on a range of rows.</summary>
    private readonly struct InputGradientItems(float* dy, Normalized xhat, int channels, float* s, float* offset, float* coefficientXhat, float* dx,
        float* reluScale, float* reluShift)
        : IRowRange
    {
        public void Run(int start, int end)
        {
            nint first = (nint)start * channels;
            if (channels % Width == 0)
            {
                InputGradientRows(dy + first, xhat.From(first), end - start, channels, s, offset, coefficientXhat, dx + first, reluScale, reluShift);
                return;
            }
            ReadOnlySpan<float> scale = new(s, channels), shift = new(offset, channels), coefficient = new(coefficientXhat, channels);
            Span<float> h = channels <= StackChannels ? stackalloc float[channels] : new float[channels];
            Span<float> passed = reluScale == null ? default : channels <= StackChannels ? stackalloc float[channels] : new float[channels];
            for (int r = start; r < end; r++)
            {
                nint at = (nint)r * channels;
                xhat.Row(r, channels, h);
                var d = new Span<float>(dx + at, channels);
                ReadOnlySpan<float> raw = new(dy + at, channels);
                if (reluScale != null) PassedByRelu(raw, h, reluScale, reluShift, passed);
                ReadOnlySpan<float> g = reluScale == null ? raw : passed;
                TensorPrimitives.MultiplyAdd(g, scale, shift, d);
                TensorPrimitives.MultiplyAdd(h, coefficient, d, d);
            }
        }
    }
}
