using System.Runtime.Intrinsics.X86;
using ConvKit.Autograd;
using ConvKit.Kernels;
using ConvKit.Operations;
using ConvKit.Tensors;

namespace ConvKit.Tests.Kernels;

public class ConvolutionFastTests
{
    /// <summary>Forward, input gradient and kernel gradient of the fast kernels against <see cref="ConvolutionReference"/>.</summary>
    private static void Check(ConvGeometry g, bool withBias, int seed)
    {
        var input = KernelAssert.Random(g.InputSize, seed);
        var kernel = KernelAssert.Random(g.KernelSize, seed + 1);
        var bias = withBias ? KernelAssert.Random(g.K, seed + 2) : [];
        var gradOutput = KernelAssert.Random(g.OutputSize, seed + 3);
        float tolerance = 2e-6f * (g.R * g.S * g.ChannelsPerGroup + g.K + 8);

        var expected = new float[g.OutputSize];
        var actual = KernelAssert.Random(g.OutputSize, seed + 4);
        ConvolutionReference.Forward(input, kernel, bias, g, expected);
        ConvolutionFast.Forward(input, kernel, bias, g, actual);
        KernelAssert.Close(expected, actual, tolerance, $"forward {g}");

        var expectedInput = new float[g.InputSize];
        var actualInput = KernelAssert.Random(g.InputSize, seed + 5);
        ConvolutionReference.BackwardInput(gradOutput, kernel, g, expectedInput);
        ConvolutionFast.BackwardInput(gradOutput, kernel, g, actualInput);
        KernelAssert.Close(expectedInput, actualInput, tolerance, $"backward input {g}");

        var expectedKernel = new float[g.KernelSize];
        var actualKernel = KernelAssert.Random(g.KernelSize, seed + 6);
        ConvolutionReference.BackwardKernel(gradOutput, input, g, expectedKernel);
        ConvolutionFast.BackwardKernel(gradOutput, input, g, actualKernel);
        KernelAssert.Close(expectedKernel, actualKernel, 2e-6f * (g.N * g.P * g.Q + 8), $"backward kernel {g}");
    }

    public static TheoryData<int, int, int> Windows()
    {
        var data = new TheoryData<int, int, int>();
        foreach (int kernelSize in new[] { 1, 2, 3, 5 })
            foreach (int stride in new[] { 1, 2, 3 })
                foreach (int dilation in new[] { 1, 2 })
                    data.Add(kernelSize, stride, dilation);
        return data;
    }

    [Theory, MemberData(nameof(Windows))]
    public void EveryStrideDilationAndPaddingAgrees(int kernelSize, int stride, int dilation)
    {
        int seed = kernelSize * 100 + stride * 10 + dilation;
        foreach (var padding in new[] { Padding.Valid, Padding.Same, Padding.Causal })
            Check(ConvGeometry.Create(2, 7, 17, 3, 5, kernelSize, kernelSize, stride, stride, dilation, dilation, padding), withBias: true, seed++);
        // Explicit asymmetric pads, different along each axis, non-square window.
        Check(new ConvGeometry(1, 9, 8, 4, 17, kernelSize, Math.Max(1, kernelSize - 1), stride, 1, dilation, 1, 2, 0, 0, 1), withBias: false, seed++);
        Check(new ConvGeometry(2, 6, 11, 2, 3, 1, kernelSize, 1, stride, 1, dilation, 0, 1, 3, 2), withBias: true, seed++);
    }

    /// <summary>
    /// 1×1 convolutions with strides and more filters than the direct kernel takes (64), on AVX-512 one GEMM per output
    /// row on the input read in place and, for the input gradient, written in place: strides that differ along the axes, sizes whose last rows and columns no output reads (8 with
    /// stride 3), filters past one panel, batches; forward and both gradients against the reference, the input gradient
    /// over stale values.
    /// </summary>
    [Theory]
    [InlineData(2, 8, 36, 3, 65, 3, 3)]     // 12 pixels per output row
    [InlineData(3, 9, 27, 16, 100, 2, 2)]   // 14
    [InlineData(1, 17, 40, 7, 70, 2, 3)]    // 14
    [InlineData(2, 6, 26, 64, 128, 1, 2)]   // 13
    [InlineData(1, 1, 100, 5, 96, 1, 4)]    // 25
    [InlineData(4, 28, 56, 24, 80, 2, 2)]   // 28
    [InlineData(2, 9, 9, 8, 40, 3, 2)]      // few filters and short rows: direct forward, col2im
    public void StridedPointwiseConvolutionsAgree(int n, int h, int w, int c, int k, int strideH, int strideW) =>
        Check(ConvGeometry.Create(n, h, w, c, k, 1, 1, strideH, strideW, 1, 1, Padding.Valid), withBias: true, seed: n * h + w * c + k);

    public static TheoryData<int, int, Padding> Conv1DWindows()
    {
        var data = new TheoryData<int, int, Padding>();
        foreach (int stride in new[] { 1, 2, 3 })
            foreach (int dilation in new[] { 1, 2 })
                foreach (var padding in new[] { Padding.Valid, Padding.Same, Padding.Causal })
                    data.Add(stride, dilation, padding);
        return data;
    }

