using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ConvKit.Kernels;

// N batch, H/W height/width, C in channels, K filters, P/Q output h/w; a tile is a 2×2 block of output pixels, α its
// input's side (4 for 3×3 filters, 6 for 5×5), α² the positions of the transforms.

/// <summary>
/// 3×3 and 5×5 stride-1 convolutions by Winograd's minimal filtering F(2×2, 3×3), F(4×4, 3×3) and F(2×2, 5×5) (Lavin and
/// Gray, "Fast Algorithms for Convolutional Neural Networks", 2016): a tile of 2×2 (or 4×4) output pixels comes from the
/// α × α input pixels around it with α² multiplications per input channel and filter: 16 instead of 36 (2.25× fewer)
/// for 3×3, 36 instead of 144 (4× fewer) for 3×3 on maps whose sides are multiples of 4 (<c>WinogradConvolution.Tile4.cs</c>),
/// 36 instead of 100 (2.78× fewer) for 5×5 (its transforms: <c>WinogradConvolution.Filter5.cs</c>).
/// </summary>
/// <remarks>
/// For one channel, with d the 4×4 input tile and g the 3×3 filter: Y = Aᵀ [U ⊙ V] A with U = G g Gᵀ and V = Bᵀ d B,
/// <code>
///      ⎡1  0 −1  0⎤        ⎡ 1   0   0 ⎤
/// Bᵀ = ⎢0  1  1  0⎥    G = ⎢1/2 1/2 1/2⎥    Aᵀ = ⎡1 1  1  0⎤
///      ⎢0 −1  1  0⎥        ⎢1/2 −1/2 1/2⎥         ⎣0 1 −1 −1⎦
///      ⎣0  1  0 −1⎦        ⎣ 0   0   1 ⎦
/// </code>
/// Summed over the channels, each of the α² positions e of the ⊙ is a matrix product over a block of tiles:
/// M_e[tiles, K] = V_e[tiles, C] · U_e[C, K], which the GEMM's micro-kernels run with V_e read in place and U_e packed
/// once per call (or kept, at inference). A block's V and M (α² · tiles · (C + K) floats) stay in L2 between the
/// input transform, the α² products and the output transform. Channels-last makes each transform a sum of whole
/// channel vectors: 16 channels at a time where the runtime accelerates 512-bit vectors (1.1–1.2× faster convolutions
/// at 28×28 and 56×56 than with 8, the same bits), else 8. Padding rows and columns are zeros; a tile past an odd
/// output edge computes pixels it drops. Each tile's sums run in one fixed order whatever the block it falls in, so
/// the bits depend neither on the threads nor on the batch.
/// </remarks>
internal static unsafe partial class WinogradConvolution
{
    /// <summary>Channels and filters from which the products are long enough to pay for the transforms.</summary>
    private const int MinChannels = 16, MinFilters = 16;

    /// <summary>Floats of one block's V and M together at most: 768 KB with AVX-512 (1–2 MB of L2), 384 KB otherwise.</summary>
    private static readonly int BlockBudget = GemmMicroKernel.Selected == GemmMicroKernel.Isa.Avx512 ? 192 * 1024 : 96 * 1024;

    /// <summary>Tiles per block at least, so each product has rows for several register tiles.</summary>
    private const int MinBlockTiles = 24;

