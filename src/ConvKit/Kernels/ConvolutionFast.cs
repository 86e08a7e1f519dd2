using System.Runtime.Intrinsics;
using ConvKit.Autograd;
using System.Runtime.Intrinsics.X86;

namespace ConvKit.Kernels;

// N batch, H/W height/width, C in channels, K filters, R/S kernel h/w, P/Q output h/w, G groups.

/// <summary>
/// Convolution forward and both gradients as GEMM, channels-last, with the semantics of
/// <see cref="ConvolutionReference"/>. A 1×1, stride-1, unpadded convolution is one GEMM on the input as it
/// lies ([N·H·W, C] · [C, K]); a depthwise one (a group per input channel) has no GEMM at all
/// (<see cref="DepthwiseConvolution"/>); a 3×3 or 5×5 stride-1 one with at least 16 channels and filters runs as
/// Winograd's F(2×2, 3×3), F(4×4, 3×3) or F(2×2, 5×5), 16 or 36 GEMMs per block of output tiles
/// (<see cref="WinogradConvolution"/>), and so does its input gradient. A forward with no dilation along W and few filters reads the input rows in place
/// (no im2col): dot products for up to four filters, a row-piece micro-kernel for up to two register blocks of them;
/// padding along W is written out first, into a copy of the input or, for kernel rows of at least
/// <see cref="EdgeWindowsRun"/> floats, into copies of the edge pixels' windows only. With more filters, on AVX-512, the
/// forward reads them in place too, in runs of seven pixels two at a time against one 32-filter panel
/// (<see cref="ForwardRuns"/>). Otherwise the output is cut into tiles of whole output rows, each tile's receptive fields are gathered
/// (im2col) into a pooled column buffer of about <see cref="ColumnBudget"/> floats, and the tile is one GEMM
/// per group. Tiles run in parallel; each thread multiplies serially. The kernel gradient of the layers Winograd takes
/// (with at least 32 tiles over the batch) runs as its transpose (<see cref="WinogradConvolution.BackwardKernel"/>);
/// otherwise it reads the input rows in place whenever there is one group and no dilation along W
/// (<see cref="BackwardKernelDirect"/>), else it too runs on im2col tiles.
/// </summary>
/// <remarks>
/// Determinism: forward tiles write disjoint outputs. Backward-input tiles scatter into overlapping input
/// rows, so even tiles run first and odd tiles second (tiles are at least ⌈(R−1)·dh/sh⌉ rows, so tiles of one
/// parity never touch the same cell). Backward-kernel sums per-chunk partial gradients in chunk order,
/// with chunks fixed by the thread count; the Winograd kernel gradient's sums do not depend on the threads.
/// </remarks>
internal static unsafe class ConvolutionFast
{
    /// <summary>
    /// Target size of a column tile in floats: 384 KB in Zen 3's 512 KB L2; 768 KB in Skylake-SP's 1 MB L2 (with the
    /// AVX-512 kernel), where the larger tile measured 5–6% faster on the forward and input gradient (the kernel is
    /// packed once per tile, so fewer tiles pack it less often).
    /// </summary>
    private static readonly int ColumnBudget = GemmMicroKernel.Selected == GemmMicroKernel.Isa.Avx512 ? 192 * 1024 : 96 * 1024;

    /// <summary>
    /// out[n,p,q,k] = bias[k] + Σ_{r,s,c'} in[n, p·sh − padTop + r·dh, q·sw − padLeft + s·dw, g·C/G + c'] · w[r,s,c',k]
    /// (Σ · scale[k] + bias[k] when <paramref name="scale"/> is given: a batch normalization folded in at inference;
    /// plus residual[n,p,q,k] when a residual is given: the Add of a residual block), then max(out, 0) when
    /// <paramref name="relu"/> is set. These are an epilogue on each tile or output row right after its GEMM, while it is
    /// still in cache; an ungrouped 1×1 convolution's GEMM applies it to its sums in registers, and the whole-batch path
    /// to each thread's share; grouped 1×1 convolutions and the whole-batch path without kept weights make one pass over
    /// the output afterwards.
    /// </summary>
    public static void Forward(
        ReadOnlySpan<float> input,      // [N, H, W, C]
        ReadOnlySpan<float> kernel,     // [R, S, C/G, K]
        ReadOnlySpan<float> bias,       // [K] or empty
        ConvGeometry g,
        Span<float> output,             // [N, P, Q, K]
        bool relu = false,
        ReadOnlySpan<float> scale = default,    // [K] or empty
        ReadOnlySpan<float> residual = default, // [N, P, Q, K] or empty
        WeightPacking packing = default)        // the kernel's packed copies, kept between calls (inference)
    {
        CheckLengths(g, input.Length, kernel.Length, output.Length, "output");
        if (!bias.IsEmpty && bias.Length < g.K) throw new ArgumentException($"Convolution bias needs {g.K} values; received {bias.Length}.");
        if (!scale.IsEmpty && scale.Length < g.K) throw new ArgumentException($"Convolution scale needs {g.K} values; received {scale.Length}.");
        if (!residual.IsEmpty && residual.Length < g.OutputSize)
            throw new ArgumentException($"Convolution residual needs {g.OutputSize} values; received {residual.Length}.");
        if (g.OutputSize == 0) return;
        int cg = g.ChannelsPerGroup, kg = g.FiltersPerGroup, width = g.R * g.S * cg;
        fixed (float* pin = input, pw = kernel, pb = bias, pout = output, pscale = scale, pres = residual)
        {
            float* x = pin, w = pw, y = pout;
            var e = new OutputEpilogue(pb, pscale, pres, relu, y);
            if (DepthwiseConvolution.Applies(g))
            {
                if (OpTrace.Level >= 2) Trace("conv forward", g, "depthwise, vectorised across channels");
                DepthwiseConvolution.Forward(x, w, g, y, e);
                return;
            }
            if (IsPointwise(g))
            {
                if (OpTrace.Level >= 2) Trace("conv forward", g, "1×1 as one GEMM per group, no im2col");
                if (g.Groups == 1)
                {
                    Gemm.MultiplyWeights(g.N * g.P * g.Q, g.K, g.C, x, g.C, w, g.K, y, g.K, packing, e);
                    return;
                }
                for (int group = 0; group < g.Groups; group++)
                    Gemm.Multiply(false, false, g.N * g.P * g.Q, kg, cg, x + group * cg, g.C, w + group * kg, g.K, y + group * kg, g.K, false);
                e.Apply(y, (nint)g.N * g.P * g.Q, g.K);
                return;
            }
            if (WinogradConvolution.Applies(g))
            {
                if (OpTrace.Level >= 2)
                {
                    int m = WinogradConvolution.OutputTile(g), alpha = m + g.R - 1;
                    Trace("conv forward", g, $"Winograd F({m}×{m}, {g.R}×{g.S}): {alpha * alpha} GEMMs per block of {m}×{m} output tiles");
                }
                WinogradConvolution.Forward(x, w, g, y, e, packing);
                return;
            }
            if (IsRowContiguous(g) && g.K <= DotFilterLimit && Fma.IsSupported)
            {
                if (OpTrace.Level >= 2) Trace("conv forward", g, "dot products over input rows read in place");
                ForwardDot(x, w, g, y, e);
                return;
            }
            if (IsRowContiguous(g))
            {
                if (OpTrace.Level >= 2) Trace("conv forward", g, "direct, input rows read in place, " + DirectKernel(g));
                ForwardDirect(x, w, g, y, e, packing);
                return;
            }
            if (WidthPadded(g) is { } unpadded)
            {
                bool dot = g.K <= DotFilterLimit && Fma.IsSupported;
                if (!dot && g.S * g.C >= EdgeWindowsRun)
                {
                    if (OpTrace.Level >= 2) Trace("conv forward", g, "direct, input rows read in place, edge pixels' windows padded, " + DirectKernel(g));
                    ForwardDirect(x, w, g, y, e, packing);
                    return;
                }
                if (OpTrace.Level >= 2) Trace("conv forward", g, "width padded once, then " + (dot ? "dot products" : "direct, " + DirectKernel(g)));
                float* padded = KernelBuffers.PaddedInput(unpadded.InputSize);
                Pad(x, g, padded, height: false);
                if (dot) ForwardDot(padded, w, unpadded, y, e);
                else ForwardDirect(padded, w, unpadded, y, e, packing);
                return;
            }
            if (RunsDirectPays(g))
            {
                if (OpTrace.Level >= 2) Trace("conv forward", g, "direct, runs of seven pixels two at a time, 14 × 32 AVX-512 kernel");
                ForwardRuns(x, w, g, y, e, packing);
                return;
            }
            if (IsStridedPointwise(g))
            {
                if (OpTrace.Level >= 2) Trace("conv forward", g, "1×1 with strides, one GEMM per output row on the input read in place, no im2col");
                ForwardStridedPointwise(x, w, g, y, e, packing);
                return;
            }
            int rowsPerTile = BalancedRowsPerTile(g, WholeBlockRows(g, RowsPerTile(g, 1)), KernelThreads.Available), tilesPerImage = (g.P + rowsPerTile - 1) / rowsPerTile;
            if (g.Groups == 1 && g.N * tilesPerImage < 2 * KernelThreads.Count && (long)g.N * g.P * g.Q * width <= WholeColumnsBudget)
            {
                if (OpTrace.Level >= 2) Trace("conv forward", g, "im2col of the whole batch, one threaded GEMM");
                ForwardWhole(x, w, g, y, e, packing);
                return;
            }
            int imagesPerTile = tilesPerImage == 1 ? ImagesPerTile(g, KernelThreads.Count) : 1;
            if (imagesPerTile > 1)
            {
                int imageTiles = (g.N + imagesPerTile - 1) / imagesPerTile;
                if (OpTrace.Level >= 2) Trace("conv forward", g, $"im2col tiles of {imagesPerTile} whole images, {imageTiles} tiles over the threads");
                float* packedForImages = packing.Get(WholeBLayout(g), new WholeKernelPacker(w, g), &KernelBuffers.WholeB, out var keptForImages);
                KernelThreads.For(imageTiles, new ForwardImageTiles(x, g, y, e, packedForImages, imagesPerTile));
                GC.KeepAlive(keptForImages);
                return;
            }
            if (OpTrace.Level >= 2) Trace("conv forward", g, $"im2col tiles of {rowsPerTile} output rows, {g.N * tilesPerImage} tiles over the threads");
            // The kernel packed once for every tile, where each tile's GEMM used to pack it again: 8–14 % off the
            // tutorial CNN's 5×5×32 → 64 and the default model's 7×7×64 → 128 convolutions, the same bits.
            float* packedKernel = packing.Get(WholeBLayout(g), new WholeKernelPacker(w, g), &KernelBuffers.WholeB, out var kept);
            KernelThreads.For(g.N * tilesPerImage, new ForwardTiles(x, g, y, e, packedKernel, rowsPerTile, tilesPerImage));
            GC.KeepAlive(kept);
        }
    }

    // The parallel loops' items, as structs where a lambda would allocate its captures at every call (KernelThreads.For<TItems>).

