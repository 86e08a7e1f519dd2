using System.Runtime.Intrinsics;
using ConvKit.Kernels;

namespace ConvKit.Tests.Kernels;

/// <summary>
/// The Winograd F(2×2, 3×3) and F(2×2, 5×5) forwards (and the input gradients that run as ones) against the reference
/// convolution.
/// </summary>
public class WinogradConvolutionTests
{
    public static TheoryData<int, int, int, int, int, int, Padding> Shapes()
    {
        var shapes = new TheoryData<int, int, int, int, int, int, Padding>();
        foreach (int size in new[] { 3, 5 })
        {
            // N, H, W, C, K, filter size, padding
            shapes.Add(1, 8, 8, 16, 16, size, Padding.Same);           // even output, one tile block
            shapes.Add(2, 9, 11, 20, 24, size, Padding.Same);          // odd height and width: the last tiles drop a row and a column
            shapes.Add(1, 10, 9, 17, 19, size, Padding.Valid);         // channels and filters past the vectors of eight
            shapes.Add(3, 8, 13, 24, 40, size, Padding.Valid);         // filters past a 32-wide panel
            shapes.Add(1, 8, 8, 136, 40, size, Padding.Same);          // channels past AVX-512's in-place depth block (128)
            shapes.Add(2, 28, 28, 64, 64, size, Padding.Same);         // enough tiles for blocks over the threads
            shapes.Add(5, 12, 12, 16, 48, size, Padding.Same);         // a batch whose blocks cross images
        }
        shapes.Add(4, 14, 14, 32, 64, 5, Padding.Same);                // the TensorFlow tutorial CNN's second convolution
        shapes.Add(2, 14, 10, 24, 20, 3, Padding.Valid);               // 12 × 8 outputs: 4×4 tiles, channels and filters past the vectors
        shapes.Add(3, 16, 12, 40, 36, 3, Padding.Same);                // 4×4 tiles over a batch, in several blocks
        return shapes;
    }

    [Theory, MemberData(nameof(Shapes))]
    public void ForwardAndInputGradientAgreeWithTheReference(int n, int h, int w, int c, int k, int size, Padding padding)
    {
        var g = ConvGeometry.Create(n, h, w, c, k, size, size, 1, 1, 1, 1, padding);
        // Without 256-bit vectors the rule sends these shapes to the other paths, which must agree as well.
        Assert.True(WinogradConvolution.Applies(g) == Vector256.IsHardwareAccelerated, $"{g} should take the Winograd path");
        var input = KernelAssert.Random(g.InputSize, n + h + c);
        var kernel = KernelAssert.Random(g.KernelSize, k + w);
        var bias = KernelAssert.Random(g.K, 3);
        var gradOutput = KernelAssert.Random(g.OutputSize, 4);
        int taps = size * size;
        float tolerance = 2e-6f * (taps * c + k + 8);

        var expected = new float[g.OutputSize];
        var actual = KernelAssert.Random(g.OutputSize, 5);
        ConvolutionReference.Forward(input, kernel, bias, g, expected);
        ConvolutionFast.Forward(input, kernel, bias, g, actual);
        KernelAssert.Close(expected, actual, tolerance, $"forward {g}");

        // The input gradient of a stride-1 convolution is the forward convolution of dOut with the flipped kernel,
        // K channels in and C filters out: Winograd again when that one applies.
        var expectedInput = new float[g.InputSize];
        var actualInput = KernelAssert.Random(g.InputSize, 6);
        ConvolutionReference.BackwardInput(gradOutput, kernel, g, expectedInput);
        ConvolutionFast.BackwardInput(gradOutput, kernel, g, actualInput);
        KernelAssert.Close(expectedInput, actualInput, 2e-6f * (taps * k + c + 8), $"backward input {g}");
    }