    /// <summary>
    /// 1-D convolutions as <see cref="Ops.Conv1D(Tensor, Tensor, Tensor?, int, Padding, int, int)"/>
    /// lays them out (one row of an image, a 1 × k kernel): lengths 1, 3, 7, 17 and 33, 1, 3 or 17 channels and 1, 5 or 16
    /// filters, kernels of 1, 2, 3 and 5 taps in turn, batches of two and three; forward and both gradients against the
    /// reference. Lengths the window does not fit (valid padding) have no output and are left out.
    /// </summary>
    [Theory, MemberData(nameof(Conv1DWindows))]
    public void Conv1DEveryStrideDilationAndPaddingAgrees(int stride, int dilation, Padding padding)
    {
        int[] kernelSizes = [1, 2, 3, 5];
        int seed = stride * 1000 + dilation * 100 + (int)padding * 10, checkedShapes = 0;
        foreach (int length in new[] { 1, 3, 7, 17, 33 })
            foreach (int channels in new[] { 1, 3, 17 })
                foreach (int filters in new[] { 1, 5, 16 })
                {
                    int kernelSize = kernelSizes[seed % kernelSizes.Length];
                    if (ConvArithmetic.OutputLength(padding, length, kernelSize, stride, dilation) <= 0) { seed++; continue; }
                    var g = Ops.Conv1DGeometry(new Shape(2 + seed % 2, length, channels), new Shape(kernelSize, channels, filters),
                        stride, padding, dilation, groups: 1);
                    Check(g, withBias: seed % 2 == 0, seed++);
                    checkedShapes++;
                }
        Assert.True(checkedShapes >= 30, $"only {checkedShapes} shapes fit");
    }

    /// <summary>The shapes of a CNN on small images: the C = 1 first layer (direct forward and kernel gradient on the
    /// width-padded input) and wider layers whose filter counts match the register block (K = 32, 64).</summary>
    [Theory]
    [InlineData(1, 32, 3, 1)]
    [InlineData(1, 32, 5, 1)]
    [InlineData(1, 64, 3, 2)]
    [InlineData(1, 7, 3, 1)]
    [InlineData(2, 32, 5, 1)]
    [InlineData(32, 32, 3, 1)]
    [InlineData(32, 64, 5, 1)]
    [InlineData(64, 64, 3, 2)]
    public void NetworkLayerShapesAgree(int channels, int filters, int kernelSize, int stride)
    {
        foreach (var padding in new[] { Padding.Same, Padding.Valid })
            Check(ConvGeometry.Create(3, 11, 13, channels, filters, kernelSize, kernelSize, stride, stride, 1, 1, padding),
                withBias: true, seed: channels + filters + kernelSize + stride);
    }

    /// <summary>
    /// Rows long enough for several blocks whose windows lie inside the input row, which the direct kernels run in one
    /// call (six-pixel blocks per panel of 16 filters with AVX2, twelve-pixel ones for exactly 16 filters with AVX-512):
    /// the seed's 5×5×3 → 16 (valid, Q = 36), same padding (an edge block at each end, a run between, four pixels left
    /// after it at Q = 64), stride 2, two and three panels, and rows whose run stops short of the last whole block.
    /// </summary>
    [Theory]
    [InlineData(2, 9, 40, 3, 16, 5, 1, Padding.Valid)]
    [InlineData(1, 5, 64, 3, 16, 5, 1, Padding.Same)]
    [InlineData(1, 7, 33, 4, 32, 3, 1, Padding.Same)]
    [InlineData(2, 6, 61, 3, 16, 3, 2, Padding.Same)]
    [InlineData(1, 5, 45, 2, 48, 5, 1, Padding.Same)]
    public void RowsOfWholeBlocksAgree(int n, int h, int w, int c, int k, int size, int stride, Padding padding) =>
        Check(ConvGeometry.Create(n, h, w, c, k, size, size, stride, stride, 1, 1, padding), withBias: true, seed: w + k);

    /// <summary>
    /// Kernels deeper than the GEMM's KC on rows of fourteen- or twelve-pixel blocks: on AVX-512 these run direct (K = 64
    /// in whole panels, K = 40 through the scratch tile), the forward and, as a forward of the flipped kernel, the input
    /// gradient; on other machines through im2col. Q = 30 runs as 12 + 12 + 6, Q = 24 as 12 + 12, Q = 35 as 12 + 12 and
    /// a last 12 overlapping, Q = 28 as 14 + 14, Q = 40 as 14 + 14 and a last 14 overlapping, Q = 44 and 45 as 14 × 3 + 6.
    /// </summary>
    [Theory]
    [InlineData(30, 64, 64)]
    [InlineData(24, 24, 40)]
    [InlineData(35, 64, 64)]
    [InlineData(28, 24, 40)]
    [InlineData(40, 64, 64)]
    [InlineData(44, 64, 64)]
    [InlineData(45, 24, 40)]
    public void DeepKernelsOnWidePixelBlocksAgree(int width, int channels, int filters)
    {
        var g = ConvGeometry.Create(2, 7, width, channels, filters, 3, 3, 1, 1, 1, 1, Padding.Same);
        Assert.Equal(Avx512F.IsSupported, ConvolutionFast.WideBlocksDirectPays(g));
        Assert.Equal(width is 24 or 30 or 35 ? 12 : 14, ConvolutionFast.WideBlockPixels(width));
        Check(g, withBias: true, seed: width + filters);
    }

    /// <summary>
    /// Layers with more filters than one register block: on AVX-512 these run direct in runs of seven pixels, two at a
    /// time (elsewhere through im2col). 7×7 maps pair two rows, and their odd last row runs twice; Q = 13 and 21 overlap
    /// their last run with the one before; K = 80 and 65 end in a part-filled panel; stride 2, a 1×1 stride-2 shortcut,
    /// 5×5 padding, dilation along H, batches of up to three, and 256 or 512 channels (whose copy of the input spaces
    /// its pixels 16 floats further apart); 33 to 64 filters where the direct row kernel does not apply (a 7×7 map with
    /// a deep kernel, or a kernel too large for the 14-pixel blocks). Forward and both gradients against the reference.
    /// </summary>
    [Theory]
    [InlineData(1, 7, 7, 64, 128, 3, 3, 1, 1, Padding.Same)]
    [InlineData(2, 14, 14, 32, 96, 3, 3, 1, 1, Padding.Same)]
    [InlineData(1, 14, 14, 40, 80, 3, 3, 2, 1, Padding.Same)]
    [InlineData(3, 9, 15, 32, 72, 3, 3, 1, 1, Padding.Valid)]
    [InlineData(2, 8, 21, 24, 65, 5, 5, 1, 1, Padding.Same)]
    [InlineData(1, 11, 14, 32, 96, 3, 3, 1, 2, Padding.Same)]
    [InlineData(1, 28, 28, 256, 128, 1, 1, 2, 1, Padding.Valid)]
    [InlineData(2, 9, 7, 48, 70, 3, 2, 1, 1, Padding.Causal)]
    [InlineData(1, 7, 7, 256, 96, 3, 3, 1, 1, Padding.Same)]
    [InlineData(1, 14, 14, 256, 80, 3, 3, 2, 1, Padding.Same)]
    [InlineData(1, 7, 9, 512, 72, 1, 3, 1, 1, Padding.Valid)]
    [InlineData(2, 7, 7, 128, 64, 3, 3, 1, 1, Padding.Same)]
    [InlineData(1, 14, 14, 256, 40, 3, 3, 1, 1, Padding.Same)]
    [InlineData(3, 7, 7, 64, 33, 3, 3, 1, 1, Padding.Same)]
    public void ManyFilterLayersAgreeInRunsOfSeven(int n, int h, int w, int c, int k, int r, int s, int stride, int dilationH, Padding padding)
    {
        var g = ConvGeometry.Create(n, h, w, c, k, r, s, stride, stride, dilationH, 1, padding);
        Assert.Equal(Avx512F.IsSupported, ConvolutionFast.RunsDirectPays(g));
        Check(g, withBias: true, seed: n + h + w + c + k);
    }

