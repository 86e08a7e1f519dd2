using ConvKit.Tensors;

namespace ConvKit.Data;

/// <summary>
/// Random changes applied to each image of a batch as it is made, so every epoch sees slightly different data.
/// Images are <c>(H, W, C)</c>; the draws come from the batch's seed, so a seed always gives the same batches.
/// </summary>
/// <param name="HorizontalFlip">Mirror left and right with probability 1/2 (Keras <c>RandomFlip("horizontal")</c>).</param>
/// <param name="MaxShift">
/// Shift by a whole number of pixels drawn uniformly from <c>[-MaxShift, MaxShift]</c>, separately for rows and columns,
/// filling with zeros: the same as padding each side with <c>MaxShift</c> zeros and cropping back to <c>H×W</c>
/// at a random offset (the classic CIFAR "pad 4, random crop 32").
/// </param>
public sealed record Augmentation(bool HorizontalFlip = false, int MaxShift = 0)
{
    /// <summary>
    /// Applies a random draw to each image of <paramref name="batch"/> <c>(N, H, W, C)</c> in place and returns it: fits
    /// <see cref="Training.FitOptions.Augment"/>, whose batches are copies.
    /// </summary>
    public Tensor Apply(Tensor batch, RandomSource random)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(random);
        if (batch.Rank != 4) throw new ArgumentException($"Augmentation needs images (N, H, W, C); received {batch.Shape}.", nameof(batch));
        int height = batch.Shape[1], width = batch.Shape[2], channels = batch.Shape[3], sampleSize = height * width * channels;
        var scratch = new float[sampleSize];
        for (int i = 0; i < batch.Shape[0]; i++) Apply(batch.Span.Slice(i * sampleSize, sampleSize), scratch, height, width, channels, random);
        return batch;
    }

    /// <summary>Applies one random draw to <paramref name="sample"/> <c>[H, W, C]</c> in place; <paramref name="scratch"/> holds H·W·C floats.</summary>
    internal void Apply(Span<float> sample, Span<float> scratch, int height, int width, int channels, RandomSource random)
    {
        bool flip = HorizontalFlip && random.NextFloat() < 0.5f;
        int shiftRows = MaxShift > 0 ? random.NextInt(2 * MaxShift + 1) - MaxShift : 0;
        int shiftColumns = MaxShift > 0 ? random.NextInt(2 * MaxShift + 1) - MaxShift : 0;
        if (!flip && shiftRows == 0 && shiftColumns == 0) return;

        sample.CopyTo(scratch);
        sample.Clear();
        int rowLength = width * channels;
        // Shift: out[y, x] = in[y + shiftRows, x + shiftColumns], zero where that falls outside; then mirror each row.
        int firstColumn = Math.Max(0, -shiftColumns), lastColumn = Math.Min(width, width - shiftColumns);
        for (int y = Math.Max(0, -shiftRows); y < Math.Min(height, height - shiftRows); y++)
        {
            var source = scratch.Slice((y + shiftRows) * rowLength, rowLength);
            var target = sample.Slice(y * rowLength, rowLength);
            source.Slice((firstColumn + shiftColumns) * channels, (lastColumn - firstColumn) * channels)
                  .CopyTo(target.Slice(firstColumn * channels));
            if (flip) MirrorRow(target, channels);
        }
    }

    /// <summary>Reverses the pixel order of a row <c>[W, C]</c>, keeping each pixel's channels in order.</summary>
    private static void MirrorRow(Span<float> row, int channels)
    {
        row.Reverse();
        if (channels == 1) return;
        for (int start = 0; start < row.Length; start += channels) row.Slice(start, channels).Reverse();
    }
}
