namespace ConvKit.Data;

/// <summary>
/// The mean and standard deviation of each channel (last axis) over a data set's images, for
/// <see cref="Dataset.Normalize"/>. Compute them on the training set and apply the same ones to validation and test data.
/// </summary>
public sealed record ChannelStatistics(float[] Mean, float[] StandardDeviation)
{
    public int ChannelCount => Mean.Length;

    public override string ToString() =>
        $"mean [{string.Join(", ", Mean.Select(m => Tensors.Tensor.FormatValue(m)))}], " +
        $"std [{string.Join(", ", StandardDeviation.Select(s => Tensors.Tensor.FormatValue(s)))}]";
}
