using ConvKit.Autograd;

namespace ConvKit.Kernels;

// M rows of op(A) and C, N columns of op(B) and C, K the shared dimension (GEMM letters, not the convolution's);
// MR/NR register block, MC/KC/NC cache blocks, mc/kc/nc the sizes of the block at hand.

/// <summary>
/// Block sizes of the BLIS-shaped GEMM. <c>MR × NR</c> is the register block of the micro-kernel. With A read in place
/// (the usual order) a <c>KC × NR</c> micro-panel of B stays in L1, an <c>MC × KC</c> block of A in L2, and a
/// <c>KC × NC</c> block of B in L3. With A packed the roles swap: an <c>MR × KC</c> micro-panel of A stays in L1, a
/// <c>KC × NC</c> block of B in L2 and a chunk of A's rows in L3.
/// </summary>
/// <remarks>
/// Zen 3: 32 KB L1d, 512 KB L2 per core, 32 MB L3. KC = 256: the B micro-panel is 256·16·4 = 16 KB,
/// half of L1, beside a 6 KB A micro-panel. MC = 144: the A block is 144·256·4 = 144 KB, under a third of
/// L2. NC = 4080: the B block is 4 MB. These are BLIS's own Zen 3 single-precision values; they serve the in-place
/// kernels (A not packed).
/// <para>
/// AVX2 with A packed (6 × 16, in the same row chunks against one packing of B as AVX-512):
/// KC = 512 keeps the A micro-panel (6·512·4 = 12 KB) in L1, and NC = 128 makes the B block 512·128·4 = 256 KB, half of
/// Zen 3's L2. With AVX-512 off on Cascade Lake, SGEMM 2048³ ran 6–15 % faster this way than in the order above on one
/// thread and 7–10 % on two (KC = 256 to 1024 and NC = 64 to 256 measured alike).
/// </para>
/// <para>
/// Skylake-SP / Cascade Lake (AVX-512, NR = 32): 32 KB L1d, 1 MB L2 per core, 1.375 MB of non-inclusive L3 per core.
/// KC = 128: the B micro-panel is 128·32·4 = 16 KB beside a 3 KB A micro-panel, half of L1 (KC = 192 and 256 measured slower).
/// MC = 960: the A block is 960·128·4 = 480 KB, half of L2. NC = 2048: the B block is 128·2048·4 = 1 MB,
/// which L2 holds beside the A block of one thread. These serve the in-place kernels (A not packed).
/// </para>
/// <para>
/// Skylake-SP with A packed (12 × 32, the order of BLIS's own Skylake-X kernel): KC = 1024
/// reads and writes each C tile once per 1024 steps, and calls the micro-kernel (whose start and end cost it about
/// 9 % of its time at KC = 384) a third as often. Its A micro-panel (48 KB) no longer stays in L1, but it did not before
/// either: the B micro-panel streaming past evicted it. NC = 128 makes the B block 1024·128·4 = 512 KB of the 1 MB L2,
/// which every A micro-panel of a row chunk (Gemm's ChunkABytes) runs against in turn. With A packed, MC is not used: the
/// row chunks bound a block of A, and a wide product (split by columns) packs all of its rows, usually few (a dense
/// layer's batch).
/// On SGEMM 1024³ and 2048³ KC = 1024 with NC = 128 measured 2–8 % faster than KC = 384 with NC = 256–480, on one
/// thread and on two.
/// </para>
/// </remarks>
internal sealed record GemmBlockSizes(int MR, int NR, int MC, int KC, int NC)
{
    public static GemmBlockSizes Zen3 { get; } = new(GemmMicroKernel.MR, 16, 144, 256, 4080);

    public static GemmBlockSizes SkylakeSP { get; } = new(GemmMicroKernel.MR, 32, 960, 128, 2048);

    public static GemmBlockSizes SkylakeSPPacked { get; } = new(12, 32, 2400, 1024, 128);

    public static GemmBlockSizes Avx2Packed { get; } = new(GemmMicroKernel.MR, 16, 2400, 512, 128);

    /// <summary>The sizes for the micro-kernel this process runs, with A read in place.</summary>
    public static GemmBlockSizes ForSelectedKernel =>
        GemmMicroKernel.Selected == GemmMicroKernel.Isa.Avx512 ? SkylakeSP : Zen3;

    /// <summary>The sizes for the micro-kernel this process runs, with A packed.</summary>
    public static GemmBlockSizes ForSelectedKernelPacked =>
        GemmMicroKernel.Selected == GemmMicroKernel.Isa.Avx512 ? SkylakeSPPacked : Avx2Packed;
}

/// <summary>
/// Fast single-precision matrix multiplication, row-major, with the semantics of
/// <see cref="GemmReference.Multiply"/>: <c>C[m,n] (+)= Σ_k op(A)[m,k] · op(B)[k,n]</c>.
/// </summary>
/// <remarks>
/// The five loops of BLIS. With A read in place: the 5th loop steps over NC columns of C, the 4th over KC of the shared
/// dimension (packing that block of B once), the 3rd over MC rows; the macro-kernel holds the 2nd and 1st loops over NR
/// and MR, and the micro-kernel the loop over KC. Threads take shares of C's rows or, for short wide products, of its
/// columns. A product whose A is packed runs the A micro-panels outside the B micro-panels instead
/// (<c>MultiplyPacked</c>): the threads take chunks of C's rows against one packing of B, or chunks of its columns against one
/// packing of A.
/// Transposed operands are read in place by the packing routines. Every element of C is computed by one thread in one
/// fixed order, so the result does not depend on the number of threads.
/// </remarks>
internal static unsafe class Gemm
{
    /// <summary>Block sizes with A read in place (the in-place kernels' depth limits are read from here).</summary>
    public static GemmBlockSizes Blocks { get; } = GemmBlockSizes.ForSelectedKernel;

