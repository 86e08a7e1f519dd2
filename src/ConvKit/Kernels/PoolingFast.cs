using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ConvKit.Kernels;

// N batch, H/W height/width, C channels, R/S window h/w, P/Q output h/w.

/// <summary>
/// Fast max and average pooling, channels-last, with the semantics of <see cref="PoolingReference"/>:
/// vectorised over channels (8 at a time, scalar tail), threaded over output rows when the work is large.
/// Each window visits its cells in the reference's row-major order, so forward results and the max-pool
/// routing (the first maximum wins ties) are bit-for-bit the reference's.
/// </summary>
/// <remarks>
/// Backward passes scatter into the input gradient. When windows of neighbouring output rows overlap
/// ((R − 1)·dh ≥ sh), rows are grouped into tiles that run in two phases, even tiles then odd tiles, so no
/// two threads add to one cell at once; a cell fed by three or more windows across a tile boundary may then
/// round differently from the reference, but the same for every run.
/// </remarks>
internal static unsafe class PoolingFast
{
    /// <summary>Below this many output values a pooling kernel runs on one thread.</summary>
    private const int ParallelThreshold = 1 << 15;

    /// <summary>out[n,p,q,c] = max over the window of in[n, p·sh − padTop + r·dh, q·sw − padLeft + s·dw, c].</summary>
    public static void MaxForward(
        ReadOnlySpan<float> input,  // [N, H, W, C]
        PoolGeometry g,
        Span<float> output)         // [N, P, Q, C]
    {
        CheckLengths(g, input.Length, output.Length);
        nint rowStride = (nint)g.DilationH * g.W * g.C, cellStride = (nint)g.DilationW * g.C;
        fixed (float* px = input, py = output)
        {
            float* x = px, y = py;
            ForRows(g, new MaxForwardRows(x, y, g, rowStride, cellStride));
        }
    }

