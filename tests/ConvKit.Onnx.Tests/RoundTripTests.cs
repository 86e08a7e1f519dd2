using ConvKit.IO;
using ConvKit.Kernels;
using ConvKit.Layers;
using ConvKit.Models;
using ConvKit.Tensors;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Tensor = ConvKit.Tensors.Tensor;

namespace ConvKit.Onnx.Tests;

/// <summary>ConvKit models exported to ONNX, run by ONNX Runtime on the same NHWC input, and imported back.</summary>
public sealed class RoundTripTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("convkit-onnx-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>The Fashion-MNIST CNN of the walkthrough: two conv + pool stages and a dense classifier.</summary>
    private static Model SequentialCnn() => new Sequential(
        new Input(28, 28, 1),
        new Conv2D(8, 5, padding: Padding.Same, activation: Activation.Relu),
        new MaxPool2D(2),
        new Conv2D(16, 3, activation: Activation.Relu),
        new AveragePooling2D(2, padding: Padding.Same),
        new BatchNormalization(),
        new Flatten(),
        new Dropout(0.25f),
        new Dense(32, activation: Activation.Tanh),
        new Dense(10, activation: Activation.Softmax));

    /// <summary>A functional model with a residual Add, a Concatenate, a strided conv and a global pool.</summary>
    private static Model ResidualModel()
    {
        var input = new Input(16, 12, 3);
        var x = new Conv2D(6, 3, padding: Padding.Same, activation: Activation.Relu).Call(input);
        var y = new Conv2D(6, 3, padding: Padding.Same).Call(x);
        var sum = new Add().Call(x, y);
        var joined = new Concatenate().Call(sum, new Conv2D(4, 1).Call(input));
        var down = new Conv2D(8, 3, strides: 2, padding: Padding.Same, activation: Activation.Sigmoid).Call(joined);
        var pooled = new GlobalAveragePooling2D().Call(down);
        return new Model(input, new Dense(5).Call(pooled));
    }

    /// <summary>MobileNet-style blocks: depthwise 3×3 (multiplier 2, then strided), each followed by a 1×1 convolution.</summary>
    private static Model DepthwiseModel() => new Sequential(
        new Input(14, 12, 4),
        new DepthwiseConv2D(3, padding: Padding.Same, depthMultiplier: 2, activation: Activation.Relu),
        new Conv2D(6, 1, activation: Activation.Relu),
        new DepthwiseConv2D(3, strides: 2),
        new Conv2D(5, 1),
        new GlobalAveragePooling2D(),
        new Dense(3));

    public static TheoryData<string> Models => new() { "sequential_cnn", "residual", "depthwise" };

    private static Model Build(string which) => which switch
    {
        "sequential_cnn" => SequentialCnn(),
        "residual" => ResidualModel(),
        _ => DepthwiseModel(),
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void ExportedModelRunsInOnnxRuntimeAndReimportsExactly(string which)
    {
        var model = Build(which);
        var inputShape = model.Inputs[0].Shape.WithBatch(3);
        // Give batch norm statistics that are not the identity, so the export of all four vectors is checked.
        foreach (var w in model.Weights.Where(w => w.Name.Contains("moving")))
            w.Assign(Tensor.RandomUniform(w.Shape, 0.5f, 1.5f, 7));
        var input = Tensor.RandomNormal(inputShape, seed: 11);
        var expected = model.Predict(input);

        string path = Path.Combine(dir, which + ".onnx");
        OnnxExporter.Save(model, path);

        using var session = new InferenceSession(path);
        Assert.Equal(model.Inputs[0].Layer.Name, session.InputMetadata.Keys.Single());
        Assert.Equal(-1, session.InputMetadata.Values.Single().Dimensions[0]);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(session.InputMetadata.Keys.Single(), new DenseTensor<float>(input.ToArray(), inputShape.ToArray()))]);
        var ort = results.First().AsTensor<float>();
        Assert.Equal(expected.Shape.ToArray(), ort.Dimensions.ToArray());
        double diff = TestData.MaxAbsDiff(expected.ToArray(), ort.ToArray());
        Assert.True(diff <= 1e-5, $"ONNX Runtime differs from ConvKit by {diff:E3}");

        var reimported = OnnxImporter.Load(path);
        Assert.Equal(TensorLayout.Onnx, reimported.InputLayouts[0]);
        var again = reimported.Run(input)[0];
        Assert.Equal(expected.Shape, again.Shape);
        Assert.Equal(expected.ToArray(), again.ToArray());
    }

    [Fact]
    public void ImportedModelSummarisesTrainsSavesAndReloads()
    {
        string onnxPath = Path.Combine(dir, "cnn.onnx");
        OnnxExporter.Save(SequentialCnn(), onnxPath);
        var imported = OnnxImporter.Load(onnxPath);
        var summary = imported.Model.SummaryText();
        Assert.Contains("OnnxConv", summary);

        // Gradients reach the imported weights.
        var model = imported.Model;
        var x = Tensor.RandomNormal(model.Inputs[0].Shape.WithBatch(2), seed: 3);
        var weights = model.TrainableWeights;
        Assert.NotEmpty(weights);
        using (var tape = new Autograd.GradientTape())
        {
            var loss = Operations.Ops.Sum(Operations.Ops.Square(model.Call(x, training: true)));
            var grads = tape.Gradient(loss, weights.Select(w => w.Value).ToList());
            Assert.All(grads, g => Assert.True(g is not null && g.ToArray().Any(v => v != 0)));
        }

        // Saved with ModelFile and loaded back, it computes the same.
        string saved = Path.Combine(dir, "imported.safetensors");
        ModelFile.Save(model, saved);
        var (reloaded, _) = ModelFile.Load(saved);
        Assert.Equal(model.Call(x).ToArray(), reloaded.Call(x).ToArray());
    }
    /// <summary>
    /// Log-softmax written out as the layers ONNX's expanded function bodies import to (ReduceMax, Sub, Exp, ReduceSum,
    /// Log), then Neg, Sqrt, ReduceMean/Min and a two-input Max: exported at opsets 17 and 18 (axes as attribute, then
    /// input), run by ONNX Runtime, re-imported, differentiated, saved with ModelFile and reloaded.
    /// </summary>
    [Theory]
    [InlineData(17)]
    [InlineData(18)]
    public void ReductionsAndElementwiseLayersRoundTrip(int opset)
    {
        var input = new Input(4, 5);
        var shifted = new OnnxBinary(BinaryOperation.Sub).Call(input, new OnnxReduce(ReduceOperation.Max, [2]).Call(input));
        var total = new OnnxReduce(ReduceOperation.Sum, [2]).Call(new OnnxUnary(UnaryOperation.Exp).Call(shifted));
        var logSoftmax = new OnnxBinary(BinaryOperation.Sub).Call(shifted, new OnnxUnary(UnaryOperation.Log).Call(total));
        var root = new OnnxUnary(UnaryOperation.Sqrt).Call(new OnnxUnary(UnaryOperation.Neg).Call(logSoftmax));
        var spread = new OnnxBinary(BinaryOperation.Max).Call(root, new OnnxReduce(ReduceOperation.Mean, [1], keepDims: true).Call(root));
        var output = new OnnxReduce(ReduceOperation.Min, [-1], keepDims: false).Call(spread);
        var model = new Model(input, output);
        var x = Tensor.RandomNormal(new Shape(3, 4, 5), seed: 5);
        var expected = model.Predict(x);
        Assert.Equal([3, 4], expected.Shape.ToArray());

        string path = Path.Combine(dir, $"reductions{opset}.onnx");
        OnnxExporter.Save(model, path, opset);
        using (var session = new InferenceSession(path))
        {
            using var results = session.Run([NamedOnnxValue.CreateFromTensor(session.InputMetadata.Keys.Single(), new DenseTensor<float>(x.ToArray(), [3, 4, 5]))]);
            double diff = TestData.MaxAbsDiff(expected.ToArray(), results.First().AsTensor<float>().ToArray());
            Assert.True(diff <= 1e-5, $"ONNX Runtime differs from ConvKit by {diff:E3}");
        }

        var reimported = OnnxImporter.Load(path).Model;
        Assert.Equal(expected.ToArray(), reimported.Predict(x).ToArray());
        using (var tape = new Autograd.GradientTape())
        {
            tape.Watch(x);
            var gradient = tape.Gradient(Operations.Ops.Sum(reimported.Call(x)), [x])[0];
            Assert.Contains(gradient.ToArray(), v => v != 0);
        }
        string saved = Path.Combine(dir, $"reductions{opset}.safetensors");
        ModelFile.Save(reimported, saved);
        Assert.Equal(expected.ToArray(), ModelFile.Load(saved).Model.Predict(x).ToArray());
    }
    /// <summary>3-D convolution and pooling (channels-last (N, D, H, W, C)) exported, run by ONNX Runtime and re-imported.</summary>
    [Fact]
    public void Volumetric3DLayersRoundTrip()
    {
        var input = new Input(4, 6, 5, 2);
        var conv = new OnnxConv(4, [2, 3, 2], [1, 2, 1], [1, 1, 2], [1, 0, 1, 0, 1, 0], groups: 2);
        var features = conv.Call(input);
        var pooled = new OnnxPool(true, [2, 2, 2], [1, 1, 1], [1, 1, 1], [0, 1, 0, 1, 0, 1], ceilMode: true).Call(features);
        var output = new OnnxPool(false, [2, 1, 2], [2, 1, 1], [1, 1, 1], [1, 0, 0, 0, 0, 1], countIncludePad: true).Call(pooled);
        var model = new Model(input, output);
        conv.Kernel!.Assign(Tensor.RandomNormal(conv.Kernel.Shape, seed: 21));
        conv.Bias!.Assign(Tensor.RandomNormal(conv.Bias.Shape, seed: 22));
        var x = Tensor.RandomNormal(new Shape(2, 4, 6, 5, 2), seed: 23);
        var expected = model.Predict(x);

        string path = Path.Combine(dir, "volumetric.onnx");
        OnnxExporter.Save(model, path);
        using (var session = new InferenceSession(path))
        {
            using var results = session.Run([NamedOnnxValue.CreateFromTensor(session.InputMetadata.Keys.Single(), new DenseTensor<float>(x.ToArray(), [2, 4, 6, 5, 2]))]);
            var ort = results.First().AsTensor<float>();
            Assert.Equal(expected.Shape.ToArray(), ort.Dimensions.ToArray());
            double diff = TestData.MaxAbsDiff(expected.ToArray(), ort.ToArray());
            Assert.True(diff <= 1e-5, $"ONNX Runtime differs from ConvKit by {diff:E3}");
        }
        Assert.Equal(expected.ToArray(), OnnxImporter.Load(path).Model.Predict(x).ToArray());
    }
}
