using ConvKit.Kernels;
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

    /// <summary><see cref="Ops.Conv2D(Tensor, Tensor, Tensor?, ValueTuple{int, int}?, Padding, ValueTuple{int, int}?, int)"/> without bias, stride 1.</summary>
    public static Contender Conv2D(Tensor input, Tensor kernel, Padding padding)
    {
        Tensor? y = null;
        return new Contender(Side, () => y = Ops.Conv2D(input, kernel, null, (1, 1), padding), () => y!.ToArray());
    }

    /// <summary><see cref="Ops.MaxPool2D(Tensor, ValueTuple{int, int}, ValueTuple{int, int}?, Padding)"/>, window = stride.</summary>
    public static Contender MaxPool2D(Tensor input, int pool)
    {
        Tensor? y = null;
        return new Contender(Side, () => y = Ops.MaxPool2D(input, (pool, pool)), () => y!.ToArray());
    }

    /// <summary>
    /// One training step of the tutorial CNN (<see cref="TutorialCnn"/>): forward, sparse categorical
    /// cross-entropy from logits, backward, Adam update. Null until ConvKit's Sequential/Compile/Fit land;
    /// then build the model from <paramref name="setup"/>'s weights (Keras layout already) and return a
    /// contender whose Run is one step and whose Output is <c>[loss of the first step]</c>, the first step
    /// running without dropout (see <see cref="TutorialCnn.TorchTrainStep"/>).
    /// </summary>
    public static Contender? TutorialTrainStep(TutorialCnn.Setup setup)
    {
        _ = setup;
        return null;
    }

    /// <summary>
    /// Inference of the tutorial CNN on a batch: logits [N, 10]. Null until ConvKit's models land; then
    /// build the model from <paramref name="setup"/>'s weights and return Predict as Run and the logits as Output.
    /// </summary>
    public static Contender? TutorialInference(TutorialCnn.Setup setup)
    {
        _ = setup;
        return null;
    }
}
