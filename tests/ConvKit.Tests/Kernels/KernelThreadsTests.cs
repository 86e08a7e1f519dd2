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

    private unsafe readonly struct Hits(int* counts) : KernelThreads.IItems
    {
        public void Run(int item) => Interlocked.Increment(ref counts[item]);
    }

    private unsafe readonly struct Sums(long* total) : KernelThreads.IItems
    {
        public void Run(int item) => Interlocked.Add(ref *total, item + 1);
    }

    private readonly struct Throws(int at) : KernelThreads.IItems
    {
        public void Run(int item)
        {
            if (item == at) throw new InvalidOperationException($"item {item}");
        }
    }

    /// <summary>
    /// Regions of struct items, two kinds and delegate regions in turn, back to back and after pauses: the kept region
    /// objects serve one region after another, and every index runs once in each.
    /// </summary>
    [Fact]
    public unsafe void StructItemsRunEveryIndexOnceInRegionsUsedAgain()
    {
        var counts = GC.AllocateArray<int>(64, pinned: true);
        long total = 0;
        fixed (int* pc = counts)
        {
            for (int region = 0; region < 3000; region++)
            {
                if (region % 500 == 499) Thread.Sleep(2);
                int n = 1 + region % 37;
                Array.Clear(counts);
                KernelThreads.For(n, new Hits(pc));
                for (int i = 0; i < 64; i++) Assert.Equal(i < n ? 1 : 0, counts[i]);
                total = 0;
                KernelThreads.ForEach(n, KernelThreads.Available, new Sums(&total));
                Assert.Equal((long)n * (n + 1) / 2, total);
                int delegateHits = 0;
                KernelThreads.For(3, _ => Interlocked.Increment(ref delegateHits));
                Assert.Equal(3, delegateHits);
            }
        }
        var error = Assert.Throws<InvalidOperationException>(() => KernelThreads.For(40, new Throws(29)));
        Assert.Equal("item 29", error.Message);
    }

    /// <summary>A region of struct items, once its region object is kept, allocates nothing.</summary>
    [Fact]
    public unsafe void StructItemsAllocateNothing()
    {
        long total = 0;
        for (int i = 0; i < 10; i++) KernelThreads.For(8, new Sums(&total));
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 200; i++) KernelThreads.For(8, new Sums(&total));
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(210L * 36, total);
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

    /// <summary>
    /// A region of many items hands them out several at a time; each still runs once, whatever the count's remainder,
    /// and an item's exception reaches the caller (no item running twice).
    /// </summary>
    [Theory]
    [InlineData(63)]
    [InlineData(64)]
    [InlineData(65)]
    [InlineData(1000)]
    [InlineData(10007)]
    public unsafe void ManyItemsRunOnceEach(int count)
    {
        var hits = new int[count];
        fixed (int* counts = hits) KernelThreads.For(count, new Hits(counts));
        Assert.All(hits, h => Assert.Equal(1, h));

        Array.Clear(hits);
        var error = Assert.Throws<InvalidOperationException>(() => KernelThreads.For(count, i =>
        {
            Interlocked.Increment(ref hits[i]);
            if (i == count / 2) throw new InvalidOperationException($"item {i}");
        }));
        Assert.Equal($"item {count / 2}", error.Message);
        Assert.Equal(1, hits[count / 2]);
        Assert.All(hits, h => Assert.InRange(h, 0, 1));
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

[CollectionDefinition(nameof(WorkerPlacementCollection), DisableParallelization = true)]
public class WorkerPlacementCollection;

/// <summary>Alone, so that no other test's regions keep the worker awake through the pauses.</summary>
[Collection(nameof(WorkerPlacementCollection))]
public class WorkerPlacementTests
{
    /// <summary>
    /// A worker that slept through a pause and is woken for a region may then run on every CPU the process may use
    /// but the one its caller was on: the affinity Linux reports for it is one CPU short of the process's.
    /// </summary>
    [Fact]
    public void AWokenWorkerIsKeptOffTheCallersCpu()
    {
        if (!OperatingSystem.IsLinux() || KernelThreads.Count < 2) return;
        var allowed = CpusAllowed(File.ReadAllText("/proc/self/status"));
        Assert.Equal(allowed.Count >= 2, KernelThreads.PlacesWokenWorkers);
        if (allowed.Count < 2) return;
        for (int attempt = 0; attempt < 20; attempt++)
        {
            KernelThreads.For(4, _ => { });
            Thread.Sleep(20);                   // the worker watches for 0.2 ms, then sleeps
            KernelThreads.For(4, _ => { });     // and this region wakes it
            // Linux keeps 15 characters of a thread's name: every worker reads "ConvKit kernels".
            var workers = Directory.GetDirectories("/proc/self/task")
                .Select(task => File.ReadAllText(Path.Combine(task, "status")))
                .Where(status => status.Contains("Name:\tConvKit kernels"))
                .Select(CpusAllowed).ToList();
            Assert.Equal(KernelThreads.Count - 1, workers.Count);
            if (workers.All(cpus => cpus.Count == allowed.Count - 1))
            {
                Assert.All(workers, cpus => Assert.Subset(allowed, cpus));
                return;
            }
        }
        Assert.Fail("the worker kept every CPU of the process through 20 wakes");
    }

    /// <summary>The CPUs of a status file's <c>Cpus_allowed_list</c> line ("0-3,6").</summary>
    private static HashSet<int> CpusAllowed(string status)
    {
        string list = status.Split('\n').Single(line => line.StartsWith("Cpus_allowed_list:")).Split(':')[1].Trim();
        var cpus = new HashSet<int>();
        foreach (var range in list.Split(','))
        {
            var ends = range.Split('-').Select(int.Parse).ToArray();
            for (int cpu = ends[0]; cpu <= ends[^1]; cpu++) cpus.Add(cpu);
        }
        return cpus;
    }
}
