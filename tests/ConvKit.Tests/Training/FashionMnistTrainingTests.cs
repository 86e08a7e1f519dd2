using System.Diagnostics;
using ConvKit.Data;
using ConvKit.Layers;
using ConvKit.Models;
using ConvKit.Tensors;
using ConvKit.Training;
using Xunit.Abstractions;

namespace ConvKit.Tests.Training;

/// <summary>Real training on a slice of the real data set: learns well above chance, quickly.</summary>
[Collection(nameof(Layers.NamingCollection))]
public class FashionMnistTrainingTests(ITestOutputHelper output)
{
    [FactWithFashionMnist]
    public void FiveThousandImagesThreeEpochsLearnWellAboveChance()
    {
        var (train, test) = FashionMnist.Load();
        var slice = train.Take(5000);
        RandomSource.SetGlobalSeed(1);
        var model = new Sequential(new Input(28, 28, 1),
            new Conv2D(16, 3, activation: Activation.Relu), new MaxPool2D(2),
            new Conv2D(32, 3, activation: Activation.Relu), new MaxPool2D(2),
            new Flatten(), new Dense(10));
        model.Compile(new Adam(2e-3f), Losses.SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
        var clock = Stopwatch.StartNew();
        model.Fit(slice.Images, slice.Labels, new FitOptions { Epochs = 3, BatchSize = 32, Seed = 1 });
        var evaluation = model.Evaluate(test.Images, test.Labels, 500);
        output.WriteLine($"test accuracy {evaluation["accuracy"]:F4} after {clock.Elapsed.TotalSeconds:F1} s");
        Assert.True(evaluation["accuracy"] >= 0.75, $"test accuracy {evaluation["accuracy"]:F4}");
    }
}
