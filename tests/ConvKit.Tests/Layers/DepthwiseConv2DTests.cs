using ConvKit.Autograd;
using ConvKit.IO;
using ConvKit.Kernels;
using ConvKit.Layers;
using ConvKit.Models;
using ConvKit.Operations;
using ConvKit.Tensors;
using ConvKit.Training;

namespace ConvKit.Tests.Layers;

/// <summary>Keras's DepthwiseConv2D: weight shapes and counts, output shapes, arguments, and what it computes.</summary>
public class DepthwiseConv2DTests
{
    private static Shape S(params int[] d) => new(d);

    [Fact]
    public void WeightShapesParameterCountsAndOutputShapes()
    {
        var layer = new DepthwiseConv2D(3, depthMultiplier: 2);
        layer.Build(S(Shape.Unknown, 8, 8, 3));
        Assert.Equal([S(3, 3, 3, 2), S(6)], layer.Weights.Select(w => w.Shape));
        Assert.Equal(["depthwise_kernel", "bias"], layer.Weights.Select(w => w.Name.Split('/')[^1].Split(':')[0]));
        Assert.Equal(3 * 3 * 3 * 2 + 6, layer.CountParams());
        Assert.Equal(S(Shape.Unknown, 6, 6, 6), layer.ComputeOutputShape(S(Shape.Unknown, 8, 8, 3)));

        var same = new DepthwiseConv2D((3, 5), strides: 2, padding: Padding.Same, useBias: false);
        Assert.Equal(S(4, 5, 4, 32), same.Call(Tensor.Zeros(4, 9, 7, 32)).Shape);
        Assert.Equal(3 * 5 * 32, same.CountParams());

        var dilated = new DepthwiseConv2D(3, dilationRate: 2, depthMultiplier: 3);
        Assert.Equal(S(1, 6, 6, 12), dilated.Call(Tensor.Zeros(1, 10, 10, 4)).Shape);
    }

    [Fact]
    public void BadArgumentsAndInputsGiveClearErrors()
    {
        Assert.Contains("depth_multiplier=0", Assert.Throws<ArgumentException>(() => new DepthwiseConv2D(3, depthMultiplier: 0)).Message);
        Assert.Contains("strides=(0, 0)", Assert.Throws<ArgumentException>(() => new DepthwiseConv2D(3, strides: 0)).Message);
        Assert.Contains("dilation_rate > 1", Assert.Throws<ArgumentException>(() => new DepthwiseConv2D(3, strides: 2, dilationRate: 2)).Message);
        var layer = new DepthwiseConv2D(3, name: "dw");
        layer.Call(Tensor.Zeros(1, 5, 5, 4));
        var wrong = Assert.Throws<ArgumentException>(() => layer.Call(Tensor.Zeros(1, 5, 5, 3)));
        Assert.Contains("'dw'", wrong.Message);
        Assert.Contains("(1, 5, 5, 3)", wrong.Message);
        Assert.Contains("5, 5, 4)", wrong.Message);
        Assert.Contains("negative or zero", Assert.Throws<ArgumentException>(() => new DepthwiseConv2D(5).Call(Tensor.Zeros(1, 3, 3, 2))).Message);
    }

