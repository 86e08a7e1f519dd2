using ConvKit.Autograd;
using ConvKit.Kernels;

namespace ConvKit.Tests.Kernels;

/// <summary>
/// Kernels allocate nothing per call once warm: their scratch memory is pooled per thread, their parallel loops take
/// structs (a lambda allocates its captures at every call, even on a path that does not run it), geometries are values,
/// and kept packings of weights are made once. Counted on the calling thread, where a capture or a packing would be allocated; in the
/// trace's collection, since a trace level set by another test would make every call build its trace text.
/// </summary>
[Collection(nameof(ConvKit.Tests.Autograd.OpTraceCollection))]
public class KernelAllocationTests
{
    /// <summary>Geometries that between them take every forward path of <see cref="ConvolutionFast"/>.</summary>
    public static TheoryData<string, ConvGeometry> Convolutions() => new()
    {
        { "1×1", ConvGeometry.Create(4, 28, 28, 64, 128, 1, 1, 1, 1, 1, 1, Padding.Valid) },
        { "1×1, 4 groups", ConvGeometry.Create(2, 14, 14, 32, 64, 1, 1, 1, 1, 1, 1, Padding.Valid, groups: 4) },
        { "1×1 with strides", ConvGeometry.Create(2, 28, 28, 16, 96, 1, 1, 2, 2, 1, 1, Padding.Same) },
        { "Winograd 3×3 in blocks", ConvGeometry.Create(8, 28, 28, 32, 64, 3, 3, 1, 1, 1, 1, Padding.Same) },
        { "Winograd 3×3 over all tiles", ConvGeometry.Create(1, 14, 14, 64, 64, 3, 3, 1, 1, 1, 1, Padding.Same) },
        { "Winograd 5×5", ConvGeometry.Create(100, 14, 14, 32, 64, 5, 5, 1, 1, 1, 1, Padding.Same) },
        { "dot products, 1 filter", ConvGeometry.Create(2, 40, 60, 3, 1, 5, 5, 1, 1, 1, 1, Padding.Valid) },
        { "direct, 16 filters", ConvGeometry.Create(1, 40, 60, 3, 16, 5, 5, 1, 1, 1, 1, Padding.Valid) },
        { "direct, padded, stride 2", ConvGeometry.Create(1, 64, 64, 3, 32, 7, 7, 2, 2, 1, 1, Padding.Same) },
        { "runs of seven, stride 2", ConvGeometry.Create(1, 56, 56, 64, 128, 3, 3, 2, 2, 1, 1, Padding.Same) },
        { "whole batch", ConvGeometry.Create(1, 7, 7, 64, 96, 3, 3, 2, 2, 1, 1, Padding.Same) },
        { "tiles, dilated", ConvGeometry.Create(6, 16, 16, 16, 48, 3, 3, 1, 1, 2, 2, Padding.Same) },
        { "tiles, 2 groups", ConvGeometry.Create(4, 12, 12, 16, 32, 3, 3, 1, 1, 1, 1, Padding.Same, groups: 2) },
        { "depthwise", ConvGeometry.Create(4, 28, 28, 32, 32, 3, 3, 1, 1, 1, 1, Padding.Same, groups: 32) },
        { "depthwise, 2 per channel", ConvGeometry.Create(4, 28, 28, 16, 32, 3, 3, 2, 2, 1, 1, Padding.Same, groups: 16) },
    };

    [Theory, MemberData(nameof(Convolutions))]
    public void ConvolutionsAllocateNothingOnceWarm(string path, ConvGeometry g)
    {
        var x = KernelAssert.Random(g.InputSize, 1);
        var w = KernelAssert.Random(g.KernelSize, 2);
        var dy = KernelAssert.Random(g.OutputSize, 3);
        var bias = KernelAssert.Random(g.K, 4);
        var scale = KernelAssert.Random(g.K, 5);
        var residual = KernelAssert.Random(g.OutputSize, 6);
        var y = new float[g.OutputSize];
        var dx = new float[g.InputSize];
        var dw = new float[g.KernelSize];
        var kept = new WeightPacking(new PackedWeights(), version: 1);

        AssertNoAllocation($"{path}: forward", () => ConvolutionFast.Forward(x, w, bias, g, y, relu: true));
        AssertNoAllocation($"{path}: forward with scale, residual and kept weights",
            () => ConvolutionFast.Forward(x, w, bias, g, y, relu: true, scale, residual, kept));
        AssertNoAllocation($"{path}: input gradient", () => ConvolutionFast.BackwardInput(dy, w, g, dx));
        AssertNoAllocation($"{path}: kernel gradient", () => ConvolutionFast.BackwardKernel(dy, x, g, dw));
    }

