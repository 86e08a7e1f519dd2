using ConvKit.Tensors;

namespace ConvKit.Data;

/// <summary>
/// A labelled data set held in memory: images <c>(N, H, W, C)</c> and labels <c>(N,)</c> (class indices as floats;
/// any <c>(N, ...)</c> labels such as one-hot rows work too). Operations return new data sets and leave this one as it is.
/// </summary>
/// <remarks>
/// The tensors are used as given, not copied. <see cref="Batches"/> copies each batch out, so a batch may be
/// changed (augmented, normalised) freely.
/// </remarks>
/// <example>
/// <code>
/// var (train, test) = FashionMnist.Load();
/// var (fit, validation) = train.Shuffle(seed: 1).SplitValidation(0.1);
/// foreach (var (images, labels) in fit.Batches(100, shuffle: true, seed: epoch, augmentation: new(HorizontalFlip: true)))
///     ...
/// </code>
/// </example>
public sealed class Dataset
{
    public Dataset(Tensor images, Tensor labels, IReadOnlyList<string>? classNames = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        if (images.Rank < 2) throw new ArgumentException($"Images need a batch axis and at least one more, e.g. (N, H, W, C); received {images.Shape}.", nameof(images));
        if (labels.Rank < 1 || labels.Shape[0] != images.Shape[0])
            throw new ArgumentException($"Labels need one entry per image: images {images.Shape}, labels {labels.Shape}.", nameof(labels));
        Images = images;
        Labels = labels;
        ClassNames = classNames;
    }

    /// <summary>The images, <c>(N, H, W, C)</c>.</summary>
    public Tensor Images { get; }

    /// <summary>The labels, <c>(N,)</c> class indices as floats.</summary>
    public Tensor Labels { get; }

    /// <summary>The name of each class index, when known (e.g. Fashion-MNIST's <c>"T-shirt/top"</c> for 0).</summary>
    public IReadOnlyList<string>? ClassNames { get; }

    /// <summary>N, the number of samples.</summary>
    public int Count => Images.Shape[0];

    /// <summary>The shape of one image, <c>(H, W, C)</c>.</summary>
    public Shape SampleShape => new(Images.Shape.ToArray()[1..]);

    private int SampleSize => Images.Size / Math.Max(Count, 1);
    private int LabelSize => Labels.Size / Math.Max(Count, 1);

    /// <summary>The first <paramref name="count"/> samples (all of them if there are fewer).</summary>
    public Dataset Take(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        count = Math.Min(count, Count);
        return new Dataset(Images.Slice(0, 0, count), Labels.Slice(0, 0, count), ClassNames);
    }

    /// <summary>The samples at <paramref name="indices"/>, in that order (repeats allowed).</summary>
    public Dataset Select(ReadOnlySpan<int> indices)
    {
        var images = Tensor.Zeros(Images.Shape.WithBatch(indices.Length));
        var labels = Tensor.Zeros(Labels.Shape.WithBatch(indices.Length));
        Gather(indices, images, labels);
        return new Dataset(images, labels, ClassNames);
    }

    /// <summary>The samples in a random order that depends only on <paramref name="seed"/>.</summary>
    public Dataset Shuffle(int seed) => Select(Permutation(seed));

