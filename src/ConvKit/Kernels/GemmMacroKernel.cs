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

    /// <summary>C[mc, nc] (+)= Apacked[mc, kc] · Bpacked[kc, nc]; <paramref name="overwrite"/> replaces C instead of adding.</summary>
    public static void Packed(
        int mc, int nc, int kc,
        float* packedA,         // [⌈mc/MR⌉, kc, MR]
        float* packedB,         // [⌈nc/NR⌉, kc, NR]
        float* c, nint ldc,     // [mc, nc]
        bool overwrite)
    {
        float* tile = stackalloc float[MR * NR];
        for (int jr = 0; jr < nc; jr += NR)                             // 2nd loop around the micro-kernel
        {
            int nr = Math.Min(NR, nc - jr);
            float* bPanel = packedB + jr * kc;
            for (int ir = 0; ir < mc; ir += MR)                         // 1st loop around the micro-kernel
            {
                int mr = Math.Min(MR, mc - ir);
                float* aPanel = packedA + ir * kc;
                float* cTile = c + ir * ldc + jr;
                if (mr == MR && nr == NR) GemmMicroKernel.Packed(kc, aPanel, bPanel, cTile, ldc, overwrite);
                else
                {
                    GemmMicroKernel.Packed(kc, aPanel, bPanel, tile, NR, overwrite: true);
                    StoreEdge(tile, mr, nr, cTile, ldc, overwrite);
                }
            }
        }
    }

    /// <summary>
    /// C[mc, nc] (+)= A[mc, kc] · Bpacked[kc, nc] with A read in place: A[i, p] = a[i·rowStep + p·columnStep].
    /// </summary>
    public static void Strided(
        int mc, int nc, int kc,
        float* a, nint rowStep, nint columnStep,    // [mc, kc], strided
        float* packedB,                             // [⌈nc/NR⌉, kc, NR]
        float* c, nint ldc,                         // [mc, nc]
        bool overwrite)
    {
        float* tile = stackalloc float[MR * NR];
        for (int jr = 0; jr < nc; jr += NR)                             // 2nd loop around the micro-kernel
        {
            int nr = Math.Min(NR, nc - jr);
            float* bPanel = packedB + jr * kc;
            for (int ir = 0; ir < mc; ir += MR)                         // 1st loop around the micro-kernel
            {
                int mr = Math.Min(MR, mc - ir);
                float* aPanel = a + ir * rowStep;
                float* cTile = c + ir * ldc + jr;
                if (mr == MR && nr == NR) GemmMicroKernel.Strided(kc, MR, aPanel, rowStep, columnStep, bPanel, cTile, ldc, overwrite);
                else
                {
                    GemmMicroKernel.Strided(kc, mr, aPanel, rowStep, columnStep, bPanel, tile, NR, overwrite: true);
                    StoreEdge(tile, mr, nr, cTile, ldc, overwrite);
                }
            }
        }
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
