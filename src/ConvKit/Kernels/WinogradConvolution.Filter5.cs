using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ConvKit.Kernels;

/// <summary>
/// The transforms of F(2×2, 5×5): a 2×2 tile of output pixels from its 6×6 input pixels, 36 multiplications per
/// channel and filter instead of 100.
/// </summary>
/// <remarks>
/// Interpolation points 0, 1, −1, 2, −2 and ∞ (those of the common F(4×4, 3×3)); <c>Y = Aᵀ [U ⊙ V] A</c>,
/// <c>U = G g Gᵀ</c>, <c>V = Bᵀ d B</c>:
/// <code>
///      ⎡4  0 −5  0  1  0⎤        ⎡ 1/4    0     0     0     0 ⎤
///      ⎢0 −4 −4  1  1  0⎥        ⎢−1/6  −1/6  −1/6  −1/6  −1/6⎥
/// Bᵀ = ⎢0  4 −4 −1  1  0⎥    G = ⎢−1/6   1/6  −1/6   1/6  −1/6⎥    Aᵀ = ⎡1 1  1 1  1 0⎤
///      ⎢0 −2 −1  2  1  0⎥        ⎢1/24  1/12  1/6   1/3   2/3 ⎥         ⎣0 1 −1 2 −2 1⎦
///      ⎢0  2 −1 −2  1  0⎥        ⎢1/24 −1/12  1/6  −1/3   2/3 ⎥
///      ⎣0  4  0 −5  0  1⎦        ⎣ 0     0     0     0     1  ⎦
/// </code>
/// Of the point sets with one fraction or none, this one measured within 2× of the best in float32 (largest error
/// 1.0e-5 on sums of 32 channels of magnitude about 3, against 6.1e-6 with ½ for 2), and keeps Bᵀ in integers. Each
/// transform runs eight channels (or filters) at a time, then one; the input's, the costliest, sixteen at a time first
/// where the runtime accelerates 512-bit vectors. All widths use the same fused multiply-adds, so a channel's bits do
/// not depend on where it falls.
/// </remarks>
internal static unsafe partial class WinogradConvolution
{
    /// <summary>
    /// V = Bᵀ d B for the 6×6 input pixels of one tile (<see cref="PointPixels"/>), every one of the
    /// <paramref name="channels"/>, rows [<paramref name="firstRow"/>, <paramref name="lastRow"/>) of the positions:
    /// position (i, j) goes to v + ((i − firstRow)·6 + j)·stride.
    /// </summary>
    /// <remarks>Its scratch vectors are written before they are read, so they are not cleared first (3.4 KB per tile).</remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization), SkipLocalsInit]
    private static void TransformInput6(float** d, int channels, float* v, nint stride, int firstRow, int lastRow)
    {
        // v moved back by the rows not stored, so that row i is stored at its own offset.
        v -= (nint)(firstRow * 6) * stride;
        // Bᵀ d column by column into t (row-major), then each of its rows times B: sixteen channels at a time where the
        // runtime accelerates 512-bit vectors, then eight, then one.
        int channel = 0;
        if (Vector512.IsHardwareAccelerated && channels >= Vector512<float>.Count)
        {
            Vector512<float>* wide = stackalloc Vector512<float>[36];
            for (; channel + Vector512<float>.Count <= channels; channel += Vector512<float>.Count)
            {
                InputColumn6(d, 0, channel, wide);
                InputColumn6(d, 1, channel, wide);
                InputColumn6(d, 2, channel, wide);
                InputColumn6(d, 3, channel, wide);
                InputColumn6(d, 4, channel, wide);
                InputColumn6(d, 5, channel, wide);
                float* at = v + channel;
                if (firstRow <= 0 && 0 < lastRow) InputRow6(wide, 0, at, stride);
                if (firstRow <= 1 && 1 < lastRow) InputRow6(wide, 1, at, stride);
                if (firstRow <= 2 && 2 < lastRow) InputRow6(wide, 2, at, stride);
                if (firstRow <= 3 && 3 < lastRow) InputRow6(wide, 3, at, stride);
                if (firstRow <= 4 && 4 < lastRow) InputRow6(wide, 4, at, stride);
                if (firstRow <= 5 && 5 < lastRow) InputRow6(wide, 5, at, stride);
            }
        }
        Vector256<float>* t = stackalloc Vector256<float>[36];
        for (; channel + Vector256<float>.Count <= channels; channel += Vector256<float>.Count)
        {
            // Written out for each column and row, so every address is a constant offset (a loop over them measured
            // the transform at 44 % of a 14×14×64 → 32 convolution's time).
            InputColumn6(d, 0, channel, t);
            InputColumn6(d, 1, channel, t);
            InputColumn6(d, 2, channel, t);
            InputColumn6(d, 3, channel, t);
            InputColumn6(d, 4, channel, t);
            InputColumn6(d, 5, channel, t);
            float* at = v + channel;
            if (firstRow <= 0 && 0 < lastRow) InputRow6(t, 0, at, stride);
            if (firstRow <= 1 && 1 < lastRow) InputRow6(t, 1, at, stride);
            if (firstRow <= 2 && 2 < lastRow) InputRow6(t, 2, at, stride);
            if (firstRow <= 3 && 3 < lastRow) InputRow6(t, 3, at, stride);
            if (firstRow <= 4 && 4 < lastRow) InputRow6(t, 4, at, stride);
            if (firstRow <= 5 && 5 < lastRow) InputRow6(t, 5, at, stride);
        }
        float* ts = stackalloc float[36];
        for (; channel < channels; channel++)
        {
            for (int j = 0; j < 6; j++)
                (ts[j], ts[6 + j], ts[12 + j], ts[18 + j], ts[24 + j], ts[30 + j]) = InputCombination(
                    d[j][channel], d[6 + j][channel], d[12 + j][channel], d[18 + j][channel], d[24 + j][channel], d[30 + j][channel]);
            for (int i = firstRow; i < lastRow; i++)
            {
                float* row = ts + 6 * i;
                var (r0, r1, r2, r3, r4, r5) = InputCombination(row[0], row[1], row[2], row[3], row[4], row[5]);
                float* at = v + channel + 6 * i * stride;
                at[0] = r0;
                at[stride] = r1;
                at[2 * stride] = r2;
                at[3 * stride] = r3;
                at[4 * stride] = r4;
                at[5 * stride] = r5;
            }
        }
    }