    /// <summary><see cref="Forward"/> in im2col tiles: tile t is output rows [p0, p0 + rowsPerTile) of image t / tilesPerImage.</summary>
    private readonly struct ForwardTiles(float* x, ConvGeometry g, float* y, OutputEpilogue e, float* packedKernel, int rowsPerTile, int tilesPerImage)
        : KernelThreads.IItems
    {
        public void Run(int tile)
        {
            int cg = g.ChannelsPerGroup, kg = g.FiltersPerGroup, width = g.R * g.S * cg;
            long groupSize = Gemm.WholeBSize(kg, width);
            int n = tile / tilesPerImage, p0 = tile % tilesPerImage * rowsPerTile, p1 = Math.Min(g.P, p0 + rowsPerTile);
            int rows = (p1 - p0) * g.Q;
            float* columns = KernelBuffers.Columns(rows * width);
            float* yTile = y + ((nint)(n * g.P + p0) * g.Q) * g.K;
            for (int group = 0; group < g.Groups; group++)
            {
                Im2Col.Gather(x, g, n, p0, p1, group * cg, columns);
                Gemm.MultiplyWholeB(rows, kg, width, columns, width, packedKernel + group * groupSize, yTile + group * kg, g.K, accumulate: false);
            }
            e.ApplyHere(yTile, rows, g.K);
        }
    }

    /// <summary><see cref="Forward"/> in im2col tiles of whole images: tile t is images [t·imagesPerTile, (t + 1)·imagesPerTile), one GEMM.</summary>
    private readonly struct ForwardImageTiles(float* x, ConvGeometry g, float* y, OutputEpilogue e, float* packedKernel, int imagesPerTile)
        : KernelThreads.IItems
    {
        public void Run(int tile)
        {
            int width = g.R * g.S * g.C, pixels = g.P * g.Q;
            int first = tile * imagesPerTile, end = Math.Min(g.N, first + imagesPerTile);
            int rows = (end - first) * pixels;
            float* columns = KernelBuffers.Columns(rows * width);
            for (int n = first; n < end; n++) Im2Col.Gather(x, g, n, 0, g.P, 0, columns + (nint)(n - first) * pixels * width);
            float* yTile = y + (nint)first * pixels * g.K;
            Gemm.MultiplyWholeB(rows, g.K, width, columns, width, packedKernel, yTile, g.K, accumulate: false);
            e.ApplyHere(yTile, rows, g.K);
        }
    }

    /// <summary>
    /// Forward of a 1×1 convolution with strides (<see cref="IsStridedPointwise"/>): output row (n, p) reads input row
    /// p·StrideH, whose pixels q·StrideW lie StrideW·C floats apart, so each output row is one GEMM,
    /// y[n, p, ·, ·] = x[n, p·StrideH, q·StrideW, ·] · W, with A read in place at that stride: no im2col gathers the
    /// pixels first. The kernel is packed as the im2col tiles pack it, and each row sums the same blocks in the same
    /// order, so the bits are those of the tiles.
    /// </summary>
    /// <remarks>
    /// Against im2col tiles, batch 32, alternating processes, medians of five: 56×56×64 → 128 2.97 against 4.15 ms,
    /// 28×28×128 → 256 2.26 against 2.75 ms; at batch 1, 56×56×64 → 128 0.07 against 0.18 ms. The input gradients
    /// (<see cref="BackwardInputStridedPointwise"/>): 5.30 against 6.19, 3.16 against 3.86 and 0.15 against 0.27 ms.
    /// </remarks>
    private static void ForwardStridedPointwise(
        float* x,       // [N, H, W, C]
        float* w,       // [1, 1, C, K]
        ConvGeometry g,
        float* y,       // [N, P, Q, K]
        OutputEpilogue e,
        WeightPacking packing)
    {
        float* packedKernel = packing.Get(WholeBLayout(g), new WholeKernelPacker(w, g), &KernelBuffers.WholeB, out var kept);
        int rows = g.N * g.P, rowsPerTask = RowsPerTask(rows, g.Q), tasks = (rows + rowsPerTask - 1) / rowsPerTask;
        KernelThreads.For(tasks, new StridedPointwiseRows(x, g, y, e, packedKernel, rows, rowsPerTask));
        GC.KeepAlive(kept);
    }

    /// <summary><see cref="ForwardStridedPointwise"/>: task t is output rows [t·rowsPerTask, (t + 1)·rowsPerTask), one GEMM each.</summary>
    private readonly struct StridedPointwiseRows(float* x, ConvGeometry g, float* y, OutputEpilogue e, float* packedKernel, int rows,
        int rowsPerTask)
        : KernelThreads.IItems
    {
        public void Run(int task)
        {
            for (int row = task * rowsPerTask, end = Math.Min(rows, row + rowsPerTask); row < end; row++)
            {
                int n = row / g.P, p = row % g.P;
                float* a = x + ((nint)(n * g.H + p * g.StrideH) * g.W) * g.C;
                float* yRow = y + (nint)row * g.Q * g.K;
                Gemm.MultiplyWholeB(g.Q, g.K, g.C, a, (nint)g.StrideW * g.C, packedKernel, yRow, g.K, accumulate: false);
                e.ApplyHere(yRow, g.Q, g.K);
            }
        }
    }

    /// <summary>
    /// dIn of a 1×1 convolution with strides (<see cref="IsStridedPointwise"/>): each output row's gradient times Wᵀ is
    /// the gradient of the input pixels it read, one GEMM per output row written in place at their stride
    /// (dIn[n, p·StrideH, q·StrideW, ·] = dOut[n, p, q, ·] · Wᵀ); every other input pixel gets zero. No col2im.
    /// </summary>
    private static void BackwardInputStridedPointwise(
        float* dy,      // [N, P, Q, K]
        float* w,       // [1, 1, C, K]
        ConvGeometry g,
        float* dx)      // [N, H, W, C], overwritten
    {
        float* packedKernel = KernelBuffers.WholeB(Gemm.WholeBSize(g.C, g.K));
        Gemm.PackWholeB(true, g.C, g.K, w, g.K, packedKernel);
        int rows = g.N * g.P, rowsPerTask = RowsPerTask(rows, g.Q), tasks = (rows + rowsPerTask - 1) / rowsPerTask;
        nint inputRow = (nint)g.W * g.C;
        KernelThreads.For(tasks, new StridedPointwiseGradientRows(dy, g, dx, packedKernel, rows, rowsPerTask, inputRow));
    }

    /// <summary><see cref="BackwardInputStridedPointwise"/>: task t is output rows [t·rowsPerTask, (t + 1)·rowsPerTask), one GEMM each.</summary>
    private readonly struct StridedPointwiseGradientRows(float* dy, ConvGeometry g, float* dx, float* packedKernel, int rows, int rowsPerTask,
        nint inputRow)
        : KernelThreads.IItems
    {
        public void Run(int task)
        {
            for (int row = task * rowsPerTask, end = Math.Min(rows, row + rowsPerTask); row < end; row++)
            {
                int n = row / g.P, p = row % g.P;
                // This output row's input row, and the rows below it that no output reads (to the next one's, or the end).
                int h = p * g.StrideH, next = p == g.P - 1 ? g.H : h + g.StrideH;
                float* target = dx + ((nint)n * g.H + h) * inputRow;
                new Span<float>(target + inputRow, checked((int)((next - h - 1) * inputRow))).Clear();
                for (int column = 0; column < g.W; column++)
                    if (column % g.StrideW != 0 || column / g.StrideW >= g.Q) new Span<float>(target + (nint)column * g.C, g.C).Clear();
                Gemm.MultiplyWholeB(g.Q, g.C, g.K, dy + (nint)row * g.Q * g.K, g.K, packedKernel, target, (nint)g.StrideW * g.C, accumulate: false);
            }
        }
    }

    /// <summary>
    /// Output rows per task of the per-row GEMMs: 48 pixels' worth, or fewer (down to one row) where that would leave
    /// fewer than four tasks per thread.
    /// </summary>
    private static int RowsPerTask(int rows, int pixels) =>
        Math.Clamp(Math.Min((48 + pixels - 1) / Math.Max(1, pixels), rows / (4 * KernelThreads.Available)), 1, Math.Max(1, rows));

    /// <summary>The kernel as <see cref="Gemm.PackWholeB"/> packs it, group after group.</summary>
    private static PackedLayout WholeBLayout(ConvGeometry g)
    {
        int kg = g.FiltersPerGroup, width = g.R * g.S * g.ChannelsPerGroup;
        return new PackedLayout(PackedForm.Panels, kg, width, g.Groups, Gemm.Blocks.KC, Gemm.WholeBSize(kg, width) * g.Groups);
    }

    private static void PackWholeKernel(float* w, ConvGeometry g, float* packed)
    {
        int kg = g.FiltersPerGroup, width = g.R * g.S * g.ChannelsPerGroup;
        long groupSize = Gemm.WholeBSize(kg, width);
        for (int group = 0; group < g.Groups; group++) Gemm.PackWholeB(false, kg, width, w + group * kg, g.K, packed + group * groupSize);
    }

    /// <summary><see cref="PackWholeKernel"/> for <see cref="WeightPacking.Get"/>.</summary>
    private readonly struct WholeKernelPacker(float* w, ConvGeometry g) : PackedWeights.IPacker
    {
        public void Pack(float* destination) => PackWholeKernel(w, g, destination);
    }

    private static string DirectKernel(ConvGeometry g) =>
        GemmMicroKernel.Selected != GemmMicroKernel.Isa.Avx512 ? $"{GemmMicroKernel.MR} × {GemmMicroKernel.NR} {GemmMicroKernel.Selected} kernel"
        : g.K <= GemmMicroKernel.NR256 ? "12 × 16 AVX-512 kernel"
        : g.Q < 12 ? "6 × 32 AVX-512 kernel"
        : $"{WideBlockPixels(g.Q)} × 32 AVX-512 kernel" + (g.Q % WideBlockPixels(g.Q) is > 0 and <= GemmMicroKernel.MR ? ", the last pixels 6 × 32" : "");

    /// <summary>Reports the path taken at <c>CONVKIT_DEBUG=2</c> (callers test the level first, so the text is built only then).</summary>
    private static void Trace(string pass, ConvGeometry g, string path)
    {
        OpTrace.Kernel($"{pass} {g.R}×{g.S}, {g.C} → {g.K} channels" + (g.StrideH * g.StrideW > 1 ? $", stride {g.StrideH}×{g.StrideW}" : "") +
                (g.Groups > 1 ? $", {g.Groups} groups" : "") + $": {path}");
    }

    /// <summary>Largest im2col matrix, in floats (8 MB), that <see cref="ForwardWhole"/> writes out whole.</summary>
    private const long WholeColumnsBudget = 2 << 20;

