using ConvKit.Tensors;

namespace ConvKit.Training;

/// <summary>Classification metrics over integer labels (N,) and scores (N, C) — logits or probabilities alike.</summary>
public static class Metrics
{
    /// <summary>The fraction of samples whose highest score is their label (Keras's sparse categorical accuracy).</summary>
    public static double Accuracy(Tensor labels, Tensor scores) => TopKAccuracy(labels, scores, 1);

    /// <summary>The fraction of samples whose label is among their <paramref name="k"/> highest scores (ties count against).</summary>
    public static double TopKAccuracy(Tensor labels, Tensor scores, int k)
    {
        var (n, c) = Check(labels, scores);
        if (n == 0) return 0;
        int hits = 0;
        var s = scores.Span;
        for (int i = 0; i < n; i++)
        {
            int label = (int)labels.Span[i];
            float target = s[i * c + label];
            int higher = 0;
            for (int j = 0; j < c; j++)
                if (s[i * c + j] > target || (s[i * c + j] == target && j < label)) higher++;
            if (higher < k) hits++;
        }
        return hits / (double)n;
    }

    /// <summary>The index of the highest score of each row.</summary>
    public static int[] ArgMax(Tensor scores)
    {
        int n = scores.Shape[0], c = scores.Size / Math.Max(1, n);
        var result = new int[n];
        var s = scores.Span;
        for (int i = 0; i < n; i++)
        {
            int best = 0;
            for (int j = 1; j < c; j++) if (s[i * c + j] > s[i * c + best]) best = j;
            result[i] = best;
        }
        return result;
    }

    /// <summary>counts[true, predicted]: row i tells how samples of class i were classified.</summary>
    public static int[,] ConfusionMatrix(Tensor labels, Tensor scores)
    {
        var (n, c) = Check(labels, scores);
        var matrix = new int[c, c];
        var predicted = ArgMax(scores);
        for (int i = 0; i < n; i++) matrix[(int)labels.Span[i], predicted[i]]++;
        return matrix;
    }

    /// <summary>For each class, the fraction of its samples classified correctly (NaN for a class with no samples).</summary>
    public static double[] PerClassAccuracy(int[,] confusion)
    {
        int c = confusion.GetLength(0);
        var result = new double[c];
        for (int i = 0; i < c; i++)
        {
            int total = 0;
            for (int j = 0; j < c; j++) total += confusion[i, j];
            result[i] = total == 0 ? double.NaN : confusion[i, i] / (double)total;
        }
        return result;
    }

    private static (int N, int C) Check(Tensor labels, Tensor scores)
    {
        if (scores.Rank != 2 || labels.Size != scores.Shape[0])
            throw new ArgumentException($"Metrics need scores (batch, classes) and one label per sample; received labels {labels.Shape} and scores {scores.Shape}.");
        int c = scores.Shape[1];
        foreach (float label in labels.Span)
            if (label < 0 || label >= c || label != MathF.Floor(label))
                throw new ArgumentException($"Label {label} is not a class index in [0, {c}).");
        return (scores.Shape[0], c);
    }
}
