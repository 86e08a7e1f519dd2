using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ConvKit.Kernels;

/// <summary>
/// The kernel gradient of 3×3 and 5×5 stride-1 convolutions by the transposes of F(2×2, 3×3), F(4×4, 3×3) and
/// F(2×2, 5×5): 16 multiplications per tile of 2×2 output pixels, channel and filter, instead of 36; 36 per 4×4 tile
/// instead of 144 (<see cref="GradientTile"/>); 36 instead of 100 for 5×5.
/// </summary>
/// <remarks>
/// For one tile, channel and filter, the forward is a bilinear map Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A of the filter g and
/// the input tile d. Its gradient with respect to g, for dY the tile's 2×2 output gradient, is the transposed map
/// (Winograd's exchange of the matrices):
/// <code>
/// dg = Gᵀ [(A dY Aᵀ) ⊙ (Bᵀ d B)] G,      A dY Aᵀ = rows and columns of dY combined as y₀, y₀ + y₁, y₀ − y₁, −y₁,
/// </code>
/// so the sum over every tile of the batch is dW = Gᵀ [Σ_tiles U ⊙ V] G with V = Bᵀ d B (the forward's own input
/// transform) and U = A dY Aᵀ; the same holds for 5×5 with the 6×6 transforms of <c>WinogradConvolution.Filter5.cs</c>
/// (A's rows there: (1, 0), (1, 1), (1, −1), (1, 2), (1, −2), (0, 1)). Summed over the tiles, each of the α² positions e
/// of the ⊙ is a matrix product:
/// M_e[C, K] = V_e[tiles, C]ᵀ · U_e[tiles, K], which <see cref="GemmMicroKernel.ColumnSegments"/> runs with V_e read
/// in place (a tile's C channels are one column of V_eᵀ) and U_e written by its transform straight into the packed
/// panels of NR filters. Tiles go in blocks whose V and U stay in L2; each block adds its products to M, which lives in
/// memory between blocks. Tiles past an odd output edge read zeros for the missing output gradient.
/// <para>
/// The threads split the rows of the α × α positions (two threads: the first half and the second), then, past α threads,
/// the filters' panels; each transforms the input and the output gradient for its positions only, so nothing is
/// transformed twice, and every element of M is summed by one thread over the same blocks in the same order: the bits
/// do not depend on the number of threads. The planes of V and U are an odd number of cache lines apart
/// (<see cref="SpreadStride"/>): at 14×14 × 32 → 64 one thread's transform of the output gradient took 3.5 ms with
/// them 32 KB apart and 1.1 ms with them spread.
/// </para>
/// </remarks>
internal static unsafe partial class WinogradConvolution
{
    /// <summary>Tiles over the whole batch from which the transformed kernel gradient pays for its products and transforms.</summary>
    private const int MinGradientTiles = 32;

    /// <summary>Floats of the α² products M at most (512 MB): past it the direct kernel gradient, which keeps no such copy.</summary>
    private const long MaxGradientProducts = 1L << 27;

    /// <summary>
    /// Whether <see cref="BackwardKernel"/> takes the kernel gradient: 3×3 or 5×5, stride 1, no dilation, one group, at least
    /// <see cref="MinChannels"/> channels and <see cref="MinFilters"/> filters, 256-bit vectors in hardware, at least
    /// <see cref="MinGradientTiles"/> tiles over the batch, and products of at most <see cref="MaxGradientProducts"/> floats.
    /// </summary>
    public static bool AppliesToKernelGradient(ConvGeometry g) =>
        Vector256.IsHardwareAccelerated && (g.R == 3 || g.R == 5) && g.S == g.R && g.StrideH == 1 && g.StrideW == 1
        && g.DilationH == 1 && g.DilationW == 1 && g.Groups == 1 && g.C >= MinChannels && g.K >= MinFilters
        && (long)g.N * ((g.P + 1) / 2) * ((g.Q + 1) / 2) >= MinGradientTiles
        && (long)(g.R + GradientTile(g) - 1) * (g.R + GradientTile(g) - 1) * (g.C + GemmMicroKernel.MR) * (g.K + GemmMicroKernel.NR) <= MaxGradientProducts;

