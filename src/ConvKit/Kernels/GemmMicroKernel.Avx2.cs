using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ConvKit.Kernels;

// M rows of op(A) and C, N columns of op(B) and C, K the shared dimension (GEMM letters, not the convolution's);
// MR/NR register block, MC/KC/NC cache blocks, mc/kc/nc the sizes of the block at hand.

/// <summary>The AVX2 + FMA micro-kernels: the contracts of <see cref="GemmMicroKernel.Packed"/>, <see cref="GemmMicroKernel.Strided"/>, <see cref="GemmMicroKernel.Segments"/> and <see cref="GemmMicroKernel.ColumnSegments"/> with NR = 16.</summary>
/// <remarks>
/// 6 × 16 = twelve 8-wide accumulators, two B vectors and one broadcast of A, fifteen of the
/// sixteen ymm registers. Each step of kc issues 12 FMAs against 2 loads of B and 6 broadcasts of A: 20 instructions
/// for 6 cycles of FMA work, so the loop's own counter, pointer and branch are a tenth of a 4-wide front end's budget
/// when written once per step. The loops therefore run four steps per iteration wherever A's columns are adjacent:
/// with AVX-512 off on Cascade Lake, SGEMM 2048³ ran 1.10× as fast on one thread (1.19× on two), and the 3×3 ResNet
/// convolution 1.07× (1.14×). Asking for B's lines ahead, as the AVX-512 kernel does, was slower here (0.96–0.97×).
/// </remarks>
internal static unsafe partial class GemmMicroKernel
{
    internal const int NR256 = 16;

    /// <summary>Writes one row of a 16-float-wide C tile: <c>row = acc</c>, or <c>row += acc</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Avx2StoreRow(float* row, Vector256<float> low, Vector256<float> high, bool overwrite)
    {
        if (!overwrite)
        {
            low = Avx.Add(Avx.LoadVector256(row), low);
            high = Avx.Add(Avx.LoadVector256(row + 8), high);
        }
        Avx.Store(row, low);
        Avx.Store(row + 8, high);
    }

    /// <summary>
    /// <see cref="Avx2StoreRow(float*, Vector256{float}, Vector256{float}, bool)"/> with the output epilogue, when
    /// <paramref name="e"/> is not null, applied in registers, each step rounded on its own as <see cref="Epilogue"/>'s pass rounds it (the AVX-512 kernel's
    /// <c>StoreRow</c> with an epilogue, eight lanes wide).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Avx2StoreRow(float* row, Vector256<float> low, Vector256<float> high, bool overwrite, TileEpilogue* e, nint rowOffset)
    {
        if (e == null)
        {
            Avx2StoreRow(row, low, high, overwrite);
            return;
        }
        if (!overwrite)
        {
            low = Avx.Add(Avx.LoadVector256(row), low);
            high = Avx.Add(Avx.LoadVector256(row + 8), high);
        }
        if (e->Scale != null)
        {
            low = Avx.Multiply(low, Avx.LoadVector256(e->Scale));
            high = Avx.Multiply(high, Avx.LoadVector256(e->Scale + 8));
        }
        if (e->Bias != null)
        {
            low = Avx.Add(low, Avx.LoadVector256(e->Bias));
            high = Avx.Add(high, Avx.LoadVector256(e->Bias + 8));
        }
        if (e->Residual != null)
        {
            low = Avx.Add(low, Avx.LoadVector256(e->Residual + rowOffset));
            high = Avx.Add(high, Avx.LoadVector256(e->Residual + rowOffset + 8));
        }
        if (e->Relu)
        {
            low = Vector256.Max(low, Vector256<float>.Zero);
            high = Vector256.Max(high, Vector256<float>.Zero);
        }
        Avx.Store(row, low);
        Avx.Store(row + 8, high);
    }

