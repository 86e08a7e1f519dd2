using System.Runtime.Intrinsics;

namespace ConvKit.Kernels;

// M rows of op(A) and C, N columns of op(B) and C, K the shared dimension (GEMM letters, not the convolution's);
// MR/NR register block, MC/KC/NC cache blocks, mc/kc/nc the sizes of the block at hand.

/// <summary>
/// Packing for the GEMM: copies a block of op(A) into MR-row micro-panels and a block of op(B) into
/// NR-column micro-panels, each laid out in the order the micro-kernel reads it, zero-padded to whole
/// panels. Transposed operands are read in place (strided) here: no separate transpose copy.
/// </summary>
internal static unsafe class GemmPacking
{
    private const int MR = GemmMicroKernel.MR;
    private static int NR => GemmMicroKernel.NR;

    /// <summary>
    /// packed[(i / MR)·MR·kc + p·MR + i % MR] = op(A)[i, p] for i &lt; mc, p &lt; kc; zero for the padding rows.
    /// </summary>
    public static void PackA(
        bool transposed, int mc, int kc,
        float* a, nint lda,     // op(A) block [mc, kc]: a[i·lda + p], or a[p·lda + i] when transposed
        float* packed)          // [⌈mc/MR⌉, kc, MR]
    {
        for (int i0 = 0; i0 < mc; i0 += MR)
        {
            int rows = Math.Min(MR, mc - i0);
            float* panel = packed + i0 * kc;
            if (transposed)
            {
                float* src = a + i0;
                if (rows == MR)
                    for (int p = 0; p < kc; p++, src += lda, panel += MR)
                    {
                        panel[0] = src[0]; panel[1] = src[1]; panel[2] = src[2];
                        panel[3] = src[3]; panel[4] = src[4]; panel[5] = src[5];
                    }
                else
                    for (int p = 0; p < kc; p++, src += lda, panel += MR)
                        for (int i = 0; i < MR; i++) panel[i] = i < rows ? src[i] : 0f;
            }
            else
            {
                for (int i = 0; i < MR; i++)
                {
                    if (i >= rows)
                    {
                        for (int p = 0; p < kc; p++) panel[p * MR + i] = 0f;
                        continue;
                    }
                    float* src = a + (i0 + i) * lda;
                    for (int p = 0; p < kc; p++) panel[p * MR + i] = src[p];
                }
            }
        }
    }

    /// <summary>
    /// packed[j·kc + p·NR + jj] = op(B)[p, (panel j)·NR + jj] for the panels first..last−1 of the block; zero past nc.
    /// </summary>
    public static void PackB(
        bool transposed, int kc, int nc,
        float* b, nint ldb,     // op(B) block [kc, nc]: b[p·ldb + j], or b[j·ldb + p] when transposed
        int firstPanel, int lastPanel,
        float* packed)          // [⌈nc/NR⌉, kc, NR]
    {
        for (int panelIndex = firstPanel; panelIndex < lastPanel; panelIndex++)
        {
            int j0 = panelIndex * NR;
            int columns = Math.Min(NR, nc - j0);
            float* panel = packed + j0 * kc;
            if (!transposed)
            {
                float* src = b + j0;
                if (columns == NR)
                    for (int p = 0; p < kc; p++, src += ldb, panel += NR)
                        for (int j = 0; j < NR; j += 8) Vector256.Store(Vector256.Load(src + j), panel + j);
                else
                    for (int p = 0; p < kc; p++, src += ldb, panel += NR)
                        for (int j = 0; j < NR; j++) panel[j] = j < columns ? src[j] : 0f;
            }
            else
            {
                for (int j = 0; j < NR; j++)
                {
                    if (j >= columns)
                    {
                        for (int p = 0; p < kc; p++) panel[p * NR + j] = 0f;
                        continue;
                    }
                    float* src = b + (j0 + j) * ldb;
                    for (int p = 0; p < kc; p++) panel[p * NR + j] = src[p];
                }
            }
        }
    }
}