    /// <summary>
    /// Holds out the last <paramref name="validationFraction"/> of the samples, as Keras's <c>validation_split</c> does:
    /// training gets the first <c>ceil(N·(1 − fraction))</c>. Shuffle first if the data is sorted.
    /// </summary>
    public (Dataset Train, Dataset Validation) SplitValidation(double validationFraction)
    {
        if (!(validationFraction > 0 && validationFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(validationFraction), $"The validation fraction must be in (0, 1); received {validationFraction}.");
        int trainCount = (int)Math.Ceiling(Count * (1 - validationFraction));
        return (
            new Dataset(Images.Slice(0, 0, trainCount), Labels.Slice(0, 0, trainCount), ClassNames),
            new Dataset(Images.Slice(0, trainCount, Count - trainCount), Labels.Slice(0, trainCount, Count - trainCount), ClassNames));
    }

    /// <summary>The mean and (population) standard deviation of each channel, the last axis of the images, over all samples.</summary>
    public ChannelStatistics ComputeChannelStatistics()
    {
        int channels = Images.Shape[-1];
        var sum = new double[channels];
        var sumOfSquares = new double[channels];
        var chunkSum = new float[channels];
        var chunkSumOfSquares = new float[channels];
        var values = Images.Span;
        // Float sums over short chunks (fast, SIMD for one channel), added up in double so millions of values keep their precision.
        int chunkLength = 1024 * channels;
        for (int start = 0; start < values.Length; start += chunkLength)
        {
            var chunk = values.Slice(start, Math.Min(chunkLength, values.Length - start));
            if (channels == 1)
            {
                chunkSum[0] = TensorPrimitives.Sum(chunk);
                chunkSumOfSquares[0] = TensorPrimitives.SumOfSquares(chunk);
            }
            else
            {
                Array.Clear(chunkSum);
                Array.Clear(chunkSumOfSquares);
                for (int i = 0; i < chunk.Length; i += channels)
                {
                    for (int c = 0; c < channels; c++)
                    {
                        float v = chunk[i + c];
                        chunkSum[c] += v;
                        chunkSumOfSquares[c] += v * v;
                    }
                }
            }
            for (int c = 0; c < channels; c++)
            {
                sum[c] += chunkSum[c];
                sumOfSquares[c] += chunkSumOfSquares[c];
            }
        }
        long perChannel = Math.Max(1, values.Length / channels);
        var mean = new float[channels];
        var deviation = new float[channels];
        for (int c = 0; c < channels; c++)
        {
            double m = sum[c] / perChannel;
            mean[c] = (float)m;
            deviation[c] = (float)Math.Sqrt(Math.Max(0, sumOfSquares[c] / perChannel - m * m));
        }
        return new ChannelStatistics(mean, deviation);
    }

    /// <summary>
    /// <c>(x − mean[c]) / max(std[c], 1e-7)</c> for every value of channel c, as Keras's <c>Normalization</c> layer computes.
    /// </summary>
    public Dataset Normalize(ChannelStatistics statistics)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        int channels = Images.Shape[-1];
        if (statistics.ChannelCount != channels || statistics.StandardDeviation.Length != channels)
            throw new ArgumentException($"Statistics for {statistics.ChannelCount} channels do not fit images {Images.Shape}.", nameof(statistics));
        const float epsilon = 1e-7f;
        var scale = statistics.StandardDeviation.Select(s => 1f / Math.Max(s, epsilon)).ToArray();
        var normalized = Tensor.Zeros(Images.Shape);
        ReadOnlySpan<float> source = Images.Span;
        var target = normalized.Span;
        if (channels == 1)
        {
            TensorPrimitives.Subtract(source, statistics.Mean[0], target);
            TensorPrimitives.Multiply(target, scale[0], target);
        }
        else
        {
            for (int i = 0; i < source.Length; i += channels)
                for (int c = 0; c < channels; c++)
                    target[i + c] = (source[i + c] - statistics.Mean[c]) * scale[c];
        }
        return new Dataset(normalized, Labels, ClassNames);
    }

    /// <summary>The number of batches of <paramref name="batchSize"/> in one pass: <c>ceil(N / batchSize)</c>.</summary>
    public int BatchCount(int batchSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        return (int)((Count + (long)batchSize - 1) / batchSize);
    }

