using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using ConvKit.Kernels;

namespace ConvKit.Bench.Kernels;

/// <summary>
/// The cost of one parallel region: <see cref="KernelThreads.For"/> over one small item per thread, after a pause of
/// serial work such as a network runs between its kernels, against the same items run serially after the same pause.
/// The difference is what handing a region to the kernels' workers costs; after a pause longer than the workers watch
/// for the next region (200 µs), it includes waking them.
/// </summary>
public class ThreadRegionBenchmarks
{
    private readonly float[][] rows = [.. Enumerable.Range(0, 16).Select(i => new float[256])];
    private readonly float[] sums = new float[16];

    /// <summary>Serial work before each region, in microseconds.</summary>
    [Params(0, 100, 500)]
    public int PauseMicroseconds { get; set; }

    [Benchmark(Baseline = true)]
    public void Serial()
    {
        Pause();
        for (int i = 0; i < Items; i++) Item(i);
    }

    [Benchmark]
    public void Region()
    {
        Pause();
        KernelThreads.For(Items, Item);
    }

    private static int Items => Math.Min(KernelThreads.Count, 16);

    private void Item(int i) => sums[i] = System.Numerics.Tensors.TensorPrimitives.Sum<float>(rows[i]);

    private void Pause()
    {
        if (PauseMicroseconds == 0) return;
        long end = Stopwatch.GetTimestamp() + PauseMicroseconds * Stopwatch.Frequency / 1_000_000;
        while (Stopwatch.GetTimestamp() < end) { }
    }
}