    /// <summary>
    /// Forward for outputs too small to give each thread two tiles (a batch-1 network's later layers): im2col of the
    /// whole batch, then one GEMM whose threads split the rows or the filters. With tiles, 7×7×512 → 512 makes two of
    /// six rows and one row, each packing the whole 9 MB kernel on one thread; this took ResNet18 from 43–46 ms to
    /// 40–42 ms (best of 40, three runs each).
    /// </summary>
    private static void ForwardWhole(
        float* x,       // [N, H, W, C]
        float* w,       // [R, S, C, K]
        ConvGeometry g,
        float* y,       // [N, P, Q, K]
        OutputEpilogue e,
        WeightPacking packing)
    {
        int width = g.R * g.S * g.C, rows = g.N * g.P;
        float* columns = KernelBuffers.Columns(rows * g.Q * width);
        int parts = Math.Min(KernelThreads.Available, rows);
        KernelThreads.For(parts, new WholeColumns(x, g, columns, rows, parts, width));
        // A read in place, as the tiles do: the same blocks of the shared dimension, so a sample's output has the same
        // bits whichever path its batch took.
        if (packing.IsCached)
        {
            // The kernel packed once for all calls; the threads take shares of the rows or of the filters, as Gemm's do.
            float* packed = packing.Get(WholeBLayout(g), new WholeKernelPacker(w, g), &KernelBuffers.WholeB, out var kept);
            int m = rows * g.Q, NR = GemmMicroKernel.NR, panels = (g.K + NR - 1) / NR;
            int rowParts = Math.Min(KernelThreads.Available, (m + GemmMicroKernel.MR - 1) / GemmMicroKernel.MR);
            bool byRows = (m >= g.K && rowParts > 1) || panels < 2;
            int shares = byRows ? rowParts : Math.Min(KernelThreads.Available, panels);
            KernelThreads.For(shares, new WholeShares(g, columns, packed, y, e, m, width, shares, panels, byRows));
            GC.KeepAlive(kept);
            return;
        }
        Gemm.Multiply(false, false, rows * g.Q, g.K, width, columns, width, w, g.K, y, g.K, false, inPlaceA: true);
        e.Apply(y, (nint)rows * g.Q, g.K);
    }

    /// <summary><see cref="ForwardWhole"/>'s im2col: part i gathers its range of the output rows.</summary>
    private readonly struct WholeColumns(float* x, ConvGeometry g, float* columns, int rows, int parts, int width) : KernelThreads.IItems
    {
        public void Run(int part)
        {
            var (first, last) = KernelThreads.Range(rows, parts, part);
            for (int row = first; row < last; row++)
                Im2Col.Gather(x, g, row / g.P, row % g.P, row % g.P + 1, 0, columns + (nint)row * g.Q * width);
        }
    }

    /// <summary><see cref="ForwardWhole"/>'s GEMM on a kept packing: share i of the rows, or of the filters' panels.</summary>
    private readonly struct WholeShares(ConvGeometry g, float* columns, float* packed, float* y, OutputEpilogue e, int m, int width, int shares,
        int panels, bool byRows)
        : KernelThreads.IItems
    {
        public void Run(int part)
        {
            int NR = GemmMicroKernel.NR;
            if (byRows)
            {
                var (first, last) = KernelThreads.Range(m, shares, part, GemmMicroKernel.MR);
                Gemm.MultiplyWholeB(last - first, g.K, width, columns + (nint)first * width, width, packed, y + (nint)first * g.K, g.K, accumulate: false);
                if (last > first) e.ApplyHere(y + (nint)first * g.K, last - first, g.K);
            }
            else
            {
                var (first, last) = KernelThreads.Range(panels, shares, part);
                int start = first * NR, end = Math.Min(g.K, last * NR);
                Gemm.MultiplyWholeB(m, start, end, g.K, width, columns, width, packed, y, g.K, accumulate: false);
                if (end > start) e.ApplyHere(y + start, m, end - start, g.K);
            }
        }
    }

    /// <summary>dIn = col2im(dOut · Wᵀ): dIn[n,h,w,c] = Σ over the windows that read (h, w, c) of dOut[n,p,q,k] · w[r,s,c',k].</summary>
    public static void BackwardInput(
        ReadOnlySpan<float> gradOutput, // [N, P, Q, K]
        ReadOnlySpan<float> kernel,     // [R, S, C/G, K]
        ConvGeometry g,
        Span<float> gradInput)          // [N, H, W, C], overwritten
    {
        CheckLengths(g, gradInput.Length, kernel.Length, gradOutput.Length, "gradOutput");
        int cg = g.ChannelsPerGroup, kg = g.FiltersPerGroup, width = g.R * g.S * cg;
        fixed (float* pdy = gradOutput, pw = kernel, pdx = gradInput)
        {
            float* dy = pdy, w = pw, dx = pdx;
            if (DepthwiseConvolution.Applies(g) && g.OutputSize > 0)
            {
                if (OpTrace.Level >= 2) Trace("conv input gradient", g, "depthwise, gathered per input row");
                DepthwiseConvolution.BackwardInput(dy, w, g, dx);
                return;
            }
            if (IsPointwise(g) && g.OutputSize > 0)
            {
                if (OpTrace.Level >= 2) Trace("conv input gradient", g, "1×1 as one GEMM per group");
                for (int group = 0; group < g.Groups; group++)
                    Gemm.Multiply(false, true, g.N * g.H * g.W, cg, kg, dy + group * kg, g.K, w + group * kg, g.K, dx + group * cg, g.C, false);
                return;
            }
            if (g.OutputSize > 0 && TransposedGeometry(g) is { } transposed)
            {
                if (OpTrace.Level >= 2) Trace("conv input gradient", g, "the forward convolution of the output gradient with the flipped kernel");
                BackwardInputAsForward(dy, w, g, transposed, dx);
                return;
            }
            if (IsStridedPointwise(g) && g.OutputSize > 0)
            {
                if (OpTrace.Level >= 2) Trace("conv input gradient", g, "1×1 with strides, one GEMM per output row written in place, no col2im");
                BackwardInputStridedPointwise(dy, w, g, dx);
                return;
            }
            if (OpTrace.Level >= 2) Trace("conv input gradient", g, "GEMM tiles, then col2im");
            KernelThreads.Clear(gradInput.Slice(0, g.InputSize));
            if (g.OutputSize == 0) return;
            int minimumRows = (g.StrideH - 1 + (g.R - 1) * g.DilationH) / g.StrideH;
            int rowsPerTile = RowsPerTile(g, minimumRows), tilesPerImage = (g.P + rowsPerTile - 1) / rowsPerTile;
            int evenTiles = (tilesPerImage + 1) / 2, oddTiles = tilesPerImage / 2;
            // Wᵀ packed once for every tile.
            long groupSize = Gemm.WholeBSize(width, kg);
            float* packedKernel = KernelBuffers.WholeB(groupSize * g.Groups);
            for (int group = 0; group < g.Groups; group++) Gemm.PackWholeB(true, width, kg, w + group * kg, g.K, packedKernel + group * groupSize);
            for (int parity = 0; parity < 2; parity++)
            {
                int perImage = parity == 0 ? evenTiles : oddTiles;
                KernelThreads.For(g.N * perImage, new InputGradientTiles(dy, g, dx, packedKernel, rowsPerTile, perImage, parity));
            }
        }
    }

    /// <summary>
    /// <see cref="BackwardInput"/> in GEMM tiles and col2im: task t is the tile of output rows [p0, p0 + rowsPerTile) of
    /// image t / perImage, taking every other tile from <paramref name="parity"/> on, so that tiles running at once never
    /// scatter into the same input rows.
    /// </summary>
    private readonly struct InputGradientTiles(float* dy, ConvGeometry g, float* dx, float* packedKernel, int rowsPerTile, int perImage, int parity)
        : KernelThreads.IItems
    {
        public void Run(int task)
        {
            int cg = g.ChannelsPerGroup, kg = g.FiltersPerGroup, width = g.R * g.S * cg;
            long groupSize = Gemm.WholeBSize(width, kg);
            int n = task / perImage, tile = task % perImage * 2 + parity;
            int p0 = tile * rowsPerTile, p1 = Math.Min(g.P, p0 + rowsPerTile);
            int rows = (p1 - p0) * g.Q;
            float* columns = KernelBuffers.Columns(rows * width);
            float* dyTile = dy + ((nint)(n * g.P + p0) * g.Q) * g.K;
            for (int group = 0; group < g.Groups; group++)
            {
                Gemm.MultiplyWholeB(rows, width, kg, dyTile + group * kg, g.K, packedKernel + group * groupSize, columns, width, accumulate: false);
                Im2Col.Scatter(columns, g, n, p0, p1, group * cg, dx);
            }
        }
    }

    /// <summary>
    /// The geometry of the forward convolution that computes a stride-1 input gradient: dOut [N, P, Q, K] convolved
    /// with the flipped kernel W'[r, s, k, c] = W[R−1−r, S−1−s, c, k] over padding dh·(R−1) − padTop (and likewise for
    /// the other sides) gives dIn [N, H, W, C]. Null when that does not hold (strides, groups, a pad wider than the
    /// kernel's reach): those shapes keep the GEMM-and-col2im path.
    /// </summary>
    private static ConvGeometry? TransposedGeometry(ConvGeometry g)
    {
        if (g.StrideH != 1 || g.StrideW != 1 || g.Groups != 1) return null;
        int reachH = g.DilationH * (g.R - 1), reachW = g.DilationW * (g.S - 1);
        if (g.PadTop > reachH || g.PadBottom > reachH || g.PadLeft > reachW || g.PadRight > reachW) return null;
        var t = new ConvGeometry(g.N, g.P, g.Q, g.K, g.C, g.R, g.S, 1, 1, g.DilationH, g.DilationW,
            reachH - g.PadTop, reachW - g.PadLeft, reachH - g.PadBottom, reachW - g.PadRight);
        return t.P == g.H && t.Q == g.W ? t : null;
    }

    /// <summary>
    /// dIn[n,h,w,c] = Σ_{r,s,k} dOut[n, h + padTop − r·dh, w + padLeft − s·dw, k] · W[r,s,c,k], run as the forward
    /// convolution <paramref name="t"/> of dOut with the flipped kernel: one im2col GEMM with the shared dimension
    /// R·S·K, instead of a GEMM over only K followed by a scatter-add into a zeroed gradient.
    /// </summary>
    private static void BackwardInputAsForward(
        float* dy,          // [N, P, Q, K]
        float* w,           // [R, S, C, K]
        ConvGeometry g, ConvGeometry t,
        float* dx)          // [N, H, W, C], overwritten
    {
        float* flipped = KernelBuffers.TransformedKernel(g.KernelSize);  // [R, S, K, C]
        var flip = new FlippedKernel(w, g, flipped);
        if (g.KernelSize >= ParallelFlipFloats) KernelThreads.For(g.R * g.S, flip);
        else for (int position = 0; position < g.R * g.S; position++) flip.Run(position);
        Forward(new ReadOnlySpan<float>(dy, g.OutputSize), new ReadOnlySpan<float>(flipped, g.KernelSize), default, t,
            new Span<float>(dx, g.InputSize));
    }

    /// <summary>Floats of a kernel (1 MB) from which <see cref="BackwardInputAsForward"/> flips it on all threads.</summary>
    private const int ParallelFlipFloats = 1 << 18;

    /// <summary>
    /// <see cref="BackwardInputAsForward"/>'s flipped kernel, flipped[r, s, k, c] = w[R−1−r, S−1−s, c, k]: item r·S + s
    /// transposes one C × K matrix with the GEMM packing's register transposes.
    /// </summary>
    /// <remarks>
    /// One float at a time, the transpose wrote each float to a new cache line: ResNet's 3×3×512 → 512 kernel (9 MB)
    /// took about 11 ms of a 42 ms input gradient at batch 32.
    /// </remarks>
    private readonly struct FlippedKernel(float* w, ConvGeometry g, float* flipped) : KernelThreads.IItems
    {
        public void Run(int position)
        {
            int r = position / g.S, s = position % g.S;
            float* source = w + ((nint)(g.R - 1 - r) * g.S + (g.S - 1 - s)) * g.C * g.K;
            GemmPacking.Interleave(source, g.K, g.C, g.K, flipped + (nint)position * g.K * g.C, g.C);
        }
    }