    /// <summary>Block sizes with A packed.</summary>
    public static GemmBlockSizes PackedBlocks { get; } = GemmBlockSizes.ForSelectedKernelPacked;

    /// <summary>Below this many multiply-adds a product runs on one thread.</summary>
    private const long ParallelThreshold = 64 * 64 * 64;

    public static void Multiply(
        bool transposeA, bool transposeB, int m, int n, int k,
        ReadOnlySpan<float> a, int lda,     // [M, K] (lda ≥ K), or [K, M] (lda ≥ M) when transposed
        ReadOnlySpan<float> b, int ldb,     // [K, N] (ldb ≥ N), or [N, K] (ldb ≥ K) when transposed
        Span<float> c, int ldc,             // [M, N] (ldc ≥ N)
        bool accumulate)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentException($"GEMM sizes must not be negative; received m={m}, n={n}, k={k}.");
        if (m == 0 || n == 0) return;
        Check("C", c.Length, m, n, ldc);
        if (k > 0)
        {
            if (transposeA) Check("A", a.Length, k, m, lda); else Check("A", a.Length, m, k, lda);
            if (transposeB) Check("B", b.Length, n, k, ldb); else Check("B", b.Length, k, n, ldb);
        }
        fixed (float* pa = a, pb = b, pc = c)
            Multiply(transposeA, transposeB, m, n, k, pa, lda, pb, ldb, pc, ldc, accumulate);
    }

    private static void Check(string name, int length, int rows, int columns, int stride)
    {
        if (stride < columns || (long)(rows - 1) * stride + columns > length)
            throw new ArgumentException(
                $"GEMM operand {name} needs {rows} rows of {columns} with stride {stride}; received stride {stride} and {length} elements.");
    }

    /// <summary>
    /// The unchecked core on raw pointers; callers guarantee the extents. <paramref name="inPlaceA"/> skips packing A
    /// and reads it where it lies, for callers whose A is already a compact, cache-resident tile (im2col columns).
    /// </summary>
    public static void Multiply(
        bool transposeA, bool transposeB, int m, int n, int k,
        float* a, nint lda, float* b, nint ldb, float* c, nint ldc, bool accumulate, bool inPlaceA = false)
    {
        if (m == 0 || n == 0) return;
        if (k == 0)
        {
            if (!accumulate) for (int i = 0; i < m; i++) new Span<float>(c + i * ldc, n).Clear();
            return;
        }
        int NR = GemmMicroKernel.NR;
        int threads = (long)m * n * k >= ParallelThreshold ? KernelThreads.Available : 1;
        // A is read in place when a packed block would feed a single micro-panel of B (no reuse to pay for packing).
        bool packA = n > NR && !inPlaceA;
        if (OpTrace.Level >= 2 && !KernelThreads.InParallel)
            OpTrace.Kernel($"GEMM {m}×{n}×{k}{(transposeA ? " Aᵀ" : "")}{(transposeB ? " Bᵀ" : "")}: {GemmMicroKernel.Selected} " +
                (packA ? $"{GemmMicroKernel.PackedMR}×{GemmMicroKernel.NR} packed, threads on row or column chunks" :
                 $"{GemmMicroKernel.MR}×{GemmMicroKernel.NR} with A in place") +
                $", {threads} thread(s)");
        if (packA)
        {
            MultiplyPacked(transposeA, transposeB, m, n, k, a, lda, b, ldb, c, ldc, accumulate, threads);
            return;
        }
        int sharesByRows = Math.Min(threads, (m + GemmMicroKernel.MR - 1) / GemmMicroKernel.MR), sharesByColumns = Math.Min(threads, (n + NR - 1) / NR);
        if (threads > 1 && Math.Max(sharesByRows, sharesByColumns) > 1)
        {
            // A in place: threads take independent shares of C, each packing its own B panels per block of the shared
            // dimension, instead of packing B together with two barriers per block (72 of them for a 7×7×512 → 512
            // convolution; the median of that convolution went from 7.3 to 5.7 ms). Each element still sums the same blocks
            // in the same order.
            // (At least two shares, or the share would come back here: one share runs outside a parallel region.)
            bool byRows = sharesByColumns < 2 || (m >= n && sharesByRows >= 2);
            int parts = byRows ? sharesByRows : sharesByColumns;
            KernelThreads.For(parts, new InPlaceShares(new(transposeA, transposeB, m, n, k, a, lda, b, ldb, c, ldc, accumulate), inPlaceA, byRows, parts));
            return;
        }
        const int MR = GemmMicroKernel.MR;
        var blocks = Blocks;
        nint aRowStep = transposeA ? 1 : lda, aColumnStep = transposeA ? lda : 1;

        for (int jc = 0; jc < n; jc += blocks.NC)                       // 5th loop around the micro-kernel
        {
            int nc = Math.Min(blocks.NC, n - jc);
            int panels = (nc + NR - 1) / NR;
            for (int pc = 0; pc < k; pc += blocks.KC)                   // 4th loop around the micro-kernel
            {
                int kc = Math.Min(blocks.KC, k - pc);
                bool overwrite = pc == 0 && !accumulate;
                float* packedB = KernelBuffers.PackB(panels * NR * kc);
                float* bBlock = transposeB ? b + jc * ldb + pc : b + pc * ldb + jc;
                float* aBlock = transposeA ? a + pc * lda : a + pc;
                float* cBlock = c + jc;

                int packParts = threads > 1 && (long)kc * nc >= 1 << 15 ? Math.Min(threads, panels) : 1;
                KernelThreads.For(packParts, new PackBParts(transposeB, kc, nc, bBlock, ldb, panels, packParts, packedB));

                // Split the 3rd loop (rows) when each thread gets a few micro-panels of A; otherwise the 2nd loop (columns).
                int mPanels = (m + MR - 1) / MR;
                int rowParts = 1, columnParts = 1;
                if (threads > 1)
                {
                    if (mPanels >= 4 * threads || panels < threads) rowParts = Math.Min(threads, mPanels);
                    else columnParts = Math.Min(threads, panels);
                }
                KernelThreads.For(rowParts * columnParts,
                    new InPlaceBlockShares(m, nc, kc, rowParts, columnParts, aBlock, aRowStep, aColumnStep, packedB, cBlock, ldc, overwrite));
            }
        }
    }

    /// <summary>Floats that <see cref="PackWholeB"/> writes for an op(B) of [k, n].</summary>
    public static long WholeBSize(int n, int k) => (long)(n + GemmMicroKernel.NR - 1) / GemmMicroKernel.NR * GemmMicroKernel.NR * k;

    /// <summary>
    /// op(B) [k, n] packed once for many products with the same B (a convolution's kernel against each of its column
    /// tiles): for each block of <see cref="GemmBlockSizes.KC"/> of the shared dimension, all of B's panels
    /// [⌈n/NR⌉, kc, NR], the blocks one after another. <see cref="MultiplyWholeB(int, int, int, float*, nint, float*, float*, nint, bool)"/> reads it.
    /// </summary>
    public static void PackWholeB(bool transposeB, int n, int k, float* b, nint ldb, float* packed) =>
        PackWholeBInBlocks(transposeB, n, k, b, ldb, packed, Blocks.KC);

    /// <summary>
    /// <see cref="PackWholeB(bool, int, int, float*, nint, float*)"/> in blocks of <paramref name="kc"/>; a large B is
    /// packed by all threads, each taking a range of panels in every block, as the threads of an in-place product each
    /// pack their own panels (a 7×7×512 → 512 convolution's kernel is 9 MB).
    /// </summary>
    private static void PackWholeBInBlocks(bool transposeB, int n, int k, float* b, nint ldb, float* packed, int kc)
    {
        int panels = (n + GemmMicroKernel.NR - 1) / GemmMicroKernel.NR;
        int parts = (long)n * k >= ParallelPackFloats ? Math.Min(KernelThreads.Available, panels) : 1;
        KernelThreads.For(parts, new PackWholeBParts(transposeB, n, k, b, ldb, packed, kc, parts));
    }

    /// <summary>A weight matrix [k, n] packed by <see cref="PackWholeBInBlocks"/>, for <see cref="WeightPacking.Get"/>.</summary>
    private readonly struct WholeBPacker(int n, int k, float* w, nint ldw, int kc) : PackedWeights.IPacker
    {
        public void Pack(float* destination) => PackWholeBInBlocks(false, n, k, w, ldw, destination, kc);
    }

    /// <summary>Floats of B (1 MB) from which <see cref="PackWholeBInBlocks"/> packs on all threads.</summary>
    private const int ParallelPackFloats = 1 << 18;

    /// <summary>
    /// C[m, n] = epilogue(A[m, k] · W[k, n]) where W is a layer's weights (row-major, ldw): with A packed (the usual case
    /// of a dense layer or a 1×1 convolution), W is taken packed from <paramref name="packing"/> when it keeps a copy, in
    /// the blocks <see cref="MultiplyPacked"/> would pack it in, so the bits are those of
    /// <see cref="Multiply(bool, bool, int, int, int, float*, nint, float*, nint, float*, nint, bool, bool)"/> followed
    /// by the epilogue. The epilogue (bias, scale, residual, ReLU) runs on each register tile of C as the last block of
    /// the shared dimension stores it: in registers with AVX-512 or AVX2 (edge tiles, and the portable kernel, on the
    /// tile just stored); a product of at most one panel of columns (n ≤ NR, A read in place) applies it afterwards.
    /// </summary>
    /// <remarks>
    /// The epilogue after the whole product read and wrote the output again from memory. A batch-32 56×56×64 → 256 1×1
    /// convolution with scale, bias and ReLU, six alternating processes: 28.8–32.4 ms that way (medians), 16.3–24.2 ms
    /// with the epilogue in the kernel's registers, 15.8–21.1 ms with no epilogue at all. On each thread's chunk of
    /// rows after its product (from L2) it was 22.7–38.7 ms; on each tile as soon as stored, reading back the stores
    /// still on their way to lines that come from memory, no better than a separate pass.
    /// </remarks>
    public static void MultiplyWeights(
        int m, int n, int k, float* a, nint lda, float* w, nint ldw, float* c, nint ldc, WeightPacking packing, in OutputEpilogue epilogue = default)
    {
        if (m == 0 || n <= GemmMicroKernel.NR || k == 0)
        {
            Multiply(false, false, m, n, k, a, lda, w, ldw, c, ldc, accumulate: false);
            if (!epilogue.IsEmpty && m > 0 && n > 0)
            {
                if (ldc == n) epilogue.Apply(c, m, n);
                else epilogue.ApplyHere(c, m, n, ldc);
            }
            return;
        }
        int threads = (long)m * n * k >= ParallelThreshold ? KernelThreads.Available : 1;
        if (OpTrace.Level >= 2 && !KernelThreads.InParallel)
            OpTrace.Kernel($"GEMM {m}×{n}×{k}: {GemmMicroKernel.Selected} {GemmMicroKernel.PackedMR}×{GemmMicroKernel.NR} packed, " +
                (packing.IsCached ? "weights' packing kept between calls, " : "") + "threads on row or column chunks, " +
                (epilogue.IsEmpty ? "" : "epilogue per tile, ") + $"{threads} thread(s)");
        if (!packing.IsCached)
        {
            MultiplyPacked(false, false, m, n, k, a, lda, w, ldw, c, ldc, accumulate: false, threads, null, epilogue);
            return;
        }
        int kc = BlockSize(k, PackedBlocks.KC, 2);
        var layout = new PackedLayout(PackedForm.Panels, n, k, 1, kc, WholeBSize(n, k));
        float* packedW = packing.Get(layout, new WholeBPacker(n, k, w, ldw, kc), &KernelBuffers.SharedB, out var kept);
        MultiplyPacked(false, false, m, n, k, a, lda, w, ldw, c, ldc, accumulate: false, threads, packedW, epilogue);
        GC.KeepAlive(kept);
    }

    /// <summary>
    /// C[m, n] (+)= A[m, k] · B with A read in place (row-major, lda) and B from <see cref="PackWholeB"/>, on the calling
    /// thread: the work of one tile of a parallel convolution. The blocks and their order are those of
    /// <see cref="Multiply(bool, bool, int, int, int, float*, nint, float*, nint, float*, nint, bool, bool)"/> with A in
    /// place on one thread, so the bits are the same; only B is not packed again for every tile.
    /// </summary>
    public static void MultiplyWholeB(int m, int n, int k, float* a, nint lda, float* packedB, float* c, nint ldc, bool accumulate) =>
        MultiplyWholeB(m, 0, n, n, k, a, lda, packedB, c, ldc, accumulate);

    /// <summary>
    /// <see cref="MultiplyWholeB(int, int, int, float*, nint, float*, float*, nint, bool)"/> for C's columns
    /// [<paramref name="columnStart"/>, <paramref name="columnEnd"/>) of <paramref name="n"/> (the start a multiple of NR):
    /// one thread's share of a product whose B was packed whole.
    /// </summary>
    public static void MultiplyWholeB(int m, int columnStart, int columnEnd, int n, int k, float* a, nint lda, float* packedB, float* c, nint ldc, bool accumulate)
    {
        if (m == 0 || columnEnd <= columnStart) return;
        if (k == 0)
        {
            if (!accumulate) for (int i = 0; i < m; i++) new Span<float>(c + i * ldc + columnStart, columnEnd - columnStart).Clear();
            return;
        }
        var blocks = Blocks;
        int panels = (n + GemmMicroKernel.NR - 1) / GemmMicroKernel.NR;
        // Equal MC blocks, each a multiple of MR, as Multiply makes them.
        int blockCount = (m + blocks.MC - 1) / blocks.MC;
        int mc = ((m + blockCount - 1) / blockCount + GemmMicroKernel.MR - 1) / GemmMicroKernel.MR * GemmMicroKernel.MR;
        for (int jc = columnStart; jc < columnEnd; jc += blocks.NC)
        {
            int nc = Math.Min(blocks.NC, columnEnd - jc);
            for (int pc = 0; pc < k; pc += blocks.KC)
            {
                int kc = Math.Min(blocks.KC, k - pc);
                float* bBlock = packedB + (nint)pc * panels * GemmMicroKernel.NR + (nint)jc * kc;
                for (int ic = 0; ic < m; ic += mc)
                    GemmMacroKernel.Strided(Math.Min(mc, m - ic), nc, kc, a + ic * lda + pc, lda, 1, bBlock, c + ic * ldc + jc, ldc,
                        overwrite: pc == 0 && !accumulate);
            }
        }
    }

    /// <summary>
    /// The loops with A packed. A tall C goes to <see cref="MultiplyRowChunks"/>, a short wide one to
    /// <see cref="MultiplyColumnChunks"/>.
    /// </summary>
    /// <remarks>
    /// <paramref name="packedB"/>, when given, is all of op(B) packed as <see cref="PackWholeBInBlocks"/>
    /// packs it in blocks of <c>BlockSize(k, PackedBlocks.KC, 2)</c>: the loops read it instead of packing B. The
    /// <paramref name="epilogue"/> runs on each tile of C in its last block.
    /// </remarks>
    private static void MultiplyPacked(
        bool transposeA, bool transposeB, int m, int n, int k,
        float* a, nint lda, float* b, nint ldb, float* c, nint ldc, bool accumulate, int threads, float* packedB = null,
        in OutputEpilogue epilogue = default)
    {
        int MR = GemmMicroKernel.PackedMR, NR = GemmMicroKernel.NR;
        int aPanels = (m + MR - 1) / MR, bPanels = (n + NR - 1) / NR;
        if ((m >= n && aPanels >= threads) || bPanels < threads)
        {
            MultiplyRowChunks(transposeA, transposeB, m, n, k, a, lda, b, ldb, c, ldc, accumulate, threads, packedB, epilogue);
            return;
        }
        MultiplyColumnChunks(transposeA, transposeB, m, n, k, a, lda, b, ldb, c, ldc, accumulate, threads, packedB, epilogue);
    }

    /// <summary>
    /// Floats of B that <see cref="MultiplyRowChunks"/> packs ahead at most (unless one KC block is more): 24 MB, which the
    /// calling thread's buffer keeps for the next product, as every kernel buffer does.
    /// </summary>
    private const long SharedBLimit = 6L << 20;

    /// <summary>
    /// Bytes of packed A per row chunk in <see cref="MultiplyRowChunks"/> at most (unless one micro-panel is more): 1.3 MB,
    /// 28 micro-panels (336 rows) at KC = 1024, which stays in a 2 MB L2 beside a 512 KB block of B. Each chunk reads all
    /// of B once, so taller chunks read it less often: on Skylake-SP (1 MB of L2), SGEMM 2048³ on one thread was 7–9 %
    /// faster at 768 KB than at 384 KB, and another 4–5 % at 1.5 MB with A prefetched. On the 2 MB-L2 Xeon, two threads,
    /// chunks of at most 1.3 MB against 1.5 MB (both cut as <see cref="RowChunk"/> cuts them): SGEMM 2048³ medians 244–258
    /// against 240–251 GFLOP/s, 1024³ 255 against 248.
    /// </summary>
    private const int ChunkABytes = 1344 << 10;

    /// <summary>
    /// Micro-panels of A in a row chunk at least, unless fewer are left or the product is small (<see cref="RowChunkSize"/>):
    /// smaller chunks read B too often for their work.
    /// </summary>
    private const int MinChunkPanels = 8;

    /// <summary>
    /// <see cref="MultiplyPacked"/> split by rows, with B packed once for all threads: for a group of KC blocks
    /// of the shared dimension, the threads first pack B's panels together, then take chunks of C's rows (several per
    /// thread, largest first, handed out as threads come free: <see cref="RowChunk"/>), each chunk packing its rows of A
    /// and running them against the packed B.
    /// </summary>
    /// <remarks>
    /// Equal row shares, one per thread, each packing all of B, made the slower thread's share the whole product's time;
    /// on a shared two-core host one core often runs at half speed for a while. Small chunks let the other thread take
    /// the work over, and B is packed once instead of once per thread. Every element of C still sums the same KC blocks
    /// in the same order, so the bits do not depend on the chunks or the threads.
    /// </remarks>
    private static void MultiplyRowChunks(
        bool transposeA, bool transposeB, int m, int n, int k,
        float* a, nint lda, float* b, nint ldb, float* c, nint ldc, bool accumulate, int threads, float* packedWholeB,
        in OutputEpilogue epilogue)
    {
        int MR = GemmMicroKernel.PackedMR, NR = GemmMicroKernel.NR;
        var blocks = PackedBlocks;
        int kc = BlockSize(k, blocks.KC, 2), nc = BlockSize(n, blocks.NC, NR);
        int panels = (n + NR - 1) / NR, aPanels = (m + MR - 1) / MR;
        long blockFloats = (long)kc * panels * NR;
        int kBlocks = (k + kc - 1) / kc;
        // B packed ahead needs no buffer of its own: all its blocks make one group.
        int blocksPerGroup = packedWholeB != null ? kBlocks : BlocksPerGroup(kBlocks, blockFloats, SharedBLimit);
        int maxPanels = Math.Max(1, ChunkABytes / (kc * sizeof(float) * MR));
        int chunks = RowChunkCount(aPanels, threads, maxPanels);
        float* packedB = packedWholeB != null ? packedWholeB : KernelBuffers.SharedB(blocksPerGroup * blockFloats);
        for (int firstBlock = 0; firstBlock < kBlocks; firstBlock += blocksPerGroup)
        {
            int groupBlocks = Math.Min(blocksPerGroup, kBlocks - firstBlock);
            var product = new Product(transposeA, transposeB, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
            if (packedWholeB == null)
                KernelThreads.ForEach(groupBlocks * threads, threads, new PackBBlocks(product, firstBlock, kc, panels, threads, packedB, blockFloats));
            bool last = firstBlock + groupBlocks == kBlocks;
            KernelThreads.ForEach(chunks, threads,
                new RowChunks(product, firstBlock, groupBlocks, kc, nc, aPanels, threads, maxPanels, packedB, blockFloats, last ? epilogue : default));
        }
    }

    /// <summary>
    /// The micro-panels of A, [First, End), of row chunk <paramref name="index"/> in <see cref="MultiplyRowChunks"/>. On
    /// one thread every chunk is <paramref name="maxPanels"/> (the last one what is left). On more, each chunk takes
    /// 1/(2·threads) of the panels left, between <see cref="MinChunkPanels"/> and <paramref name="maxPanels"/>: large
    /// chunks first, then ever smaller ones, so that when the host slows one thread down the other takes over the tail
    /// in small pieces instead of waiting for a whole chunk.
    /// </summary>
    /// <remarks>
    /// Equal chunks, three per thread, left one thread idle at the end for 0.4–18.8 ms of a 74–98 ms SGEMM 2048³, the most
    /// whenever the host had slowed the other (timestamps of every chunk, eight products); with these chunks (eleven, 28
    /// micro-panels down to 8) the idle end is 0.7–3.6 ms. Two threads, alternating in one process: SGEMM 2048³ medians 244–258 against 234–235 GFLOP/s, 1024³
    /// 255 against 225. Each chunk computes whole rows of C over the same KC blocks in the same order, so the bits do not
    /// depend on the chunks.
    /// </remarks>
    internal static (int First, int End) RowChunk(int panels, int threads, int maxPanels, int index)
    {
        int first = 0;
        for (int i = 0; i < index && first < panels; i++) first += RowChunkSize(panels, panels - first, threads, maxPanels);
        return (first, Math.Min(panels, first + RowChunkSize(panels, panels - first, threads, maxPanels)));
    }

    /// <summary>How many chunks <see cref="RowChunk"/> cuts <paramref name="panels"/> micro-panels into.</summary>
    internal static int RowChunkCount(int panels, int threads, int maxPanels)
    {
        int count = 0;
        for (int first = 0; first < panels; count++) first += RowChunkSize(panels, panels - first, threads, maxPanels);
        return count;
    }

    /// <summary>
    /// The next chunk with <paramref name="left"/> of <paramref name="panels"/> micro-panels left. The smallest is
    /// <see cref="MinChunkPanels"/>, or a third of a thread's share for a product with fewer panels than that asks for
    /// (a dense layer's batch of 128 rows: eleven panels, which two chunks of 8 and 3 would share unevenly).
    /// </summary>
    private static int RowChunkSize(int panels, int left, int threads, int maxPanels)
    {
        if (threads == 1) return Math.Min(left, maxPanels);
        int smallest = Math.Clamp(panels / (3 * threads), 1, Math.Min(MinChunkPanels, maxPanels));
        return Math.Min(left, Math.Clamp((left + 2 * threads - 1) / (2 * threads), smallest, maxPanels));
    }

    /// <summary>Floats of A that <see cref="MultiplyColumnChunks"/> packs ahead at most (unless one KC block is more): 24 MB.</summary>
    private const long SharedALimit = 6L << 20;

    /// <summary>
    /// <see cref="MultiplyPacked"/> split by columns, with A packed once for all threads: for a group of KC blocks of the
    /// shared dimension, the threads first pack A's rows together, then take chunks of NC columns of C (handed out as
    /// threads come free), each chunk packing its block of B for each KC block and running all of A's rows against it.
    /// </summary>
    /// <remarks>
    /// Equal column shares, one per thread, each packing all of A, let a thread slowed by the host hold the other back, as
    /// equal row shares did (<see cref="MultiplyRowChunks"/>); chunks let the other thread take the work over, and A is
    /// packed once instead of once per thread. Every element of C still sums the same KC blocks in the same order, so the
    /// bits do not depend on the chunks or the threads.
    /// </remarks>
    private static void MultiplyColumnChunks(
        bool transposeA, bool transposeB, int m, int n, int k,
        float* a, nint lda, float* b, nint ldb, float* c, nint ldc, bool accumulate, int threads, float* packedWholeB,
        in OutputEpilogue epilogue)
    {
        int MR = GemmMicroKernel.PackedMR, NR = GemmMicroKernel.NR;
        var blocks = PackedBlocks;
        int kc = BlockSize(k, blocks.KC, 2), nc = BlockSize(n, blocks.NC, NR);
        long blockFloats = (long)(m + MR - 1) / MR * MR * kc;
        int kBlocks = (k + kc - 1) / kc, chunks = (n + nc - 1) / nc, allPanels = (n + NR - 1) / NR;
        int blocksPerGroup = BlocksPerGroup(kBlocks, blockFloats, SharedALimit);
        float* packedA = KernelBuffers.SharedA(blocksPerGroup * blockFloats);
        for (int firstBlock = 0; firstBlock < kBlocks; firstBlock += blocksPerGroup)
        {
            int groupBlocks = Math.Min(blocksPerGroup, kBlocks - firstBlock);
            var product = new Product(transposeA, transposeB, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
            KernelThreads.ForEach(groupBlocks * threads, threads, new PackABlocks(product, firstBlock, kc, threads, packedA, blockFloats));
            bool last = firstBlock + groupBlocks == kBlocks;
            KernelThreads.ForEach(chunks, threads,
                new ColumnChunks(product, firstBlock, groupBlocks, kc, nc, allPanels, packedA, blockFloats, packedWholeB, last ? epilogue : default));
        }
    }

    // The parallel loops' items, as structs so that a product allocates nothing (KernelThreads.For<TItems>).

    /// <summary>The operands of one product: C[m, n] (+)= op(A)[m, k] · op(B)[k, n].</summary>
    private readonly struct Product(
        bool transposeA, bool transposeB, int m, int n, int k, float* a, nint lda, float* b, nint ldb, float* c, nint ldc, bool accumulate)
    {
        public readonly bool TransposeA = transposeA, TransposeB = transposeB, Accumulate = accumulate;
        public readonly int M = m, N = n, K = k;
        public readonly float* A = a, B = b, C = c;
        public readonly nint Lda = lda, Ldb = ldb, Ldc = ldc;
    }

    /// <summary>With A in place: independent shares of C's rows (or columns), each a product of its own.</summary>
    private readonly struct InPlaceShares(Product p, bool inPlaceA, bool byRows, int parts) : KernelThreads.IItems
    {
        public void Run(int part)
        {
            int NR = GemmMicroKernel.NR;
            if (byRows)
            {
                var (first, last) = KernelThreads.Range(p.M, parts, part, GemmMicroKernel.MR);
                if (first < last)
                    Multiply(p.TransposeA, p.TransposeB, last - first, p.N, p.K, p.TransposeA ? p.A + first : p.A + first * p.Lda, p.Lda,
                        p.B, p.Ldb, p.C + first * p.Ldc, p.Ldc, p.Accumulate, inPlaceA);
            }
            else
            {
                var (first, last) = KernelThreads.Range((p.N + NR - 1) / NR, parts, part);
                int column = first * NR, columns = Math.Min(p.N, last * NR) - column;
                if (columns > 0)
                    Multiply(p.TransposeA, p.TransposeB, p.M, columns, p.K, p.A, p.Lda, p.TransposeB ? p.B + column * p.Ldb : p.B + column,
                        p.Ldb, p.C + column, p.Ldc, p.Accumulate, inPlaceA);
            }
        }
    }

    /// <summary>A KC × NC block of B packed in <paramref name="parts"/> ranges of its panels.</summary>
    private readonly struct PackBParts(bool transposeB, int kc, int nc, float* b, nint ldb, int panels, int parts, float* packed) : KernelThreads.IItems
    {
        public void Run(int part)
        {
            var (first, last) = KernelThreads.Range(panels, parts, part);
            GemmPacking.PackB(transposeB, kc, nc, b, ldb, first, last, packed);
        }
    }

    /// <summary>With A in place, one KC × NC block: a share of C's rows and columns, in MC blocks, against the packed B.</summary>
    private readonly struct InPlaceBlockShares(
        int m, int nc, int kc, int rowParts, int columnParts, float* a, nint aRowStep, nint aColumnStep, float* packedB, float* c, nint ldc,
        bool overwrite) : KernelThreads.IItems
    {
        public void Run(int part)
        {
            const int MR = GemmMicroKernel.MR;
            var (rowStart, rowEnd, columnStart, columnEnd) = Share(m, nc, rowParts, columnParts, part, MR);
            if (rowStart >= rowEnd || columnStart >= columnEnd) return;
            // Equal MC blocks inside this thread's rows, each at most MC and a multiple of MR.
            int rows = rowEnd - rowStart, mcLimit = Blocks.MC;
            int blockCount = (rows + mcLimit - 1) / mcLimit;
            int mc = ((rows + blockCount - 1) / blockCount + MR - 1) / MR * MR;
            for (int ic = rowStart; ic < rowEnd; ic += mc)      // 3rd loop around the micro-kernel
                GemmMacroKernel.Strided(Math.Min(mc, rowEnd - ic), columnEnd - columnStart, kc, a + ic * aRowStep, aRowStep, aColumnStep,
                    packedB + columnStart * kc, c + ic * ldc + columnStart, ldc, overwrite);
        }
    }

    /// <summary>All of op(B) in blocks of KC, a range of its panels per part.</summary>
    private readonly struct PackWholeBParts(bool transposeB, int n, int k, float* b, nint ldb, float* packed, int kc, int parts) : KernelThreads.IItems
    {
        public void Run(int part)
        {
            int NR = GemmMicroKernel.NR, panels = (n + NR - 1) / NR;
            var (first, last) = KernelThreads.Range(panels, parts, part);
            for (int pc = 0; pc < k; pc += kc)
                GemmPacking.PackB(transposeB, Math.Min(kc, k - pc), n, transposeB ? b + pc : b + pc * ldb, ldb, first, last,
                    packed + (nint)pc * panels * NR);
        }
    }

    /// <summary><see cref="MultiplyRowChunks"/>: B's KC blocks from <paramref name="firstBlock"/> on, a range of panels per item.</summary>
    private readonly struct PackBBlocks(Product p, int firstBlock, int kc, int panels, int threads, float* packedB, long blockFloats) : KernelThreads.IItems
    {
        public void Run(int item)
        {
            int block = item / threads, pc = (firstBlock + block) * kc, kcHere = Math.Min(kc, p.K - pc);
            var (first, last) = KernelThreads.Range(panels, threads, item % threads);
            GemmPacking.PackB(p.TransposeB, kcHere, p.N, p.TransposeB ? p.B + pc : p.B + pc * p.Ldb, p.Ldb, first, last, packedB + block * blockFloats);
        }
    }

    /// <summary>
    /// <see cref="MultiplyRowChunks"/>: a chunk of C's rows, its A packed per KC block and run against the packed B, the
    /// last block applying the epilogue tile by tile (empty but for the last group of blocks).
    /// </summary>
    private readonly struct RowChunks(
        Product p, int firstBlock, int groupBlocks, int kc, int nc, int aPanels, int threads, int maxPanels, float* packedB, long blockFloats,
        OutputEpilogue epilogue) : KernelThreads.IItems
    {
        public void Run(int chunk)
        {
            int MR = GemmMicroKernel.PackedMR;
            var (firstPanel, endPanel) = RowChunk(aPanels, threads, maxPanels, chunk);
            int rowStart = firstPanel * MR, rowEnd = Math.Min(p.M, endPanel * MR);
            int rows = rowEnd - rowStart;
            float* packedA = KernelBuffers.PackA((rows + MR - 1) / MR * MR * kc);
            for (int block = 0; block < groupBlocks; block++)
            {
                int pc = (firstBlock + block) * kc, kcHere = Math.Min(kc, p.K - pc);
                bool overwrite = pc == 0 && !p.Accumulate;
                GemmPacking.PackA(p.TransposeA, rows, kcHere, p.TransposeA ? p.A + pc * p.Lda + rowStart : p.A + rowStart * p.Lda + pc, p.Lda, packedA);
                for (int jc = 0; jc < p.N; jc += nc)
                    GemmMacroKernel.Packed(rows, Math.Min(nc, p.N - jc), kcHere, packedA, packedB + block * blockFloats + (nint)jc * kcHere,
                        p.C + rowStart * p.Ldc + jc, p.Ldc, overwrite, block == groupBlocks - 1 ? epilogue : default);
            }
        }
    }

    /// <summary><see cref="MultiplyColumnChunks"/>: A's KC blocks from <paramref name="firstBlock"/> on, a range of rows per item.</summary>
    private readonly struct PackABlocks(Product p, int firstBlock, int kc, int threads, float* packedA, long blockFloats) : KernelThreads.IItems
    {
        public void Run(int item)
        {
            int block = item / threads, pc = (firstBlock + block) * kc, kcHere = Math.Min(kc, p.K - pc);
            var (rowStart, rowEnd) = KernelThreads.Range(p.M, threads, item % threads, GemmMicroKernel.PackedMR);
            if (rowStart >= rowEnd) return;
            GemmPacking.PackA(p.TransposeA, rowEnd - rowStart, kcHere, p.TransposeA ? p.A + pc * p.Lda + rowStart : p.A + rowStart * p.Lda + pc,
                p.Lda, packedA + block * blockFloats + (nint)rowStart * kcHere);
        }
    }

    /// <summary>
    /// <see cref="MultiplyColumnChunks"/>: a chunk of NC columns of C, its B packed per KC block (or taken packed ahead),
    /// the last block applying the epilogue tile by tile (empty but for the last group of blocks).
    /// </summary>
    private readonly struct ColumnChunks(
        Product p, int firstBlock, int groupBlocks, int kc, int nc, int allPanels, float* packedA, long blockFloats, float* packedWholeB,
        OutputEpilogue epilogue) : KernelThreads.IItems
    {
        public void Run(int chunk)
        {
            int NR = GemmMicroKernel.NR;
            int jc = chunk * nc, ncHere = Math.Min(nc, p.N - jc), panels = (ncHere + NR - 1) / NR;
            float* packedB = packedWholeB != null ? null : KernelBuffers.PackB(panels * NR * kc);
            for (int block = 0; block < groupBlocks; block++)
            {
                int pc = (firstBlock + block) * kc, kcHere = Math.Min(kc, p.K - pc);
                // This chunk's panels of the block, in B packed ahead: blocks of all ⌈n/NR⌉ panels, jc a whole panel.
                if (packedWholeB != null) packedB = packedWholeB + (nint)pc * allPanels * NR + (nint)jc * kcHere;
                else GemmPacking.PackB(p.TransposeB, kcHere, ncHere, p.TransposeB ? p.B + jc * p.Ldb + pc : p.B + pc * p.Ldb + jc, p.Ldb, 0, panels, packedB);
                GemmMacroKernel.Packed(p.M, ncHere, kcHere, packedA + block * blockFloats, packedB, p.C + jc, p.Ldc, overwrite: pc == 0 && !p.Accumulate,
                    block == groupBlocks - 1 ? epilogue : default);
            }
        }
    }

    /// <summary>
    /// KC blocks packed ahead together: as few groups of <paramref name="kBlocks"/> as <paramref name="limit"/> floats allow,
    /// of nearly equal numbers of blocks of <paramref name="blockFloats"/> each, none past the limit (but at least one block).
    /// </summary>
    private static int BlocksPerGroup(int kBlocks, long blockFloats, long limit)
    {
        int mostPerGroup = (int)Math.Clamp(limit / blockFloats, 1, kBlocks);
        int groups = (kBlocks + mostPerGroup - 1) / mostPerGroup;
        return (kBlocks + groups - 1) / groups;
    }

    /// <summary>
    /// The size of the blocks that cut <paramref name="length"/> into as few pieces of at most <paramref name="limit"/> as
    /// possible, of equal size in multiples of <paramref name="grain"/>: 2048 in blocks of 384 would leave a thin last block
    /// of 128, whose tiles load and store C as often for a third of the work.
    /// </summary>
    private static int BlockSize(int length, int limit, int grain)
    {
        int count = (length + limit - 1) / limit;
        return Math.Min(limit, ((length + count - 1) / count + grain - 1) / grain * grain);
    }

    /// <summary>
    /// Part <paramref name="part"/> of an [m, n] C cut into <paramref name="rowParts"/> × <paramref name="columnParts"/>
    /// shares: its rows (in multiples of <paramref name="mr"/>) and its columns (whole NR panels); empty when there are
    /// more parts than panels.
    /// </summary>
    private static (int RowStart, int RowEnd, int ColumnStart, int ColumnEnd) Share(int m, int n, int rowParts, int columnParts, int part, int mr)
    {
        int NR = GemmMicroKernel.NR;
        var (rowStart, rowEnd) = KernelThreads.Range(m, rowParts, part / columnParts, mr);
        var (panelStart, panelEnd) = KernelThreads.Range((n + NR - 1) / NR, columnParts, part % columnParts);
        return (rowStart, rowEnd, panelStart * NR, Math.Min(n, panelEnd * NR));
    }
}