    /// <summary>Column <paramref name="j"/> of Bᵀ d into t (row-major), eight channels.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InputColumn6(float** d, int j, int channel, Vector256<float>* t) =>
        (t[j], t[6 + j], t[12 + j], t[18 + j], t[24 + j], t[30 + j]) = InputCombination(
            Vector256.Load(d[j] + channel), Vector256.Load(d[6 + j] + channel), Vector256.Load(d[12 + j] + channel),
            Vector256.Load(d[18 + j] + channel), Vector256.Load(d[24 + j] + channel), Vector256.Load(d[30 + j] + channel));

    /// <summary>Row <paramref name="i"/> of (Bᵀ d) B from that row of t, stored at positions 6i … 6i + 5.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InputRow6(Vector256<float>* t, int i, float* v, nint stride) =>
        StoreSix(v + 6 * i * stride, stride, InputCombination(t[6 * i], t[6 * i + 1], t[6 * i + 2], t[6 * i + 3], t[6 * i + 4], t[6 * i + 5]));

    /// <summary>Bᵀ times (d0 … d5): the six rows of Bᵀ, eight channels.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>) InputCombination(
        Vector256<float> d0, Vector256<float> d1, Vector256<float> d2, Vector256<float> d3, Vector256<float> d4, Vector256<float> d5)
    {
        Vector256<float> four = Vector256.Create(4f), minusFour = Vector256.Create(-4f), minusFive = Vector256.Create(-5f), two = Vector256.Create(2f);
        var oddDifference = d1 - d3;
        var evenDifference = d4 - d2;
        return (
            Vector256.FusedMultiplyAdd(four, d0, Vector256.FusedMultiplyAdd(minusFive, d2, d4)),
            Vector256.FusedMultiplyAdd(minusFour, d1 + d2, d3 + d4),
            Vector256.FusedMultiplyAdd(four, d1 - d2, d4 - d3),
            Vector256.FusedMultiplyAdd(-two, oddDifference, evenDifference),
            Vector256.FusedMultiplyAdd(two, oddDifference, evenDifference),
            Vector256.FusedMultiplyAdd(four, d1, Vector256.FusedMultiplyAdd(minusFive, d3, d5)));
    }

    // The same steps sixteen channels at a time: the same operations, so the same bits.

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InputColumn6(float** d, int j, int channel, Vector512<float>* t) =>
        (t[j], t[6 + j], t[12 + j], t[18 + j], t[24 + j], t[30 + j]) = InputCombination(
            Vector512.Load(d[j] + channel), Vector512.Load(d[6 + j] + channel), Vector512.Load(d[12 + j] + channel),
            Vector512.Load(d[18 + j] + channel), Vector512.Load(d[24 + j] + channel), Vector512.Load(d[30 + j] + channel));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InputRow6(Vector512<float>* t, int i, float* v, nint stride)
    {
        var (r0, r1, r2, r3, r4, r5) = InputCombination(t[6 * i], t[6 * i + 1], t[6 * i + 2], t[6 * i + 3], t[6 * i + 4], t[6 * i + 5]);
        float* at = v + 6 * i * stride;
        Vector512.Store(r0, at);
        Vector512.Store(r1, at + stride);
        Vector512.Store(r2, at + 2 * stride);
        Vector512.Store(r3, at + 3 * stride);
        Vector512.Store(r4, at + 4 * stride);
        Vector512.Store(r5, at + 5 * stride);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<float>, Vector512<float>, Vector512<float>, Vector512<float>, Vector512<float>, Vector512<float>) InputCombination(
        Vector512<float> d0, Vector512<float> d1, Vector512<float> d2, Vector512<float> d3, Vector512<float> d4, Vector512<float> d5)
    {
        Vector512<float> four = Vector512.Create(4f), minusFour = Vector512.Create(-4f), minusFive = Vector512.Create(-5f), two = Vector512.Create(2f);
        var oddDifference = d1 - d3;
        var evenDifference = d4 - d2;
        return (
            Vector512.FusedMultiplyAdd(four, d0, Vector512.FusedMultiplyAdd(minusFive, d2, d4)),
            Vector512.FusedMultiplyAdd(minusFour, d1 + d2, d3 + d4),
            Vector512.FusedMultiplyAdd(four, d1 - d2, d4 - d3),
            Vector512.FusedMultiplyAdd(-two, oddDifference, evenDifference),
            Vector512.FusedMultiplyAdd(two, oddDifference, evenDifference),
            Vector512.FusedMultiplyAdd(four, d1, Vector512.FusedMultiplyAdd(minusFive, d3, d5)));
    }

    /// <summary>Bᵀ times (d0 … d5), one channel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (float, float, float, float, float, float) InputCombination(float d0, float d1, float d2, float d3, float d4, float d5)
    {
        float oddDifference = d1 - d3, evenDifference = d4 - d2;
        return (
            MathF.FusedMultiplyAdd(4f, d0, MathF.FusedMultiplyAdd(-5f, d2, d4)),
            MathF.FusedMultiplyAdd(-4f, d1 + d2, d3 + d4),
            MathF.FusedMultiplyAdd(4f, d1 - d2, d4 - d3),
            MathF.FusedMultiplyAdd(-2f, oddDifference, evenDifference),
            MathF.FusedMultiplyAdd(2f, oddDifference, evenDifference),
            MathF.FusedMultiplyAdd(4f, d1, MathF.FusedMultiplyAdd(-5f, d3, d5)));
    }

    /// <summary>
    /// Y = Aᵀ M A for one tile, every filter, M[e] read at m + e·stride; writes the pixels inside the output and runs the
    /// epilogue on them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization), SkipLocalsInit]
    private static void TransformOutput6(float* m, nint stride, TileGeometry tg, TileOrigin tile, float* y, OutputEpilogue e)
    {
        var g = tg.G;
        var (n, p, q) = tile;
        bool secondRow = p + 1 < g.P, secondColumn = q + 1 < g.Q;
        float* y0 = y + ((nint)(n * g.P + p) * g.Q + q) * g.K;
        float* y1 = y0 + (nint)g.Q * g.K;
        float* s0 = stackalloc float[6], s1 = stackalloc float[6];
        int filter = 0;
        for (; filter + Vector256<float>.Count <= g.K; filter += Vector256<float>.Count)
        {
            float* at = m + filter;
            // Aᵀ M column by column: (s0j, s1j) from column j of M.
            var (s00, s10) = OutputColumn6(at, stride, 0);
            var (s01, s11) = OutputColumn6(at, stride, 1);
            var (s02, s12) = OutputColumn6(at, stride, 2);
            var (s03, s13) = OutputColumn6(at, stride, 3);
            var (s04, s14) = OutputColumn6(at, stride, 4);
            var (s05, s15) = OutputColumn6(at, stride, 5);
            var (y00, y01) = OutputCombination(s00, s01, s02, s03, s04, s05);
            Vector256.Store(y00, y0 + filter);
            if (secondColumn) Vector256.Store(y01, y0 + g.K + filter);
            if (secondRow)
            {
                var (y10, y11) = OutputCombination(s10, s11, s12, s13, s14, s15);
                Vector256.Store(y10, y1 + filter);
                if (secondColumn) Vector256.Store(y11, y1 + g.K + filter);
            }
        }
        for (; filter < g.K; filter++)
        {
            float* at = m + filter;
            for (int j = 0; j < 6; j++)
                (s0[j], s1[j]) = OutputCombination(at[j * stride], at[(6 + j) * stride], at[(12 + j) * stride], at[(18 + j) * stride],
                    at[(24 + j) * stride], at[(30 + j) * stride]);
            var (y00, y01) = OutputCombination(s0[0], s0[1], s0[2], s0[3], s0[4], s0[5]);
            y0[filter] = y00;
            if (secondColumn) y0[g.K + filter] = y01;
            if (secondRow)
            {
                var (y10, y11) = OutputCombination(s1[0], s1[1], s1[2], s1[3], s1[4], s1[5]);
                y1[filter] = y10;
                if (secondColumn) y1[g.K + filter] = y11;
            }
        }
        int columns = secondColumn ? 2 : 1;
        e.ApplyHere(y0, columns, g.K);
        if (secondRow) e.ApplyHere(y1, columns, g.K);
    }

    /// <summary>Column <paramref name="j"/> of Aᵀ M, eight filters.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float>, Vector256<float>) OutputColumn6(float* at, nint stride, int j) =>
        OutputCombination(Vector256.Load(at + j * stride), Vector256.Load(at + (6 + j) * stride), Vector256.Load(at + (12 + j) * stride),
            Vector256.Load(at + (18 + j) * stride), Vector256.Load(at + (24 + j) * stride), Vector256.Load(at + (30 + j) * stride));

    /// <summary>Aᵀ times (m0 … m5): m0 + m1 + m2 + m3 + m4 and m1 − m2 + 2(m3 − m4) + m5, eight filters.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float>, Vector256<float>) OutputCombination(
        Vector256<float> m0, Vector256<float> m1, Vector256<float> m2, Vector256<float> m3, Vector256<float> m4, Vector256<float> m5) =>
        (m0 + (m1 + m2) + (m3 + m4), Vector256.FusedMultiplyAdd(Vector256.Create(2f), m3 - m4, (m1 - m2) + m5));

    /// <summary>Aᵀ times (m0 … m5), one filter.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (float, float) OutputCombination(float m0, float m1, float m2, float m3, float m4, float m5) =>
        (m0 + (m1 + m2) + (m3 + m4), MathF.FusedMultiplyAdd(2f, m3 - m4, (m1 - m2) + m5));

    /// <summary>
    /// The 36 transforms of eight filters' 5×5 taps, tap (r, s) at taps + (5r + s)·tapStride, position e stored at
    /// target + e·positionStride: G g column by column, then each of its rows times Gᵀ.
    /// </summary>
    [SkipLocalsInit]
    private static void TransformTaps5(float* taps, nint tapStride, float* target, long positionStride)
    {
        Vector256<float>* t = stackalloc Vector256<float>[30];
        for (int s = 0; s < 5; s++)
            (t[s], t[5 + s], t[10 + s], t[15 + s], t[20 + s], t[25 + s]) = KernelCombination(
                Vector256.Load(taps + s * tapStride), Vector256.Load(taps + (5 + s) * tapStride), Vector256.Load(taps + (10 + s) * tapStride),
                Vector256.Load(taps + (15 + s) * tapStride), Vector256.Load(taps + (20 + s) * tapStride));
        for (int i = 0; i < 6; i++)
        {
            var row = t + 5 * i;
            StoreSix(target + 6 * i * positionStride, (nint)positionStride, KernelCombination(row[0], row[1], row[2], row[3], row[4]));
        }
    }

    /// <summary>Six vectors to at, at + stride, …, at + 5·stride.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreSix(float* at, nint stride,
        (Vector256<float> V0, Vector256<float> V1, Vector256<float> V2, Vector256<float> V3, Vector256<float> V4, Vector256<float> V5) values)
    {
        Vector256.Store(values.V0, at);
        Vector256.Store(values.V1, at + stride);
        Vector256.Store(values.V2, at + 2 * stride);
        Vector256.Store(values.V3, at + 3 * stride);
        Vector256.Store(values.V4, at + 4 * stride);
        Vector256.Store(values.V5, at + 5 * stride);
    }

    /// <summary>G times (g0 … g4): the six rows of G.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>) KernelCombination(
        Vector256<float> g0, Vector256<float> g1, Vector256<float> g2, Vector256<float> g3, Vector256<float> g4)
    {
        var even = g0 + g2 + g4;
        var odd = g1 + g3;
        var evenWeighted = g0 + 4f * g2 + 16f * g4;
        var oddWeighted = 2f * g1 + 8f * g3;
        return (0.25f * g0, (even + odd) * (-1f / 6), (even - odd) * (-1f / 6), (evenWeighted + oddWeighted) * (1f / 24),
            (evenWeighted - oddWeighted) * (1f / 24), g4);
    }

    /// <summary>
    /// Rows [<paramref name="firstRow"/>, <paramref name="lastRow"/>) of U = A dY Aᵀ for eight filters of one tile's 2×2
    /// output gradient (a b over c d), for the kernel gradient: position (i, j) goes to at + ((i − firstRow)·6 + j)·stride.
    /// The rows of A dY are y₀, y₀ + y₁, y₀ − y₁, y₀ + 2y₁, y₀ − 2y₁, y₁ (of the tile's two rows), then each row the same
    /// way over its two columns.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreGradientRows6(Vector256<float> a, Vector256<float> b, Vector256<float> c, Vector256<float> d, int firstRow, int lastRow,
        float* at, nint stride)
    {
        var two = Vector256.Create(2f);
        for (int i = firstRow; i < lastRow; i++)
        {
            var (t0, t1) = i switch
            {
                0 => (a, b),
                1 => (a + c, b + d),
                2 => (a - c, b - d),
                3 => (Vector256.FusedMultiplyAdd(two, c, a), Vector256.FusedMultiplyAdd(two, d, b)),
                4 => (Vector256.FusedMultiplyAdd(-two, c, a), Vector256.FusedMultiplyAdd(-two, d, b)),
                _ => (c, d),
            };
            StoreSix(at + (nint)((i - firstRow) * 6) * stride, stride, (t0, t0 + t1, t0 - t1,
                Vector256.FusedMultiplyAdd(two, t1, t0), Vector256.FusedMultiplyAdd(-two, t1, t0), t1));
        }
    }

    /// <summary>
    /// dW = Gᵀ M G from 6×6 products, of a 5×5 kernel (F(2×2, 5×5)) or a 3×3 one (F(4×4, 3×3), whose G is the first three
    /// columns of the other's with a 1 under the third), for channels [<paramref name="firstChannel"/>,
    /// <paramref name="lastChannel"/>), every filter: M_e[c, k] at m + e·positionStride + c·ldm + k.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization), SkipLocalsInit]
    private static void TransformProducts6(float* m, nint positionStride, int ldm, ConvGeometry g, int firstChannel, int lastChannel, float* dw)
    {
        nint tap = (nint)g.C * g.K;
        int r = g.R;
        Vector256<float>* z = stackalloc Vector256<float>[30];
        float* scalarM = stackalloc float[36 * 8];
        float* scalarW = stackalloc float[25 * 8];
        for (int channel = firstChannel; channel < lastChannel; channel++)
        {
            float* target = dw + (nint)channel * g.K;
            for (int filter = 0; filter < g.K; filter += 8)
            {
                float* at = m + (nint)channel * ldm + filter;
                bool whole = filter + 8 <= g.K;
                if (!whole)
                {
                    // The last filters through a staged copy; the lanes past K are dropped.
                    for (int e = 0; e < 36; e++)
                        for (int lane = 0; lane < 8; lane++)
                            scalarM[e * 8 + lane] = filter + lane < g.K ? at[e * positionStride + lane] : 0f;
                }
                // Gᵀ M column by column into z (5 rows × 6 columns), then each row of z times G.
                for (int j = 0; j < 6; j++)
                {
                    Vector256<float> m0, m1, m2, m3, m4, m5;
                    if (whole)
                    {
                        m0 = Vector256.Load(at + j * positionStride);
                        m1 = Vector256.Load(at + (6 + j) * positionStride);
                        m2 = Vector256.Load(at + (12 + j) * positionStride);
                        m3 = Vector256.Load(at + (18 + j) * positionStride);
                        m4 = Vector256.Load(at + (24 + j) * positionStride);
                        m5 = Vector256.Load(at + (30 + j) * positionStride);
                    }
                    else
                    {
                        m0 = Vector256.Load(scalarM + j * 8);
                        m1 = Vector256.Load(scalarM + (6 + j) * 8);
                        m2 = Vector256.Load(scalarM + (12 + j) * 8);
                        m3 = Vector256.Load(scalarM + (18 + j) * 8);
                        m4 = Vector256.Load(scalarM + (24 + j) * 8);
                        m5 = Vector256.Load(scalarM + (30 + j) * 8);
                    }
                    (z[j], z[6 + j], z[12 + j], z[18 + j], z[24 + j]) = ProductCombination6(m0, m1, m2, m3, m4, m5, r);
                }
                for (int row = 0; row < r; row++)
                {
                    var (w0, w1, w2, w3, w4) = ProductCombination6(z[6 * row], z[6 * row + 1], z[6 * row + 2], z[6 * row + 3], z[6 * row + 4], z[6 * row + 5], r);
                    float* at0 = whole ? target + filter + r * row * tap : scalarW + r * row * 8;
                    nint step = whole ? tap : 8;
                    Vector256.Store(w0, at0);
                    Vector256.Store(w1, at0 + step);
                    Vector256.Store(w2, at0 + 2 * step);
                    if (r == 5)
                    {
                        Vector256.Store(w3, at0 + 3 * step);
                        Vector256.Store(w4, at0 + 4 * step);
                    }
                }
                if (!whole)
                    for (int t = 0; t < r * r; t++)
                        for (int lane = 0; filter + lane < g.K; lane++)
                            target[filter + t * tap + lane] = scalarW[t * 8 + lane];
            }
        }
    }

    /// <summary>
    /// Gᵀ times (m0 … m5), the five rows of Gᵀ: with s = m1 + m2, d = m2 − m1, p = m3 + m4, q = m3 − m4:
    /// m0/4 − s/6 + p/24, d/6 + q/12, (p − s)/6, d/6 + q/3, −s/6 + 2p/3 + m5. For a 3×3 kernel (<paramref name="r"/> = 3)
    /// the first three, the third plus m5.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>) ProductCombination6(
        Vector256<float> m0, Vector256<float> m1, Vector256<float> m2, Vector256<float> m3, Vector256<float> m4, Vector256<float> m5, int r)
    {
        var (w0, w1, w2, w3, w4) = ProductCombination6(m0, m1, m2, m3, m4, m5);
        return r == 5 ? (w0, w1, w2, w3, w4) : (w0, w1, w2 + m5, w3, w4);
    }

    /// <summary>The five rows of Gᵀ of F(2×2, 5×5) times (m0 … m5).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>) ProductCombination6(
        Vector256<float> m0, Vector256<float> m1, Vector256<float> m2, Vector256<float> m3, Vector256<float> m4, Vector256<float> m5)
    {
        var sixth = Vector256.Create(1f / 6);
        var s = (m1 + m2) * sixth;
        var d = (m2 - m1) * sixth;
        var p = m3 + m4;
        var q = m3 - m4;
        return (
            Vector256.FusedMultiplyAdd(Vector256.Create(0.25f), m0, Vector256.FusedMultiplyAdd(Vector256.Create(1f / 24), p, -s)),
            Vector256.FusedMultiplyAdd(Vector256.Create(1f / 12), q, d),
            Vector256.FusedMultiplyAdd(sixth, p, -s),
            Vector256.FusedMultiplyAdd(Vector256.Create(1f / 3), q, d),
            Vector256.FusedMultiplyAdd(Vector256.Create(2f / 3), p, m5 - s));
    }
}