    /// <summary>
    /// The side of the output tiles of the kernel gradient: 4 where the forward takes 4×4 tiles and they cover the map
    /// exactly (sides multiples of 4), else 2.
    /// </summary>
    /// <remarks>
    /// Against 2×2 tiles, medians of 20–30, alternating processes (ms): ResNet's 56×56×64 → 64 at batch 32 25.9, 25.3,
    /// 19.1, 19.8 → 18.2, 16.9, 13.8, 18.4 with AVX-512 and 32.4, 38.1 → 25.8, 26.4 with AVX2; 28×28×128 → 128 19.8,
    /// 34.2, 19.9 → 26.3, 14.6, 14.6. On the default model's 14×14×32 → 64 (at batch 128), whose 4×4 tiles pass the edge,
    /// 3.73, 3.88, 3.16, 3.66 → 3.60, 3.33, 3.41, 2.50 with AVX-512 but 4.12, 4.26 → 5.01, 4.97 with AVX2.
    /// </remarks>
    internal static int GradientTile(ConvGeometry g) => OutputTile(g) == 4 && g.P % 4 == 0 && g.Q % 4 == 0 ? 4 : 2;

    /// <summary>
    /// dW[r,s,c,k] = Σ_{n,p,q} in[n, p − padTop + r, q − padLeft + s, c] · dOut[n,p,q,k], by tiles of 2×2 output pixels,
    /// or 4×4 ones where <see cref="GradientTile"/> says so (see the type's remarks); dW is overwritten.
    /// </summary>
    public static void BackwardKernel(
        float* dy,      // [N, P, Q, K]
        float* x,       // [N, H, W, C]
        ConvGeometry g,
        float* dw)      // [R, R, C, K], R = 3 or 5
    {
        int size = GradientTile(g);
        var geometry = new TileGeometry(g, (g.P + size - 1) / size, (g.Q + size - 1) / size, size);
        var plan = new GradientPlan(geometry);
        // M [α², ⌈C/MR⌉·MR, ⌈K/NR⌉·NR]: its rows and columns past C and K take the padding of short register tiles.
        float* m = KernelBuffers.Partials(checked(plan.Positions * plan.ChannelsPadded * plan.FiltersPadded));
        int threads = KernelThreads.Available;
        int rowParts = Math.Min(threads, geometry.Alpha), panelParts = Math.Min(threads / rowParts, plan.Panels);
        KernelThreads.For(rowParts * panelParts, new GradientProducts(x, dy, geometry, plan, m, rowParts, panelParts));
        int channelParts = g.C * g.K >= 1 << 14 ? Math.Min(threads, g.C) : 1;
        KernelThreads.For(channelParts, new GradientTransforms(m, plan, g, dw, channelParts));
    }

    /// <summary>Floats of the α² products M (8 MB) past which the blocks of tiles grow (<see cref="LargeBlockFloats"/>).</summary>
    private const long LargeProducts = 1 << 21;

    /// <summary>
    /// Floats of a thread's V and U per block (8 MB) up to which a layer with large products M takes blocks of half its
    /// tiles. Every block reads and writes all of M (16 MB for 4×4 maps of 512 channels and filters), and blocks that
    /// fit L2 hold a few dozen tiles there: batch 128, 4×4×512 → 512 took 31–34 ms in 22 blocks against 26–29 in two,
    /// 7×7×512 → 512 at batch 32 28–34 against 26–28 (three alternating pairs of processes, medians of 15, two threads,
    /// AVX-512 on Zen 4), V and U then coming from L3. 8×8×256 → 256 (M of 4 MB) ran 24–25 ms in 43 blocks and 28–29
    /// in two, so it keeps the blocks that fit L2, as do the layers whose M does.
    /// </summary>
    private const int LargeBlockFloats = 1 << 21;

