namespace ConvKit.Kernels;

// M rows of op(A) and C, N columns of op(B) and C, K the shared dimension (GEMM letters, not the convolution's);
// MR/NR register block, MC/KC/NC cache blocks, mc/kc/nc the sizes of the block at hand.

/// <summary>
/// Block sizes of the BLIS-shaped GEMM. <c>MR × NR</c> is the register block of the micro-kernel;
/// a <c>KC × NR</c> micro-panel of B stays in L1, an <c>MC × KC</c> block of A in L2, and a
/// <c>KC × NC</c> block of B in L3.
/// </summary>
/// <remarks>
/// Zen 3: 32 KB L1d, 512 KB L2 per core, 32 MB L3. KC = 256: the B micro-panel is 256·16·4 = 16 KB,
/// half of L1, beside a 6 KB A micro-panel. MC = 144: the A block is 144·256·4 = 144 KB, under a third of
/// L2. NC = 4080: the B block is 4 MB. These are BLIS's own Zen 3 single-precision values.
/// <para>
/// Skylake-SP / Cascade Lake (AVX-512, NR = 32): 32 KB L1d, 1 MB L2 per core, 1.375 MB of non-inclusive L3 per core.
/// KC = 128: the B micro-panel is 128·32·4 = 16 KB beside a 3 KB A micro-panel, half of L1 (KC = 192 and 256 measured slower).
/// MC = 960: the A block is 960·128·4 = 480 KB, half of L2. NC = 2048: the B block is 128·2048·4 = 1 MB,
/// which L2 holds beside the A block of one thread.
/// </para>
/// </remarks>
internal sealed record GemmBlockSizes(int MR, int NR, int MC, int KC, int NC)
{
    public static GemmBlockSizes Zen3 { get; } = new(GemmMicroKernel.MR, 16, 144, 256, 4080);

    public static GemmBlockSizes SkylakeSP { get; } = new(GemmMicroKernel.MR, 32, 960, 128, 2048);

    /// <summary>The sizes for the micro-kernel this process runs.</summary>
    public static GemmBlockSizes ForSelectedKernel =>
        GemmMicroKernel.Selected == GemmMicroKernel.Isa.Avx512 ? SkylakeSP : Zen3;
}

/// <summary>
/// Fast single-precision matrix multiplication, row-major, with the semantics of
/// <see cref="GemmReference.Multiply"/>: <c>C[m,n] (+)= Σ_k op(A)[m,k] · op(B)[k,n]</c>.
/// </summary>
/// <remarks>
/// The five loops of BLIS: the 5th loop steps over NC columns of C, the 4th over KC of the shared dimension
/// (packing that block of B once), the 3rd over MC rows (packing a block of A); the macro-kernel holds the
/// 2nd and 1st loops over NR and MR, and the micro-kernel the loop over KC. Transposed operands are read
/// in place by the packing routines. Threads split the 3rd loop (rows) or, for short wide products, the 2nd
/// loop (columns); every element of C is computed by one thread in one fixed order, so the result does not
/// depend on the number of threads.
/// </remarks>
internal static unsafe class Gemm
{
    public static GemmBlockSizes Blocks { get; } = GemmBlockSizes.ForSelectedKernel;

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
        const int MR = GemmMicroKernel.MR;
        int NR = GemmMicroKernel.NR;
        var blocks = Blocks;
        int threads = (long)m * n * k >= ParallelThreshold ? KernelThreads.Available : 1;
        // A is read in place when a packed block would feed a single micro-panel of B (no reuse to pay for packing).
        bool packA = n > NR && !inPlaceA;
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
                KernelThreads.For(packParts, part =>
                {
                    var (first, last) = KernelThreads.Range(panels, packParts, part);
                    GemmPacking.PackB(transposeB, kc, nc, bBlock, ldb, first, last, packedB);
                });

                // Split the 3rd loop (rows) when each thread gets a few micro-panels of A; otherwise the 2nd loop (columns).
                int mPanels = (m + MR - 1) / MR;
                int rowParts = 1, columnParts = 1;
                if (threads > 1)
                {
                    if (mPanels >= 4 * threads || panels < threads) rowParts = Math.Min(threads, mPanels);
                    else columnParts = Math.Min(threads, panels);
                }
                KernelThreads.For(rowParts * columnParts, part =>
                {
                    var (rowStart, rowEnd) = KernelThreads.Range(m, rowParts, part / columnParts, MR);
                    var (panelStart, panelEnd) = KernelThreads.Range(panels, columnParts, part % columnParts);
                    int columnStart = panelStart * NR, columnEnd = Math.Min(nc, panelEnd * NR);
                    if (rowStart >= rowEnd || columnStart >= columnEnd) return;
                    // Equal MC blocks inside this thread's rows, each at most MC and a multiple of MR.
                    int rows = rowEnd - rowStart;
                    int blockCount = (rows + blocks.MC - 1) / blocks.MC;
                    int mc = ((rows + blockCount - 1) / blockCount + MR - 1) / MR * MR;
                    float* packedA = packA ? KernelBuffers.PackA(mc * kc) : null;
                    for (int ic = rowStart; ic < rowEnd; ic += mc)      // 3rd loop around the micro-kernel
                    {
                        int mcHere = Math.Min(mc, rowEnd - ic);
                        float* aHere = aBlock + ic * aRowStep;
                        float* cHere = cBlock + ic * ldc + columnStart;
                        float* bHere = packedB + columnStart * kc;
                        if (packA)
                        {
                            GemmPacking.PackA(transposeA, mcHere, kc, aHere, lda, packedA);
                            GemmMacroKernel.Packed(mcHere, columnEnd - columnStart, kc, packedA, bHere, cHere, ldc, overwrite);
                        }
                        else
                        {
                            GemmMacroKernel.Strided(mcHere, columnEnd - columnStart, kc, aHere, aRowStep, aColumnStep, bHere, cHere, ldc, overwrite);
                        }
                    }
                });
            }
        }
    }
}