    public static TheoryData<int, int, int, int> DepthwiseWindows()
    {
        var data = new TheoryData<int, int, int, int>();
        foreach (int kernelSize in new[] { 1, 3, 5 })
            foreach (int stride in new[] { 1, 2 })
                foreach (int dilation in new[] { 1, 2 })
                    foreach (int multiplier in new[] { 1, 3 })
                        data.Add(kernelSize, stride, dilation, multiplier);
        return data;
    }

    /// <summary>
    /// Depthwise convolutions (a group per input channel, Keras's depth multiplier 1 or 3) on every padding mode, with
    /// channel counts that fill vectors and leave a scalar rest: forward and both gradients against the reference.
    /// </summary>
    [Theory, MemberData(nameof(DepthwiseWindows))]
    public void DepthwiseConvolutionsAgree(int kernelSize, int stride, int dilation, int multiplier)
    {
        int seed = kernelSize * 1000 + stride * 100 + dilation * 10 + multiplier;
        foreach (int channels in new[] { 3, 16, 21 })
            foreach (var padding in new[] { Padding.Valid, Padding.Same, Padding.Causal })
            {
                var g = ConvGeometry.Create(2, 9, 11, channels, channels * multiplier, kernelSize, kernelSize, stride, stride, dilation, dilation, padding, groups: channels);
                Assert.True(DepthwiseConvolution.Applies(g));
                Check(g, withBias: true, seed++);
            }
        // Asymmetric explicit pads and a non-square window.
        Check(new ConvGeometry(1, 8, 10, 12, 12 * multiplier, kernelSize, kernelSize + 1, stride, 1, dilation, 1, 2, 0, 0, 1, 12), withBias: false, seed);
    }

    /// <summary>A depthwise window of more than 1,024 taps keeps the grouped GEMM path, whose buffers are not on the stack.</summary>
    [Fact]
    public void HugeDepthwiseWindowsKeepTheGroupedPath()
    {
        var g = ConvGeometry.Create(1, 40, 40, 2, 2, 33, 33, 1, 1, 1, 1, Padding.Same, groups: 2);
        Assert.False(DepthwiseConvolution.Applies(g));
        Check(g, withBias: false, seed: 5);
    }

    /// <summary>The inference epilogue (Σ·scale + bias, + residual, ReLU) on the depthwise forward.</summary>
    [Fact]
    public void TheInferenceEpilogueAgreesOnDepthwiseConvolutions()
    {
        var g = ConvGeometry.Create(2, 10, 10, 24, 48, 3, 3, 1, 1, 1, 1, Padding.Same, groups: 24);
        var input = KernelAssert.Random(g.InputSize, 1);
        var kernel = KernelAssert.Random(g.KernelSize, 2);
        var bias = KernelAssert.Random(g.K, 3);
        var scale = KernelAssert.Random(g.K, 4);
        var residual = KernelAssert.Random(g.OutputSize, 5);
        var expected = new float[g.OutputSize];
        ConvolutionReference.Forward(input, kernel, [], g, expected);
        for (int i = 0; i < expected.Length; i++) expected[i] = Math.Max(0f, expected[i] * scale[i % g.K] + bias[i % g.K] + residual[i]);
        var actual = KernelAssert.Random(g.OutputSize, 6);
        ConvolutionFast.Forward(input, kernel, bias, g, actual, relu: true, scale, residual);
        KernelAssert.Close(expected, actual, 1e-5f, $"depthwise forward {g}");
        Assert.Contains(0f, actual);
        Assert.Contains(actual, v => v > 0f);
    }

    /// <summary>Rows that runs of seven would cover with much overlap (Q = 8–12), at most one panel of filters (layers of up to two the direct row kernel takes first), groups, dilation along W or a shallow kernel keep the other paths.</summary>
    [Fact]
    public void RunsOfSevenOnlyWhereTheyCoverRowsWell()
    {
        Assert.False(ConvolutionFast.RunsDirectPays(ConvGeometry.Create(1, 12, 12, 64, 128, 3, 3, 1, 1, 1, 1, Padding.Same)));
        Assert.False(ConvolutionFast.RunsDirectPays(ConvGeometry.Create(1, 6, 6, 64, 128, 3, 3, 1, 1, 1, 1, Padding.Same)));
        Assert.False(ConvolutionFast.RunsDirectPays(ConvGeometry.Create(1, 14, 14, 64, 32, 3, 3, 1, 1, 1, 1, Padding.Same)));
        Assert.False(ConvolutionFast.RunsDirectPays(ConvGeometry.Create(1, 14, 14, 64, 128, 3, 3, 1, 1, 1, 2, Padding.Same)));
        Assert.False(ConvolutionFast.RunsDirectPays(new ConvGeometry(1, 14, 14, 64, 128, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2)));
        Assert.False(ConvolutionFast.RunsDirectPays(ConvGeometry.Create(1, 56, 56, 64, 128, 1, 1, 2, 2, 1, 1, Padding.Valid)));   // depth 64
    }

