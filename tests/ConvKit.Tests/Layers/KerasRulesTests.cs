using ConvKit.Kernels;
using ConvKit.Layers;
using ConvKit.Operations;
using ConvKit.Tensors;

namespace ConvKit.Tests.Layers;

/// <summary>
/// Layers against Keras's rules (keras/src/layers/convolutional/base_conv.py, ops/operation_utils.py,
/// layers/normalization/batch_normalization.py); expected numbers are worked out from the formulas here.
/// </summary>
public class KerasRulesTests
{
    private static Shape S(params int[] d) => new(d);

    [Theory]
    // n, k, stride, dilation: valid floor((n − d(k−1) − 1)/s) + 1, same ceil(n/s)
    [InlineData(28, 5, 1, 1)]
    [InlineData(28, 3, 2, 1)]
    [InlineData(7, 3, 3, 1)]
    [InlineData(17, 3, 1, 2)]
    [InlineData(33, 4, 2, 1)]
    [InlineData(1, 1, 1, 1)]
    public void ConvOutputSizesFollowKerasFormulas(int n, int k, int s, int d)
    {
        int valid = (n - d * (k - 1) - 1) / s + 1;
        int same = (n + s - 1) / s;
        Assert.Equal(S(Shape.Unknown, valid, valid, 4), new Conv2D(4, k, strides: s, dilationRate: d).ComputeOutputShape(S(Shape.Unknown, n, n, 3)));
        Assert.Equal(S(Shape.Unknown, same, same, 4), new Conv2D(4, k, strides: s, padding: Padding.Same, dilationRate: d).ComputeOutputShape(S(Shape.Unknown, n, n, 3)));
        Assert.Equal(S(2, valid, 4), new Conv1D(4, k, strides: s, dilationRate: d).Call(Tensor.Zeros(2, n, 3)).Shape);
        Assert.Equal(S(2, same, same, 4), new Conv2D(4, k, strides: s, padding: Padding.Same, dilationRate: d).Call(Tensor.Zeros(2, n, n, 3)).Shape);
    }

    [Fact]
    public void SamePaddingPutsTheOddPixelAtTheEnd()
    {
        // n = 5, k = 4, s = 2: out = 3, total = (3 − 1)·2 + 4 − 5 = 3, left 1, right 2.
        Assert.Equal((1, 2), ConvArithmetic.SamePadding(5, 4, 2, 1));
        Assert.Equal((0, 0), ConvArithmetic.SamePadding(4, 2, 2, 1));
        Assert.Equal((2, 2), ConvArithmetic.SamePadding(10, 3, 1, 2));

        // A 2×2 filter of ones over a 3×3 input with same padding: the last row and column see zeros after them.
        var x = Tensor.FromArray([1, 2, 3, 4, 5, 6, 7, 8, 9], 1, 3, 3, 1);
        var y = Ops.Conv2D(x, Tensor.Ones(2, 2, 1, 1), padding: Padding.Same);
        Assert.Equal(new float[] { 12, 16, 9, 24, 28, 15, 15, 17, 9 }, y.ToArray());
    }

    [Fact]
    public void WeightShapesAndParameterCounts()
    {
        var conv = new Conv2D(16, 5, useBias: false);
        conv.Build(S(Shape.Unknown, 1920, 1080, 3));
        Assert.Equal(S(5, 5, 3, 16), conv.Weights[0].Shape);
        Assert.Equal(5 * 5 * 3 * 16, conv.CountParams());

        var withBias = new Conv2D(16, (3, 5));
        withBias.Build(S(Shape.Unknown, 32, 32, 4));
        Assert.Equal([S(3, 5, 4, 16), S(16)], withBias.Weights.Select(w => w.Shape));
        Assert.Equal(3 * 5 * 4 * 16 + 16, withBias.CountParams());

        var grouped = new Conv2D(8, 3, groups: 2);
        grouped.Build(S(Shape.Unknown, 9, 9, 4));
        Assert.Equal(S(3, 3, 2, 8), grouped.Kernel!.Shape);

        var conv1 = new Conv1D(6, 3);
        conv1.Build(S(Shape.Unknown, 20, 5));
        Assert.Equal([S(3, 5, 6), S(6)], conv1.Weights.Select(w => w.Shape));

        var dense = new Dense(10);
        dense.Build(S(Shape.Unknown, 3136));
        Assert.Equal([S(3136, 10), S(10)], dense.Weights.Select(w => w.Shape));
        Assert.Equal(31_370, dense.CountParams());
    }

