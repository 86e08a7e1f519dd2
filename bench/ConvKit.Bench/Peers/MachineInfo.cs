using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace ConvKit.Bench.Peers;

/// <summary>What the figures were measured on.</summary>
internal sealed record MachineInfo(string Cpu, int LogicalCores, string Isa, string DotNet, string Os, string Kernels, string Build, string IsaLimits)
{
    /// <summary>
    /// The variables that hold the runtimes below the CPU's instruction set: the .NET runtime's own, and MKL's and oneDNN's
    /// for libtorch. With all three at AVX2 an AVX-512 machine stands in for an AVX2 one (ONNX Runtime has no such switch).
    /// </summary>
    private static readonly string[] LimitVariables = ["DOTNET_EnableAVX512", "DOTNET_EnableAVX2", "MKL_ENABLE_INSTRUCTIONS", "ONEDNN_MAX_CPU_ISA"];

    public static MachineInfo Current()
    {
        string cpu = "unknown";
        try
        {
            string? line = File.Exists("/proc/cpuinfo") ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal)) : null;
            if (line is not null) cpu = line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException) { }
        var isa = new List<string>();
        if (Avx2.IsSupported) isa.Add("avx2");
        if (Fma.IsSupported) isa.Add("fma");
        if (Avx512F.IsSupported) isa.Add("avx512f");
        string kernels = ConvKit.Kernels.KernelOptions.UseReference ? "reference (CONVKIT_KERNELS=reference)" : "dispatched";
        var limits = LimitVariables.Where(v => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(v)))
            .Select(v => $"{v}={Environment.GetEnvironmentVariable(v)}").ToList();
        return new MachineInfo(cpu, Environment.ProcessorCount, string.Join('+', isa), RuntimeInformation.FrameworkDescription,
            RuntimeInformation.OSDescription, kernels, IsOptimized(typeof(MachineInfo).Assembly) && IsOptimized(typeof(ConvKit.Tensors.Tensor).Assembly) ? "Release" : "Debug",
            limits.Count == 0 ? "none" : string.Join(' ', limits));
    }

    /// <summary>False for an assembly built without optimisation (Debug), whose figures mean nothing.</summary>
    private static bool IsOptimized(System.Reflection.Assembly assembly) =>
        assembly.GetCustomAttributes(typeof(System.Diagnostics.DebuggableAttribute), false)
            .OfType<System.Diagnostics.DebuggableAttribute>().All(d => !d.IsJITOptimizerDisabled);
}