    /// <summary>dW = im2col(in)ᵀ · dOut: dW[r,s,c',k] = Σ_{n,p,q} dOut[n,p,q,k] · in[n, h(p,r), w(q,s), g·C/G + c'].</summary>
    public static void BackwardKernel(
        ReadOnlySpan<float> gradOutput, // [N, P, Q, K]
        ReadOnlySpan<float> input,      // [N, H, W, C]
        ConvGeometry g,
        Span<float> gradKernel)         // [R, S, C/G, K], overwritten
    {
        CheckLengths(g, input.Length, gradKernel.Length, gradOutput.Length, "gradOutput");
        int cg = g.ChannelsPerGroup, kg = g.FiltersPerGroup, width = g.R * g.S * cg, size = g.KernelSize;
        fixed (float* pdy = gradOutput, pin = input, pdw = gradKernel)
        {
            float* dy = pdy, x = pin, dw = pdw;
            if (g.OutputSize == 0) { gradKernel.Slice(0, size).Clear(); return; }
            if (DepthwiseConvolution.Applies(g))
            {
                if (OpTrace.Level >= 2) Trace("conv kernel gradient", g, "depthwise, a partial per chunk of output rows");
                DepthwiseConvolution.BackwardKernel(dy, x, g, dw);
                return;
            }
            if (IsPointwise(g))
            {
                if (OpTrace.Level >= 2) Trace("conv kernel gradient", g, "1×1 as one GEMM per group");
                for (int group = 0; group < g.Groups; group++)
                    Gemm.Multiply(true, false, cg, kg, g.N * g.H * g.W, x + group * cg, g.C, dy + group * kg, g.K, dw + group * kg, g.K, false);
                return;
            }
            if (WinogradConvolution.AppliesToKernelGradient(g))
            {
                if (OpTrace.Level >= 2)
                {
                    int m = WinogradConvolution.GradientTile(g), alpha = m + g.R - 1;
                    Trace("conv kernel gradient", g, $"Winograd F({m}×{m}, {g.R}×{g.R}) transposed: {alpha * alpha} products summed over blocks of tiles");
                }
                WinogradConvolution.BackwardKernel(dy, x, g, dw);
                return;
            }
            if (g.Groups == 1 && g.DilationW == 1)
            {
                if (OpTrace.Level >= 2) Trace("conv kernel gradient", g, "direct, input rows read in place, blocks of output rows");
                BackwardKernelDirect(dy, x, g, dw);
                return;
            }
            int rowsPerTile = RowsPerTile(g, 1), tilesPerImage = (g.P + rowsPerTile - 1) / rowsPerTile, tiles = g.N * tilesPerImage;
            if (OpTrace.Level >= 2) Trace("conv kernel gradient", g, $"im2col tiles of {rowsPerTile} output rows, partial sums per thread");
            int chunks = Math.Min(KernelThreads.Available, tiles);
            float* partials = chunks > 1 ? KernelBuffers.Partials(chunks * size) : dw;
            KernelThreads.For(chunks, new KernelGradientChunks(dy, x, g, partials, rowsPerTile, tilesPerImage, chunks));
            if (chunks > 1)
            {
                var result = new Span<float>(dw, size);
                new ReadOnlySpan<float>(partials, size).CopyTo(result);
                for (int chunk = 1; chunk < chunks; chunk++)
                    TensorPrimitives.Add(result, new ReadOnlySpan<float>(partials + (nint)chunk * size, size), result);
            }
        }
    }

    /// <summary>
    /// <see cref="BackwardKernel"/> in im2col tiles: chunk i sums the kernel gradient of its range of the tiles (output rows
    /// [p0, p0 + rowsPerTile) of an image) into partial i.
    /// </summary>
    private readonly struct KernelGradientChunks(float* dy, float* x, ConvGeometry g, float* partials, int rowsPerTile, int tilesPerImage, int chunks)
        : KernelThreads.IItems
    {
        public void Run(int chunk)
        {
            int cg = g.ChannelsPerGroup, kg = g.FiltersPerGroup, width = g.R * g.S * cg, size = g.KernelSize;
            float* sum = partials + (nint)chunk * size;
            new Span<float>(sum, size).Clear();
            var (first, last) = KernelThreads.Range(g.N * tilesPerImage, chunks, chunk);
            for (int tile = first; tile < last; tile++)
            {
                int n = tile / tilesPerImage, p0 = tile % tilesPerImage * rowsPerTile, p1 = Math.Min(g.P, p0 + rowsPerTile);
                int rows = (p1 - p0) * g.Q;
                float* columns = KernelBuffers.Columns(rows * width);
                float* dyTile = dy + ((nint)(n * g.P + p0) * g.Q) * g.K;
                for (int group = 0; group < g.Groups; group++)
                {
                    Im2Col.Gather(x, g, n, p0, p1, group * cg, columns);
                    // The columns are Aᵀ here: read in place, each step of the shared dimension (a pixel) is a new
                    // line of the tile for six floats. Packed, the kernel gradient of the tutorial CNN's 5×5 32 → 64
                    // convolution ran 1.11× as fast with AVX-512 and 1.15× with AVX2; ResNet's 3×3 64 → 64 1.10× and 1.21×.
                    Gemm.Multiply(true, false, width, kg, rows, columns, width, dyTile + group * kg, g.K, sum + group * kg, g.K, true);
                }
            }
        }
    }

    /// <summary>
    /// Bytes of a block's micro-panel of the output gradient in <see cref="BackwardKernelDirect"/>: half of L1, so that it
    /// stays there while every kernel row and block of A's rows runs against it. With AVX-512 a block is 192 pixels, with
    /// AVX2 384; blocks of 12 and 48 KB measured alike or slower, and 96 KB slower for 512 channels.
    /// </summary>
    private const int KernelGradientBlockBytes = 24 << 10;

    /// <summary>
    /// Kernel gradient without im2col (groups = 1, no dilation along W): for kernel row r, the run of a receptive field
    /// along W is S·C adjacent floats of an input row (the input padded along W first when it has padding there), so
    /// dW[r, s, c, k] = Σ_{n,p,q} in[n, h(p,r), q·sw − padLeft + s, c] · dOut[n, p, q, k] is a GEMM whose A[(s, c), (p, q)]
    /// reads in place: element i of column q of output row (n, p) at row(n, h(p,r))[i + q·sw·C]. One micro-kernel call
    /// (<see cref="GemmMicroKernel.ColumnSegments"/>) runs a whole block of output rows, one piece of the shared
    /// dimension per row (rows whose h falls in the padding are skipped), against the block's output gradient packed in
    /// panels (read as it lies when K = NR), its accumulators in registers throughout. Output rows are split into one
    /// chunk per thread, each summing into its own partial [R, ⌈S·C/MR⌉·MR, ⌈K/NR⌉·NR] (the padding takes the rows and
    /// columns of short tiles); partials are added in chunk order.
    /// </summary>
    /// <remarks>
    /// Against the paths before it (im2col tiles with A packed; for receptive fields of at most KC floats, one call per
    /// output row), one process alternating the two (medians of 20): the tutorial CNN's
    /// 14×14×32 → 64 5×5 layer 12.8 → 9.1 ms with AVX-512 and 27.1 → 23.1 ms with AVX2; ResNet's 56×56×64 → 64 3×3 at
    /// batch 8 11.8 → 8.1 and 18.2 → 15.1 ms; its 7×7×3 → 64 stride-2 stem 6.2 → 4.3 and 5.2 → 5.1 ms; 7×7×512 → 512 at
    /// batch 32 50.5 → 41.0 and 80.8 → 71.5 ms. One input channel (a grayscale CNN's first layer) measured alike.
    /// </remarks>
    private static void BackwardKernelDirect(
        float* dy,      // [N, P, Q, K]
        float* x,       // [N, H, W, C]
        ConvGeometry g,
        float* dw)      // [R, S, C, K], overwritten
    {
        const int MR = GemmMicroKernel.MR;
        int NR = GemmMicroKernel.NR, blockMR = GemmMicroKernel.ColumnSegmentsMR;
        int paddedWidth = g.W + g.PadLeft + g.PadRight;
        float* source = x;
        if (g.PadLeft != 0 || g.PadRight != 0)
        {
            source = KernelBuffers.PaddedInput(g.N * g.H * paddedWidth * g.C);
            Pad(x, g, source, height: false);
        }
        int span = g.S * g.C, spanPadded = (span + MR - 1) / MR * MR, panels = (g.K + NR - 1) / NR, kPadded = panels * NR;
        int partialSize = g.R * spanPadded * kPadded, outputRows = g.N * g.P;
        int blockPixels = KernelGradientBlockBytes / (NR * sizeof(float));
        int blockRows = Math.Clamp((blockPixels + g.Q / 2) / g.Q, 1, outputRows);
        int chunks = Math.Min(KernelThreads.Available, outputRows);
        float* partials = KernelBuffers.Partials(chunks * partialSize);
        bool pack = g.K != NR;
        nint rowLength = (nint)paddedWidth * g.C, columnStep = (nint)g.StrideW * g.C;
        KernelThreads.For(chunks, new KernelGradientDirectChunks(
            dy, g, source, partials, partialSize, outputRows, chunks, blockRows, span, spanPadded, panels, kPadded, pack, rowLength, columnStep));
        for (int r = 0; r < g.R; r++)
            for (int i = 0; i < span; i++)
            {
                var target = new Span<float>(dw + ((nint)r * span + i) * g.K, g.K);
                nint offset = (nint)(r * spanPadded + i) * kPadded;
                new ReadOnlySpan<float>(partials + offset, g.K).CopyTo(target);
                for (int chunk = 1; chunk < chunks; chunk++)
                    TensorPrimitives.Add(target, new ReadOnlySpan<float>(partials + (nint)chunk * partialSize + offset, g.K), target);
            }
    }

    /// <summary><see cref="BackwardKernelDirect"/>: chunk i sums the gradient of its range of output rows into partial i.</summary>
    private readonly struct KernelGradientDirectChunks(float* dy, ConvGeometry g, float* source, float* partials, int partialSize, int outputRows,
        int chunks, int blockRows, int span, int spanPadded, int panels, int kPadded, bool pack, nint rowLength, nint columnStep)
        : KernelThreads.IItems
    {
        public void Run(int chunk)
        {
            int NR = GemmMicroKernel.NR, blockMR = GemmMicroKernel.ColumnSegmentsMR;
            float* sum = partials + (nint)chunk * partialSize;
            new Span<float>(sum, partialSize).Clear();
            float* packed = pack ? KernelBuffers.PackB(kPadded * blockRows * g.Q) : null;
            float** bases = stackalloc float*[blockRows];
            var (first, last) = KernelThreads.Range(outputRows, chunks, chunk);
            for (int row = first; row < last; row += blockRows)
            {
                int count = Math.Min(blockRows, last - row), pixels = count * g.Q;
                float* b = dy + (nint)row * g.Q * g.K;
                if (pack)
                {
                    GemmPacking.PackB(false, pixels, g.K, b, g.K, 0, panels, packed);
                    b = packed;
                }
                // Panel by panel, so that the block's micro-panel of B stays in L1 for all the calls against it.
                for (int panel = 0; panel < panels; panel++)
                    for (int r = 0; r < g.R; r++)
                    {
                        for (int i = 0; i < count; i++)
                        {
                            int n = (row + i) / g.P, p = (row + i) % g.P, h = p * g.StrideH - g.PadTop + r * g.DilationH;
                            bases[i] = (uint)h < (uint)g.H ? source + (nint)(n * g.H + h) * rowLength : null;
                        }
                        for (int i0 = 0; i0 < span; i0 += blockMR)
                            GemmMicroKernel.ColumnSegments(count, bases, i0, g.Q, columnStep, Math.Min(blockMR, span - i0),
                                b + (nint)panel * NR * pixels, sum + (nint)(r * spanPadded + i0) * kPadded + panel * NR, kPadded, overwrite: false);
                    }
            }
        }
    }

