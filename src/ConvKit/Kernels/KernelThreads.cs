using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;

namespace ConvKit.Kernels;

/// <summary>
/// The one parallel helper every kernel uses. <c>CONVKIT_THREADS</c> sets the number of threads
/// (default: <see cref="Environment.ProcessorCount"/>). Parallel regions never nest: a kernel called from
/// inside a parallel region runs serially on the calling thread, so the machine is never oversubscribed.
/// </summary>
/// <remarks>
/// Determinism is the caller's part of the contract: a task writes only its own outputs, and any
/// reduction across tasks uses a partition that depends only on the shapes and <see cref="Count"/>,
/// summed in a fixed order afterwards. Which thread runs which task then never changes a result.
/// <para>
/// A region runs on the calling thread and <see cref="Count"/> − 1 workers of the kernels' own (<see cref="Crew"/>),
/// which keep watching for the next region for a short while after each one before they sleep. The .NET thread pool's
/// workers, which the regions used before, sleep after about 0.1 ms; waking one took about 0.1 ms on this project's
/// VM, so a region that followed 0.5 ms of serial work ran 86 µs (median) longer than its work, and a short region
/// ran mostly on the calling thread alone. With the crew a region after up to 0.1 ms of serial work costs 1.4–1.7 µs
/// more than its work. The tutorial CNN's training step, eight alternating pairs of processes: medians 63–85 ms
/// against 68–82 ms with the thread pool, faster in six pairs; ResNet18 at batch 1 faster in eight pairs of ten.
/// </para>
/// </remarks>
internal static class KernelThreads
{
    /// <summary>Threads a parallel region may use.</summary>
    public static int Count { get; } = ReadCount();

    [ThreadStatic] private static bool inside;

    /// <summary>True on a thread that is running a task of a parallel region.</summary>
    public static bool InParallel => inside;

    /// <summary>Whether a worker woken for a region is kept off the caller's CPU (<see cref="WakePlacement"/>): Linux, two CPUs or more.</summary>
    internal static bool PlacesWokenWorkers => WakePlacement.Active;

    /// <summary>Threads available to a new region started here: <see cref="Count"/>, or 1 inside a region.</summary>
    public static int Available => inside ? 1 : Count;

    /// <summary>
    /// Runs <c>body(0) … body(count − 1)</c>, in parallel when outside a region and <see cref="Count"/> &gt; 1. While
    /// another thread's region holds the workers, this one runs serially on its own thread, still as a region: regions
    /// nested in its items run serially too, as they would on the workers.
    /// </summary>
    public static void For(int count, Action<int> body)
    {
        if (count <= 0) return;
        if (count == 1 || Available == 1)
        {
            for (int i = 0; i < count; i++) body(i);
            return;
        }
        if (Crew.Instance.TryRun(count, body)) return;
        inside = true;
        try { for (int i = 0; i < count; i++) body(i); }
        finally { inside = false; }
    }

    /// <summary>
    /// A parallel region's work as a struct, for the kernels that must not allocate per call: <c>Run(item)</c> for each
    /// item. The region keeps a copy of the struct, so its fields are the inputs (pointers, sizes), never results.
    /// </summary>
    public interface IItems
    {
        void Run(int item);
    }

    /// <summary>
    /// <see cref="For"/> for a struct's items: nothing is allocated, since the crew keeps the region object for each kind
    /// of items and uses it again.
    /// </summary>
    public static void For<TItems>(int count, in TItems items) where TItems : struct, IItems
    {
        if (count <= 0) return;
        if (count == 1 || Available == 1)
        {
            for (int i = 0; i < count; i++) items.Run(i);
            return;
        }
        if (Crew.Instance.TryRun(count, in items)) return;
        inside = true;
        try { for (int i = 0; i < count; i++) items.Run(i); }
        finally { inside = false; }
    }

