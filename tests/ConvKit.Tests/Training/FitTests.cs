using ConvKit.IO;
using ConvKit.Kernels;
using ConvKit.Layers;
using ConvKit.Models;
using ConvKit.Tensors;
using ConvKit.Training;

namespace ConvKit.Tests.Training;

/// <summary>Fit, Evaluate, callbacks, determinism and exact resumption on a small synthetic task.</summary>
[Collection(nameof(Layers.NamingCollection))]
public class FitTests
{
    /// <summary>8×8 images with a bright bar: vertical (class 0), horizontal (1) or diagonal (2), plus noise.</summary>
    private static (Tensor Images, Tensor Labels) Bars(int count, int seed)
    {
        var random = new RandomSource(seed);
        var images = Tensor.Zeros(count, 8, 8, 1);
        var labels = Tensor.Zeros(count);
        for (int n = 0; n < count; n++)
        {
            int kind = n % 3, at = 1 + random.NextInt(6);
            labels.Span[n] = kind;
            for (int i = 0; i < 8; i++)
            {
                var (y, x) = kind switch { 0 => (i, at), 1 => (at, i), _ => (i, i) };
                images[n, y, x, 0] = 1f;
            }
            for (int i = 0; i < 64; i++) images.Span[n * 64 + i] += 0.3f * random.NextFloat();
        }
        return (images, labels);
    }

    private static Sequential SmallCnn(int seed)
    {
        RandomSource.SetGlobalSeed(seed);
        var model = new Sequential(new Input(8, 8, 1),
            new Conv2D(6, 3, padding: Padding.Same, activation: Activation.Relu, name: "c1"),
            new BatchNormalization(name: "bn"),
            new MaxPool2D(2, name: "pool"),
            new Flatten(name: "flat"),
            new Dropout(0.25f, name: "drop"),
            new Dense(3, name: "logits"));
        model.Compile(new Adam(0.01f), Losses.SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
        return model;
    }

    [Fact]
    public void LearnsEdgesAndReportsHistory()
    {
        var (x, y) = Bars(240, 1);
        var (vx, vy) = Bars(60, 2);
        var model = SmallCnn(3);
        int batchesSeen = 0;
        var history = model.Fit(x, y, new FitOptions
        {
            Epochs = 4, BatchSize = 16, ValidationData = (vx, vy), Seed = 5,
            Callbacks = [new LambdaCallback(onBatchEnd: (_, _, logs) => { batchesSeen++; Assert.True(logs["loss"] > 0); })],
        });
        Assert.Equal(4, history.Epochs);
        Assert.Equal(4 * 15, batchesSeen);
        Assert.True(history["loss"][3] < history["loss"][0]);
        Assert.True(history["val_accuracy"][3] > 0.9, $"validation accuracy {history["val_accuracy"][3]}");
        var evaluation = model.Evaluate(vx, vy);
        Assert.Equal(history["val_accuracy"][3], evaluation["accuracy"], 6);
        Assert.Equal(history["val_loss"][3], evaluation["loss"], 4);
    }

    [Fact]
    public void SameSeedSameWeights()
    {
        var (x, y) = Bars(60, 1);
        var a = SmallCnn(7);
        var b = SmallCnn(7);
        a.Fit(x, y, new FitOptions { Epochs = 2, BatchSize = 16, Seed = 1 });
        b.Fit(x, y, new FitOptions { Epochs = 2, BatchSize = 16, Seed = 1 });
        foreach (var (wa, wb) in a.Weights.Zip(b.Weights)) Assert.Equal(wa.Value.ToArray(), wb.Value.ToArray());
        var c = SmallCnn(7);
        c.Fit(x, y, new FitOptions { Epochs = 2, BatchSize = 16, Seed = 2 });
        Assert.NotEqual(a.Weights[0].Value.ToArray(), c.Weights[0].Value.ToArray());
    }

    [Fact]
    public void ResumingFromAFileGivesTheSameWeightsAsOneRun()
    {
        var (x, y) = Bars(60, 1);
        var straight = SmallCnn(9);
        straight.Fit(x, y, new FitOptions { Epochs = 3, BatchSize = 16, Seed = 4 });

        using var dir = new TempDirectory();
        var first = SmallCnn(9);
        first.Fit(x, y, new FitOptions { Epochs = 1, BatchSize = 16, Seed = 4 });
        ModelFile.Save(first, dir.File("checkpoint.safetensors"));
        var (resumed, _) = ModelFile.Load(dir.File("checkpoint.safetensors"));
        resumed.Fit(x, y, new FitOptions { Epochs = 3, InitialEpoch = 1, BatchSize = 16, Seed = 4 });

        Assert.Equal(straight.Optimizer!.Iterations, resumed.Optimizer!.Iterations);
        foreach (var (a, b) in straight.Weights.Zip(resumed.Weights))
        {
            Assert.Equal(a.Name, b.Name);
            Assert.Equal(a.Value.ToArray(), b.Value.ToArray());
        }
    }

    [Fact]
    public void EarlyStoppingStopsAndRestoresTheBestWeights()
    {
        var (x, y) = Bars(30, 1);
        var model = SmallCnn(2);
        model.Compile(new SGD(0f), Losses.SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
        var stop = new EarlyStopping("loss", patience: 1, minDelta: 10);
        var history = model.Fit(x, y, new FitOptions { Epochs = 10, BatchSize = 10, Callbacks = [stop] });
        Assert.Equal(2, history.Epochs);
        Assert.Equal(1, stop.StoppedEpoch);
        Assert.Throws<InvalidOperationException>(() => model.Fit(x, y, new FitOptions { Callbacks = [new EarlyStopping("val_loss")] }));
    }

    [Fact]
    public void ReduceLearningRateOnPlateau()
    {
        var (x, y) = Bars(30, 1);
        var model = SmallCnn(2);
        model.Compile(new SGD(0f), Losses.SparseCategoricalCrossentropy(fromLogits: true));
        model.Optimizer!.LearningRate = 0.5f;
        model.Fit(x, y, new FitOptions { Epochs = 3, BatchSize = 30, Shuffle = false, Callbacks = [new ReduceLROnPlateau("loss", factor: 0.5f, patience: 1, minDelta: 1e9)] });
        Assert.Equal(0.125f, model.Optimizer.LearningRate, 6); // 0.5 → 0.25 after epoch 1 → 0.125 after epoch 2, as Keras
    }

    [Fact]
    public void TrainingNeedsCompile()
    {
        var model = new Sequential(new Input(4), new Dense(2));
        Assert.Contains("compiled", Assert.Throws<InvalidOperationException>(() => model.TrainOnBatch(Tensor.Zeros(1, 4), Tensor.Zeros(1))).Message);
    }
}
