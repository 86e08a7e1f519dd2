using ConvKit.Operations;
using ConvKit.Tensors;

namespace ConvKit.Training;

/// <summary>A loss: turns (labels, predictions) into one scalar to minimise, differentiable in the predictions.</summary>
public sealed class Loss(string name, bool fromLogits, Func<Tensor, Tensor, Tensor> compute)
{
    /// <summary>The Keras identifier, e.g. <c>sparse_categorical_crossentropy</c>.</summary>
    public string Name { get; } = name;

    /// <summary>True when the predictions are logits (the loss applies the softmax itself).</summary>
    public bool FromLogits { get; } = fromLogits;

    /// <summary>The mean loss over the batch (a scalar tensor).</summary>
    public Tensor Compute(Tensor labels, Tensor predictions) => compute(labels, predictions);

    public override string ToString() => Name;
}

/// <summary>Keras's losses, averaged over the batch.</summary>
public static class Losses
{
    /// <summary>Keras's <c>backend.epsilon()</c>: probabilities are clipped to [ε, 1 − ε] before the logarithm.</summary>
    public const float Epsilon = 1e-7f;

    /// <summary>
    /// Integer labels (N,) against predictions (N, C): mean of −log p[i, label_i].
    /// From logits, p = softmax(logits) computed as log-softmax; from probabilities, p is clipped to [ε, 1 − ε]
    /// and renormalised, as Keras's TensorFlow backend does.
    /// </summary>
    public static Loss SparseCategoricalCrossentropy(bool fromLogits = false) =>
        new("sparse_categorical_crossentropy", fromLogits, (labels, predictions) =>
        {
            RequireBatch(labels, predictions, "SparseCategoricalCrossentropy");
            return Ops.NegativeLogLikelihood(LogProbabilities(predictions, fromLogits), labels);
        });

    /// <summary>One-hot (or soft) labels (N, C) against predictions (N, C): mean over the batch of −Σ_c y[i,c]·log p[i,c].</summary>
    public static Loss CategoricalCrossentropy(bool fromLogits = false) =>
        new("categorical_crossentropy", fromLogits, (labels, predictions) =>
        {
            if (labels.Shape != predictions.Shape)
                throw new ArgumentException($"CategoricalCrossentropy needs labels and predictions of one shape; received labels {labels.Shape} and predictions {predictions.Shape}.");
            var perSample = Ops.Sum(Ops.Multiply(labels, LogProbabilities(predictions, fromLogits)), [-1]);
            return Ops.Scale(Ops.Mean(perSample), -1f);
        });

    /// <summary>Mean over every value of (y − ŷ)².</summary>
    public static Loss MeanSquaredError() =>
        new("mean_squared_error", false, (labels, predictions) =>
        {
            if (labels.Shape != predictions.Shape)
                throw new ArgumentException($"MeanSquaredError needs labels and predictions of one shape; received labels {labels.Shape} and predictions {predictions.Shape}.");
            return Ops.Mean(Ops.Square(Ops.Subtract(predictions, labels)));
        });

    /// <summary>Looks up a loss by its Keras name.</summary>
    public static Loss FromName(string name, bool fromLogits = false) => name switch
    {
        "sparse_categorical_crossentropy" => SparseCategoricalCrossentropy(fromLogits),
        "categorical_crossentropy" => CategoricalCrossentropy(fromLogits),
        "mean_squared_error" or "mse" => MeanSquaredError(),
        _ => throw new ArgumentException($"Unknown loss '{name}'; known: sparse_categorical_crossentropy, categorical_crossentropy, mean_squared_error."),
    };

    /// <summary>log p along the last axis: log-softmax of logits, or the log of clipped, renormalised probabilities.</summary>
    private static Tensor LogProbabilities(Tensor predictions, bool fromLogits) =>
        fromLogits ? Ops.LogSoftmax(predictions) : Ops.LogSoftmax(Ops.Log(Ops.Clip(predictions, Epsilon, 1 - Epsilon)));

    private static void RequireBatch(Tensor labels, Tensor predictions, string name)
    {
        if (predictions.Rank != 2 || labels.Size != predictions.Shape[0])
            throw new ArgumentException($"{name} needs predictions (batch, classes) and one label per sample; received labels {labels.Shape} and predictions {predictions.Shape}.");
    }
}
