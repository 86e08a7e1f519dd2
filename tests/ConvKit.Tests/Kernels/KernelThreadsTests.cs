using ConvKit.Kernels;

namespace ConvKit.Tests.Kernels;

public class KernelThreadsTests
{
    [Fact]
    public void ForRunsEveryIndexOnceAndNestedRegionsRunSerially()
    {
        var hits = new int[100];
        var nestedParallel = 0;
        KernelThreads.For(hits.Length, i =>
        {
            Interlocked.Increment(ref hits[i]);
            if (KernelThreads.Count > 1 && !KernelThreads.InParallel) Interlocked.Increment(ref nestedParallel);
            KernelThreads.For(3, _ => { if (KernelThreads.Available != 1) Interlocked.Increment(ref nestedParallel); });
        });
        Assert.All(hits, h => Assert.Equal(1, h));
        Assert.Equal(0, nestedParallel);
        Assert.False(KernelThreads.InParallel);
    }

    [Theory]
    [InlineData(0, 3, 1)]
    [InlineData(10, 3, 1)]
    [InlineData(100, 7, 6)]
    [InlineData(5, 8, 6)]
    public void RangesTileTheWholeLengthInGrains(int length, int parts, int grain)
    {
        int next = 0;
        for (int part = 0; part < parts; part++)
        {
            var (start, end) = KernelThreads.Range(length, parts, part, grain);
            Assert.Equal(next, start);
            Assert.True(end >= start);
            if (end < length) Assert.Equal(0, end % grain);
            next = end;
        }
        Assert.Equal(length, next);
    }

    [Fact]
    public void ClearZeroesLargeSpans()
    {
        var values = new float[(3 << 20) + 5];
        Array.Fill(values, 1f);
        KernelThreads.Clear(values);
        Assert.All(values, v => Assert.Equal(0f, v));
    }
}