    /// <summary>The transposed F(2×2, 3×3) and F(2×2, 5×5) kernel gradients against the reference.</summary>
    public static TheoryData<int, int, int, int, int, int, Padding> KernelGradientShapes()
    {
        var shapes = new TheoryData<int, int, int, int, int, int, Padding>();
        foreach (int size in new[] { 3, 5 })
        {
            // N, H, W, C, K, filter size, padding
            shapes.Add(1, 8, 8, 16, 16, size, Padding.Same);       // 16 tiles: below the rule's 32, the direct path
            shapes.Add(2, 8, 8, 16, 16, size, Padding.Same);       // 32 tiles, one block
            shapes.Add(2, 9, 11, 20, 24, size, Padding.Same);      // odd height and width: the last tiles read zero gradients past the edge
            shapes.Add(3, 10, 9, 17, 19, size, Padding.Valid);     // channels and filters past the vectors of eight
            shapes.Add(3, 8, 13, 24, 40, size, Padding.Valid);     // filters past a 32-wide panel
            shapes.Add(2, 8, 8, 136, 40, size, Padding.Same);      // many channels
            shapes.Add(2, 28, 28, 64, 64, size, Padding.Same);     // many blocks
            shapes.Add(5, 12, 12, 16, 48, size, Padding.Same);     // blocks that cross images
            shapes.Add(4, 14, 14, 32, 16, size, Padding.Same);     // a single panel of filters
        }
        shapes.Add(8, 7, 7, 64, 128, 3, Padding.Same);             // the default model's last convolution, at a smaller batch
        shapes.Add(2, 16, 12, 20, 36, 3, Padding.Same);            // 4×4 tiles: channels and filters past the vectors and a panel
        shapes.Add(3, 10, 14, 64, 48, 3, Padding.Valid);           // 4×4 tiles on 8 × 12 outputs, several blocks
        shapes.Add(6, 14, 14, 32, 64, 5, Padding.Same);            // the TensorFlow tutorial CNN's second convolution
        shapes.Add(14, 4, 4, 512, 520, 3, Padding.Same);           // products past 8 MB: two blocks of half the tiles, filters past a panel
        return shapes;
    }

    [Theory, MemberData(nameof(KernelGradientShapes))]
    public void KernelGradientAgreesWithTheReference(int n, int h, int w, int c, int k, int size, Padding padding)
    {
        var g = ConvGeometry.Create(n, h, w, c, k, size, size, 1, 1, 1, 1, padding);
        bool enoughTiles = n * ((g.P + 1) / 2) * ((g.Q + 1) / 2) >= 32;
        Assert.Equal(Vector256.IsHardwareAccelerated && enoughTiles, WinogradConvolution.AppliesToKernelGradient(g));
        var input = KernelAssert.Random(g.InputSize, n + h + c);
        var gradOutput = KernelAssert.Random(g.OutputSize, k + w);
        var expected = new float[g.KernelSize];
        var actual = KernelAssert.Random(g.KernelSize, 5);
        ConvolutionReference.BackwardKernel(gradOutput, input, g, expected);
        ConvolutionFast.BackwardKernel(gradOutput, input, g, actual);
        KernelAssert.Close(expected, actual, 2e-6f * (g.N * g.P * g.Q + 8), $"kernel gradient {g}");
    }