    /// <summary>The geometries above take distinct paths, so the test covers them and not one path many times.</summary>
    [Fact]
    public void TheGeometriesTakeManyForwardPaths()
    {
        var paths = new HashSet<string>();
        var (savedLevel, savedOutput) = (OpTrace.Level, OpTrace.Output);
        try
        {
            foreach (var row in Convolutions())
            {
                var g = (ConvGeometry)row[1];
                var trace = new StringWriter();
                (OpTrace.Level, OpTrace.Output) = (2, trace);
                ConvolutionFast.Forward(new float[g.InputSize], new float[g.KernelSize], [], g, new float[g.OutputSize]);
                (OpTrace.Level, OpTrace.Output) = (savedLevel, savedOutput);
                string text = trace.ToString();
                paths.Add(text[(text.IndexOf(": ", text.IndexOf("conv forward", StringComparison.Ordinal), StringComparison.Ordinal) + 2)..].Trim());
            }
        }
        finally { (OpTrace.Level, OpTrace.Output) = (savedLevel, savedOutput); }
        Assert.True(paths.Count >= 9, $"Only {paths.Count} paths: {string.Join("; ", paths)}");
    }

    [Fact]
    public void PoolingAllocatesNothingOnceWarm()
    {
        var tiling = PoolGeometry.Create(4, 64, 64, 32, 2, 2, 2, 2, Padding.Valid);
        var overlapping = PoolGeometry.Create(4, 63, 63, 20, 3, 3, 2, 2, Padding.Same);
        foreach (var g in new[] { tiling, overlapping })
        {
            var x = KernelAssert.Random(g.InputSize, 1);
            var dy = KernelAssert.Random(g.OutputSize, 2);
            var y = new float[g.OutputSize];
            var dx = new float[g.InputSize];
            AssertNoAllocation($"{g}: max forward", () => PoolingFast.MaxForward(x, g, y));
            AssertNoAllocation($"{g}: max backward", () => PoolingFast.MaxBackward(dy, x, g, dx));
            AssertNoAllocation($"{g}: average forward", () => PoolingFast.AverageForward(x, g, y));
            AssertNoAllocation($"{g}: average backward", () => PoolingFast.AverageBackward(dy, g, dx));
        }
        var images = KernelAssert.Random(8 * 56 * 56 * 64, 3);
        var pooled = new float[8 * 64];
        AssertNoAllocation("global max", () => PoolingFast.GlobalMaxForward(images, 8, 56 * 56, 64, pooled));
        AssertNoAllocation("global average", () => PoolingFast.GlobalAverageForward(images, 8, 56 * 56, 64, pooled));
    }

    [Fact]
    public void DenseProductsAndEpiloguesAllocateNothingOnceWarm()
    {
        const int m = 256, n = 512, k = 384;
        var a = KernelAssert.Random(m * k, 1);
        var w = KernelAssert.Random(k * n, 2);
        var bias = KernelAssert.Random(n, 3);
        var c = new float[m * n];
        var dz = new float[m * n];
        var gradBias = new float[n];
        var kept = new WeightPacking(new PackedWeights(), version: 1);
        AssertNoAllocation("dense", () => GemmKernels.MultiplyWeights(m, n, k, a, w, c, WeightPacking.None, bias, relu: true));
        AssertNoAllocation("dense, kept weights", () => GemmKernels.MultiplyWeights(m, n, k, a, w, c, kept, bias, relu: true));
        AssertNoAllocation("dense, 10 units", () => GemmKernels.MultiplyWeights(m, 10, k, a, w, c, kept, bias, relu: false));
        AssertNoAllocation("bias and ReLU", () => Epilogue.Apply(c, n, bias, relu: true));
        AssertNoAllocation("ReLU", () => Epilogue.Relu(a, a));
        AssertNoAllocation("ReLU gradient and bias gradient", () => Epilogue.ReluBackward(c, c, dz, n, gradBias));
        AssertNoAllocation("bias gradient", () => Epilogue.BiasGradient(c, n, gradBias));
    }