    /// <summary>
    /// Direct forward for <see cref="IsRowContiguous"/> shapes, or for shapes that are so once padded along W
    /// (<see cref="WidthPadded"/>): pixel q's receptive field in kernel row r is the contiguous run
    /// in[n, h(p,r), q·sw − padLeft … q·sw − padLeft + S − 1, 0 … C), so the micro-kernel reads the input in place,
    /// one piece of the shared dimension per kernel row (rows in the padding are skipped), against the whole
    /// kernel packed once. Blocks of pixels whose windows reach into the padding columns read a copy of their windows
    /// instead (<see cref="PointWindows"/>). No im2col; one output row per task.
    /// </summary>
    /// <remarks>
    /// The whole input used to be copied with its padding columns first: 6 % of ResNet's 56×56×64 → 64 3×3 convolution.
    /// The padded copy and the windows hold the same values, so the bits are the same.
    /// </remarks>
    private static void ForwardDirect(
        float* x,       // [N, H, W, C]
        float* w,       // [R, S, C, K]
        ConvGeometry g,
        float* y,       // [N, P, Q, K]
        OutputEpilogue e,
        WeightPacking packing)
    {
        // With 16 filters or fewer a 32-wide AVX-512 block would be half padding (the seed's 5×5×3 → 16 case): such
        // rows run twelve pixels at a time through the 12 × 16 AVX-512 kernel, and the last few through the 6 × 16 AVX2 one.
        bool narrow = g.K <= GemmMicroKernel.NR256 && GemmMicroKernel.Selected == GemmMicroKernel.Isa.Avx512 && Avx2.IsSupported && Fma.IsSupported;
        int NR = narrow ? GemmMicroKernel.NR256 : GemmMicroKernel.NR;
        bool wideKernel = !narrow && GemmMicroKernel.Selected == GemmMicroKernel.Isa.Avx512;
        int length = g.S * g.C, depth = g.R * length, panels = (g.K + NR - 1) / NR;
        var layout = new PackedLayout(narrow ? PackedForm.Narrow : PackedForm.Panels, g.K, depth, 1, depth, (long)panels * NR * depth);
        float* packedB = packing.Get(layout, new DirectPacker(w, depth, g.K, narrow, panels), &KernelBuffers.PackB, out var kept);
        nint rowStep = (nint)g.StrideW * g.C;
        // Pixels per block of the 32-filter AVX-512 kernel (fourteen or twelve) or of the 16-filter one (twelve); on other
        // machines twelve only sizes the edge windows' buffer, as their blocks are at most six pixels.
        int wideRows = wideKernel ? WideBlockPixels(g.Q) : GemmMicroKernel.Segments16Rows;
        int edgeLength = g.PadLeft + g.PadRight == 0 ? 0 : g.R * ((wideRows - 1) * g.StrideW + g.S) * g.C;
        bool avx2Runs = GemmMicroKernel.Selected == GemmMicroKernel.Isa.Avx2 && g.K % NR == 0;
        int rows = g.N * g.P, rowsPerTask = DirectRowsPerTask(rows, (long)g.Q * g.K * depth);
        KernelThreads.For((rows + rowsPerTask - 1) / rowsPerTask,
            new DirectRows(x, g, y, e, packedB, depth, length, rowStep, NR, narrow, wideKernel, wideRows, edgeLength, avx2Runs, rowsPerTask));
        GC.KeepAlive(kept);
    }

    /// <summary>Multiply-adds a task of output rows should hold at least, where the rows allow it (<see cref="DirectRowsPerTask"/>).</summary>
    private const long TaskWork = 1 << 17;

    /// <summary>
    /// Output rows per task for <paramref name="rows"/> rows of <paramref name="rowWork"/> multiply-adds: one for the
    /// usual layers, several where a row is a few thousand multiply-adds (a grayscale first layer: 28 pixels × 32
    /// filters × 9), so that taking a task (an atomic add on a count both threads take tasks from) is a small part of
    /// it; never fewer than eight tasks per thread. A 28×28×1 → 32 3×3 layer at batch 128 spent an eighth of its samples
    /// taking its 3,584 one-row tasks.
    /// </summary>
    private static int DirectRowsPerTask(int rows, long rowWork) =>
        (int)Math.Clamp(TaskWork / Math.Max(1, rowWork), 1, Math.Max(1, rows / (8 * KernelThreads.Available)));

    /// <summary><see cref="ForwardDirect"/>: a task of <paramref name="rowsPerTask"/> output rows.</summary>
    private readonly struct DirectRows(float* x, ConvGeometry g, float* y, OutputEpilogue e, float* packedB, int depth, int length, nint rowStep,
        int NR, bool narrow, bool wideKernel, int wideRows, int edgeLength, bool avx2Runs, int rowsPerTask)
        : KernelThreads.IItems
    {
        public void Run(int task)
        {
            const int MR = GemmMicroKernel.MR;
            float** bases = stackalloc float*[g.R];
            float** shifted = stackalloc float*[g.R];
            float* tile = stackalloc float[MR * NR];
            float* wideTile = stackalloc float[wideRows * NR];
            float* edge = edgeLength > 0 ? KernelBuffers.EdgeWindows(edgeLength) : null;
            for (int row = task * rowsPerTask, end = Math.Min(g.N * g.P, row + rowsPerTask); row < end; row++)
                Row(row, bases, shifted, tile, wideTile, edge);
        }

        private void Row(int outputRow, float** bases, float** shifted, float* tile, float* wideTile, float* edge)
        {
            const int MR = GemmMicroKernel.MR;
            int n = outputRow / g.P, p = outputRow % g.P;
            for (int r = 0; r < g.R; r++)
            {
                int h = p * g.StrideH - g.PadTop + r * g.DilationH;
                bases[r] = (uint)h < (uint)g.H ? x + (nint)(n * g.H + h) * g.W * g.C : null;
            }
            float* yRow = y + (nint)outputRow * g.Q * g.K;
            for (int q = 0; q < g.Q; q += MR)
            {
                // Fourteen or twelve pixels at a time through the AVX-512 32-filter kernel while that many remain. More
                // than six left over go as the row's last block, recomputing a few pixels with the same bits: two
                // six-pixel calls would cost as much and run slower.
                for (; wideKernel && g.Q - q > MR && g.Q >= wideRows; q += wideRows)
                {
                    q = Math.Min(q, g.Q - wideRows);
                    PointWindows(bases, shifted, q, wideRows, g, edge);
                    for (int jr = 0; jr < g.K; jr += NR)
                    {
                        int nr = Math.Min(NR, g.K - jr);
                        float* cTile = yRow + (nint)q * g.K + jr;
                        float* bPanel = packedB + (nint)jr * depth;
                        if (nr == NR) Wide(wideRows, g.R, shifted, length, rowStep, bPanel, cTile, g.K);
                        else
                        {
                            Wide(wideRows, g.R, shifted, length, rowStep, bPanel, wideTile, NR);
                            for (int i = 0; i < wideRows; i++) new ReadOnlySpan<float>(wideTile + i * NR, nr).CopyTo(new Span<float>(cTile + (nint)i * g.K, nr));
                        }
                    }
                }
                // Twelve pixels at a time through the AVX-512 16-filter kernel while twelve remain; with 16 filters, the
                // blocks whose windows lie inside the row in one call.
                for (; narrow && g.Q - q >= wideRows; q += wideRows)
                {
                    int blocks = g.K == 16 ? InsideBlocks(g, q, wideRows) : 0;
                    if (blocks > 1)
                    {
                        PointWindows(bases, shifted, q, blocks * wideRows, g, edge);
                        GemmMicroKernel.Avx512Segments16(g.R, shifted, length, rowStep, packedB, yRow + (nint)q * g.K, g.K, blocks);
                        q += (blocks - 1) * wideRows;
                        continue;
                    }
                    PointWindows(bases, shifted, q, wideRows, g, edge);
                    float* yTile = yRow + (nint)q * g.K;
                    if (g.K == 16) GemmMicroKernel.Avx512Segments16(g.R, shifted, length, rowStep, packedB, yTile, g.K);
                    else
                    {
                        GemmMicroKernel.Avx512Segments16(g.R, shifted, length, rowStep, packedB, wideTile, 16);
                        for (int i = 0; i < wideRows; i++) new ReadOnlySpan<float>(wideTile + i * 16, g.K).CopyTo(new Span<float>(yTile + (nint)i * g.K, g.K));
                    }
                }
                if (q >= g.Q) break;
                // With AVX2, the whole blocks whose windows lie inside the row run as one call per panel.
                int run = avx2Runs ? InsideBlocks(g, q, MR) : 0;
                if (run > 1)
                {
                    PointWindows(bases, shifted, q, run * MR, g, edge);
                    for (int jr = 0; jr < g.K; jr += NR)
                        GemmMicroKernel.Avx2Segments(g.R, shifted, length, rowStep, MR, packedB + (nint)jr * depth, yRow + (nint)q * g.K + jr, g.K,
                            overwrite: true, blocks: run);
                    q += (run - 1) * MR;
                    continue;
                }
                int mr = Math.Min(MR, g.Q - q);
                PointWindows(bases, shifted, q, mr, g, edge);
                for (int jr = 0; jr < g.K; jr += NR)
                {
                    int nr = Math.Min(NR, g.K - jr);
                    float* cTile = yRow + (nint)q * g.K + jr;
                    float* bPanel = packedB + (nint)jr * depth;
                    if (mr == MR && nr == NR) Segments(narrow, g.R, shifted, length, rowStep, MR, bPanel, cTile, g.K);
                    else
                    {
                        Segments(narrow, g.R, shifted, length, rowStep, mr, bPanel, tile, NR);
                        for (int i = 0; i < mr; i++) new ReadOnlySpan<float>(tile + i * NR, nr).CopyTo(new Span<float>(cTile + (nint)i * g.K, nr));
                    }
                }
            }
            e.ApplyHere(yRow, g.Q, g.K);
        }
    }

    /// <summary>Pixels per run of <see cref="ForwardRuns"/>, whose kernel computes two runs at a time.</summary>
    private const int RunPixels = 7;

