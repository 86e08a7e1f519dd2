using ConvKit.Data;
using ConvKit.Tensors;

namespace ConvKit.Tests.Data;

public class DatasetTests
{
    /// <summary>N images of H×W×C whose every value encodes (sample, position), and labels = sample index.</summary>
    private static Dataset Numbered(int count, int height = 4, int width = 5, int channels = 2)
    {
        var images = Tensor.Zeros(count, height, width, channels);
        var values = images.Span;
        int sampleSize = height * width * channels;
        for (int i = 0; i < values.Length; i++) values[i] = i / sampleSize * 1000 + i % sampleSize + 1;
        var labels = Tensor.FromArray(Enumerable.Range(0, count).Select(i => (float)i).ToArray());
        return new Dataset(images, labels);
    }

    private static int[] SampleIds(Tensor images)
    {
        int sampleSize = images.Size / images.Shape[0];
        return Enumerable.Range(0, images.Shape[0]).Select(i => (int)(images.Span[i * sampleSize] - 1) / 1000).ToArray();
    }

    [Fact]
    public void Constructor_RejectsMismatchedCounts()
    {
        var error = Assert.Throws<ArgumentException>(() => new Dataset(Tensor.Zeros(3, 2, 2, 1), Tensor.Zeros(4)));
        Assert.Contains("(3, 2, 2, 1)", error.Message);
        Assert.Contains("(4,)", error.Message);
    }

    [Fact]
    public void Take_KeepsTheFirstSamples()
    {
        var taken = Numbered(10).Take(3);
        Assert.Equal(3, taken.Count);
        Assert.Equal(new float[] { 0, 1, 2 }, taken.Labels.ToArray());
        Assert.Equal(new[] { 0, 1, 2 }, SampleIds(taken.Images));
        Assert.Equal(10, Numbered(10).Take(50).Count);
    }

    [Fact]
    public void Shuffle_IsAPermutation_DeterminedBySeed()
    {
        var data = Numbered(50);
        var a = data.Shuffle(seed: 7);
        var b = data.Shuffle(seed: 7);
        var c = data.Shuffle(seed: 8);

        Assert.Equal(a.Labels.ToArray(), b.Labels.ToArray());
        Assert.NotEqual(a.Labels.ToArray(), c.Labels.ToArray());
        Assert.Equal(Enumerable.Range(0, 50).Select(i => (float)i), a.Labels.ToArray().Order());
        // Images travel with their labels.
        Assert.Equal(a.Labels.ToArray().Select(l => (int)l), SampleIds(a.Images));
    }

    [Theory]
    [InlineData(100, 0.2, 80, 20)]
    [InlineData(10, 0.25, 8, 2)]
    [InlineData(60000, 0.1, 54000, 6000)]
    public void SplitValidation_HoldsOutTheLastFraction_AsKerasDoes(int count, double fraction, int trainCount, int validationCount)
    {
        var (train, validation) = Numbered(count, 1, 1, 1).SplitValidation(fraction);
        Assert.Equal(trainCount, train.Count);
        Assert.Equal(validationCount, validation.Count);
        Assert.Equal(trainCount, validation.Labels.Span[0]);
    }