    /// <summary>
    /// Every element of the transformed kernel gradient is summed by one thread over the same blocks of tiles, so one
    /// thread (a call inside a parallel region) and all of them give the same bits.
    /// </summary>
    [Theory, InlineData(64, 128, 3, 14), InlineData(48, 16, 3, 14), InlineData(32, 64, 5, 14), InlineData(32, 64, 3, 16), InlineData(512, 512, 3, 8)]
    public void KernelGradientBitsDoNotDependOnTheThreads(int c, int k, int size, int side)
    {
        var g = ConvGeometry.Create(6, side, side, c, k, size, size, 1, 1, 1, 1, Padding.Same);
        Assert.Equal(Vector256.IsHardwareAccelerated, WinogradConvolution.AppliesToKernelGradient(g));
        // Without 256-bit vectors the direct path takes these shapes, whose partial sums per thread make no such promise.
        if (!Vector256.IsHardwareAccelerated) return;
        var input = KernelAssert.Random(g.InputSize, 11);
        var gradOutput = KernelAssert.Random(g.OutputSize, 12);
        var shared = new float[g.KernelSize];
        var alone = new float[g.KernelSize];
        ConvolutionFast.BackwardKernel(gradOutput, input, g, shared);
        KernelThreads.For(2, item =>
        {
            if (item != 0) return;
            Assert.Equal(1, KernelThreads.Available);
            ConvolutionFast.BackwardKernel(gradOutput, input, g, alone);
        });
        KernelAssert.Exact(shared, alone, $"kernel gradient {g} on all threads and on one");
    }

    /// <summary>
    /// Explicit pads that differ on every side (as ONNX models give them), and maps of a single output pixel, whose
    /// tiles read zeros for three of their four output gradients.
    /// </summary>
    [Theory, InlineData(3), InlineData(5)]
    public void KernelGradientAgreesWithUnevenPadsAndSinglePixelOutputs(int size)
    {
        var uneven = new ConvGeometry(3, 11, 9, 16, 20, size, size, 1, 1, 1, 1, PadTop: 2, PadLeft: 0, PadBottom: 1, PadRight: size - 1);
        var single = ConvGeometry.Create(40, size, size, 16, 24, size, size, 1, 1, 1, 1, Padding.Valid);
        foreach (var g in new[] { uneven, single })
        {
            Assert.Equal(Vector256.IsHardwareAccelerated, WinogradConvolution.AppliesToKernelGradient(g));
            var input = KernelAssert.Random(g.InputSize, g.H + g.PadTop);
            var gradOutput = KernelAssert.Random(g.OutputSize, g.N);
            var expected = new float[g.KernelSize];
            var actual = KernelAssert.Random(g.KernelSize, 5);
            ConvolutionReference.BackwardKernel(gradOutput, input, g, expected);
            ConvolutionFast.BackwardKernel(gradOutput, input, g, actual);
            KernelAssert.Close(expected, actual, 2e-6f * (g.N * g.P * g.Q + 8), $"kernel gradient {g}");
        }
    }

    [Fact]
    public void TheKernelGradientRuleTakesThreeOrFiveWideStrideOneLayersWithEnoughTiles()
    {
        static bool Takes(int n, int h, int c, int k, int kernel = 3, int stride = 1, int dilation = 1, int groups = 1) =>
            WinogradConvolution.AppliesToKernelGradient(ConvGeometry.Create(n, h, h, c, k, kernel, kernel, stride, stride, dilation, dilation, Padding.Same, groups));

        bool vectors = Vector256.IsHardwareAccelerated;
        Assert.Equal(vectors, Takes(128, 14, 32, 64));
        Assert.Equal(vectors, Takes(128, 7, 64, 128));
        Assert.Equal(vectors, Takes(2, 7, 512, 512));     // 32 tiles
        Assert.False(Takes(1, 7, 512, 512));              // 16 tiles
        Assert.False(Takes(8, 28, 8, 64));                // too few channels
        Assert.False(Takes(8, 28, 64, 8));                // too few filters
        Assert.Equal(vectors, Takes(100, 14, 32, 64, kernel: 5));
        Assert.Equal(vectors, Takes(2, 8, 2048, 2048));                  // 16 products of 2048 × 2048: 256 MB
        Assert.False(Takes(2, 8, 2048, 2048, kernel: 5));                 // 36 of them: past the 512 MB the products may take
        Assert.False(Takes(8, 28, 64, 64, kernel: 7));
        Assert.False(Takes(8, 28, 64, 64, kernel: 1));
        Assert.False(Takes(8, 28, 64, 64, stride: 2));
        Assert.False(Takes(8, 28, 64, 64, dilation: 2));
        Assert.False(Takes(8, 28, 64, 64, groups: 2));
    }