    /// <summary>
    /// A struct's items on one thread when <paramref name="threads"/> is 1, else on all of <see cref="Available"/>, each
    /// taking the next item as it comes free (a region hands its items out so): for work in more pieces than threads,
    /// where a thread slowed by the host should get fewer of them. Nothing is allocated.
    /// </summary>
    public static void ForEach<TItems>(int count, int threads, in TItems items) where TItems : struct, IItems
    {
        if (threads <= 1 || Available == 1)
            for (int i = 0; i < count; i++) items.Run(i);
        else For(count, in items);
    }

    /// <summary>
    /// Elements below which a single pass over memory (a mask, a bias) stays on one thread: at 512 KB, splitting costs
    /// about what it saves. Above it two threads move about 1.7× the bytes per second of one on this VM kind.
    /// </summary>
    public const int ElementwiseChunk = 1 << 17;

    /// <summary>A struct's work on a range of rows, for <see cref="ForRows{TRows}"/>: <c>Run(part, firstRow, endRow)</c>.</summary>
    public interface IRows
    {
        void Run(int part, int start, int end);
    }

    /// <summary>
    /// Splits <paramref name="rows"/> rows of <paramref name="rowLength"/> elements into contiguous ranges of rows: as many
    /// as there are whole chunks of <see cref="ElementwiseChunk"/> elements, at most <see cref="Available"/> and at most
    /// one per row, and one range below two chunks; runs <c>body.Run(part, firstRow, endRow)</c> for each (a struct: nothing is allocated). Outside a
    /// parallel region the partition depends only on the shape and <see cref="Count"/>; inside one it is a single range.
    /// </summary>
    public static void ForRows<TRows>(int rows, int rowLength, in TRows body) where TRows : struct, IRows
    {
        int parts = RowParts(rows, rowLength);
        if (parts == 1) { body.Run(0, 0, rows); return; }
        For(parts, new RowRanges<TRows>(body, rows, parts));
    }

    /// <summary>The ranges of <see cref="ForRows{TRows}"/> as a region's items.</summary>
    private readonly struct RowRanges<TRows>(TRows body, int rows, int parts) : IItems where TRows : struct, IRows
    {
        public void Run(int part)
        {
            var (start, end) = Range(rows, parts, part);
            body.Run(part, start, end);
        }
    }

    /// <summary>The number of ranges <see cref="ForRows"/> makes.</summary>
    public static int RowParts(int rows, int rowLength)
    {
        long elements = (long)rows * rowLength;
        int parts = elements >= 2L * ElementwiseChunk ? (int)Math.Min(Available, elements / ElementwiseChunk) : 1;
        return Math.Max(1, Math.Min(parts, rows));
    }

    /// <summary>Zeroes <paramref name="values"/>, in parallel chunks when it is large.</summary>
    public static unsafe void Clear(Span<float> values)
    {
        const int chunk = 1 << 20;
        if (values.Length < 2 * chunk || Available == 1) { values.Clear(); return; }
        fixed (float* start = values)
            For((values.Length + chunk - 1) / chunk, new ClearChunks(start, values.Length, chunk));
    }

    /// <summary>Chunk i of <see cref="Clear"/>.</summary>
    private readonly unsafe struct ClearChunks(float* start, int length, int chunk) : IItems
    {
        public void Run(int i) => new Span<float>(start + (nint)i * chunk, Math.Min(chunk, length - i * chunk)).Clear();
    }

    /// <summary>Splits <c>[0, length)</c> into <paramref name="parts"/> contiguous ranges, multiples of <paramref name="grain"/> except the last.</summary>
    public static (int Start, int End) Range(int length, int parts, int part, int grain = 1)
    {
        int units = (length + grain - 1) / grain;
        int start = (int)((long)units * part / parts) * grain;
        int end = (int)((long)units * (part + 1) / parts) * grain;
        return (Math.Min(start, length), Math.Min(end, length));
    }

    private static int ReadCount()
    {
        var text = Environment.GetEnvironmentVariable("CONVKIT_THREADS");
        return int.TryParse(text, out int value) && value > 0 ? value : Environment.ProcessorCount;
    }

    /// <summary>
    /// The workers behind <see cref="For"/>: <see cref="Count"/> − 1 background threads, started at the first region.
    /// A region is published as a <see cref="Region"/> and a new generation number; every participant takes the next
    /// item until none is left, and the calling thread returns once every item has finished.
    /// </summary>
    private sealed class Crew
    {
        public static Crew Instance { get; } = new(Count - 1);

