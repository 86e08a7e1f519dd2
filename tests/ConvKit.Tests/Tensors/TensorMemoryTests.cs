using ConvKit.Autograd;
using ConvKit.Models;
using ConvKit.Operations;
using ConvKit.Tensors;
using ConvKit.Training;

namespace ConvKit.Tests.Tensors;

/// <summary>Tests that change <see cref="TensorMemory.Budget"/> run alone: the pool is shared by the whole process.</summary>
[CollectionDefinition(nameof(TensorMemoryCollection), DisableParallelization = true)]
public class TensorMemoryCollection;

[Collection(nameof(TensorMemoryCollection))]
public class TensorMemoryTests
{
    // Sizes no other test uses, so that only these tests return arrays of these lengths.
    private const int Large = TensorMemory.MinimumPooledLength + 1231;

    [Fact]
    public void DisposedStorageServesTheNextTensorOfTheSameSize()
    {
        var first = Tensor.Zeros(Large);
        first.Span.Fill(7f);
        var storage = first.Data;
        first.Dispose();
        var second = Tensor.Zeros(Large);
        Assert.Same(storage, second.Data);
        Assert.All(second.ToArray(), v => Assert.Equal(0f, v));   // Zeros clears reused storage
    }

    [Fact]
    public void ADisposedTensorRefusesUseAndNamesItsShape()
    {
        var t = Tensor.Zeros(3, Large);
        t.Dispose();
        t.Dispose();   // a second Dispose does nothing
        Assert.True(t.IsDisposed);
        var error = Assert.Throws<ObjectDisposedException>(() => t.Span.Clear());
        Assert.Contains("(3, " + Large + ")", error.Message);
        Assert.Throws<ObjectDisposedException>(() => t.ToArray());
        Assert.Throws<ObjectDisposedException>(() => t[0, 0]);
        Assert.Throws<ObjectDisposedException>(() => t.Reshape(-1));
        Assert.Equal($"Tensor(disposed, shape=(3, {Large}))", t.ToString());
    }

    [Fact]
    public void AReshapedViewKeepsItsStorageUntilItIsDisposedToo()
    {
        var t = Tensor.Zeros(2, Large + 1);
        t.Span.Fill(3f);
        var view = t.Reshape(-1);
        t.Dispose();
        var other = Tensor.Zeros(2, Large + 1);
        Assert.NotSame(view.Data, other.Data);
        Assert.All(view.ToArray(), v => Assert.Equal(3f, v));
        var storage = view.Data;
        view.Dispose();
        Assert.Same(storage, Tensor.Zeros(2 * (Large + 1)).Data);
    }

    [Fact]
    public void SmallTensorsAndAZeroBudgetKeepNothing()
    {
        long before = TensorMemory.RetainedBytes;
        Tensor.Zeros(100).Dispose();
        Assert.Equal(before, TensorMemory.RetainedBytes);
        long budget = TensorMemory.Budget;
        try
        {
            TensorMemory.Budget = 0;
            Assert.Equal(0, TensorMemory.RetainedBytes);
            var t = Tensor.Zeros(Large + 2);
            var storage = t.Data;
            t.Dispose();
            Assert.Equal(0, TensorMemory.RetainedBytes);
            Assert.NotSame(storage, Tensor.Zeros(Large + 2).Data);
        }
        finally { TensorMemory.Budget = budget; }
        Assert.Throws<ArgumentOutOfRangeException>(() => TensorMemory.Budget = -1);
    }

    /// <summary>
    /// Training disposes its activations, gradients and what ops saved for their backward passes after each step; reused
    /// storage must not change a single bit of the result. The tutorial CNN on 16 images has activations of 401,408 floats,
    /// well past the pooling threshold.
    /// </summary>
    [Theory]
    [InlineData("tutorial")]    // dropout: its mask is kept for the backward pass and disposed after the step
    [InlineData("default")]     // batch norm: its normalized input likewise
    public void TrainingAndPredictionGiveTheSameBitsWithAndWithoutReuse(string name)
    {
        var (withReuse, predictedWithReuse) = TrainThreeSteps(name);
        var (again, _) = TrainThreeSteps(name);
        Assert.Equal(again, withReuse);
        long budget = TensorMemory.Budget;
        try
        {
            TensorMemory.Budget = 0;
            var (without, predictedWithout) = TrainThreeSteps(name);
            Assert.Equal(without, withReuse);
            Assert.Equal(predictedWithout, predictedWithReuse);
        }
        finally { TensorMemory.Budget = budget; }
    }

    private static (float[] Weights, float[] Predictions) TrainThreeSteps(string name)
    {
        RandomSource.SetGlobalSeed(3);   // the same layer seeds (dropout masks) in every run
        var model = ModelZoo.Create(name, (28, 28, 1), 10, seed: 3);
        model.Compile(new Adam(1e-3f), Losses.SparseCategoricalCrossentropy(fromLogits: false));
        var images = Tensor.RandomUniform(new Shape(16, 28, 28, 1), seed: 4);
        var labels = Tensor.FromArray(Enumerable.Range(0, 16).Select(i => (float)(i % 10)).ToArray(), 16);
        for (int step = 0; step < 3; step++) model.TrainOnBatch(images, labels);
        var predictions = model.Predict(images, batchSize: 5).ToArray();
        return (model.Weights.SelectMany(w => w.Value.ToArray()).ToArray(), predictions);
    }

    /// <summary>Fit disposes only the batches it gathers: an augmentation may return a tensor it keeps for every batch.</summary>
    [Fact]
    public void FitLeavesAnAugmentationsOwnTensorAlone()
    {
        RandomSource.SetGlobalSeed(5);
        var model = ModelZoo.Create("tiny", (28, 28, 1), 10, seed: 5);
        model.Compile(new Adam(1e-3f), Losses.SparseCategoricalCrossentropy(fromLogits: false));
        var images = Tensor.RandomUniform(new Shape(256, 28, 28, 1), seed: 6);
        var labels = Tensor.FromArray(Enumerable.Range(0, 256).Select(i => (float)(i % 10)).ToArray(), 256);
        var kept = Tensor.RandomUniform(new Shape(128, 28, 28, 1), seed: 7);   // 100,352 floats: pooled storage
        model.Fit(images, labels, new FitOptions { Epochs = 1, BatchSize = 128, Augment = (_, _) => kept });
        Assert.False(kept.IsDisposed);
        Assert.False(images.IsDisposed);
    }

    /// <summary>Add hands one gradient tensor to both of its inputs; the tape must not dispose it while one still needs it.</summary>
    [Fact]
    public void GradientsSharedBetweenInputsSurviveTheWalk()
    {
        var x = Tensor.RandomNormal(new Shape(Large + 3), seed: 5);
        using var tape = new GradientTape();
        tape.Watch(x);
        var r = Ops.Relu(x);
        var y = Ops.Sum(Ops.Add(Ops.Relu(r), Ops.Multiply(r, r)));
        var grad = tape.Gradient(y, [x])[0].ToArray();
        var xs = x.ToArray();
        for (int i = 0; i < xs.Length; i++)
            Assert.Equal(xs[i] > 0 ? 1f + 2f * xs[i] : 0f, grad[i], 1e-5f);
    }
}
