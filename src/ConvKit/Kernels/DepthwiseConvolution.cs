using System.Runtime.Intrinsics;

namespace ConvKit.Kernels;

/// <summary>
/// Depthwise convolution (a Conv2D with as many groups as input channels, what Keras's DepthwiseConv2D computes;
/// MobileNet's 3×3 layers), channels-last,
/// with the semantics of <see cref="ConvolutionReference"/>. Each output channel k = c·M + m (M = K / C filters per
/// channel) reads input channel c only, so there is no GEMM to run: out[n,p,q,k] = Σ_{r,s} in[n, h(p,r), w(q,s), k / M]
/// · w[r,s,0,k] is a few multiply-adds per output, vectorised across the channels, which lie side by side. With M &gt; 1
/// the input is first widened to K channels (channel k holding input channel k / M), so every kernel below sees M = 1.
/// </summary>
/// <remarks>
/// Threads take output rows (forward), input rows (input gradient, gathered rather than scattered, so no two threads
/// write one element), or chunks of output rows each summing into its own partial kernel gradient, added in chunk order.
/// Taps that fall in the padding are skipped.
/// </remarks>
internal static unsafe class DepthwiseConvolution
{
    /// <summary>
    /// Whether <paramref name="g"/> is depthwise (one input channel per group, more than one group) with a window of at
    /// most <see cref="MostTaps"/> taps, whose pointers the row kernels keep on the stack.
    /// </summary>
    public static bool Applies(ConvGeometry g) => g.Groups > 1 && g.Groups == g.C && (long)g.R * g.S <= MostTaps;

    /// <summary>Taps (R·S) of the largest window taken here: 16 KB of tap pointers on the stack.</summary>
    private const int MostTaps = 1024;

    /// <summary>out = conv(in, w), then the epilogue on each output row.</summary>
    public static void Forward(
        float* x,       // [N, H, W, C]
        float* w,       // [R, S, 1, K]
        ConvGeometry g,
        float* y,       // [N, P, Q, K]
        OutputEpilogue e)
    {
        float* source = Widened(x, g, out var wide);
        KernelThreads.For(g.N * g.P, new ForwardRows(source, w, wide, y, e));
    }

    /// <summary>dIn[n,h,w,c] = Σ_m Σ over the taps (r, s) whose window covers (h, w) of dOut[n,p,q,c·M + m] · w[r,s,0,c·M + m].</summary>
    public static void BackwardInput(
        float* dy,      // [N, P, Q, K]
        float* w,       // [R, S, 1, K]
        ConvGeometry g,
        float* dx)      // [N, H, W, C], overwritten
    {
        int m = g.K / g.C;
        var wide = Wide(g);
        float* target = m == 1 ? dx : KernelBuffers.Columns(wide.InputSize);
        KernelThreads.For(g.N * g.H, new InputGradientRows(dy, w, wide, target));
        if (m == 1) return;
        // The widened gradient's M channels per input channel, summed in order.
        int pixels = g.N * g.H * g.W;
        KernelThreads.ForRows(pixels, g.K, new NarrowedRows(target, g.C, m, dx));
    }

    /// <summary>dW[r,s,0,k] = Σ_{n,p,q} in[n, h(p,r), w(q,s), k / M] · dOut[n,p,q,k]: one partial per chunk of output rows, added in chunk order.</summary>
    public static void BackwardKernel(
        float* dy,      // [N, P, Q, K]
        float* x,       // [N, H, W, C]
        ConvGeometry g,
        float* dw)      // [R, S, 1, K], overwritten
    {
        float* source = Widened(x, g, out var wide);
        int size = g.R * g.S * g.K, rows = g.N * g.P;
        int chunks = Math.Max(1, Math.Min(KernelThreads.Available, rows));
        float* partials = KernelBuffers.Partials(chunks * size);
        KernelThreads.For(chunks, new KernelGradientChunks(source, dy, wide, partials, size, rows, chunks));
        new ReadOnlySpan<float>(partials, size).CopyTo(new Span<float>(dw, size));
        for (int chunk = 1; chunk < chunks; chunk++)
            System.Numerics.Tensors.TensorPrimitives.Add(new ReadOnlySpan<float>(dw, size), new ReadOnlySpan<float>(partials + (nint)chunk * size, size), new Span<float>(dw, size));
    }

    /// <summary>The same convolution with M = 1: K input channels, one per group.</summary>
    private static ConvGeometry Wide(ConvGeometry g) => g.K == g.C ? g : g with { C = g.K, Groups = g.K };