        /// <summary>
        /// How long a worker keeps checking for the next region before it sleeps: 200 µs covers the serial work between
        /// the regions of a layer and from one layer to the next at batch 1, and costs at most that much of a core
        /// after the last region.
        /// </summary>
        private static readonly long WatchTicks = Stopwatch.Frequency / 5000;

        private readonly int workers;
        private readonly object gate = new();
        private Thread[]? threads;
        private Region? current;
        private long generation;
        private int sleepers;
        private int busy;

        private Crew(int workers)
        {
            this.workers = workers;
            workerIds = new int[Math.Max(0, workers)];
        }

        /// <summary>Runs the region on the crew; false when another thread's region holds it.</summary>
        public bool TryRun(int count, Action<int> body)
        {
            if (workers < 1 || Interlocked.CompareExchange(ref busy, 1, 0) != 0) return false;
            try
            {
                var region = Reserve(ref delegateRegions);
                region.Body = body;
                try { Run(region, count); }
                finally { region.Body = null; }     // the closure is not kept alive until the next region
                return true;
            }
            finally { Volatile.Write(ref busy, 0); }
        }

        /// <summary><see cref="TryRun(int, Action{int})"/> for a struct's items.</summary>
        public bool TryRun<TItems>(int count, in TItems items) where TItems : struct, IItems
        {
            if (workers < 1 || Interlocked.CompareExchange(ref busy, 1, 0) != 0) return false;
            try
            {
                var region = Reserve(ref ItemsRegions<TItems>.Kept);
                region.Items = items;
                Run(region, count);
                return true;
            }
            finally { Volatile.Write(ref busy, 0); }
        }

        private DelegateRegion[]? delegateRegions;

        /// <summary>The regions kept for one kind of items (the crew runs one region at a time, under <c>busy</c>).</summary>
        private static class ItemsRegions<TItems> where TItems : struct, IItems
        {
            public static ItemsRegion<TItems>[]? Kept;
        }

        /// <summary>
        /// A kept region that no worker is inside. A worker the host held up may still be leaving a region it served
        /// before; each worker is inside one at most, so of one more regions than workers, one is free. All are made at the
        /// first region of their kind, none later.
        /// </summary>
        private TRegion Reserve<TRegion>(ref TRegion[]? kept) where TRegion : Region, new()
        {
            if (kept is null)
            {
                kept = new TRegion[workers + 1];
                for (int i = 0; i < kept.Length; i++) kept[i] = new();
            }
            foreach (var region in kept)
                if (region.TryReserve()) return region;
            throw new InvalidOperationException("every kept region has a worker inside, more than there are workers");
        }

        /// <summary>Publishes the reserved <paramref name="region"/> as the next generation and runs it to the end.</summary>
        private void Run(Region region, int count)
        {
            if (threads is null) Start();
            long next = generation + 1;     // only the thread holding the crew changes the generation
            region.Open(count, next);
            Volatile.Write(ref current, region);
            Interlocked.Increment(ref generation);
            if (Volatile.Read(ref sleepers) > 0)
            {
                WakePlacement.KeepOffCallersCpu(workerIds);
                lock (gate) Monitor.PulseAll(gate);
            }
            inside = true;
            try { region.RunItems(); }
            finally { inside = false; }
            region.WaitForAll();
            if (region.Failure is { } failure) ExceptionDispatchInfo.Throw(failure);
        }

        private void Start()
        {
            threads = new Thread[workers];
            for (int i = 0; i < workers; i++)
            {
                int index = i;
                threads[i] = new Thread(() => Work(index)) { IsBackground = true, Name = $"ConvKit kernels {i + 1}" };
                threads[i].Start();
            }
        }

        /// <summary>The workers' operating-system thread ids, for <see cref="WakePlacement"/> (0 until a worker has started, or where unknown).</summary>
        private readonly int[] workerIds;