    /// <summary>
    /// Whether <see cref="Forward"/> takes the convolution: 3×3 or 5×5, stride 1, no dilation, one group, at least
    /// <see cref="MinChannels"/> channels and <see cref="MinFilters"/> filters, 256-bit vectors in hardware for the
    /// transforms, and either output sides both even (2×2 tiles cover the map exactly) or per image enough tiles for the
    /// kernel's transforms: tiles · (C + K) · 4 ≥ C · K.
    /// </summary>
    /// <remarks>
    /// The 16 transforms of the kernel are 16/9 of its size, made at every call while training and read once per block
    /// of tiles; with few tiles per image that traffic can outweigh the saved multiplications for one image. The rule
    /// looks at one image only, so an image gets the same bits alone and in a batch; but batches are where the time goes.
    /// <para>
    /// Where the tiles pass the edge the count decides. At 7×7 (16 tiles, 64 pixels for 49) with 512 channels and
    /// filters, one image took 0.84× (AVX-512) and 0.53× (AVX2) the time of the direct kernels, with 128 channels and
    /// filters 0.77× and 1.27×; at 14×14 with 256 1.42× and at 28×28 with 128 1.53× faster. Where they cover the map
    /// exactly every multiplication counts, and the small maps of CIFAR-sized networks gain 1.5–2.5× in a batch (median
    /// ms, direct against 2×2 tiles, alternating in one process, AVX-512 on Zen 4): batch 128, 8×8×256 → 256 46–49
    /// against 22–23 (AVX2 55 against 27), 8×8×128 → 256 25 against 12, 4×4×512 → 512 48 against 23 (AVX2 69 against
    /// 44), 2×2×512 → 512 14 against 7.6, 4×4×256 → 256 5×5 34 against 14; their input gradients alike. One image with
    /// kept transforms: 8×8×256 0.47 against 0.28, 4×4×512 0.57 against 0.48, 2×2×512 0.40 against 0.55; while training
    /// (transforms made at each call) 2×2 and 4×4 maps of 512 lose 0.5–1 ms an image alone.
    /// </para>
    /// <para>
    /// 5×5 (36 transforms, 36/25 of the kernel), the same rule: the TensorFlow tutorial CNN's 14×14×32 → 64 layer at
    /// batch 100 ran 2.0–3.2× faster with AVX2 and 1.0–1.6× with AVX-512, its input gradient (64 → 32) 1.7–2.0× and
    /// 1.0–1.4×; 7×7×128 → 128 at batch 32 2.0× and 1.6×, one such image 1.3× and 0.8× (0.05 ms slower), as the 3×3 rule
    /// allows.
    /// </para>
    /// </remarks>
    public static bool Applies(ConvGeometry g) =>
        Vector256.IsHardwareAccelerated && (g.R == 3 || g.R == 5) && g.S == g.R && g.StrideH == 1 && g.StrideW == 1
        && g.DilationH == 1 && g.DilationW == 1 && g.Groups == 1 && g.C >= MinChannels && g.K >= MinFilters
        && (g.P % 2 == 0 && g.Q % 2 == 0 || (long)(g.P + 1) / 2 * ((g.Q + 1) / 2) * (g.C + g.K) * 4 >= (long)g.C * g.K);

    /// <summary>
    /// out[n,p,q,k] = Σ_{r,s,c} in[n, p − padTop + r, q − padLeft + s, c] · w[r,s,c,k], then the epilogue, by tiles of
    /// 2×2 output pixels, or 4×4 ones where <see cref="OutputTile"/> says so (see the type's remarks).
    /// </summary>
    public static void Forward(
        float* x,       // [N, H, W, C]
        float* w,       // [R, R, C, K], R = 3 or 5
        ConvGeometry g,
        float* y,       // [N, P, Q, K]
        OutputEpilogue e,
        WeightPacking packing)
    {
        int c = g.C, k = g.K, size = OutputTile(g);
        int tilesH = (g.P + size - 1) / size, tilesW = (g.Q + size - 1) / size;
        int tiles = checked(g.N * tilesH * tilesW);
        var geometry = new TileGeometry(g, tilesH, tilesW, size);
        int positions = geometry.Positions;
        long packedSize = Gemm.WholeBSize(k, c);
        var layout = new PackedLayout(PackedForm.Winograd, k, c, positions, Gemm.Blocks.KC, positions * packedSize);
        float* u = packing.Get(layout, new KernelTransformPacker(w, g.R, size, c, k, packedSize), &KernelBuffers.WholeB, out var kept);
        int blockTiles = Math.Max(MinBlockTiles, BlockBudget / (positions * (c + k)) / 12 * 12);
        int blocks = (tiles + blockTiles - 1) / blockTiles, threads = KernelThreads.Available;
        if (blocks >= 2 * threads || threads == 1)
        {
            // Blocks of tiles over the threads, each through all three steps while its V and M stay in L2.
            KernelThreads.For(blocks, new TileBlocks(x, geometry, u, packedSize, y, e, tiles, blockTiles, positions, c, k));
        }
        else
        {
            // Too few blocks to share out: each step over all the tiles, the threads taking tiles, then positions, then tiles.
            var (vAt, mAt) = Buffers(positions, tiles, c, k);
            float* v = (float*)vAt, m = (float*)mAt;
            int parts = Math.Min(threads, tiles);
            KernelThreads.For(parts, new InputTransforms(x, geometry, v, tiles, parts, positions, c));
            KernelThreads.For(positions, new Products(tiles, c, k, v, m, u, packedSize));
            KernelThreads.For(parts, new OutputTransforms(geometry, m, y, e, tiles, parts, k));
        }
        GC.KeepAlive(kept);
    }