    /// <summary>
    /// The inference epilogue (Σ·scale + bias, + residual, ReLU) on every forward path: 1×1 as one GEMM and with strides as a GEMM per row, dot products
    /// (two filters), direct (rows in place through the six-pixel kernel; edge windows, fourteen-pixel blocks; runs of seven
    /// pixels for many filters), im2col tiles, and im2col of the whole batch; against the reference convolution with the same epilogue applied afterwards.
    /// </summary>
    [Theory]
    [InlineData(2, 9, 9, 8, 16, 1, 1, Padding.Valid)]       // 1×1
    [InlineData(2, 9, 11, 3, 2, 3, 1, Padding.Same)]        // dot products
    [InlineData(2, 10, 12, 5, 24, 3, 1, Padding.Valid)]     // direct, rows read in place
    [InlineData(1, 14, 14, 64, 64, 3, 1, Padding.Same)]     // direct, edge windows, 14-pixel blocks
    [InlineData(3, 12, 12, 32, 96, 3, 1, Padding.Same)]     // im2col tiles
    [InlineData(1, 7, 7, 96, 128, 3, 2, Padding.Same)]      // im2col of the whole batch
    [InlineData(2, 9, 27, 8, 72, 1, 2, Padding.Valid)]      // 1×1 with strides, a GEMM per output row (on AVX-512)
    [InlineData(2, 7, 7, 64, 96, 3, 1, Padding.Same)]       // direct, runs of seven (on AVX-512)
    public void TheInferenceEpilogueAgreesOnEveryPath(int n, int h, int w, int c, int k, int r, int stride, Padding padding)
    {
        var g = ConvGeometry.Create(n, h, w, c, k, r, r, stride, stride, 1, 1, padding);
        var input = KernelAssert.Random(g.InputSize, k);
        var kernel = KernelAssert.Random(g.KernelSize, k + 1);
        var bias = KernelAssert.Random(g.K, k + 2);
        var scale = KernelAssert.Random(g.K, k + 3);
        var residual = KernelAssert.Random(g.OutputSize, k + 4);
        var expected = new float[g.OutputSize];
        ConvolutionReference.Forward(input, kernel, [], g, expected);
        for (int i = 0; i < expected.Length; i++) expected[i] = Math.Max(0f, expected[i] * scale[i % g.K] + bias[i % g.K] + residual[i]);
        var actual = KernelAssert.Random(g.OutputSize, k + 5);
        ConvolutionFast.Forward(input, kernel, bias, g, actual, relu: true, scale, residual);
        KernelAssert.Close(expected, actual, 2e-6f * (g.R * g.S * g.C + g.K + 8), $"forward {g}");
        Assert.Contains(0f, actual);
        Assert.Contains(actual, v => v > 0f);
    }

    /// <summary>
    /// A batch-1 28×28×128 → 128 layer makes five im2col tiles of 6 rows; on two threads it takes ten of 3 rows (84 pixels,
    /// whole blocks of 12 on AVX-512, of 6 elsewhere), five per thread. Shapes with tiles to spare, or already even, keep
    /// their rows; so does a batch of one whose rows cannot fill blocks. The ten tiles give the reference's result.
    /// </summary>
    [Fact]
    public void FewTilesAreCutSoThatTheThreadsShareThemEvenly()
    {
        var g = ConvGeometry.Create(1, 28, 28, 128, 128, 3, 3, 1, 1, 1, 1, Padding.Same);
        Assert.Equal(3, ConvolutionFast.BalancedRowsPerTile(g, 6, threads: 2));
        Assert.Equal(6, ConvolutionFast.BalancedRowsPerTile(g, 6, threads: 1));
        Assert.Equal(7, ConvolutionFast.BalancedRowsPerTile(g, 7, threads: 2));   // four tiles already
        Assert.Equal(6, ConvolutionFast.BalancedRowsPerTile(g, 6, threads: 3));   // no count of tiles fits three threads and whole blocks
        var batch = ConvGeometry.Create(4, 28, 28, 128, 128, 3, 3, 1, 1, 1, 1, Padding.Same);
        Assert.Equal(6, ConvolutionFast.BalancedRowsPerTile(batch, 6, threads: 2));
        var odd = ConvGeometry.Create(1, 29, 29, 16, 16, 3, 3, 1, 1, 1, 1, Padding.Same);
        Assert.Equal(6, ConvolutionFast.BalancedRowsPerTile(odd, 6, threads: 2));
        Check(g, withBias: true, seed: 28);
    }

    /// <summary>
    /// Without AVX-512, im2col tiles of 14-pixel rows are cut to whole six-row blocks (3 rows, not 4; 6, not 8), never
    /// below half; with AVX-512 they keep their rows. The tutorial CNN's 5×5 input-gradient shape, forward and both
    /// gradients, still gives the reference's result.
    /// </summary>
    [Fact]
    public void ImToColTilesHoldWholeBlocks()
    {
        var g = ConvGeometry.Create(3, 14, 14, 64, 32, 5, 5, 1, 1, 1, 1, Padding.Same);
        bool avx512 = GemmMicroKernel.Selected == GemmMicroKernel.Isa.Avx512;
        Assert.Equal(avx512 ? 4 : 3, ConvolutionFast.WholeBlockRows(g, 4));
        Assert.Equal(avx512 ? 8 : 6, ConvolutionFast.WholeBlockRows(g, 8));
        Assert.Equal(3, ConvolutionFast.WholeBlockRows(g, 3));
        var odd = ConvGeometry.Create(1, 13, 13, 8, 8, 3, 3, 1, 1, 1, 1, Padding.Same);   // 13 pixels a row: no whole block below 6 rows
        Assert.Equal(5, ConvolutionFast.WholeBlockRows(odd, 5));
        Check(g, withBias: true, seed: 14);
    }

