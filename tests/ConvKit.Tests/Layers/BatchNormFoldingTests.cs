using ConvKit.Autograd;
using ConvKit.Kernels;
using ConvKit.Layers;
using ConvKit.Models;
using ConvKit.Tensors;
using ConvKit.Tests.Kernels;

namespace ConvKit.Tests.Layers;

/// <summary>
/// At inference a model runs Conv2D → BatchNormalization (→ ReLU) as one convolution with the normalization's scale and
/// shift and the ReLU in its epilogue. The result must match the layers run one by one (under a gradient tape, which
/// turns folding off) to the last few bits, and folding must happen only where it is invisible. The tests read the op
/// trace and switch the kernels, both global, so they run alone with the trace tests.
/// </summary>
[Collection(nameof(ConvKit.Tests.Autograd.OpTraceCollection))]
public class BatchNormFoldingTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FoldedConvolutionsMatchTheLayersRunOneByOne(bool reference)
    {
        // Every pattern: conv → BN → ReLU, conv (with bias) → BN, a 1×1 conv → BN feeding an Add, and a 1-filter conv.
        var input = new Input(11, 10, 3);
        var a = new Activation(Activation.Relu).Call(new BatchNormalization().Call(new Conv2D(8, new Size2(3, 3), padding: Padding.Same, useBias: false).Call(input)));
        var b = new BatchNormalization(epsilon: 1e-5f).Call(new Conv2D(8, new Size2(3, 3), strides: new Size2(2, 2), padding: Padding.Same).Call(a));
        var shortcut = new BatchNormalization().Call(new Conv2D(8, new Size2(1, 1), strides: new Size2(2, 2)).Call(a));
        var sum = new Activation(Activation.Relu).Call(new Add().Call([b, shortcut]));
        var single = new Activation(Activation.Relu).Call(new BatchNormalization().Call(new Conv2D(1, new Size2(3, 3)).Call(sum)));
        var model = new Model(input, new Flatten().Call(single));
        Randomize(model);
        var x = Tensor.RandomNormal(new Shape(2, 11, 10, 3), seed: 3);

        var saved = KernelOptions.UseReference;
        try
        {
            KernelOptions.UseReference = reference;
            var trace = Capture(() => model.Predict(x), out var folded);
            using var tape = new GradientTape();
            var separate = model.Call(x);

            // The stride-2 convolution comes first in the graph, before the shortcut: the shortcut's then folds the Add
            // (with the first's output as its residual) and the ReLU after it.
            var lines = trace.Split('\n');
            Assert.Equal(4, lines.Count(l => l.Contains("Conv2D+BatchNormalization")));
            Assert.Equal(2, lines.Count(l => l.Contains("Conv2D+BatchNormalization+Relu")));
            Assert.Equal(1, lines.Count(l => l.Contains("Conv2D+BatchNormalization+Add+Relu")));
            Assert.DoesNotContain("[convkit] BatchNormalization", trace);
            Assert.DoesNotContain("[convkit] Add", trace);
            KernelAssert.Close(separate.ToArray(), folded.ToArray(), 1e-5f, "folded output");
            Assert.Contains(0f, folded.ToArray());
        }
        finally { KernelOptions.UseReference = saved; }
    }

    /// <summary>A MobileNet block: DepthwiseConv2D → BatchNormalization → ReLU folds into one depthwise convolution.</summary>
    [Fact]
    public void FoldedDepthwiseConvolutionsMatchTheLayersRunOneByOne()
    {
        var input = new Input(9, 8, 6);
        var a = new Activation(Activation.Relu).Call(new BatchNormalization().Call(
            new DepthwiseConv2D(new Size2(3, 3), padding: Padding.Same, depthMultiplier: 2, useBias: false).Call(input)));
        var b = new BatchNormalization().Call(new DepthwiseConv2D(new Size2(3, 3), strides: new Size2(2, 2)).Call(a));
        var model = new Model(input, new Flatten().Call(b));
        Randomize(model);
        var x = Tensor.RandomNormal(new Shape(2, 9, 8, 6), seed: 4);
        var trace = Capture(() => model.Predict(x), out var folded);
        Tensor separate;
        using (new GradientTape()) separate = model.Call(x);
        var lines = trace.Split('\n');
        Assert.Equal(2, lines.Count(l => l.Contains("[convkit] DepthwiseConv2D+BatchNormalization")));
        Assert.Equal(1, lines.Count(l => l.Contains("[convkit] DepthwiseConv2D+BatchNormalization+Relu")));
        Assert.DoesNotContain("[convkit] BatchNormalization", trace);
        KernelAssert.Close(separate.ToArray(), folded.ToArray(), 1e-5f, "folded depthwise output");
    }

    /// <summary>
    /// ResNet's two blocks: an identity block whose Add reads the block's input (here the model's input, which must
    /// survive the call), and the same as an ONNX graph's Add layer; each second convolution folds the Add and the ReLU.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ResidualAddsAreFoldedIntoTheSecondConvolution(bool onnxAdd)
    {
        var input = new Input(8, 8, 6);
        var first = new Activation(Activation.Relu).Call(new BatchNormalization().Call(new Conv2D(6, new Size2(3, 3), padding: Padding.Same, useBias: false).Call(input)));
        var second = new BatchNormalization().Call(new Conv2D(6, new Size2(3, 3), padding: Padding.Same, useBias: false).Call(first));
        var sum = onnxAdd ? new OnnxBinary(BinaryOperation.Add).Call([second, input]) : new Add().Call([second, input]);
        var output = new Activation(Activation.Relu).Call(sum);
        var model = new Model(input, output);
        Randomize(model);
        var x = Tensor.RandomNormal(new Shape(3, 8, 8, 6), seed: 5);
        var copy = x.ToArray();

        AssertFoldsInto(model, x, ["Conv2D+BatchNormalization+Relu", "Conv2D+BatchNormalization+Add+Relu"]);
        Assert.Equal(copy, x.ToArray());
    }

    /// <summary>Conv1D folds the same way, as the 2-D convolution of one row: a normalization with ReLU, then a residual block.</summary>
    [Fact]
    public void Conv1DFoldsAsOneRow()
    {
        var input = new Input(21, 5);
        var first = new Activation(Activation.Relu).Call(new BatchNormalization().Call(new Conv1D(5, 3, padding: Padding.Same).Call(input)));
        var second = new BatchNormalization().Call(new Conv1D(5, 3, padding: Padding.Same, dilationRate: 2, useBias: false).Call(first));
        var model = new Model(input, new Activation(Activation.Relu).Call(new Add().Call([second, input])));
        Randomize(model);
        var x = Tensor.RandomNormal(new Shape(2, 21, 5), seed: 6);

        var folded = AssertFoldsInto(model, x, ["Conv1D+BatchNormalization+Relu", "Conv1D+BatchNormalization+Add+Relu"]);
        Assert.Equal(new Shape(2, 21, 5), folded.Shape);
    }

    /// <summary>
    /// Predicts on <paramref name="x"/>, asserts that the trace shows exactly <paramref name="ops"/> (Conv1D's views of
    /// its tensors as one-row images, Reshape, left aside) and that the output matches the layers run one by one and
    /// has ReLU's zeros; returns the output.
    /// </summary>
    private static Tensor AssertFoldsInto(Model model, Tensor x, string[] ops)
    {
        var trace = Capture(() => model.Predict(x), out var folded);
        var lines = trace.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(ops, lines.Select(l => l.Split(' ')[1]).Where(op => op != "Reshape").ToArray());
        Tensor separate;
        using (new GradientTape()) separate = model.Call(x);
        KernelAssert.Close(separate.ToArray(), folded.ToArray(), 1e-5f, "folded output");
        Assert.Contains(0f, folded.ToArray());
        return folded;
    }

    [Fact]
    public void NothingIsFoldedWhereTheSeparateResultsAreSeen()
    {
        var input = new Input(9, 9, 2);
        // A conv with its own ReLU before the normalization; a conv whose output also feeds another layer; a conv
        // whose normalization is a model output (so its ReLU is not folded, though the normalization is).
        var withRelu = new Conv2D(4, new Size2(3, 3), activation: Activation.Relu);
        var first = new BatchNormalization().Call(withRelu.Call(input));
        var shared = new Conv2D(4, new Size2(3, 3)).Call(first);
        var normalized = new BatchNormalization().Call(shared);
        var merged = new Add().Call([normalized, shared]);
        // The same with the other consumer made first, so the normalization comes last in the graph's order.
        var sharedAgain = new Conv2D(4, new Size2(3, 3), padding: Padding.Same).Call(merged);
        var mergedAgain = new Add().Call([sharedAgain, merged]);
        var normalizedAgain = new BatchNormalization().Call(sharedAgain);
        var both = new Add().Call([mergedAgain, normalizedAgain]);
        var lastNorm = new BatchNormalization().Call(new Conv2D(4, new Size2(1, 1)).Call(both));
        var model = new Model([input], [lastNorm, new Activation(Activation.Relu).Call(lastNorm)]);
        Randomize(model);
        var x = Tensor.RandomNormal(new Shape(2, 9, 9, 2), seed: 4);

        var trace = Capture(() => model.CallAll([x]), out _);
        var lines = trace.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(1, lines.Count(l => l.StartsWith("[convkit] Conv2D+Relu ")));
        Assert.Equal(3, lines.Count(l => l.StartsWith("[convkit] BatchNormalization ")));
        Assert.Equal(1, lines.Count(l => l.StartsWith("[convkit] Conv2D+BatchNormalization ")));
        Assert.DoesNotContain(lines, l => l.Contains("+BatchNormalization+Relu"));

        var outputs = model.CallAll([x]);
        Tensor[] separate;
        using (new GradientTape()) separate = model.CallAll([x]);
        for (int i = 0; i < outputs.Length; i++) KernelAssert.Close(separate[i].ToArray(), outputs[i].ToArray(), 1e-5f, $"output {i}");
    }

    /// <summary>Random weights everywhere, and moving statistics far from 0 and 1, so the scale and shift both count.</summary>
    private static void Randomize(Model model)
    {
        int seed = 10;
        foreach (var layer in model.Layers)
            foreach (var weight in layer.Weights)
            {
                var value = Tensor.RandomUniform(weight.Shape, -1f, 1f, seed++);
                if (weight.Name.Contains("variance")) value = Tensor.RandomUniform(weight.Shape, 0.2f, 3f, seed++);
                if (weight.Name.Contains("gamma")) value = Tensor.RandomUniform(weight.Shape, 0.5f, 2f, seed++);
                weight.Assign(value);
            }
    }

    private static string Capture(Func<object> run, out Tensor first)
    {
        var (savedLevel, savedOutput) = (OpTrace.Level, OpTrace.Output);
        var output = new StringWriter();
        try
        {
            OpTrace.Level = 1;
            OpTrace.Output = output;
            var result = run();
            first = result is Tensor[] all ? all[0] : (Tensor)result;
        }
        finally { (OpTrace.Level, OpTrace.Output) = (savedLevel, savedOutput); }
        return output.ToString();
    }
}
