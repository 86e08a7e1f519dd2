using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ConvKit.Kernels;

/// <summary>
/// F(4×4, 3×3): a 4×4 tile of output pixels from its 6×6 input pixels, 36 multiplications per channel and filter
/// instead of 144 (4× fewer), where F(2×2, 3×3) saves 2.25×.
/// </summary>
/// <remarks>
/// The same interpolation points as F(2×2, 5×5) (0, 1, −1, 2, −2 and ∞), so the same input transform Bᵀ
/// (<see cref="TransformInput6"/>); G is the first three columns of that G with its last row (0, 0, 1), and
/// <code>
///      ⎡1 1  1 1  1 0⎤
/// Aᵀ = ⎢0 1 −1 2 −2 0⎥
///      ⎢0 1  1 4  4 0⎥
///      ⎣0 1 −1 8 −8 1⎦
/// </code>
/// A tile past the output's edge computes pixels it drops: at 7×7 (8/7)² − 1 of the work, at 14×14 (16/14)² − 1, still
/// fewer multiplications than 2×2 tiles take; <see cref="OutputTile"/> keeps F(2×2, 3×3) where they are not.
/// </remarks>
internal static unsafe partial class WinogradConvolution
{
    /// <summary>
    /// The side of the output tiles <see cref="Forward"/> uses: 4 for a 3×3 kernel where 4×4 tiles take fewer
    /// multiplications than 2×2 ones counting the pixels past the edge (36 per tile against 16: square maps of 3, 4 and
    /// from 7 pixels up; at 5 and 6 they tie) and an image has enough of them for the kernel's 36 transforms, by
    /// <see cref="Applies"/>'s rule: tiles · (C + K) · 4 ≥ C · K. Else 2. The rule looks at one image only, so an image
    /// gets the same bits alone and in a batch.
    /// </summary>
    /// <remarks>
    /// Against F(2×2, 3×3), kept weights, alternating processes, medians of 30 (ms): ResNet's 56×56×64 → 64 at batch 32
    /// 24.9, 30.9, 20.2 → 14.0, 16.2, 16.3 with AVX-512 and 36.4, 38.7, 42.5 → 24.4, 23.7, 20.7 with AVX2; 28×28×128 → 128
    /// at batch 32 20.3, 25.8, 17.3 → 13.2, 19.0, 13.3 and 31.0, 29.8, 31.0 → 22.9, 21.5, 18.2; at batch 1 0.55, 0.59,
    /// 0.61 → 0.42, 0.41, 0.45 with AVX-512. Where the tiles pass the edge: in a training step of the default model (op
    /// trace, three alternating pairs), its 14×14×32 → 64 forward 4.36, 4.05, 4.28 → 3.78, 3.75, 3.55 ms and 7×7×64 → 128
    /// 4.46, 3.91, 3.83 → 3.65, 3.38, 3.27 ms, their gradients (whose input gradient is a forward) 9.66, 8.94, 8.91 → 9.29,
    /// 7.93, 7.73 and 9.62, 8.93, 7.54 → 8.40, 7.65, 6.90 ms (the 7×7 one now keeps 2×2 tiles by the second condition).
    /// Without that condition ResNet18's 14×14×256 → 256 layers at batch 1 (16 tiles, 9.4 MB of kept transforms read for
    /// them) took 0.78–1.09 ms against 0.64–0.82 with 2×2 tiles, and its kept weights grew by 26 MB.
    /// </remarks>
    internal static int OutputTile(ConvGeometry g)
    {
        long tiles4 = (long)((g.P + 3) / 4) * ((g.Q + 3) / 4), tiles2 = (long)((g.P + 1) / 2) * ((g.Q + 1) / 2);
        return g.R == 3 && 36 * tiles4 < 16 * tiles2 && tiles4 * (g.C + g.K) * 4 >= (long)g.C * g.K ? 4 : 2;
    }