    /// <summary><see cref="MaxForward"/>: output row p of image n.</summary>
    private readonly struct MaxForwardRows(float* x, float* y, PoolGeometry g, nint rowStride, nint cellStride) : IRowWork
    {
        public void Run(int n, int p)
        {
            var (rLo, rHi) = Valid(p * g.StrideH - g.PadTop, g.DilationH, g.R, g.H);
            for (int q = 0; q < g.Q; q++)
            {
                int w0 = q * g.StrideW - g.PadLeft;
                var (sLo, sHi) = Valid(w0, g.DilationW, g.S, g.W);
                float* o = y + ((nint)(n * g.P + p) * g.Q + q) * g.C;
                float* corner = x + ((nint)(n * g.H + p * g.StrideH - g.PadTop + rLo * g.DilationH) * g.W + w0 + sLo * g.DilationW) * g.C;
                int c = 0;
                // Four vectors of channels per pass over the window where they fit: the window's loop runs a quarter
                // as often. Each vector is what the one-vector loop below computes.
                for (; c <= g.C - 32; c += 32)
                {
                    var best0 = OrderedBits(Vector256.Create(float.NegativeInfinity));
                    Vector256<int> best1 = best0, best2 = best0, best3 = best0, ordered = Vector256<int>.AllBitsSet;
                    for (float* row = corner + c, rowEnd = row + (rHi - rLo) * rowStride; row < rowEnd; row += rowStride)
                        for (float* cell = row, cellEnd = row + (sHi - sLo) * cellStride; cell < cellEnd; cell += cellStride)
                        {
                            Vector256<float> v0 = Vector256.Load(cell), v1 = Vector256.Load(cell + 8), v2 = Vector256.Load(cell + 16), v3 = Vector256.Load(cell + 24);
                            best0 = Vector256.Max(best0, OrderedBits(v0));
                            best1 = Vector256.Max(best1, OrderedBits(v1));
                            best2 = Vector256.Max(best2, OrderedBits(v2));
                            best3 = Vector256.Max(best3, OrderedBits(v3));
                            ordered &= (Vector256.Equals(v0, v0) & Vector256.Equals(v1, v1) & Vector256.Equals(v2, v2) & Vector256.Equals(v3, v3)).AsInt32();
                        }
                    if (ordered == Vector256<int>.AllBitsSet)
                    {
                        OrderedBits(best0.AsSingle()).AsSingle().Store(o + c);
                        OrderedBits(best1.AsSingle()).AsSingle().Store(o + c + 8);
                        OrderedBits(best2.AsSingle()).AsSingle().Store(o + c + 16);
                        OrderedBits(best3.AsSingle()).AsSingle().Store(o + c + 24);
                        continue;
                    }
                    for (int part = c; part < c + 32; part += 8)
                    {
                        var ieee = Vector256.Create(float.NegativeInfinity);
                        for (float* row = corner + part, rowEnd = row + (rHi - rLo) * rowStride; row < rowEnd; row += rowStride)
                            for (float* cell = row, cellEnd = row + (sHi - sLo) * cellStride; cell < cellEnd; cell += cellStride)
                                ieee = Vector256.Max(ieee, Vector256.Load(cell));
                        ieee.Store(o + part);
                    }
                }
                for (; c <= g.C - 8; c += 8)
                {
                    // The running maxima as integers that order like the floats (OrderedBits), one single-cycle
                    // integer max per cell where the IEEE maximum is three dependent instructions on AVX-512 and a
                    // compare-and-blend on AVX2 (3×3 windows ran 3× as fast). A NaN has no place in that order, so a
                    // window holding one is done again with the IEEE maximum, which returns the first NaN as the
                    // reference does.
                    var best = OrderedBits(Vector256.Create(float.NegativeInfinity));
                    var ordered = Vector256<int>.AllBitsSet;
                    for (float* row = corner + c, rowEnd = row + (rHi - rLo) * rowStride; row < rowEnd; row += rowStride)
                        for (float* cell = row, cellEnd = row + (sHi - sLo) * cellStride; cell < cellEnd; cell += cellStride)
                        {
                            var v = Vector256.Load(cell);
                            best = Vector256.Max(best, OrderedBits(v));
                            ordered &= Vector256.Equals(v, v).AsInt32();
                        }
                    if (ordered == Vector256<int>.AllBitsSet)
                    {
                        OrderedBits(best.AsSingle()).AsSingle().Store(o + c);
                        continue;
                    }
                    var ieee = Vector256.Create(float.NegativeInfinity);
                    for (float* row = corner + c, rowEnd = row + (rHi - rLo) * rowStride; row < rowEnd; row += rowStride)
                        for (float* cell = row, cellEnd = row + (sHi - sLo) * cellStride; cell < cellEnd; cell += cellStride)
                            ieee = Vector256.Max(ieee, Vector256.Load(cell));
                    ieee.Store(o + c);
                }
                for (; c < g.C; c++)
                {
                    float best = float.NegativeInfinity;
                    for (float* row = corner + c, rowEnd = row + (rHi - rLo) * rowStride; row < rowEnd; row += rowStride)
                        for (float* cell = row, cellEnd = row + (sHi - sLo) * cellStride; cell < cellEnd; cell += cellStride)
                            best = Math.Max(best, *cell);
                    o[c] = best;
                }
            }
        }
    }

    /// <summary>
    /// A float's bits as an integer in the floats' order: negative floats have their magnitude bits flipped, so larger
    /// integers are larger floats and −0 (−1) comes just below +0 (0), as in the IEEE maximum. Its own inverse.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> OrderedBits(Vector256<float> values)
    {
        var bits = values.AsInt32();
        return bits ^ ((bits >> 31) & Vector256.Create(int.MaxValue));
    }

