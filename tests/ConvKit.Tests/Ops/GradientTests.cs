using System.Runtime.Intrinsics;
using ConvKit.Kernels;
using ConvKit.Layers;
using ConvKit.Operations;
using ConvKit.Tensors;
using static ConvKit.Tests.GradientCheck;

namespace ConvKit.Tests.Operations;

/// <summary>Every op's backward against central finite differences.</summary>
public class GradientTests
{
    public static TheoryData<int, int, int, int, string, int> ConvCases => new()
    {
        // stride h, stride w, dilation h, dilation w, padding, groups
        { 1, 1, 1, 1, "valid", 1 },
        { 1, 1, 1, 1, "same", 1 },
        { 2, 2, 1, 1, "valid", 1 },
        { 2, 3, 1, 1, "same", 1 },
        { 1, 1, 2, 2, "valid", 1 },
        { 1, 1, 2, 1, "same", 1 },
        { 1, 1, 1, 1, "same", 2 },
        { 2, 1, 1, 1, "valid", 2 },
    };

    [Theory]
    [MemberData(nameof(ConvCases))]
    public void Conv2D(int sh, int sw, int dh, int dw, string padding, int groups)
    {
        var x = Random(1, 2, 7, 6, 4);
        var w = Random(2, 3, 2, 4 / groups, 6);
        var b = Random(3, 6);
        var pad = padding == "same" ? Padding.Same : Padding.Valid;
        Check(t => Ops.Conv2D(t[0], t[1], t[2], (sh, sw), pad, (dh, dw), groups), [x, w, b]);
        // With ReLU fused into the epilogue; its kinks sit where an output is 0, and ε = 1e-3 keeps the probes clear of them.
        Check(t => Ops.Conv2D(t[0], t[1], t[2], (sh, sw), pad, (dh, dw), groups, relu: true), [x, w, b], epsilon: 1e-3);
    }

    [Theory]
    [InlineData(1, 1, "valid")]
    [InlineData(2, 1, "same")]
    [InlineData(1, 2, "causal")]
    [InlineData(3, 1, "valid")]
    public void Conv1D(int stride, int dilation, string padding)
    {
        var x = Random(4, 2, 11, 3);
        var w = Random(5, 3, 3, 5);
        var b = Random(6, 5);
        var pad = Enum.Parse<Padding>(padding, ignoreCase: true);
        Check(t => Ops.Conv1D(t[0], t[1], t[2], stride, pad, dilation), [x, w, b]);
        Check(t => Ops.Conv1D(t[0], t[1], null, stride, pad, dilation, 1, relu: true), [x, w], epsilon: 1e-3);
    }

    public static TheoryData<int, int, int, int, int, string> DepthwiseCases => new()
    {
        // channels, depth multiplier, stride h, stride w, dilation, padding
        { 3, 1, 1, 1, 1, "same" },
        { 3, 2, 1, 1, 1, "valid" },
        { 5, 1, 2, 2, 1, "valid" },
        { 5, 2, 2, 2, 1, "same" },
        { 3, 2, 2, 1, 1, "same" },
        { 3, 2, 1, 1, 2, "same" },
        { 5, 1, 1, 1, 2, "valid" },
    };

    /// <summary>Depthwise convolution (groups = input channels, the depthwise kernels' case), with and without the fused ReLU.</summary>
    [Theory]
    [MemberData(nameof(DepthwiseCases))]
    public void DepthwiseConv2D(int channels, int multiplier, int sh, int sw, int dilation, string padding)
    {
        var x = Random(110 + channels, 2, 7, 6, channels);
        var w = Random(111 + multiplier, 3, 3, 1, channels * multiplier);
        var b = Random(112, channels * multiplier);
        var pad = Enum.Parse<Padding>(padding, ignoreCase: true);
        Assert.True(DepthwiseConvolution.Applies(Ops.Conv2DGeometry(x.Shape, w.Shape, (sh, sw), pad, (dilation, dilation), channels)));
        // Linear in each operand, so central differences are exact up to rounding at any ε: a large ε, a tight tolerance.
        Check(t => Ops.Conv2D(t[0], t[1], t[2], (sh, sw), pad, (dilation, dilation), channels), [x, w, b], epsilon: 0.5, atol: 1e-4, rtol: 1e-4);
        Check(t => Ops.Conv2D(t[0], t[1], t[2], (sh, sw), pad, (dilation, dilation), channels, relu: true), [x, w, b], epsilon: 1e-3);
    }

