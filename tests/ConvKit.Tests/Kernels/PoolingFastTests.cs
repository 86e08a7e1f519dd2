using ConvKit.Kernels;
using ConvKit.Operations;
using ConvKit.Tensors;

namespace ConvKit.Tests.Kernels;

public class PoolingFastTests
{
    /// <summary>
    /// Fast pooling against <see cref="PoolingReference"/>: forwards bit for bit; backwards bit for bit when
    /// windows of neighbouring rows do not overlap, else within rounding.
    /// </summary>
    private static void Check(PoolGeometry g, int seed, bool ties = false)
    {
        var input = KernelAssert.Random(g.InputSize, seed);
        if (ties) for (int i = 0; i < input.Length; i++) input[i] = MathF.Round(input[i] * 2);   // few distinct values: many ties
        var gradOutput = KernelAssert.Random(g.OutputSize, seed + 1);
        bool exactBackward = (g.R - 1) * g.DilationH < g.StrideH || g.OutputSize < 1 << 15;

        var expected = new float[g.OutputSize];
        var actual = KernelAssert.Random(g.OutputSize, seed + 2);
        PoolingReference.MaxForward(input, g, expected);
        PoolingFast.MaxForward(input, g, actual);
        KernelAssert.Exact(expected, actual, $"max forward {g}");

        PoolingReference.AverageForward(input, g, expected);
        PoolingFast.AverageForward(input, g, actual);
        KernelAssert.Exact(expected, actual, $"average forward {g}");

        var expectedGrad = new float[g.InputSize];
        var actualGrad = KernelAssert.Random(g.InputSize, seed + 3);
        PoolingReference.MaxBackward(gradOutput, input, g, expectedGrad);
        PoolingFast.MaxBackward(gradOutput, input, g, actualGrad);
        if (exactBackward) KernelAssert.Exact(expectedGrad, actualGrad, $"max backward {g}");
        else KernelAssert.Close(expectedGrad, actualGrad, 1e-6f, $"max backward {g}");

        PoolingReference.AverageBackward(gradOutput, g, expectedGrad);
        PoolingFast.AverageBackward(gradOutput, g, actualGrad);
        if (exactBackward) KernelAssert.Exact(expectedGrad, actualGrad, $"average backward {g}");
        else KernelAssert.Close(expectedGrad, actualGrad, 1e-6f, $"average backward {g}");
    }

    public static TheoryData<int, int, int> Windows()
    {
        var data = new TheoryData<int, int, int>();
        foreach (int size in new[] { 1, 2, 3, 5 })
            foreach (int stride in new[] { 1, 2, 3 })
                foreach (int dilation in new[] { 1, 2 })
                    data.Add(size, stride, dilation);
        return data;
    }

    [Theory, MemberData(nameof(Windows))]
    public void EveryWindowStrideDilationAndPaddingAgrees(int size, int stride, int dilation)
    {
        int seed = size * 100 + stride * 10 + dilation;
        foreach (int channels in new[] { 1, 3, 8, 17 })
        {
            Check(PoolGeometry.Create(2, 7, 17, channels, size, size, stride, stride, Padding.Valid) with { DilationH = dilation, DilationW = dilation }, seed++);
            Check(PoolGeometry.Create(1, 9, 6, channels, size, size, stride, stride, Padding.Same), seed++, ties: true);
            Check(new PoolGeometry(2, 8, 9, channels, size, Math.Max(1, size - 1), stride, 1, 1, 0, 2, 1, dilation, 1), seed++);
            Check(new PoolGeometry(1, 7, 7, channels, size, size, stride, stride, 1, 1, 1, 1, 1, dilation, CeilMode: true, CountIncludePad: true), seed++);
        }
    }

    public static TheoryData<int, int, Padding> Windows1D()
    {
        var data = new TheoryData<int, int, Padding>();
        foreach (int size in new[] { 1, 2, 3, 5 })
            foreach (int stride in new[] { 1, 2, 3 })
                foreach (var padding in new[] { Padding.Valid, Padding.Same })
                    data.Add(size, stride, padding);
        return data;
    }

    /// <summary>
    /// 1-D pools as the MaxPooling1D and AveragePooling1D layers lay them out (one row, a 1 × k window): lengths 1, 3, 7, 17, 33,
    /// 1, 3, 8 or 17 channels, batches of two and three, forward and backward. Lengths the window does not fit (valid
    /// padding) have no output and are left out.
    /// </summary>
    [Theory, MemberData(nameof(Windows1D))]
    public void Pools1DAgree(int size, int stride, Padding padding)
    {
        int seed = size * 100 + stride * 10 + (int)padding, checkedShapes = 0;
        foreach (int length in new[] { 1, 3, 7, 17, 33 })
            foreach (int channels in new[] { 1, 3, 8, 17 })
            {
                seed++;
                if (ConvArithmetic.OutputLength(padding, length, size, stride, 1) <= 0) continue;
                var g = Ops.PoolGeometry(new Shape(2 + seed % 2, 1, length, channels), (1, size), (1, stride), padding, "Pooling1D");
                Check(g, seed, ties: seed % 3 == 0);
                checkedShapes++;
            }
        Assert.True(checkedShapes >= 8, $"only {checkedShapes} shapes fit");
    }

    public static TheoryData<int, int, int> SameWindows()
    {
        var data = new TheoryData<int, int, int>();
        foreach (int size in new[] { 2, 3, 5 })
            foreach (int stride in new[] { 1, 2, 3 })
                foreach (int dilation in new[] { 1, 2, 3 })
                    data.Add(size, stride, dilation);
        return data;
    }

