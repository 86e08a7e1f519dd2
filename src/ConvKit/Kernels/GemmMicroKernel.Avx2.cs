using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ConvKit.Kernels;

// M rows of op(A) and C, N columns of op(B) and C, K the shared dimension (GEMM letters, not the convolution's);
// MR/NR register block, MC/KC/NC cache blocks, mc/kc/nc the sizes of the block at hand.

/// <summary>The AVX2 + FMA micro-kernels: the contracts of <see cref="GemmMicroKernel.Packed"/>, <see cref="GemmMicroKernel.Strided"/> and <see cref="GemmMicroKernel.Segments"/> with NR = 16.</summary>
/// <remarks>
/// 6 × 16 = twelve 8-wide accumulators, two B vectors and one broadcast of A, fifteen of the
/// sixteen ymm registers. Each step of kc issues 12 FMAs against 2 loads of B and 6 broadcasts of A.
/// </remarks>
internal static unsafe partial class GemmMicroKernel
{
    internal const int NR256 = 16;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Avx2Packed(int kc, float* a, float* b, float* c, nint ldc, bool overwrite)
    {
        // Start fetching the C tile now: it is read only after the loop, and misses would stall it.
        Sse.Prefetch0(c + 0 * ldc); Sse.Prefetch0(c + 0 * ldc + NR256 - 1);
        Sse.Prefetch0(c + 1 * ldc); Sse.Prefetch0(c + 1 * ldc + NR256 - 1);
        Sse.Prefetch0(c + 2 * ldc); Sse.Prefetch0(c + 2 * ldc + NR256 - 1);
        Sse.Prefetch0(c + 3 * ldc); Sse.Prefetch0(c + 3 * ldc + NR256 - 1);
        Sse.Prefetch0(c + 4 * ldc); Sse.Prefetch0(c + 4 * ldc + NR256 - 1);
        Sse.Prefetch0(c + 5 * ldc); Sse.Prefetch0(c + 5 * ldc + NR256 - 1);
        Vector256<float> c00 = Vector256<float>.Zero, c01 = Vector256<float>.Zero;
        Vector256<float> c10 = Vector256<float>.Zero, c11 = Vector256<float>.Zero;
        Vector256<float> c20 = Vector256<float>.Zero, c21 = Vector256<float>.Zero;
        Vector256<float> c30 = Vector256<float>.Zero, c31 = Vector256<float>.Zero;
        Vector256<float> c40 = Vector256<float>.Zero, c41 = Vector256<float>.Zero;
        Vector256<float> c50 = Vector256<float>.Zero, c51 = Vector256<float>.Zero;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Avx.LoadVector256(b);
            var b1 = Avx.LoadVector256(b + 8);
            var a0 = Avx.BroadcastScalarToVector256(a + 0);
            c00 = Fma.MultiplyAdd(a0, b0, c00);
            c01 = Fma.MultiplyAdd(a0, b1, c01);
            var a1 = Avx.BroadcastScalarToVector256(a + 1);
            c10 = Fma.MultiplyAdd(a1, b0, c10);
            c11 = Fma.MultiplyAdd(a1, b1, c11);
            var a2 = Avx.BroadcastScalarToVector256(a + 2);
            c20 = Fma.MultiplyAdd(a2, b0, c20);
            c21 = Fma.MultiplyAdd(a2, b1, c21);
            var a3 = Avx.BroadcastScalarToVector256(a + 3);
            c30 = Fma.MultiplyAdd(a3, b0, c30);
            c31 = Fma.MultiplyAdd(a3, b1, c31);
            var a4 = Avx.BroadcastScalarToVector256(a + 4);
            c40 = Fma.MultiplyAdd(a4, b0, c40);
            c41 = Fma.MultiplyAdd(a4, b1, c41);
            var a5 = Avx.BroadcastScalarToVector256(a + 5);
            c50 = Fma.MultiplyAdd(a5, b0, c50);
            c51 = Fma.MultiplyAdd(a5, b1, c51);
            a += MR;
            b += NR256;
        }
        if (overwrite)
        {
            Avx.Store(c + 0 * ldc, c00); Avx.Store(c + 0 * ldc + 8, c01);
            Avx.Store(c + 1 * ldc, c10); Avx.Store(c + 1 * ldc + 8, c11);
            Avx.Store(c + 2 * ldc, c20); Avx.Store(c + 2 * ldc + 8, c21);
            Avx.Store(c + 3 * ldc, c30); Avx.Store(c + 3 * ldc + 8, c31);
            Avx.Store(c + 4 * ldc, c40); Avx.Store(c + 4 * ldc + 8, c41);
            Avx.Store(c + 5 * ldc, c50); Avx.Store(c + 5 * ldc + 8, c51);
        }
        else
        {
            Avx.Store(c + 0 * ldc, Avx.Add(Avx.LoadVector256(c + 0 * ldc), c00));
            Avx.Store(c + 0 * ldc + 8, Avx.Add(Avx.LoadVector256(c + 0 * ldc + 8), c01));
            Avx.Store(c + 1 * ldc, Avx.Add(Avx.LoadVector256(c + 1 * ldc), c10));
            Avx.Store(c + 1 * ldc + 8, Avx.Add(Avx.LoadVector256(c + 1 * ldc + 8), c11));
            Avx.Store(c + 2 * ldc, Avx.Add(Avx.LoadVector256(c + 2 * ldc), c20));
            Avx.Store(c + 2 * ldc + 8, Avx.Add(Avx.LoadVector256(c + 2 * ldc + 8), c21));
            Avx.Store(c + 3 * ldc, Avx.Add(Avx.LoadVector256(c + 3 * ldc), c30));
            Avx.Store(c + 3 * ldc + 8, Avx.Add(Avx.LoadVector256(c + 3 * ldc + 8), c31));
            Avx.Store(c + 4 * ldc, Avx.Add(Avx.LoadVector256(c + 4 * ldc), c40));
            Avx.Store(c + 4 * ldc + 8, Avx.Add(Avx.LoadVector256(c + 4 * ldc + 8), c41));
            Avx.Store(c + 5 * ldc, Avx.Add(Avx.LoadVector256(c + 5 * ldc), c50));
            Avx.Store(c + 5 * ldc + 8, Avx.Add(Avx.LoadVector256(c + 5 * ldc + 8), c51));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Avx2Strided(int kc, int rows, float* a, nint rowStep, nint columnStep, float* b, float* c, nint ldc, bool overwrite)
    {
        float* r0 = a;
        float* r1 = a + Math.Min(1, rows - 1) * rowStep;
        float* r2 = a + Math.Min(2, rows - 1) * rowStep;
        float* r3 = a + Math.Min(3, rows - 1) * rowStep;
        float* r4 = a + Math.Min(4, rows - 1) * rowStep;
        float* r5 = a + Math.Min(5, rows - 1) * rowStep;
        // Start fetching the C tile now: it is read only after the loop, and misses would stall it.
        Sse.Prefetch0(c + 0 * ldc); Sse.Prefetch0(c + 0 * ldc + NR256 - 1);
        Sse.Prefetch0(c + 1 * ldc); Sse.Prefetch0(c + 1 * ldc + NR256 - 1);
        Sse.Prefetch0(c + 2 * ldc); Sse.Prefetch0(c + 2 * ldc + NR256 - 1);
        Sse.Prefetch0(c + 3 * ldc); Sse.Prefetch0(c + 3 * ldc + NR256 - 1);
        Sse.Prefetch0(c + 4 * ldc); Sse.Prefetch0(c + 4 * ldc + NR256 - 1);
        Sse.Prefetch0(c + 5 * ldc); Sse.Prefetch0(c + 5 * ldc + NR256 - 1);
        Vector256<float> c00 = Vector256<float>.Zero, c01 = Vector256<float>.Zero;
        Vector256<float> c10 = Vector256<float>.Zero, c11 = Vector256<float>.Zero;
        Vector256<float> c20 = Vector256<float>.Zero, c21 = Vector256<float>.Zero;
        Vector256<float> c30 = Vector256<float>.Zero, c31 = Vector256<float>.Zero;
        Vector256<float> c40 = Vector256<float>.Zero, c41 = Vector256<float>.Zero;
        Vector256<float> c50 = Vector256<float>.Zero, c51 = Vector256<float>.Zero;
        nint offset = 0;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Avx.LoadVector256(b);
            var b1 = Avx.LoadVector256(b + 8);
            var a0 = Avx.BroadcastScalarToVector256(r0 + offset);
            c00 = Fma.MultiplyAdd(a0, b0, c00);
            c01 = Fma.MultiplyAdd(a0, b1, c01);
            var a1 = Avx.BroadcastScalarToVector256(r1 + offset);
            c10 = Fma.MultiplyAdd(a1, b0, c10);
            c11 = Fma.MultiplyAdd(a1, b1, c11);
            var a2 = Avx.BroadcastScalarToVector256(r2 + offset);
            c20 = Fma.MultiplyAdd(a2, b0, c20);
            c21 = Fma.MultiplyAdd(a2, b1, c21);
            var a3 = Avx.BroadcastScalarToVector256(r3 + offset);
            c30 = Fma.MultiplyAdd(a3, b0, c30);
            c31 = Fma.MultiplyAdd(a3, b1, c31);
            var a4 = Avx.BroadcastScalarToVector256(r4 + offset);
            c40 = Fma.MultiplyAdd(a4, b0, c40);
            c41 = Fma.MultiplyAdd(a4, b1, c41);
            var a5 = Avx.BroadcastScalarToVector256(r5 + offset);
            c50 = Fma.MultiplyAdd(a5, b0, c50);
            c51 = Fma.MultiplyAdd(a5, b1, c51);
            offset += columnStep;
            b += NR256;
        }
        if (overwrite)
        {
            Avx.Store(c + 0 * ldc, c00); Avx.Store(c + 0 * ldc + 8, c01);
            Avx.Store(c + 1 * ldc, c10); Avx.Store(c + 1 * ldc + 8, c11);
            Avx.Store(c + 2 * ldc, c20); Avx.Store(c + 2 * ldc + 8, c21);
            Avx.Store(c + 3 * ldc, c30); Avx.Store(c + 3 * ldc + 8, c31);
            Avx.Store(c + 4 * ldc, c40); Avx.Store(c + 4 * ldc + 8, c41);
            Avx.Store(c + 5 * ldc, c50); Avx.Store(c + 5 * ldc + 8, c51);
        }
        else
        {
            Avx.Store(c + 0 * ldc, Avx.Add(Avx.LoadVector256(c + 0 * ldc), c00));
            Avx.Store(c + 0 * ldc + 8, Avx.Add(Avx.LoadVector256(c + 0 * ldc + 8), c01));
            Avx.Store(c + 1 * ldc, Avx.Add(Avx.LoadVector256(c + 1 * ldc), c10));
            Avx.Store(c + 1 * ldc + 8, Avx.Add(Avx.LoadVector256(c + 1 * ldc + 8), c11));
            Avx.Store(c + 2 * ldc, Avx.Add(Avx.LoadVector256(c + 2 * ldc), c20));
            Avx.Store(c + 2 * ldc + 8, Avx.Add(Avx.LoadVector256(c + 2 * ldc + 8), c21));
            Avx.Store(c + 3 * ldc, Avx.Add(Avx.LoadVector256(c + 3 * ldc), c30));
            Avx.Store(c + 3 * ldc + 8, Avx.Add(Avx.LoadVector256(c + 3 * ldc + 8), c31));
            Avx.Store(c + 4 * ldc, Avx.Add(Avx.LoadVector256(c + 4 * ldc), c40));
            Avx.Store(c + 4 * ldc + 8, Avx.Add(Avx.LoadVector256(c + 4 * ldc + 8), c41));
            Avx.Store(c + 5 * ldc, Avx.Add(Avx.LoadVector256(c + 5 * ldc), c50));
            Avx.Store(c + 5 * ldc + 8, Avx.Add(Avx.LoadVector256(c + 5 * ldc + 8), c51));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Avx2Segments(int segments, float** bases, int length, nint rowStep, int rows, float* b, float* c, nint ldc, bool overwrite)
    {
        nint step1 = Math.Min(1, rows - 1) * rowStep, step2 = Math.Min(2, rows - 1) * rowStep, step3 = Math.Min(3, rows - 1) * rowStep;
        nint step4 = Math.Min(4, rows - 1) * rowStep, step5 = Math.Min(5, rows - 1) * rowStep;
        // Start fetching the C tile now: it is read only after the loop, and misses would stall it.
        Sse.Prefetch0(c + 0 * ldc); Sse.Prefetch0(c + 0 * ldc + NR256 - 1);
        Sse.Prefetch0(c + 1 * ldc); Sse.Prefetch0(c + 1 * ldc + NR256 - 1);
        Sse.Prefetch0(c + 2 * ldc); Sse.Prefetch0(c + 2 * ldc + NR256 - 1);
        Sse.Prefetch0(c + 3 * ldc); Sse.Prefetch0(c + 3 * ldc + NR256 - 1);
        Sse.Prefetch0(c + 4 * ldc); Sse.Prefetch0(c + 4 * ldc + NR256 - 1);
        Sse.Prefetch0(c + 5 * ldc); Sse.Prefetch0(c + 5 * ldc + NR256 - 1);
        Vector256<float> c00 = Vector256<float>.Zero, c01 = Vector256<float>.Zero;
        Vector256<float> c10 = Vector256<float>.Zero, c11 = Vector256<float>.Zero;
        Vector256<float> c20 = Vector256<float>.Zero, c21 = Vector256<float>.Zero;
        Vector256<float> c30 = Vector256<float>.Zero, c31 = Vector256<float>.Zero;
        Vector256<float> c40 = Vector256<float>.Zero, c41 = Vector256<float>.Zero;
        Vector256<float> c50 = Vector256<float>.Zero, c51 = Vector256<float>.Zero;
        for (int t = 0; t < segments; t++)
        {
            float* r0 = bases[t];
            if (r0 == null) { b += (nint)length * NR256; continue; }
            float* r1 = r0 + step1, r2 = r0 + step2, r3 = r0 + step3, r4 = r0 + step4, r5 = r0 + step5;
            for (nint p = 0; p < length; p++)
            {
                var b0 = Avx.LoadVector256(b);
                var b1 = Avx.LoadVector256(b + 8);
                var a0 = Avx.BroadcastScalarToVector256(r0 + p);
                c00 = Fma.MultiplyAdd(a0, b0, c00);
                c01 = Fma.MultiplyAdd(a0, b1, c01);
                var a1 = Avx.BroadcastScalarToVector256(r1 + p);
                c10 = Fma.MultiplyAdd(a1, b0, c10);
                c11 = Fma.MultiplyAdd(a1, b1, c11);
                var a2 = Avx.BroadcastScalarToVector256(r2 + p);
                c20 = Fma.MultiplyAdd(a2, b0, c20);
                c21 = Fma.MultiplyAdd(a2, b1, c21);
                var a3 = Avx.BroadcastScalarToVector256(r3 + p);
                c30 = Fma.MultiplyAdd(a3, b0, c30);
                c31 = Fma.MultiplyAdd(a3, b1, c31);
                var a4 = Avx.BroadcastScalarToVector256(r4 + p);
                c40 = Fma.MultiplyAdd(a4, b0, c40);
                c41 = Fma.MultiplyAdd(a4, b1, c41);
                var a5 = Avx.BroadcastScalarToVector256(r5 + p);
                c50 = Fma.MultiplyAdd(a5, b0, c50);
                c51 = Fma.MultiplyAdd(a5, b1, c51);
                b += NR256;
            }
        }
        if (overwrite)
        {
            Avx.Store(c + 0 * ldc, c00); Avx.Store(c + 0 * ldc + 8, c01);
            Avx.Store(c + 1 * ldc, c10); Avx.Store(c + 1 * ldc + 8, c11);
            Avx.Store(c + 2 * ldc, c20); Avx.Store(c + 2 * ldc + 8, c21);
            Avx.Store(c + 3 * ldc, c30); Avx.Store(c + 3 * ldc + 8, c31);
            Avx.Store(c + 4 * ldc, c40); Avx.Store(c + 4 * ldc + 8, c41);
            Avx.Store(c + 5 * ldc, c50); Avx.Store(c + 5 * ldc + 8, c51);
        }
        else
        {
            Avx.Store(c + 0 * ldc, Avx.Add(Avx.LoadVector256(c + 0 * ldc), c00));
            Avx.Store(c + 0 * ldc + 8, Avx.Add(Avx.LoadVector256(c + 0 * ldc + 8), c01));
            Avx.Store(c + 1 * ldc, Avx.Add(Avx.LoadVector256(c + 1 * ldc), c10));
            Avx.Store(c + 1 * ldc + 8, Avx.Add(Avx.LoadVector256(c + 1 * ldc + 8), c11));
            Avx.Store(c + 2 * ldc, Avx.Add(Avx.LoadVector256(c + 2 * ldc), c20));
            Avx.Store(c + 2 * ldc + 8, Avx.Add(Avx.LoadVector256(c + 2 * ldc + 8), c21));
            Avx.Store(c + 3 * ldc, Avx.Add(Avx.LoadVector256(c + 3 * ldc), c30));
            Avx.Store(c + 3 * ldc + 8, Avx.Add(Avx.LoadVector256(c + 3 * ldc + 8), c31));
            Avx.Store(c + 4 * ldc, Avx.Add(Avx.LoadVector256(c + 4 * ldc), c40));
            Avx.Store(c + 4 * ldc + 8, Avx.Add(Avx.LoadVector256(c + 4 * ldc + 8), c41));
            Avx.Store(c + 5 * ldc, Avx.Add(Avx.LoadVector256(c + 5 * ldc), c50));
            Avx.Store(c + 5 * ldc + 8, Avx.Add(Avx.LoadVector256(c + 5 * ldc + 8), c51));
        }
    }
}
