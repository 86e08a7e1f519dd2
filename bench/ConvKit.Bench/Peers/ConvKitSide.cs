using ConvKit.Kernels;
using ConvKit.Layers;
using ConvKit.Models;
using ConvKit.Training;
using ConvKit.Operations;
using ConvKit.Tensors;

namespace ConvKit.Bench.Peers;

/// <summary>
/// ConvKit's side of each case, through the same entry points that layers use (<see cref="Ops"/> and the
/// kernel dispatch classes), so a run measures whichever kernels the library dispatches to at the time.
/// </summary>
internal static class ConvKitSide
{
    public const string Side = "convkit";

    /// <summary>C [M, N] = A [M, K] · B [K, N] through <see cref="GemmKernels.Multiply"/> into a preallocated C.</summary>
    public static Contender MatMul(Tensor a, Tensor b, int m, int n, int k)
    {
        var c = new float[m * n];
        return new Contender(Side,
            () => GemmKernels.Multiply(false, false, m, n, k, a.Span, k, b.Span, n, c, n, accumulate: false),
            () => (float[])c.Clone());
    }

    /// <summary>
    /// <see cref="Ops.Conv2D(Tensor, Tensor, Tensor?, ValueTuple{int, int}?, Padding, ValueTuple{int, int}?, int)"/> without
    /// bias, stride 1. Each run disposes the previous output first, as a loop with <c>using</c> would (torch's side does the
    /// same with its tensors), so the new output takes its storage from <see cref="TensorMemory"/>.
    /// </summary>
    public static Contender Conv2D(Tensor input, Tensor kernel, Padding padding, int groups = 1)
    {
        Tensor? y = null;
        return new Contender(Side, () => { y?.Dispose(); y = Ops.Conv2D(input, kernel, null, (1, 1), padding, groups: groups); }, () => y!.ToArray());
    }

    /// <summary><see cref="Ops.MaxPool2D(Tensor, ValueTuple{int, int}, ValueTuple{int, int}?, Padding)"/>, window = stride; disposes as <see cref="Conv2D"/> does.</summary>
    public static Contender MaxPool2D(Tensor input, int pool)
    {
        Tensor? y = null;
        return new Contender(Side, () => { y?.Dispose(); y = Ops.MaxPool2D(input, (pool, pool)); }, () => y!.ToArray());
    }

    /// <summary>
    /// One training step of the tutorial CNN (<see cref="TutorialCnn"/>) built from <paramref name="setup"/>'s weights:
    /// forward, sparse categorical cross-entropy from logits, backward, Adam update. Output is <c>[loss of the first
    /// step]</c>; the first step runs without dropout, as torch's side does, so the two losses are comparable.
    /// </summary>
    public static Contender? TutorialTrainStep(TutorialCnn.Setup setup)
    {
        var model = Build(setup);
        model.Compile(new Adam(TutorialCnn.LearningRate, 0.9f, 0.999f, TutorialCnn.AdamEpsilon), Losses.SparseCategoricalCrossentropy(fromLogits: true));
        var labels = Tensor.FromArray(setup.Labels.Select(l => (float)l).ToArray(), setup.Batch);
        float? firstLoss = null;
        return new Contender(Side, () =>
        {
            if (firstLoss is null)
            {
                // The loss before any update, without dropout, to compare with torch's first step.
                firstLoss = (float)model.Evaluate(setup.Images, labels, setup.Batch)["loss"];
            }
            model.TrainOnBatch(setup.Images, labels);
        }, () => [firstLoss ?? float.NaN]);
    }

    /// <summary>Inference of the tutorial CNN on the batch: logits [N, 10] through <see cref="Model.Predict"/>.</summary>
    public static Contender? TutorialInference(TutorialCnn.Setup setup)
    {
        var model = Build(setup);
        Tensor? logits = null;
        return new Contender(Side, () => { logits?.Dispose(); logits = model.Predict(setup.Images, setup.Batch); }, () => logits!.ToArray());
    }

    /// <summary>
    /// ResNet18 imported from its ONNX file, run on a channels-last (1, 224, 224, 3) image; Output is the 512 features.
    /// With <paramref name="loadEachRun"/> every run imports the file again before inferring (the first-use cost).
    /// </summary>
    public static Contender ResNet18(string path, Tensor image, bool loadEachRun)
    {
        Model? model = loadEachRun ? null : Onnx.OnnxImporter.Load(path).Model;
        Tensor? features = null;
        return new Contender(Side, () =>
        {
            var m = model ?? Onnx.OnnxImporter.Load(path).Model;
            features = m.Predict(image);
        }, () => features!.ToArray());
    }

    /// <summary>The tutorial CNN as a ConvKit Sequential holding <paramref name="setup"/>'s Keras-layout weights.</summary>
    private static Sequential Build(TutorialCnn.Setup setup)
    {
        var model = ModelZoo.Create("tutorial", (28, 28, 1), classes: 10);
        Tensor[] values = [setup.Conv1Kernel, setup.Conv1Bias, setup.Conv2Kernel, setup.Conv2Bias,
            setup.Dense1Kernel, setup.Dense1Bias, setup.Dense2Kernel, setup.Dense2Bias];
        foreach (var (weight, value) in model.Weights.Zip(values)) weight.Assign(value);
        return model;
    }
}