    /// <summary>
    /// Padding only the edge pixels' windows gives the bits of padding the whole input: the same convolution on its input
    /// padded along W beforehand, bit for bit, and close to the reference. Rows of 56 (fourteen-pixel blocks, both edges),
    /// stride 2 (Q = 28), K = 40 through the scratch tile, one block touching both edges (Q = 14), a six-pixel rest at the
    /// right edge (Q = 30, twelve-pixel blocks), padding wider than the kernel's reach (windows wholly in the padding),
    /// and dilation along H.
    /// </summary>
    [Theory]
    [InlineData(56, 64, 64, 1, 1, 1)]
    [InlineData(56, 64, 64, 2, 1, 1)]
    [InlineData(28, 48, 40, 1, 1, 1)]
    [InlineData(14, 48, 64, 1, 1, 1)]
    [InlineData(30, 64, 64, 1, 1, 1)]
    [InlineData(20, 64, 64, 1, 4, 1)]
    [InlineData(28, 64, 64, 1, 1, 2)]
    public void EdgeWindowsGiveTheBitsOfAPaddedInput(int width, int channels, int filters, int stride, int pad, int dilationH)
    {
        var g = new ConvGeometry(2, 6, width, channels, filters, 3, 3, stride, stride, dilationH, 1, dilationH, pad, dilationH, pad);
        var padded = new ConvGeometry(2, 6, width + 2 * pad, channels, filters, 3, 3, stride, stride, dilationH, 1, dilationH, 0, dilationH, 0);
        Assert.Equal(g.Q, padded.Q);
        var input = KernelAssert.Random(g.InputSize, width + pad);
        var kernel = KernelAssert.Random(g.KernelSize, filters);
        var bias = KernelAssert.Random(g.K, 3);
        var paddedInput = new float[padded.InputSize];
        for (int row = 0; row < g.N * g.H; row++)
            input.AsSpan(row * g.W * g.C, g.W * g.C).CopyTo(paddedInput.AsSpan((row * padded.W + pad) * g.C));
        var expected = new float[g.OutputSize];
        var actual = new float[g.OutputSize];
        ConvolutionFast.Forward(paddedInput, kernel, bias, padded, expected);
        ConvolutionFast.Forward(input, kernel, bias, g, actual);
        if (Avx512F.IsSupported) KernelAssert.Exact(expected, actual, $"edge windows {g}");
        else KernelAssert.Close(expected, actual, 2e-6f * (9 * channels + filters + 8), $"edge windows {g}");
        var reference = new float[g.OutputSize];
        ConvolutionReference.Forward(input, kernel, bias, g, reference);
        KernelAssert.Close(reference, actual, 2e-6f * (9 * channels + filters + 8), $"edge windows against the reference {g}");
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(7, 3)]
    [InlineData(1000, 32)]
    [InlineData(129, 70)]
    public void BiasGradientIsTheReferenceBitForBit(int rows, int filters)
    {
        var gradOutput = KernelAssert.Random(rows * filters, rows + filters);
        var expected = new float[filters];
        var actual = KernelAssert.Random(filters, 3);
        ConvolutionReference.BackwardBias(gradOutput, filters, expected);
        Epilogue.BiasGradient(gradOutput, filters, actual);
        KernelAssert.Exact(expected, actual, $"bias gradient rows={rows} filters={filters}");
    }

    /// <summary>
    /// The ReLU mask and the bias gradient in one pass, split by rows across threads when large: the mask exactly the
    /// scalar rule, the bias gradient the same bits as <see cref="Epilogue.BiasGradient"/> of the masked gradient
    /// (the same parts) and close to the reference's single row-order sum.
    /// </summary>
    [Theory]
    [InlineData(7, 3)]
    [InlineData(100 * 28 * 28, 32)]
    [InlineData(100, 1024)]
    [InlineData(70_001, 5)]
    public void ReluBackwardMasksAndSumsTheBiasGradientInOnePass(int rows, int filters)
    {
        var y = KernelAssert.Random(rows * filters, 70);
        var dy = KernelAssert.Random(rows * filters, 71);
        var dz = KernelAssert.Random(rows * filters, 72);
        var gradBias = KernelAssert.Random(filters, 73);
        Epilogue.ReluBackward(y, dy, dz, filters, gradBias);

        var expectedMask = new float[y.Length];
        for (int i = 0; i < y.Length; i++) expectedMask[i] = y[i] > 0 ? dy[i] : 0f;
        KernelAssert.Exact(expectedMask, dz, "ReLU mask");
        var byParts = new float[filters];
        Epilogue.BiasGradient(expectedMask, filters, byParts);
        // With CONVKIT_KERNELS=reference the pass sums in the reference's order instead, checked just below.
        if (!KernelOptions.UseReference) KernelAssert.Exact(byParts, gradBias, "bias gradient from the mask's pass");
        var reference = new float[filters];
        ConvolutionReference.BackwardBias(expectedMask, filters, reference);
        KernelAssert.Close(reference, gradBias, 1e-6f * rows, "bias gradient against the reference");
    }

    [Fact]
    public void OddShapesAgree()
    {
        int[] sizes = [1, 3, 7, 17, 33];
        var random = new Random(11);
        for (int i = 0; i < 60; i++)
        {
            int n = random.Next(1, 4), h = sizes[random.Next(sizes.Length)], w = sizes[random.Next(sizes.Length)];
            int groups = random.Next(1, 4), c = groups * random.Next(1, 4), k = groups * random.Next(1, 7);
            int r = random.Next(1, 5), s = random.Next(1, 5), sh = random.Next(1, 4), sw = random.Next(1, 4);
            int dh = random.Next(1, 3), dw = random.Next(1, 3);
            var padding = (Padding)random.Next(3);
            var g = ConvGeometry.Create(n, h, w, c, k, r, s, sh, sw, dh, dw, padding, groups);
            Check(g, withBias: i % 2 == 0, seed: 1000 + i);
        }
    }

