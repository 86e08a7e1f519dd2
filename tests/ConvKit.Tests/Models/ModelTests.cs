using ConvKit.Autograd;
using ConvKit.Kernels;
using ConvKit.Layers;
using ConvKit.Models;
using ConvKit.Operations;
using ConvKit.Tensors;
using ConvKit.Training;

namespace ConvKit.Tests.Models;

public class ModelTests
{
    /// <summary>The TensorFlow tutorial CNN for 28×28 digits.</summary>
    public static Sequential TutorialCnn() => new(
        new Input(28, 28, 1),
        new Conv2D(32, 5, padding: Padding.Same, activation: Activation.Relu),
        new MaxPool2D(2),
        new Conv2D(64, 5, padding: Padding.Same, activation: Activation.Relu),
        new MaxPool2D(2),
        new Flatten(),
        new Dense(1024, activation: Activation.Relu),
        new Dropout(0.4f),
        new Dense(10));

    [Fact]
    public void TutorialCnnHasKerasShapesAndParameterCounts()
    {
        var model = TutorialCnn();
        // Keras's formulas: conv 5·5·in·out + out, dense in·out + out, same padding keeps 28 then pools halve.
        long conv1 = 5 * 5 * 1 * 32 + 32, conv2 = 5 * 5 * 32 * 64 + 64, dense1 = 7 * 7 * 64 * 1024 + 1024, dense2 = 1024 * 10 + 10;
        Assert.Equal(conv1 + conv2 + dense1 + dense2, model.CountParams());
        Assert.Equal(3_274_634, model.CountParams());
        var shapes = model.Layers.Select(l => l.Output!.Shape.ToString()).ToArray();
        Assert.Equal(["(None, 28, 28, 32)", "(None, 14, 14, 32)", "(None, 14, 14, 64)", "(None, 7, 7, 64)",
            "(None, 3136)", "(None, 1024)", "(None, 1024)", "(None, 10)"], shapes);
        Assert.Equal([conv1, 0, conv2, 0, 0, dense1, 0, dense2], model.Layers.Select(l => l.CountParams()));

        var summary = model.SummaryText();
        Assert.Contains(" Total params: 3,274,634 (12.49 MB)", summary);
        Assert.Contains(" Trainable params: 3,274,634 (12.49 MB)", summary);
        Assert.Contains(" Non-trainable params: 0 (0.00 B)", summary);
        Assert.Contains("│ (None, 3136)           │", summary);
        Assert.Contains("3,212,288", summary); // 3136·1024 + 1024, with Keras's thousands separators
        Assert.StartsWith("Model: \"sequential", summary);
        Assert.Equal(new Shape(5, 10), model.Predict(Tensor.Zeros(5, 28, 28, 1)).Shape);
    }

    [Fact]
    public void NonTrainableParametersAreCountedApart()
    {
        var model = new Sequential(new Input(8, 8, 3), new Conv2D(4, 3), new BatchNormalization(), new GlobalAveragePooling2D(), new Dense(2));
        var summary = model.SummaryText();
        // conv 3·3·3·4 + 4 = 112, BN 4·4 = 16 (8 trainable), dense 4·2 + 2 = 10.
        Assert.Contains(" Total params: 138 (552.00 B)", summary);
        Assert.Contains(" Trainable params: 130 (520.00 B)", summary);
        Assert.Contains(" Non-trainable params: 8 (32.00 B)", summary);
        Assert.Equal("1.00 KB", Model.ReadableSize(1024));
        Assert.Equal("1023.00 B", Model.ReadableSize(1023));
    }

    [Fact]
    public void SequentialBuildsOnItsFirstBatch()
    {
        var model = new Sequential(new Conv2D(4, 3), new Flatten(), new Dense(3));
        Assert.False(model.Built);
        Assert.Throws<InvalidOperationException>(() => model.SummaryText());
        var y = model.Call(Tensor.Zeros(2, 6, 6, 2));
        Assert.Equal(new Shape(2, 3), y.Shape);
        Assert.True(model.Built);
        Assert.Equal(3 * 3 * 2 * 4 + 4 + 64 * 3 + 3, model.CountParams());
    }

