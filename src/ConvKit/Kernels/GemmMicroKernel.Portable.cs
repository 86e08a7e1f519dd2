using System.Numerics;

namespace ConvKit.Kernels;

// M rows of op(A) and C, N columns of op(B) and C, K the shared dimension (GEMM letters, not the convolution's);
// MR/NR register block, MC/KC/NC cache blocks, mc/kc/nc the sizes of the block at hand.

internal static unsafe partial class GemmMicroKernel
{
    /// <summary>The portable micro-kernel (Vector&lt;float&gt; over NR): same contract as <see cref="Packed"/>.</summary>
    internal static void PortablePacked(int kc, float* a, float* b, float* c, nint ldc, bool overwrite) =>
        PortableStrided(kc, MR, a, 1, MR, b, c, ldc, overwrite);

    /// <summary>The portable micro-kernel for A read in place: same contract as <see cref="Strided"/>.</summary>
    internal static void PortableStrided(int kc, int rows, float* a, nint rowStep, nint columnStep, float* b, float* c, nint ldc, bool overwrite)
    {
        float* sums = stackalloc float[MR * NR];
        new Span<float>(sums, MR * NR).Clear();
        int width = Vector<float>.Count;
        bool vector = Vector.IsHardwareAccelerated && NR % width == 0;
        for (int p = 0; p < kc; p++)
        {
            float* bRow = b + p * NR;
            for (int i = 0; i < MR; i++)
            {
                float x = a[Math.Min(i, rows - 1) * rowStep + p * columnStep];
                float* sum = sums + i * NR;
                if (vector)
                    for (int j = 0; j < NR; j += width)
                        Vector.Store(Vector.Load(sum + j) + new Vector<float>(x) * Vector.Load(bRow + j), sum + j);
                else
                    for (int j = 0; j < NR; j++) sum[j] += x * bRow[j];
            }
        }
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++)
                c[i * ldc + j] = overwrite ? sums[i * NR + j] : c[i * ldc + j] + sums[i * NR + j];
    }

    /// <summary>The portable micro-kernel over pieces of the shared dimension: same contract as <see cref="Segments"/>.</summary>
    internal static void PortableSegments(int segments, float** bases, int length, nint rowStep, int rows, float* b, float* c, nint ldc, bool overwrite)
    {
        bool first = overwrite;
        for (int t = 0; t < segments; t++, b += (nint)length * NR)
        {
            if (bases[t] == null) continue;
            PortableStrided(length, rows, bases[t], rowStep, 1, b, c, ldc, first);
            first = false;
        }
        if (first)
            for (int i = 0; i < MR; i++) new Span<float>(c + i * ldc, NR).Clear();
    }

    /// <summary>The portable micro-kernel over pieces read by columns: same contract as <see cref="ColumnSegments"/>.</summary>
    internal static void PortableColumnSegments(int segments, float** bases, nint offset, int length, nint columnStep, int rows, float* b, float* c, nint ldc, bool overwrite)
    {
        bool first = overwrite;
        for (int t = 0; t < segments; t++, b += (nint)length * NR)
        {
            if (bases[t] == null) continue;
            PortableStrided(length, rows, bases[t] + offset, 1, columnStep, b, c, ldc, first);
            first = false;
        }
        if (first)
            for (int i = 0; i < MR; i++) new Span<float>(c + i * ldc, NR).Clear();
    }
}
