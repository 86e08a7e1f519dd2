using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace ConvKit.Bench.Kernels;

/// <summary>
/// <c>bdn</c>: BenchmarkDotNet on the kernel classes of this folder, reference vs dispatched. The job is short
/// (1 warm-up, 3 iterations, 1 launch) and runs in process, so nothing is rebuilt and a full pass takes
/// minutes even while the dispatched kernels are still the scalar references. The memory diagnoser adds the bytes
/// each call allocates ("-" for none).
/// </summary>
internal static class BdnCommand
{
    public static int Run(string[] args)
    {
        var job = Job.ShortRun
            .WithWarmupCount(1)
            .WithIterationCount(3)
            .WithLaunchCount(1)
            .WithToolchain(InProcessEmitToolchain.Instance)
            .WithId("ShortInProcess");
        var config = DefaultConfig.Instance.AddJob(job.AsDefault()).AddDiagnoser(MemoryDiagnoser.Default)
            .WithOptions(ConfigOptions.DisableOptimizationsValidator);
        string[] arguments = args.Length == 0 ? ["--filter", "*"] : args;
        var summaries = BenchmarkSwitcher.FromAssembly(typeof(BdnCommand).Assembly).Run(arguments, config);
        return summaries.Any(s => s.HasCriticalValidationErrors) ? 1 : 0;
    }
}
