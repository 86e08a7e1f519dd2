using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace ConvKit.Kernels;

// M rows of op(A) and C, N columns of op(B) and C, K the shared dimension (GEMM letters, not the convolution's);
// MR/NR register block, MC/KC/NC cache blocks, mc/kc/nc the sizes of the block at hand.

/// <summary>
/// The GEMM micro-kernel: <c>C += A_panel · B_panel</c> (or <c>C = A_panel · B_panel</c> with <c>overwrite</c>),
/// where A_panel is MR × kc, B_panel is kc × NR and the MR × NR block of C lives in registers for the whole
/// loop over kc. It has no m or n loops and no edge cases: the macro-kernel gives it whole tiles (or a scratch tile).
/// </summary>
/// <remarks>
/// One kernel is chosen per process, and with it NR: AVX-512F gives 12 × 32 (<see cref="Avx512Packed"/>; in place 12 × 32 where twelve rows remain, else 6 × 32), AVX2 + FMA
/// 6 × 16 (<see cref="Avx2Packed"/>), anything else the portable 6 × 16 (<see cref="PortablePacked"/>).
/// AVX-512 is chosen by <see cref="Avx512F.IsSupported"/>, not <c>Vector512.IsHardwareAccelerated</c>: the runtime
/// reports the latter false on Skylake-SP and Cascade Lake (it keeps auto-vectorised code 256 bits wide there for
/// fear of frequency drops), yet a dense FMA loop still runs 1.5–2× faster on zmm registers than on ymm.
/// </remarks>
internal static unsafe partial class GemmMicroKernel
{
    /// <summary>The instruction sets a micro-kernel may be written for.</summary>
    internal enum Isa { Portable, Avx2, Avx512 }

    /// <summary>The kernel this process runs.</summary>
    internal static readonly Isa Selected =
        Avx512F.IsSupported ? Isa.Avx512 : Fma.IsSupported && Avx2.IsSupported ? Isa.Avx2 : Isa.Portable;

    /// <summary>Rows of the register block of the in-place kernels (<see cref="Strided"/>, <see cref="Segments"/>).</summary>
    public const int MR = 6;

    /// <summary>Rows of the register block of <see cref="Packed"/>: 12 for AVX-512, 6 otherwise.</summary>
    public static readonly int PackedMR = Selected == Isa.Avx512 ? PackedMR512 : MR;

    /// <summary>Columns of the register block: 32 for AVX-512, 16 otherwise.</summary>
    public static readonly int NR = Selected == Isa.Avx512 ? NR512 : NR256;

    /// <summary>
    /// Asks for the lines of the first <paramref name="rows"/> rows of a C tile <paramref name="width"/> floats wide: the
    /// kernels read the tile only after their loop, where a miss would stall them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchRows(float* c, nint ldc, int rows, int width)
    {
        for (int i = 0; i < rows; i++, c += ldc) { Sse.Prefetch0(c); Sse.Prefetch0(c + width - 1); }
    }

    /// <summary>
    /// C[PackedMR, NR] (+)= A[PackedMR, kc] · B[kc, NR], A packed as a[p·PackedMR + i], B packed as b[p·NR + j]; then
    /// the <paramref name="epilogue"/>, when given: in registers with AVX-512 or AVX2, else on the stored tile.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Packed(int kc, float* a, float* b, float* c, nint ldc, bool overwrite, TileEpilogue* epilogue = null)
    {
        if (Selected == Isa.Avx512) Avx512Packed(kc, a, b, c, ldc, overwrite, epilogue);
        else if (Selected == Isa.Avx2) Avx2Packed(kc, a, b, c, ldc, overwrite, epilogue);
        else
        {
            PortablePacked(kc, a, b, c, ldc, overwrite);
            if (epilogue != null) Epilogue.ApplyHere(c, PackedMR, NR, ldc, epilogue->Bias, epilogue->Relu, epilogue->Scale, epilogue->Residual);
        }
    }

    /// <summary>
    /// C[MR, NR] (+)= A[MR, kc] · B[kc, NR], A read in place as a[i·rowStep + p·columnStep] for i &lt; rows
    /// (rows past <paramref name="rows"/> repeat the last row, and the caller discards them); B packed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Strided(int kc, int rows, float* a, nint rowStep, nint columnStep, float* b, float* c, nint ldc, bool overwrite)
    {
        if (Selected == Isa.Avx512) Avx512Strided(kc, rows, a, rowStep, columnStep, b, c, ldc, overwrite);
        else if (Selected == Isa.Avx2) Avx2Strided(kc, rows, a, rowStep, columnStep, b, c, ldc, overwrite);
        else PortableStrided(kc, rows, a, rowStep, columnStep, b, c, ldc, overwrite);
    }

    /// <summary>
    /// C[MR, NR] (+)= Σ_t A_t[MR, length] · B_t[length, NR] over <paramref name="segments"/> pieces of the shared
    /// dimension, A_t read in place as bases[t][i·rowStep + p] (a null base is an all-zero piece: skipped), and
    /// B the packed panel of all pieces one after another. Direct convolution uses one piece per kernel row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Segments(int segments, float** bases, int length, nint rowStep, int rows, float* b, float* c, nint ldc, bool overwrite)
    {
        if (Selected == Isa.Avx512) Avx512Segments(segments, bases, length, rowStep, rows, b, c, ldc, overwrite);
        else if (Selected == Isa.Avx2) Avx2Segments(segments, bases, length, rowStep, rows, b, c, ldc, overwrite);
        else PortableSegments(segments, bases, length, rowStep, rows, b, c, ldc, overwrite);
    }

    /// <summary>Rows of A that <see cref="ColumnSegments"/> takes at most: 12 with AVX-512, 6 otherwise.</summary>
    public static readonly int ColumnSegmentsMR = Selected == Isa.Avx512 ? 2 * MR : MR;

    /// <summary>
    /// C[rows, NR] (+)= Σ_t A_t[rows, length] · B_t[length, NR] over <paramref name="segments"/> pieces of the shared
    /// dimension, A_t read in place as bases[t][offset + i + p·columnStep]: each column of A_t is adjacent floats (in a
    /// convolution's kernel gradient, one pixel's run of its receptive field), and a null base is an all-zero piece,
    /// skipped. B is the packed panel of all pieces one after another. <paramref name="rows"/> is at most
    /// <see cref="ColumnSegmentsMR"/>; C has room for ⌈rows/MR⌉·MR rows, and those past <paramref name="rows"/> get copies
    /// of the last row's sums, which the caller ignores.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ColumnSegments(int segments, float** bases, nint offset, int length, nint columnStep, int rows, float* b, float* c, nint ldc, bool overwrite)
    {
        if (Selected == Isa.Avx512) Avx512ColumnSegments(segments, bases, offset, length, columnStep, rows, b, c, ldc, overwrite);
        else if (Selected == Isa.Avx2) Avx2ColumnSegments(segments, bases, offset, length, columnStep, rows, b, c, ldc, overwrite);
        else PortableColumnSegments(segments, bases, offset, length, columnStep, rows, b, c, ldc, overwrite);
    }
}
