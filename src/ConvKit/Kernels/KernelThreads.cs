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
/// </remarks>
internal static class KernelThreads
{
    /// <summary>Threads a parallel region may use.</summary>
    public static int Count { get; } = ReadCount();

    [ThreadStatic] private static bool inside;

    /// <summary>True on a thread that is running a task of a parallel region.</summary>
    public static bool InParallel => inside;

    /// <summary>Threads available to a new region started here: <see cref="Count"/>, or 1 inside a region.</summary>
    public static int Available => inside ? 1 : Count;

    /// <summary>Runs <c>body(0) … body(count − 1)</c>, in parallel when outside a region and <see cref="Count"/> &gt; 1.</summary>
    public static void For(int count, Action<int> body)
    {
        if (count <= 0) return;
        if (count == 1 || Available == 1)
        {
            for (int i = 0; i < count; i++) body(i);
            return;
        }
        var options = new ParallelOptions { MaxDegreeOfParallelism = Count };
        Parallel.For(0, count, options, i =>
        {
            bool was = inside;
            inside = true;
            try { body(i); }
            finally { inside = was; }
        });
    }

    /// <summary>
    /// Runs <c>body(0) … body(count − 1)</c> on at most <paramref name="threads"/> threads, handing the items out one at a
    /// time in order as threads come free: for work in more pieces than threads, where a thread slowed by the host should
    /// get fewer of them.
    /// </summary>
    public static void ForEach(int count, int threads, Action<int> body)
    {
        if (count <= 0) return;
        threads = Math.Min(Math.Min(count, threads), Available);
        if (threads == 1)
        {
            for (int i = 0; i < count; i++) body(i);
            return;
        }
        int next = -1;
        For(threads, _ =>
        {
            for (int item = Interlocked.Increment(ref next); item < count; item = Interlocked.Increment(ref next)) body(item);
        });
    }

    /// <summary>
    /// Elements below which a single pass over memory (a mask, a bias) stays on one thread: at 512 KB, splitting costs
    /// about what it saves. Above it two threads move about 1.7× the bytes per second of one on this VM kind.
    /// </summary>
    public const int ElementwiseChunk = 1 << 17;

    /// <summary>
    /// Splits <paramref name="rows"/> rows of <paramref name="rowLength"/> elements into contiguous ranges of rows: as many
    /// as there are whole chunks of <see cref="ElementwiseChunk"/> elements, at most <see cref="Available"/> and at most
    /// one per row, and one range below two chunks; runs <c>body(part, firstRow, endRow)</c> for each. Outside a
    /// parallel region the partition depends only on the shape and <see cref="Count"/>; inside one it is a single range.
    /// </summary>
    public static void ForRows(int rows, int rowLength, Action<int, int, int> body)
    {
        int parts = RowParts(rows, rowLength);
        if (parts == 1) { body(0, 0, rows); return; }
        For(parts, part =>
        {
            var (start, end) = Range(rows, parts, part);
            body(part, start, end);
        });
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
        {
            float* p = start;
            int length = values.Length;
            For((length + chunk - 1) / chunk, i => new Span<float>(p + (nint)i * chunk, Math.Min(chunk, length - i * chunk)).Clear());
        }
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
}