    /// <summary>The sizes <see cref="BackwardKernel"/> works in, which depend only on the geometry (so its bits do too).</summary>
    private readonly struct GradientPlan
    {
        public readonly int Positions, Tiles, BlockTiles, Panels, FiltersPadded, ChannelsPadded;

        public GradientPlan(TileGeometry tg)
        {
            var g = tg.G;
            int nr = GemmMicroKernel.NR;
            Positions = tg.Positions;
            Tiles = checked(g.N * tg.TilesH * tg.TilesW);
            Panels = (g.K + nr - 1) / nr;
            FiltersPadded = Panels * nr;
            ChannelsPadded = (g.C + GemmMicroKernel.MR - 1) / GemmMicroKernel.MR * GemmMicroKernel.MR;
            // The V and U of half the positions (a thread's share on two cores) within the forward's budget per block, at
            // least MinBlockTiles so the micro-kernel's loop is long against its fetch and store of the C tile. The
            // blocks set the order of the sums, so they must not depend on the threads.
            BlockTiles = Math.Min(Math.Max(BlockBudget / (Positions / 2 * (g.C + FiltersPadded)), MinBlockTiles), Tiles);
            // Each block adds its products into M; where M is past a core's L2 that is a trip through memory per block.
            if ((long)Positions * ChannelsPadded * FiltersPadded > LargeProducts)
                BlockTiles = Math.Max(BlockTiles, Math.Min((Tiles + 1) / 2, LargeBlockFloats / (Positions / 2 * (g.C + FiltersPadded))));
        }
    }

    /// <summary>
    /// <see cref="BackwardKernel"/>'s products: part i takes rows of positions (i % rowParts, of α) and panels of filters
    /// (i / rowParts), and sums their M_e over every block of tiles.
    /// </summary>
    private readonly struct GradientProducts(float* x, float* dy, TileGeometry tg, GradientPlan plan, float* m, int rowParts, int panelParts)
        : KernelThreads.IItems
    {
        public void Run(int part)
        {
            var g = tg.G;
            int nr = GemmMicroKernel.NR, blockMR = GemmMicroKernel.ColumnSegmentsMR, alpha = tg.Alpha;
            var (firstRow, lastRow) = KernelThreads.Range(alpha, rowParts, part % rowParts);
            var (firstPanel, lastPanel) = KernelThreads.Range(plan.Panels, panelParts, part / rowParts);
            int positions = (lastRow - firstRow) * alpha, panels = lastPanel - firstPanel, blockTiles = plan.BlockTiles, c = g.C;
            if (positions == 0 || panels == 0) return;
            // This thread's V [its positions, tiles, C], U [its positions, its panels, tiles, NR], and zeros for the
            // pixels and output gradients outside the image.
            int zerosLength = Math.Max(c, g.K) + 8;
            nint vMost = SpreadStride((nint)blockTiles * c), uMost = SpreadStride((nint)panels * blockTiles * nr);
            float* v = KernelBuffers.Columns(checked((int)(positions * vMost) + zerosLength));
            float* zeros = v + positions * vMost;
            new Span<float>(zeros, zerosLength).Clear();
            float* u = KernelBuffers.WinogradProducts(checked((int)(positions * uMost)));
            float** bases = stackalloc float*[1];
            nint mPosition = (nint)plan.ChannelsPadded * plan.FiltersPadded;
            var at = tg.Locate(0);
            for (int first = 0; first < plan.Tiles; first += blockTiles)
            {
                int count = Math.Min(blockTiles, plan.Tiles - first);
                nint vStride = SpreadStride((nint)count * c), uStride = SpreadStride((nint)panels * count * nr);
                for (int t = 0; t < count; t++, at = tg.Next(at))
                {
                    TransformInput(x, tg, at, zeros, v + (nint)t * c, vStride, firstRow, lastRow);
                    TransformOutputGradient(dy, tg, at, zeros, firstRow, lastRow, firstPanel, lastPanel, u + (nint)t * nr, uStride, (nint)count * nr);
                }
                for (int e = 0; e < positions; e++)
                {
                    bases[0] = v + e * vStride;
                    for (int panel = firstPanel; panel < lastPanel; panel++)
                    {
                        float* b = u + e * uStride + (nint)(panel - firstPanel) * count * nr;
                        float* mPanel = m + (firstRow * alpha + e) * mPosition + (nint)panel * nr;
                        for (int c0 = 0; c0 < c; c0 += blockMR)
                            GemmMicroKernel.ColumnSegments(1, bases, c0, count, c, Math.Min(blockMR, c - c0), b,
                                mPanel + (nint)c0 * plan.FiltersPadded, plan.FiltersPadded, overwrite: first == 0);
                    }
                }
            }
        }
    }

