using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ConvKit.Bench.Peers;

/// <summary>
/// The machine's single-precision FMA ceiling, against which every GFLOP/s figure is read: independent
/// chains of vector FMAs (<c>acc = acc·m + a</c>) with enough accumulators to cover the FMA latency on both
/// FMA ports (latency 4 × 2 ports = 8 in flight; 12 are used, leaving ymm/zmm registers for the constants).
/// </summary>
internal static class FmaPeak
{
    private const int Accumulators = 12;

    public sealed record Result(string Isa, double SingleThreadGflops, double AllThreadsGflops, int Threads);

    /// <summary>Peaks for Vector256 (AVX2+FMA) and, where the CPU has it, Vector512 (AVX-512F).</summary>
    public static List<Result> Measure(int threads, bool quick)
    {
        long iterations = quick ? 20_000_000 : 100_000_000;
        var results = new List<Result>();
        if (Fma.IsSupported)
            results.Add(Run("avx2-fma-256", threads, iterations, Chains256, 8));
        if (Avx512F.IsSupported)
            results.Add(Run("avx512f-512", threads, iterations, Chains512, 16));
        return results;
    }

    private static Result Run(string isa, int threads, long iterations, Func<long, float> kernel, int lanes)
    {
        double flopsPerThread = 2.0 * lanes * Accumulators * iterations;
        kernel(iterations / 10);   // JIT and clock ramp
        double single = Best(3, () => Parallel(1, iterations, kernel));
        double all = Best(3, () => Parallel(threads, iterations, kernel));
        return new Result(isa, flopsPerThread / single / 1e9, threads * flopsPerThread / all / 1e9, threads);
    }

    private static double Best(int tries, Func<double> measure)
    {
        double best = double.MaxValue;
        for (int i = 0; i < tries; i++) best = Math.Min(best, measure());
        return best;
    }

    /// <summary>Runs <paramref name="kernel"/> on <paramref name="threads"/> dedicated threads released together; seconds of wall time.</summary>
    private static double Parallel(int threads, long iterations, Func<long, float> kernel)
    {
        using var start = new ManualResetEventSlim();
        var sink = new float[threads];
        var workers = new Thread[threads];
        for (int t = 0; t < threads; t++)
        {
            int id = t;
            workers[t] = new Thread(() => { start.Wait(); sink[id] = kernel(iterations); }) { IsBackground = true };
            workers[t].Start();
        }
        Thread.Sleep(20);
        var clock = Stopwatch.StartNew();
        start.Set();
        foreach (var w in workers) w.Join();
        double seconds = clock.Elapsed.TotalSeconds;
        if (sink.Any(float.IsNaN)) throw new InvalidOperationException("FMA chains produced NaN.");
        return seconds;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Chains256(long iterations)
    {
        var m = Vector256.Create(0.999999f);
        var a = Vector256.Create(1e-6f);
        Vector256<float> c0 = Vector256.Create(0.1f), c1 = Vector256.Create(0.2f), c2 = Vector256.Create(0.3f), c3 = Vector256.Create(0.4f),
            c4 = Vector256.Create(0.5f), c5 = Vector256.Create(0.6f), c6 = Vector256.Create(0.7f), c7 = Vector256.Create(0.8f),
            c8 = Vector256.Create(0.9f), c9 = Vector256.Create(1.0f), c10 = Vector256.Create(1.1f), c11 = Vector256.Create(1.2f);
        for (long i = 0; i < iterations; i++)
        {
            c0 = Fma.MultiplyAdd(c0, m, a); c1 = Fma.MultiplyAdd(c1, m, a); c2 = Fma.MultiplyAdd(c2, m, a);
            c3 = Fma.MultiplyAdd(c3, m, a); c4 = Fma.MultiplyAdd(c4, m, a); c5 = Fma.MultiplyAdd(c5, m, a);
            c6 = Fma.MultiplyAdd(c6, m, a); c7 = Fma.MultiplyAdd(c7, m, a); c8 = Fma.MultiplyAdd(c8, m, a);
            c9 = Fma.MultiplyAdd(c9, m, a); c10 = Fma.MultiplyAdd(c10, m, a); c11 = Fma.MultiplyAdd(c11, m, a);
        }
        var sum = ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7)) + ((c8 + c9) + (c10 + c11));
        return Vector256.Sum(sum);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Chains512(long iterations)
    {
        var m = Vector512.Create(0.999999f);
        var a = Vector512.Create(1e-6f);
        Vector512<float> c0 = Vector512.Create(0.1f), c1 = Vector512.Create(0.2f), c2 = Vector512.Create(0.3f), c3 = Vector512.Create(0.4f),
            c4 = Vector512.Create(0.5f), c5 = Vector512.Create(0.6f), c6 = Vector512.Create(0.7f), c7 = Vector512.Create(0.8f),
            c8 = Vector512.Create(0.9f), c9 = Vector512.Create(1.0f), c10 = Vector512.Create(1.1f), c11 = Vector512.Create(1.2f);
        for (long i = 0; i < iterations; i++)
        {
            c0 = Avx512F.FusedMultiplyAdd(c0, m, a); c1 = Avx512F.FusedMultiplyAdd(c1, m, a); c2 = Avx512F.FusedMultiplyAdd(c2, m, a);
            c3 = Avx512F.FusedMultiplyAdd(c3, m, a); c4 = Avx512F.FusedMultiplyAdd(c4, m, a); c5 = Avx512F.FusedMultiplyAdd(c5, m, a);
            c6 = Avx512F.FusedMultiplyAdd(c6, m, a); c7 = Avx512F.FusedMultiplyAdd(c7, m, a); c8 = Avx512F.FusedMultiplyAdd(c8, m, a);
            c9 = Avx512F.FusedMultiplyAdd(c9, m, a); c10 = Avx512F.FusedMultiplyAdd(c10, m, a); c11 = Avx512F.FusedMultiplyAdd(c11, m, a);
        }
        var sum = ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7)) + ((c8 + c9) + (c10 + c11));
        return Vector512.Sum(sum);
    }
}