    /// <summary>
    /// The packed kernel: C[6, 16] (+)= A[6, kc] · B[kc, 16], then the <paramref name="epilogue"/>, when given, on the
    /// sums in registers before they are stored.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Avx2Packed(int kc, float* a, float* b, float* c, nint ldc, bool overwrite, TileEpilogue* epilogue = null)
    {
        PrefetchRows(c, ldc, MR, NR256);
        Vector256<float> c00 = Vector256<float>.Zero, c01 = Vector256<float>.Zero;
        Vector256<float> c10 = Vector256<float>.Zero, c11 = Vector256<float>.Zero;
        Vector256<float> c20 = Vector256<float>.Zero, c21 = Vector256<float>.Zero;
        Vector256<float> c30 = Vector256<float>.Zero, c31 = Vector256<float>.Zero;
        Vector256<float> c40 = Vector256<float>.Zero, c41 = Vector256<float>.Zero;
        Vector256<float> c50 = Vector256<float>.Zero, c51 = Vector256<float>.Zero;
        int p = 0;
        for (; p + 4 <= kc; p += 4)
        {
            var b0 = Avx.LoadVector256(b + 0);
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
            b0 = Avx.LoadVector256(b + 16);
            b1 = Avx.LoadVector256(b + 24);
            a0 = Avx.BroadcastScalarToVector256(a + 6);
            c00 = Fma.MultiplyAdd(a0, b0, c00);
            c01 = Fma.MultiplyAdd(a0, b1, c01);
            a1 = Avx.BroadcastScalarToVector256(a + 7);
            c10 = Fma.MultiplyAdd(a1, b0, c10);
            c11 = Fma.MultiplyAdd(a1, b1, c11);
            a2 = Avx.BroadcastScalarToVector256(a + 8);
            c20 = Fma.MultiplyAdd(a2, b0, c20);
            c21 = Fma.MultiplyAdd(a2, b1, c21);
            a3 = Avx.BroadcastScalarToVector256(a + 9);
            c30 = Fma.MultiplyAdd(a3, b0, c30);
            c31 = Fma.MultiplyAdd(a3, b1, c31);
            a4 = Avx.BroadcastScalarToVector256(a + 10);
            c40 = Fma.MultiplyAdd(a4, b0, c40);
            c41 = Fma.MultiplyAdd(a4, b1, c41);
            a5 = Avx.BroadcastScalarToVector256(a + 11);
            c50 = Fma.MultiplyAdd(a5, b0, c50);
            c51 = Fma.MultiplyAdd(a5, b1, c51);
            b0 = Avx.LoadVector256(b + 32);
            b1 = Avx.LoadVector256(b + 40);
            a0 = Avx.BroadcastScalarToVector256(a + 12);
            c00 = Fma.MultiplyAdd(a0, b0, c00);
            c01 = Fma.MultiplyAdd(a0, b1, c01);
            a1 = Avx.BroadcastScalarToVector256(a + 13);
            c10 = Fma.MultiplyAdd(a1, b0, c10);
            c11 = Fma.MultiplyAdd(a1, b1, c11);
            a2 = Avx.BroadcastScalarToVector256(a + 14);
            c20 = Fma.MultiplyAdd(a2, b0, c20);
            c21 = Fma.MultiplyAdd(a2, b1, c21);
            a3 = Avx.BroadcastScalarToVector256(a + 15);
            c30 = Fma.MultiplyAdd(a3, b0, c30);
            c31 = Fma.MultiplyAdd(a3, b1, c31);
            a4 = Avx.BroadcastScalarToVector256(a + 16);
            c40 = Fma.MultiplyAdd(a4, b0, c40);
            c41 = Fma.MultiplyAdd(a4, b1, c41);
            a5 = Avx.BroadcastScalarToVector256(a + 17);
            c50 = Fma.MultiplyAdd(a5, b0, c50);
            c51 = Fma.MultiplyAdd(a5, b1, c51);
            b0 = Avx.LoadVector256(b + 48);
            b1 = Avx.LoadVector256(b + 56);
            a0 = Avx.BroadcastScalarToVector256(a + 18);
            c00 = Fma.MultiplyAdd(a0, b0, c00);
            c01 = Fma.MultiplyAdd(a0, b1, c01);
            a1 = Avx.BroadcastScalarToVector256(a + 19);
            c10 = Fma.MultiplyAdd(a1, b0, c10);
            c11 = Fma.MultiplyAdd(a1, b1, c11);
            a2 = Avx.BroadcastScalarToVector256(a + 20);
            c20 = Fma.MultiplyAdd(a2, b0, c20);
            c21 = Fma.MultiplyAdd(a2, b1, c21);
            a3 = Avx.BroadcastScalarToVector256(a + 21);
            c30 = Fma.MultiplyAdd(a3, b0, c30);
            c31 = Fma.MultiplyAdd(a3, b1, c31);
            a4 = Avx.BroadcastScalarToVector256(a + 22);
            c40 = Fma.MultiplyAdd(a4, b0, c40);
            c41 = Fma.MultiplyAdd(a4, b1, c41);
            a5 = Avx.BroadcastScalarToVector256(a + 23);
            c50 = Fma.MultiplyAdd(a5, b0, c50);
            c51 = Fma.MultiplyAdd(a5, b1, c51);
            a += 4 * MR;
            b += 4 * NR256;
        }
        for (; p < kc; p++)
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
        Avx2StoreRow(c + 0 * ldc, c00, c01, overwrite, epilogue, 0 * ldc);
        Avx2StoreRow(c + 1 * ldc, c10, c11, overwrite, epilogue, 1 * ldc);
        Avx2StoreRow(c + 2 * ldc, c20, c21, overwrite, epilogue, 2 * ldc);
        Avx2StoreRow(c + 3 * ldc, c30, c31, overwrite, epilogue, 3 * ldc);
        Avx2StoreRow(c + 4 * ldc, c40, c41, overwrite, epilogue, 4 * ldc);
        Avx2StoreRow(c + 5 * ldc, c50, c51, overwrite, epilogue, 5 * ldc);
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
        PrefetchRows(c, ldc, MR, NR256);
        Vector256<float> c00 = Vector256<float>.Zero, c01 = Vector256<float>.Zero;
        Vector256<float> c10 = Vector256<float>.Zero, c11 = Vector256<float>.Zero;
        Vector256<float> c20 = Vector256<float>.Zero, c21 = Vector256<float>.Zero;
        Vector256<float> c30 = Vector256<float>.Zero, c31 = Vector256<float>.Zero;
        Vector256<float> c40 = Vector256<float>.Zero, c41 = Vector256<float>.Zero;
        Vector256<float> c50 = Vector256<float>.Zero, c51 = Vector256<float>.Zero;
        nint offset = 0;
        int p = 0;
        if (columnStep == 1)
        {
            for (; p + 4 <= kc; p += 4)
            {
                var b0 = Avx.LoadVector256(b + 0);
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
                b0 = Avx.LoadVector256(b + 16);
                b1 = Avx.LoadVector256(b + 24);
                a0 = Avx.BroadcastScalarToVector256(r0 + offset + 1);
                c00 = Fma.MultiplyAdd(a0, b0, c00);
                c01 = Fma.MultiplyAdd(a0, b1, c01);
                a1 = Avx.BroadcastScalarToVector256(r1 + offset + 1);
                c10 = Fma.MultiplyAdd(a1, b0, c10);
                c11 = Fma.MultiplyAdd(a1, b1, c11);
                a2 = Avx.BroadcastScalarToVector256(r2 + offset + 1);
                c20 = Fma.MultiplyAdd(a2, b0, c20);
                c21 = Fma.MultiplyAdd(a2, b1, c21);
                a3 = Avx.BroadcastScalarToVector256(r3 + offset + 1);
                c30 = Fma.MultiplyAdd(a3, b0, c30);
                c31 = Fma.MultiplyAdd(a3, b1, c31);
                a4 = Avx.BroadcastScalarToVector256(r4 + offset + 1);
                c40 = Fma.MultiplyAdd(a4, b0, c40);
                c41 = Fma.MultiplyAdd(a4, b1, c41);
                a5 = Avx.BroadcastScalarToVector256(r5 + offset + 1);
                c50 = Fma.MultiplyAdd(a5, b0, c50);
                c51 = Fma.MultiplyAdd(a5, b1, c51);
                b0 = Avx.LoadVector256(b + 32);
                b1 = Avx.LoadVector256(b + 40);
                a0 = Avx.BroadcastScalarToVector256(r0 + offset + 2);
                c00 = Fma.MultiplyAdd(a0, b0, c00);
                c01 = Fma.MultiplyAdd(a0, b1, c01);
                a1 = Avx.BroadcastScalarToVector256(r1 + offset + 2);
                c10 = Fma.MultiplyAdd(a1, b0, c10);
                c11 = Fma.MultiplyAdd(a1, b1, c11);
                a2 = Avx.BroadcastScalarToVector256(r2 + offset + 2);
                c20 = Fma.MultiplyAdd(a2, b0, c20);
                c21 = Fma.MultiplyAdd(a2, b1, c21);
                a3 = Avx.BroadcastScalarToVector256(r3 + offset + 2);
                c30 = Fma.MultiplyAdd(a3, b0, c30);
                c31 = Fma.MultiplyAdd(a3, b1, c31);
                a4 = Avx.BroadcastScalarToVector256(r4 + offset + 2);
                c40 = Fma.MultiplyAdd(a4, b0, c40);
                c41 = Fma.MultiplyAdd(a4, b1, c41);
                a5 = Avx.BroadcastScalarToVector256(r5 + offset + 2);
                c50 = Fma.MultiplyAdd(a5, b0, c50);
                c51 = Fma.MultiplyAdd(a5, b1, c51);
                b0 = Avx.LoadVector256(b + 48);
                b1 = Avx.LoadVector256(b + 56);
                a0 = Avx.BroadcastScalarToVector256(r0 + offset + 3);
                c00 = Fma.MultiplyAdd(a0, b0, c00);
                c01 = Fma.MultiplyAdd(a0, b1, c01);
                a1 = Avx.BroadcastScalarToVector256(r1 + offset + 3);
                c10 = Fma.MultiplyAdd(a1, b0, c10);
                c11 = Fma.MultiplyAdd(a1, b1, c11);
                a2 = Avx.BroadcastScalarToVector256(r2 + offset + 3);
                c20 = Fma.MultiplyAdd(a2, b0, c20);
                c21 = Fma.MultiplyAdd(a2, b1, c21);
                a3 = Avx.BroadcastScalarToVector256(r3 + offset + 3);
                c30 = Fma.MultiplyAdd(a3, b0, c30);
                c31 = Fma.MultiplyAdd(a3, b1, c31);
                a4 = Avx.BroadcastScalarToVector256(r4 + offset + 3);
                c40 = Fma.MultiplyAdd(a4, b0, c40);
                c41 = Fma.MultiplyAdd(a4, b1, c41);
                a5 = Avx.BroadcastScalarToVector256(r5 + offset + 3);
                c50 = Fma.MultiplyAdd(a5, b0, c50);
                c51 = Fma.MultiplyAdd(a5, b1, c51);
                offset += 4;
                b += 4 * NR256;
            }
        }
        for (; p < kc; p++)
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
        Avx2StoreRow(c + 0 * ldc, c00, c01, overwrite);
        Avx2StoreRow(c + 1 * ldc, c10, c11, overwrite);
        Avx2StoreRow(c + 2 * ldc, c20, c21, overwrite);
        Avx2StoreRow(c + 3 * ldc, c30, c31, overwrite);
        Avx2StoreRow(c + 4 * ldc, c40, c41, overwrite);
        Avx2StoreRow(c + 5 * ldc, c50, c51, overwrite);
    }