    /// <summary><see cref="Forward"/> in blocks of tiles: block b runs the three steps for its tiles in this thread's buffers.</summary>
    private readonly struct TileBlocks(float* x, TileGeometry geometry, float* u, long packedSize, float* y, OutputEpilogue e, int tiles,
        int blockTiles, int positions, int c, int k)
        : KernelThreads.IItems
    {
        public void Run(int block)
        {
            int first = block * blockTiles, count = Math.Min(blockTiles, tiles - first);
            var (v, m) = Buffers(positions, count, c, k);
            RunTiles(x, geometry, first, count, (float*)v, (float*)m, u, packedSize, y, e);
        }
    }

    /// <summary><see cref="Forward"/> over all tiles at once, first step: part i transforms its range of the tiles' inputs into V.</summary>
    private readonly struct InputTransforms(float* x, TileGeometry geometry, float* v, int tiles, int parts, int positions, int c)
        : KernelThreads.IItems
    {
        public void Run(int part)
        {
            var (first, last) = KernelThreads.Range(tiles, parts, part);
            var at = geometry.Locate(first);
            nint stride = SpreadStride((nint)tiles * c);
            for (int t = first; t < last; t++, at = geometry.Next(at)) TransformInput(x, geometry, at, v + positions * stride, v + (nint)t * c, stride);
        }
    }

    /// <summary><see cref="Forward"/> over all tiles at once, middle step: item i is the GEMM of position i.</summary>
    private readonly struct Products(int tiles, int c, int k, float* v, float* m, float* u, long packedSize) : KernelThreads.IItems
    {
        public void Run(int position) => Multiply(position, tiles, c, k, v, m, u, packedSize);
    }

    /// <summary><see cref="Forward"/> over all tiles at once, last step: part i transforms its range of the tiles' products into the output.</summary>
    private readonly struct OutputTransforms(TileGeometry geometry, float* m, float* y, OutputEpilogue e, int tiles, int parts, int k)
        : KernelThreads.IItems
    {
        public void Run(int part)
        {
            var (first, last) = KernelThreads.Range(tiles, parts, part);
            var at = geometry.Locate(first);
            nint stride = SpreadStride((nint)tiles * k);
            for (int t = first; t < last; t++, at = geometry.Next(at)) TransformOutput(m + (nint)t * k, stride, geometry, at, y, e);
        }
    }

    /// <summary>
    /// This thread's V [α², tiles, C] followed by a row of C zeros (the padding's pixels), and M [α², tiles, K]; the
    /// positions' planes <see cref="SpreadStride"/> apart.
    /// </summary>
    private static (nint V, nint M) Buffers(int positions, int tiles, int c, int k)
    {
        nint vStride = SpreadStride((nint)tiles * c), mStride = SpreadStride((nint)tiles * k);
        float* v = KernelBuffers.Columns(checked((int)(positions * vStride) + c));
        new Span<float>(v + positions * vStride, c).Clear();
        return ((nint)v, (nint)KernelBuffers.WinogradProducts(checked((int)(positions * mStride))));
    }

    /// <summary>
    /// A stride of at least <paramref name="floats"/> between the positions' planes of V, M (and the kernel gradient's U)
    /// that is an odd number of cache lines: a transform stores one vector to each of the α² planes in turn, and at a
    /// multiple of 4 KB apart (a block of 256 tiles of 32 channels is 32 KB) they all fall in one set of L1, whose ways
    /// they overflow.
    /// </summary>
    private static nint SpreadStride(nint floats) => ((floats + 15) / 16 | 1) * 16;

    /// <summary>The three steps for <paramref name="count"/> tiles from <paramref name="first"/>, V and M sized for them.</summary>
    private static void RunTiles(float* x, TileGeometry geometry, int first, int count, float* v, float* m, float* u, long packedSize, float* y, OutputEpilogue e)
    {
        int c = geometry.G.C, k = geometry.G.K, positions = geometry.Positions;
        nint vStride = SpreadStride((nint)count * c), mStride = SpreadStride((nint)count * k);
        float* zeros = v + positions * vStride;
        var start = geometry.Locate(first);
        var at = start;
        for (int t = 0; t < count; t++, at = geometry.Next(at)) TransformInput(x, geometry, at, zeros, v + (nint)t * c, vStride);
        for (int position = 0; position < positions; position++) Multiply(position, count, c, k, v, m, u, packedSize);
        at = start;
        for (int t = 0; t < count; t++, at = geometry.Next(at)) TransformOutput(m + (nint)t * k, mStride, geometry, at, y, e);
    }