        private void Work(int index)
        {
            Volatile.Write(ref workerIds[index], WakePlacement.CurrentThreadId());
            inside = true;
            long seen = 0;
            while (true)
            {
                seen = WaitForGeneration(seen);
                Volatile.Read(ref current)!.Join(seen);
            }
        }

        /// <summary>Returns the first generation after <paramref name="seen"/>: watched for a while, then slept for.</summary>
        private long WaitForGeneration(long seen)
        {
            long until = Stopwatch.GetTimestamp() + WatchTicks;
            long now;
            while ((now = Volatile.Read(ref generation)) == seen)
            {
                if (Stopwatch.GetTimestamp() > until)
                {
                    lock (gate)
                    {
                        // The caller bumps the generation, then reads the sleepers; this thread counts itself, then
                        // reads the generation. Both are full fences, so one of the two sees the other's write.
                        Interlocked.Increment(ref sleepers);
                        while ((now = Volatile.Read(ref generation)) == seen) Monitor.Wait(gate);
                        Interlocked.Decrement(ref sleepers);
                    }
                    break;
                }
                Thread.SpinWait(20);
            }
            return now;
        }
    }

    /// <summary>
    /// Keeps a worker that wakes for a region off the CPU of the thread that woke it (Linux). The scheduler tends to put
    /// a woken thread on its waker's CPU; the worker then shares the caller's core for the whole region, which runs at
    /// one core's speed or slower. On this project's 2-core VM, after 5 ms or more of idle a region of 64 items of
    /// 20 µs took 1.36 ms (median), the time of one core, with the worker on the caller's CPU in most regions; at
    /// batch 1 the first layers of an inference that followed a pause ran up to twice their time. Before the wake the
    /// caller reads its CPU and sets the workers' affinity to every allowed CPU but that one (a system call, paid only
    /// when a worker sleeps). Elsewhere, or where libc lacks the calls, nothing is done.
    /// </summary>
    private static unsafe class WakePlacement
    {
        /// <summary>Words of a CPU mask: 1,024 CPUs, glibc's <c>cpu_set_t</c>.</summary>
        private const int Words = 16;

        private static readonly delegate* unmanaged<int> schedGetCpu;
        private static readonly delegate* unmanaged<int> getTid;
        private static readonly delegate* unmanaged<int, nint, ulong*, int> schedSetAffinity;

        /// <summary>The CPUs the process may run on, when there are two or more and the calls exist; else null.</summary>
        private static readonly ulong[]? allowed;

        static WakePlacement()
        {
            if (!OperatingSystem.IsLinux()) return;
            if (!NativeLibrary.TryLoad("libc.so.6", out var libc) && !NativeLibrary.TryLoad("libc", out libc)) return;
            if (!NativeLibrary.TryGetExport(libc, "sched_getcpu", out var getCpu) || !NativeLibrary.TryGetExport(libc, "gettid", out var tid)
                || !NativeLibrary.TryGetExport(libc, "sched_setaffinity", out var set) || !NativeLibrary.TryGetExport(libc, "sched_getaffinity", out var get))
                return;
            var mask = new ulong[Words];
            fixed (ulong* m = mask)
                if (((delegate* unmanaged<int, nint, ulong*, int>)get)(0, Words * sizeof(ulong), m) != 0) return;
            int cpus = 0;
            foreach (var word in mask) cpus += System.Numerics.BitOperations.PopCount(word);
            if (cpus < 2) return;
            schedGetCpu = (delegate* unmanaged<int>)getCpu;
            getTid = (delegate* unmanaged<int>)tid;
            schedSetAffinity = (delegate* unmanaged<int, nint, ulong*, int>)set;
            allowed = mask;
        }

        public static bool Active => allowed is not null;

        /// <summary>The calling thread's operating-system id, or 0.</summary>
        public static int CurrentThreadId() => allowed is null ? 0 : getTid();

