using System.Runtime.CompilerServices;

namespace ConvKit.Kernels;

// M rows of op(A) and C, N columns of op(B) and C, K the shared dimension (GEMM letters, not the convolution's);
// MR/NR register block, MC/KC/NC cache blocks, mc/kc/nc the sizes of the block at hand.

/// <summary>
/// The macro-kernel: the 2nd loop (NR columns) and 1st loop (MR rows) around the micro-kernel over one
/// packed block. Edge tiles smaller than MR × NR go through a register-sized scratch tile.
/// </summary>
internal static unsafe class GemmMacroKernel
{
    private const int MR = GemmMicroKernel.MR;
    private static int NR => GemmMicroKernel.NR;

    /// <summary>
    /// C[mc, nc] (+)= Apacked[mc, kc] · Bpacked[kc, nc]; <paramref name="overwrite"/> replaces C instead of adding.
    /// The loop over A's micro-panels runs outside the loop over B's: one A micro-panel stays in L1 while the B block
    /// streams from L2. A non-empty <paramref name="epilogue"/> (given with the last block of the shared dimension) runs
    /// on each register tile as the micro-kernel stores it (<see cref="GemmMicroKernel.Packed"/>).
    /// </summary>
    public static void Packed(
        int mc, int nc, int kc,
        float* packedA,         // [⌈mc/PackedMR⌉, kc, PackedMR]
        float* packedB,         // [⌈nc/NR⌉, kc, NR]
        float* c, nint ldc,     // [mc, nc]
        bool overwrite, in OutputEpilogue epilogue = default)
    {
        int mr = GemmMicroKernel.PackedMR;
        float* tile = stackalloc float[mr * NR];
        bool fused = !epilogue.IsEmpty;
        nint column = fused ? (nint)(c - epilogue.Output) % ldc : 0;
        for (int ir = 0; ir < mc; ir += mr)                             // A micro-panel in L1
            for (int jr = 0; jr < nc; jr += NR)                         // B micro-panels from L2
            {
                float* cTile = c + ir * ldc + jr;
                int rowsLeft = mc - ir, columnsLeft = nc - jr;
                if (rowsLeft >= mr && columnsLeft >= NR)
                {
                    if (fused)
                    {
                        var tileEpilogue = epilogue.ForTile(cTile, column + jr);
                        GemmMicroKernel.Packed(kc, packedA + ir * kc, packedB + jr * kc, cTile, ldc, overwrite, &tileEpilogue);
                    }
                    else GemmMicroKernel.Packed(kc, packedA + ir * kc, packedB + jr * kc, cTile, ldc, overwrite);
                    continue;
                }
                // Edge tiles through a register-sized scratch tile.
                int rows = Math.Min(mr, rowsLeft), columns = Math.Min(NR, columnsLeft);
                GemmMicroKernel.Packed(kc, packedA + ir * kc, packedB + jr * kc, tile, NR, overwrite: true);
                StoreEdge(tile, rows, columns, cTile, ldc, overwrite);
                if (fused) epilogue.ApplyHere(cTile, rows, columns, ldc, column + jr);
            }
    }

    /// <summary>
    /// C[mc, nc] (+)= A[mc, kc] · Bpacked[kc, nc] with A read in place: A[i, p] = a[i·rowStep + p·columnStep]. On AVX-512,
    /// rows whose columns are adjacent go twelve to fourteen at a time (<see cref="GemmMicroKernel.Avx512StridedRows"/>,
    /// tiles of <see cref="WideTileRows"/>), the first tile of each micro-panel of B prefetching it: a profile of ResNet18
    /// at batch 1 put a fifth of that kernel's samples on its two loads of B, whose panels (a layer's kept weights) come
    /// from L3 once per inference. With the prefetch ResNet18 took 53–67 ms where it took 66–83 on one thread (six
    /// alternating runs each); on two threads the difference was within the host's noise.
    /// </summary>
    public static void Strided(
        int mc, int nc, int kc,
        float* a, nint rowStep, nint columnStep,    // [mc, kc], strided
        float* packedB,                             // [⌈nc/NR⌉, kc, NR]
        float* c, nint ldc,                         // [mc, nc]
        bool overwrite)
    {
        float* tile = stackalloc float[MR * NR];
        bool wide = GemmMicroKernel.Selected == GemmMicroKernel.Isa.Avx512 && columnStep == 1;
        for (int jr = 0; jr < nc; jr += NR)                             // 2nd loop around the micro-kernel
        {
            int nr = Math.Min(NR, nc - jr);
            float* bPanel = packedB + jr * kc;
            for (int ir = 0; ir < mc;)                                  // 1st loop around the micro-kernel
            {
                float* aPanel = a + ir * rowStep;
                float* cTile = c + ir * ldc + jr;
                int rows = wide && nr == NR ? WideTileRows(mc - ir) : 0;
                if (rows > 0)
                {
                    // The same sums in the same order as six-row tiles.
                    GemmMicroKernel.Avx512StridedRows(rows, kc, aPanel, rowStep, bPanel, cTile, ldc, overwrite, fetchB: ir == 0);
                    ir += rows;
                    continue;
                }
                int mr = Math.Min(MR, mc - ir);
                if (mr == MR && nr == NR) GemmMicroKernel.Strided(kc, MR, aPanel, rowStep, columnStep, bPanel, cTile, ldc, overwrite);
                else
                {
                    GemmMicroKernel.Strided(kc, mr, aPanel, rowStep, columnStep, bPanel, tile, NR, overwrite: true);
                    StoreEdge(tile, mr, nr, cTile, ldc, overwrite);
                }
                ir += MR;
            }
        }
    }

    /// <summary>
    /// Rows of the next AVX-512 in-place tile when <paramref name="rowsLeft"/> remain: twelve, or none below twelve (six-row
    /// tiles finish). One to three rows that six-row tiles would leave over join the last twelve-row tiles instead, as
    /// 13 or 13 + 14: on their own each of their sums is a chain that waits on the multiply-add's latency, so one row
    /// took a third as long as a tile of twelve. Forty-nine rows (ResNet18's 7×7 layers at batch 1) run as 12 + 12 + 12
    /// + 13 instead of four tiles of twelve and a single row. When 28 rows are left (m = 28, 40, 52, …, four past the
    /// twelve-row tiles) they run as 14 + 14: 28 is an output row of a 56 → 28 strided 1×1 convolution, one GEMM each,
    /// and as 12 + 12 + 4 a fifth of that convolution's samples went to the four-row tile and the copy out of its scratch
    /// tile. Other counts of four rows left (m = 34: 12 + 12 + 6 + 4) keep a partial six-row tile.
    /// </summary>
    internal static int WideTileRows(int rowsLeft)
    {
        int tiles = rowsLeft / 12, tail = rowsLeft % 12 % MR;
        if (tiles == 0) return 0;
        if (rowsLeft == 28) return 14;
        if (tail is 1 or 2 && tiles == 1) return 12 + tail;
        if (tail == 3 && tiles == 2) return 13;
        return 12;
    }

    private static void StoreEdge(float* tile, int mr, int nr, float* c, nint ldc, bool overwrite)
    {
        for (int i = 0; i < mr; i++)
        {
            float* row = c + i * ldc;
            float* src = tile + i * NR;
            if (overwrite) for (int j = 0; j < nr; j++) row[j] = src[j];
            else for (int j = 0; j < nr; j++) row[j] += src[j];
        }
    }
}
