namespace ConvKit.Kernels;

/// <summary>Which kernels run: <c>CONVKIT_KERNELS=reference</c> forces the plain scalar kernels everywhere.</summary>
public static class KernelOptions
{
    /// <summary>True when the scalar reference kernels run instead of the fast ones.</summary>
    public static bool UseReference { get; set; } =
        string.Equals(Environment.GetEnvironmentVariable("CONVKIT_KERNELS"), "reference", StringComparison.OrdinalIgnoreCase);
}