    /// <summary>The input as <see cref="Wide"/> reads it: itself when M = 1, else a widened copy.</summary>
    private static float* Widened(float* x, ConvGeometry g, out ConvGeometry wide)
    {
        int m = g.K / g.C;
        wide = Wide(g);
        if (m == 1) return x;
        float* widened = KernelBuffers.PaddedInput(checked(g.N * g.H * g.W * g.K));
        KernelThreads.ForRows(g.N * g.H * g.W, g.K, new WidenedRows(x, g.C, m, widened));
        return widened;
    }

    /// <summary>The taps of kernel row or column positions that land inside [0, extent) for output position <paramref name="o"/>.</summary>
    private static (int First, int End) Taps(int o, int stride, int pad, int dilation, int taps, int extent)
    {
        int origin = o * stride - pad, first = 0, end = taps;
        while (first < end && origin + first * dilation < 0) first++;
        while (end > first && origin + (end - 1) * dilation >= extent) end--;
        return (first, end);
    }

    /// <summary>One output row (n, p) of the M = 1 convolution <paramref name="g"/> (C = K).</summary>
    private static void ForwardRow(float* x, float* w, ConvGeometry g, int n, int p, float* yRow)
    {
        int channels = g.K, width = g.W, columns = g.S, strideW = g.StrideW, padLeft = g.PadLeft, dilationW = g.DilationW;
        var (r0, r1) = Taps(p, g.StrideH, g.PadTop, g.DilationH, g.R, g.H);
        float** rows = stackalloc float*[g.R];
        for (int r = r0; r < r1; r++) rows[r] = x + ((nint)(n * g.H + p * g.StrideH - g.PadTop + r * g.DilationH) * width) * channels;
        int most = (r1 - r0) * columns;
        float** inputs = stackalloc float*[Math.Max(1, most)];
        float** weights = stackalloc float*[Math.Max(1, most)];
        for (int q = 0; q < g.Q;)
        {
            // The taps inside the image, as (input pixel, kernel tap) pointers, row by row.
            var (s0, s1) = Taps(q, strideW, padLeft, dilationW, columns, width);
            int taps = 0;
            for (int r = r0; r < r1; r++)
                for (int s = s0; s < s1; s++, taps++)
                {
                    inputs[taps] = rows[r] + (nint)(q * strideW - padLeft + s * dilationW) * channels;
                    weights[taps] = w + ((nint)r * columns + s) * channels;
                }
            // Four pixels at once where all four have every tap inside the row: each weight loaded serves four.
            if (s1 - s0 == columns && q + 3 < g.Q && Taps(q + 3, strideW, padLeft, dilationW, columns, width) == (s0, s1))
            {
                SumFour(inputs, weights, taps, channels, (nint)strideW * channels, yRow + (nint)q * channels);
                q += 4;
            }
            else Sum(inputs, weights, taps, channels, yRow + (nint)q++ * channels);
        }
    }

    /// <summary>
    /// <see cref="Sum"/> for four pixels <paramref name="step"/> floats apart in the input and <paramref name="channels"/>
    /// apart in the target, against the same weights: target[j·channels + c] = Σ_t a[t][j·step + c] · b[t][c], in t order
    /// as <see cref="Sum"/> adds them, so the two give the same bits.
    /// </summary>
    private static void SumFour(float** a, float** b, int terms, int channels, nint step, float* target)
    {
        const int V = 8;    // Vector256<float>.Count
        int c = 0;
        for (; c <= channels - 2 * V; c += 2 * V)
        {
            Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
            for (int t = 0; t < terms; t++)
            {
                float* at = a[t] + c;
                var w0 = Vector256.Load(b[t] + c);
                var w1 = Vector256.Load(b[t] + c + V);
                s0 = Vector256.FusedMultiplyAdd(Vector256.Load(at), w0, s0);
                s1 = Vector256.FusedMultiplyAdd(Vector256.Load(at + V), w1, s1);
                s2 = Vector256.FusedMultiplyAdd(Vector256.Load(at + step), w0, s2);
                s3 = Vector256.FusedMultiplyAdd(Vector256.Load(at + step + V), w1, s3);
                s4 = Vector256.FusedMultiplyAdd(Vector256.Load(at + 2 * step), w0, s4);
                s5 = Vector256.FusedMultiplyAdd(Vector256.Load(at + 2 * step + V), w1, s5);
                s6 = Vector256.FusedMultiplyAdd(Vector256.Load(at + 3 * step), w0, s6);
                s7 = Vector256.FusedMultiplyAdd(Vector256.Load(at + 3 * step + V), w1, s7);
            }
            s0.Store(target + c);
            s1.Store(target + c + V);
            s2.Store(target + channels + c);
            s3.Store(target + channels + c + V);
            s4.Store(target + 2 * channels + c);
            s5.Store(target + 2 * channels + c + V);
            s6.Store(target + 3 * channels + c);
            s7.Store(target + 3 * channels + c + V);
        }
        if (c == channels) return;
        // The last channels, one pixel at a time.
        float** shifted = stackalloc float*[terms];
        float** weights = stackalloc float*[terms];
        for (int t = 0; t < terms; t++) weights[t] = b[t] + c;
        for (int j = 0; j < 4; j++)
        {
            for (int t = 0; t < terms; t++) shifted[t] = a[t] + j * step + c;
            Sum(shifted, weights, terms, channels - c, target + j * channels + c);
        }
    }

