using System.Diagnostics;
using ConvKit.Tensors;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Tensor = ConvKit.Tensors.Tensor;
using Xunit.Abstractions;

namespace ConvKit.Onnx.Tests;

/// <summary>The pretrained ResNet18 of Microsoft.ML.DnnImageFeaturizer.ResNet18 (IR 3, opset 8), imported and compared with ONNX Runtime.</summary>
public sealed class ResNet18Tests(ITestOutputHelper output)
{
    [Fact]
    public void ImportedResNet18MatchesOnnxRuntime()
    {
        string path = TestData.ResNet18Path;
        Assert.True(File.Exists(path), $"ResNet18.onnx not found at {path}; restore the test project.");
        var clock = Stopwatch.StartNew();
        var imported = OnnxImporter.Load(path);
        output.WriteLine($"import {clock.ElapsedMilliseconds} ms: {imported}");
        Assert.Equal(["Input247"], imported.InputNames);
        Assert.Equal(TensorLayout.ChannelsLast, imported.InputLayouts[0]);

        using var session = new InferenceSession(path);
        double worst = 0;
        for (int seed = 1; seed <= 3; seed++)
        {
            var input = Tensor.RandomUniform(new Shape(1, 3, 224, 224), 0f, 1f, seed);
            using var results = session.Run([NamedOnnxValue.CreateFromTensor("Input247", new DenseTensor<float>(input.ToArray(), new[] { 1, 3, 224, 224 }))]);
            var expected = results.First().AsTensor<float>().ToArray();
            clock.Restart();
            var actual = imported.Run(input)[0];
            output.WriteLine($"input {seed}: ConvKit {clock.ElapsedMilliseconds} ms, output {actual.Shape}");
            Assert.Equal([1, 512, 1, 1], actual.Shape.ToArray());
            double diff = TestData.MaxAbsDiff(expected, actual.ToArray());
            worst = Math.Max(worst, diff);
            output.WriteLine($"input {seed}: max |ConvKit − ORT| = {diff:E3}");
        }
        Assert.True(worst <= 1e-4, $"max abs difference {worst:E3} exceeds 1e-4");
    }
}