    [Fact]
    public void KernelsStartGlorotUniformAndBiasesZero()
    {
        var conv = new Conv2D(64, 5);
        conv.Build(S(Shape.Unknown, 28, 28, 32));
        // fan_in = 5·5·32 = 800, fan_out = 5·5·64 = 1600: limit √(6/2400) = 0.05.
        double limit = Math.Sqrt(6.0 / (800 + 1600));
        var values = conv.Kernel!.Value.ToArray();
        Assert.All(values, v => Assert.InRange(v, -limit, limit));
        Assert.InRange(values.Max(), 0.99 * limit, limit);
        double variance = values.Average(v => (double)v * v);
        Assert.InRange(variance, 0.95 * limit * limit / 3, 1.05 * limit * limit / 3);
        Assert.All(conv.Bias!.Value.ToArray(), v => Assert.Equal(0f, v));
        Assert.Equal((800.0, 1600.0), Initializer.ComputeFans(S(5, 5, 32, 64)));
        Assert.Equal((3136.0, 1024.0), Initializer.ComputeFans(S(3136, 1024)));
    }

    [Fact]
    public void PoolStridesDefaultToThePoolSize()
    {
        var pool = new MaxPool2D(2);
        Assert.Equal(new Size2(2, 2), pool.Strides);
        Assert.Equal(S(1, 958, 538, 16), pool.ComputeOutputShape(S(1, 1916, 1076, 16)));
        Assert.Equal(S(Shape.Unknown, 4, 4, 3), new MaxPool2D(3, 2, Padding.Same).ComputeOutputShape(S(Shape.Unknown, 7, 7, 3)));
        Assert.Equal(S(Shape.Unknown, 3, 3, 3), new AveragePooling2D(3, 2).ComputeOutputShape(S(Shape.Unknown, 7, 7, 3)));
        Assert.Equal(S(Shape.Unknown, 3), new GlobalAveragePooling2D().ComputeOutputShape(S(Shape.Unknown, 7, 7, 3)));
        Assert.Equal(S(2, 5, 3), new MaxPooling1D(2).Call(Tensor.Zeros(2, 11, 3)).Shape);
        Assert.Equal(S(2, 6, 3), new AveragePooling1D(2, padding: Padding.Same).Call(Tensor.Zeros(2, 11, 3)).Shape);
    }

    [Fact]
    public void MaxPoolingPadsWithMinusInfinityAndAveragePoolingCountsRealCells()
    {
        var negative = Tensor.FromArray([-1, -2, -3, -4, -5, -6, -7, -8, -9], 1, 3, 3, 1);
        var max = new MaxPool2D(2, padding: Padding.Same).Call(negative);
        Assert.Equal(new float[] { -1, -3, -7, -9 }, max.ToArray());

        var x = Tensor.FromArray([1, 2, 3, 4, 5, 6, 7, 8, 9], 1, 3, 3, 1);
        var average = new AveragePooling2D(2, padding: Padding.Same).Call(x);
        Assert.Equal(new float[] { 3, 4.5f, 7.5f, 9 }, average.ToArray());
        Assert.Equal(new float[] { 9, 5 }, new GlobalMaxPooling2D().Call(Tensor.FromArray([1, 5, 9, 2], 1, 2, 1, 2)).ToArray());
        Assert.Equal(new float[] { 5, 3.5f }, new GlobalAveragePooling2D().Call(Tensor.FromArray([1, 5, 9, 2], 1, 2, 1, 2)).ToArray());
    }

    [Fact]
    public void DropoutScalesOnlyInTraining()
    {
        var x = Tensor.Ones(1, 10_000);
        var dropout = new Dropout(0.4f, seed: 3);
        Assert.Same(x, dropout.Call(x));
        var y = dropout.Call(x, training: true).ToArray();
        Assert.All(y, v => Assert.True(v == 0f || Math.Abs(v - 1 / 0.6f) < 1e-6));
        double dropped = y.Count(v => v == 0) / (double)y.Length;
        Assert.InRange(dropped, 0.37, 0.43);
        Assert.InRange(y.Average(), 0.95, 1.05);
    }