    public static TheoryData<string, int, int, int, int, int, int, int, int, string> FastConvolutionCases => new()
    {
        // path taken with AVX-512, N, H, W, C, K, kernel, stride, dilation h, padding
        { "Winograd F(2×2, 3×3)", 2, 8, 8, 16, 16, 3, 1, 1, "same" },
        { "Winograd F(2×2, 3×3), valid", 2, 10, 9, 16, 24, 3, 1, 1, "valid" },
        { "Winograd F(2×2, 5×5)", 2, 8, 8, 16, 16, 5, 1, 1, "same" },
        { "direct, 16 filters", 2, 7, 16, 3, 16, 3, 1, 1, "valid" },
        { "direct, 40 filters in 14-pixel blocks", 1, 6, 30, 8, 40, 3, 1, 1, "valid" },
        { "direct, 32 filters, stride 2", 2, 9, 27, 16, 32, 3, 2, 1, "valid" },
        { "direct, 24 filters, dilation along H", 2, 9, 16, 16, 24, 3, 1, 2, "valid" },
    };

    /// <summary>
    /// Shapes large enough for the fast convolution paths (Winograd, the direct row kernels with 16 filters or more), on a
    /// random subset of the input and kernel entries and every bias entry. The convolution is linear in each operand, so
    /// central differences are exact up to the float32 rounding of the outputs at any ε, and ε is large (0.5): that
    /// rounding enters the quotient divided by 2ε = 1, not by 0.02. Measured, the gradients (≈ 0.1–10) agree within
    /// 1e-4, the 5×5 Winograd case the worst: a tenth of the tolerance.
    /// </summary>
    [Theory]
    [MemberData(nameof(FastConvolutionCases))]
    public void FastConvolutionPaths(string path, int n, int h, int w, int c, int k, int size, int stride, int dilationH, string padding)
    {
        var x = Random(120 + c, n, h, w, c);
        var kernel = Random(121 + k, size, size, c, k);
        var b = Random(122, k);
        var pad = Enum.Parse<Padding>(padding, ignoreCase: true);
        var g = Ops.Conv2DGeometry(x.Shape, kernel.Shape, (stride, stride), pad, (dilationH, 1), 1);
        Assert.Equal(path.StartsWith("Winograd") && Vector256.IsHardwareAccelerated, WinogradConvolution.Applies(g));
        Check(t => Ops.Conv2D(t[0], t[1], t[2], (stride, stride), pad, (dilationH, 1), 1), [x, kernel, b],
            epsilon: 0.5, atol: 1e-3, rtol: 1e-3, maxChecksPerInput: 40);
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(2, 1, 1)]
    [InlineData(1, 2, 2)]
    public void Conv3D(int stride, int dilation, int groups)
    {
        // Kernel (2, 3, 2) over (2, 4, 5, 4, 4) with uneven pads; strides and dilations vary per axis.
        var x = Random(7, 2, 4, 5, 4, 4);
        var w = Random(8, 2, 3, 2, 4 / groups, 4);
        var b = Random(9, 4);
        Check(t => Ops.Conv3D(t[0], t[1], t[2], [stride, 1, stride], [1, dilation, 1], [1, 0, 1, 0, 1, 0], groups), [x, w, b]);
        Check(t => Ops.Conv3D(t[0], t[1], null, [1, stride, 1], [dilation, 1, 1], [0, 1, 0, 1, 0, 0], groups), [x, w]);
    }

