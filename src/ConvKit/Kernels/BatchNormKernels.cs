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

    /// <summary>mean[c] = Σ_r x[r,c] / R; variance[c] = Σ_r (x[r,c] − mean[c])² / R (biased, as Keras uses).</summary>
    public static void Moments(float[] x, int channels, float[] mean, float[] variance)
    {
        if (KernelOptions.UseReference) { MomentsReference(x, channels, mean, variance); return; }
        int rows = x.Length / channels;
        var sums = ChunkSums(x, channels, rows, null);
        for (int c = 0; c < channels; c++) mean[c] = (float)(sums[c] / Math.Max(1, rows));
        var squares = ChunkSums(x, channels, rows, mean);
        for (int c = 0; c < channels; c++) variance[c] = (float)(squares[c] / Math.Max(1, rows));
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

    /// <summary>Σ_r x[r,c] (or Σ_r (x[r,c] − center[c])²): float partials per chunk, added in double in chunk order.</summary>
    private static double[] ChunkSums(float[] x, int channels, int rows, float[]? center)
    {
        int chunks = (rows + RowsPerChunk - 1) / RowsPerChunk;
        float* partials = KernelBuffers.Partials(chunks * channels);
        KernelThreads.For(chunks, new ChunkSumItems(x, channels, rows, center, partials));
        var total = new double[channels];
        for (int k = 0; k < chunks; k++)
            for (int c = 0; c < channels; c++) total[c] += partials[k * channels + c];
        return total;
    }

    /// <summary><see cref="ChunkSums"/>: chunk k sums its rows into its partial.</summary>
    private readonly struct ChunkSumItems(float[] x, int channels, int rows, float[]? center, float* partials) : KernelThreads.IItems
    {
        public void Run(int k)
        {
            var acc = new Span<float>(partials + (nint)k * channels, channels);
            acc.Clear();
            int end = Math.Min(rows, (k + 1) * RowsPerChunk);
            if (channels % Vector256<float>.Count == 0)
            {
                SumRows(x.AsSpan(k * RowsPerChunk * channels, (end - k * RowsPerChunk) * channels), channels, center, acc);
                return;
            }
            Span<float> centered = channels <= 1024 ? stackalloc float[channels] : new float[channels];
            for (int r = k * RowsPerChunk; r < end; r++)
            {
                var row = x.AsSpan(r * channels, channels);
                if (center is null) TensorPrimitives.Add(acc, row, acc);
                else
                {
                    TensorPrimitives.Subtract(row, center, centered);
                    TensorPrimitives.MultiplyAdd(centered, centered, acc, acc);
                }
            }
        }
    }

    /// <summary>
    /// xhat[r,c] = (x[r,c] − mean[c]) · invStd[c]; y[r,c] = xhat[r,c] · gamma[c] + beta[c] (gamma 1, beta 0 when absent).
    /// A null <paramref name="xhat"/> is not written (inference): y is computed the same way.
    /// </summary>
    public static void Normalize(float[] x, int channels, float[] mean, float[] invStd, float[]? gamma, float[]? beta, float[]? xhat, float[] y)
    {
        if (KernelOptions.UseReference)
        {
            ElementwiseReference.BatchNormNormalize(x, channels, mean, invStd, gamma, beta, xhat, y);
            return;
        }
        var scale = gamma ?? Enumerable.Repeat(1f, channels).ToArray();
        var shift = beta ?? new float[channels];
        int rows = x.Length / channels;
        Rows(rows, channels, new NormalizeItems(x, channels, mean, invStd, scale, shift, xhat, y));
    }

    /// <summary>
    /// Training-mode backward: with s[c] = gamma[c]·invStd[c],
    /// dx[r,c] = s[c] · (dy[r,c] − Σdy[c]/R − xhat[r,c] · Σ(dy·xhat)[c]/R); also returns Σdy (dβ) and Σ(dy·xhat) (dγ).
    /// In inference mode dx = s · dy.
    /// </summary>
    public static (double[] SumDy, double[] SumDyXhat) Backward(float[] dy, float[] xhat, int channels, float[] invStd, float[]? gamma, bool training, float[]? dx)
    {
        if (KernelOptions.UseReference) return ElementwiseReference.BatchNormBackward(dy, xhat, channels, invStd, gamma, training, dx);
        int rows = dy.Length / channels;
        int chunks = (rows + RowsPerChunk - 1) / RowsPerChunk;
        float* partialDy = KernelBuffers.Partials(2 * chunks * channels), partialDyXhat = partialDy + (nint)chunks * channels;
        KernelThreads.For(chunks, new GradientSumItems(dy, xhat, channels, rows, partialDy, partialDyXhat));
        var sumDy = new double[channels];
        var sumDyXhat = new double[channels];
        for (int k = 0; k < chunks; k++)
            for (int c = 0; c < channels; c++) { sumDy[c] += partialDy[k * channels + c]; sumDyXhat[c] += partialDyXhat[k * channels + c]; }
        if (dx is null) return (sumDy, sumDyXhat);

        var s = new float[channels];
        var coefficientXhat = new float[channels];
        var offset = new float[channels];
        for (int c = 0; c < channels; c++)
        {
            s[c] = (gamma?[c] ?? 1f) * invStd[c];
            coefficientXhat[c] = training ? (float)(-s[c] * sumDyXhat[c] / rows) : 0f;
            offset[c] = training ? (float)(-s[c] * sumDy[c] / rows) : 0f;
        }
        Rows(rows, channels, new InputGradientItems(dy, xhat, channels, s, offset, coefficientXhat, dx));
        return (sumDy, sumDyXhat);
    }

    // Row loops for channel counts that are a multiple of the vector width: the same arithmetic, in the same order,
    // as the per-row TensorPrimitives calls above (no fused multiply-add), without a call per row of a few channels.

    /// <summary>acc[c] += Σ_r x[r,c], or Σ_r (x[r,c] − center[c])² when <paramref name="center"/> is given.</summary>
    /// <remarks>
    /// Four groups of eight channels at a time, as four sums that do not wait on each other: one group alone added a row
    /// only once per add latency. Each channel still sums its rows in order, so the bits are those of one group at a time.
    /// </remarks>
    private static void SumRows(ReadOnlySpan<float> x, int channels, float[]? center, Span<float> acc)
    {
        const int Width = 8;
        int c = 0;
        for (; c + 4 * Width <= channels; c += 4 * Width)
        {
            var s0 = Vector256.Create<float>(acc.Slice(c));
            var s1 = Vector256.Create<float>(acc.Slice(c + Width));
            var s2 = Vector256.Create<float>(acc.Slice(c + 2 * Width));
            var s3 = Vector256.Create<float>(acc.Slice(c + 3 * Width));
            if (center is null)
            {
                for (int i = c; i < x.Length; i += channels)
                {
                    s0 += Vector256.Create<float>(x.Slice(i));
                    s1 += Vector256.Create<float>(x.Slice(i + Width));
                    s2 += Vector256.Create<float>(x.Slice(i + 2 * Width));
                    s3 += Vector256.Create<float>(x.Slice(i + 3 * Width));
                }
            }
            else
            {
                var m0 = Vector256.Create<float>(center.AsSpan(c));
                var m1 = Vector256.Create<float>(center.AsSpan(c + Width));
                var m2 = Vector256.Create<float>(center.AsSpan(c + 2 * Width));
                var m3 = Vector256.Create<float>(center.AsSpan(c + 3 * Width));
                for (int i = c; i < x.Length; i += channels)
                {
                    var d0 = Vector256.Create<float>(x.Slice(i)) - m0;
                    var d1 = Vector256.Create<float>(x.Slice(i + Width)) - m1;
                    var d2 = Vector256.Create<float>(x.Slice(i + 2 * Width)) - m2;
                    var d3 = Vector256.Create<float>(x.Slice(i + 3 * Width)) - m3;
                    s0 = d0 * d0 + s0;
                    s1 = d1 * d1 + s1;
                    s2 = d2 * d2 + s2;
                    s3 = d3 * d3 + s3;
                }
            }
            s0.CopyTo(acc.Slice(c));
            s1.CopyTo(acc.Slice(c + Width));
            s2.CopyTo(acc.Slice(c + 2 * Width));
            s3.CopyTo(acc.Slice(c + 3 * Width));
        }
        for (; c < channels; c += Width)
        {
            var sum = Vector256.Create<float>(acc.Slice(c));
            var middle = center is null ? Vector256<float>.Zero : Vector256.Create<float>(center.AsSpan(c));
            for (int i = c; i < x.Length; i += channels)
            {
                var value = Vector256.Create<float>(x.Slice(i));
                if (center is null) sum += value;
                else
                {
                    var d = value - middle;
                    sum = d * d + sum;
                }
            }
            sum.CopyTo(acc.Slice(c));
        }
    }

    /// <summary>xhat[r,c] = (x[r,c] − mean[c]) · invStd[c] (unless <paramref name="xhat"/> is empty); y[r,c] = xhat[r,c] · scale[c] + shift[c].</summary>
    private static void NormalizeRows(ReadOnlySpan<float> x, float[] mean, float[] invStd, float[] scale, float[] shift, Span<float> xhat, Span<float> y)
    {
        int channels = mean.Length;
        bool keep = !xhat.IsEmpty;
        for (int row = 0; row < x.Length; row += channels)
            for (int c = 0; c < channels; c += Vector256<float>.Count)
            {
                int i = row + c;
                var h = (Vector256.Create<float>(x.Slice(i)) - Vector256.Create<float>(mean.AsSpan(c))) * Vector256.Create<float>(invStd.AsSpan(c));
                if (keep) h.CopyTo(xhat.Slice(i));
                (h * Vector256.Create<float>(scale.AsSpan(c)) + Vector256.Create<float>(shift.AsSpan(c))).CopyTo(y.Slice(i));
            }
    }

    /// <summary>sumDy[c] += Σ_r dy[r,c]; sumDyXhat[c] += Σ_r dy[r,c] · xhat[r,c].</summary>
    /// <remarks>Four groups of eight channels at a time, as <see cref="SumRows"/> does, with the same bits as one at a time.</remarks>
    private static void SumGradients(ReadOnlySpan<float> dy, ReadOnlySpan<float> xhat, Span<float> sumDy, Span<float> sumDyXhat)
    {
        const int Width = 8;
        int channels = sumDy.Length, c = 0;
        for (; c + 4 * Width <= channels; c += 4 * Width)
        {
            var a0 = Vector256.Create<float>(sumDy.Slice(c));
            var a1 = Vector256.Create<float>(sumDy.Slice(c + Width));
            var a2 = Vector256.Create<float>(sumDy.Slice(c + 2 * Width));
            var a3 = Vector256.Create<float>(sumDy.Slice(c + 3 * Width));
            var b0 = Vector256.Create<float>(sumDyXhat.Slice(c));
            var b1 = Vector256.Create<float>(sumDyXhat.Slice(c + Width));
            var b2 = Vector256.Create<float>(sumDyXhat.Slice(c + 2 * Width));
            var b3 = Vector256.Create<float>(sumDyXhat.Slice(c + 3 * Width));
            for (int i = c; i < dy.Length; i += channels)
            {
                var g0 = Vector256.Create<float>(dy.Slice(i));
                var g1 = Vector256.Create<float>(dy.Slice(i + Width));
                var g2 = Vector256.Create<float>(dy.Slice(i + 2 * Width));
                var g3 = Vector256.Create<float>(dy.Slice(i + 3 * Width));
                a0 += g0;
                a1 += g1;
                a2 += g2;
                a3 += g3;
                b0 = g0 * Vector256.Create<float>(xhat.Slice(i)) + b0;
                b1 = g1 * Vector256.Create<float>(xhat.Slice(i + Width)) + b1;
                b2 = g2 * Vector256.Create<float>(xhat.Slice(i + 2 * Width)) + b2;
                b3 = g3 * Vector256.Create<float>(xhat.Slice(i + 3 * Width)) + b3;
            }
            a0.CopyTo(sumDy.Slice(c));
            a1.CopyTo(sumDy.Slice(c + Width));
            a2.CopyTo(sumDy.Slice(c + 2 * Width));
            a3.CopyTo(sumDy.Slice(c + 3 * Width));
            b0.CopyTo(sumDyXhat.Slice(c));
            b1.CopyTo(sumDyXhat.Slice(c + Width));
            b2.CopyTo(sumDyXhat.Slice(c + 2 * Width));
            b3.CopyTo(sumDyXhat.Slice(c + 3 * Width));
        }
        for (; c < channels; c += Width)
        {
            var a = Vector256.Create<float>(sumDy.Slice(c));
            var b = Vector256.Create<float>(sumDyXhat.Slice(c));
            for (int i = c; i < dy.Length; i += channels)
            {
                var g = Vector256.Create<float>(dy.Slice(i));
                a += g;
                b = g * Vector256.Create<float>(xhat.Slice(i)) + b;
            }
            a.CopyTo(sumDy.Slice(c));
            b.CopyTo(sumDyXhat.Slice(c));
        }
    }

    /// <summary>dx[r,c] = dy[r,c] · s[c] + offset[c], then dx[r,c] = xhat[r,c] · coefficient[c] + dx[r,c].</summary>
    private static void InputGradientRows(ReadOnlySpan<float> dy, ReadOnlySpan<float> xhat, float[] s, float[] offset, float[] coefficient, Span<float> dx)
    {
        int channels = s.Length;
        for (int row = 0; row < dy.Length; row += channels)
            for (int c = 0; c < channels; c += Vector256<float>.Count)
            {
                int i = row + c;
                var d = Vector256.Create<float>(dy.Slice(i)) * Vector256.Create<float>(s.AsSpan(c)) + Vector256.Create<float>(offset.AsSpan(c));
                (Vector256.Create<float>(xhat.Slice(i)) * Vector256.Create<float>(coefficient.AsSpan(c)) + d).CopyTo(dx.Slice(i));
            }
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
    private readonly struct NormalizeItems(float[] x, int channels, float[] mean, float[] invStd, float[] scale, float[] shift, float[]? xhat, float[] y)
        : IRowRange
    {
        public void Run(int start, int end)
        {
            if (channels % Vector256<float>.Count == 0)
            {
                NormalizeRows(x.AsSpan(start * channels, (end - start) * channels), mean, invStd, scale, shift,
                    xhat is null ? default : xhat.AsSpan(start * channels, (end - start) * channels), y.AsSpan(start * channels, (end - start) * channels));
                return;
            }
            Span<float> scratch = xhat is null ? new float[channels] : default;
            for (int r = start; r < end; r++)
            {
                var h = xhat is null ? scratch : xhat.AsSpan(r * channels, channels);
                TensorPrimitives.Subtract(x.AsSpan(r * channels, channels), mean, h);
                TensorPrimitives.Multiply(h, invStd, h);
                TensorPrimitives.MultiplyAdd(h, scale, shift, y.AsSpan(r * channels, channels));
            }
        }
    }

    /// <summary><see cref="Backward"/>'s sums: chunk k sums Σdy and Σdy·xhat over its rows into its partials.</summary>
    private readonly struct GradientSumItems(float[] dy, float[] xhat, int channels, int rows, float* partialDy, float* partialDyXhat)
        : KernelThreads.IItems
    {
        public void Run(int k)
        {
            var a = new Span<float>(partialDy + (nint)k * channels, channels);
            var b = new Span<float>(partialDyXhat + (nint)k * channels, channels);
            a.Clear();
            b.Clear();
            int end = Math.Min(rows, (k + 1) * RowsPerChunk);
            if (channels % Vector256<float>.Count == 0)
            {
                int first = k * RowsPerChunk * channels, length = (end - k * RowsPerChunk) * channels;
                SumGradients(dy.AsSpan(first, length), xhat.AsSpan(first, length), a, b);
                return;
            }
            for (int r = k * RowsPerChunk; r < end; r++)
            {
                var g = dy.AsSpan(r * channels, channels);
                TensorPrimitives.Add(a, g, a);
                TensorPrimitives.MultiplyAdd(g, xhat.AsSpan(r * channels, channels), b, b);
            }
        }
    }

    /// <summary><see cref="Backward"/>'s input gradient on a range of rows.</summary>
    private readonly struct InputGradientItems(float[] dy, float[] xhat, int channels, float[] s, float[] offset, float[] coefficientXhat, float[] dx)
        : IRowRange
    {
        public void Run(int start, int end)
        {
            if (channels % Vector256<float>.Count == 0)
            {
                int first = start * channels, length = (end - start) * channels;
                InputGradientRows(dy.AsSpan(first, length), xhat.AsSpan(first, length), s, offset, coefficientXhat, dx.AsSpan(first, length));
                return;
            }
            for (int r = start; r < end; r++)
            {
                var d = dx.AsSpan(r * channels, channels);
                TensorPrimitives.MultiplyAdd(dy.AsSpan(r * channels, channels), s, offset, d);
                TensorPrimitives.MultiplyAdd(xhat.AsSpan(r * channels, channels), coefficientXhat, d, d);
            }
        }
    }
}