    /// <summary>
    /// Batch normalization keeps its partial sums and per-channel coefficients in the pooled buffers: the moments and the
    /// normalization allocate nothing, and the backward only the two arrays of sums it returns (dβ and dγ), on the
    /// vector-width path and on the per-row one.
    /// </summary>
    [Theory]
    [InlineData(64)]
    [InlineData(13)]
    public void BatchNormalizationAllocatesOnlyTheSumsItReturns(int channels)
    {
        const int rows = 4096;
        var x = KernelAssert.Random(rows * channels, 1);
        var dy = KernelAssert.Random(rows * channels, 2);
        var gamma = KernelAssert.Random(channels, 3);
        var beta = KernelAssert.Random(channels, 4);
        float[] mean = new float[channels], variance = new float[channels], invStd = new float[channels];
        float[] y = new float[rows * channels], dx = new float[rows * channels];
        Array.Fill(invStd, 0.5f);
        AssertNoAllocation("moments", () => BatchNormKernels.Moments(x, channels, mean, variance));
        AssertNoAllocation("normalization", () => BatchNormKernels.Normalize(x, channels, mean, invStd, gamma, beta, y));
        AssertNoAllocation("normalization without γ and β", () => BatchNormKernels.Normalize(x, channels, mean, invStd, null, null, y, relu: true));
        // Two double[channels]: each its data plus an array header (at most 32 bytes on a 64-bit runtime).
        long sums = 2 * (channels * sizeof(double) + 32);
        AssertAllocatesAtMost("backward", sums, () => BatchNormKernels.Backward(dy, x, mean, channels, invStd, gamma, training: true, dx));
        AssertAllocatesAtMost("backward with the ReLU", sums, () => BatchNormKernels.Backward(dy, x, mean, channels, invStd, gamma, training: true, dx, beta, relu: true));
    }

    /// <summary>The activations' passes, whole tensors split across the threads, take their ranges as structs.</summary>
    [Fact]
    public void ActivationsAllocateNothingOnceWarm()
    {
        const int size = 1 << 19;
        var x = KernelAssert.Random(size, 1);
        var dy = KernelAssert.Random(size, 2);
        var y = new float[size];
        var dx = new float[size];
        foreach (var rule in Enum.GetValues<ActivationKernels.Rule>())
            AssertNoAllocation(rule.ToString(), () => ActivationKernels.InPieces(rule, 0.2f, x, rule == ActivationKernels.Rule.EluBackward ? y : dy, dy, dx));
        foreach (var rule in Enum.GetValues<ActivationKernels.RowRule>())
            AssertNoAllocation(rule.ToString(), () => ActivationKernels.EachRow(rule, x, dy, dx, 1000));
    }

    /// <summary>
    /// Runs <paramref name="call"/> twice to warm it up (buffers, kept packings, regions), then counts three calls: an
    /// allocation in the kernel comes back at every call, while the runtime's own now and then (a method compiled again
    /// once it has run often) does not, so at most one of them may allocate.
    /// </summary>
    private static void AssertNoAllocation(string what, Action call) => AssertAllocatesAtMost(what, 0, call);

    /// <summary>As <see cref="AssertNoAllocation"/>, for a call that allocates what it returns: at most <paramref name="bytes"/> in two of three calls.</summary>
    private static void AssertAllocatesAtMost(string what, long bytes, Action call)
    {
        call();
        call();
        var allocated = new long[3];
        for (int i = 0; i < allocated.Length; i++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            call();
            allocated[i] = GC.GetAllocatedBytesForCurrentThread() - before;
        }
        Assert.True(allocated.Count(b => b > bytes) <= 1, $"{what} allocated {string.Join(", ", allocated)} bytes in three calls{(bytes > 0 ? $", more than {bytes}" : "")}.");
    }
}