    [Fact]
    public void BatchNormalizationKeepsKerasWeightsAndMovingAverages()
    {
        var bn = new BatchNormalization();
        Assert.Equal(0.99f, bn.Momentum);
        Assert.Equal(1e-3f, bn.Epsilon);
        var x = Tensor.RandomNormal(new Shape(64, 3, 3, 8), 5f, 2f, seed: 9);
        var y = bn.Call(x, training: true);
        Assert.Equal(["gamma", "beta", "moving_mean", "moving_variance"], bn.Weights.Select(w => w.Name.Split('/')[1]));
        Assert.Equal(4 * 8, bn.CountParams());
        Assert.Equal(2, bn.TrainableWeights.Count);
        Assert.Equal(2, bn.NonTrainableWeights.Count);

        // Normalized with the batch statistics: each channel of y has mean 0 and variance var/(var + ε) ≈ 1.
        var values = y.ToArray();
        for (int c = 0; c < 8; c++)
        {
            var channel = values.Where((_, i) => i % 8 == c).ToArray();
            Assert.InRange(channel.Average(), -1e-4, 1e-4);
            Assert.InRange(channel.Average(v => (double)v * v), 0.99, 1.0);
        }
        // moving = 0.99 · initial + 0.01 · batch statistic.
        var input = x.ToArray();
        double mean0 = input.Where((_, i) => i % 8 == 0).Average(v => (double)v);
        double var0 = input.Where((_, i) => i % 8 == 0).Average(v => (v - mean0) * (v - mean0));
        Assert.Equal(0.01 * mean0, bn.MovingMean!.Value.Span[0], 4);
        Assert.Equal(0.99 + 0.01 * var0, bn.MovingVariance!.Value.Span[0], 4);

        // Inference uses the moving statistics: y = (x − mm)/√(mv + ε).
        var inference = bn.Call(x);
        float expected = (x[0, 0, 0, 0] - bn.MovingMean.Value.Span[0]) / MathF.Sqrt(bn.MovingVariance.Value.Span[0] + 1e-3f);
        Assert.Equal(expected, inference[0, 0, 0, 0], 4);
    }

    [Fact]
    public void ImpossibleConfigurationsAreRefusedWithTheReason()
    {
        Assert.Contains("strides=(0, 0)", Assert.Throws<ArgumentException>(() => new Conv2D(4, 3, strides: 0)).Message);
        Assert.Contains("filters=0", Assert.Throws<ArgumentException>(() => new Conv2D(0, 3)).Message);
        Assert.Contains("kernel_size=(-1, -1)", Assert.Throws<ArgumentException>(() => new Conv2D(4, -1)).Message);
        Assert.Contains("dilation_rate", Assert.Throws<ArgumentException>(() => new Conv2D(4, 3, strides: 2, dilationRate: 2)).Message);
        Assert.Contains("groups", Assert.Throws<ArgumentException>(() => new Conv2D(5, 3, groups: 2)).Message);
        Assert.Throws<ArgumentException>(() => new MaxPool2D(0));
        Assert.Throws<ArgumentException>(() => new Dense(-3));
        Assert.Throws<ArgumentException>(() => new Dropout(1.5f));

        var tooBig = new Conv2D(4, 7);
        var error = Assert.Throws<ArgumentException>(() => tooBig.Build(S(Shape.Unknown, 5, 5, 3)));
        Assert.Contains(tooBig.Name, error.Message);
        Assert.Contains("(None, 5, 5, 3)", error.Message);
        Assert.Contains("Conv2D", Assert.Throws<ArgumentException>(() => new Conv2D(4, 3).Call(Tensor.Zeros(28, 28, 1))).Message);
    }

    [Fact]
    public void WrongInputsNameTheLayerAndBothShapes()
    {
        var conv = new Conv2D(16, 5, useBias: false, name: "conv2d_1");
        conv.Call(Tensor.Zeros(1, 32, 32, 3));
        var error = Assert.Throws<ArgumentException>(() => conv.Call(Tensor.Zeros(1, 28, 28, 1)));
        Assert.Equal("Conv2D 'conv2d_1' was built for input (None, 32, 32, 3); received (1, 28, 28, 1).", error.Message);

        var free = new Conv2D(16, 5, useBias: false, name: "free");
        free.Build(S(Shape.Unknown, Shape.Unknown, Shape.Unknown, 3));
        var channels = Assert.Throws<ArgumentException>(() => free.Call(Tensor.Zeros(1, 28, 28, 1)));
        Assert.Contains("'free'", channels.Message);
        Assert.Contains("(1, 28, 28, 1)", channels.Message);

        var dense = new Dense(4, name: "head");
        dense.Call(Tensor.Zeros(2, 8));
        Assert.Contains("'head'", Assert.Throws<ArgumentException>(() => dense.Call(Tensor.Zeros(2, 9))).Message);
        Assert.Contains("Add", Assert.Throws<ArgumentException>(() => new Add().Call([Tensor.Zeros(2, 3), Tensor.Zeros(2, 4)])).Message);
    }