    /// <summary>dIn gets dOut[n,p,q,c] at the first maximum of each window (ties: the first in row-major order).</summary>
    public static void MaxBackward(
        ReadOnlySpan<float> gradOutput, // [N, P, Q, C]
        ReadOnlySpan<float> input,      // [N, H, W, C]
        PoolGeometry g,
        Span<float> gradInput)          // [N, H, W, C], overwritten
    {
        CheckLengths(g, input.Length, gradOutput.Length);
        if (gradInput.Length < g.InputSize) throw new ArgumentException($"Pooling {g} needs {g.InputSize} input gradients; received {gradInput.Length}.");
        // Windows that do not overlap (2×2 stride 2) own their cells: each window writes all of them (dOut at the winner,
        // zero elsewhere) with vector stores, where overlapping windows add their dOut to a cleared gradient one lane
        // at a time. Only cells no window covers (the last row and column of an odd map) need the clearing pass then, and
        // windows that tile the input leave none.
        bool disjoint = (g.R - 1) * g.DilationH < g.StrideH && (g.S - 1) * g.DilationW < g.StrideW;
        bool tiling = disjoint && g.StrideH == g.R && g.StrideW == g.S && g.DilationH == 1 && g.DilationW == 1 && g.PadTop == 0 && g.PadLeft == 0
            && g.P * g.R == g.H && g.Q * g.S == g.W;
        if (!tiling) KernelThreads.Clear(gradInput.Slice(0, g.InputSize));
        fixed (float* px = input, pdy = gradOutput, pdx = gradInput)
        {
            float* x = px, dy = pdy, dx = pdx;
            ScatterRows(g, new MaxBackwardRows(x, dy, dx, g, disjoint));
        }
    }

    /// <summary><see cref="MaxBackward"/>: the windows of output row p of image n.</summary>
    private readonly struct MaxBackwardRows(float* x, float* dy, float* dx, PoolGeometry g, bool disjoint) : IRowWork
    {
        public void Run(int n, int p)
        {
            var (rLo, rHi) = Valid(p * g.StrideH - g.PadTop, g.DilationH, g.R, g.H);
            if (rLo >= rHi) return;
            int* cells = stackalloc int[g.R * g.S];
            for (int q = 0; q < g.Q; q++)
            {
                int w0 = q * g.StrideW - g.PadLeft;
                var (sLo, sHi) = Valid(w0, g.DilationW, g.S, g.W);
                if (sLo >= sHi) continue;
                // Offsets of the window's cells inside the input, in row-major order.
                int count = 0;
                for (int r = rLo; r < rHi; r++)
                    for (int s = sLo; s < sHi; s++)
                        cells[count++] = ((n * g.H + p * g.StrideH - g.PadTop + r * g.DilationH) * g.W + w0 + s * g.DilationW) * g.C;
                float* d = dy + ((nint)(n * g.P + p) * g.Q + q) * g.C;
                int c = 0;
                for (; c <= g.C - 8; c += 8)
                {
                    var best = Vector256.Load(x + cells[0] + c);
                    var winner = Vector256<int>.Zero;
                    for (int i = 1; i < count; i++)
                    {
                        var value = Vector256.Load(x + cells[i] + c);
                        var greater = Vector256.GreaterThan(value, best);
                        best = Vector256.ConditionalSelect(greater, value, best);
                        winner = Vector256.ConditionalSelect(greater.AsInt32(), Vector256.Create(i), winner);
                    }
                    if (disjoint)
                    {
                        var gradient = Vector256.Load(d + c);
                        for (int i = 0; i < count; i++)
                            Vector256.Store(Vector256.ConditionalSelect(Vector256.Equals(winner, Vector256.Create(i)).AsSingle(), gradient, Vector256<float>.Zero), dx + cells[i] + c);
                    }
                    else for (int lane = 0; lane < 8; lane++) dx[cells[winner.GetElement(lane)] + c + lane] += d[c + lane];
                }
                for (; c < g.C; c++)
                {
                    int winner = 0;
                    float best = x[cells[0] + c];
                    for (int i = 1; i < count; i++)
                        if (x[cells[i] + c] > best) { best = x[cells[i] + c]; winner = i; }
                    if (disjoint)
                        for (int i = 0; i < count; i++) dx[cells[i] + c] = i == winner ? d[c] : 0f;
                    else dx[cells[winner] + c] += d[c];
                }
            }
        }
    }