    /// <summary>
    /// Output channel c·M + m is input channel c convolved with kernel[·, ·, c, m], then the bias, against a direct sum;
    /// and the layer's output and gradients are those of a Conv2D with a group per channel holding the same kernel.
    /// </summary>
    [Fact]
    public void ComputesAGroupPerChannelAndItsGradients()
    {
        const int channels = 3, multiplier = 2;
        var layer = new DepthwiseConv2D(3, padding: Padding.Same, depthMultiplier: multiplier);
        var input = Tensor.RandomNormal(S(2, 5, 6, channels), seed: 1);
        layer.Build(input.Shape);
        layer.Bias!.Assign(Tensor.RandomNormal(S(channels * multiplier), seed: 4));   // not zeros, so the bias is checked
        var output = layer.Call(input);
        var kernel = layer.DepthwiseKernel!.Value.ToArray();
        var bias = layer.Bias!.Value.ToArray();
        var x = input.ToArray();
        var y = output.ToArray();
        for (int n = 0; n < 2; n++)
            for (int p = 0; p < 5; p++)
                for (int q = 0; q < 6; q++)
                    for (int c = 0; c < channels; c++)
                        for (int m = 0; m < multiplier; m++)
                        {
                            double sum = bias[c * multiplier + m];
                            for (int r = 0; r < 3; r++)
                                for (int s = 0; s < 3; s++)
                                {
                                    int h = p + r - 1, w = q + s - 1;
                                    if (h < 0 || h >= 5 || w < 0 || w >= 6) continue;
                                    sum += x[((n * 5 + h) * 6 + w) * channels + c] * kernel[((r * 3 + s) * channels + c) * multiplier + m];
                                }
                            float actual = y[((n * 5 + p) * 6 + q) * channels * multiplier + c * multiplier + m];
                            Assert.True(Math.Abs(sum - actual) <= 1e-5, $"out[{n},{p},{q},{c * multiplier + m}] = {actual}, expected {sum}");
                        }

        var grouped = new Conv2D(channels * multiplier, 3, padding: Padding.Same, groups: channels);
        grouped.Build(input.Shape);
        grouped.Kernel!.Assign(Tensor.FromArray(kernel, 3, 3, 1, channels * multiplier));
        grouped.Bias!.Assign(layer.Bias.Value);
        var (depthwiseOutput, depthwiseGradients) = Gradients(layer, input);
        var (groupedOutput, groupedGradients) = Gradients(grouped, input);
        Assert.Equal(groupedOutput.ToArray(), depthwiseOutput.ToArray());
        for (int i = 0; i < groupedGradients.Length; i++) Assert.Equal(groupedGradients[i].ToArray(), depthwiseGradients[i].ToArray());
        Assert.Equal(S(3, 3, channels, multiplier), depthwiseGradients[1].Shape);
    }

    /// <summary>The output, and the gradients of Σ output · r (r fixed random) for the input and every weight.</summary>
    private static (Tensor Output, Tensor[] Gradients) Gradients(Layer layer, Tensor input)
    {
        using var tape = new GradientTape();
        tape.Watch(input);
        var output = layer.Call(input, training: true);
        var loss = Ops.Sum(Ops.Multiply(output, Tensor.RandomUniform(output.Shape, -1f, 1f, 9)));
        return (output, [.. tape.Gradient(loss, [input, .. layer.TrainableWeights.Select(w => w.Value)])]);
    }

    /// <summary>A MobileNet-style block trains, and saves and reloads with the same predictions.</summary>
    [Fact]
    public void AModelWithDepthwiseLayersTrainsSavesAndReloads()
    {
        var model = new Sequential(
            new Input(12, 12, 3),
            new Conv2D(8, 3, padding: Padding.Same, activation: Activation.Relu),
            new DepthwiseConv2D(3, padding: Padding.Same, depthMultiplier: 2, activation: Activation.Relu),
            new Conv2D(8, 1),
            new GlobalAveragePooling2D(),
            new Dense(3));
        string summary = model.SummaryText();
        Assert.Contains("(DepthwiseConv2D)", summary);
        Assert.Contains("(None, 12, 12, 16)", summary);
        Assert.Contains("160", summary);   // 3·3·8·2 + 16
        model.Compile(new Adam(1e-2f), Losses.SparseCategoricalCrossentropy(fromLogits: true));
        var images = Tensor.RandomNormal(S(24, 12, 12, 3), seed: 5);
        var labels = Tensor.FromArray(Enumerable.Range(0, 24).Select(i => (float)(i % 3)).ToArray(), 24);
        double first = model.Evaluate(images, labels, 24)["loss"];
        for (int step = 0; step < 30; step++) model.TrainOnBatch(images, labels);
        Assert.True(model.Evaluate(images, labels, 24)["loss"] < first * 0.8);

        using var dir = new TempDirectory();
        ModelFile.Save(model, dir.File("dw.safetensors"));
        Assert.Contains("\"class_name\": \"DepthwiseConv2D\"", ModelFile.ArchitectureJson(model));
        var loaded = ModelFile.Load(dir.File("dw.safetensors")).Model;
        Assert.Equal(model.Predict(images).ToArray(), loaded.Predict(images).ToArray());
        var reloaded = Assert.IsType<DepthwiseConv2D>(loaded.Layers.Single(l => l is DepthwiseConv2D));
        Assert.Equal(2, reloaded.DepthMultiplier);
        Assert.Equal(Padding.Same, reloaded.Padding);
    }
}
