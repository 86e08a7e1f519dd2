using ConvKit.Autograd;
using ConvKit.Kernels;
using ConvKit.Layers;
using ConvKit.Models;
using ConvKit.Tensors;
using ConvKit.Training;

namespace ConvKit.Tests.Layers;

/// <summary>
/// Inference keeps each convolution's packed kernel between calls and packs it again after every kind of write to the
/// weights: the outputs always equal those of a fresh model holding the same weights.
/// </summary>
/// <remarks>In the collection of the tests that switch the reference kernels on for a while, which pack nothing.</remarks>
[Collection(nameof(ConvKit.Tests.Autograd.OpTraceCollection))]
public class PackedWeightsInferenceTests
{
    private static Sequential Network(int seed)
    {
        RandomSource.SetGlobalSeed(seed);
        return new Sequential(new Input(12, 12, 3), new Conv2D(40, 3, padding: Padding.Same, activation: Activation.Relu),
            new Conv2D(48, 1), new Conv2D(96, 3, strides: 2, padding: Padding.Same), new Flatten(),
            new Dense(48, activation: Activation.Relu), new Dense(4));
    }

    /// <summary>The output of a new model (nothing kept yet: its first call packs into scratch) holding <paramref name="model"/>'s current weights.</summary>
    private static float[] Fresh(Sequential model, Tensor images)
    {
        var copy = Network(99);
        foreach (var (to, from) in copy.Weights.Zip(model.Weights)) to.Assign(from.Value);
        return copy.Predict(images).ToArray();
    }

    /// <summary>Kept packings of <paramref name="weights"/>; the reference kernels (<c>CONVKIT_KERNELS=reference</c>) pack nothing, so 0 counts as any.</summary>
    private static void AssertPacks(int expected, Variable weights) =>
        Assert.Equal(KernelOptions.UseReference ? 0 : expected, PackedWeights.For(weights.Value.Storage).Packs);

    [Fact]
    public void PredictPacksOnceAndEveryWriteToTheWeightsIsSeen()
    {
        var model = Network(1);
        var images = Tensor.RandomUniform(new Shape(2, 12, 12, 3), -1, 1, 7);
        var conv = model.Layers.OfType<Conv2D>().ToArray();

        var dense = model.Layers.OfType<Dense>().First();

        var first = model.Predict(images).ToArray();
        Assert.Equal(Fresh(model, images), first);
        Assert.Equal(model.Predict(images).ToArray(), first);
        Assert.All(conv, layer => AssertPacks(1, layer.Kernel!));
        AssertPacks(1, dense.Kernel!);

        // After a write, the first call packs into scratch and the second keeps a new copy.
        conv[2].Kernel!.Assign(Tensor.RandomUniform(conv[2].Kernel!.Shape, -1, 1, 8));
        var assigned = model.Predict(images).ToArray();
        Assert.NotEqual(first, assigned);
        Assert.Equal(Fresh(model, images), assigned);
        AssertPacks(1, conv[2].Kernel!);
        Assert.Equal(assigned, model.Predict(images).ToArray());
        AssertPacks(2, conv[2].Kernel!);

        conv[0].Kernel!.Value.Span[5] += 0.5f;
        Assert.Equal(Fresh(model, images), model.Predict(images).ToArray());

        conv[1].Kernel!.Value[0, 0, 3, 7] = 3f;
        Assert.Equal(Fresh(model, images), model.Predict(images).ToArray());

        dense.Kernel!.Value[100, 5] = -4f;
        Assert.Equal(Fresh(model, images), model.Predict(images).ToArray());
        Assert.Equal(Fresh(model, images), model.Predict(images).ToArray());
        AssertPacks(2, dense.Kernel!);

        // Through a reshaped view of the storage.
        conv[2].Kernel!.Value.Reshape(-1).Span[17] -= 2f;
        Assert.Equal(Fresh(model, images), model.Predict(images).ToArray());
    }

    [Fact]
    public void TrainingStepsBetweenPredictionsAreSeen()
    {
        var model = Network(2);
        model.Compile(new Adam(0.01f), Losses.SparseCategoricalCrossentropy(fromLogits: true));
        var images = Tensor.RandomUniform(new Shape(4, 12, 12, 3), -1, 1, 9);
        var labels = Tensor.FromArray([0f, 1f, 2f, 3f], 4);
        var before = model.Predict(images).ToArray();
        for (int step = 0; step < 2; step++)
        {
            model.TrainOnBatch(images, labels);
            var after = model.Predict(images).ToArray();
            Assert.NotEqual(before, after);
            Assert.Equal(Fresh(model, images), after);
            before = after;
        }
    }

    [Fact]
    public void OnlyKernelsThatNoTapeDifferentiatesAreKept()
    {
        var model = Network(3);
        var images = Tensor.RandomUniform(new Shape(1, 12, 12, 3), -1, 1, 10);
        var conv = model.Layers.OfType<Conv2D>().ToArray();

        using (var tape = new GradientTape()) model.Call(images, training: true);
        AssertPacks(0, conv[0].Kernel!);

        // Frozen weights under a tape that watches the image (style transfer): packed once, kept across steps.
        conv[0].Kernel!.Trainable = false;
        for (int step = 0; step < 3; step++)
        {
            using var tape = new GradientTape();
            tape.Watch(images);
            var gradient = tape.Gradient(model.Call(images, training: false), [images])[0];
            Assert.Contains(gradient.ToArray(), value => value != 0f);
        }
        AssertPacks(1, conv[0].Kernel!);
        AssertPacks(0, conv[2].Kernel!);
    }

    [Fact]
    public void Conv1DKeepsItsPackedKernelAndSeesWrites()
    {
        RandomSource.SetGlobalSeed(4);
        var model = new Sequential(new Input(40, 6), new Conv1D(48, 5, padding: Padding.Same), new Flatten(), new Dense(2));
        var series = Tensor.RandomUniform(new Shape(3, 40, 6), -1, 1, 11);
        var conv = model.Layers.OfType<Conv1D>().Single();
        var first = model.Predict(series).ToArray();
        Assert.Equal(first, model.Predict(series).ToArray());
        AssertPacks(1, conv.Kernel!);

        conv.Kernel!.Value.Span[3] += 1f;
        var changed = model.Predict(series).ToArray();
        Assert.NotEqual(first, changed);
        RandomSource.SetGlobalSeed(4);
        var copy = new Sequential(new Input(40, 6), new Conv1D(48, 5, padding: Padding.Same), new Flatten(), new Dense(2));
        foreach (var (to, from) in copy.Weights.Zip(model.Weights)) to.Assign(from.Value);
        Assert.Equal(copy.Predict(series).ToArray(), changed);
    }
}