    /// <summary>out[n,p,q,c] = (Σ over the window's cells inside the input) / divisor.</summary>
    public static void AverageForward(
        ReadOnlySpan<float> input,  // [N, H, W, C]
        PoolGeometry g,
        Span<float> output)         // [N, P, Q, C]
    {
        CheckLengths(g, input.Length, output.Length);
        nint rowStride = (nint)g.DilationH * g.W * g.C, cellStride = (nint)g.DilationW * g.C;
        fixed (float* px = input, py = output)
        {
            float* x = px, y = py;
            ForRows(g, new AverageForwardRows(x, y, g, rowStride, cellStride));
        }
    }

    /// <summary><see cref="AverageForward"/>: output row p of image n.</summary>
    private readonly struct AverageForwardRows(float* x, float* y, PoolGeometry g, nint rowStride, nint cellStride) : IRowWork
    {
        public void Run(int n, int p)
        {
            var (rLo, rHi) = Valid(p * g.StrideH - g.PadTop, g.DilationH, g.R, g.H);
            for (int q = 0; q < g.Q; q++)
            {
                int w0 = q * g.StrideW - g.PadLeft;
                var (sLo, sHi) = Valid(w0, g.DilationW, g.S, g.W);
                int count = Math.Max(0, rHi - rLo) * Math.Max(0, sHi - sLo);
                float* o = y + ((nint)(n * g.P + p) * g.Q + q) * g.C;
                if (count == 0) { new Span<float>(o, g.C).Clear(); continue; }
                float divisor = Divisor(g, p, q, count);
                float* corner = x + ((nint)(n * g.H + p * g.StrideH - g.PadTop + rLo * g.DilationH) * g.W + w0 + sLo * g.DilationW) * g.C;
                int c = 0;
                for (; c <= g.C - 8; c += 8)
                {
                    var sum = Vector256<float>.Zero;
                    for (float* row = corner + c, rowEnd = row + (rHi - rLo) * rowStride; row < rowEnd; row += rowStride)
                        for (float* cell = row, cellEnd = row + (sHi - sLo) * cellStride; cell < cellEnd; cell += cellStride)
                            sum += Vector256.Load(cell);
                    (sum / divisor).Store(o + c);
                }
                for (; c < g.C; c++)
                {
                    float sum = 0;
                    for (float* row = corner + c, rowEnd = row + (rHi - rLo) * rowStride; row < rowEnd; row += rowStride)
                        for (float* cell = row, cellEnd = row + (sHi - sLo) * cellStride; cell < cellEnd; cell += cellStride)
                            sum += *cell;
                    o[c] = sum / divisor;
                }
            }
        }
    }

    /// <summary>dIn[cell] += dOut[n,p,q,c] / divisor for every cell of every window.</summary>
    public static void AverageBackward(
        ReadOnlySpan<float> gradOutput, // [N, P, Q, C]
        PoolGeometry g,
        Span<float> gradInput)          // [N, H, W, C], overwritten
    {
        CheckLengths(g, gradInput.Length, gradOutput.Length);
        KernelThreads.Clear(gradInput.Slice(0, g.InputSize));
        fixed (float* pdy = gradOutput, pdx = gradInput)
        {
            float* dy = pdy, dx = pdx;
            ScatterRows(g, new AverageBackwardRows(dy, dx, g));
        }
    }

    /// <summary><see cref="AverageBackward"/>: the windows of output row p of image n.</summary>
    private readonly struct AverageBackwardRows(float* dy, float* dx, PoolGeometry g) : IRowWork
    {
        public void Run(int n, int p)
        {
            var (rLo, rHi) = Valid(p * g.StrideH - g.PadTop, g.DilationH, g.R, g.H);
            for (int q = 0; q < g.Q; q++)
            {
                int w0 = q * g.StrideW - g.PadLeft;
                var (sLo, sHi) = Valid(w0, g.DilationW, g.S, g.W);
                int count = Math.Max(0, rHi - rLo) * Math.Max(0, sHi - sLo);
                if (count == 0) continue;
                float divisor = Divisor(g, p, q, count);
                float* d = dy + ((nint)(n * g.P + p) * g.Q + q) * g.C;
                for (int r = rLo; r < rHi; r++)
                {
                    float* row = dx + ((nint)(n * g.H + p * g.StrideH - g.PadTop + r * g.DilationH) * g.W + w0) * g.C;
                    for (int s = sLo; s < sHi; s++)
                    {
                        float* cell = row + (nint)s * g.DilationW * g.C;
                        int c = 0;
                        for (; c <= g.C - 8; c += 8) (Vector256.Load(cell + c) + Vector256.Load(d + c) / divisor).Store(cell + c);
                        for (; c < g.C; c++) cell[c] += d[c] / divisor;
                    }
                }
            }
        }
    }