    [Theory]
    [InlineData(2, 2, 2, 2, "valid")]
    [InlineData(3, 3, 2, 2, "valid")] // overlapping windows
    [InlineData(3, 3, 1, 1, "same")]
    [InlineData(2, 3, 2, 1, "same")]
    public void MaxPool2D(int ph, int pw, int sh, int sw, string padding)
    {
        var x = Distinct(new Shape(2, 7, 6, 3), 11);
        Check(t => Ops.MaxPool2D(t[0], (ph, pw), (sh, sw), Enum.Parse<Padding>(padding, true)), [x], epsilon: 1e-3);
    }

    [Theory]
    [InlineData(2, 2, 2, 2, "valid")]
    [InlineData(3, 3, 2, 2, "valid")]
    [InlineData(3, 3, 1, 1, "same")]
    [InlineData(2, 3, 2, 1, "same")]
    public void AveragePool2D(int ph, int pw, int sh, int sw, string padding)
    {
        var x = Random(12, 2, 7, 6, 3);
        Check(t => Ops.AveragePool2D(t[0], (ph, pw), (sh, sw), Enum.Parse<Padding>(padding, true)), [x]);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void Pools3D(bool ceilMode, bool countIncludePad)
    {
        // Kernel (2, 3, 2), strides (1, 2, 2), dilation 2 on depth, uneven pads: windows overlap, cross the padding and (in ceil mode) the end.
        int[] kernel = [2, 3, 2], strides = [1, 2, 2], dilations = [2, 1, 1], pads = [1, 0, 1, 0, 1, 1];
        Check(t => Ops.MaxPool3D(t[0], kernel, strides, dilations, pads, ceilMode), [Distinct(new Shape(2, 4, 5, 4, 2), 15)], epsilon: 1e-3);
        Check(t => Ops.AveragePool3D(t[0], kernel, strides, dilations, pads, ceilMode, countIncludePad), [Random(16, 2, 4, 5, 4, 2)]);
    }

    [Theory]
    [InlineData(2, null, "valid")]
    [InlineData(3, 2, "valid")]     // overlapping windows
    [InlineData(3, 1, "same")]
    [InlineData(2, 3, "same")]
    [InlineData(5, 2, "same")]
    [InlineData(1, 2, "valid")]
    public void Pools1D(int poolSize, int? strides, string padding)
    {
        // Through the 1-D layers themselves: (N, L, C) viewed as (N, 1, L, C), pooled with a (1, k) window, viewed back.
        // Max is linear between ties (0.05 apart, against ε = 1e-3) and average is linear: tolerances far below a 1 % error.
        var pad = Enum.Parse<Padding>(padding, true);
        Check(t => new MaxPooling1D(poolSize, strides, pad).Call(t[0]), [Distinct(new Shape(2, 11, 3), 17)], epsilon: 1e-3, atol: 1e-3, rtol: 1e-3);
        Check(t => new AveragePooling1D(poolSize, strides, pad).Call(t[0]), [Random(18, 2, 11, 3)], epsilon: 0.5, atol: 1e-5, rtol: 1e-4);
        Check(t => new AveragePooling1D(poolSize, strides, pad).Call(t[0]), [Random(19, 3, 7, 1)], epsilon: 0.5, atol: 1e-5, rtol: 1e-4);
    }

    [Fact]
    public void GlobalPools()
    {
        Check(t => Ops.GlobalMaxPool(t[0]), [Distinct(new Shape(2, 4, 3, 5), 13)], epsilon: 1e-3);
        Check(t => Ops.GlobalAveragePool(t[0]), [Random(14, 2, 4, 3, 5)]);
    }

    [Fact]
    public void DenseAndShapes()
    {
        Check(t => Ops.Dense(t[0], t[1], t[2]), [Random(15, 4, 6), Random(16, 6, 3), Random(17, 3)]);
        Check(t => Ops.Dense(t[0], t[1], t[2], relu: true), [Random(35, 4, 6), Random(36, 6, 3), Random(37, 3)], epsilon: 1e-3);
        Check(t => Ops.Dense(t[0], t[1], null, relu: true), [Random(15, 2, 3, 6), Random(16, 6, 5)], epsilon: 1e-3);
        Check(t => Ops.MatMul(t[0], t[1]), [Random(18, 2, 3, 5), Random(19, 5, 4)]);
        Check(t => Ops.Flatten(t[0]), [Random(20, 2, 3, 4, 2)]);
        Check(t => Ops.Reshape(t[0], 4, -1), [Random(21, 2, 3, 4)]);
        Check(t => Ops.Transpose(t[0], 0, 3, 1, 2), [Random(22, 2, 3, 4, 5)]);
        Check(t => Ops.Concatenate([t[0], t[1]], -1), [Random(23, 2, 3, 2), Random(24, 2, 3, 4)]);
        Check(t => Ops.Concatenate([t[0], t[1]], 1), [Random(25, 2, 3, 2), Random(26, 2, 1, 2)]);
    }

    [Fact]
    public void BiasAdd()
    {
        // Linear: a large ε and a tight tolerance, as for the convolutions.
        Check(t => Ops.BiasAdd(t[0], t[1]), [Random(100, 4, 5), Random(101, 5)], epsilon: 0.5, atol: 1e-5, rtol: 1e-4);
        Check(t => Ops.BiasAdd(t[0], t[1]), [Random(102, 2, 3, 2, 7), Random(103, 7)], epsilon: 0.5, atol: 1e-5, rtol: 1e-4);
        Check(t => Ops.BiasAdd(t[0], t[1]), [Random(104, 1, 1), Random(105, 1)], epsilon: 0.5, atol: 1e-5, rtol: 1e-4);
    }

    [Fact]
    public void Arithmetic()
    {
        Check(t => Ops.Add(t[0], t[1]), [Random(30, 3, 4), Random(31, 3, 4)]);
        Check(t => Ops.Add(t[0], t[1]), [Random(32, 2, 3, 4), Random(33, 4)]); // broadcast
        Check(t => Ops.Subtract(t[0], t[1]), [Random(34, 3, 1), Random(35, 1, 4)]);
        Check(t => Ops.Multiply(t[0], t[1]), [Random(36, 3, 4), Random(37, 3, 4)]);
        Check(t => Ops.Multiply(t[0], t[1]), [Random(38, 2, 3, 4), Random(39, 3, 1)]);
        var positive = Tensor.RandomUniform(new Shape(3, 4), 0.5f, 2f, 40);
        Check(t => Ops.Divide(t[0], t[1]), [Random(41, 3, 4), positive], epsilon: 1e-3);
        Check(t => Ops.Log(t[0]), [Tensor.RandomUniform(new Shape(3, 4), 0.5f, 2f, 42)], epsilon: 1e-3);
        Check(t => Ops.Square(t[0]), [Random(43, 3, 4)]);
        Check(t => Ops.Scale(t[0], -2.5f), [Random(44, 3, 4)]);
        Check(t => Ops.Clip(t[0], -0.5f, 0.5f), [Distinct(new Shape(3, 4), 45, 0.13f)], epsilon: 1e-3);
        Check(t => Ops.Exp(t[0]), [Random(46, 3, 4)], epsilon: 1e-3);
        Check(t => Ops.Sqrt(t[0]), [Tensor.RandomUniform(new Shape(3, 4), 0.5f, 2f, 47)], epsilon: 1e-3);
        // Interleaved values (a at even multiples of 0.05, b at odd) so no pair ties or crosses within epsilon.
        var (a, b) = (Distinct(new Shape(2, 3, 4), 48, 0.1f), Tensor.FromArray(Distinct(new Shape(3, 1), 49, 0.1f).ToArray().Select(v => v + 0.05f).ToArray(), 3, 1));
        Check(t => Ops.Maximum(t[0], t[1]), [a, b], epsilon: 1e-3);
        Check(t => Ops.Minimum(t[0], t[1]), [a, b], epsilon: 1e-3);
    }

    [Fact]
    public void Activations()
    {
        var x = Distinct(new Shape(3, 5), 50, 0.21f);
        Check(t => Ops.Relu(t[0]), [x]);
        Check(t => Ops.LeakyRelu(t[0], 0.1f), [x]);
        Check(t => Ops.Elu(t[0]), [x]);
        Check(t => Ops.Sigmoid(t[0]), [Random(51, 3, 5)]);
        Check(t => Ops.Tanh(t[0]), [Random(52, 3, 5)]);
        Check(t => Ops.Softmax(t[0]), [Random(53, 3, 5)]);
        Check(t => Ops.Softmax(t[0], 0), [Random(54, 3, 5)]);
        Check(t => Ops.LogSoftmax(t[0]), [Random(55, 3, 5)]);
        Check(t => Ops.LogSoftmax(t[0], 1), [Random(56, 2, 3, 5)]);
    }

    [Fact]
    public void Reductions()
    {
        Check(t => Ops.Sum(t[0]), [Random(60, 3, 4)]);
        Check(t => Ops.Mean(t[0], [1]), [Random(61, 3, 4, 2)]);
        Check(t => Ops.Sum(t[0], [0, 2], keepDims: true), [Random(62, 3, 4, 2)]);
        Check(t => Ops.Max(t[0], [1]), [Distinct(new Shape(3, 4, 2), 64)], epsilon: 1e-3);
        Check(t => Ops.Min(t[0], [0, 2], keepDims: true), [Distinct(new Shape(3, 4, 2), 65)], epsilon: 1e-3);
        Check(t => Ops.Max(t[0]), [Distinct(new Shape(3, 4), 66)], epsilon: 1e-3);
        Check(t => Ops.GramMatrix(t[0]), [Random(63, 2, 3, 4, 5)]);
    }

    [Fact]
    public void Dropout()
    {
        // The mask is drawn afresh each call, so the check replays the same random stream each time.
        Check(t => Ops.Dropout(t[0], 0.3f, new RandomSource(5)), [Random(70, 4, 6)]);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void BatchNorm(bool training)
    {
        var x = Random(80, 4, 3, 2, 5);
        var gamma = Random(81, 5);
        var beta = Random(82, 5);
        var mean = Random(83, 5);
        var variance = Tensor.RandomUniform(new Shape(5), 0.5f, 2f, 84);
        Check(t => Ops.BatchNorm(t[0], t[1], t[2], mean, variance, 1e-3f, training).Output, [x, gamma, beta], epsilon: 1e-3, atol: 5e-3);
    }

    [Fact]
    public void Losses()
    {
        var labels = Tensor.FromArray([2, 0, 1, 2], 4);
        var oneHot = Tensor.FromArray([0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1], 4, 3);
        Check(t => ConvKit.Training.Losses.SparseCategoricalCrossentropy(fromLogits: true).Compute(labels, t[0]), [Random(90, 4, 3)]);
        var probabilities = Ops.Softmax(Random(91, 4, 3));
        Check(t => ConvKit.Training.Losses.SparseCategoricalCrossentropy().Compute(labels, t[0]), [probabilities], epsilon: 1e-3);
        Check(t => ConvKit.Training.Losses.CategoricalCrossentropy(fromLogits: true).Compute(oneHot, t[0]), [Random(92, 4, 3)]);
        Check(t => ConvKit.Training.Losses.CategoricalCrossentropy().Compute(oneHot, t[0]), [probabilities], epsilon: 1e-3);
        Check(t => ConvKit.Training.Losses.MeanSquaredError().Compute(t[1], t[0]), [Random(93, 4, 3), Random(94, 4, 3)]);
    }
}