    /// <summary>
    /// 2-D pools with "same" padding (Keras's split: the odd cell at the end), dilated as an ONNX pool may be, on odd
    /// heights and widths, 1, 3 or 17 channels, batches of two: forward and backward. With dilation some windows lie
    /// wholly in the padding (max gives −∞, average 0, and neither passes a gradient back).
    /// </summary>
    [Theory, MemberData(nameof(SameWindows))]
    public void SamePaddedAndDilatedPoolsAgree(int size, int stride, int dilation)
    {
        int seed = size * 100 + stride * 10 + dilation;
        int[] sizes = [1, 3, 7, 17];
        foreach (int channels in new[] { 1, 3, 17 })
            for (int i = 0; i < sizes.Length; i++)
            {
                int h = sizes[i], w = sizes[(i + channels) % sizes.Length];
                var (top, bottom) = ConvArithmetic.Pads(Padding.Same, h, size, stride, dilation);
                var (left, right) = ConvArithmetic.Pads(Padding.Same, w, size, stride, dilation);
                var g = new PoolGeometry(2, h, w, channels, size, size, stride, stride, top, left, bottom, right, dilation, dilation);
                Assert.Equal(((h + stride - 1) / stride, (w + stride - 1) / stride), (g.P, g.Q));
                if (dilation == 1) Assert.Equal(PoolingGeometryOfLayer(g), g);
                Check(g, seed++, ties: seed % 3 == 0);
            }
    }

    private static PoolGeometry PoolingGeometryOfLayer(PoolGeometry g) =>
        Ops.PoolGeometry(new Shape(g.N, g.H, g.W, g.C), (g.R, g.S), (g.StrideH, g.StrideW), Padding.Same, "MaxPool2D");

    [Fact]
    public void OddShapesAgree()
    {
        int[] sizes = [1, 3, 7, 17, 33];
        var random = new Random(5);
        for (int i = 0; i < 80; i++)
        {
            int n = random.Next(1, 4), h = sizes[random.Next(sizes.Length)], w = sizes[random.Next(sizes.Length)], c = sizes[random.Next(sizes.Length)];
            int r = random.Next(1, 4), s = random.Next(1, 4), sh = random.Next(1, 4), sw = random.Next(1, 4);
            var g = PoolGeometry.Create(n, h, w, c, r, s, sh, sw, i % 2 == 0 ? Padding.Valid : Padding.Same);
            Check(g, 100 + i, ties: i % 3 == 0);
        }
    }

    /// <summary>
    /// Max pooling over NaNs (two payloads, either sign), infinities and zeros of both signs, bit for bit with the
    /// reference: the fast forward orders floats as integers and redoes windows that hold a NaN.
    /// </summary>
    [Fact]
    public void MaxPoolKeepsNaNsInfinitiesAndSignedZeros()
    {
        float[] specials =
        [
            float.NaN, BitConverter.Int32BitsToSingle(unchecked((int)0xFFC00123)), float.PositiveInfinity, float.NegativeInfinity,
            0f, -0f, -0f, 0f, -1f, 1f, float.MaxValue, -float.MaxValue, float.Epsilon, -float.Epsilon,
        ];
        var random = new Random(9);
        foreach (var g in new[]
        {
            PoolGeometry.Create(1, 9, 11, 16, 3, 3, 2, 2, Padding.Same),
            PoolGeometry.Create(2, 8, 8, 24, 2, 2, 2, 2, Padding.Valid),
            PoolGeometry.Create(1, 7, 9, 44, 3, 3, 1, 1, Padding.Same),   // four vectors of channels, then one, then four channels
        })
            foreach (double share in new[] { 0.02, 0.3, 1.0 })
            {
                // Mostly zeros of either sign, so that windows whose maximum is a zero see both.
                var input = new float[g.InputSize];
                for (int i = 0; i < input.Length; i++)
                    input[i] = random.NextDouble() < share ? specials[random.Next(specials.Length)] : random.Next(2) == 0 ? 0f : -0f;
                var expected = new float[g.OutputSize];
                var actual = KernelAssert.Random(g.OutputSize, 3);
                PoolingReference.MaxForward(input, g, expected);
                PoolingFast.MaxForward(input, g, actual);
                KernelAssert.Exact(expected, actual, $"max forward over special values, share {share}, {g}");
            }
    }

    [Fact]
    public void LargeThreadedPoolsAgree()
    {
        Check(PoolGeometry.Create(2, 64, 70, 16, 2, 2, 2, 2, Padding.Valid), 1, ties: true);       // disjoint windows: parallel rows
        Check(PoolGeometry.Create(2, 63, 71, 20, 2, 2, 2, 2, Padding.Valid), 4, ties: true);       // disjoint, the last row and column uncovered
        Check(PoolGeometry.Create(1, 90, 60, 24, 3, 3, 1, 1, Padding.Same), 2);                   // overlapping: two phases
        Check(PoolGeometry.Create(1, 91, 40, 11, 3, 3, 2, 2, Padding.Same), 3, ties: true);
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(2, 5, 3)]
    [InlineData(3, 49, 17)]
    [InlineData(4, 3000, 20)]
    public void GlobalPoolsAgree(int n, int hw, int c)
    {
        var input = KernelAssert.Random(n * hw * c, hw);
        var expected = new float[n * c];
        var actual = KernelAssert.Random(n * c, 1);
        PoolingReference.GlobalMaxForward(input, n, hw, c, expected);
        PoolingFast.GlobalMaxForward(input, n, hw, c, actual);
        KernelAssert.Exact(expected, actual, "global max");
        PoolingReference.GlobalAverageForward(input, n, hw, c, expected);
        PoolingFast.GlobalAverageForward(input, n, hw, c, actual);
        KernelAssert.Exact(expected, actual, "global average");
    }
}