    /// <summary>out[n,c] = max over the hw cells of in[n,·,c].</summary>
    public static void GlobalMaxForward(
        ReadOnlySpan<float> input,  // [N, HW, C]
        int n, int hw, int c,
        Span<float> output)         // [N, C]
    {
        if (input.Length < (long)n * hw * c || output.Length < (long)n * c)
            throw new ArgumentException($"Global pooling of ({n}, {hw}, {c}) needs {(long)n * hw * c} inputs and {(long)n * c} outputs; received {input.Length} and {output.Length}.");
        fixed (float* px = input, py = output)
        {
            float* x = px, y = py;
            ForImages(n, (long)n * hw * c, new GlobalMaxImages(x, y, hw, c));
        }
    }

    /// <summary><see cref="GlobalMaxForward"/>: image b.</summary>
    private readonly struct GlobalMaxImages(float* x, float* y, int hw, int c) : KernelThreads.IItems
    {
        public void Run(int b)
        {
            {
                float* o = y + (nint)b * c;
                new Span<float>(o, c).Fill(float.NegativeInfinity);
                for (int i = 0; i < hw; i++)
                {
                    float* cell = x + ((nint)b * hw + i) * c;
                    int j = 0;
                    for (; j <= c - 8; j += 8) Vector256.Max(Vector256.Load(o + j), Vector256.Load(cell + j)).Store(o + j);
                    for (; j < c; j++) o[j] = Math.Max(o[j], cell[j]);
                }
            }
        }
    }

    /// <summary>out[n,c] = (Σ over the hw cells of in[n,·,c]) / hw.</summary>
    public static void GlobalAverageForward(
        ReadOnlySpan<float> input,  // [N, HW, C]
        int n, int hw, int c,
        Span<float> output)         // [N, C]
    {
        if (input.Length < (long)n * hw * c || output.Length < (long)n * c)
            throw new ArgumentException($"Global pooling of ({n}, {hw}, {c}) needs {(long)n * hw * c} inputs and {(long)n * c} outputs; received {input.Length} and {output.Length}.");
        fixed (float* px = input, py = output)
        {
            float* x = px, y = py;
            ForImages(n, (long)n * hw * c, new GlobalAverageImages(x, y, hw, c));
        }
    }

    /// <summary><see cref="GlobalAverageForward"/>: image b.</summary>
    private readonly struct GlobalAverageImages(float* x, float* y, int hw, int c) : KernelThreads.IItems
    {
        public void Run(int b)
        {
            {
                float* o = y + (nint)b * c;
                new Span<float>(o, c).Clear();
                for (int i = 0; i < hw; i++)
                {
                    float* cell = x + ((nint)b * hw + i) * c;
                    int j = 0;
                    for (; j <= c - 8; j += 8) (Vector256.Load(o + j) + Vector256.Load(cell + j)).Store(o + j);
                    for (; j < c; j++) o[j] += cell[j];
                }
                for (int j = 0; j < c; j++) o[j] /= hw;
            }
        }
    }

    /// <summary>Window positions k in [lo, hi) whose cell <c>start + k·dilation</c> lies in [0, length).</summary>
    private static (int Lo, int Hi) Valid(int start, int dilation, int window, int length)
    {
        int lo = start >= 0 ? 0 : (-start + dilation - 1) / dilation;
        int hi = start > length - 1 ? 0 : Math.Min(window, (length - 1 - start) / dilation + 1);
        return (lo, Math.Max(lo, hi));
    }

