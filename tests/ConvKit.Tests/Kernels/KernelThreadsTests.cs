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

    /// <summary>
    /// A region started while another thread's region holds the workers runs on its own thread, and its items still run
    /// as a region's: nested regions in them run serially.
    /// </summary>
    [Fact]
    public void ARegionWhileTheWorkersAreBusyRunsItsItemsAsARegion()
    {
        if (KernelThreads.Count < 2) return;
        using var release = new ManualResetEventSlim();
        var holder = new Thread(() => KernelThreads.For(2, _ => release.Wait(TimeSpan.FromSeconds(10))));
        holder.Start();
        Thread.Sleep(50);   // the holder's region takes the workers
        int outside = 0, items = 0;
        KernelThreads.For(4, _ =>
        {
            Interlocked.Increment(ref items);
            if (!KernelThreads.InParallel) Interlocked.Increment(ref outside);
            KernelThreads.For(3, _ => { if (KernelThreads.Available != 1) Interlocked.Increment(ref outside); });
        });
        release.Set();
        holder.Join();
        Assert.Equal(4, items);
        Assert.Equal(0, outside);
        Assert.False(KernelThreads.InParallel);
    }

    [Fact]
    public void ManyRegionsInARowEachRunEveryIndexOnce()
    {
        // Regions back to back and after pauses, so the workers are met both awake and asleep.
        for (int region = 0; region < 300; region++)
        {
            if (region % 50 == 49) Thread.Sleep(2);
            var hits = new int[1 + region % 37];
            KernelThreads.For(hits.Length, i => Interlocked.Increment(ref hits[i]));
            Assert.All(hits, h => Assert.Equal(1, h));
        }
    }

    [Fact]
    public void AnItemsExceptionReachesTheCallerAsItself()
    {
        var hits = new int[64];
        var error = Assert.Throws<InvalidOperationException>(() => KernelThreads.For(hits.Length, i =>
        {
            Interlocked.Increment(ref hits[i]);
            if (i == 37) throw new InvalidOperationException("item 37");
        }));
        Assert.Equal("item 37", error.Message);
        Assert.All(hits, h => Assert.InRange(h, 0, 1));
        // The next region runs normally.
        int sum = 0;
        KernelThreads.For(10, i => Interlocked.Add(ref sum, i));
        Assert.Equal(45, sum);
    }

    [Fact]
    public void RegionsFromSeveralThreadsAtOnceAllComplete()
    {
        // One caller holds the workers; the others run their regions serially on their own threads.
        var totals = new long[4];
        var callers = Enumerable.Range(0, totals.Length).Select(t => new Thread(() =>
        {
            for (int region = 0; region < 200; region++)
                KernelThreads.For(17, i => Interlocked.Add(ref totals[t], i + 1));
        })).ToArray();
        foreach (var caller in callers) caller.Start();
        foreach (var caller in callers) caller.Join();
        Assert.All(totals, total => Assert.Equal(200L * 17 * 18 / 2, total));
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
