namespace ConvKit.Tensors;

/// <summary>
/// Reuses the storage of large tensors. A tensor that is disposed hands its array back here, and the next tensor of
/// the same size takes it instead of asking the runtime for fresh memory, the way ONNX Runtime's arena and libtorch's
/// caching allocator do. Fresh memory is expensive at these sizes: the operating system maps and zeroes every 4 KB
/// page on first touch, and a 132 MB convolution output costs more in page faults than the convolution itself.
/// </summary>
/// <remarks>
/// Only arrays of at least <see cref="MinimumPooledLength"/> floats are kept, at most <see cref="Budget"/> bytes in all;
/// past that an array is left to the garbage collector. Training and inference dispose their own intermediate tensors;
/// a tensor that is never disposed is collected as usual and simply does not come back here.
/// </remarks>
public static class TensorMemory
{
    /// <summary>
    /// Arrays shorter than this (64 KB) are ordinary garbage-collected arrays. From 85,000 bytes the runtime puts arrays
    /// on its large-object heap, whose fresh pages fault on first touch: with 256 KB here, ResNet18's 100–200 KB
    /// activations cost about 500 page faults per inference at batch 1, and in alternating processes inference ran
    /// 18.8–20.2 ms against 20.0–26.7 ms.
    /// </summary>
    public const int MinimumPooledLength = 1 << 14;

    private static readonly Lock Gate = new();
    private static readonly Dictionary<int, Stack<float[]>> Free = [];
    private static long retained;
    private static long budget = DefaultBudget();

    /// <summary>Bytes of storage kept for reuse at most (default: an eighth of the memory available to the process, at most 2 GiB).</summary>
    public static long Budget
    {
        get { lock (Gate) return budget; }
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            lock (Gate) { budget = value; TrimTo(value); }
        }
    }

    /// <summary>Bytes of storage held for reuse now.</summary>
    public static long RetainedBytes { get { lock (Gate) return retained; } }

    /// <summary>Drops every kept array (the garbage collector reclaims them).</summary>
    public static void Trim()
    {
        lock (Gate) TrimTo(0);
    }

    /// <summary>An array of exactly <paramref name="length"/> floats with unspecified contents.</summary>
    internal static float[] Rent(int length)
    {
        if (length >= MinimumPooledLength)
            lock (Gate)
                if (Free.TryGetValue(length, out var stack) && stack.TryPop(out var array))
                {
                    retained -= 4L * length;
                    return array;
                }
        return GC.AllocateUninitializedArray<float>(length);
    }

    /// <summary>Keeps <paramref name="array"/> for a later <see cref="Rent"/> of its length, if the budget allows.</summary>
    internal static void Return(float[] array)
    {
        if (array.Length < MinimumPooledLength) return;
        lock (Gate)
        {
            if (retained + 4L * array.Length > budget) return;
            if (!Free.TryGetValue(array.Length, out var stack)) Free[array.Length] = stack = new Stack<float[]>();
            stack.Push(array);
            retained += 4L * array.Length;
        }
    }

    private static void TrimTo(long limit)
    {
        foreach (var (length, stack) in Free)
            while (retained > limit && stack.TryPop(out _)) retained -= 4L * length;
    }

    private static long DefaultBudget() =>
        Math.Min(2L << 30, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 8);
}