    /// <summary>Σ·scale + bias, + residual, then ReLU, on the Winograd tiles' pixels as on every other forward path.</summary>
    [Theory, InlineData(3), InlineData(5)]
    public void TheInferenceEpilogueRunsOnEveryPixel(int size)
    {
        var g = ConvGeometry.Create(2, 9, 7, 24, 20, size, size, 1, 1, 1, 1, Padding.Same);
        Assert.Equal(Vector256.IsHardwareAccelerated, WinogradConvolution.Applies(g));
        var input = KernelAssert.Random(g.InputSize, 1);
        var kernel = KernelAssert.Random(g.KernelSize, 2);
        var bias = KernelAssert.Random(g.K, 3);
        var scale = KernelAssert.Random(g.K, 4);
        var residual = KernelAssert.Random(g.OutputSize, 5);
        var expected = new float[g.OutputSize];
        ConvolutionReference.Forward(input, kernel, default, g, expected);
        for (int i = 0; i < expected.Length; i++) expected[i] = Math.Max(0f, expected[i] * scale[i % g.K] + bias[i % g.K] + residual[i]);
        var actual = new float[g.OutputSize];
        ConvolutionFast.Forward(input, kernel, bias, g, actual, relu: true, scale, residual);
        KernelAssert.Close(expected, actual, 2e-6f * (size * size * g.C + g.K + 8), $"forward with epilogue {g}");
    }

    /// <summary>
    /// An image alone (three steps over all its tiles, the threads taking positions) and in a batch of twelve (blocks of
    /// tiles over the threads) gets the same bits, and so does a kernel whose transforms are kept between calls.
    /// </summary>
    [Theory, InlineData(3), InlineData(5)]
    public void AnImageGetsTheSameBitsAloneInABatchAndWithKeptTransforms(int size)
    {
        var batch = ConvGeometry.Create(12, 20, 20, 64, 64, size, size, 1, 1, 1, 1, Padding.Same);
        var alone = batch with { N = 1 };
        Assert.Equal(Vector256.IsHardwareAccelerated, WinogradConvolution.Applies(alone));
        var input = KernelAssert.Random(batch.InputSize, 7);
        var kernel = KernelAssert.Random(batch.KernelSize, 8);
        var fromBatch = new float[batch.OutputSize];
        var fromAlone = new float[alone.OutputSize];
        ConvolutionFast.Forward(input, kernel, default, batch, fromBatch);
        ConvolutionFast.Forward(input.AsSpan(0, alone.InputSize), kernel, default, alone, fromAlone);
        KernelAssert.Exact(fromAlone, fromBatch.AsSpan(0, alone.OutputSize), "one image alone and in a batch");

        var cache = new PackedWeights();
        for (int call = 0; call < 2; call++)
        {
            var kept = new float[alone.OutputSize];
            ConvolutionFast.Forward(input.AsSpan(0, alone.InputSize), kernel, default, alone, kept, packing: new WeightPacking(cache, version: 1));
            KernelAssert.Exact(fromAlone, kept, $"kept transforms, call {call + 1}");
        }
    }