    /// <summary>
    /// Y = Aᵀ M A for one 4×4 tile, every filter, M[e] read at m + e·stride; writes the pixels inside the output and runs
    /// the epilogue on them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization), SkipLocalsInit]
    private static void TransformOutput44(float* m, nint stride, TileGeometry tg, TileOrigin tile, float* y, OutputEpilogue e)
    {
        var g = tg.G;
        var (n, p, q) = tile;
        int rows = Math.Min(4, g.P - p), columns = Math.Min(4, g.Q - q);
        float* y0 = y + ((nint)(n * g.P + p) * g.Q + q) * g.K;
        nint rowStride = (nint)g.Q * g.K;
        Vector256<float>* t = stackalloc Vector256<float>[24];
        float* ts = stackalloc float[24];
        int filter = 0;
        for (; filter + Vector256<float>.Count <= g.K; filter += Vector256<float>.Count)
        {
            float* at = m + filter;
            // Aᵀ M column by column into t (4 rows × 6 columns), then each row of t times A.
            for (int j = 0; j < 6; j++)
                (t[j], t[6 + j], t[12 + j], t[18 + j]) = OutputCombination4(
                    Vector256.Load(at + j * stride), Vector256.Load(at + (6 + j) * stride), Vector256.Load(at + (12 + j) * stride),
                    Vector256.Load(at + (18 + j) * stride), Vector256.Load(at + (24 + j) * stride), Vector256.Load(at + (30 + j) * stride));
            for (int i = 0; i < rows; i++)
            {
                var row = t + 6 * i;
                var (v0, v1, v2, v3) = OutputCombination4(row[0], row[1], row[2], row[3], row[4], row[5]);
                float* target = y0 + i * rowStride + filter;
                Vector256.Store(v0, target);
                if (columns > 1) Vector256.Store(v1, target + g.K);
                if (columns > 2) Vector256.Store(v2, target + 2 * g.K);
                if (columns > 3) Vector256.Store(v3, target + 3 * g.K);
            }
        }
        for (; filter < g.K; filter++)
        {
            float* at = m + filter;
            for (int j = 0; j < 6; j++)
                (ts[j], ts[6 + j], ts[12 + j], ts[18 + j]) = OutputCombination4(at[j * stride], at[(6 + j) * stride], at[(12 + j) * stride],
                    at[(18 + j) * stride], at[(24 + j) * stride], at[(30 + j) * stride]);
            for (int i = 0; i < rows; i++)
            {
                float* row = ts + 6 * i;
                var (v0, v1, v2, v3) = OutputCombination4(row[0], row[1], row[2], row[3], row[4], row[5]);
                float* target = y0 + i * rowStride + filter;
                target[0] = v0;
                if (columns > 1) target[g.K] = v1;
                if (columns > 2) target[2 * g.K] = v2;
                if (columns > 3) target[3 * g.K] = v3;
            }
        }
        for (int i = 0; i < rows; i++) e.ApplyHere(y0 + i * rowStride, columns, g.K);
    }

