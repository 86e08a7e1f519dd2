using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ConvKit.Kernels;

// M rows of op(A) and C, N columns of op(B) and C, K the shared dimension (GEMM letters, not the convolution's);
// MR/NR register block, MC/KC/NC cache blocks, mc/kc/nc the sizes of the block at hand.

/// <summary>The AVX-512 micro-kernels: the contracts of <see cref="GemmMicroKernel.Packed"/> (12 × 32), <see cref="GemmMicroKernel.Strided"/> and <see cref="GemmMicroKernel.Segments"/> (6 × 32), <see cref="GemmMicroKernel.ColumnSegments"/> (12 × 32 and 6 × 32).</summary>
/// <remarks>
/// The packed kernel is 12 × 32: 24 zmm accumulators, two B vectors and one broadcast of A, 27 of the 32 zmm registers.
/// Each step of kc issues 24 FMAs against 2 loads of B and 12 broadcasts, 42 instructions with the loop's own for
/// 12 cycles of FMA work: the 6 × 32 shape needs 24 for 6 cycles, the whole of Skylake's 4-wide front end, and
/// measured 10–15 % slower. Unrolling two steps of kc measured another 5–10 %. Six rows remain for the in-place kernels, whose six A row pointers must stay in
/// general registers; twelve independent chains still cover the 4-cycle FMA latency twice over.
/// </remarks>
internal static unsafe partial class GemmMicroKernel
{
    private const int NR512 = 32;
    private const int PackedMR512 = 12;

    /// <summary>Writes one row of a 32-float-wide C tile: <c>row = acc</c>, or <c>row += acc</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(float* row, Vector512<float> low, Vector512<float> high, bool overwrite)
    {
        if (!overwrite)
        {
            low = Avx512F.Add(Avx512F.LoadVector512(row), low);
            high = Avx512F.Add(Avx512F.LoadVector512(row + 16), high);
        }
        Avx512F.Store(row, low);
        Avx512F.Store(row + 16, high);
    }

    /// <summary>
    /// <see cref="StoreRow(float*, Vector512{float}, Vector512{float}, bool)"/> with the output epilogue, when
    /// <paramref name="e"/> is not null, applied in registers: (acc, or row + acc) · scale + bias + residual,
    /// then max(·, 0), each step rounded on its own as <see cref="Epilogue"/>'s pass rounds it, so the bits are those of
    /// storing the row and running that pass over it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(float* row, Vector512<float> low, Vector512<float> high, bool overwrite, TileEpilogue* e, nint rowOffset)
    {
        if (e == null)
        {
            StoreRow(row, low, high, overwrite);
            return;
        }
        if (!overwrite)
        {
            low = Avx512F.Add(Avx512F.LoadVector512(row), low);
            high = Avx512F.Add(Avx512F.LoadVector512(row + 16), high);
        }
        if (e->Scale != null)
        {
            low = Avx512F.Multiply(low, Avx512F.LoadVector512(e->Scale));
            high = Avx512F.Multiply(high, Avx512F.LoadVector512(e->Scale + 16));
        }
        if (e->Bias != null)
        {
            low = Avx512F.Add(low, Avx512F.LoadVector512(e->Bias));
            high = Avx512F.Add(high, Avx512F.LoadVector512(e->Bias + 16));
        }
        if (e->Residual != null)
        {
            low = Avx512F.Add(low, Avx512F.LoadVector512(e->Residual + rowOffset));
            high = Avx512F.Add(high, Avx512F.LoadVector512(e->Residual + rowOffset + 16));
        }
        if (e->Relu)
        {
            low = Vector512.Max(low, Vector512<float>.Zero);
            high = Vector512.Max(high, Vector512<float>.Zero);
        }
        Avx512F.Store(row, low);
        Avx512F.Store(row + 16, high);
    }

    /// <summary>Floats of packed B ahead of the current step that <see cref="Avx512Packed"/> prefetches (24 steps of 32).</summary>
    private const int PrefetchAheadB = 24 * NR512;

    /// <summary>Floats of packed A ahead of the current step that <see cref="Avx512Packed"/> prefetches (64 steps of 12).</summary>
    private const int PrefetchAheadA = 64 * PackedMR512;

