using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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
    private static int NR => GemmMicroKernel.NR;

    /// <summary>
    /// Rows of B that <see cref="PackB"/> asks the cache for ahead of the one it copies. Each row of a block is a short run
    /// (the block's columns, or a thread's part of them) on a page of its own, too short for the hardware prefetcher to
    /// get going.
    /// </summary>
    private const int PrefetchRows = 4;

    /// <summary>
    /// Panels of B that <see cref="PackB"/> fills together, row by row of the block: 128 floats of a row, four panels with
    /// AVX-512 and eight with AVX2. Four 32-wide panels are four streams of writes, 128 KB apart at KC = 1024, and each
    /// row's run of 512 bytes is long enough to read well. All 64 panels of SGEMM 2048³'s B at once (64 write streams)
    /// made the whole product 5 % slower on one thread, 1–2 % on two. With AVX2, four 16-wide panels read runs of only
    /// 256 bytes: eight made the GEMM of a dense 3136 → 1024 layer at batch 100 (its B packed per 128 columns) 9 %
    /// faster on one thread and 4 % on two, SGEMM 2048³ the same.
    /// </summary>
    private static int PanelGroup => 128 / NR;

    /// <summary>
    /// packed[(i / MR)·MR·kc + p·MR + i % MR] = op(A)[i, p] for i &lt; mc, p &lt; kc, with MR = <see cref="GemmMicroKernel.PackedMR"/>;
    /// zero for the padding rows.
    /// </summary>
    public static void PackA(
        bool transposed, int mc, int kc,
        float* a, nint lda,     // op(A) block [mc, kc]: a[i·lda + p], or a[p·lda + i] when transposed
        float* packed)          // [⌈mc/MR⌉, kc, MR]
    {
        int MR = GemmMicroKernel.PackedMR;
        for (int i0 = 0; i0 < mc; i0 += MR)
        {
            int rows = Math.Min(MR, mc - i0);
            float* panel = packed + i0 * kc;
            if (transposed)
            {
                float* src = a + i0;
                if (rows == MR && MR == 12)
                    for (int p = 0; p < kc; p++, src += lda, panel += 12)
                    {
                        Vector256.Store(Vector256.Load(src), panel);
                        Vector128.Store(Vector128.Load(src + 8), panel + 8);
                    }
                else if (rows == MR && MR == 6)
                    for (int p = 0; p < kc; p++, src += lda, panel += 6)
                    {
                        Vector128.Store(Vector128.Load(src), panel);
                        panel[4] = src[4]; panel[5] = src[5];
                    }
                else
                    for (int p = 0; p < kc; p++, src += lda, panel += MR)
                        for (int i = 0; i < MR; i++) panel[i] = i < rows ? src[i] : 0f;
            }
            else
            {
                Interleave(a + i0 * lda, lda, rows, kc, panel, MR);
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
        if (!transposed)
        {
            // A group of PanelGroup panels at a time, row by row: each row's run for the group is read once and dealt out
            // to its panels. Panel by panel, every panel read NR floats of every row, coming back to each row once per
            // panel: a 7×7×512 → 512 convolution's GEMM (M = 49) took 8.1 ms on one thread that way and 4.9 ms row by row.
            int fullPanels = Math.Min(lastPanel, nc / NR);
            for (int g0 = firstPanel; g0 < lastPanel; g0 += PanelGroup)
            {
                int g1 = Math.Min(lastPanel, g0 + PanelGroup), gFull = Math.Min(g1, fullPanels);
                for (int p = 0; p < kc; p++)
                {
                    float* src = b + p * ldb;
                    if (p + PrefetchRows < kc)
                    {
                        float* ahead = src + PrefetchRows * ldb;
                        for (int j = g0 * NR; j < Math.Min(nc, g1 * NR); j += 16) Sse.Prefetch0(ahead + j);
                    }
                    for (int panelIndex = g0; panelIndex < gFull; panelIndex++)
                    {
                        float* from = src + panelIndex * NR, to = packed + (nint)panelIndex * NR * kc + p * NR;
                        for (int j = 0; j < NR; j += 8) Vector256.Store(Vector256.Load(from + j), to + j);
                    }
                    for (int panelIndex = Math.Max(g0, gFull); panelIndex < g1; panelIndex++)
                    {
                        int j0 = panelIndex * NR, columns = Math.Min(NR, nc - j0);
                        float* from = src + j0, to = packed + (nint)j0 * kc + p * NR;
                        for (int j = 0; j < NR; j++) to[j] = j < columns ? from[j] : 0f;
                    }
                }
            }
            return;
        }
        for (int panelIndex = firstPanel; panelIndex < lastPanel; panelIndex++)
        {
            int j0 = panelIndex * NR;
            Interleave(b + j0 * ldb, ldb, Math.Min(NR, nc - j0), kc, packed + j0 * kc, NR);
        }
    }

    /// <summary>
    /// panel[p·width + i] = source[i·ld + p] for i &lt; lines, zero for lines ≤ i &lt; width: <paramref name="lines"/> rows
    /// read along p, interleaved into one micro-panel. Groups of eight lines go through 8 × 8 register transposes
    /// (eight loads and eight stores of eight floats instead of 64 single-float copies), then groups of four (rows 8–11
    /// of a 12-row panel, or four left over) through 4 × 8 ones; the rest is copied one by one.
    /// </summary>
    internal static void Interleave(
        float* source, nint ld, int lines, int kc,
        float* panel, int width)        // [kc, width]
    {
        int i = 0;
        if (Avx.IsSupported)
            foreach (int group in (ReadOnlySpan<int>)[8, 4])
                for (; i + group <= lines; i += group)
                {
                    float* src = source + i * ld;
                    int p = 0;
                    for (; p + 8 <= kc; p += 8)
                        if (group == 8) Transpose8x8(src + p, ld, panel + p * width + i, width);
                        else Transpose4x8(src + p, ld, panel + p * width + i, width);
                    for (; p < kc; p++)
                        for (int ii = 0; ii < group; ii++) panel[p * width + i + ii] = src[ii * ld + p];
                }
        for (; i < width; i++)
        {
            if (i >= lines)
            {
                for (int p = 0; p < kc; p++) panel[p * width + i] = 0f;
                continue;
            }
            float* src = source + i * ld;
            for (int p = 0; p < kc; p++) panel[p * width + i] = src[p];
        }
    }

    /// <summary>destination[p·destinationStride + i] = source[i·sourceStride + p] for i &lt; 4, p &lt; 8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose4x8(float* source, nint sourceStride, float* destination, nint destinationStride)
    {
        var r0 = Avx.LoadVector256(source);
        var r1 = Avx.LoadVector256(source + sourceStride);
        var r2 = Avx.LoadVector256(source + 2 * sourceStride);
        var r3 = Avx.LoadVector256(source + 3 * sourceStride);
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        // Each 128-bit half of s_j is the column p = j (low half) or p = j + 4 (high half).
        var s0 = Avx.Shuffle(t0, t2, 0x44); var s1 = Avx.Shuffle(t0, t2, 0xEE);
        var s2 = Avx.Shuffle(t1, t3, 0x44); var s3 = Avx.Shuffle(t1, t3, 0xEE);
        Sse.Store(destination, s0.GetLower());
        Sse.Store(destination + destinationStride, s1.GetLower());
        Sse.Store(destination + 2 * destinationStride, s2.GetLower());
        Sse.Store(destination + 3 * destinationStride, s3.GetLower());
        Sse.Store(destination + 4 * destinationStride, s0.GetUpper());
        Sse.Store(destination + 5 * destinationStride, s1.GetUpper());
        Sse.Store(destination + 6 * destinationStride, s2.GetUpper());
        Sse.Store(destination + 7 * destinationStride, s3.GetUpper());
    }

    /// <summary>destination[p·destinationStride + i] = source[i·sourceStride + p] for i, p &lt; 8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(float* source, nint sourceStride, float* destination, nint destinationStride)
    {
        var r0 = Avx.LoadVector256(source);
        var r1 = Avx.LoadVector256(source + sourceStride);
        var r2 = Avx.LoadVector256(source + 2 * sourceStride);
        var r3 = Avx.LoadVector256(source + 3 * sourceStride);
        var r4 = Avx.LoadVector256(source + 4 * sourceStride);
        var r5 = Avx.LoadVector256(source + 5 * sourceStride);
        var r6 = Avx.LoadVector256(source + 6 * sourceStride);
        var r7 = Avx.LoadVector256(source + 7 * sourceStride);
        // Pairs of rows interleaved, then pairs of pairs, then the 128-bit halves swapped across.
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var s0 = Avx.Shuffle(t0, t2, 0x44); var s1 = Avx.Shuffle(t0, t2, 0xEE);
        var s2 = Avx.Shuffle(t1, t3, 0x44); var s3 = Avx.Shuffle(t1, t3, 0xEE);
        var s4 = Avx.Shuffle(t4, t6, 0x44); var s5 = Avx.Shuffle(t4, t6, 0xEE);
        var s6 = Avx.Shuffle(t5, t7, 0x44); var s7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(destination, Avx.Permute2x128(s0, s4, 0x20));
        Avx.Store(destination + destinationStride, Avx.Permute2x128(s1, s5, 0x20));
        Avx.Store(destination + 2 * destinationStride, Avx.Permute2x128(s2, s6, 0x20));
        Avx.Store(destination + 3 * destinationStride, Avx.Permute2x128(s3, s7, 0x20));
        Avx.Store(destination + 4 * destinationStride, Avx.Permute2x128(s0, s4, 0x31));
        Avx.Store(destination + 5 * destinationStride, Avx.Permute2x128(s1, s5, 0x31));
        Avx.Store(destination + 6 * destinationStride, Avx.Permute2x128(s2, s6, 0x31));
        Avx.Store(destination + 7 * destinationStride, Avx.Permute2x128(s3, s7, 0x31));
    }
}