    /// <summary>
    /// F(4×4, 3×3) where its tiles take fewer multiplications than 2×2 ones and an image has enough of them for the
    /// kernel's transforms, F(2×2, 5×5) for 5×5.
    /// </summary>
    [Fact]
    public void ThreeByThreeKernelsTakeFourByFourTilesWhereTheyMultiplyLess()
    {
        static int Tile(int h, int w, int kernel = 3, int channels = 32) =>
            WinogradConvolution.OutputTile(ConvGeometry.Create(2, h, w, channels, channels, kernel, kernel, 1, 1, 1, 1, Padding.Same));
        Assert.Equal(4, Tile(56, 56, channels: 64));
        Assert.Equal(4, Tile(28, 28, channels: 128));
        Assert.Equal(2, Tile(14, 14, channels: 256));   // 16 tiles · 512 · 4 < 256 · 256
        Assert.Equal(2, Tile(7, 7, channels: 64));
        Assert.Equal(4, Tile(56, 56));
        Assert.Equal(4, Tile(28, 12));
        Assert.Equal(4, Tile(14, 14));     // 16 tiles · 36 against 49 · 16
        Assert.Equal(4, Tile(7, 7));       // 4 · 36 against 16 · 16
        Assert.Equal(4, Tile(10, 10));     // 9 · 36 against 25 · 16
        Assert.Equal(2, Tile(6, 6));       // 4 · 36 = 9 · 16: a tie keeps 2×2
        Assert.Equal(2, Tile(5, 5));
        Assert.Equal(2, Tile(2, 2));
        Assert.Equal(2, Tile(28, 28, kernel: 5));

        // The kernel gradient takes 4×4 tiles only where they cover the map exactly.
        static int GradientTile(int h) => WinogradConvolution.GradientTile(ConvGeometry.Create(2, h, h, 32, 64, 3, 3, 1, 1, 1, 1, Padding.Same));
        Assert.Equal(4, GradientTile(56));
        Assert.Equal(4, GradientTile(16));
        Assert.Equal(2, GradientTile(8));       // 4 tiles · 96 · 4 < 32 · 64: 2×2 tiles in the forward too
        Assert.Equal(2, GradientTile(14));
    }

    [Fact]
    public void TheRuleTakesOnlyThreeOrFiveWideStrideOneLayersWithEvenMapsOrEnoughTilesPerImage()
    {
        static bool Takes(int h, int c, int k, int kernel = 3, int stride = 1, int dilation = 1, int groups = 1) =>
            WinogradConvolution.Applies(ConvGeometry.Create(4, h, h, c, k, kernel, kernel, stride, stride, dilation, dilation, Padding.Same, groups));

        Assert.Equal(Vector256.IsHardwareAccelerated, Takes(56, 64, 64));
        Assert.Equal(Vector256.IsHardwareAccelerated, Takes(14, 256, 256));
        Assert.Equal(Vector256.IsHardwareAccelerated, Takes(7, 128, 128));    // 16 tiles · 256 · 4 = 128 · 128
        Assert.False(Takes(7, 256, 256));                                      // 16 tiles · 512 · 4 < 256 · 256
        Assert.False(Takes(7, 512, 512));
        Assert.False(Takes(5, 128, 128));                                      // 9 tiles · 256 · 4 < 128 · 128
        Assert.False(Takes(1, 512, 512));
        Assert.Equal(Vector256.IsHardwareAccelerated, Takes(8, 256, 256));    // even sides: the tiles cover the map
        Assert.Equal(Vector256.IsHardwareAccelerated, Takes(4, 512, 512));
        Assert.Equal(Vector256.IsHardwareAccelerated, Takes(2, 512, 512));
        Assert.Equal(Vector256.IsHardwareAccelerated, Takes(4, 256, 256, kernel: 5));
        Assert.False(Takes(4, 8, 512));                                        // too few channels, even so
        Assert.False(Takes(4, 512, 512, stride: 2));
        Assert.False(Takes(28, 8, 64));                                        // too few channels
        Assert.False(Takes(28, 64, 8));                                        // too few filters
        Assert.Equal(Vector256.IsHardwareAccelerated, Takes(14, 32, 64, kernel: 5));
        Assert.Equal(Vector256.IsHardwareAccelerated, Takes(7, 128, 128, kernel: 5));
        Assert.False(Takes(7, 256, 256, kernel: 5));
        Assert.False(Takes(28, 64, 64, kernel: 7));
        Assert.False(Takes(28, 64, 64, kernel: 1));
        Assert.False(Takes(28, 64, 64, stride: 2));
        Assert.False(Takes(28, 64, 64, dilation: 2));
        Assert.False(Takes(28, 64, 64, groups: 2));
    }
}