    /// <summary>
    /// target[c] = Σ_t a[t][c] · b[t][c] for c &lt; <paramref name="channels"/>, the terms in t order: four vectors of
    /// channels at a time, then one, then one channel.
    /// </summary>
    private static void Sum(float** a, float** b, int terms, int channels, float* target)
    {
        const int V = 8;    // Vector256<float>.Count
        int c = 0;
        for (; c <= channels - 4 * V; c += 4 * V)
        {
            Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
            for (int t = 0; t < terms; t++)
            {
                float* at = a[t] + c, bt = b[t] + c;
                s0 = Vector256.FusedMultiplyAdd(Vector256.Load(at), Vector256.Load(bt), s0);
                s1 = Vector256.FusedMultiplyAdd(Vector256.Load(at + V), Vector256.Load(bt + V), s1);
                s2 = Vector256.FusedMultiplyAdd(Vector256.Load(at + 2 * V), Vector256.Load(bt + 2 * V), s2);
                s3 = Vector256.FusedMultiplyAdd(Vector256.Load(at + 3 * V), Vector256.Load(bt + 3 * V), s3);
            }
            s0.Store(target + c);
            s1.Store(target + c + V);
            s2.Store(target + c + 2 * V);
            s3.Store(target + c + 3 * V);
        }
        for (; c <= channels - V; c += V)
        {
            Vector256<float> sum = default;
            for (int t = 0; t < terms; t++) sum = Vector256.FusedMultiplyAdd(Vector256.Load(a[t] + c), Vector256.Load(b[t] + c), sum);
            sum.Store(target + c);
        }
        for (; c < channels; c++)
        {
            float sum = 0;
            for (int t = 0; t < terms; t++) sum = MathF.FusedMultiplyAdd(a[t][c], b[t][c], sum);
            target[c] = sum;
        }
    }

    /// <summary>
    /// The output positions o whose window tap t lands on input position i: o·stride − pad + t·dilation = i, for each tap
    /// t, where that o is a whole number in [0, outputs). Returns how many, writing (t, o) pairs.
    /// </summary>
    private static int Covering(int i, int stride, int pad, int dilation, int taps, int outputs, int* tap, int* output)
    {
        int count = 0;
        for (int t = 0; t < taps; t++)
        {
            int offset = i + pad - t * dilation;
            if (offset < 0 || offset % stride != 0 || offset / stride >= outputs) continue;
            tap[count] = t;
            output[count++] = offset / stride;
        }
        return count;
    }