    /// <summary>
    /// Whether the forward runs direct on runs of seven pixels (<see cref="ForwardRuns"/>): on AVX-512, for layers with more
    /// filters than one panel (K &gt; NR) that <see cref="ForwardDirect"/> has not taken (the dispatch asks it first),
    /// ungrouped and undilated along W, whose output rows runs of seven cover with at most one pixel in eight computed
    /// twice (Q = 7, 13, 14, 19–21, 28, 56; not 8–12), and whose depth R·S·C is from <see cref="RunsMinimumDepth"/> up to
    /// a panel of the kernel (R·S·C × NR) that fits in half of L2 (1 MB).
    /// </summary>
    /// <remarks>
    /// Layers of 33 to 64 filters reach here when their kernel is deep and their rows short or their kernel too large
    /// for <see cref="WideBlocksDirectPays"/>: the input gradient of a 7×7×64 → 128 layer (a forward of 128 → 64 channels)
    /// ran 5.6–8.6 ms this way against 5.9–11.9 ms through im2col tiles at batch 128, 7×7×512 → 64 at batch 32 6.5–7.4
    /// against 7.8–8.8 ms, 14×14×256 → 64 11.5–13.0 against 12.9–14.7 ms (one process, alternating, medians of 30).
    /// </remarks>
    internal static bool RunsDirectPays(ConvGeometry g)
    {
        if (GemmMicroKernel.Selected != GemmMicroKernel.Isa.Avx512 || g.Groups != 1 || g.DilationW != 1 || g.K <= GemmMicroKernel.NR || g.Q < RunPixels)
            return false;
        int computed = (g.Q + RunPixels - 1) / RunPixels * RunPixels;
        long depth = (long)g.R * g.S * g.C;
        return depth >= RunsMinimumDepth && depth * GemmMicroKernel.NR * sizeof(float) <= 1 << 20 && g.Q * 8 >= computed * 7;
    }

    /// <summary>
    /// The shallowest kernel (R·S·C) that <see cref="ForwardRuns"/> takes: each call's start and stores are then a small
    /// part of it. ResNet18's 1×1 stride-2 64 → 128 shortcut (depth 64) ran 0.17–0.23 ms that way against 0.13–0.18 ms
    /// through im2col; its 256 → 512 one (depth 256) 0.15 against 0.17 ms.
    /// </summary>
    private const int RunsMinimumDepth = 256;

    /// <summary>
    /// Direct forward for layers with many filters (<see cref="RunsDirectPays"/>), with no im2col: every output row is cut
    /// into runs of seven pixels (the last one overlapping the one before when Q is not a multiple of seven), and
    /// <see cref="GemmMicroKernel.Avx512TwoRuns"/> computes two runs at a time (an odd last run alone) against one 32-filter panel of the kernel,
    /// its accumulators in registers over the whole depth R·S·C, reading each kernel row's pixel windows (S·C contiguous
    /// inputs) in place from the input, copied once with the layer's padding along both axes and, for 256 or 512
    /// channels, with its pixels spaced (<see cref="RunPixelStride"/>; the windows are then S pieces of C). Two runs may be two rows of a
    /// 7×7 map or two images, so small maps fill the fourteen-row kernel. Tasks are a chunk of pairs against one panel;
    /// the panel (at most 1 MB) stays in L2 across its chunk.
    /// </summary>
    /// <remarks>
    /// ResNet18 at batch 1 ran its 14×14 and 7×7 convolutions through im2col of the whole image and a GEMM in blocks of
    /// 128 of the depth, storing and reloading C at each block.
    /// </remarks>
    private static void ForwardRuns(
        float* x,       // [N, H, W, C]
        float* w,       // [R, S, C, K]
        ConvGeometry g,
        float* y,       // [N, P, Q, K]
        OutputEpilogue e,
        WeightPacking packing)
    {
        int NR = GemmMicroKernel.NR;  // 32: the kernel's width on AVX-512
        int length = g.S * g.C, depth = g.R * length, panels = (g.K + NR - 1) / NR;
        var layout = new PackedLayout(PackedForm.Panels, g.K, depth, 1, depth, (long)panels * NR * depth);
        float* packedB = packing.Get(layout, new DirectPacker(w, depth, g.K, narrow: false, panels), &KernelBuffers.PackB, out var kept);

        int paddedHeight = g.H + g.PadTop + g.PadBottom, paddedWidth = g.W + g.PadLeft + g.PadRight, pixelStride = RunPixelStride(g.C);
        float* source = x;
        if (paddedHeight != g.H || paddedWidth != g.W || pixelStride != g.C)
        {
            source = KernelBuffers.PaddedInput(checked(g.N * paddedHeight * paddedWidth * pixelStride));
            Pad(x, g, source, height: true, pixelStride);
        }
        // Each kernel row's window is one piece of S·C floats where the pixels lie C apart, else S pieces of C.
        var windows = pixelStride == g.C
            ? new RunWindows(g.R, 1, (nint)g.DilationH * paddedWidth * pixelStride, 0, length, (nint)g.StrideW * pixelStride)
            : new RunWindows(g.R, g.S, (nint)g.DilationH * paddedWidth * pixelStride, pixelStride, g.C, (nint)g.StrideW * pixelStride);
        int runsPerRow = (g.Q + RunPixels - 1) / RunPixels, runs = g.N * g.P * runsPerRow, pairs = (runs + 1) / 2;
        // Chunks of pairs small enough that each thread gets two tasks and a chunk's inputs stay near 256 KB.
        long inputBytes = (long)g.N * paddedHeight * paddedWidth * g.C * sizeof(float);
        int chunks = (int)Math.Min(pairs, Math.Max((2 * KernelThreads.Available + panels - 1) / panels, inputBytes >> 18));
        int pairsPerChunk = (pairs + chunks - 1) / chunks;
        chunks = (pairs + pairsPerChunk - 1) / pairsPerChunk;
        KernelThreads.For(chunks * panels,
            new RunChunks(g, source, y, packedB, windows, depth, panels, pairs, pairsPerChunk, runs, runsPerRow, paddedHeight, paddedWidth, pixelStride));
        GC.KeepAlive(kept);
        e.Apply(y, (nint)g.N * g.P * g.Q, g.K);
    }

    /// <summary><see cref="ForwardRuns"/>: task t is chunk t / panels of the pairs of runs against the kernel's panel t % panels.</summary>
    private readonly struct RunChunks(ConvGeometry g, float* source, float* y, float* packedB, RunWindows windows, int depth, int panels,
        int pairs, int pairsPerChunk, int runs, int runsPerRow, int paddedHeight, int paddedWidth, int pixelStride)
        : KernelThreads.IItems
    {
        public void Run(int task)
        {
            int NR = GemmMicroKernel.NR;  // 32: the kernel's width on AVX-512
            int chunk = task / panels, jr = task % panels * NR, nr = Math.Min(NR, g.K - jr);
            float* bPanel = packedB + (nint)jr * depth;
            float* tile = stackalloc float[2 * RunPixels * NR];
            int last = Math.Min(pairs, (chunk + 1) * pairsPerChunk);
            for (int pair = chunk * pairsPerChunk; pair < last; pair++)
            {
                int first = 2 * pair, second = Math.Min(first + 1, runs - 1);
                float* a = RunStart(source, g, paddedHeight, paddedWidth, pixelStride, runsPerRow, first, out nint firstOutput);
                float* a2 = RunStart(source, g, paddedHeight, paddedWidth, pixelStride, runsPerRow, second, out nint secondOutput);
                float* c = y + firstOutput * g.K + jr;
                nint secondC = (secondOutput - firstOutput) * g.K;
                // The last panel is partly padding: through a scratch tile, then its nr columns.
                float* target = nr == NR ? c : tile;
                nint targetStep = nr == NR ? g.K : NR;
                if (second == first) GemmMicroKernel.Avx512OneRun(windows, a, bPanel, target, targetStep);
                else GemmMicroKernel.Avx512TwoRuns(windows, a, (nint)(a2 - a), bPanel, target, nr == NR ? secondC : RunPixels * NR, targetStep);
                if (nr < NR)
                    for (int i = 0; i < (second == first ? RunPixels : 2 * RunPixels); i++)
                    {
                        float* row = (i < RunPixels ? c : c + secondC) + (nint)(i % RunPixels) * g.K;
                        new ReadOnlySpan<float>(tile + i * NR, nr).CopyTo(new Span<float>(row, nr));
                    }
            }
        }
    }

    /// <summary>
    /// The window of run <paramref name="run"/>'s first pixel in kernel row 0, in the (padded) input, and the index of that
    /// pixel in the output [N·P·Q]. Run j of output row (n, p) starts at q = min(7j, Q − 7).
    /// </summary>
    private static float* RunStart(float* source, ConvGeometry g, int paddedHeight, int paddedWidth, int pixelStride, int runsPerRow, int run, out nint outputPixel)
    {
        int outputRow = run / runsPerRow, q = Math.Min(run % runsPerRow * RunPixels, g.Q - RunPixels);
        int n = outputRow / g.P, p = outputRow % g.P;
        outputPixel = (nint)outputRow * g.Q + q;
        return source + (((nint)n * paddedHeight + p * g.StrideH) * paddedWidth + q * g.StrideW) * pixelStride;
    }

    /// <summary>
    /// Floats from one pixel to the next in <see cref="ForwardRuns"/>'s copy of the input: C, or C + 16 when C is a
    /// multiple of 256. Pixels a multiple of 1 KB apart put a run's seven rows into at most four of L1's 64 sets (two
    /// for C = 512), where the kernel's rows evict each other; a 7×7×512 → 512 convolution ran 4–10 % faster per
    /// multiply-add with C = 496 than with 512.
    /// </summary>
    private static int RunPixelStride(int c) => c % 256 == 0 ? c + 16 : c;

    /// <summary>The kernel [depth, K] as <see cref="ForwardDirect"/> reads it: 16-wide for the narrow kernel, else in panels of NR.</summary>
    private static void PackDirect(float* w, int depth, int k, bool narrow, int panels, float* packed)
    {
        if (narrow) PackNarrow(w, depth, k, packed);
        else GemmPacking.PackB(false, depth, k, w, k, 0, panels, packed);
    }

    /// <summary><see cref="PackDirect"/> for <see cref="WeightPacking.Get"/>.</summary>
    private readonly struct DirectPacker(float* w, int depth, int k, bool narrow, int panels) : PackedWeights.IPacker
    {
        public void Pack(float* destination) => PackDirect(w, depth, k, narrow, panels, destination);
    }

    /// <summary>
    /// Floats per kernel row (S·C) from which <see cref="ForwardDirect"/> copies only its edge pixels' windows rather than
    /// padding the whole input first: ResNet's 3×3 × 64 (192) ran 3–13 % faster that way, forward and for the input
    /// gradient, a 28×28×32 → 64 5×5 one (160) the same, and the tutorial CNN's 5×5 × 1 first layer (5) 18 % slower, where each
    /// window is a few floats and the copies' own cost is most of it.
    /// </summary>
    private const int EdgeWindowsRun = 128;

    /// <summary>
    /// Points <paramref name="shifted"/>[r] at the window of pixel q in kernel row r, from which the direct kernels read
    /// pixels q … q + count − 1 at steps of sw·C (null where the row lies in the padding): in the input row itself
    /// (<paramref name="bases"/>[r]) when the windows stay inside it, otherwise in <paramref name="edge"/>, a copy of
    /// input columns q·sw − padLeft … (q + count − 1)·sw − padLeft + S − 1 with zeros for those outside the row.
    /// </summary>
    private static void PointWindows(float** bases, float** shifted, int q, int count, ConvGeometry g, float* edge)
    {
        int first = q * g.StrideW - g.PadLeft, last = (q + count - 1) * g.StrideW - g.PadLeft + g.S - 1;
        bool inside = first >= 0 && last < g.W;
        int span = last - first + 1, from = Math.Max(first, 0), to = Math.Min(last, g.W - 1);
        for (int r = 0; r < g.R; r++)
        {
            if (bases[r] == null) shifted[r] = null;
            else if (inside) shifted[r] = bases[r] + (nint)first * g.C;
            else
            {
                float* window = edge + (nint)r * span * g.C;
                if (from > to) new Span<float>(window, span * g.C).Clear();
                else
                {
                    int left = (from - first) * g.C, copied = (to - from + 1) * g.C;
                    new Span<float>(window, left).Clear();
                    new ReadOnlySpan<float>(bases[r] + (nint)from * g.C, copied).CopyTo(new Span<float>(window + left, copied));
                    new Span<float>(window + left + copied, span * g.C - left - copied).Clear();
                }
                shifted[r] = window;
            }
        }
    }