    /// <summary>
    /// <see cref="Segments"/> with AVX2, for <paramref name="blocks"/> blocks of MR rows one after another: block i reads
    /// its pieces at bases[t] + i·MR·rowStep and writes C's rows from i·MR. More than one block needs whole blocks
    /// (<paramref name="rows"/> = MR). A direct convolution's row of pixels runs in one call, not one per six pixels.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Avx2Segments(int segments, float** bases, int length, nint rowStep, int rows, float* b, float* c, nint ldc, bool overwrite, int blocks = 1)
    {
        nint step1 = Math.Min(1, rows - 1) * rowStep, step2 = Math.Min(2, rows - 1) * rowStep, step3 = Math.Min(3, rows - 1) * rowStep;
        nint step4 = Math.Min(4, rows - 1) * rowStep, step5 = Math.Min(5, rows - 1) * rowStep;
        float* panel = b;
        for (nint block = 0; block < blocks; block++, c += MR * ldc)
        {
            b = panel;
            nint blockOffset = block * MR * rowStep;
            PrefetchRows(c, ldc, MR, NR256);
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
                r0 += blockOffset;
                float* r1 = r0 + step1, r2 = r0 + step2, r3 = r0 + step3, r4 = r0 + step4, r5 = r0 + step5;
                nint p = 0;
                for (; p + 4 <= length; p += 4)
                {
                    var b0 = Avx.LoadVector256(b + 0);
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
                    b0 = Avx.LoadVector256(b + 16);
                    b1 = Avx.LoadVector256(b + 24);
                    a0 = Avx.BroadcastScalarToVector256(r0 + p + 1);
                    c00 = Fma.MultiplyAdd(a0, b0, c00);
                    c01 = Fma.MultiplyAdd(a0, b1, c01);
                    a1 = Avx.BroadcastScalarToVector256(r1 + p + 1);
                    c10 = Fma.MultiplyAdd(a1, b0, c10);
                    c11 = Fma.MultiplyAdd(a1, b1, c11);
                    a2 = Avx.BroadcastScalarToVector256(r2 + p + 1);
                    c20 = Fma.MultiplyAdd(a2, b0, c20);
                    c21 = Fma.MultiplyAdd(a2, b1, c21);
                    a3 = Avx.BroadcastScalarToVector256(r3 + p + 1);
                    c30 = Fma.MultiplyAdd(a3, b0, c30);
                    c31 = Fma.MultiplyAdd(a3, b1, c31);
                    a4 = Avx.BroadcastScalarToVector256(r4 + p + 1);
                    c40 = Fma.MultiplyAdd(a4, b0, c40);
                    c41 = Fma.MultiplyAdd(a4, b1, c41);
                    a5 = Avx.BroadcastScalarToVector256(r5 + p + 1);
                    c50 = Fma.MultiplyAdd(a5, b0, c50);
                    c51 = Fma.MultiplyAdd(a5, b1, c51);
                    b0 = Avx.LoadVector256(b + 32);
                    b1 = Avx.LoadVector256(b + 40);
                    a0 = Avx.BroadcastScalarToVector256(r0 + p + 2);
                    c00 = Fma.MultiplyAdd(a0, b0, c00);
                    c01 = Fma.MultiplyAdd(a0, b1, c01);
                    a1 = Avx.BroadcastScalarToVector256(r1 + p + 2);
                    c10 = Fma.MultiplyAdd(a1, b0, c10);
                    c11 = Fma.MultiplyAdd(a1, b1, c11);
                    a2 = Avx.BroadcastScalarToVector256(r2 + p + 2);
                    c20 = Fma.MultiplyAdd(a2, b0, c20);
                    c21 = Fma.MultiplyAdd(a2, b1, c21);
                    a3 = Avx.BroadcastScalarToVector256(r3 + p + 2);
                    c30 = Fma.MultiplyAdd(a3, b0, c30);
                    c31 = Fma.MultiplyAdd(a3, b1, c31);
                    a4 = Avx.BroadcastScalarToVector256(r4 + p + 2);
                    c40 = Fma.MultiplyAdd(a4, b0, c40);
                    c41 = Fma.MultiplyAdd(a4, b1, c41);
                    a5 = Avx.BroadcastScalarToVector256(r5 + p + 2);
                    c50 = Fma.MultiplyAdd(a5, b0, c50);
                    c51 = Fma.MultiplyAdd(a5, b1, c51);
                    b0 = Avx.LoadVector256(b + 48);
                    b1 = Avx.LoadVector256(b + 56);
                    a0 = Avx.BroadcastScalarToVector256(r0 + p + 3);
                    c00 = Fma.MultiplyAdd(a0, b0, c00);
                    c01 = Fma.MultiplyAdd(a0, b1, c01);
                    a1 = Avx.BroadcastScalarToVector256(r1 + p + 3);
                    c10 = Fma.MultiplyAdd(a1, b0, c10);
                    c11 = Fma.MultiplyAdd(a1, b1, c11);
                    a2 = Avx.BroadcastScalarToVector256(r2 + p + 3);
                    c20 = Fma.MultiplyAdd(a2, b0, c20);
                    c21 = Fma.MultiplyAdd(a2, b1, c21);
                    a3 = Avx.BroadcastScalarToVector256(r3 + p + 3);
                    c30 = Fma.MultiplyAdd(a3, b0, c30);
                    c31 = Fma.MultiplyAdd(a3, b1, c31);
                    a4 = Avx.BroadcastScalarToVector256(r4 + p + 3);
                    c40 = Fma.MultiplyAdd(a4, b0, c40);
                    c41 = Fma.MultiplyAdd(a4, b1, c41);
                    a5 = Avx.BroadcastScalarToVector256(r5 + p + 3);
                    c50 = Fma.MultiplyAdd(a5, b0, c50);
                    c51 = Fma.MultiplyAdd(a5, b1, c51);
                    b += 4 * NR256;
                }
                for (; p < length; p++)
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
            Avx2StoreRow(c + 0 * ldc, c00, c01, overwrite);
            Avx2StoreRow(c + 1 * ldc, c10, c11, overwrite);
            Avx2StoreRow(c + 2 * ldc, c20, c21, overwrite);
            Avx2StoreRow(c + 3 * ldc, c30, c31, overwrite);
            Avx2StoreRow(c + 4 * ldc, c40, c41, overwrite);
            Avx2StoreRow(c + 5 * ldc, c50, c51, overwrite);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Avx2ColumnSegments(int segments, float** bases, nint offset, int length, nint columnStep, int rows, float* b, float* c, nint ldc, bool overwrite)
    {
        nint o1 = Math.Min(1, rows - 1), o2 = Math.Min(2, rows - 1), o3 = Math.Min(3, rows - 1), o4 = Math.Min(4, rows - 1), o5 = Math.Min(5, rows - 1);
        PrefetchRows(c, ldc, MR, NR256);
        Vector256<float> c00 = Vector256<float>.Zero, c01 = Vector256<float>.Zero;
        Vector256<float> c10 = Vector256<float>.Zero, c11 = Vector256<float>.Zero;
        Vector256<float> c20 = Vector256<float>.Zero, c21 = Vector256<float>.Zero;
        Vector256<float> c30 = Vector256<float>.Zero, c31 = Vector256<float>.Zero;
        Vector256<float> c40 = Vector256<float>.Zero, c41 = Vector256<float>.Zero;
        Vector256<float> c50 = Vector256<float>.Zero, c51 = Vector256<float>.Zero;
        Vector256<float> a0, b0, b1;
        for (int t = 0; t < segments; t++)
        {
            float* a = bases[t];
            if (a == null) { b += (nint)length * NR256; continue; }
            a += offset;
            int p = 0;
            for (; p + 4 <= length; p += 4)
            {
                b0 = Avx.LoadVector256(b + 0);
                b1 = Avx.LoadVector256(b + 8);
                a0 = Avx.BroadcastScalarToVector256(a);
                c00 = Fma.MultiplyAdd(a0, b0, c00);
                c01 = Fma.MultiplyAdd(a0, b1, c01);
                a0 = Avx.BroadcastScalarToVector256(a + o1);
                c10 = Fma.MultiplyAdd(a0, b0, c10);
                c11 = Fma.MultiplyAdd(a0, b1, c11);
                a0 = Avx.BroadcastScalarToVector256(a + o2);
                c20 = Fma.MultiplyAdd(a0, b0, c20);
                c21 = Fma.MultiplyAdd(a0, b1, c21);
                a0 = Avx.BroadcastScalarToVector256(a + o3);
                c30 = Fma.MultiplyAdd(a0, b0, c30);
                c31 = Fma.MultiplyAdd(a0, b1, c31);
                a0 = Avx.BroadcastScalarToVector256(a + o4);
                c40 = Fma.MultiplyAdd(a0, b0, c40);
                c41 = Fma.MultiplyAdd(a0, b1, c41);
                a0 = Avx.BroadcastScalarToVector256(a + o5);
                c50 = Fma.MultiplyAdd(a0, b0, c50);
                c51 = Fma.MultiplyAdd(a0, b1, c51);
                a += columnStep;
                b0 = Avx.LoadVector256(b + 16);
                b1 = Avx.LoadVector256(b + 24);
                a0 = Avx.BroadcastScalarToVector256(a);
                c00 = Fma.MultiplyAdd(a0, b0, c00);
                c01 = Fma.MultiplyAdd(a0, b1, c01);
                a0 = Avx.BroadcastScalarToVector256(a + o1);
                c10 = Fma.MultiplyAdd(a0, b0, c10);
                c11 = Fma.MultiplyAdd(a0, b1, c11);
                a0 = Avx.BroadcastScalarToVector256(a + o2);
                c20 = Fma.MultiplyAdd(a0, b0, c20);
                c21 = Fma.MultiplyAdd(a0, b1, c21);
                a0 = Avx.BroadcastScalarToVector256(a + o3);
                c30 = Fma.MultiplyAdd(a0, b0, c30);
                c31 = Fma.MultiplyAdd(a0, b1, c31);
                a0 = Avx.BroadcastScalarToVector256(a + o4);
                c40 = Fma.MultiplyAdd(a0, b0, c40);
                c41 = Fma.MultiplyAdd(a0, b1, c41);
                a0 = Avx.BroadcastScalarToVector256(a + o5);
                c50 = Fma.MultiplyAdd(a0, b0, c50);
                c51 = Fma.MultiplyAdd(a0, b1, c51);
                a += columnStep;
                b0 = Avx.LoadVector256(b + 32);
                b1 = Avx.LoadVector256(b + 40);
                a0 = Avx.BroadcastScalarToVector256(a);
                c00 = Fma.MultiplyAdd(a0, b0, c00);
                c01 = Fma.MultiplyAdd(a0, b1, c01);
                a0 = Avx.BroadcastScalarToVector256(a + o1);
                c10 = Fma.MultiplyAdd(a0, b0, c10);
                c11 = Fma.MultiplyAdd(a0, b1, c11);
                a0 = Avx.BroadcastScalarToVector256(a + o2);
                c20 = Fma.MultiplyAdd(a0, b0, c20);
                c21 = Fma.MultiplyAdd(a0, b1, c21);
                a0 = Avx.BroadcastScalarToVector256(a + o3);
                c30 = Fma.MultiplyAdd(a0, b0, c30);
                c31 = Fma.MultiplyAdd(a0, b1, c31);
                a0 = Avx.BroadcastScalarToVector256(a + o4);
                c40 = Fma.MultiplyAdd(a0, b0, c40);
                c41 = Fma.MultiplyAdd(a0, b1, c41);
                a0 = Avx.BroadcastScalarToVector256(a + o5);
                c50 = Fma.MultiplyAdd(a0, b0, c50);
                c51 = Fma.MultiplyAdd(a0, b1, c51);
                a += columnStep;
                b0 = Avx.LoadVector256(b + 48);
                b1 = Avx.LoadVector256(b + 56);
                a0 = Avx.BroadcastScalarToVector256(a);
                c00 = Fma.MultiplyAdd(a0, b0, c00);
                c01 = Fma.MultiplyAdd(a0, b1, c01);
                a0 = Avx.BroadcastScalarToVector256(a + o1);
                c10 = Fma.MultiplyAdd(a0, b0, c10);
                c11 = Fma.MultiplyAdd(a0, b1, c11);
                a0 = Avx.BroadcastScalarToVector256(a + o2);
                c20 = Fma.MultiplyAdd(a0, b0, c20);
                c21 = Fma.MultiplyAdd(a0, b1, c21);
                a0 = Avx.BroadcastScalarToVector256(a + o3);
                c30 = Fma.MultiplyAdd(a0, b0, c30);
                c31 = Fma.MultiplyAdd(a0, b1, c31);
                a0 = Avx.BroadcastScalarToVector256(a + o4);
                c40 = Fma.MultiplyAdd(a0, b0, c40);
                c41 = Fma.MultiplyAdd(a0, b1, c41);
                a0 = Avx.BroadcastScalarToVector256(a + o5);
                c50 = Fma.MultiplyAdd(a0, b0, c50);
                c51 = Fma.MultiplyAdd(a0, b1, c51);
                a += columnStep;
                b += 4 * NR256;
            }
            for (; p < length; p++)
            {
                b0 = Avx.LoadVector256(b + 0);
                b1 = Avx.LoadVector256(b + 8);
                a0 = Avx.BroadcastScalarToVector256(a);
                c00 = Fma.MultiplyAdd(a0, b0, c00);
                c01 = Fma.MultiplyAdd(a0, b1, c01);
                a0 = Avx.BroadcastScalarToVector256(a + o1);
                c10 = Fma.MultiplyAdd(a0, b0, c10);
                c11 = Fma.MultiplyAdd(a0, b1, c11);
                a0 = Avx.BroadcastScalarToVector256(a + o2);
                c20 = Fma.MultiplyAdd(a0, b0, c20);
                c21 = Fma.MultiplyAdd(a0, b1, c21);
                a0 = Avx.BroadcastScalarToVector256(a + o3);
                c30 = Fma.MultiplyAdd(a0, b0, c30);
                c31 = Fma.MultiplyAdd(a0, b1, c31);
                a0 = Avx.BroadcastScalarToVector256(a + o4);
                c40 = Fma.MultiplyAdd(a0, b0, c40);
                c41 = Fma.MultiplyAdd(a0, b1, c41);
                a0 = Avx.BroadcastScalarToVector256(a + o5);
                c50 = Fma.MultiplyAdd(a0, b0, c50);
                c51 = Fma.MultiplyAdd(a0, b1, c51);
                a += columnStep;
                b += NR256;
            }
        }
        Avx2StoreRow(c + 0 * ldc, c00, c01, overwrite);
        Avx2StoreRow(c + 1 * ldc, c10, c11, overwrite);
        Avx2StoreRow(c + 2 * ldc, c20, c21, overwrite);
        Avx2StoreRow(c + 3 * ldc, c30, c31, overwrite);
        Avx2StoreRow(c + 4 * ldc, c40, c41, overwrite);
        Avx2StoreRow(c + 5 * ldc, c50, c51, overwrite);
    }
}