    /// <summary>M_e[tiles, K] = V_e[tiles, C] · U_e[C, K] for position e, V_e read in place.</summary>
    private static void Multiply(int position, int tiles, int c, int k, float* v, float* m, float* u, long packedSize) =>
        Gemm.MultiplyWholeB(tiles, k, c, v + position * SpreadStride((nint)tiles * c), c, u + position * packedSize,
            m + position * SpreadStride((nint)tiles * k), k, accumulate: false);

    /// <summary>Image, first output row and first output column of a tile.</summary>
    private readonly record struct TileOrigin(int N, int P, int Q);

    /// <summary>Where tile number <c>t</c> (over the batch, row-major within an image) of <paramref name="size"/> × <paramref name="size"/> output pixels lies.</summary>
    private readonly struct TileGeometry(ConvGeometry g, int tilesH, int tilesW, int size = 2)
    {
        public readonly ConvGeometry G = g;
        public readonly int TilesH = tilesH, TilesW = tilesW, Size = size;

        /// <summary>The side α of a tile's input, and the α² positions of its transforms.</summary>
        public int Alpha => G.R + Size - 1;
        public int Positions => Alpha * Alpha;

        /// <summary>Where tile number <paramref name="tile"/> lies.</summary>
        public TileOrigin Locate(int tile)
        {
            int perImage = TilesH * TilesW;
            int n = tile / perImage, rest = tile % perImage;
            return new(n, rest / TilesW * Size, rest % TilesW * Size);
        }

        /// <summary>
        /// The tile numbered one past <paramref name="tile"/>, without the four divisions of <see cref="Locate"/> (a
        /// tenth of a 14×14 × 32 → 64 kernel gradient's time went to them).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TileOrigin Next(TileOrigin tile) =>
            tile.Q + Size < Size * TilesW ? tile with { Q = tile.Q + Size }
            : tile.P + Size < Size * TilesH ? new(tile.N, tile.P + Size, 0)
            : new(tile.N + 1, 0, 0);
    }

    /// <summary>
    /// Points d[i·α + j] at the channels of input pixel (i, j) of the tile's α × α, or at <paramref name="zeros"/> for a
    /// pixel in the padding.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PointPixels(float* x, TileGeometry tg, TileOrigin tile, float* zeros, float** d)
    {
        var g = tg.G;
        var (n, p, q) = tile;
        int alpha = tg.Alpha;
        for (int i = 0; i < alpha; i++)
        {
            int h = p - g.PadTop + i;
            for (int j = 0; j < alpha; j++)
            {
                int col = q - g.PadLeft + j;
                d[i * alpha + j] = (uint)h < (uint)g.H && (uint)col < (uint)g.W ? x + ((nint)(n * g.H + h) * g.W + col) * g.C : zeros;
            }
        }
    }

    /// <summary>
    /// V = Bᵀ d B for the input pixels of one tile, every channel, rows [<paramref name="firstRow"/>, <paramref name="lastRow"/>)
    /// of the α × α positions (all of them by default): position (i, j) goes to v + ((i − firstRow)·α + j)·stride. Pixels in
    /// the padding read <paramref name="zeros"/> (at least C floats). The 4×4 of 3×3 filters in <see cref="TransformInput4"/>,
    /// the 6×6 of 5×5 ones in <see cref="TransformInput6"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization), SkipLocalsInit]
    private static void TransformInput(float* x, TileGeometry tg, TileOrigin tile, float* zeros, float* v, nint stride, int firstRow = 0, int lastRow = 6)
    {
        float** d = stackalloc float*[36];
        PointPixels(x, tg, tile, zeros, d);
        if (tg.Alpha == 6) TransformInput6(d, tg.G.C, v, stride, firstRow, lastRow);
        else TransformInput4(d, tg.G.C, v, stride, firstRow, Math.Min(lastRow, 4));
    }