    /// <summary>
    /// Whole blocks of <paramref name="width"/> pixels from pixel <paramref name="q"/> on whose windows lie inside the
    /// input row (none in the padding columns): pixel q' reads columns q'·sw − padLeft … q'·sw − padLeft + S − 1.
    /// </summary>
    private static int InsideBlocks(ConvGeometry g, int q, int width)
    {
        if (q * g.StrideW < g.PadLeft) return 0;
        int lastInside = (g.W - g.S + g.PadLeft) / g.StrideW;      // the last pixel whose window ends inside the row
        return Math.Max(0, Math.Min(g.Q - q, lastInside - q + 1) / width);
    }

    private static void Wide(int rows, int segments, float** bases, int length, nint rowStep, float* b, float* c, nint ldc)
    {
        if (rows == 14) GemmMicroKernel.Avx512SegmentsRows14(segments, bases, length, rowStep, b, c, ldc);
        else GemmMicroKernel.Avx512SegmentsRows12(segments, bases, length, rowStep, b, c, ldc);
    }

    /// <summary>
    /// Pixels per block of the 32-filter AVX-512 direct kernel for rows of <paramref name="q"/> pixels: fourteen or
    /// twelve, whichever computes fewer pixels (<see cref="BlockPixelsComputed"/>), fourteen when equal, as its kernel
    /// runs faster. ResNet's rows of 56, 28 and 14 pixels take fourteen; a row of 30 takes 12 + 12 + 6.
    /// </summary>
    internal static int WideBlockPixels(int q) => BlockPixelsComputed(q, 14) <= BlockPixelsComputed(q, 12) ? 14 : 12;

    /// <summary>
    /// Pixels a row of <paramref name="q"/> computes in blocks of <paramref name="width"/>: whole blocks, then a rest of
    /// more than six as one more (overlapping) block, a shorter rest as a six-pixel block.
    /// </summary>
    private static int BlockPixelsComputed(int q, int width)
    {
        const int MR = GemmMicroKernel.MR;
        if (q < width) return int.MaxValue;
        int rest = q % width;
        return q / width * width + (rest == 0 ? 0 : rest > MR ? width : MR);
    }

    private static void Segments(bool narrow, int segments, float** bases, int length, nint rowStep, int rows, float* b, float* c, nint ldc)
    {
        if (narrow) GemmMicroKernel.Avx2Segments(segments, bases, length, rowStep, rows, b, c, ldc, overwrite: true);
        else GemmMicroKernel.Segments(segments, bases, length, rowStep, rows, b, c, ldc, overwrite: true);
    }

    /// <summary>Packs w [depth, K ≤ 16] as one 16-wide panel, b[p·16 + j], zero past K.</summary>
    private static void PackNarrow(float* w, int depth, int k, float* packed)
    {
        int nr = GemmMicroKernel.NR256;
        for (int p = 0; p < depth; p++)
            for (int j = 0; j < nr; j++) packed[p * nr + j] = j < k ? w[p * k + j] : 0f;
    }

    /// <summary>At most this many filters take the dot-product forward (a 16-wide register block would be mostly padding).</summary>
    private const int DotFilterLimit = 4;