    /// <summary>
    /// The packed kernel with MR = 12: C[12, 32] (+)= A[12, kc] · B[kc, 32], A packed as a[p·12 + i], then the
    /// <paramref name="epilogue"/>, when given, on the sums in registers before they are stored.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Avx512Packed(int kc, float* a, float* b, float* c, nint ldc, bool overwrite, TileEpilogue* epilogue = null)
    {
        // Start fetching the C tile now: it is read only after the loop, and misses would stall it.
        PrefetchRows(c, ldc, 12, NR512);
        Vector512<float> c00 = Vector512<float>.Zero, c00b = Vector512<float>.Zero;
        Vector512<float> c01 = Vector512<float>.Zero, c01b = Vector512<float>.Zero;
        Vector512<float> c02 = Vector512<float>.Zero, c02b = Vector512<float>.Zero;
        Vector512<float> c03 = Vector512<float>.Zero, c03b = Vector512<float>.Zero;
        Vector512<float> c04 = Vector512<float>.Zero, c04b = Vector512<float>.Zero;
        Vector512<float> c05 = Vector512<float>.Zero, c05b = Vector512<float>.Zero;
        Vector512<float> c06 = Vector512<float>.Zero, c06b = Vector512<float>.Zero;
        Vector512<float> c07 = Vector512<float>.Zero, c07b = Vector512<float>.Zero;
        Vector512<float> c08 = Vector512<float>.Zero, c08b = Vector512<float>.Zero;
        Vector512<float> c09 = Vector512<float>.Zero, c09b = Vector512<float>.Zero;
        Vector512<float> c10 = Vector512<float>.Zero, c10b = Vector512<float>.Zero;
        Vector512<float> c11 = Vector512<float>.Zero, c11b = Vector512<float>.Zero;
        // Two steps of kc per iteration: the loop's own instructions are then a smaller share of the front end's 4 per cycle.
        int p = 0;
        for (; p + 2 <= kc; p += 2)
        {
            // Both panels stream through L1 (at KC = 1024 A's is 48 KB, B's 128 KB): ask for B's lines 24 steps ahead,
            // 3 KB, past where the hardware prefetcher keeps up (3–5 % on SGEMM 1024³ and 2048³; 512 to 1024 floats ahead
            // measured alike), and for A's 64 steps ahead, also 3 KB, as A's first pass in a block of B comes from L3
            // (2–4 % on SGEMM 2048³; 24 to 96 steps measured alike). Two lines of A per 1.5 lines used keep the loop simple.
            Sse.Prefetch0(a + PrefetchAheadA); Sse.Prefetch0(a + PrefetchAheadA + 16);
            Sse.Prefetch0(b + PrefetchAheadB); Sse.Prefetch0(b + PrefetchAheadB + 16);
            Sse.Prefetch0(b + PrefetchAheadB + 32); Sse.Prefetch0(b + PrefetchAheadB + 48);
            var b0 = Avx512F.LoadVector512(b);
            var b1 = Avx512F.LoadVector512(b + 16);
            var a00 = Vector512.Create(a[0]);
            c00 = Avx512F.FusedMultiplyAdd(a00, b0, c00);
            c00b = Avx512F.FusedMultiplyAdd(a00, b1, c00b);
            var a01 = Vector512.Create(a[1]);
            c01 = Avx512F.FusedMultiplyAdd(a01, b0, c01);
            c01b = Avx512F.FusedMultiplyAdd(a01, b1, c01b);
            var a02 = Vector512.Create(a[2]);
            c02 = Avx512F.FusedMultiplyAdd(a02, b0, c02);
            c02b = Avx512F.FusedMultiplyAdd(a02, b1, c02b);
            var a03 = Vector512.Create(a[3]);
            c03 = Avx512F.FusedMultiplyAdd(a03, b0, c03);
            c03b = Avx512F.FusedMultiplyAdd(a03, b1, c03b);
            var a04 = Vector512.Create(a[4]);
            c04 = Avx512F.FusedMultiplyAdd(a04, b0, c04);
            c04b = Avx512F.FusedMultiplyAdd(a04, b1, c04b);
            var a05 = Vector512.Create(a[5]);
            c05 = Avx512F.FusedMultiplyAdd(a05, b0, c05);
            c05b = Avx512F.FusedMultiplyAdd(a05, b1, c05b);
            var a06 = Vector512.Create(a[6]);
            c06 = Avx512F.FusedMultiplyAdd(a06, b0, c06);
            c06b = Avx512F.FusedMultiplyAdd(a06, b1, c06b);
            var a07 = Vector512.Create(a[7]);
            c07 = Avx512F.FusedMultiplyAdd(a07, b0, c07);
            c07b = Avx512F.FusedMultiplyAdd(a07, b1, c07b);
            var a08 = Vector512.Create(a[8]);
            c08 = Avx512F.FusedMultiplyAdd(a08, b0, c08);
            c08b = Avx512F.FusedMultiplyAdd(a08, b1, c08b);
            var a09 = Vector512.Create(a[9]);
            c09 = Avx512F.FusedMultiplyAdd(a09, b0, c09);
            c09b = Avx512F.FusedMultiplyAdd(a09, b1, c09b);
            var a10 = Vector512.Create(a[10]);
            c10 = Avx512F.FusedMultiplyAdd(a10, b0, c10);
            c10b = Avx512F.FusedMultiplyAdd(a10, b1, c10b);
            var a11 = Vector512.Create(a[11]);
            c11 = Avx512F.FusedMultiplyAdd(a11, b0, c11);
            c11b = Avx512F.FusedMultiplyAdd(a11, b1, c11b);
            b0 = Avx512F.LoadVector512(b + 32);
            b1 = Avx512F.LoadVector512(b + 48);
            a00 = Vector512.Create(a[12]);
            c00 = Avx512F.FusedMultiplyAdd(a00, b0, c00);
            c00b = Avx512F.FusedMultiplyAdd(a00, b1, c00b);
            a01 = Vector512.Create(a[13]);
            c01 = Avx512F.FusedMultiplyAdd(a01, b0, c01);
            c01b = Avx512F.FusedMultiplyAdd(a01, b1, c01b);
            a02 = Vector512.Create(a[14]);
            c02 = Avx512F.FusedMultiplyAdd(a02, b0, c02);
            c02b = Avx512F.FusedMultiplyAdd(a02, b1, c02b);
            a03 = Vector512.Create(a[15]);
            c03 = Avx512F.FusedMultiplyAdd(a03, b0, c03);
            c03b = Avx512F.FusedMultiplyAdd(a03, b1, c03b);
            a04 = Vector512.Create(a[16]);
            c04 = Avx512F.FusedMultiplyAdd(a04, b0, c04);
            c04b = Avx512F.FusedMultiplyAdd(a04, b1, c04b);
            a05 = Vector512.Create(a[17]);
            c05 = Avx512F.FusedMultiplyAdd(a05, b0, c05);
            c05b = Avx512F.FusedMultiplyAdd(a05, b1, c05b);
            a06 = Vector512.Create(a[18]);
            c06 = Avx512F.FusedMultiplyAdd(a06, b0, c06);
            c06b = Avx512F.FusedMultiplyAdd(a06, b1, c06b);
            a07 = Vector512.Create(a[19]);
            c07 = Avx512F.FusedMultiplyAdd(a07, b0, c07);
            c07b = Avx512F.FusedMultiplyAdd(a07, b1, c07b);
            a08 = Vector512.Create(a[20]);
            c08 = Avx512F.FusedMultiplyAdd(a08, b0, c08);
            c08b = Avx512F.FusedMultiplyAdd(a08, b1, c08b);
            a09 = Vector512.Create(a[21]);
            c09 = Avx512F.FusedMultiplyAdd(a09, b0, c09);
            c09b = Avx512F.FusedMultiplyAdd(a09, b1, c09b);
            a10 = Vector512.Create(a[22]);
            c10 = Avx512F.FusedMultiplyAdd(a10, b0, c10);
            c10b = Avx512F.FusedMultiplyAdd(a10, b1, c10b);
            a11 = Vector512.Create(a[23]);
            c11 = Avx512F.FusedMultiplyAdd(a11, b0, c11);
            c11b = Avx512F.FusedMultiplyAdd(a11, b1, c11b);
            a += 2 * PackedMR512;
            b += 2 * NR512;
        }
        if (p < kc)
        {
            var b0 = Avx512F.LoadVector512(b);
            var b1 = Avx512F.LoadVector512(b + 16);
            var a00 = Vector512.Create(a[0]);
            c00 = Avx512F.FusedMultiplyAdd(a00, b0, c00);
            c00b = Avx512F.FusedMultiplyAdd(a00, b1, c00b);
            var a01 = Vector512.Create(a[1]);
            c01 = Avx512F.FusedMultiplyAdd(a01, b0, c01);
            c01b = Avx512F.FusedMultiplyAdd(a01, b1, c01b);
            var a02 = Vector512.Create(a[2]);
            c02 = Avx512F.FusedMultiplyAdd(a02, b0, c02);
            c02b = Avx512F.FusedMultiplyAdd(a02, b1, c02b);
            var a03 = Vector512.Create(a[3]);
            c03 = Avx512F.FusedMultiplyAdd(a03, b0, c03);
            c03b = Avx512F.FusedMultiplyAdd(a03, b1, c03b);
            var a04 = Vector512.Create(a[4]);
            c04 = Avx512F.FusedMultiplyAdd(a04, b0, c04);
            c04b = Avx512F.FusedMultiplyAdd(a04, b1, c04b);
            var a05 = Vector512.Create(a[5]);
            c05 = Avx512F.FusedMultiplyAdd(a05, b0, c05);
            c05b = Avx512F.FusedMultiplyAdd(a05, b1, c05b);
            var a06 = Vector512.Create(a[6]);
            c06 = Avx512F.FusedMultiplyAdd(a06, b0, c06);
            c06b = Avx512F.FusedMultiplyAdd(a06, b1, c06b);
            var a07 = Vector512.Create(a[7]);
            c07 = Avx512F.FusedMultiplyAdd(a07, b0, c07);
            c07b = Avx512F.FusedMultiplyAdd(a07, b1, c07b);
            var a08 = Vector512.Create(a[8]);
            c08 = Avx512F.FusedMultiplyAdd(a08, b0, c08);
            c08b = Avx512F.FusedMultiplyAdd(a08, b1, c08b);
            var a09 = Vector512.Create(a[9]);
            c09 = Avx512F.FusedMultiplyAdd(a09, b0, c09);
            c09b = Avx512F.FusedMultiplyAdd(a09, b1, c09b);
            var a10 = Vector512.Create(a[10]);
            c10 = Avx512F.FusedMultiplyAdd(a10, b0, c10);
            c10b = Avx512F.FusedMultiplyAdd(a10, b1, c10b);
            var a11 = Vector512.Create(a[11]);
            c11 = Avx512F.FusedMultiplyAdd(a11, b0, c11);
            c11b = Avx512F.FusedMultiplyAdd(a11, b1, c11b);
        }
        // The epilogue, when given, on the sums still in registers: after the tile was stored, a pass reading it back
        // waited on those stores (to lines that come from memory) and took a fifth of a 56×56×64 → 256 1×1
        // convolution's samples.
        StoreRow(c + 0 * ldc, c00, c00b, overwrite, epilogue, 0 * ldc);
        StoreRow(c + 1 * ldc, c01, c01b, overwrite, epilogue, 1 * ldc);
        StoreRow(c + 2 * ldc, c02, c02b, overwrite, epilogue, 2 * ldc);
        StoreRow(c + 3 * ldc, c03, c03b, overwrite, epilogue, 3 * ldc);
        StoreRow(c + 4 * ldc, c04, c04b, overwrite, epilogue, 4 * ldc);
        StoreRow(c + 5 * ldc, c05, c05b, overwrite, epilogue, 5 * ldc);
        StoreRow(c + 6 * ldc, c06, c06b, overwrite, epilogue, 6 * ldc);
        StoreRow(c + 7 * ldc, c07, c07b, overwrite, epilogue, 7 * ldc);
        StoreRow(c + 8 * ldc, c08, c08b, overwrite, epilogue, 8 * ldc);
        StoreRow(c + 9 * ldc, c09, c09b, overwrite, epilogue, 9 * ldc);
        StoreRow(c + 10 * ldc, c10, c10b, overwrite, epilogue, 10 * ldc);
        StoreRow(c + 11 * ldc, c11, c11b, overwrite, epilogue, 11 * ldc);
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

    /// <summary>
    /// C[rows, 32] (+)= A[rows, kc] · B[kc, 32] for 12 to 14 rows, with A read in place, row i at a + i·rowStep and its
    /// columns adjacent (an im2col tile), B packed: the shape of <see cref="Avx512Packed"/> without packing A, as one
    /// piece of <see cref="Avx512SegmentsRows12"/>. Against the six-row in-place kernel twelve rows issue half the loads
    /// of B and a third fewer instructions per multiply-add: 140 against 133 GFLOP/s on one Skylake-SP core with
    /// kc = 128. Thirteen and fourteen rows take in the one or two rows left over from twelve-row tiles, which on their
    /// own would wait on the multiply-add's latency (a single row has only two independent sums). Each element sums its
    /// products in the same order as the six-row kernel, so they all give the same bits.
    /// <paramref name="fetchB"/> prefetches B as it goes: for the first rows to meet a micro-panel of B that comes from
    /// L2 or L3 (a layer's kept weights), which the rows after them then find in L1.
    /// </summary>
    internal static void Avx512StridedRows(int rows, int kc, float* a, nint rowStep, float* b, float* c, nint ldc, bool overwrite, bool fetchB)
    {
        bool streamed = fetchB || (long)kc * NR512 * sizeof(float) > StreamedBBytes;
        switch (rows)
        {
            case 12 when streamed: Avx512SegmentsRows<Rows12, StreamedB>(1, &a, kc, rowStep, b, c, ldc, overwrite); break;
            case 12: Avx512SegmentsRows<Rows12, BInL1>(1, &a, kc, rowStep, b, c, ldc, overwrite); break;
            case 13 when streamed: Avx512SegmentsRows<Rows13, StreamedB>(1, &a, kc, rowStep, b, c, ldc, overwrite); break;
            case 13: Avx512SegmentsRows<Rows13, BInL1>(1, &a, kc, rowStep, b, c, ldc, overwrite); break;
            case 14 when streamed: Avx512SegmentsRows<Rows14, StreamedB>(1, &a, kc, rowStep, b, c, ldc, overwrite); break;
            case 14: Avx512SegmentsRows<Rows14, BInL1>(1, &a, kc, rowStep, b, c, ldc, overwrite); break;
            default: throw new ArgumentOutOfRangeException(nameof(rows), rows, "The in-place AVX-512 kernel runs 12 to 14 rows.");
        }
    }

    /// <summary>
    /// Direct convolution, twelve pixels at a time: C[12, 32] (+)= Σ_t A_t[12, length] · B_t[length, 32], row i of A_t read
    /// at bases[t] + i·rowStep (twelve real rows; a null base is an all-zero piece, skipped), B the packed panel of all
    /// pieces one after another. In direct convolution B is the whole depth of the kernel (R·S·C × 32) and streams from
    /// L2 once per twelve pixels, while A, the pixels' overlapping windows, stays in L1; a B of more than
    /// <see cref="StreamedBBytes"/> is then prefetched as <see cref="Avx512Packed"/> does. In im2col tiles (kc ≤ 128) B
    /// stays in L1 and is not. Each element sums the pieces in the order of <see cref="Avx512Segments"/>, so the two give
    /// the same bits.
    /// </summary>
    /// <remarks>
    /// The twelve rows are addressed from four pointers three rows apart plus one and two row steps, which x86 encodes
    /// in the broadcast's address, so twelve rows cost six general registers (fourteen, with a fifth pointer, seven).
    /// </remarks>
    internal static void Avx512SegmentsRows12(int segments, float** bases, int length, nint rowStep, float* b, float* c, nint ldc, bool overwrite = true)
    {
        if ((long)segments * length * NR512 * sizeof(float) > StreamedBBytes)
            Avx512SegmentsRows<Rows12, StreamedB>(segments, bases, length, rowStep, b, c, ldc, overwrite);
        else
            Avx512SegmentsRows<Rows12, BInL1>(segments, bases, length, rowStep, b, c, ldc, overwrite);
    }

    /// <summary>
    /// <see cref="Avx512SegmentsRows12"/> with fourteen rows: 28 accumulators, two B vectors and a broadcast, 31 of the 32
    /// zmm registers. Each B vector loaded feeds fourteen multiply-adds instead of twelve, and rows of 14, 28 or 56
    /// pixels (ResNet's) fill whole blocks. One Skylake-SP core, kc = 1024, B streaming from L2: 136–138 against
    /// 133–135 GFLOP/s for twelve rows. The same bits as <see cref="Avx512Segments"/>.
    /// </summary>
    internal static void Avx512SegmentsRows14(int segments, float** bases, int length, nint rowStep, float* b, float* c, nint ldc, bool overwrite = true)
    {
        if ((long)segments * length * NR512 * sizeof(float) > StreamedBBytes)
            Avx512SegmentsRows<Rows14, StreamedB>(segments, bases, length, rowStep, b, c, ldc, overwrite);
        else
            Avx512SegmentsRows<Rows14, BInL1>(segments, bases, length, rowStep, b, c, ldc, overwrite);
    }

    /// <summary>
    /// Bytes of B above which <see cref="Avx512SegmentsRows12"/> and <see cref="Avx512SegmentsRows14"/> prefetch it: half
    /// of L1, the B micro-panel of an in-place tile at KC = 128. Prefetching a deeper B, on two threads: ResNet's 3×3
    /// convolution (depth 576) 4–10 % faster forward and 12 % for the input gradient, a 28×28×32 → 64 5×5 one (depth 800) 3–5 %; on one thread 0–5 %.
    /// Prefetching a B in L1 made the tutorial CNN's first convolution (depth 25) 5 % slower.
    /// </summary>
    private const int StreamedBBytes = 16 << 10;

    /// <summary>Type arguments that compile the twelve- and fourteen-row kernels twice each: with B prefetched, and without.</summary>
    private struct StreamedB;
    private struct BInL1;

    /// <summary>Type arguments for the rows of <see cref="Avx512SegmentsRows12"/>, <see cref="Avx512SegmentsRows14"/> and <see cref="Avx512StridedRows"/>.</summary>
    private struct Rows12;
    private struct Rows13;
    private struct Rows14;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Avx512SegmentsRows<TRows, TStreamedB>(int segments, float** bases, int length, nint rowStep, float* b, float* c, nint ldc, bool overwrite)
        where TRows : struct where TStreamedB : struct
    {
        bool fourteen = typeof(TRows) == typeof(Rows14), thirteen = fourteen || typeof(TRows) == typeof(Rows13);
        PrefetchRows(c, ldc, fourteen ? 14 : thirteen ? 13 : 12, NR512);
        Vector512<float> c00 = Vector512<float>.Zero, c00b = Vector512<float>.Zero;
        Vector512<float> c01 = Vector512<float>.Zero, c01b = Vector512<float>.Zero;
        Vector512<float> c02 = Vector512<float>.Zero, c02b = Vector512<float>.Zero;
        Vector512<float> c03 = Vector512<float>.Zero, c03b = Vector512<float>.Zero;
        Vector512<float> c04 = Vector512<float>.Zero, c04b = Vector512<float>.Zero;
        Vector512<float> c05 = Vector512<float>.Zero, c05b = Vector512<float>.Zero;
        Vector512<float> c06 = Vector512<float>.Zero, c06b = Vector512<float>.Zero;
        Vector512<float> c07 = Vector512<float>.Zero, c07b = Vector512<float>.Zero;
        Vector512<float> c08 = Vector512<float>.Zero, c08b = Vector512<float>.Zero;
        Vector512<float> c09 = Vector512<float>.Zero, c09b = Vector512<float>.Zero;
        Vector512<float> c10 = Vector512<float>.Zero, c10b = Vector512<float>.Zero;
        Vector512<float> c11 = Vector512<float>.Zero, c11b = Vector512<float>.Zero;
        Vector512<float> c12 = Vector512<float>.Zero, c12b = Vector512<float>.Zero;
        Vector512<float> c13 = Vector512<float>.Zero, c13b = Vector512<float>.Zero;
        nint step1 = rowStep, step2 = 2 * rowStep;
        for (int t = 0; t < segments; t++)
        {
            float* r0 = bases[t];
            if (r0 == null) { b += (nint)length * NR512; continue; }
            float* r3 = r0 + 3 * rowStep, r6 = r0 + 6 * rowStep, r9 = r0 + 9 * rowStep, r12 = r0 + 12 * rowStep;
            for (int p = 0; p < length; p++)
            {
                if (typeof(TStreamedB) == typeof(StreamedB)) { Sse.Prefetch0(b + PrefetchAheadB); Sse.Prefetch0(b + PrefetchAheadB + 16); }
                var b0 = Avx512F.LoadVector512(b);
                var b1 = Avx512F.LoadVector512(b + 16);
                var a00 = Vector512.Create(r0[0]);
                c00 = Avx512F.FusedMultiplyAdd(a00, b0, c00);
                c00b = Avx512F.FusedMultiplyAdd(a00, b1, c00b);
                var a01 = Vector512.Create(r0[step1]);
                c01 = Avx512F.FusedMultiplyAdd(a01, b0, c01);
                c01b = Avx512F.FusedMultiplyAdd(a01, b1, c01b);
                var a02 = Vector512.Create(r0[step2]);
                c02 = Avx512F.FusedMultiplyAdd(a02, b0, c02);
                c02b = Avx512F.FusedMultiplyAdd(a02, b1, c02b);
                var a03 = Vector512.Create(r3[0]);
                c03 = Avx512F.FusedMultiplyAdd(a03, b0, c03);
                c03b = Avx512F.FusedMultiplyAdd(a03, b1, c03b);
                var a04 = Vector512.Create(r3[step1]);
                c04 = Avx512F.FusedMultiplyAdd(a04, b0, c04);
                c04b = Avx512F.FusedMultiplyAdd(a04, b1, c04b);
                var a05 = Vector512.Create(r3[step2]);
                c05 = Avx512F.FusedMultiplyAdd(a05, b0, c05);
                c05b = Avx512F.FusedMultiplyAdd(a05, b1, c05b);
                var a06 = Vector512.Create(r6[0]);
                c06 = Avx512F.FusedMultiplyAdd(a06, b0, c06);
                c06b = Avx512F.FusedMultiplyAdd(a06, b1, c06b);
                var a07 = Vector512.Create(r6[step1]);
                c07 = Avx512F.FusedMultiplyAdd(a07, b0, c07);
                c07b = Avx512F.FusedMultiplyAdd(a07, b1, c07b);
                var a08 = Vector512.Create(r6[step2]);
                c08 = Avx512F.FusedMultiplyAdd(a08, b0, c08);
                c08b = Avx512F.FusedMultiplyAdd(a08, b1, c08b);
                var a09 = Vector512.Create(r9[0]);
                c09 = Avx512F.FusedMultiplyAdd(a09, b0, c09);
                c09b = Avx512F.FusedMultiplyAdd(a09, b1, c09b);
                var a10 = Vector512.Create(r9[step1]);
                c10 = Avx512F.FusedMultiplyAdd(a10, b0, c10);
                c10b = Avx512F.FusedMultiplyAdd(a10, b1, c10b);
                var a11 = Vector512.Create(r9[step2]);
                c11 = Avx512F.FusedMultiplyAdd(a11, b0, c11);
                c11b = Avx512F.FusedMultiplyAdd(a11, b1, c11b);
                if (thirteen)
                {
                    var a12 = Vector512.Create(r12[0]);
                    c12 = Avx512F.FusedMultiplyAdd(a12, b0, c12);
                    c12b = Avx512F.FusedMultiplyAdd(a12, b1, c12b);
                    if (fourteen)
                    {
                        var a13 = Vector512.Create(r12[step1]);
                        c13 = Avx512F.FusedMultiplyAdd(a13, b0, c13);
                        c13b = Avx512F.FusedMultiplyAdd(a13, b1, c13b);
                    }
                    r12++;
                }
                r0++; r3++; r6++; r9++;
                b += NR512;
            }
        }
        StoreRow(c + 0 * ldc, c00, c00b, overwrite);
        StoreRow(c + 1 * ldc, c01, c01b, overwrite);
        StoreRow(c + 2 * ldc, c02, c02b, overwrite);
        StoreRow(c + 3 * ldc, c03, c03b, overwrite);
        StoreRow(c + 4 * ldc, c04, c04b, overwrite);
        StoreRow(c + 5 * ldc, c05, c05b, overwrite);
        StoreRow(c + 6 * ldc, c06, c06b, overwrite);
        StoreRow(c + 7 * ldc, c07, c07b, overwrite);
        StoreRow(c + 8 * ldc, c08, c08b, overwrite);
        StoreRow(c + 9 * ldc, c09, c09b, overwrite);
        StoreRow(c + 10 * ldc, c10, c10b, overwrite);
        StoreRow(c + 11 * ldc, c11, c11b, overwrite);
        if (thirteen) StoreRow(c + 12 * ldc, c12, c12b, overwrite);
        if (fourteen) StoreRow(c + 13 * ldc, c13, c13b, overwrite);
    }

    /// <summary>
    /// Direct convolution on two runs of seven pixels at once, for layers with more filters than fit one block: C[14, 32] =
    /// Σ_t A_t[14, length] · B_t[length, 32] over the pieces t of <paramref name="windows"/>, where row i &lt; 7 of A_t is
    /// at a + offset(t) + i·rowStep and row 7 + i at the same plus <paramref name="secondRun"/>; C's rows 0–6 are at
    /// c + i·ldc and rows 7–13 at c + secondC + i·ldc. The runs may lie anywhere: side by side in one output row
    /// (secondRun = 7·rowStep), in two rows of a small image (ResNet's 7×7 maps, two rows per call), or in two images.
    /// B, the packed panel of all pieces one after another, streams from L2 and is prefetched. Each element sums the
    /// pieces in order, as <see cref="Avx512Segments"/> sums its segments, so the two give the same bits.
    /// </summary>
    /// <remarks>
    /// Rows are addressed from six pointers (0, 3 and 6 of each run) plus one and two row steps in the broadcasts' addresses.
    /// </remarks>
    internal static void Avx512TwoRuns(in RunWindows windows, float* a, nint secondRun, float* b, float* c, nint secondC, nint ldc) =>
        Avx512Runs<TwoRuns>(windows, a, secondRun, b, c, secondC, ldc);

    /// <summary>
    /// <see cref="Avx512TwoRuns"/> on one run of seven rows, for the odd run left over (the last row of a 7×7 map): fourteen
    /// sums, enough to cover the multiply-add's latency, in half the steps of two runs. The same bits.
    /// </summary>
    internal static void Avx512OneRun(in RunWindows windows, float* a, float* b, float* c, nint ldc) =>
        Avx512Runs<OneRun>(windows, a, 0, b, c, 0, ldc);

    /// <summary>Type arguments that compile <see cref="Avx512Runs"/> for one run of seven rows and for two.</summary>
    private struct OneRun;
    private struct TwoRuns;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Avx512Runs<TRuns>(in RunWindows windows, float* a, nint secondRun, float* b, float* c, nint secondC, nint ldc)
        where TRuns : struct
    {
        const int Run = 7;
        bool two = typeof(TRuns) == typeof(TwoRuns);
        PrefetchRows(c, ldc, Run, NR512);
        if (two) PrefetchRows(c + secondC, ldc, Run, NR512);
        Vector512<float> c00 = Vector512<float>.Zero, c00b = Vector512<float>.Zero;
        Vector512<float> c01 = Vector512<float>.Zero, c01b = Vector512<float>.Zero;
        Vector512<float> c02 = Vector512<float>.Zero, c02b = Vector512<float>.Zero;
        Vector512<float> c03 = Vector512<float>.Zero, c03b = Vector512<float>.Zero;
        Vector512<float> c04 = Vector512<float>.Zero, c04b = Vector512<float>.Zero;
        Vector512<float> c05 = Vector512<float>.Zero, c05b = Vector512<float>.Zero;
        Vector512<float> c06 = Vector512<float>.Zero, c06b = Vector512<float>.Zero;
        Vector512<float> c07 = Vector512<float>.Zero, c07b = Vector512<float>.Zero;
        Vector512<float> c08 = Vector512<float>.Zero, c08b = Vector512<float>.Zero;
        Vector512<float> c09 = Vector512<float>.Zero, c09b = Vector512<float>.Zero;
        Vector512<float> c10 = Vector512<float>.Zero, c10b = Vector512<float>.Zero;
        Vector512<float> c11 = Vector512<float>.Zero, c11b = Vector512<float>.Zero;
        Vector512<float> c12 = Vector512<float>.Zero, c12b = Vector512<float>.Zero;
        Vector512<float> c13 = Vector512<float>.Zero, c13b = Vector512<float>.Zero;
        nint rowStep = windows.RowStep, step1 = rowStep, step2 = 2 * rowStep;
        int length = windows.Length, pieces = windows.Pieces, perSegment = windows.PiecesPerSegment;
        for (int t = 0; t < pieces; t++)
        {
            float* r0 = a + t / perSegment * windows.SegmentStep + t % perSegment * windows.PieceStep;
            float* r3 = r0 + 3 * rowStep, r6 = r0 + 6 * rowStep;
            float* h0 = r0 + secondRun, h3 = h0 + 3 * rowStep, h6 = h0 + 6 * rowStep;
            for (int p = 0; p < length; p++)
            {
                Sse.Prefetch0(b + PrefetchAheadB); Sse.Prefetch0(b + PrefetchAheadB + 16);
                var b0 = Avx512F.LoadVector512(b);
                var b1 = Avx512F.LoadVector512(b + 16);
                var a00 = Vector512.Create(r0[0]);
                c00 = Avx512F.FusedMultiplyAdd(a00, b0, c00);
                c00b = Avx512F.FusedMultiplyAdd(a00, b1, c00b);
                var a01 = Vector512.Create(r0[step1]);
                c01 = Avx512F.FusedMultiplyAdd(a01, b0, c01);
                c01b = Avx512F.FusedMultiplyAdd(a01, b1, c01b);
                var a02 = Vector512.Create(r0[step2]);
                c02 = Avx512F.FusedMultiplyAdd(a02, b0, c02);
                c02b = Avx512F.FusedMultiplyAdd(a02, b1, c02b);
                var a03 = Vector512.Create(r3[0]);
                c03 = Avx512F.FusedMultiplyAdd(a03, b0, c03);
                c03b = Avx512F.FusedMultiplyAdd(a03, b1, c03b);
                var a04 = Vector512.Create(r3[step1]);
                c04 = Avx512F.FusedMultiplyAdd(a04, b0, c04);
                c04b = Avx512F.FusedMultiplyAdd(a04, b1, c04b);
                var a05 = Vector512.Create(r3[step2]);
                c05 = Avx512F.FusedMultiplyAdd(a05, b0, c05);
                c05b = Avx512F.FusedMultiplyAdd(a05, b1, c05b);
                var a06 = Vector512.Create(r6[0]);
                c06 = Avx512F.FusedMultiplyAdd(a06, b0, c06);
                c06b = Avx512F.FusedMultiplyAdd(a06, b1, c06b);
                if (two)
                {
                    var a07 = Vector512.Create(h0[0]);
                    c07 = Avx512F.FusedMultiplyAdd(a07, b0, c07);
                    c07b = Avx512F.FusedMultiplyAdd(a07, b1, c07b);
                    var a08 = Vector512.Create(h0[step1]);
                    c08 = Avx512F.FusedMultiplyAdd(a08, b0, c08);
                    c08b = Avx512F.FusedMultiplyAdd(a08, b1, c08b);
                    var a09 = Vector512.Create(h0[step2]);
                    c09 = Avx512F.FusedMultiplyAdd(a09, b0, c09);
                    c09b = Avx512F.FusedMultiplyAdd(a09, b1, c09b);
                    var a10 = Vector512.Create(h3[0]);
                    c10 = Avx512F.FusedMultiplyAdd(a10, b0, c10);
                    c10b = Avx512F.FusedMultiplyAdd(a10, b1, c10b);
                    var a11 = Vector512.Create(h3[step1]);
                    c11 = Avx512F.FusedMultiplyAdd(a11, b0, c11);
                    c11b = Avx512F.FusedMultiplyAdd(a11, b1, c11b);
                    var a12 = Vector512.Create(h3[step2]);
                    c12 = Avx512F.FusedMultiplyAdd(a12, b0, c12);
                    c12b = Avx512F.FusedMultiplyAdd(a12, b1, c12b);
                    var a13 = Vector512.Create(h6[0]);
                    c13 = Avx512F.FusedMultiplyAdd(a13, b0, c13);
                    c13b = Avx512F.FusedMultiplyAdd(a13, b1, c13b);
                    h0++; h3++; h6++;
                }
                r0++; r3++; r6++;
                b += NR512;
            }
        }
        StoreRow(c + 0 * ldc, c00, c00b, overwrite: true);
        StoreRow(c + 1 * ldc, c01, c01b, overwrite: true);
        StoreRow(c + 2 * ldc, c02, c02b, overwrite: true);
        StoreRow(c + 3 * ldc, c03, c03b, overwrite: true);
        StoreRow(c + 4 * ldc, c04, c04b, overwrite: true);
        StoreRow(c + 5 * ldc, c05, c05b, overwrite: true);
        StoreRow(c + 6 * ldc, c06, c06b, overwrite: true);
        if (!two) return;
        c += secondC;
        StoreRow(c + 0 * ldc, c07, c07b, overwrite: true);
        StoreRow(c + 1 * ldc, c08, c08b, overwrite: true);
        StoreRow(c + 2 * ldc, c09, c09b, overwrite: true);
        StoreRow(c + 3 * ldc, c10, c10b, overwrite: true);
        StoreRow(c + 4 * ldc, c11, c11b, overwrite: true);
        StoreRow(c + 5 * ldc, c12, c12b, overwrite: true);
        StoreRow(c + 6 * ldc, c13, c13b, overwrite: true);
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
    /// <summary>Rows of <see cref="Avx512Segments16"/>.</summary>
    internal const int Segments16Rows = 12;

    /// <summary>
    /// Direct convolution with at most 16 filters: C[12, 16] = Σ_t A_t[12, length] · B_t[length, 16] (overwritten), row i
    /// of A_t read at bases[t] + i·rowStep (twelve real rows; a null base is an all-zero piece, skipped), B packed 16 wide.
    /// With <paramref name="blocks"/> &gt; 1, that many such blocks one after another: block i reads at
    /// bases[t] + 12i·rowStep and writes C's rows from 12i (a row of pixels in one call).
    /// </summary>
    /// <remarks>
    /// One zmm accumulator per row. Each multiply-add takes its A value as an embedded broadcast from memory ({1to16}),
    /// so a step of the shared dimension is one load of B and twelve fused load-and-FMA instructions: half the
    /// multiply-add instructions of the 6 × 16 AVX2 kernel for the same work, without the separate broadcasts that
    /// would otherwise fill the front end. Rows are addressed from four pointers three rows apart plus one and two
    /// row steps, which x86 encodes in the instruction, so the loop needs no address arithmetic of its own.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Avx512Segments16(int segments, float** bases, int length, nint rowStep, float* b, float* c, nint ldc, int blocks = 1)
    {
        float* panel = b;
        for (nint block = 0; block < blocks; block++, c += Segments16Rows * ldc)
        {
            b = panel;
            nint blockOffset = block * Segments16Rows * rowStep;
            var c00 = Vector512<float>.Zero;
            var c01 = Vector512<float>.Zero;
            var c02 = Vector512<float>.Zero;
            var c03 = Vector512<float>.Zero;
            var c04 = Vector512<float>.Zero;
            var c05 = Vector512<float>.Zero;
            var c06 = Vector512<float>.Zero;
            var c07 = Vector512<float>.Zero;
            var c08 = Vector512<float>.Zero;
            var c09 = Vector512<float>.Zero;
            var c10 = Vector512<float>.Zero;
            var c11 = Vector512<float>.Zero;
            nint step1 = rowStep, step2 = 2 * rowStep;
            for (int t = 0; t < segments; t++)
            {
                float* r0 = bases[t];
                if (r0 == null) { b += (nint)length * 16; continue; }
                r0 += blockOffset;
                float* r3 = r0 + 3 * rowStep, r6 = r0 + 6 * rowStep, r9 = r0 + 9 * rowStep;
                for (int p = 0; p < length; p++)
                {
                    var b0 = Avx512F.LoadVector512(b);
                    c00 = Avx512F.FusedMultiplyAdd(Vector512.Create(r0[0]), b0, c00);
                    c01 = Avx512F.FusedMultiplyAdd(Vector512.Create(r0[step1]), b0, c01);
                    c02 = Avx512F.FusedMultiplyAdd(Vector512.Create(r0[step2]), b0, c02);
                    c03 = Avx512F.FusedMultiplyAdd(Vector512.Create(r3[0]), b0, c03);
                    c04 = Avx512F.FusedMultiplyAdd(Vector512.Create(r3[step1]), b0, c04);
                    c05 = Avx512F.FusedMultiplyAdd(Vector512.Create(r3[step2]), b0, c05);
                    c06 = Avx512F.FusedMultiplyAdd(Vector512.Create(r6[0]), b0, c06);
                    c07 = Avx512F.FusedMultiplyAdd(Vector512.Create(r6[step1]), b0, c07);
                    c08 = Avx512F.FusedMultiplyAdd(Vector512.Create(r6[step2]), b0, c08);
                    c09 = Avx512F.FusedMultiplyAdd(Vector512.Create(r9[0]), b0, c09);
                    c10 = Avx512F.FusedMultiplyAdd(Vector512.Create(r9[step1]), b0, c10);
                    c11 = Avx512F.FusedMultiplyAdd(Vector512.Create(r9[step2]), b0, c11);
                    r0++; r3++; r6++; r9++;
                    b += 16;
                }
            }
            Avx512F.Store(c + 0 * ldc, c00);
            Avx512F.Store(c + 1 * ldc, c01);
            Avx512F.Store(c + 2 * ldc, c02);
            Avx512F.Store(c + 3 * ldc, c03);
            Avx512F.Store(c + 4 * ldc, c04);
            Avx512F.Store(c + 5 * ldc, c05);
            Avx512F.Store(c + 6 * ldc, c06);
            Avx512F.Store(c + 7 * ldc, c07);
            Avx512F.Store(c + 8 * ldc, c08);
            Avx512F.Store(c + 9 * ldc, c09);
            Avx512F.Store(c + 10 * ldc, c10);
            Avx512F.Store(c + 11 * ldc, c11);

        }    }

    /// <summary>
    /// <see cref="GemmMicroKernel.ColumnSegments"/> on AVX-512: twelve rows at a time through a 12 × 32 block (24 zmm
    /// accumulators; A's twelve values of a step sit at fixed distances from one pointer), six or fewer through a 6 × 32 one.
    /// Both run two steps per iteration: against one step, kernel gradients of 5×5 and 3×3 layers ran 2–6 % faster.
    /// </summary>
    internal static void Avx512ColumnSegments(int segments, float** bases, nint offset, int length, nint columnStep, int rows, float* b, float* c, nint ldc, bool overwrite)
    {
        if (rows == 12) Avx512ColumnSegments12(segments, bases, offset, length, columnStep, b, c, ldc, overwrite);
        else
        {
            Avx512ColumnSegments6(segments, bases, offset, length, columnStep, Math.Min(rows, MR), b, c, ldc, overwrite);
            if (rows > MR) Avx512ColumnSegments6(segments, bases, offset + MR, length, columnStep, rows - MR, b, c + MR * ldc, ldc, overwrite);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Avx512ColumnSegments12(int segments, float** bases, nint offset, int length, nint columnStep, float* b, float* c, nint ldc, bool overwrite)
    {
        PrefetchRows(c, ldc, 12, NR512);
        Vector512<float> c00 = Vector512<float>.Zero, c00b = Vector512<float>.Zero;
        Vector512<float> c01 = Vector512<float>.Zero, c01b = Vector512<float>.Zero;
        Vector512<float> c02 = Vector512<float>.Zero, c02b = Vector512<float>.Zero;
        Vector512<float> c03 = Vector512<float>.Zero, c03b = Vector512<float>.Zero;
        Vector512<float> c04 = Vector512<float>.Zero, c04b = Vector512<float>.Zero;
        Vector512<float> c05 = Vector512<float>.Zero, c05b = Vector512<float>.Zero;
        Vector512<float> c06 = Vector512<float>.Zero, c06b = Vector512<float>.Zero;
        Vector512<float> c07 = Vector512<float>.Zero, c07b = Vector512<float>.Zero;
        Vector512<float> c08 = Vector512<float>.Zero, c08b = Vector512<float>.Zero;
        Vector512<float> c09 = Vector512<float>.Zero, c09b = Vector512<float>.Zero;
        Vector512<float> c10 = Vector512<float>.Zero, c10b = Vector512<float>.Zero;
        Vector512<float> c11 = Vector512<float>.Zero, c11b = Vector512<float>.Zero;
        Vector512<float> a0, b0, b1;
        for (int t = 0; t < segments; t++)
        {
            float* a = bases[t];
            if (a == null) { b += (nint)length * NR512; continue; }
            a += offset;
            int p = 0;
            for (; p + 2 <= length; p += 2)
            {
                b0 = Avx512F.LoadVector512(b + 0);
                b1 = Avx512F.LoadVector512(b + 16);
                a0 = Vector512.Create(a[0]);
                c00 = Avx512F.FusedMultiplyAdd(a0, b0, c00);
                c00b = Avx512F.FusedMultiplyAdd(a0, b1, c00b);
                a0 = Vector512.Create(a[1]);
                c01 = Avx512F.FusedMultiplyAdd(a0, b0, c01);
                c01b = Avx512F.FusedMultiplyAdd(a0, b1, c01b);
                a0 = Vector512.Create(a[2]);
                c02 = Avx512F.FusedMultiplyAdd(a0, b0, c02);
                c02b = Avx512F.FusedMultiplyAdd(a0, b1, c02b);
                a0 = Vector512.Create(a[3]);
                c03 = Avx512F.FusedMultiplyAdd(a0, b0, c03);
                c03b = Avx512F.FusedMultiplyAdd(a0, b1, c03b);
                a0 = Vector512.Create(a[4]);
                c04 = Avx512F.FusedMultiplyAdd(a0, b0, c04);
                c04b = Avx512F.FusedMultiplyAdd(a0, b1, c04b);
                a0 = Vector512.Create(a[5]);
                c05 = Avx512F.FusedMultiplyAdd(a0, b0, c05);
                c05b = Avx512F.FusedMultiplyAdd(a0, b1, c05b);
                a0 = Vector512.Create(a[6]);
                c06 = Avx512F.FusedMultiplyAdd(a0, b0, c06);
                c06b = Avx512F.FusedMultiplyAdd(a0, b1, c06b);
                a0 = Vector512.Create(a[7]);
                c07 = Avx512F.FusedMultiplyAdd(a0, b0, c07);
                c07b = Avx512F.FusedMultiplyAdd(a0, b1, c07b);
                a0 = Vector512.Create(a[8]);
                c08 = Avx512F.FusedMultiplyAdd(a0, b0, c08);
                c08b = Avx512F.FusedMultiplyAdd(a0, b1, c08b);
                a0 = Vector512.Create(a[9]);
                c09 = Avx512F.FusedMultiplyAdd(a0, b0, c09);
                c09b = Avx512F.FusedMultiplyAdd(a0, b1, c09b);
                a0 = Vector512.Create(a[10]);
                c10 = Avx512F.FusedMultiplyAdd(a0, b0, c10);
                c10b = Avx512F.FusedMultiplyAdd(a0, b1, c10b);
                a0 = Vector512.Create(a[11]);
                c11 = Avx512F.FusedMultiplyAdd(a0, b0, c11);
                c11b = Avx512F.FusedMultiplyAdd(a0, b1, c11b);
                a += columnStep;
                b0 = Avx512F.LoadVector512(b + 32);
                b1 = Avx512F.LoadVector512(b + 48);
                a0 = Vector512.Create(a[0]);
                c00 = Avx512F.FusedMultiplyAdd(a0, b0, c00);
                c00b = Avx512F.FusedMultiplyAdd(a0, b1, c00b);
                a0 = Vector512.Create(a[1]);
                c01 = Avx512F.FusedMultiplyAdd(a0, b0, c01);
                c01b = Avx512F.FusedMultiplyAdd(a0, b1, c01b);
                a0 = Vector512.Create(a[2]);
                c02 = Avx512F.FusedMultiplyAdd(a0, b0, c02);
                c02b = Avx512F.FusedMultiplyAdd(a0, b1, c02b);
                a0 = Vector512.Create(a[3]);
                c03 = Avx512F.FusedMultiplyAdd(a0, b0, c03);
                c03b = Avx512F.FusedMultiplyAdd(a0, b1, c03b);
                a0 = Vector512.Create(a[4]);
                c04 = Avx512F.FusedMultiplyAdd(a0, b0, c04);
                c04b = Avx512F.FusedMultiplyAdd(a0, b1, c04b);
                a0 = Vector512.Create(a[5]);
                c05 = Avx512F.FusedMultiplyAdd(a0, b0, c05);
                c05b = Avx512F.FusedMultiplyAdd(a0, b1, c05b);
                a0 = Vector512.Create(a[6]);
                c06 = Avx512F.FusedMultiplyAdd(a0, b0, c06);
                c06b = Avx512F.FusedMultiplyAdd(a0, b1, c06b);
                a0 = Vector512.Create(a[7]);
                c07 = Avx512F.FusedMultiplyAdd(a0, b0, c07);
                c07b = Avx512F.FusedMultiplyAdd(a0, b1, c07b);
                a0 = Vector512.Create(a[8]);
                c08 = Avx512F.FusedMultiplyAdd(a0, b0, c08);
                c08b = Avx512F.FusedMultiplyAdd(a0, b1, c08b);
                a0 = Vector512.Create(a[9]);
                c09 = Avx512F.FusedMultiplyAdd(a0, b0, c09);
                c09b = Avx512F.FusedMultiplyAdd(a0, b1, c09b);
                a0 = Vector512.Create(a[10]);
                c10 = Avx512F.FusedMultiplyAdd(a0, b0, c10);
                c10b = Avx512F.FusedMultiplyAdd(a0, b1, c10b);
                a0 = Vector512.Create(a[11]);
                c11 = Avx512F.FusedMultiplyAdd(a0, b0, c11);
                c11b = Avx512F.FusedMultiplyAdd(a0, b1, c11b);
                a += columnStep;
                b += 2 * NR512;
            }
            if (p < length)
            {
                b0 = Avx512F.LoadVector512(b + 0);
                b1 = Avx512F.LoadVector512(b + 16);
                a0 = Vector512.Create(a[0]);
                c00 = Avx512F.FusedMultiplyAdd(a0, b0, c00);
                c00b = Avx512F.FusedMultiplyAdd(a0, b1, c00b);
                a0 = Vector512.Create(a[1]);
                c01 = Avx512F.FusedMultiplyAdd(a0, b0, c01);
                c01b = Avx512F.FusedMultiplyAdd(a0, b1, c01b);
                a0 = Vector512.Create(a[2]);
                c02 = Avx512F.FusedMultiplyAdd(a0, b0, c02);
                c02b = Avx512F.FusedMultiplyAdd(a0, b1, c02b);
                a0 = Vector512.Create(a[3]);
                c03 = Avx512F.FusedMultiplyAdd(a0, b0, c03);
                c03b = Avx512F.FusedMultiplyAdd(a0, b1, c03b);
                a0 = Vector512.Create(a[4]);
                c04 = Avx512F.FusedMultiplyAdd(a0, b0, c04);
                c04b = Avx512F.FusedMultiplyAdd(a0, b1, c04b);
                a0 = Vector512.Create(a[5]);
                c05 = Avx512F.FusedMultiplyAdd(a0, b0, c05);
                c05b = Avx512F.FusedMultiplyAdd(a0, b1, c05b);
                a0 = Vector512.Create(a[6]);
                c06 = Avx512F.FusedMultiplyAdd(a0, b0, c06);
                c06b = Avx512F.FusedMultiplyAdd(a0, b1, c06b);
                a0 = Vector512.Create(a[7]);
                c07 = Avx512F.FusedMultiplyAdd(a0, b0, c07);
                c07b = Avx512F.FusedMultiplyAdd(a0, b1, c07b);
                a0 = Vector512.Create(a[8]);
                c08 = Avx512F.FusedMultiplyAdd(a0, b0, c08);
                c08b = Avx512F.FusedMultiplyAdd(a0, b1, c08b);
                a0 = Vector512.Create(a[9]);
                c09 = Avx512F.FusedMultiplyAdd(a0, b0, c09);
                c09b = Avx512F.FusedMultiplyAdd(a0, b1, c09b);
                a0 = Vector512.Create(a[10]);
                c10 = Avx512F.FusedMultiplyAdd(a0, b0, c10);
                c10b = Avx512F.FusedMultiplyAdd(a0, b1, c10b);
                a0 = Vector512.Create(a[11]);
                c11 = Avx512F.FusedMultiplyAdd(a0, b0, c11);
                c11b = Avx512F.FusedMultiplyAdd(a0, b1, c11b);
                b += NR512;
            }
        }
        StoreRow(c + 0 * ldc, c00, c00b, overwrite);
        StoreRow(c + 1 * ldc, c01, c01b, overwrite);
        StoreRow(c + 2 * ldc, c02, c02b, overwrite);
        StoreRow(c + 3 * ldc, c03, c03b, overwrite);
        StoreRow(c + 4 * ldc, c04, c04b, overwrite);
        StoreRow(c + 5 * ldc, c05, c05b, overwrite);
        StoreRow(c + 6 * ldc, c06, c06b, overwrite);
        StoreRow(c + 7 * ldc, c07, c07b, overwrite);
        StoreRow(c + 8 * ldc, c08, c08b, overwrite);
        StoreRow(c + 9 * ldc, c09, c09b, overwrite);
        StoreRow(c + 10 * ldc, c10, c10b, overwrite);
        StoreRow(c + 11 * ldc, c11, c11b, overwrite);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Avx512ColumnSegments6(int segments, float** bases, nint offset, int length, nint columnStep, int rows, float* b, float* c, nint ldc, bool overwrite)
    {
        nint o1 = Math.Min(1, rows - 1), o2 = Math.Min(2, rows - 1), o3 = Math.Min(3, rows - 1), o4 = Math.Min(4, rows - 1), o5 = Math.Min(5, rows - 1);
        PrefetchRows(c, ldc, MR, NR512);
        Vector512<float> c00 = Vector512<float>.Zero, c00b = Vector512<float>.Zero;
        Vector512<float> c01 = Vector512<float>.Zero, c01b = Vector512<float>.Zero;
        Vector512<float> c02 = Vector512<float>.Zero, c02b = Vector512<float>.Zero;
        Vector512<float> c03 = Vector512<float>.Zero, c03b = Vector512<float>.Zero;
        Vector512<float> c04 = Vector512<float>.Zero, c04b = Vector512<float>.Zero;
        Vector512<float> c05 = Vector512<float>.Zero, c05b = Vector512<float>.Zero;
        Vector512<float> a0, b0, b1;
        for (int t = 0; t < segments; t++)
        {
            float* a = bases[t];
            if (a == null) { b += (nint)length * NR512; continue; }
            a += offset;
            int p = 0;
            for (; p + 2 <= length; p += 2)
            {
                b0 = Avx512F.LoadVector512(b + 0);
                b1 = Avx512F.LoadVector512(b + 16);
                a0 = Vector512.Create(a[0]);
                c00 = Avx512F.FusedMultiplyAdd(a0, b0, c00);
                c00b = Avx512F.FusedMultiplyAdd(a0, b1, c00b);
                a0 = Vector512.Create(a[o1]);
                c01 = Avx512F.FusedMultiplyAdd(a0, b0, c01);
                c01b = Avx512F.FusedMultiplyAdd(a0, b1, c01b);
                a0 = Vector512.Create(a[o2]);
                c02 = Avx512F.FusedMultiplyAdd(a0, b0, c02);
                c02b = Avx512F.FusedMultiplyAdd(a0, b1, c02b);
                a0 = Vector512.Create(a[o3]);
                c03 = Avx512F.FusedMultiplyAdd(a0, b0, c03);
                c03b = Avx512F.FusedMultiplyAdd(a0, b1, c03b);
                a0 = Vector512.Create(a[o4]);
                c04 = Avx512F.FusedMultiplyAdd(a0, b0, c04);
                c04b = Avx512F.FusedMultiplyAdd(a0, b1, c04b);
                a0 = Vector512.Create(a[o5]);
                c05 = Avx512F.FusedMultiplyAdd(a0, b0, c05);
                c05b = Avx512F.FusedMultiplyAdd(a0, b1, c05b);
                a += columnStep;
                b0 = Avx512F.LoadVector512(b + 32);
                b1 = Avx512F.LoadVector512(b + 48);
                a0 = Vector512.Create(a[0]);
                c00 = Avx512F.FusedMultiplyAdd(a0, b0, c00);
                c00b = Avx512F.FusedMultiplyAdd(a0, b1, c00b);
                a0 = Vector512.Create(a[o1]);
                c01 = Avx512F.FusedMultiplyAdd(a0, b0, c01);
                c01b = Avx512F.FusedMultiplyAdd(a0, b1, c01b);
                a0 = Vector512.Create(a[o2]);
                c02 = Avx512F.FusedMultiplyAdd(a0, b0, c02);
                c02b = Avx512F.FusedMultiplyAdd(a0, b1, c02b);
                a0 = Vector512.Create(a[o3]);
                c03 = Avx512F.FusedMultiplyAdd(a0, b0, c03);
                c03b = Avx512F.FusedMultiplyAdd(a0, b1, c03b);
                a0 = Vector512.Create(a[o4]);
                c04 = Avx512F.FusedMultiplyAdd(a0, b0, c04);
                c04b = Avx512F.FusedMultiplyAdd(a0, b1, c04b);
                a0 = Vector512.Create(a[o5]);
                c05 = Avx512F.FusedMultiplyAdd(a0, b0, c05);
                c05b = Avx512F.FusedMultiplyAdd(a0, b1, c05b);
                a += columnStep;
                b += 2 * NR512;
            }
            if (p < length)
            {
                b0 = Avx512F.LoadVector512(b + 0);
                b1 = Avx512F.LoadVector512(b + 16);
                a0 = Vector512.Create(a[0]);
                c00 = Avx512F.FusedMultiplyAdd(a0, b0, c00);
                c00b = Avx512F.FusedMultiplyAdd(a0, b1, c00b);
                a0 = Vector512.Create(a[o1]);
                c01 = Avx512F.FusedMultiplyAdd(a0, b0, c01);
                c01b = Avx512F.FusedMultiplyAdd(a0, b1, c01b);
                a0 = Vector512.Create(a[o2]);
                c02 = Avx512F.FusedMultiplyAdd(a0, b0, c02);
                c02b = Avx512F.FusedMultiplyAdd(a0, b1, c02b);
                a0 = Vector512.Create(a[o3]);
                c03 = Avx512F.FusedMultiplyAdd(a0, b0, c03);
                c03b = Avx512F.FusedMultiplyAdd(a0, b1, c03b);
                a0 = Vector512.Create(a[o4]);
                c04 = Avx512F.FusedMultiplyAdd(a0, b0, c04);
                c04b = Avx512F.FusedMultiplyAdd(a0, b1, c04b);
                a0 = Vector512.Create(a[o5]);
                c05 = Avx512F.FusedMultiplyAdd(a0, b0, c05);
                c05b = Avx512F.FusedMultiplyAdd(a0, b1, c05b);
                b += NR512;
            }
        }
        StoreRow(c + 0 * ldc, c00, c00b, overwrite);
        StoreRow(c + 1 * ldc, c01, c01b, overwrite);
        StoreRow(c + 2 * ldc, c02, c02b, overwrite);
        StoreRow(c + 3 * ldc, c03, c03b, overwrite);
        StoreRow(c + 4 * ldc, c04, c04b, overwrite);
        StoreRow(c + 5 * ldc, c05, c05b, overwrite);
    }
}

/// <summary>
/// Where the pieces of a run's windows lie, for <see cref="GemmMicroKernel.Avx512TwoRuns"/>: piece t = (segment, piece
/// within it) starts at segment·SegmentStep + piece·PieceStep from the run's first window and holds Length floats; row
/// i of a run is RowStep further per row. A convolution's segments are its kernel rows; a window row of S pixels is one
/// piece of S·C floats where the pixels lie C apart, or S pieces of C where they lie further apart.
/// </summary>
internal readonly record struct RunWindows(int Segments, int PiecesPerSegment, nint SegmentStep, nint PieceStep, int Length, nint RowStep)
{
    public int Pieces => Segments * PiecesPerSegment;
}