        /// <summary>Lets each worker in <paramref name="workerIds"/> run on every allowed CPU but the caller's.</summary>
        public static void KeepOffCallersCpu(int[] workerIds)
        {
            if (allowed is null) return;
            int cpu = schedGetCpu();
            if ((uint)cpu >= Words * 64 || (allowed[cpu >> 6] & (1UL << (cpu & 63))) == 0) return;
            ulong* mask = stackalloc ulong[Words];
            for (int i = 0; i < Words; i++) mask[i] = allowed[i];
            mask[cpu >> 6] &= ~(1UL << (cpu & 63));
            for (int i = 0; i < workerIds.Length; i++)
                if (Volatile.Read(ref workerIds[i]) is var id and not 0) schedSetAffinity(id, Words * sizeof(ulong), mask);
        }
    }

    /// <summary>
    /// One region's items, handed out one at a time; a worker that comes late finds none left. A region object serves
    /// one generation after another: a worker runs its items only while the region's stamp is the generation the worker
    /// woke for, and the crew reuses a region only when no worker is inside it (<see cref="TryReserve"/>).
    /// </summary>
    private abstract class Region
    {
        /// <summary>
        /// Takes per thread that a region of many small items is handed out in: as many items go at once as leave each
        /// thread about this many takes, still enough that the others take over from a thread the host slows.
        /// </summary>
        private const int TakesPerThread = 16;

        private const long Reserved = -1;
        private int count;
        private int next;
        private int step;
        private int finished;
        private int entered;
        private long stamp = Reserved;
        private Exception? failure;

        /// <summary>The first exception an item threw, rethrown on the calling thread once every item has finished.</summary>
        public Exception? Failure => Volatile.Read(ref failure);

        protected abstract void RunItem(int item);

        /// <summary>
        /// Closes the region to workers and tells whether none is inside. The exchange and a worker's increment in
        /// <see cref="Join"/> are both full fences, so either this sees the worker inside, or the worker sees the region
        /// closed and leaves without touching it.
        /// </summary>
        public bool TryReserve()
        {
            Interlocked.Exchange(ref stamp, Reserved);
            return Volatile.Read(ref entered) == 0;
        }

        /// <summary>Resets a reserved region for <paramref name="items"/> items, then opens it to the workers of <paramref name="generation"/>.</summary>
        public void Open(int items, long generation)
        {
            count = items;
            next = 0;
            // Items go out several at a time once there are more than twice TakesPerThread per thread, else one at a time.
            step = Math.Max(1, items / (TakesPerThread * Count));
            finished = 0;
            failure = null;
            Volatile.Write(ref stamp, generation);
        }

        /// <summary>A worker woken for generation <paramref name="seen"/> runs items, unless the region now serves another.</summary>
        public void Join(long seen)
        {
            Interlocked.Increment(ref entered);
            try
            {
                if (Volatile.Read(ref stamp) == seen) RunItems();
            }
            finally { Interlocked.Decrement(ref entered); }
        }

        /// <summary>
        /// Takes items, <see cref="step"/> at a time, until none is left, then counts them finished at once. Each take
        /// is an atomic add on a count that moves between the threads' caches: one per item, a 28×28×1 → 32 convolution
        /// at batch 128 (3,584 one-row items of 8,064 multiply-adds) spent an eighth of its samples taking them.
        /// </summary>
        public void RunItems()
        {
            int done = 0;
            try
            {
                for (int first = Interlocked.Add(ref next, step) - step; first < count; first = Interlocked.Add(ref next, step) - step)
                    for (int item = first, end = Math.Min(count, first + step); item < end; item++)
                    {
                        try { RunItem(item); }
                        catch (Exception e) { Interlocked.CompareExchange(ref failure, e, null); }
                        done++;
                    }
            }
            finally { if (done > 0) Interlocked.Add(ref finished, done); }
        }

        public void WaitForAll()
        {
            var spinner = new SpinWait();
            while (Volatile.Read(ref finished) < count) spinner.SpinOnce(sleep1Threshold: -1);
        }
    }

    private sealed class DelegateRegion : Region
    {
        public Action<int>? Body;

        protected override void RunItem(int item) => Body!(item);
    }

    private sealed class ItemsRegion<TItems> : Region where TItems : struct, IItems
    {
        public TItems Items;

        protected override void RunItem(int item) => Items.Run(item);
    }
}