    /// <summary>
    /// Aᵀ times (m0 … m5), eight filters: with a = m1 + m2, b = m1 − m2, c = m3 + m4, d = m3 − m4: m0 + a + c, b + 2d,
    /// a + 4c, b + 8d + m5.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>) OutputCombination4(
        Vector256<float> m0, Vector256<float> m1, Vector256<float> m2, Vector256<float> m3, Vector256<float> m4, Vector256<float> m5)
    {
        var a = m1 + m2;
        var b = m1 - m2;
        var c = m3 + m4;
        var d = m3 - m4;
        return (m0 + a + c, Vector256.FusedMultiplyAdd(Vector256.Create(2f), d, b), Vector256.FusedMultiplyAdd(Vector256.Create(4f), c, a),
            Vector256.FusedMultiplyAdd(Vector256.Create(8f), d, b + m5));
    }

    /// <summary><see cref="OutputCombination4(Vector256{float}, Vector256{float}, Vector256{float}, Vector256{float}, Vector256{float}, Vector256{float})"/>, one filter: the same operations.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (float, float, float, float) OutputCombination4(float m0, float m1, float m2, float m3, float m4, float m5)
    {
        float a = m1 + m2, b = m1 - m2, c = m3 + m4, d = m3 - m4;
        return (m0 + a + c, MathF.FusedMultiplyAdd(2f, d, b), MathF.FusedMultiplyAdd(4f, c, a), MathF.FusedMultiplyAdd(8f, d, b + m5));
    }

    /// <summary>
    /// The 36 transforms of eight filters' 3×3 taps for F(4×4, 3×3), tap (r, s) at taps + (3r + s)·tapStride, position e
    /// stored at target + e·positionStride: G g column by column, then each of its rows times Gᵀ.
    /// </summary>
    private static void TransformTaps44(float* taps, nint tapStride, float* target, long positionStride)
    {
        Vector256<float>* t = stackalloc Vector256<float>[18];
        for (int s = 0; s < 3; s++)
            (t[s], t[3 + s], t[6 + s], t[9 + s], t[12 + s], t[15 + s]) = KernelCombination3(
                Vector256.Load(taps + s * tapStride), Vector256.Load(taps + (3 + s) * tapStride), Vector256.Load(taps + (6 + s) * tapStride));
        for (int i = 0; i < 6; i++)
        {
            var row = t + 3 * i;
            StoreSix(target + 6 * i * positionStride, (nint)positionStride, KernelCombination3(row[0], row[1], row[2]));
        }
    }

    /// <summary>G times (g0, g1, g2) for F(4×4, 3×3): G of F(2×2, 5×5) on (g0, g1, g2, 0, 0), its last row g2.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>) KernelCombination3(
        Vector256<float> g0, Vector256<float> g1, Vector256<float> g2)
    {
        var (u0, u1, u2, u3, u4, _) = KernelCombination(g0, g1, g2, Vector256<float>.Zero, Vector256<float>.Zero);
        return (u0, u1, u2, u3, u4, g2);
    }

    /// <summary>
    /// U = A dY Aᵀ for one tile's 4×4 output gradient, for the kernel gradient (see <see cref="TransformOutputGradient"/>
    /// for the arguments): A's rows (the columns of Aᵀ) are (1, 0, 0, 0), (1, 1, 1, 1), (1, −1, 1, −1), (1, 2, 4, 8),
    /// (1, −2, 4, −8), (0, 0, 0, 1). Pixels past the output's edge are zeros.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization), SkipLocalsInit]
    private static void TransformOutputGradient44(float* dy, TileGeometry tg, TileOrigin tile, float* zeros, int firstRow, int lastRow,
        int firstPanel, int lastPanel, float* u, nint positionStride, nint panelStride)
    {
        var g = tg.G;
        var (n, p, q) = tile;
        float** y = stackalloc float*[16];
        for (int a = 0; a < 4; a++)
            for (int b = 0; b < 4; b++)
                y[a * 4 + b] = p + a < g.P && q + b < g.Q ? dy + ((nint)(n * g.P + p + a) * g.Q + q + b) * g.K : zeros;
        int nr = GemmMicroKernel.NR, end = lastPanel * nr;
        float* staged = stackalloc float[16 * 8];
        Vector256<float>* rows = stackalloc Vector256<float>[24];
        for (int filter = firstPanel * nr; filter < end; filter += 8)
        {
            bool whole = filter + 8 <= g.K;
            if (!whole)
            {
                // The last filters and the panel's padding: zero gradients give zero transforms.
                for (int i = 0; i < 16; i++)
                    for (int lane = 0; lane < 8; lane++)
                        staged[i * 8 + lane] = filter + lane < g.K ? y[i][filter + lane] : 0f;
            }
            // A dY column by column into rows (6 × 4), then each needed row times Aᵀ.
            for (int b = 0; b < 4; b++)
            {
                Vector256<float> y0, y1, y2, y3;
                if (whole)
                {
                    y0 = Vector256.Load(y[b] + filter);
                    y1 = Vector256.Load(y[4 + b] + filter);
                    y2 = Vector256.Load(y[8 + b] + filter);
                    y3 = Vector256.Load(y[12 + b] + filter);
                }
                else
                {
                    y0 = Vector256.Load(staged + b * 8);
                    y1 = Vector256.Load(staged + (4 + b) * 8);
                    y2 = Vector256.Load(staged + (8 + b) * 8);
                    y3 = Vector256.Load(staged + (12 + b) * 8);
                }
                (rows[b], rows[4 + b], rows[8 + b], rows[12 + b], rows[16 + b], rows[20 + b]) = GradientCombination4(y0, y1, y2, y3);
            }
            float* at = u + (nint)(filter / nr - firstPanel) * panelStride + filter % nr;
            for (int i = firstRow; i < lastRow; i++)
            {
                var row = rows + 4 * i;
                StoreSix(at + (nint)((i - firstRow) * 6) * positionStride, positionStride, GradientCombination4(row[0], row[1], row[2], row[3]));
            }
        }
    }

    /// <summary>A times (y0 … y3): y0, (y0 + y2) ± (y1 + y3), (y0 + 4y2) ± (2y1 + 8y3), y3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>) GradientCombination4(
        Vector256<float> y0, Vector256<float> y1, Vector256<float> y2, Vector256<float> y3)
    {
        var even = y0 + y2;
        var odd = y1 + y3;
        var evenWeighted = Vector256.FusedMultiplyAdd(Vector256.Create(4f), y2, y0);
        var oddWeighted = Vector256.FusedMultiplyAdd(Vector256.Create(8f), y3, y1 + y1);
        return (y0, even + odd, even - odd, evenWeighted + oddWeighted, evenWeighted - oddWeighted, y3);
    }
}