    [Fact]
    public void ActivationsByNameAndAsLayers()
    {
        var x = Tensor.FromArray([-1, 0, 2], 1, 3);
        Assert.Equal(new float[] { 0, 0, 2 }, new Activation(Activation.Relu).Call(x).ToArray());
        Assert.Equal(new float[] { 0, 0, 2 }, new Activation("relu").Call(x).ToArray());
        Assert.Equal(1f, new Activation("softmax").Call(x).ToArray().Sum(), 5);
        // Dense with an identity kernel shows its activation: relu([-1, 0, 2]) = [0, 0, 2].
        var dense = new Dense(3, activation: "relu");
        dense.Build(new Shape(Shape.Unknown, 3));
        dense.Kernel!.Assign(Tensor.FromArray([1, 0, 0, 0, 1, 0, 0, 0, 1], 3, 3));
        Assert.Equal(new float[] { 0, 0, 2 }, dense.Call(x).ToArray());
        Assert.Throws<ArgumentException>(() => ActivationFunction.FromName("swishy"));
    }

    [Fact]
    public void MergeLayers()
    {
        var a = Tensor.RandomNormal(S(2, 3, 3, 4), seed: 1);
        var b = Tensor.RandomNormal(S(2, 3, 3, 4), seed: 2);
        var sum = new Add().Call([a, b]);
        Assert.Equal(a[1, 2, 2, 3] + b[1, 2, 2, 3], sum[1, 2, 2, 3], 6);
        var joined = new Concatenate().Call([a, Tensor.Zeros(2, 3, 3, 2)]);
        Assert.Equal(S(2, 3, 3, 6), joined.Shape);
        Assert.Equal(a[1, 1, 1, 3], joined[1, 1, 1, 3]);
        Assert.Equal(S(4, 3, 3, 4), new Concatenate(axis: 0).Call([a, b]).Shape);
    }
}

/// <summary>Auto-names depend on a process-wide counter, so these tests run alone.</summary>
[CollectionDefinition(nameof(NamingCollection), DisableParallelization = true)]
public class NamingCollection;

[Collection(nameof(NamingCollection))]
public class NamingTests
{
    [Fact]
    public void LayersAreNamedLikeKeras()
    {
        Names.ClearSession();
        Assert.Equal("conv2d", new Conv2D(1, 1).Name);
        Assert.Equal("conv2d_1", new Conv2D(1, 1).Name);
        Assert.Equal("max_pooling2d", new MaxPool2D().Name);
        Assert.Equal("max_pooling2d_1", new MaxPooling2D().Name);
        Assert.Equal("MaxPooling2D", new MaxPool2D().TypeName);
        Assert.Equal("average_pooling2d", new AveragePooling2D().Name);
        Assert.Equal("global_average_pooling2d", new GlobalAveragePooling2D().Name);
        Assert.Equal("global_max_pooling2d", new GlobalMaxPool2D().Name);
        Assert.Equal("batch_normalization", new BatchNormalization().Name);
        Assert.Equal("conv1d", new Conv1D(1, 1).Name);
        Assert.Equal("dense", new Dense(1).Name);
        Assert.Equal("flatten", new Flatten().Name);
        Assert.Equal("dropout", new Dropout(0.1f).Name);
        Assert.Equal("activation", new Activation("relu").Name);
        Assert.Equal("add", new Add().Name);
        Assert.Equal("concatenate", new Concatenate().Name);
        Assert.Equal("input_layer", new Input(3).Layer.Name);
        Assert.Equal("my_conv", new Conv2D(1, 1, name: "my_conv").Name);
        Assert.Equal("conv2d_2", new Conv2D(1, 1).Name);
        Assert.Equal("batch_normalization", Names.ToSnakeCase("BatchNormalization"));
    }
}