    [Fact]
    public void FunctionalModelsWithBranchesAndFeatureExtraction()
    {
        var input = new Input(12, 12, 3);
        var stem = new Conv2D(8, 3, padding: Padding.Same, activation: Activation.Relu, name: "stem");
        var x = stem.Call(input);
        var branch = new Conv2D(8, 3, padding: Padding.Same, name: "branch").Call(x);
        var residual = new Add(name: "residual").Call(x, branch);
        var wide = new Concatenate(name: "wide").Call(residual, new Conv2D(4, 1, name: "side").Call(input));
        var pooled = new GlobalAveragePooling2D(name: "gap").Call(wide);
        var output = new Dense(5, name: "logits").Call(pooled);
        var model = new Model(input, output, name: "residual_net");

        Assert.Equal(new Shape(Shape.Unknown, 12, 12, 12), wide.Shape);
        Assert.Equal(["input_layer", "stem", "branch", "residual", "side", "wide", "gap", "logits"],
            model.Layers.Select(l => l.Name.StartsWith("input_layer") ? "input_layer" : l.Name));
        var summary = model.SummaryText();
        Assert.Contains("Connected to", summary);
        Assert.Contains("stem[0][0]", summary);
        Assert.Contains("branch[0][0]", summary);

        var images = Tensor.RandomNormal(new Shape(3, 12, 12, 3), seed: 5);
        var logits = model.Call(images);
        Assert.Equal(new Shape(3, 5), logits.Shape);
        Assert.Equal(logits.ToArray(), model.Predict(images, batchSize: 2).ToArray());

        // Feature maps of any layer: the stem's output is the stem applied to the images.
        var features = model.Extract(images, "stem", "wide");
        Assert.Equal(stem.Call(images).ToArray(), features["stem"].ToArray());
        Assert.Equal(new Shape(3, 12, 12, 12), features["wide"].Shape);
        var extractor = new Model(model.Inputs, [model.GetLayer("residual").Output!]);
        Assert.Equal(new Shape(3, 12, 12, 8), extractor.Call(images).Shape);
        Assert.Equal(0, extractor.CountParams() - (3 * 3 * 3 * 8 + 8) - (3 * 3 * 8 * 8 + 8));

        var gram = Ops.GramMatrix(features["stem"]);
        Assert.Equal(new Shape(3, 8, 8), gram.Shape);
        Assert.Equal(gram[0, 1, 2], gram[0, 2, 1], 5);
    }

    [Fact]
    public void ModelsRefuseWrongInputs()
    {
        var model = TutorialCnn();
        var error = Assert.Throws<ArgumentException>(() => model.Call(Tensor.Zeros(2, 32, 32, 3)));
        Assert.Contains("(None, 28, 28, 1)", error.Message);
        Assert.Contains("(2, 32, 32, 3)", error.Message);
        var orphan = new Input(4);
        Assert.Throws<ArgumentException>(() => new Model(new Input(4), new Dense(2).Call(orphan)));
    }

    [Fact]
    public void GradientsFlowThroughAWholeModelAndTrainingLowersTheLoss()
    {
        RandomSource.SetGlobalSeed(11);
        var model = new Sequential(new Input(6, 6, 1), new Conv2D(4, 3, activation: Activation.Relu), new MaxPool2D(2),
            new Flatten(), new Dense(2));
        var images = Tensor.RandomNormal(new Shape(16, 6, 6, 1), seed: 2);
        var labels = Tensor.FromArray(Enumerable.Range(0, 16).Select(i => (float)(images.Span[i * 36 + 14] > 0 ? 1 : 0)).ToArray(), 16);
        var loss = Losses.SparseCategoricalCrossentropy(fromLogits: true);
        float first = 0, last = 0;
        for (int step = 0; step < 60; step++)
        {
            using var tape = new GradientTape();
            var value = loss.Compute(labels, model.Call(images, training: true));
            var grads = tape.Gradient(value, model.TrainableWeights.Select(w => w.Value).ToList());
            Assert.Equal(model.TrainableWeights.Count, grads.Length);
            foreach (var (weight, grad) in model.TrainableWeights.Zip(grads))
                TensorPrimitives.MultiplyAdd(grad.Span, -0.1f, weight.Value.Span, weight.Value.Span);
            if (step == 0) first = value.Item();
            last = value.Item();
        }
        Assert.True(last < first * 0.5, $"loss went from {first} to {last}");
    }
}
