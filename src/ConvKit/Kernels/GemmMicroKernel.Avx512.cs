using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ConvKit.Kernels;

// M rows of op(A) and C, N columns of op(B) and C, K the shared dimension (GEMM letters, not the convolution's);
// MR/NR register block, MC/KC/NC cache blocks, mc/kc/nc the sizes of the block at hand.

/// <summary>The AVX-512 micro-kernels: the contracts of <see cref="GemmMicroKernel.Packed"/>, <see cref="GemmMicroKernel.Strided"/> and <see cref="GemmMicroKernel.Segments"/> with NR = 32.</summary>
/// <remarks>
/// 6 × 32 = twelve 16-wide zmm accumulators, two B vectors and one broadcast of A: 15 of the 32 zmm registers.
/// Each step of kc issues 12 FMAs against 2 loads of B and 6 broadcasts (8 loads), so two FMA ports stay fed
/// from two load ports with room to spare; twelve independent chains cover the 4-cycle FMA latency twice over.
/// Six rows (not 12 or 14) keep the six A row pointers of the in-place kernels in general registers.
/// </remarks>
internal static unsafe partial class GemmMicroKernel
{
    private const int NR512 = 32;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Avx512Packed(int kc, float* a, float* b, float* c, nint ldc, bool overwrite)
    {
        // Start fetching the C tile now: it is read only after the loop, and misses would stall it.
        Sse.Prefetch0(c + 0 * ldc); Sse.Prefetch0(c + 0 * ldc + 16); Sse.Prefetch0(c + 0 * ldc + NR512 - 1);
        Sse.Prefetch0(c + 1 * ldc); Sse.Prefetch0(c + 1 * ldc + 16); Sse.Prefetch0(c + 1 * ldc + NR512 - 1);
        Sse.Prefetch0(c + 2 * ldc); Sse.Prefetch0(c + 2 * ldc + 16); Sse.Prefetch0(c + 2 * ldc + NR512 - 1);
        Sse.Prefetch0(c + 3 * ldc); Sse.Prefetch0(c + 3 * ldc + 16); Sse.Prefetch0(c + 3 * ldc + NR512 - 1);
        Sse.Prefetch0(c + 4 * ldc); Sse.Prefetch0(c + 4 * ldc + 16); Sse.Prefetch0(c + 4 * ldc + NR512 - 1);
        Sse.Prefetch0(c + 5 * ldc); Sse.Prefetch0(c + 5 * ldc + 16); Sse.Prefetch0(c + 5 * ldc + NR512 - 1);
        Vector512<float> c00 = Vector512<float>.Zero, c01 = Vector512<float>.Zero;
        Vector512<float> c10 = Vector512<float>.Zero, c11 = Vector512<float>.Zero;
        Vector512<float> c20 = Vector512<float>.Zero, c21 = Vector512<float>.Zero;
        Vector512<float> c30 = Vector512<float>.Zero, c31 = Vector512<float>.Zero;
        Vector512<float> c40 = Vector512<float>.Zero, c41 = Vector512<float>.Zero;
        Vector512<float> c50 = Vector512<float>.Zero, c51 = Vector512<float>.Zero;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Avx512F.LoadVector512(b);
            var b1 = Avx512F.LoadVector512(b + 16);
            var a0 = Vector512.Create(a[0]);
            c00 = Avx512F.FusedMultiplyAdd(a0, b0, c00);
            c01 = Avx512F.FusedMultiplyAdd(a0, b1, c01);
            var a1 = Vector512.Create(a[1]);
            c10 = Avx512F.FusedMultiplyAdd(a1, b0, c10);
            c11 = Avx512F.FusedMultiplyAdd(a1, b1, c11);
            var a2 = Vector512.Create(a[2]);
            c20 = Avx512F.FusedMultiplyAdd(a2, b0, c20);
            c21 = Avx512F.FusedMultiplyAdd(a2, b1, c21);
            var a3 = Vector512.Create(a[3]);
            c30 = Avx512F.FusedMultiplyAdd(a3, b0, c30);
            c31 = Avx512F.FusedMultiplyAdd(a3, b1, c31);
            var a4 = Vector512.Create(a[4]);
            c40 = Avx512F.FusedMultiplyAdd(a4, b0, c40);
            c41 = Avx512F.FusedMultiplyAdd(a4, b1, c41);
            var a5 = Vector512.Create(a[5]);
            c50 = Avx512F.FusedMultiplyAdd(a5, b0, c50);
            c51 = Avx512F.FusedMultiplyAdd(a5, b1, c51);
            a += MR;
            b += NR512;
        }
        if (overwrite)
        {
            Avx512F.Store(c + 0 * ldc, c00); Avx512F.Store(c + 0 * ldc + 16, c01);
            Avx512F.Store(c + 1 * ldc, c10); Avx512F.Store(c + 1 * ldc + 16, c11);
            Avx512F.Store(c + 2 * ldc, c20); Avx512F.Store(c + 2 * ldc + 16, c21);
            Avx512F.Store(c + 3 * ldc, c30); Avx512F.Store(c + 3 * ldc + 16, c31);
            Avx512F.Store(c + 4 * ldc, c40); Avx512F.Store(c + 4 * ldc + 16, c41);
            Avx512F.Store(c + 5 * ldc, c50); Avx512F.Store(c + 5 * ldc + 16, c51);
        }
        else
        {
            Avx512F.Store(c + 0 * ldc, Avx512F.Add(Avx512F.LoadVector512(c + 0 * ldc), c00));
            Avx512F.Store(c + 0 * ldc + 16, Avx512F.Add(Avx512F.LoadVector512(c + 0 * ldc + 16), c01));
            Avx512F.Store(c + 1 * ldc, Avx512F.Add(Avx512F.LoadVector512(c + 1 * ldc), c10));
            Avx512F.Store(c + 1 * ldc + 16, Avx512F.Add(Avx512F.LoadVector512(c + 1 * ldc + 16), c11));
            Avx512F.Store(c + 2 * ldc, Avx512F.Add(Avx512F.LoadVector512(c + 2 * ldc), c20));
            Avx512F.Store(c + 2 * ldc + 16, Avx512F.Add(Avx512F.LoadVector512(c + 2 * ldc + 16), c21));
            Avx512F.Store(c + 3 * ldc, Avx512F.Add(Avx512F.LoadVector512(c + 3 * ldc), c30));
            Avx512F.Store(c + 3 * ldc + 16, Avx512F.Add(Avx512F.LoadVector512(c + 3 * ldc + 16), c31));
            Avx512F.Store(c + 4 * ldc, Avx512F.Add(Avx512F.LoadVector512(c + 4 * ldc), c40));
            Avx512F.Store(c + 4 * ldc + 16, Avx512F.Add(Avx512F.LoadVector512(c + 4 * ldc + 16), c41));
            Avx512F.Store(c + 5 * ldc, Avx512F.Add(Avx512F.LoadVector512(c + 5 * ldc), c50));
            Avx512F.Store(c + 5 * ldc + 16, Avx512F.Add(Avx512F.LoadVector512(c + 5 * ldc + 16), c51));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Avx512Strided(int kc, int rows, float* a, nint rowStep, nint columnStep, float* b, float* c, nint ldc, bool overwrite)
    {
        float* r0 = a;
        float* r1 = a + Math.Min(1, rows - 1) * rowStep;
        float* r2 = a + Math.Min(2, rows - 1) * rowStep;
        float* r3 = a + Math.Min(3, rows - 1) * rowStep;
        float* r4 = a + Math.Min(4, rows - 1) * rowStep;
        float* r5 = a + Math.Min(5, rows - 1) * rowStep;
        // Start fetching the C tile now: it is read only after the loop, and misses would stall it.
        Sse.Prefetch0(c + 0 * ldc); Sse.Prefetch0(c + 0 * ldc + 16); Sse.Prefetch0(c + 0 * ldc + NR512 - 1);
        Sse.Prefetch0(c + 1 * ldc); Sse.Prefetch0(c + 1 * ldc + 16); Sse.Prefetch0(c + 1 * ldc + NR512 - 1);
        Sse.Prefetch0(c + 2 * ldc); Sse.Prefetch0(c + 2 * ldc + 16); Sse.Prefetch0(c + 2 * ldc + NR512 - 1);
        Sse.Prefetch0(c + 3 * ldc); Sse.Prefetch0(c + 3 * ldc + 16); Sse.Prefetch0(c + 3 * ldc + NR512 - 1);
        Sse.Prefetch0(c + 4 * ldc); Sse.Prefetch0(c + 4 * ldc + 16); Sse.Prefetch0(c + 4 * ldc + NR512 - 1);
        Sse.Prefetch0(c + 5 * ldc); Sse.Prefetch0(c + 5 * ldc + 16); Sse.Prefetch0(c + 5 * ldc + NR512 - 1);
        Vector512<float> c00 = Vector512<float>.Zero, c01 = Vector512<float>.Zero;
        Vector512<float> c10 = Vector512<float>.Zero, c11 = Vector512<float>.Zero;
        Vector512<float> c20 = Vector512<float>.Zero, c21 = Vector512<float>.Zero;
        Vector512<float> c30 = Vector512<float>.Zero, c31 = Vector512<float>.Zero;
        Vector512<float> c40 = Vector512<float>.Zero, c41 = Vector512<float>.Zero;
        Vector512<float> c50 = Vector512<float>.Zero, c51 = Vector512<float>.Zero;
        nint offset = 0;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Avx512F.LoadVector512(b);
            var b1 = Avx512F.LoadVector512(b + 16);
            var a0 = Vector512.Create(r0[offset]);
            c00 = Avx512F.FusedMultiplyAdd(a0, b0, c00);
            c01 = Avx512F.FusedMultiplyAdd(a0, b1, c01);
            var a1 = Vector512.Create(r1[offset]);
            c10 = Avx512F.FusedMultiplyAdd(a1, b0, c10);
            c11 = Avx512F.FusedMultiplyAdd(a1, b1, c11);
            var a2 = Vector512.Create(r2[offset]);
            c20 = Avx512F.FusedMultiplyAdd(a2, b0, c20);
            c21 = Avx512F.FusedMultiplyAdd(a2, b1, c21);
            var a3 = Vector512.Create(r3[offset]);
            c30 = Avx512F.FusedMultiplyAdd(a3, b0, c30);
            c31 = Avx512F.FusedMultiplyAdd(a3, b1, c31);
            var a4 = Vector512.Create(r4[offset]);
            c40 = Avx512F.FusedMultiplyAdd(a4, b0, c40);
            c41 = Avx512F.FusedMultiplyAdd(a4, b1, c41);
            var a5 = Vector512.Create(r5[offset]);
            c50 = Avx512F.FusedMultiplyAdd(a5, b0, c50);
            c51 = Avx512F.FusedMultiplyAdd(a5, b1, c51);
            offset += columnStep;
            b += NR512;
        }
        if (overwrite)
        {
            Avx512F.Store(c + 0 * ldc, c00); Avx512F.Store(c + 0 * ldc + 16, c01);
            Avx512F.Store(c + 1 * ldc, c10); Avx512F.Store(c + 1 * ldc + 16, c11);
            Avx512F.Store(c + 2 * ldc, c20); Avx512F.Store(c + 2 * ldc + 16, c21);
            Avx512F.Store(c + 3 * ldc, c30); Avx512F.Store(c + 3 * ldc + 16, c31);
            Avx512F.Store(c + 4 * ldc, c40); Avx512F.Store(c + 4 * ldc + 16, c41);
            Avx512F.Store(c + 5 * ldc, c50); Avx512F.Store(c + 5 * ldc + 16, c51);
        }
        else
        {
            Avx512F.Store(c + 0 * ldc, Avx512F.Add(Avx512F.LoadVector512(c + 0 * ldc), c00));
            Avx512F.Store(c + 0 * ldc + 16, Avx512F.Add(Avx512F.LoadVector512(c + 0 * ldc + 16), c01));
            Avx512F.Store(c + 1 * ldc, Avx512F.Add(Avx512F.LoadVector512(c + 1 * ldc), c10));
            Avx512F.Store(c + 1 * ldc + 16, Avx512F.Add(Avx512F.LoadVector512(c + 1 * ldc + 16), c11));
            Avx512F.Store(c + 2 * ldc, Avx512F.Add(Avx512F.LoadVector512(c + 2 * ldc), c20));
            Avx512F.Store(c + 2 * ldc + 16, Avx512F.Add(Avx512F.LoadVector512(c + 2 * ldc + 16), c21));
            Avx512F.Store(c + 3 * ldc, Avx512F.Add(Avx512F.LoadVector512(c + 3 * ldc), c30));
            Avx512F.Store(c + 3 * ldc + 16, Avx512F.Add(Avx512F.LoadVector512(c + 3 * ldc + 16), c31));
            Avx512F.Store(c + 4 * ldc, Avx512F.Add(Avx512F.LoadVector512(c + 4 * ldc), c40));
            Avx512F.Store(c + 4 * ldc + 16, Avx512F.Add(Avx512F.LoadVector512(c + 4 * ldc + 16), c41));
            Avx512F.Store(c + 5 * ldc, Avx512F.Add(Avx512F.LoadVector512(c + 5 * ldc), c50));
            Avx512F.Store(c + 5 * ldc + 16, Avx512F.Add(Avx512F.LoadVector512(c + 5 * ldc + 16), c51));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Avx512Segments(int segments, float** bases, int length, nint rowStep, int rows, float* b, float* c, nint ldc, bool overwrite)
    {
        nint step1 = Math.Min(1, rows - 1) * rowStep, step2 = Math.Min(2, rows - 1) * rowStep, step3 = Math.Min(3, rows - 1) * rowStep;
        nint step4 = Math.Min(4, rows - 1) * rowStep, step5 = Math.Min(5, rows - 1) * rowStep;
        // Start fetching the C tile now: it is read only after the loop, and misses would stall it.
        Sse.Prefetch0(c + 0 * ldc); Sse.Prefetch0(c + 0 * ldc + 16); Sse.Prefetch0(c + 0 * ldc + NR512 - 1);
        Sse.Prefetch0(c + 1 * ldc); Sse.Prefetch0(c + 1 * ldc + 16); Sse.Prefetch0(c + 1 * ldc + NR512 - 1);
        Sse.Prefetch0(c + 2 * ldc); Sse.Prefetch0(c + 2 * ldc + 16); Sse.Prefetch0(c + 2 * ldc + NR512 - 1);
        Sse.Prefetch0(c + 3 * ldc); Sse.Prefetch0(c + 3 * ldc + 16); Sse.Prefetch0(c + 3 * ldc + NR512 - 1);
        Sse.Prefetch0(c + 4 * ldc); Sse.Prefetch0(c + 4 * ldc + 16); Sse.Prefetch0(c + 4 * ldc + NR512 - 1);
        Sse.Prefetch0(c + 5 * ldc); Sse.Prefetch0(c + 5 * ldc + 16); Sse.Prefetch0(c + 5 * ldc + NR512 - 1);
        Vector512<float> c00 = Vector512<float>.Zero, c01 = Vector512<float>.Zero;
        Vector512<float> c10 = Vector512<float>.Zero, c11 = Vector512<float>.Zero;
        Vector512<float> c20 = Vector512<float>.Zero, c21 = Vector512<float>.Zero;
        Vector512<float> c30 = Vector512<float>.Zero, c31 = Vector512<float>.Zero;
        Vector512<float> c40 = Vector512<float>.Zero, c41 = Vector512<float>.Zero;
        Vector512<float> c50 = Vector512<float>.Zero, c51 = Vector512<float>.Zero;
        for (int t = 0; t < segments; t++)
        {
            float* r0 = bases[t];
            if (r0 == null) { b += (nint)length * NR512; continue; }
            float* r1 = r0 + step1, r2 = r0 + step2, r3 = r0 + step3, r4 = r0 + step4, r5 = r0 + step5;
            for (nint p = 0; p < length; p++)
            {
                var b0 = Avx512F.LoadVector512(b);
                var b1 = Avx512F.LoadVector512(b + 16);
                var a0 = Vector512.Create(r0[p]);
                c00 = Avx512F.FusedMultiplyAdd(a0, b0, c00);
                c01 = Avx512F.FusedMultiplyAdd(a0, b1, c01);
                var a1 = Vector512.Create(r1[p]);
                c10 = Avx512F.FusedMultiplyAdd(a1, b0, c10);
                c11 = Avx512F.FusedMultiplyAdd(a1, b1, c11);
                var a2 = Vector512.Create(r2[p]);
                c20 = Avx512F.FusedMultiplyAdd(a2, b0, c20);
                c21 = Avx512F.FusedMultiplyAdd(a2, b1, c21);
                var a3 = Vector512.Create(r3[p]);
                c30 = Avx512F.FusedMultiplyAdd(a3, b0, c30);
                c31 = Avx512F.FusedMultiplyAdd(a3, b1, c31);
                var a4 = Vector512.Create(r4[p]);
                c40 = Avx512F.FusedMultiplyAdd(a4, b0, c40);
                c41 = Avx512F.FusedMultiplyAdd(a4, b1, c41);
                var a5 = Vector512.Create(r5[p]);
                c50 = Avx512F.FusedMultiplyAdd(a5, b0, c50);
                c51 = Avx512F.FusedMultiplyAdd(a5, b1, c51);
                b += NR512;
            }
        }
        if (overwrite)
        {
            Avx512F.Store(c + 0 * ldc, c00); Avx512F.Store(c + 0 * ldc + 16, c01);
            Avx512F.Store(c + 1 * ldc, c10); Avx512F.Store(c + 1 * ldc + 16, c11);
            Avx512F.Store(c + 2 * ldc, c20); Avx512F.Store(c + 2 * ldc + 16, c21);
            Avx512F.Store(c + 3 * ldc, c30); Avx512F.Store(c + 3 * ldc + 16, c31);
            Avx512F.Store(c + 4 * ldc, c40); Avx512F.Store(c + 4 * ldc + 16, c41);
            Avx512F.Store(c + 5 * ldc, c50); Avx512F.Store(c + 5 * ldc + 16, c51);
        }
        else
        {
            Avx512F.Store(c + 0 * ldc, Avx512F.Add(Avx512F.LoadVector512(c + 0 * ldc), c00));
            Avx512F.Store(c + 0 * ldc + 16, Avx512F.Add(Avx512F.LoadVector512(c + 0 * ldc + 16), c01));
            Avx512F.Store(c + 1 * ldc, Avx512F.Add(Avx512F.LoadVector512(c + 1 * ldc), c10));
            Avx512F.Store(c + 1 * ldc + 16, Avx512F.Add(Avx512F.LoadVector512(c + 1 * ldc + 16), c11));
            Avx512F.Store(c + 2 * ldc, Avx512F.Add(Avx512F.LoadVector512(c + 2 * ldc), c20));
            Avx512F.Store(c + 2 * ldc + 16, Avx512F.Add(Avx512F.LoadVector512(c + 2 * ldc + 16), c21));
            Avx512F.Store(c + 3 * ldc, Avx512F.Add(Avx512F.LoadVector512(c + 3 * ldc), c30));
            Avx512F.Store(c + 3 * ldc + 16, Avx512F.Add(Avx512F.LoadVector512(c + 3 * ldc + 16), c31));
            Avx512F.Store(c + 4 * ldc, Avx512F.Add(Avx512F.LoadVector512(c + 4 * ldc), c40));
            Avx512F.Store(c + 4 * ldc + 16, Avx512F.Add(Avx512F.LoadVector512(c + 4 * ldc + 16), c41));
            Avx512F.Store(c + 5 * ldc, Avx512F.Add(Avx512F.LoadVector512(c + 5 * ldc), c50));
            Avx512F.Store(c + 5 * ldc + 16, Avx512F.Add(Avx512F.LoadVector512(c + 5 * ldc + 16), c51));
        }
    }
}