    [Fact]
    public void SplitValidation_RejectsFractionsOutsideZeroOne()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Numbered(10).SplitValidation(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Numbered(10).SplitValidation(1));
    }

    [Fact]
    public void Batches_CoverEverySampleOnce_LastBatchSmaller()
    {
        var data = Numbered(23);
        var batches = data.Batches(10).ToList();

        Assert.Equal(3, data.BatchCount(10));
        Assert.Equal(new[] { 10, 10, 3 }, batches.Select(b => b.Count));
        Assert.Equal(new Shape(3, 4, 5, 2), batches[2].Images.Shape);
        Assert.Equal(new Shape(3), batches[2].Labels.Shape);
        Assert.Equal(Enumerable.Range(0, 23), batches.SelectMany(b => SampleIds(b.Images)));
        Assert.Equal(data.Images.ToArray(), batches.SelectMany(b => b.Images.ToArray()));
    }

    [Fact]
    public void Batches_Shuffled_AreDeterministicPerSeed_AndMatchShuffle()
    {
        var data = Numbered(37);
        float[] Order(int seed) => data.Batches(8, shuffle: true, seed: seed).SelectMany(b => b.Labels.ToArray()).ToArray();

        Assert.Equal(Order(3), Order(3));
        Assert.NotEqual(Order(3), Order(4));
        Assert.Equal(data.Shuffle(3).Labels.ToArray(), Order(3));
    }

    [Fact]
    public void Batches_WithPrefetch_AreTheSameBatches()
    {
        var data = Numbered(41);
        var augmentation = new Augmentation(HorizontalFlip: true, MaxShift: 1);
        var plain = data.Batches(6, shuffle: true, seed: 5, augmentation: augmentation).ToList();
        var prefetched = data.Batches(6, shuffle: true, seed: 5, augmentation: augmentation, prefetch: true).ToList();

        Assert.Equal(plain.Count, prefetched.Count);
        for (int b = 0; b < plain.Count; b++)
        {
            Assert.Equal(plain[b].Images.ToArray(), prefetched[b].Images.ToArray());
            Assert.Equal(plain[b].Labels.ToArray(), prefetched[b].Labels.ToArray());
        }
    }

    [Fact]
    public void Augmentation_KeepsShapes_IsDeterministicPerSeed_AndChangesImages()
    {
        var data = Numbered(20, height: 6, width: 7, channels: 3);
        var augmentation = new Augmentation(HorizontalFlip: true, MaxShift: 2);
        float[] Run(int seed) => data.Batches(20, seed: seed, augmentation: augmentation).Single().Images.ToArray();

        var batch = data.Batches(20, seed: 1, augmentation: augmentation).Single();
        Assert.Equal(data.Images.Shape, batch.Images.Shape);
        Assert.Equal(Run(1), Run(1));
        Assert.NotEqual(Run(1), Run(2));
        Assert.NotEqual(data.Images.ToArray(), Run(1));
        // The source data is never modified.
        Assert.Equal(Numbered(20, 6, 7, 3).Images.ToArray(), data.Images.ToArray());
    }

    [Fact]
    public void Augmentation_MovesPixelsWithoutChangingThem()
    {
        // One sample; every augmented pixel is either zero padding or a pixel of the original, whole (all channels).
        var data = Numbered(1, height: 5, width: 5, channels: 2);
        var original = data.Images.ToArray();
        for (int seed = 0; seed < 20; seed++)
        {
            var augmented = data.Batches(1, seed: seed, augmentation: new Augmentation(true, 2)).Single().Images.ToArray();
            for (int pixel = 0; pixel < 25; pixel++)
            {
                float first = augmented[2 * pixel], second = augmented[2 * pixel + 1];
                if (first == 0) { Assert.Equal(0, second); continue; }
                int sourcePixel = Array.IndexOf(original, first) / 2;
                Assert.Equal(original[2 * sourcePixel + 1], second);
            }
        }
    }

    [Fact]
    public void Augmentation_FlipAlone_MirrorsColumns()
    {
        var image = Tensor.FromArray([1, 2, 3, 4, 5, 6], 1, 2, 3, 1);
        var data = new Dataset(image, Tensor.Zeros(1));
        var outputs = Enumerable.Range(0, 16)
            .Select(seed => data.Batches(1, seed: seed, augmentation: new Augmentation(HorizontalFlip: true)).Single().Images.ToArray())
            .ToList();
        Assert.Contains(outputs, o => o.SequenceEqual(new float[] { 3, 2, 1, 6, 5, 4 }));
        Assert.Contains(outputs, o => o.SequenceEqual(new float[] { 1, 2, 3, 4, 5, 6 }));
        Assert.All(outputs, o => Assert.True(o.SequenceEqual(new float[] { 3, 2, 1, 6, 5, 4 }) || o.SequenceEqual(new float[] { 1, 2, 3, 4, 5, 6 })));
    }

    [Fact]
    public void Normalize_GivesZeroMeanUnitDeviationPerChannel()
    {
        var images = Tensor.FromArray([1, 10, 3, 30, 5, 50, 7, 70], 2, 2, 1, 2);
        var data = new Dataset(images, Tensor.Zeros(2));
        var statistics = data.ComputeChannelStatistics();

        Assert.Equal(new float[] { 4, 40 }, statistics.Mean);
        Assert.Equal(MathF.Sqrt(5), statistics.StandardDeviation[0], 5);
        Assert.Equal(MathF.Sqrt(500), statistics.StandardDeviation[1], 4);

        var normalized = data.Normalize(statistics).ComputeChannelStatistics();
        Assert.All(normalized.Mean, m => Assert.Equal(0, m, 5));
        Assert.All(normalized.StandardDeviation, s => Assert.Equal(1, s, 5));
    }

    [Fact]
    public void Normalize_RejectsStatisticsForOtherChannelCounts()
    {
        var data = Numbered(2, channels: 2);
        Assert.Throws<ArgumentException>(() => data.Normalize(new ChannelStatistics([0f], [1f])));
    }
}
