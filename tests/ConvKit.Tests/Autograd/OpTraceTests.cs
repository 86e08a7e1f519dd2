using ConvKit.Autograd;
using ConvKit.Kernels;
using ConvKit.Operations;
using ConvKit.Tensors;

namespace ConvKit.Tests.Autograd;

/// <summary>The trace switch is process-wide: these tests run alone.</summary>
[CollectionDefinition(nameof(OpTraceCollection), DisableParallelization = true)]
public class OpTraceCollection;

[Collection(nameof(OpTraceCollection))]
public class OpTraceTests
{
    private static string Capture(int level, Action run)
    {
        var (savedLevel, savedOutput) = (OpTrace.Level, OpTrace.Output);
        var output = new StringWriter();
        try
        {
            OpTrace.Level = level;
            OpTrace.Output = output;
            run();
        }
        finally { (OpTrace.Level, OpTrace.Output) = (savedLevel, savedOutput); }
        return output.ToString();
    }

    private static void ConvolveAndDifferentiate()
    {
        var x = Tensor.RandomNormal(new Shape(2, 9, 9, 3), seed: 1);
        var w = Tensor.RandomNormal(new Shape(3, 3, 3, 4), seed: 2);
        using var tape = new GradientTape();
        tape.Watch(x);
        tape.Watch(w);
        var loss = Ops.Sum(Ops.Relu(Ops.Conv2D(x, w, padding: Padding.Same)));
        tape.Gradient(loss, [x, w]);
    }

    [Fact]
    public void LevelOnePrintsEveryOpForwardAndBackwardWithShapesAndTime()
    {
        var lines = Capture(1, ConvolveAndDifferentiate).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines, l => l.StartsWith("[convkit] Conv2D (2, 9, 9, 3), (3, 3, 3, 4) → (2, 9, 9, 4)  "));
        Assert.Contains(lines, l => l.StartsWith("[convkit] Relu (2, 9, 9, 4) → (2, 9, 9, 4)  ") && l.EndsWith(" ms"));
        Assert.Contains(lines, l => l.StartsWith("[convkit] ∂Conv2D (2, 9, 9, 4) → (2, 9, 9, 3), (3, 3, 3, 4)  "));
        Assert.DoesNotContain(lines, l => l.Contains("kernel:"));
    }

    [Fact]
    public void LevelTwoAddsTheKernelChosen()
    {
        var text = Capture(KernelOptions.UseReference ? 0 : 2, ConvolveAndDifferentiate);
        if (KernelOptions.UseReference) return;   // the reference kernels choose nothing
        Assert.Contains("[convkit]   kernel: conv forward 3×3, 3 → 4 channels: ", text);
        Assert.Contains("[convkit]   kernel: conv kernel gradient 3×3, 3 → 4 channels: ", text);
    }

    /// <summary>The GEMM entry point runs the fast kernel it names, or with CONVKIT_KERNELS=reference the reference, which names none.</summary>
    [Fact]
    public void GemmRunsTheKernelItNamesUnlessTheReferenceIsAsked()
    {
        var a = Enumerable.Range(0, 12).Select(i => i * 0.25f - 1).ToArray();
        var b = Enumerable.Range(0, 12).Select(i => 2 - i * 0.5f).ToArray();
        var expected = new float[9];
        GemmReference.Multiply(false, false, 3, 3, 4, a, 4, b, 3, expected, 3, accumulate: false);
        var saved = KernelOptions.UseReference;
        try
        {
            foreach (bool reference in new[] { false, true })
            {
                KernelOptions.UseReference = reference;
                var c = new float[9];
                var text = Capture(2, () => GemmKernels.Multiply(false, false, 3, 3, 4, a, 4, b, 3, c, 3, accumulate: false));
                Assert.Equal(expected, c);      // small integers and quarters: exact on every path
                if (reference) Assert.DoesNotContain("GEMM", text);
                else Assert.Contains($"kernel: GEMM 3×3×4: {GemmMicroKernel.Selected} ", text);
            }
        }
        finally { KernelOptions.UseReference = saved; }
    }

    [Fact]
    public void LevelZeroPrintsNothing() => Assert.Equal("", Capture(0, ConvolveAndDifferentiate));
}