    /// <summary>The reference's divisor: the cells inside the input, or with <c>CountIncludePad</c> those inside the padded input.</summary>
    private static float Divisor(PoolGeometry g, int p, int q, int count)
    {
        if (!g.CountIncludePad) return count;
        int h0 = p * g.StrideH - g.PadTop, w0 = q * g.StrideW - g.PadLeft;
        int rows = 0, cols = 0;
        for (int r = 0; r < g.R; r++) if (h0 + r * g.DilationH < g.H + g.PadBottom) rows++;
        for (int s = 0; s < g.S; s++) if (w0 + s * g.DilationW < g.W + g.PadRight) cols++;
        return rows * cols;
    }

    /// <summary>Runs body.Run(b) for every image b &lt; n, in parallel over images when the input is large.</summary>
    private static void ForImages<TImages>(int n, long work, in TImages body) where TImages : struct, KernelThreads.IItems
    {
        if (work < 4 * ParallelThreshold) { for (int b = 0; b < n; b++) body.Run(b); return; }
        KernelThreads.For(n, in body);
    }

    /// <summary>The work on one output row (n, p) of a pooling kernel, as a struct so that a call allocates nothing.</summary>
    private interface IRowWork
    {
        void Run(int n, int p);
    }

    /// <summary>Runs body.Run(n, p) for every output row, in parallel when the output is large.</summary>
    private static void ForRows<TRows>(PoolGeometry g, in TRows body) where TRows : struct, IRowWork
    {
        int rows = g.N * g.P;
        if (g.OutputSize < ParallelThreshold) { for (int i = 0; i < rows; i++) body.Run(i / g.P, i % g.P); return; }
        KernelThreads.For(rows, new Rows<TRows>(body, g.P));
    }

    /// <summary>
    /// Runs body.Run(n, p) for every output row of a scatter: rows whose windows overlap are grouped into tiles of
    /// at least ⌈(R−1)·dh / sh⌉ rows; even tiles run before odd tiles.
    /// </summary>
    private static void ScatterRows<TRows>(PoolGeometry g, in TRows body) where TRows : struct, IRowWork
    {
        if (g.OutputSize < ParallelThreshold || g.P == 0)
        {
            for (int n = 0; n < g.N; n++)
                for (int p = 0; p < g.P; p++) body.Run(n, p);
            return;
        }
        int reach = (g.R - 1) * g.DilationH;
        if (reach < g.StrideH) { KernelThreads.For(g.N * g.P, new Rows<TRows>(body, g.P)); return; }
        int rowsPerTile = Math.Max((reach + g.StrideH - 1) / g.StrideH, (g.P + 4 * KernelThreads.Count - 1) / (4 * KernelThreads.Count));
        int tilesPerImage = (g.P + rowsPerTile - 1) / rowsPerTile;
        for (int parity = 0; parity < 2; parity++)
        {
            int perImage = parity == 0 ? (tilesPerImage + 1) / 2 : tilesPerImage / 2;
            KernelThreads.For(g.N * perImage, new RowTiles<TRows>(body, g.P, rowsPerTile, perImage, parity));
        }
    }

    /// <summary>Output row i as row i % P of image i / P.</summary>
    private readonly struct Rows<TRows>(TRows body, int p) : KernelThreads.IItems where TRows : struct, IRowWork
    {
        public void Run(int i) => body.Run(i / p, i % p);
    }

    /// <summary>Task t as the rows of every other tile of image t / perImage, from tile <paramref name="parity"/> on.</summary>
    private readonly struct RowTiles<TRows>(TRows body, int p, int rowsPerTile, int perImage, int parity)
        : KernelThreads.IItems where TRows : struct, IRowWork
    {
        public void Run(int task)
        {
            int n = task / perImage, p0 = (task % perImage * 2 + parity) * rowsPerTile;
            for (int row = p0; row < Math.Min(p, p0 + rowsPerTile); row++) body.Run(n, row);
        }
    }

    private static void CheckLengths(PoolGeometry g, int inputLength, int outputLength)
    {
        if (inputLength < g.InputSize || outputLength < g.OutputSize)
            throw new ArgumentException($"Pooling {g} needs {g.InputSize} input and {g.OutputSize} output values; received {inputLength} and {outputLength}.");
    }
}