    /// <summary>
    /// Forward for very few filters on <see cref="IsRowContiguous"/> shapes: out[n,p,q,k] = Σ_r dot(the run of S·C
    /// inputs under kernel row r, w[r,·,·,k]), the runs read in place 8 at a time (the last 8 masked, so nothing
    /// past the run is read), four pixels at once for independent FMA chains.
    /// </summary>
    private static void ForwardDot(
        float* x,       // [N, H, W, C]
        float* w,       // [R, S, C, K]
        ConvGeometry g,
        float* y,       // [N, P, Q, K]
        OutputEpilogue e)
    {
        int length = g.S * g.C, vectors = (length + 7) / 8, full = vectors - 1, stride = vectors * 8;
        // weights[(k·R + r)·stride + j] = w[r, j / C, j % C, k], zero past the run.
        float* weights = KernelBuffers.PackB(g.K * g.R * stride);
        for (int k = 0; k < g.K; k++)
            for (int r = 0; r < g.R; r++)
                for (int j = 0; j < stride; j++)
                    weights[(k * g.R + r) * stride + j] = j < length ? w[((nint)r * length + j) * g.K + k] : 0f;
        int tail = length - full * 8;
        var mask = Vector256.LessThan(Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7), Vector256.Create(tail)).AsSingle();
        nint rowStep = (nint)g.StrideW * g.C;
        KernelThreads.For(g.N * g.P, new DotRows(x, g, y, e, weights, stride, full, mask, rowStep));
    }

    /// <summary><see cref="ForwardDot"/>: one output row.</summary>
    private readonly struct DotRows(float* x, ConvGeometry g, float* y, OutputEpilogue e, float* weights, int stride, int full,
        Vector256<float> mask, nint rowStep)
        : KernelThreads.IItems
    {
        public void Run(int outputRow)
        {
            int n = outputRow / g.P, p = outputRow % g.P;
            float** bases = stackalloc float*[g.R];
            int* rows = stackalloc int[g.R];
            int count = 0;
            for (int r = 0; r < g.R; r++)
            {
                int h = p * g.StrideH - g.PadTop + r * g.DilationH;
                if ((uint)h < (uint)g.H) { bases[count] = x + (nint)(n * g.H + h) * g.W * g.C; rows[count++] = r; }
            }
            float* yRow = y + (nint)outputRow * g.Q * g.K;
            for (int k = 0; k < g.K; k++)
            {
                float bias = e.Bias == null ? 0f : e.Bias[k], factor = e.Scale == null ? 1f : e.Scale[k];
                int q = 0;
                for (; q <= g.Q - 4; q += 4)
                {
                    Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
                    for (int t = 0; t < count; t++)
                    {
                        float* a = bases[t] + q * rowStep;
                        float* wr = weights + (k * g.R + rows[t]) * stride;
                        for (int v = 0; v < full; v++)
                        {
                            var wv = Avx.LoadVector256(wr + v * 8);
                            s0 = Fma.MultiplyAdd(Avx.LoadVector256(a + v * 8), wv, s0);
                            s1 = Fma.MultiplyAdd(Avx.LoadVector256(a + rowStep + v * 8), wv, s1);
                            s2 = Fma.MultiplyAdd(Avx.LoadVector256(a + 2 * rowStep + v * 8), wv, s2);
                            s3 = Fma.MultiplyAdd(Avx.LoadVector256(a + 3 * rowStep + v * 8), wv, s3);
                        }
                        var wt = Avx.LoadVector256(wr + full * 8);
                        s0 = Fma.MultiplyAdd(Avx.MaskLoad(a + full * 8, mask), wt, s0);
                        s1 = Fma.MultiplyAdd(Avx.MaskLoad(a + rowStep + full * 8, mask), wt, s1);
                        s2 = Fma.MultiplyAdd(Avx.MaskLoad(a + 2 * rowStep + full * 8, mask), wt, s2);
                        s3 = Fma.MultiplyAdd(Avx.MaskLoad(a + 3 * rowStep + full * 8, mask), wt, s3);
                    }
                    yRow[(nint)q * g.K + k] = Vector256.Sum(s0) * factor + bias;
                    yRow[(nint)(q + 1) * g.K + k] = Vector256.Sum(s1) * factor + bias;
                    yRow[(nint)(q + 2) * g.K + k] = Vector256.Sum(s2) * factor + bias;
                    yRow[(nint)(q + 3) * g.K + k] = Vector256.Sum(s3) * factor + bias;
                }
                for (; q < g.Q; q++)
                {
                    Vector256<float> s0 = default;
                    for (int t = 0; t < count; t++)
                    {
                        float* a = bases[t] + q * rowStep;
                        float* wr = weights + (k * g.R + rows[t]) * stride;
                        for (int v = 0; v < full; v++) s0 = Fma.MultiplyAdd(Avx.LoadVector256(a + v * 8), Avx.LoadVector256(wr + v * 8), s0);
                        s0 = Fma.MultiplyAdd(Avx.MaskLoad(a + full * 8, mask), Avx.LoadVector256(wr + full * 8), s0);
                    }
                    yRow[(nint)q * g.K + k] = Vector256.Sum(s0) * factor + bias;
                }
            }
            e.WithoutBiasAndScale.ApplyHere(yRow, g.Q, g.K);
        }
    }

    /// <summary>
    /// Shapes the direct forward handles: one group, no dilation or padding along W, and few filters (with many,
    /// the blocked GEMM reuses each gathered column tile better than the direct kernel reuses the input).
    /// </summary>
    private static bool IsRowContiguous(ConvGeometry g) =>
        g.Groups == 1 && g.DilationW == 1 && g.PadLeft == 0 && g.PadRight == 0 && g.K <= 2 * GemmMicroKernel.NR && g.R <= 64;

    /// <summary>
    /// Whether a kernel deeper than KC still goes direct, through the fourteen- or twelve-pixel AVX-512 kernel
    /// (<see cref="WideBlockPixels"/>). Its packed kernel (R·S·C × K) streams from L2 once per block of pixels, so it must
    /// fit there (512 KB), and an output row's pixels must fill the blocks well: Q = 56, 28 and 14 fill fourteen-pixel
    /// blocks exactly; Q = 30 runs as 12 + 12 + 6 (100 %); with twelve-pixel blocks only, Q = 14 had run as 12 + 2 costing
    /// 6 (78 %), where im2col tiles measured 8 % faster. Below 12 pixels there is no such block at all. ResNet's
    /// 56×56×64 → 64 3×3 convolution ran 2–9 % faster direct than through im2col with twelve-pixel blocks, forward and
    /// for the input gradient.
    /// </summary>
    internal static bool WideBlocksDirectPays(ConvGeometry g)
    {
        if (GemmMicroKernel.Selected != GemmMicroKernel.Isa.Avx512 || g.K <= GemmMicroKernel.NR256 || g.Q < 12) return false;
        long kernelBytes = (long)g.R * g.S * g.C * ((g.K + GemmMicroKernel.NR - 1) / GemmMicroKernel.NR * GemmMicroKernel.NR) * sizeof(float);
        int computed = BlockPixelsComputed(g.Q, WideBlockPixels(g.Q));
        return kernelBytes <= 512 << 10 && g.Q * 10 >= computed * 9;
    }

    /// <summary>
    /// The geometry of the same convolution on an input padded along W beforehand (<see cref="Pad"/>), when that
    /// makes it <see cref="IsRowContiguous"/>: the direct kernel then reads R runs of S·C inputs per pixel, where im2col
    /// would first write R·S·C values per pixel. (With S·C ≥ <see cref="EdgeWindowsRun"/> the forward pads only the edge
    /// pixels' windows instead of the whole input, and runs on the original geometry.) Null when the shape is not otherwise row-contiguous, or when the
    /// packed kernel (R·S·C × NR) would not fit the GEMM's KC (unless <see cref="WideBlocksDirectPays"/>): past that the
    /// six-pixel direct kernel streams it from L2 for every six pixels, and im2col plus the blocked GEMM measured as fast
    /// or faster (C = 32 and 64 on Skylake-SP), while
    /// the C = 1 first layer of a CNN runs about 3× faster direct. A few filters (the input gradient of that layer, run as
    /// a forward convolution with one filter) always take the padded path: the dot-product kernel has no packed panel.
    /// </summary>
    private static ConvGeometry? WidthPadded(ConvGeometry g)
    {
        if (g.PadLeft == 0 && g.PadRight == 0) return null;
        if (g.R * g.S * g.C > Gemm.Blocks.KC && !(g.K <= DotFilterLimit && Fma.IsSupported) && !WideBlocksDirectPays(g)) return null;
        var t = new ConvGeometry(g.N, g.H, g.W + g.PadLeft + g.PadRight, g.C, g.K, g.R, g.S, g.StrideH, g.StrideW, g.DilationH, g.DilationW,
            g.PadTop, 0, g.PadBottom, 0, g.Groups);
        return IsRowContiguous(t) && t.Q == g.Q ? t : null;
    }

    /// <summary>
    /// padded[n, top + h, padLeft + w, c] = in[n, h, w, c], zero in the padLeft and padRight columns of every row; with
    /// <paramref name="height"/> set, top = padTop and the padTop and padBottom rows of every image are zero rows too,
    /// otherwise top = 0 and there are none. Pixels lie <paramref name="pixelStride"/> floats apart (C by default); the
    /// floats between an inner pixel's C channels and the next pixel are left as they were (no kernel reads them).
    /// </summary>
    private static void Pad(
        float* x,           // [N, H, W, C]
        ConvGeometry g,
        float* padded,      // [N, top + H + bottom, padLeft + W + padRight, pixelStride]
        bool height,
        int pixelStride = 0)
    {
        if (pixelStride == 0) pixelStride = g.C;
        int top = height ? g.PadTop : 0, paddedHeight = g.H + top + (height ? g.PadBottom : 0);
        int rowLength = g.W * g.C, left = g.PadLeft * pixelStride, right = g.PadRight * pixelStride;
        int paddedLength = left + g.W * pixelStride + right;
        int rows = g.N * paddedHeight, parts = Math.Min(KernelThreads.Available, Math.Max(1, (int)((long)rows * paddedLength >> 16)));
        KernelThreads.For(parts, new PadRows(x, g, padded, rows, parts, paddedHeight, paddedLength, top, rowLength, left, right, pixelStride));
    }

    /// <summary><see cref="Pad"/>: part i writes its range of the padded rows.</summary>
    private readonly struct PadRows(float* x, ConvGeometry g, float* padded, int rows, int parts, int paddedHeight, int paddedLength, int top,
        int rowLength, int left, int right, int pixelStride)
        : KernelThreads.IItems
    {
        public void Run(int part)
        {
            var (first, last) = KernelThreads.Range(rows, parts, part);
            for (int row = first; row < last; row++)
            {
                float* target = padded + (nint)row * paddedLength;
                int n = row / paddedHeight, h = row % paddedHeight - top;
                if ((uint)h >= (uint)g.H) { new Span<float>(target, paddedLength).Clear(); continue; }
                float* source = x + ((nint)n * g.H + h) * rowLength;
                new Span<float>(target, left).Clear();
                if (pixelStride == g.C) new ReadOnlySpan<float>(source, rowLength).CopyTo(new Span<float>(target + left, rowLength));
                else
                    for (int w = 0; w < g.W; w++)
                        new ReadOnlySpan<float>(source + (nint)w * g.C, g.C).CopyTo(new Span<float>(target + left + (nint)w * pixelStride, g.C));
                new Span<float>(target + left + (nint)g.W * pixelStride, right).Clear();
            }
        }
    }

    /// <summary>
    /// A 1×1, unpadded, ungrouped convolution with strides whose output rows fill the AVX-512 in-place kernel's row tiles:
    /// each output row's pixels are input pixels at a fixed stride, a GEMM operand read in place
    /// (<see cref="ForwardStridedPointwise"/>, <see cref="BackwardInputStridedPointwise"/>).
    /// </summary>
    /// <remarks>
    /// A GEMM per output row is as short as the row. Where its pixels leave a partial tile, that tile costs nearly a whole
    /// one: ResNet's 14×14×256 → 512 shortcut (Q = 7) took 4.3–6.5 ms for its input gradient this way against 2.6–3.6
    /// through col2im, and with AVX2's six-row tiles every shape measured slower (56 → 28 pixels, 64 → 128 channels,
    /// batch 32: forward 5.6 against 4.9 ms). Rows that fill tiles (Q = 14, 28) were faster (below).
    /// </remarks>
    private static bool IsStridedPointwise(ConvGeometry g) =>
        g.R == 1 && g.S == 1 && g.Groups == 1 && (g.StrideH > 1 || g.StrideW > 1) &&
        g.PadTop == 0 && g.PadLeft == 0 && g.PadBottom == 0 && g.PadRight == 0 && RowsFillWideTiles(g.Q);

    /// <summary>
    /// Whether <paramref name="rows"/> rows of A read in place run as whole AVX-512 tiles
    /// (<see cref="GemmMacroKernel.WideTileRows"/>, then six-row tiles) with no partial tile.
    /// </summary>
    internal static bool RowsFillWideTiles(int rows)
    {
        if (GemmMicroKernel.Selected != GemmMicroKernel.Isa.Avx512 || rows < 12) return false;
        int left = rows;
        for (int tile; (tile = GemmMacroKernel.WideTileRows(left)) > 0;) left -= tile;
        return left % GemmMicroKernel.MR == 0;
    }

    /// <summary>A 1×1, stride-1, unpadded convolution: the input already is the column matrix.</summary>
    private static bool IsPointwise(ConvGeometry g) =>
        g.R == 1 && g.S == 1 && g.StrideH == 1 && g.StrideW == 1 && g.PadTop == 0 && g.PadLeft == 0 && g.PadBottom == 0 && g.PadRight == 0;

    /// <summary>
    /// <paramref name="rows"/> output rows per tile, or fewer when the tiles then divide evenly among the threads and each
    /// tile's rows of pixels fill whole register blocks (12 on AVX-512, else 6). A batch-1 28×28×128 → 128 layer in tiles
    /// of 6 rows makes five: one of two threads computes three while the other waits. Tiles of 3 rows (84 pixels, seven
    /// blocks of 12) make ten, five each: 8–9 % faster. Tiles of 5 rows (140 pixels, 11 blocks and 8 left over) were
    /// slower than the five tiles. Only for fewer tiles than four per thread; past that the last round is a small part.
    /// </summary>
    internal static int BalancedRowsPerTile(ConvGeometry g, int rows, int threads)
    {
        int tiles = g.N * ((g.P + rows - 1) / rows);
        if (threads < 2 || tiles % threads == 0 || tiles >= 4 * threads) return rows;
        int block = GemmMicroKernel.Selected == GemmMicroKernel.Isa.Avx512 ? 12 : GemmMicroKernel.MR;
        for (int fewer = rows - 1; fewer >= 1; fewer--)
        {
            int count = g.N * ((g.P + fewer - 1) / fewer);
            if (count >= 8 * threads) break;
            if (count % threads == 0 && fewer * g.Q % block == 0) return fewer;
        }
        return rows;
    }

    /// <summary>
    /// <paramref name="rows"/> output rows per im2col tile, or fewer (down to half) whose pixels fill whole blocks of the
    /// six-row in-place kernel, without AVX-512 (whose kernels take blocks of 12 to 14 and a rest of six). The tutorial
    /// CNN's 5×5 input gradient (14 × 14 × 64 → 32) made tiles of 4 rows, 56 pixels: nine blocks and a rest of two,
    /// which runs at a fraction of the kernel's rate; tiles of 3 rows are seven whole blocks. With AVX-512 off, 100
    /// images, the two alternating in one process: 26.2–26.5 against 27.5–28.0 ms, and 17.6 against 18.0 ms. The bits do
    /// not depend on the tiles.
    /// </summary>
    internal static int WholeBlockRows(ConvGeometry g, int rows)
    {
        const int block = GemmMicroKernel.MR;
        if (GemmMicroKernel.Selected == GemmMicroKernel.Isa.Avx512 || rows * g.Q % block == 0) return rows;
        for (int fewer = rows - 1; fewer >= Math.Max(1, (rows + 1) / 2); fewer--)
            if (fewer * g.Q % block == 0) return fewer;
        return rows;
    }

    /// <summary>Output pixels an im2col tile of whole images (<see cref="ImagesPerTile"/>) reaches at least: eight blocks of 12.</summary>
    private const int MinTilePixels = 96;

    /// <summary>
    /// Whole images per im2col tile, for maps whose image is one tile of fewer than <see cref="MinTilePixels"/> pixels:
    /// as many as reach that, yet at least two tiles per thread and at most <see cref="WholeColumnsBudget"/> floats of
    /// columns; else 1. The tile's GEMM reads the whole packed kernel for its rows, so a tile of 4 or 16 pixels (the 2×2
    /// and 4×4 maps at the end of a CIFAR-sized VGG or ResNet) paid for that read with a few register tiles of work.
    /// </summary>
    /// <remarks>
    /// Batch 128, 512 → 512 channels, one image per tile against tiles of about 96 pixels, alternating in one process
    /// (AVX-512, medians of 15): 2×2 maps 37–44 against 13–14 ms, 4×4 maps 50–53 against 41–42 ms, 3×3 maps with 256
    /// channels 9.2 against 5.3 ms; at batch 32 2×2 12.1 against 3.6–3.9 ms with two tiles per thread (4.1–4.5 with four).
    /// Tiles of 48 to 192 pixels measured alike; 8×8 maps (64 pixels) gained nothing (37–39 ms either way). The rows of a
    /// tile's GEMM sum the same blocks of the shared dimension in the same order whatever the rows beside them, so an
    /// image gets the same bits in any tile.
    /// </remarks>
    internal static int ImagesPerTile(ConvGeometry g, int threads)
    {
        int pixels = g.P * g.Q;
        if (g.Groups != 1 || pixels >= MinTilePixels) return 1;
        long imageColumns = (long)pixels * g.R * g.S * g.C;
        long images = Math.Min((MinTilePixels + pixels - 1) / pixels, Math.Min(g.N / (2 * Math.Max(1, threads)), WholeColumnsBudget / imageColumns));
        return (int)Math.Max(1, images);
    }

    /// <summary>Output rows per tile: as many as fit <see cref="ColumnBudget"/>, at least <paramref name="minimum"/> and 1.</summary>
    private static int RowsPerTile(ConvGeometry g, int minimum)
    {
        long perRow = Math.Max(1L, (long)g.Q * g.R * g.S * g.ChannelsPerGroup);
        int rows = (int)Math.Clamp(ColumnBudget / perRow, 1, Math.Max(1, g.P));
        return Math.Max(rows, Math.Max(1, minimum));
    }

    private static void CheckLengths(ConvGeometry g, int inputLength, int kernelLength, int outputLength, string outputName)
    {
        if (inputLength < g.InputSize || kernelLength < g.KernelSize || outputLength < g.OutputSize)
            throw new ArgumentException(
                $"Convolution {g} needs input {g.InputSize}, kernel {g.KernelSize} and {outputName} {g.OutputSize} values; " +
                $"received {inputLength}, {kernelLength} and {outputLength}.");
    }
}
