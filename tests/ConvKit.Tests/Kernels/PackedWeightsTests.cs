using ConvKit.Autograd;
using ConvKit.Kernels;

namespace ConvKit.Tests.Kernels;

/// <summary>
/// Convolution with the kernel packed once and kept (<see cref="PackedWeights"/>) against packing it on every call: the
/// same bits on every forward path, one kept packing while the version holds (made at its second call), a new one when
/// it moves.
/// </summary>
[Collection(nameof(ConvKit.Tests.Autograd.OpTraceCollection))]
public class PackedWeightsTests
{
    /// <summary>Geometries that between them take the direct, whole-batch (split by rows and by filters) and tiled paths.</summary>
    public static TheoryData<string, ConvGeometry> ForwardPaths() => new()
    {
        { "direct", ConvGeometry.Create(2, 9, 30, 8, 64, 3, 3, 1, 1, 1, 1, Padding.Valid) },
        { "direct, 16 filters", ConvGeometry.Create(1, 10, 30, 3, 16, 5, 5, 1, 1, 1, 1, Padding.Valid) },
        { "direct, padded", ConvGeometry.Create(2, 14, 28, 64, 40, 3, 3, 1, 1, 1, 1, Padding.Same) },
        { "whole batch, 49 rows by 96 filters", ConvGeometry.Create(1, 7, 7, 64, 96, 3, 3, 1, 1, 1, 1, Padding.Same) },
        { "whole batch, 100 rows by 72 filters", ConvGeometry.Create(1, 20, 20, 32, 72, 3, 3, 2, 2, 1, 1, Padding.Same) },
        { "1×1, one GEMM", ConvGeometry.Create(3, 9, 9, 8, 64, 1, 1, 1, 1, 1, 1, Padding.Valid) },
        { "1×1 with strides, a GEMM per output row (AVX-512)", ConvGeometry.Create(2, 9, 28, 8, 96, 1, 1, 2, 2, 1, 1, Padding.Valid) },
        { "tiles", ConvGeometry.Create(6, 12, 12, 32, 96, 3, 3, 1, 1, 1, 1, Padding.Same) },
        { "tiles, 2 groups", ConvGeometry.Create(5, 9, 9, 8, 12, 3, 3, 1, 1, 1, 1, Padding.Same, groups: 2) },
    };

    [Theory, MemberData(nameof(ForwardPaths))]
    public void KeptPackingGivesTheSameBitsAndPacksOncePerVersion(string path, ConvGeometry g)
    {
        var input = KernelAssert.Random(g.InputSize, 1);
        var kernel = KernelAssert.Random(g.KernelSize, 2);
        var bias = KernelAssert.Random(g.K, 3);

        var expected = new float[g.OutputSize];
        ConvolutionFast.Forward(input, kernel, bias, g, expected, relu: true);

        var cache = new PackedWeights();
        for (int call = 0; call < 3; call++)
        {
            var kept = KernelAssert.Random(g.OutputSize, 4 + call);
            ConvolutionFast.Forward(input, kernel, bias, g, kept, relu: true, packing: new WeightPacking(cache, version: 1));
            KernelAssert.Exact(expected, kept, $"{path}, call {call}");
        }
        Assert.Equal(1, cache.Packs);

        // New weights under a new version: packed into scratch once, then kept again; the output follows them.
        var changed = KernelAssert.Random(g.KernelSize, 5);
        ConvolutionFast.Forward(input, changed, bias, g, expected, relu: true);
        for (int call = 0; call < 2; call++)
        {
            var repacked = new float[g.OutputSize];
            ConvolutionFast.Forward(input, changed, bias, g, repacked, relu: true, packing: new WeightPacking(cache, version: 2));
            KernelAssert.Exact(expected, repacked, $"{path}, new version, call {call}");
            Assert.Equal(call + 1, cache.Packs);
        }
    }