    /// <summary><see cref="BackwardKernel"/>'s last step: part i writes dW = Gᵀ M G for its range of the channels.</summary>
    private readonly struct GradientTransforms(float* m, GradientPlan plan, ConvGeometry g, float* dw, int parts) : KernelThreads.IItems
    {
        public void Run(int part)
        {
            var (first, last) = KernelThreads.Range(g.C, parts, part);
            nint positionStride = (nint)plan.ChannelsPadded * plan.FiltersPadded;
            if (plan.Positions == 36) TransformProducts6(m, positionStride, plan.FiltersPadded, g, first, last, dw);
            else TransformProducts(m, positionStride, plan.FiltersPadded, g, first, last, dw);
        }
    }

    /// <summary>
    /// U = A dY Aᵀ for one tile's 2×2 output gradient (4×4 ones in <see cref="TransformOutputGradient44"/>), rows
    /// [<paramref name="firstRow"/>, <paramref name="lastRow"/>) of its positions, the filters of panels
    /// [<paramref name="firstPanel"/>, <paramref name="lastPanel"/>): U[e] of filter k, for the e-th of those positions, goes
    /// to u + e·positionStride + (k/NR − firstPanel)·panelStride + k%NR. Pixels past the output's edge and the panels'
    /// padding filters are zeros.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization), SkipLocalsInit]
    private static void TransformOutputGradient(float* dy, TileGeometry tg, TileOrigin tile, float* zeros, int firstRow, int lastRow,
        int firstPanel, int lastPanel, float* u, nint positionStride, nint panelStride)
    {
        if (tg.Size == 4)
        {
            TransformOutputGradient44(dy, tg, tile, zeros, firstRow, lastRow, firstPanel, lastPanel, u, positionStride, panelStride);
            return;
        }
        var g = tg.G;
        var (n, p, q) = tile;
        bool secondRow = p + 1 < g.P, secondColumn = q + 1 < g.Q;
        float* y00 = dy + ((nint)(n * g.P + p) * g.Q + q) * g.K;
        float* y01 = secondColumn ? y00 + g.K : zeros;
        float* y10 = secondRow ? y00 + (nint)g.Q * g.K : zeros;
        float* y11 = secondRow && secondColumn ? y10 + g.K : zeros;
        int nr = GemmMicroKernel.NR, end = lastPanel * nr;
        bool six = tg.Alpha == 6;
        float* staged = stackalloc float[4 * 8];
        for (int filter = firstPanel * nr; filter < end; filter += 8)
        {
            Vector256<float> a, b, c, d;
            if (filter + 8 <= g.K)
            {
                a = Vector256.Load(y00 + filter);
                b = Vector256.Load(y01 + filter);
                c = Vector256.Load(y10 + filter);
                d = Vector256.Load(y11 + filter);
            }
            else
            {
                // The last filters and the panel's padding: zero gradients give zero transforms.
                for (int lane = 0; lane < 8; lane++)
                {
                    bool inside = filter + lane < g.K;
                    staged[lane] = inside ? y00[filter + lane] : 0f;
                    staged[8 + lane] = inside ? y01[filter + lane] : 0f;
                    staged[16 + lane] = inside ? y10[filter + lane] : 0f;
                    staged[24 + lane] = inside ? y11[filter + lane] : 0f;
                }
                a = Vector256.Load(staged);
                b = Vector256.Load(staged + 8);
                c = Vector256.Load(staged + 16);
                d = Vector256.Load(staged + 24);
            }
            float* at = u + (nint)(filter / nr - firstPanel) * panelStride + filter % nr;
            if (six)
            {
                StoreGradientRows6(a, b, c, d, firstRow, lastRow, at, positionStride);
                continue;
            }
            // Rows of A dY: y₀, y₀ + y₁, y₀ − y₁, −y₁ (of the tile's two rows), then the same over each row's two columns.
            for (int i = firstRow; i < lastRow; i++)
            {
                var (t0, t1) = i switch { 0 => (a, b), 1 => (a + c, b + d), 2 => (a - c, b - d), _ => (-c, -d) };
                StoreGradientRow(at, positionStride, i - firstRow, t0, t1);
            }
        }
    }

    /// <summary>Row <paramref name="i"/> of (A dY) Aᵀ from that row of A dY (t0, t1): t0, t0 + t1, t0 − t1, −t1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreGradientRow(float* at, nint positionStride, int i, Vector256<float> t0, Vector256<float> t1)
    {
        float* row = at + 4 * i * positionStride;
        Vector256.Store(t0, row);
        Vector256.Store(t0 + t1, row + positionStride);
        Vector256.Store(t0 - t1, row + 2 * positionStride);
        Vector256.Store(-t1, row + 3 * positionStride);
    }