    [Fact]
    public void GroupsAndPointwiseAgree()
    {
        Check(ConvGeometry.Create(2, 5, 6, 6, 9, 3, 3, 1, 1, 1, 1, Padding.Same, groups: 3), withBias: true, seed: 1);
        Check(ConvGeometry.Create(2, 5, 6, 8, 8, 3, 3, 2, 1, 1, 1, Padding.Valid, groups: 8), withBias: false, seed: 2);  // depthwise
        Check(ConvGeometry.Create(3, 5, 7, 8, 12, 1, 1, 1, 1, 1, 1, Padding.Valid), withBias: true, seed: 3);            // pointwise: plain GEMM
        Check(ConvGeometry.Create(2, 5, 7, 6, 4, 1, 1, 1, 1, 1, 1, Padding.Valid, groups: 2), withBias: false, seed: 4);  // grouped pointwise
        Check(ConvGeometry.Create(1, 9, 9, 3, 4, 1, 1, 2, 2, 1, 1, Padding.Valid), withBias: false, seed: 5);            // strided 1×1: im2col
    }

    [Fact]
    public void DirectRowsAgree()
    {
        // No padding or dilation along W: the forward reads input rows in place; pads along H skip kernel rows.
        Check(new ConvGeometry(2, 7, 19, 3, 20, 3, 3, 2, 1, 2, 1, 2, 0, 1, 0), withBias: true, seed: 21);
        Check(new ConvGeometry(1, 12, 40, 5, 32, 5, 4, 1, 3, 1, 1, 0, 0, 4, 0), withBias: false, seed: 22);
        Check(ConvGeometry.Create(1, 30, 61, 3, 1, 5, 5, 1, 1, 1, 1, Padding.Valid), withBias: true, seed: 23);   // one filter: dot products
        Check(new ConvGeometry(2, 9, 31, 2, 3, 4, 3, 2, 2, 2, 1, 1, 0, 2, 0), withBias: true, seed: 24);         // three filters, strided
        Check(new ConvGeometry(1, 6, 20, 8, 4, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0), withBias: false, seed: 25);        // runs of exactly 16
        Check(ConvGeometry.Create(1, 9, 40, 3, 16, 5, 5, 1, 1, 1, 1, Padding.Valid), withBias: true, seed: 26);   // 16 filters: 12-pixel AVX-512 tiles
        Check(new ConvGeometry(2, 8, 61, 3, 10, 3, 5, 1, 2, 1, 1, 1, 0, 1, 0), withBias: false, seed: 27);       // 10 filters: 12-pixel tiles, then 6
    }

    [Fact]
    public void SingleChannelKernelGradientAgrees()
    {
        // One input channel: the kernel gradient runs blocks of output rows, one piece of the shared dimension per row.
        Check(ConvGeometry.Create(3, 28, 28, 1, 32, 5, 5, 1, 1, 1, 1, Padding.Same), withBias: true, seed: 60);    // B read as it lies (K = NR with AVX-512)
        Check(ConvGeometry.Create(2, 20, 21, 1, 16, 3, 3, 1, 1, 1, 1, Padding.Same), withBias: true, seed: 65);    // the same with AVX2 (NR = 16)
        Check(ConvGeometry.Create(2, 17, 33, 1, 20, 3, 7, 2, 1, 2, 1, Padding.Same), withBias: false, seed: 61);   // packed B, 7 > six rows of A
        Check(ConvGeometry.Create(2, 9, 12, 1, 70, 4, 3, 1, 1, 1, 1, Padding.Valid), withBias: false, seed: 62);   // three panels of B
        Check(ConvGeometry.Create(1, 5, 300, 1, 3, 2, 2, 3, 1, 1, 1, Padding.Same), withBias: true, seed: 63);     // stride 3 along H
        Check(ConvGeometry.Create(1, 70, 300, 1, 3, 2, 2, 1, 1, 1, 1, Padding.Valid), withBias: true, seed: 64);   // several blocks per image
    }

    /// <summary>
    /// The kernel gradient read from the input in place, a block of output rows per micro-kernel call: receptive-field runs
    /// (S·C) that fill whole blocks of A's rows or end in a part of one (with AVX-512 a rest of seven to eleven runs as six
    /// and the rest); K equal to NR (the output gradient read as it lies) or not (packed, a part-filled last panel); strides
    /// along W (the column step) and H, dilation along H, padding rows skipped; blocks that reach across images (Q = 2) and
    /// rows wider than a block (Q = 200).
    /// </summary>
    [Theory]
    [InlineData(2, 9, 14, 32, 64, 5, 5, 1, 1, 1, Padding.Same)]
    [InlineData(3, 5, 7, 7, 32, 3, 3, 1, 1, 1, Padding.Same)]
    [InlineData(2, 8, 9, 4, 16, 3, 3, 2, 2, 1, Padding.Same)]
    [InlineData(1, 7, 30, 3, 70, 7, 7, 2, 3, 1, Padding.Valid)]
    [InlineData(2, 11, 8, 5, 10, 3, 2, 1, 1, 2, Padding.Same)]
    [InlineData(40, 3, 3, 2, 8, 2, 2, 1, 1, 1, Padding.Valid)]
    [InlineData(1, 2, 200, 3, 5, 2, 5, 1, 1, 1, Padding.Same)]
    [InlineData(3, 1, 40, 6, 12, 1, 5, 1, 2, 1, Padding.Causal)]
    public void KernelGradientFromBlocksOfRowsAgrees(int n, int h, int w, int c, int k, int r, int s, int strideH, int strideW, int dilationH, Padding padding)
    {
        Check(ConvGeometry.Create(n, h, w, c, k, r, s, strideH, strideW, dilationH, 1, padding), withBias: true, seed: n + h + w + c + k + r);
    }

