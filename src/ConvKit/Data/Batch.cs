using ConvKit.Tensors;

namespace ConvKit.Data;

/// <summary>One batch of a <see cref="Dataset"/>: images <c>(B, H, W, C)</c> and labels <c>(B,)</c>, both fresh copies.</summary>
/// <example><c>foreach (var (images, labels) in train.Batches(100)) { ... }</c></example>
public readonly record struct Batch(Tensor Images, Tensor Labels)
{
    /// <summary>The number of samples in the batch (the last batch of an epoch may be smaller).</summary>
    public int Count => Images.Shape[0];
}