    /// <summary>One input row (n, h) of the M = 1 convolution's input gradient, gathered from the output gradient.</summary>
    private static void InputGradientRow(float* dy, float* w, ConvGeometry g, int n, int h, float* dxRow)
    {
        int channels = g.K, columns = g.S;
        int* rowTaps = stackalloc int[g.R], rowOutputs = stackalloc int[g.R];
        int* columnTaps = stackalloc int[columns], columnOutputs = stackalloc int[columns];
        int rows = Covering(h, g.StrideH, g.PadTop, g.DilationH, g.R, g.P, rowTaps, rowOutputs);
        float** gradients = stackalloc float*[Math.Max(1, rows * columns)];
        float** weights = stackalloc float*[Math.Max(1, rows * columns)];
        for (int column = 0; column < g.W; column++)
        {
            int covering = Covering(column, g.StrideW, g.PadLeft, g.DilationW, columns, g.Q, columnTaps, columnOutputs), terms = 0;
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < covering; j++, terms++)
                {
                    gradients[terms] = dy + ((nint)(n * g.P + rowOutputs[i]) * g.Q + columnOutputs[j]) * channels;
                    weights[terms] = w + ((nint)rowTaps[i] * columns + columnTaps[j]) * channels;
                }
            Sum(gradients, weights, terms, channels, dxRow + (nint)column * channels);
        }
    }

    /// <summary>Adds output row (n, p)'s terms of the M = 1 convolution's kernel gradient into <paramref name="partial"/> [R, S, K].</summary>
    private static void KernelGradientRow(float* x, float* dyRow, ConvGeometry g, int n, int p, float* partial)
    {
        int channels = g.K, width = g.W, columns = g.S, strideW = g.StrideW, padLeft = g.PadLeft, dilationW = g.DilationW;
        var (r0, r1) = Taps(p, g.StrideH, g.PadTop, g.DilationH, g.R, g.H);
        for (int q = 0; q < g.Q; q++)
        {
            var (s0, s1) = Taps(q, strideW, padLeft, dilationW, columns, width);
            float* gradient = dyRow + (nint)q * channels;
            for (int r = r0; r < r1; r++)
            {
                float* row = x + ((nint)(n * g.H + p * g.StrideH - g.PadTop + r * g.DilationH) * width) * channels;
                for (int s = s0; s < s1; s++)
                {
                    float* pixel = row + (nint)(q * strideW - padLeft + s * dilationW) * channels;
                    float* sums = partial + ((nint)r * columns + s) * channels;
                    int c = 0;
                    for (; c <= channels - Vector256<float>.Count; c += Vector256<float>.Count)
                        Vector256.FusedMultiplyAdd(Vector256.Load(pixel + c), Vector256.Load(gradient + c), Vector256.Load(sums + c)).Store(sums + c);
                    for (; c < channels; c++) sums[c] = MathF.FusedMultiplyAdd(pixel[c], gradient[c], sums[c]);
                }
            }
        }
    }

    // The parallel loops' items, as structs where a lambda would allocate its captures at every call (KernelThreads.For<TItems>).

    /// <summary><see cref="Forward"/>: one output row of the M = 1 convolution <paramref name="g"/>, then the epilogue on it.</summary>
    private readonly struct ForwardRows(float* x, float* w, ConvGeometry g, float* y, OutputEpilogue e) : KernelThreads.IItems
    {
        public void Run(int outputRow)
        {
            float* yRow = y + (nint)outputRow * g.Q * g.K;
            ForwardRow(x, w, g, outputRow / g.P, outputRow % g.P, yRow);
            e.ApplyHere(yRow, g.Q, g.K);
        }
    }

    /// <summary><see cref="BackwardInput"/>: one input row of the M = 1 convolution <paramref name="g"/>.</summary>
    private readonly struct InputGradientRows(float* dy, float* w, ConvGeometry g, float* dx) : KernelThreads.IItems
    {
        public void Run(int inputRow) => InputGradientRow(dy, w, g, inputRow / g.H, inputRow % g.H, dx + (nint)inputRow * g.W * g.K);
    }

    /// <summary>dx[pixel, c] = Σ_i widened[pixel, c·M + i], in order, for a range of pixels.</summary>
    private readonly struct NarrowedRows(float* widened, int c, int m, float* dx) : KernelThreads.IRows
    {
        public void Run(int part, int first, int last)
        {
            for (int pixel = first; pixel < last; pixel++)
                for (int channel = 0; channel < c; channel++)
                {
                    float* group = widened + (nint)pixel * c * m + channel * m;
                    float sum = group[0];
                    for (int i = 1; i < m; i++) sum += group[i];
                    dx[(nint)pixel * c + channel] = sum;
                }
        }
    }

    /// <summary><see cref="BackwardKernel"/>: chunk i sums its range of output rows into partial i.</summary>
    private readonly struct KernelGradientChunks(float* x, float* dy, ConvGeometry g, float* partials, int size, int rows, int chunks)
        : KernelThreads.IItems
    {
        public void Run(int chunk)
        {
            float* partial = partials + (nint)chunk * size;
            new Span<float>(partial, size).Clear();
            var (first, last) = KernelThreads.Range(rows, chunks, chunk);
            for (int row = first; row < last; row++)
                KernelGradientRow(x, dy + (nint)row * g.Q * g.K, g, row / g.P, row % g.P, partial);
        }
    }

    /// <summary>widened[pixel, k] = x[pixel, k / M] for a range of pixels.</summary>
    private readonly struct WidenedRows(float* x, int c, int m, float* widened) : KernelThreads.IRows
    {
        public void Run(int part, int first, int last)
        {
            int k = c * m;
            for (int pixel = first; pixel < last; pixel++)
                for (int j = 0; j < k; j++) widened[(nint)pixel * k + j] = x[(nint)pixel * c + j / m];
        }
    }
}