    /// <summary>
    /// Maps of fewer than 96 output pixels put several whole images in one im2col tile: 2×2 maps 24 images (96 pixels),
    /// 4×4 ones 6, 3×3 ones 11, yet at least two tiles per thread; 10×10 maps and grouped convolutions keep one image per
    /// tile. The tiles (an uneven last one among them) give the reference's forward and gradients, and a flipped kernel's
    /// input gradient runs through them too.
    /// </summary>
    [Fact]
    public void SmallMapsPutSeveralImagesInATile()
    {
        Assert.Equal(24, ConvolutionFast.ImagesPerTile(ConvGeometry.Create(128, 2, 2, 512, 512, 3, 3, 1, 1, 1, 1, Padding.Same), threads: 2));
        Assert.Equal(6, ConvolutionFast.ImagesPerTile(ConvGeometry.Create(128, 4, 4, 512, 512, 3, 3, 1, 1, 1, 1, Padding.Same), threads: 2));
        Assert.Equal(11, ConvolutionFast.ImagesPerTile(ConvGeometry.Create(128, 3, 3, 256, 256, 3, 3, 1, 1, 1, 1, Padding.Same), threads: 2));
        Assert.Equal(4, ConvolutionFast.ImagesPerTile(ConvGeometry.Create(16, 2, 2, 512, 512, 3, 3, 1, 1, 1, 1, Padding.Same), threads: 2));
        Assert.Equal(8, ConvolutionFast.ImagesPerTile(ConvGeometry.Create(16, 2, 2, 512, 512, 3, 3, 1, 1, 1, 1, Padding.Same), threads: 1));
        Assert.Equal(1, ConvolutionFast.ImagesPerTile(ConvGeometry.Create(3, 2, 2, 512, 512, 3, 3, 1, 1, 1, 1, Padding.Same), threads: 2));
        Assert.Equal(1, ConvolutionFast.ImagesPerTile(ConvGeometry.Create(128, 10, 10, 64, 64, 3, 3, 1, 1, 1, 1, Padding.Same), threads: 2));
        Assert.Equal(1, ConvolutionFast.ImagesPerTile(ConvGeometry.Create(128, 2, 2, 64, 64, 3, 3, 1, 1, 1, 1, Padding.Same, groups: 2), threads: 2));
        // Fewer than 16 channels or filters (or strides) keep these off the Winograd route, both ways round.
        ConvGeometry[] shapes =
        [
            ConvGeometry.Create(13, 3, 3, 12, 36, 3, 3, 1, 1, 1, 1, Padding.Same),
            ConvGeometry.Create(18, 2, 2, 12, 40, 3, 3, 1, 1, 1, 1, Padding.Same),
            ConvGeometry.Create(20, 6, 6, 8, 16, 5, 5, 1, 1, 1, 1, Padding.Valid),
            ConvGeometry.Create(16, 4, 4, 12, 20, 3, 3, 2, 2, 1, 1, Padding.Same),
        ];
        foreach (var g in shapes)
        {
            Assert.False(WinogradConvolution.Applies(g));
            Assert.True(ConvolutionFast.ImagesPerTile(g, threads: 2) > 1, $"{g}");
            Check(g, withBias: g.N % 2 == 0, seed: g.N + g.C);
        }
    }

    /// <summary>
    /// Each of twelve 3×3 images (48 → 48 channels: too few pixels for Winograd) has the same bits alone, where the
    /// whole-batch GEMM takes it, as in a tile of three images.
    /// </summary>
    [Fact]
    public void AnImageGetsTheSameBitsAloneAndInATileOfImages()
    {
        var batch = ConvGeometry.Create(12, 3, 3, 48, 48, 3, 3, 1, 1, 1, 1, Padding.Same);
        Assert.False(WinogradConvolution.Applies(batch));
        var alone = batch with { N = 1 };
        var input = KernelAssert.Random(batch.InputSize, 50);
        var kernel = KernelAssert.Random(batch.KernelSize, 51);
        var fromBatch = new float[batch.OutputSize];
        ConvolutionKernels.Forward(input, kernel, default, batch, fromBatch);
        for (int n = 0; n < batch.N; n++)
        {
            var fromAlone = new float[alone.OutputSize];
            ConvolutionKernels.Forward(input.AsSpan(n * alone.InputSize, alone.InputSize), kernel, default, alone, fromAlone);
            Assert.Equal(fromAlone, fromBatch.AsSpan(n * alone.OutputSize, alone.OutputSize).ToArray());
        }
    }

    /// <summary>
    /// One image alone takes the whole-batch GEMM, eight together take im2col tiles: the first image's output must have the
    /// same bits either way, so a prediction does not depend on the batch it came in.
    /// </summary>
    [Fact]
    public void AnImageGetsTheSameBitsAloneAndInABatch()
    {
        var batch = ConvGeometry.Create(8, 8, 8, 64, 64, 3, 3, 1, 1, 1, 1, Padding.Same);
        var alone = batch with { N = 1 };
        var input = KernelAssert.Random(batch.InputSize, 40);
        var kernel = KernelAssert.Random(batch.KernelSize, 41);
        var fromBatch = new float[batch.OutputSize];
        var fromAlone = new float[alone.OutputSize];
        ConvolutionKernels.Forward(input, kernel, default, batch, fromBatch);
        ConvolutionKernels.Forward(input.AsSpan(0, alone.InputSize), kernel, default, alone, fromAlone);
        Assert.Equal(fromAlone, fromBatch.AsSpan(0, alone.OutputSize).ToArray());
    }

    public static TheoryData<string, int, int, int, int, int, int, int, bool> FusedReluPaths => new()
    {
        // path, N, H, W, C, K, kernel, pad (0 valid, 1 same), bias
        { "1×1 GEMM", 2, 5, 7, 8, 12, 1, 0, true },
        { "1×1 GEMM, no bias", 2, 5, 7, 8, 12, 1, 0, false },
        { "1×1 GEMM, epilogue on two threads", 2, 64, 64, 8, 64, 1, 0, true },
        { "dot products", 1, 12, 30, 3, 2, 5, 0, true },
        { "direct, 16 filters", 1, 9, 40, 3, 16, 5, 0, true },
        { "direct, 20 filters", 2, 7, 19, 3, 20, 3, 0, false },
        { "width padded", 2, 9, 17, 3, 8, 3, 1, true },
        { "whole batch", 1, 8, 8, 64, 64, 3, 1, true },
        { "tiles", 8, 8, 8, 64, 64, 3, 1, false },
    };