    /// <summary>
    /// A dense layer's product (A packed): tall products run in row chunks, short wide ones in column chunks, both over
    /// several blocks of the shared dimension, the last one shorter; a product as narrow as one panel does not keep B.
    /// </summary>
    [Theory]
    [InlineData(300, 100, 1501)]
    [InlineData(5, 300, 2101)]
    [InlineData(1, 1024, 3136)]
    [InlineData(64, 40, 77)]
    [InlineData(9, 7, 50)]
    public unsafe void WeightsKeptForTheGemmGiveTheSameBits(int m, int n, int k)
    {
        var a = KernelAssert.Random(m * k, m + n);
        var w = KernelAssert.Random(k * n, k);
        var expected = new float[m * n];
        var kept = new float[m * n];
        var cache = new PackedWeights();
        fixed (float* pa = a, pw = w, pe = expected, pk = kept)
        {
            Gemm.Multiply(false, false, m, n, k, pa, k, pw, n, pe, n, accumulate: false);
            for (int call = 0; call < 2; call++)
            {
                Gemm.MultiplyWeights(m, n, k, pa, k, pw, n, pk, n, new WeightPacking(cache, version: 1));
                KernelAssert.Exact(expected, kept, $"{m}×{n}×{k}, call {call}");
            }
        }
        Assert.Equal(n > GemmMicroKernel.NR ? 1 : 0, cache.Packs);
    }

    /// <summary>
    /// The epilogue (·scale + bias + residual, ReLU) that each thread of the product applies to the rows or columns it
    /// computed gives the bits of the epilogue applied to the whole product afterwards, with the weights' packing kept
    /// or not: row chunks, column chunks, one panel of columns (applied afterwards), and a product whose B is packed in
    /// two groups of blocks (6.4 M floats, past the 6 M packed ahead at once), where only the last group may apply it.
    /// </summary>
    [Theory]
    [InlineData(300, 100, 1501)]
    [InlineData(5, 300, 2101)]
    [InlineData(1, 1024, 3136)]
    [InlineData(64, 40, 77)]
    [InlineData(9, 7, 50)]
    [InlineData(1030, 1030, 6200)]
    public unsafe void TheEpilogueInTheGemmGivesTheBitsOfTheEpilogueAfter(int m, int n, int k)
    {
        var a = KernelAssert.Random(m * k, m + n);
        var w = KernelAssert.Random(k * n, k);
        var bias = KernelAssert.Random(n, 1);
        var scale = KernelAssert.Random(n, 2);
        var residual = KernelAssert.Random(m * n, 3);
        var expected = new float[m * n];
        fixed (float* pa = a, pw = w, pe = expected, pb = bias, ps = scale, pr = residual)
        {
            Gemm.Multiply(false, false, m, n, k, pa, k, pw, n, pe, n, accumulate: false);
            Epilogue.Apply(pe, m, n, pb, relu: true, ps, pr);
            foreach (var packing in new[] { WeightPacking.None, new WeightPacking(new PackedWeights(), version: 1) })
                for (int call = 0; call < 2; call++)
                {
                    var fused = KernelAssert.Random(m * n, 4 + call);
                    fixed (float* pf = fused)
                        Gemm.MultiplyWeights(m, n, k, pa, k, pw, n, pf, n, packing, new OutputEpilogue(pb, ps, pr, relu: true, pf));
                    KernelAssert.Exact(expected, fused, $"{m}×{n}×{k}, {(packing.IsCached ? "kept" : "not kept")}, call {call}");
                }
        }
        Assert.Contains(0f, expected);
        Assert.Contains(expected, v => v > 0f);
    }

    [Fact]
    public void TheGeometriesCoverEveryForwardPathThatPacks()
    {
        var (savedLevel, savedOutput) = (OpTrace.Level, OpTrace.Output);
        var trace = new StringWriter();
        try
        {
            (OpTrace.Level, OpTrace.Output) = (2, trace);
            foreach (var row in ForwardPaths())
            {
                var g = (ConvGeometry)row[1];
                ConvolutionFast.Forward(new float[g.InputSize], new float[g.KernelSize], [], g, new float[g.OutputSize],
                    packing: new WeightPacking(new PackedWeights(), 1));
            }
        }
        finally { (OpTrace.Level, OpTrace.Output) = (savedLevel, savedOutput); }
        string text = trace.ToString();
        Assert.Contains("direct", text);
        Assert.Contains("im2col of the whole batch", text);
        Assert.Contains("im2col tiles", text);
        Assert.Contains("1×1 as one GEMM", text);
        Assert.Equal(GemmMicroKernel.Selected == GemmMicroKernel.Isa.Avx512, text.Contains("1×1 with strides"));
    }
}