    /// <summary>
    /// V = Bᵀ d B for the 4×4 input pixels of one tile (<see cref="PointPixels"/>), each of the <paramref name="channels"/>,
    /// rows [<paramref name="firstRow"/>, <paramref name="lastRow"/>) of the positions.
    /// </summary>
    /// <remarks>
    /// Too large for its callers to inline, so it is compiled on its own: fully optimised from the first call, as the
    /// callers are. Tiered (in a program that keeps .NET's quick JIT for loops), its instrumented first tier ran for
    /// seconds of work: the default model's 14×14×32 → 64 kernel gradient at batch 128 took 7.2–7.5 ms (two threads)
    /// through its first 40 calls, against 3.3–4.0 ms.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TransformInput4(float** d, int channels, float* v, nint stride, int firstRow, int lastRow)
    {
        // Bᵀ d column by column, each input pixel loaded once, then each of its rows times B: sixteen channels at a time,
        // then eight, then one. v is moved back by the rows not stored, so that row i is stored at its own offset.
        v -= (nint)(firstRow * 4) * stride;
        int channel = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; channel + Vector512<float>.Count <= channels; channel += Vector512<float>.Count)
            {
                var (t00, t10, t20, t30) = InputColumn(d, 0, channel);
                var (t01, t11, t21, t31) = InputColumn(d, 1, channel);
                var (t02, t12, t22, t32) = InputColumn(d, 2, channel);
                var (t03, t13, t23, t33) = InputColumn(d, 3, channel);
                if (firstRow <= 0 && 0 < lastRow) StoreInputRow(v + channel, stride, 0, t00, t01, t02, t03);
                if (firstRow <= 1 && 1 < lastRow) StoreInputRow(v + channel, stride, 1, t10, t11, t12, t13);
                if (firstRow <= 2 && 2 < lastRow) StoreInputRow(v + channel, stride, 2, t20, t21, t22, t23);
                if (firstRow <= 3 && 3 < lastRow) StoreInputRow(v + channel, stride, 3, t30, t31, t32, t33);
            }
        }
        for (; channel + Vector256<float>.Count <= channels; channel += Vector256<float>.Count)
        {
            // Row by row here: with 16 ymm registers the sixteen columns spill (4 % slower on ResNet's 56×56×64 layer,
            // the same bits).
            for (int i = firstRow; i < lastRow; i++)
            {
                var (t0, t1, t2, t3) = InputRow(i, d, channel);
                StoreInputRow(v + channel, stride, i, t0, t1, t2, t3);
            }
        }
        for (; channel < channels; channel++)
        {
            var (t00, t10, t20, t30) = InputColumnScalar(d, 0, channel);
            var (t01, t11, t21, t31) = InputColumnScalar(d, 1, channel);
            var (t02, t12, t22, t32) = InputColumnScalar(d, 2, channel);
            var (t03, t13, t23, t33) = InputColumnScalar(d, 3, channel);
            if (firstRow <= 0 && 0 < lastRow) StoreInputRow(v + channel, stride, 0, t00, t01, t02, t03);
            if (firstRow <= 1 && 1 < lastRow) StoreInputRow(v + channel, stride, 1, t10, t11, t12, t13);
            if (firstRow <= 2 && 2 < lastRow) StoreInputRow(v + channel, stride, 2, t20, t21, t22, t23);
            if (firstRow <= 3 && 3 < lastRow) StoreInputRow(v + channel, stride, 3, t30, t31, t32, t33);
        }
    }

    /// <summary>Column <paramref name="j"/> of Bᵀ d: d0 − d2, d1 + d2, d2 − d1, d1 − d3 (rows of d), sixteen channels.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<float>, Vector512<float>, Vector512<float>, Vector512<float>) InputColumn(float** d, int j, int channel)
    {
        var d0 = Vector512.Load(d[j] + channel);
        var d1 = Vector512.Load(d[4 + j] + channel);
        var d2 = Vector512.Load(d[8 + j] + channel);
        var d3 = Vector512.Load(d[12 + j] + channel);
        return (d0 - d2, d1 + d2, d2 - d1, d1 - d3);
    }

    /// <summary>Row <paramref name="i"/> of (Bᵀ d) B from that row of Bᵀ d: t0 − t2, t1 + t2, t2 − t1, t1 − t3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreInputRow(float* v, nint stride, int i, Vector512<float> t0, Vector512<float> t1, Vector512<float> t2, Vector512<float> t3)
    {
        float* row = v + (nint)(i * 4) * stride;
        Vector512.Store(t0 - t2, row);
        Vector512.Store(t1 + t2, row + stride);
        Vector512.Store(t2 - t1, row + 2 * stride);
        Vector512.Store(t1 - t3, row + 3 * stride);
    }

    // The same steps eight channels at a time and one channel at a time: the same operations, so the same bits.

    /// <summary>Row <paramref name="i"/> of Bᵀ d, eight channels: d0 − d2, d1 + d2, d2 − d1 or d1 − d3, column by column.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>) InputRow(int i, float** d, int channel)
    {
        var (a, b) = i switch { 0 => (0, 2), 1 => (1, 2), 2 => (2, 1), _ => (1, 3) };
        float** ra = d + a * 4, rb = d + b * 4;
        if (i == 1)
            return (Vector256.Load(ra[0] + channel) + Vector256.Load(rb[0] + channel), Vector256.Load(ra[1] + channel) + Vector256.Load(rb[1] + channel),
                    Vector256.Load(ra[2] + channel) + Vector256.Load(rb[2] + channel), Vector256.Load(ra[3] + channel) + Vector256.Load(rb[3] + channel));
        return (Vector256.Load(ra[0] + channel) - Vector256.Load(rb[0] + channel), Vector256.Load(ra[1] + channel) - Vector256.Load(rb[1] + channel),
                Vector256.Load(ra[2] + channel) - Vector256.Load(rb[2] + channel), Vector256.Load(ra[3] + channel) - Vector256.Load(rb[3] + channel));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreInputRow(float* v, nint stride, int i, Vector256<float> t0, Vector256<float> t1, Vector256<float> t2, Vector256<float> t3)
    {
        float* row = v + (nint)(i * 4) * stride;
        Vector256.Store(t0 - t2, row);
        Vector256.Store(t1 + t2, row + stride);
        Vector256.Store(t2 - t1, row + 2 * stride);
        Vector256.Store(t1 - t3, row + 3 * stride);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (float, float, float, float) InputColumnScalar(float** d, int j, int channel)
    {
        float d0 = d[j][channel], d1 = d[4 + j][channel], d2 = d[8 + j][channel], d3 = d[12 + j][channel];
        return (d0 - d2, d1 + d2, d2 - d1, d1 - d3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreInputRow(float* v, nint stride, int i, float t0, float t1, float t2, float t3)
    {
        float* row = v + (nint)(i * 4) * stride;
        row[0] = t0 - t2;
        row[stride] = t1 + t2;
        row[2 * stride] = t2 - t1;
        row[3 * stride] = t1 - t3;
    }

    /// <summary>
    /// Y = Aᵀ M A for one tile, every filter, M[e] read at m + e·stride; writes the pixels inside the output and runs the
    /// epilogue on them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TransformOutput(float* m, nint stride, TileGeometry tg, TileOrigin tile, float* y, OutputEpilogue e)
    {
        if (tg.Size == 4)
        {
            TransformOutput44(m, stride, tg, tile, y, e);
            return;
        }
        if (tg.Alpha == 6)
        {
            TransformOutput6(m, stride, tg, tile, y, e);
            return;
        }
        var g = tg.G;
        var (n, p, q) = tile;
        bool secondRow = p + 1 < g.P, secondColumn = q + 1 < g.Q;
        float* y0 = y + ((nint)(n * g.P + p) * g.Q + q) * g.K;
        float* y1 = y0 + (nint)g.Q * g.K;
        int filter = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; filter + Vector512<float>.Count <= g.K; filter += Vector512<float>.Count)
            {
                float* at = m + filter;
                var (s00, s10) = OutputColumn512(at, stride, 0);
                var (s01, s11) = OutputColumn512(at, stride, 1);
                var (s02, s12) = OutputColumn512(at, stride, 2);
                var (s03, s13) = OutputColumn512(at, stride, 3);
                Vector512.Store(s00 + s01 + s02, y0 + filter);
                if (secondColumn) Vector512.Store(s01 - s02 - s03, y0 + g.K + filter);
                if (secondRow)
                {
                    Vector512.Store(s10 + s11 + s12, y1 + filter);
                    if (secondColumn) Vector512.Store(s11 - s12 - s13, y1 + g.K + filter);
                }
            }
        }
        for (; filter + Vector256<float>.Count <= g.K; filter += Vector256<float>.Count)
        {
            float* at = m + filter;
            // Aᵀ M: s0 = M0 + M1 + M2 and s1 = M1 − M2 − M3 (rows of M), column by column.
            Vector256<float> s00, s01, s02, s03, s10, s11, s12, s13;
            (s00, s10) = OutputColumn(at, stride, 0);
            (s01, s11) = OutputColumn(at, stride, 1);
            (s02, s12) = OutputColumn(at, stride, 2);
            (s03, s13) = OutputColumn(at, stride, 3);
            Vector256.Store(s00 + s01 + s02, y0 + filter);
            if (secondColumn) Vector256.Store(s01 - s02 - s03, y0 + g.K + filter);
            if (secondRow)
            {
                Vector256.Store(s10 + s11 + s12, y1 + filter);
                if (secondColumn) Vector256.Store(s11 - s12 - s13, y1 + g.K + filter);
            }
        }
        for (; filter < g.K; filter++)
        {
            float* at = m + filter;
            float s00 = at[0] + at[4 * stride] + at[8 * stride], s10 = at[4 * stride] - at[8 * stride] - at[12 * stride];
            float s01 = at[stride] + at[5 * stride] + at[9 * stride], s11 = at[5 * stride] - at[9 * stride] - at[13 * stride];
            float s02 = at[2 * stride] + at[6 * stride] + at[10 * stride], s12 = at[6 * stride] - at[10 * stride] - at[14 * stride];
            float s03 = at[3 * stride] + at[7 * stride] + at[11 * stride], s13 = at[7 * stride] - at[11 * stride] - at[15 * stride];
            y0[filter] = s00 + s01 + s02;
            if (secondColumn) y0[g.K + filter] = s01 - s02 - s03;
            if (secondRow)
            {
                y1[filter] = s10 + s11 + s12;
                if (secondColumn) y1[g.K + filter] = s11 - s12 - s13;
            }
        }
        int columns = secondColumn ? 2 : 1;
        e.ApplyHere(y0, columns, g.K);
        if (secondRow) e.ApplyHere(y1, columns, g.K);
    }

    /// <summary>Column <paramref name="j"/> of Aᵀ M, sixteen filters.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<float>, Vector512<float>) OutputColumn512(float* at, nint stride, int j)
    {
        var m0 = Vector512.Load(at + j * stride);
        var m1 = Vector512.Load(at + (4 + j) * stride);
        var m2 = Vector512.Load(at + (8 + j) * stride);
        var m3 = Vector512.Load(at + (12 + j) * stride);
        return (m0 + m1 + m2, m1 - m2 - m3);
    }

    /// <summary>Column <paramref name="j"/> of Aᵀ M: (M0j + M1j + M2j, M1j − M2j − M3j).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float>, Vector256<float>) OutputColumn(float* at, nint stride, int j)
    {
        var m0 = Vector256.Load(at + j * stride);
        var m1 = Vector256.Load(at + (4 + j) * stride);
        var m2 = Vector256.Load(at + (8 + j) * stride);
        var m3 = Vector256.Load(at + (12 + j) * stride);
        return (m0 + m1 + m2, m1 - m2 - m3);
    }

    /// <summary><see cref="TransformKernel"/> for <see cref="WeightPacking.Get"/>.</summary>
    private readonly struct KernelTransformPacker(float* w, int r, int size, int c, int k, long packedSize) : PackedWeights.IPacker
    {
        public void Pack(float* destination) => TransformKernel(w, r, size, c, k, destination, packedSize);
    }

    /// <summary>
    /// U_e = (G g Gᵀ)[e] for every channel and filter of an r × r kernel, written straight into the GEMM's packed B of
    /// [C, K] (<see cref="Gemm.PackWholeB"/>: blocks of KC channels, in each block panels of NR filters, the padding
    /// filters of the last panel zero), the α² positions one after another <paramref name="packedSize"/> floats apart.
    /// Eight filters at a time, the threads taking channels.
    /// </summary>
    private static void TransformKernel(float* w, int r, int size, int c, int k, float* packed, long packedSize)
    {
        nint plane = (nint)c * k;
        int parts = plane >= 1 << 14 ? Math.Min(KernelThreads.Available, c) : 1;
        KernelThreads.For(parts, new KernelTransformParts(w, r, size, c, k, packed, packedSize, parts));
    }

    /// <summary><see cref="TransformKernel"/>: part i transforms its range of the channels.</summary>
    private readonly struct KernelTransformParts(float* w, int r, int size, int c, int k, float* packed, long packedSize, int parts) : KernelThreads.IItems
    {
        public void Run(int part)
        {
            var (first, last) = KernelThreads.Range(c, parts, part);
            TransformChannels(w, r, size, c, k, first, last, packed, packedSize);
        }
    }

    /// <summary><see cref="TransformKernel"/> for channels [<paramref name="first"/>, <paramref name="last"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TransformChannels(float* w, int r, int size, int c, int k, int first, int last, float* packed, long packedSize)
    {
        int nr = GemmMicroKernel.NR, kc = Gemm.Blocks.KC, panels = (k + nr - 1) / nr, taps = r * r;
        nint plane = (nint)c * k;
        float* staged = stackalloc float[25 * 8];
        for (int channel = first; channel < last; channel++)
        {
            int blockStart = channel / kc * kc, depth = Math.Min(kc, c - blockStart);
            float* row = packed + (nint)blockStart * panels * nr + (nint)(channel - blockStart) * nr;
            float* weights = w + (nint)channel * k;
            for (int filter = 0; filter < panels * nr; filter += 8)
            {
                float* target = row + (nint)(filter / nr) * depth * nr + filter % nr;
                float* source = weights + filter;
                nint tapStride = plane;
                if (filter + 8 > k)
                {
                    // The last filters and the panel's padding: zero taps give zero transforms.
                    for (int tap = 0; tap < taps; tap++)
                        for (int lane = 0; lane < 8; lane++)
                            staged[tap * 8 + lane] = filter + lane < k ? weights[tap * plane + filter + lane] : 0f;
                    source = staged;
                    tapStride = 8;
                }
                if (r == 5) TransformTaps5(source, tapStride, target, packedSize);
                else if (size == 4) TransformTaps44(source, tapStride, target, packedSize);
                else TransformTaps(source, tapStride, target, packedSize);
            }
        }
    }

    /// <summary>
    /// The 16 transforms of eight filters' taps, tap (r, s) at taps + (3r + s)·tapStride, position e stored at
    /// target + e·positionStride.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TransformTaps(float* taps, nint tapStride, float* target, long positionStride)
    {
        var half = Vector256.Create(0.5f);
        var g00 = Vector256.Load(taps);
        var g01 = Vector256.Load(taps + tapStride);
        var g02 = Vector256.Load(taps + 2 * tapStride);
        var g10 = Vector256.Load(taps + 3 * tapStride);
        var g11 = Vector256.Load(taps + 4 * tapStride);
        var g12 = Vector256.Load(taps + 5 * tapStride);
        var g20 = Vector256.Load(taps + 6 * tapStride);
        var g21 = Vector256.Load(taps + 7 * tapStride);
        var g22 = Vector256.Load(taps + 8 * tapStride);
        // The rows of G g: g0, (g0 + g1 + g2)/2, (g0 − g1 + g2)/2, g2; each times Gᵀ.
        StoreKernelRow(target, positionStride, 0, g00, g01, g02);
        StoreKernelRow(target, positionStride, 1, half * (g00 + g10 + g20), half * (g01 + g11 + g21), half * (g02 + g12 + g22));
        StoreKernelRow(target, positionStride, 2, half * (g00 - g10 + g20), half * (g01 - g11 + g21), half * (g02 - g12 + g22));
        StoreKernelRow(target, positionStride, 3, g20, g21, g22);
    }

    /// <summary>Row <paramref name="row"/> of (G g) Gᵀ from that row of G g (t0, t1, t2): t0, (t0 + t1 + t2)/2, (t0 − t1 + t2)/2, t2.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreKernelRow(float* target, long positionStride, int row, Vector256<float> t0, Vector256<float> t1, Vector256<float> t2)
    {
        var half = Vector256.Create(0.5f);
        float* at = target + 4 * row * positionStride;
        Vector256.Store(t0, at);
        Vector256.Store(half * (t0 + t1 + t2), at + positionStride);
        Vector256.Store(half * (t0 - t1 + t2), at + 2 * positionStride);
        Vector256.Store(t2, at + 3 * positionStride);
    }
}