    /// <summary>
    /// ReLU in the epilogue gives exactly max(convolution, 0) on every forward path, fast and reference: the same bits
    /// as the convolution followed by a ReLU op.
    /// </summary>
    [Theory, MemberData(nameof(FusedReluPaths))]
    public void FusedReluIsTheConvolutionThenReluBitForBit(string path, int n, int h, int w, int c, int k, int size, int pad, bool withBias)
    {
        var g = ConvGeometry.Create(n, h, w, c, k, size, size, 1, 1, 1, 1, pad == 1 ? Padding.Same : Padding.Valid);
        var input = KernelAssert.Random(g.InputSize, 50);
        var kernel = KernelAssert.Random(g.KernelSize, 51);
        var bias = withBias ? KernelAssert.Random(g.K, 52) : [];
        var expected = new float[g.OutputSize];
        var fused = KernelAssert.Random(g.OutputSize, 53);
        ConvolutionFast.Forward(input, kernel, bias, g, expected);
        TensorPrimitives.Max(expected, 0f, expected);
        ConvolutionFast.Forward(input, kernel, bias, g, fused, relu: true);
        KernelAssert.Exact(expected, fused, $"fused ReLU, {path}");
        Assert.Contains(0f, fused);
        Assert.Contains(fused, v => v > 0);

        var reference = new float[g.OutputSize];
        ConvolutionReference.Forward(input, kernel, bias, g, reference);
        TensorPrimitives.Max(reference, 0f, reference);
        KernelAssert.Close(reference, fused, 2e-6f * (g.R * g.S * g.C + g.K + 8), $"fused ReLU against the reference, {path}");
    }

    [Fact]
    public void ManyTilesAndThreadsAgree()
    {
        // A row of columns exceeds the tile budget, so every output row is a tile: parallel tiles, both scatter phases.
        Check(ConvGeometry.Create(2, 12, 300, 16, 20, 5, 5, 1, 1, 1, 1, Padding.Same), withBias: true, seed: 7);
        Check(ConvGeometry.Create(1, 13, 150, 8, 3, 3, 3, 2, 2, 2, 1, Padding.Same), withBias: false, seed: 8);
    }

    [Fact]
    public void EmptyOutputClearsGradients()
    {
        var g = ConvGeometry.Create(1, 2, 2, 3, 4, 3, 3, 1, 1, 1, 1, Padding.Valid);
        Assert.Equal(0, g.P);
        var gradInput = KernelAssert.Random(g.InputSize, 1);
        var gradKernel = KernelAssert.Random(g.KernelSize, 2);
        ConvolutionFast.BackwardInput([], KernelAssert.Random(g.KernelSize, 3), g, gradInput);
        ConvolutionFast.BackwardKernel([], KernelAssert.Random(g.InputSize, 4), g, gradKernel);
        Assert.All(gradInput, v => Assert.Equal(0f, v));
        Assert.All(gradKernel, v => Assert.Equal(0f, v));
    }
}

/// <summary>Which path a convolution takes, from the kernel trace (which is process-wide, hence the collection).</summary>
[Collection(nameof(ConvKit.Tests.Autograd.OpTraceCollection))]
public class ConvolutionPathTests
{
    /// <summary>
    /// 1×1 convolutions with strides run as GEMMs per output row, forward and for the input gradient, with no im2col or
    /// col2im, where their rows fill the AVX-512 kernel's tiles (Q = 14); rows that leave a partial tile (Q = 7), and
    /// every shape without AVX-512, keep im2col and col2im.
    /// </summary>
    [Fact]
    public void StridedPointwiseConvolutionsSkipImToColWhereTheirRowsFillTiles()
    {
        bool wide = GemmMicroKernel.Selected == GemmMicroKernel.Isa.Avx512;
        Assert.Equal(wide, ConvolutionFast.RowsFillWideTiles(14));
        Assert.Equal(wide, ConvolutionFast.RowsFillWideTiles(28));
        Assert.Equal(wide, ConvolutionFast.RowsFillWideTiles(12));
        Assert.False(ConvolutionFast.RowsFillWideTiles(7));
        Assert.Equal(wide, ConvolutionFast.RowsFillWideTiles(18));    // 12 and a whole six-row tile
        Assert.False(ConvolutionFast.RowsFillWideTiles(17));    // 12 and a partial six-row tile
        Assert.False(ConvolutionFast.RowsFillWideTiles(16));

        string filling = Paths(ConvGeometry.Create(2, 28, 28, 16, 96, 1, 1, 2, 2, 1, 1, Padding.Same));
        string partial = Paths(ConvGeometry.Create(2, 14, 14, 16, 96, 1, 1, 2, 2, 1, 1, Padding.Same));
        Assert.Equal(wide, filling.Contains("1×1 with strides, one GEMM per output row on the input read in place, no im2col"));
        Assert.Equal(wide, filling.Contains("1×1 with strides, one GEMM per output row written in place, no col2im"));
        Assert.Equal(!wide, filling.Contains("then col2im"));
        Assert.DoesNotContain("1×1 with strides", partial);
        Assert.Contains("then col2im", partial);

        static string Paths(ConvGeometry g)
        {
            var (savedLevel, savedOutput) = (OpTrace.Level, OpTrace.Output);
            var trace = new StringWriter();
            try
            {
                (OpTrace.Level, OpTrace.Output) = (2, trace);
                ConvolutionFast.Forward(new float[g.InputSize], new float[g.KernelSize], [], g, new float[g.OutputSize]);
                ConvolutionFast.BackwardInput(new float[g.OutputSize], new float[g.KernelSize], g, new float[g.InputSize]);
            }
            finally { (OpTrace.Level, OpTrace.Output) = (savedLevel, savedOutput); }
            return trace.ToString();
        }
    }
}