    /// <summary>
    /// One pass over the data in batches of <paramref name="batchSize"/> (the last one smaller when N is not a multiple).
    /// </summary>
    /// <param name="batchSize">Samples per batch.</param>
    /// <param name="shuffle">Visit the samples in a random order drawn from <paramref name="seed"/>; pass a new seed each epoch (e.g. <c>seed + epoch</c>).</param>
    /// <param name="seed">Decides the order and the augmentation; the same seed always gives the same batches.</param>
    /// <param name="augmentation">Random flips and shifts applied to each batch's copy of the images; needs <c>(N, H, W, C)</c> images.</param>
    /// <param name="prefetch">Make the next batch on a background thread while the caller works on this one. Batches are identical either way.</param>
    public IEnumerable<Batch> Batches(int batchSize, bool shuffle = false, int seed = 0, Augmentation? augmentation = null, bool prefetch = false)
    {
        int batchCount = BatchCount(batchSize);
        if (augmentation is not null)
        {
            if (Images.Rank != 4) throw new ArgumentException($"Augmentation needs images (N, H, W, C); received {Images.Shape}.", nameof(augmentation));
            ArgumentOutOfRangeException.ThrowIfNegative(augmentation.MaxShift, nameof(augmentation));
        }

        var random = new RandomSource(seed);
        int[] order = Enumerable.Range(0, Count).ToArray();
        if (shuffle) random.Shuffle(order.AsSpan());
        // Each batch draws from its own stream, so a batch does not depend on which thread makes it or when.
        var batchSeeds = new int[batchCount];
        for (int b = 0; b < batchCount; b++) batchSeeds[b] = unchecked((int)random.NextUInt());

        Batch MakeBatch(int b)
        {
            int start = b * batchSize, count = Math.Min(batchSize, Count - start);
            var images = Tensor.Zeros(Images.Shape.WithBatch(count));
            var labels = Tensor.Zeros(Labels.Shape.WithBatch(count));
            Gather(order.AsSpan(start, count), images, labels);
            if (augmentation is not null) Augment(images, augmentation, new RandomSource(batchSeeds[b]));
            return new Batch(images, labels);
        }

        return prefetch ? Prefetched(MakeBatch, batchCount) : Enumerable.Range(0, batchCount).Select(MakeBatch);
    }

    private static IEnumerable<Batch> Prefetched(Func<int, Batch> makeBatch, int batchCount)
    {
        if (batchCount == 0) yield break;
        var next = Task.Run(() => makeBatch(0));
        for (int b = 0; b < batchCount; b++)
        {
            var current = next.GetAwaiter().GetResult();
            int following = b + 1;
            if (following < batchCount) next = Task.Run(() => makeBatch(following));
            yield return current;
        }
    }

    private static void Augment(Tensor images, Augmentation augmentation, RandomSource random)
    {
        int height = images.Shape[1], width = images.Shape[2], channels = images.Shape[3];
        int sampleSize = height * width * channels;
        var scratch = new float[sampleSize];
        for (int i = 0; i < images.Shape[0]; i++)
            augmentation.Apply(images.Span.Slice(i * sampleSize, sampleSize), scratch, height, width, channels, random);
    }

    /// <summary>Copies samples <paramref name="indices"/> into <paramref name="images"/> <c>(B, ...)</c> and <paramref name="labels"/> <c>(B, ...)</c>.</summary>
    private void Gather(ReadOnlySpan<int> indices, Tensor images, Tensor labels)
    {
        int sampleSize = SampleSize, labelSize = LabelSize;
        for (int i = 0; i < indices.Length; i++)
        {
            int index = indices[i];
            if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(indices), $"Index {index} is outside a data set of {Count} samples.");
            Array.Copy(Images.Data, (long)index * sampleSize, images.Data, (long)i * sampleSize, sampleSize);
            Array.Copy(Labels.Data, (long)index * labelSize, labels.Data, (long)i * labelSize, labelSize);
        }
    }

    private int[] Permutation(int seed)
    {
        int[] order = Enumerable.Range(0, Count).ToArray();
        new RandomSource(seed).Shuffle(order.AsSpan());
        return order;
    }

    public override string ToString() => $"Dataset({Count} samples, images {Images.Shape}, labels {Labels.Shape})";
}
