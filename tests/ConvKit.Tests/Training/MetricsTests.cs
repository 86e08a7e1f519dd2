using ConvKit.Tensors;
using ConvKit.Training;

namespace ConvKit.Tests.Training;

public class MetricsTests
{
    private static readonly Tensor Scores = Tensor.FromArray([
        0.1f, 0.7f, 0.2f,   // predicts 1
        0.5f, 0.3f, 0.2f,   // predicts 0
        0.2f, 0.3f, 0.5f,   // predicts 2
        0.3f, 0.4f, 0.3f,   // predicts 1
    ], 4, 3);
    private static readonly Tensor Labels = Tensor.FromArray([1, 0, 1, 2], 4);

    [Fact]
    public void AccuracyTopKAndConfusion()
    {
        Assert.Equal(0.5, Metrics.Accuracy(Labels, Scores));
        // Sample 2 (label 1) is second best: counts for top-2. Sample 3 (label 2) ties class 0 at 0.3 and loses the tie.
        Assert.Equal(0.75, Metrics.TopKAccuracy(Labels, Scores, 2));
        Assert.Equal(1.0, Metrics.TopKAccuracy(Labels, Scores, 3));
        var confusion = Metrics.ConfusionMatrix(Labels, Scores);
        Assert.Equal(new int[,] { { 1, 0, 0 }, { 0, 1, 1 }, { 0, 1, 0 } }, confusion);
        Assert.Equal([1.0, 0.5, 0.0], Metrics.PerClassAccuracy(confusion));
        Assert.Throws<ArgumentException>(() => Metrics.Accuracy(Tensor.FromArray([3], 1), Tensor.Zeros(1, 3)));
    }
}
