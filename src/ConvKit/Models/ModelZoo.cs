using ConvKit.Kernels;
using ConvKit.Layers;

namespace ConvKit.Models;

/// <summary>
/// How a zoo model is meant to be trained: the optimizer (a name <see cref="Training.Optimizer.FromName"/> knows),
/// its learning rate, the epochs and batch size, and whether the learning rate follows a cosine decay over the run.
/// </summary>
public sealed record TrainingRecipe(string Optimizer, float LearningRate, int Epochs, int BatchSize, bool CosineDecay);

/// <summary>
/// Built-in image classifiers by name, each with the recipe it is meant to be trained with. Every model ends in
/// a <see cref="Dense"/> layer of <c>classes</c> logits (no softmax), for
/// <c>SparseCategoricalCrossentropy(fromLogits: true)</c>.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><c>default</c>: three blocks of Conv2D 3×3 same (no bias) → BatchNormalization → ReLU → MaxPool 2 with 32, 64
/// and 128 filters (the first block pools straight after its convolution), Flatten, Dropout 0.3, Dense 128 ReLU, Dropout 0.3,
/// Dense. On 28×28×1 with 10 classes: 242,218 parameters and about 7.6 M multiply-adds per image, chosen for accuracy per
/// second of training on two CPU cores.</item>
/// <item><c>tutorial</c>: TensorFlow's layers tutorial CNN (Conv2D 32 5×5 same ReLU, MaxPool 2, Conv2D 64 5×5 same
/// ReLU, MaxPool 2, Flatten, Dense 1024 ReLU, Dropout 0.4, Dense): 3,274,634 parameters on 28×28×1 with 10
/// classes; the README lists it at 0.916.</item>
/// <item><c>tiny</c>: Conv2D 8 3×3 → BatchNormalization → ReLU → MaxPool 2 → Dropout 0.25 → Flatten → Dense:
/// 13,634 parameters on 28×28×1 with 10 classes, for tests and smoke runs.</item>
/// </list>
/// Dropout layers get seeds derived from <c>seed</c>, stored with the model, so a resumed run draws the same masks
/// as an uninterrupted one. Layer names are Keras's automatic names.
/// </remarks>
/// <example>
/// <code>
/// var model = ModelZoo.Create("tutorial", (28, 28, 1), classes: 10);
/// model.CountParams();   // 3274634
/// </code>
/// </example>
public static class ModelZoo
{
    /// <summary>The built-in model names, the default first.</summary>
    public static IReadOnlyList<string> Names { get; } = ["default", "tutorial", "tiny"];

    /// <summary>True when <paramref name="name"/> is a built-in model.</summary>
    public static bool Contains(string name) => Names.Contains(name);

    /// <summary>A new, built model <paramref name="name"/> for images of <paramref name="inputShape"/> (height, width, channels).</summary>
    public static Sequential Create(string name, (int Height, int Width, int Channels) inputShape, int classes, int seed = 0)
    {
        if (classes < 2) throw new ArgumentException($"A classifier needs at least 2 classes; received {classes}.");
        var (h, w, c) = inputShape;
        if (h <= 0 || w <= 0 || c <= 0) throw new ArgumentException($"The input shape needs positive sizes; received ({h}, {w}, {c}).");
        var input = new Input(h, w, c);
        return name switch
        {
            "default" => new Sequential(input, [
                // Pooling before normalizing the first block: max-pooling commutes with ReLU, and batch norm and ReLU
                // then run on a quarter of the 28×28×32 activations, which are memory-bound and cost as much as the convolution.
                new Conv2D(32, 3, padding: Padding.Same, useBias: false), new MaxPool2D(2), new BatchNormalization(), new Activation(Activation.Relu),
                .. ConvBlock(64), new MaxPool2D(2),
                .. ConvBlock(128), new MaxPool2D(2),
                new Flatten(),
                new Dropout(0.3f, seed),
                new Dense(128, Activation.Relu),
                new Dropout(0.3f, seed + 1),
                new Dense(classes)], null),
            "tutorial" => new Sequential(input, [
                new Conv2D(32, 5, padding: Padding.Same, activation: Activation.Relu),
                new MaxPool2D(2),
                new Conv2D(64, 5, padding: Padding.Same, activation: Activation.Relu),
                new MaxPool2D(2),
                new Flatten(),
                new Dense(1024, Activation.Relu),
                new Dropout(0.4f, seed),
                new Dense(classes)], null),
            "tiny" => new Sequential(input, [
                .. ConvBlock(8, Padding.Valid), new MaxPool2D(2),
                new Dropout(0.25f, seed),
                new Flatten(),
                new Dense(classes)], null),
            _ => throw new ArgumentException($"Unknown model '{name}'; the built-in models are {string.Join(", ", Names)}."),
        };
    }

    /// <summary>How <paramref name="name"/> is meant to be trained (on Fashion-MNIST-sized data).</summary>
    public static TrainingRecipe Recipe(string name) => name switch
    {
        "default" => new TrainingRecipe("adam", 1e-3f, Epochs: 10, BatchSize: 128, CosineDecay: true),
        "tutorial" => new TrainingRecipe("adam", 1e-3f, Epochs: 10, BatchSize: 100, CosineDecay: false),
        "tiny" => new TrainingRecipe("adam", 3e-3f, Epochs: 2, BatchSize: 50, CosineDecay: false),
        _ => throw new ArgumentException($"Unknown model '{name}'; the built-in models are {string.Join(", ", Names)}."),
    };

    /// <summary>Conv2D (no bias: batch norm's beta takes its place) → BatchNormalization → ReLU.</summary>
    private static Layer[] ConvBlock(int filters, Padding padding = Padding.Same) =>
        [new Conv2D(filters, 3, padding: padding, useBias: false), new BatchNormalization(), new Activation(Activation.Relu)];
}