    /// <summary>
    /// dW = Gᵀ M G of a 3×3 kernel for channels [<paramref name="firstChannel"/>, <paramref name="lastChannel"/>), every filter:
    /// M_e[c, k] at m + e·positionStride + c·ldm + k.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TransformProducts(float* m, nint positionStride, int ldm, ConvGeometry g, int firstChannel, int lastChannel, float* dw)
    {
        nint tap = (nint)g.C * g.K;
        float* z = stackalloc float[12];
        for (int channel = firstChannel; channel < lastChannel; channel++)
        {
            float* target = dw + (nint)channel * g.K;
            int filter = 0;
            for (; filter + 8 <= g.K; filter += 8)
            {
                float* at = m + (nint)channel * ldm + filter;
                // Gᵀ M: rows z₀ = M₀ + (M₁ + M₂)/2, z₁ = (M₁ − M₂)/2, z₂ = (M₁ + M₂)/2 + M₃ (of M), column by column;
                // then each row of Gᵀ M times G the same way.
                var (z00, z10, z20) = ProductColumn(at, positionStride, 0);
                var (z01, z11, z21) = ProductColumn(at, positionStride, 1);
                var (z02, z12, z22) = ProductColumn(at, positionStride, 2);
                var (z03, z13, z23) = ProductColumn(at, positionStride, 3);
                StoreKernelGradientRow(target + filter, tap, 0, z00, z01, z02, z03);
                StoreKernelGradientRow(target + filter, tap, 1, z10, z11, z12, z13);
                StoreKernelGradientRow(target + filter, tap, 2, z20, z21, z22, z23);
            }
            for (; filter < g.K; filter++)
            {
                float* at = m + (nint)channel * ldm + filter;
                for (int j = 0; j < 4; j++)
                {
                    float m0 = at[j * positionStride], m1 = at[(4 + j) * positionStride], m2 = at[(8 + j) * positionStride], m3 = at[(12 + j) * positionStride];
                    float sum = 0.5f * (m1 + m2);
                    z[j] = m0 + sum;
                    z[4 + j] = 0.5f * (m1 - m2);
                    z[8 + j] = sum + m3;
                }
                for (int r = 0; r < 3; r++)
                {
                    float sum = 0.5f * (z[4 * r + 1] + z[4 * r + 2]);
                    target[filter + 3 * r * tap] = z[4 * r] + sum;
                    target[filter + (3 * r + 1) * tap] = 0.5f * (z[4 * r + 1] - z[4 * r + 2]);
                    target[filter + (3 * r + 2) * tap] = sum + z[4 * r + 3];
                }
            }
        }
    }

    /// <summary>Column <paramref name="j"/> of Gᵀ M: (M₀ + (M₁ + M₂)/2, (M₁ − M₂)/2, (M₁ + M₂)/2 + M₃), eight filters.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float>, Vector256<float>, Vector256<float>) ProductColumn(float* at, nint positionStride, int j)
    {
        var half = Vector256.Create(0.5f);
        var m0 = Vector256.Load(at + j * positionStride);
        var m1 = Vector256.Load(at + (4 + j) * positionStride);
        var m2 = Vector256.Load(at + (8 + j) * positionStride);
        var m3 = Vector256.Load(at + (12 + j) * positionStride);
        var sum = half * (m1 + m2);
        return (m0 + sum, half * (m1 - m2), sum + m3);
    }

    /// <summary>Row <paramref name="r"/> of (Gᵀ M) G from that row (z0 … z3): taps (r, 0), (r, 1), (r, 2) of dW.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreKernelGradientRow(float* target, nint tap, int r, Vector256<float> z0, Vector256<float> z1, Vector256<float> z2, Vector256<float> z3)
    {
        var half = Vector256.Create(0.5f);
        var sum = half * (z1 + z2);
        Vector256.Store(z0 + sum, target + 3 * r * tap);
        Vector256.Store(half * (z1 - z2), target + (3 * r + 1) * tap);
        Vector256.Store(sum + z3, target + (3 * r + 2) * tap);
    }
}
