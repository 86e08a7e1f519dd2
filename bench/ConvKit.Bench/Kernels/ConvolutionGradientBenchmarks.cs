using BenchmarkDotNet.Attributes;
using ConvKit.Kernels;
using ConvKit.Tensors;

namespace ConvKit.Bench.Kernels;

/// <summary>
/// Conv2D gradients, channels-last: the scalar reference against <see cref="ConvolutionKernels"/>, for the input
/// (dIn, a forward of the output gradient with the flipped kernel) and for the kernel (dW, read from the input in place).
/// tutorial: (100, 14, 14, 32) → 64 × 5×5 same, the tutorial CNN's second layer; resnet: (8, 56, 56, 64) → 64 × 3×3 same.
/// </summary>
public class ConvolutionGradientBenchmarks
{
    private float[] input = [], kernel = [], gradOutput = [], gradInput = [], gradKernel = [];
    private ConvGeometry geometry;

    [Params("tutorial", "resnet")]
    public string Case { get; set; } = "tutorial";

    [Params("input", "kernel")]
    public string Gradient { get; set; } = "input";

    [GlobalSetup]
    public void Setup()
    {
        geometry = Case == "tutorial"
            ? ConvGeometry.Create(100, 14, 14, 32, 64, 5, 5, 1, 1, 1, 1, Padding.Same)
            : ConvGeometry.Create(8, 56, 56, 64, 64, 3, 3, 1, 1, 1, 1, Padding.Same);
        input = Tensor.RandomNormal(new Shape(geometry.InputSize), seed: 5).ToArray();
        kernel = Tensor.RandomNormal(new Shape(geometry.KernelSize), stddev: 0.1f, seed: 6).ToArray();
        gradOutput = Tensor.RandomNormal(new Shape(geometry.OutputSize), seed: 7).ToArray();
        gradInput = new float[geometry.InputSize];
        gradKernel = new float[geometry.KernelSize];
    }

    [Benchmark(Baseline = true)]
    public void Reference()
    {
        if (Gradient == "input") ConvolutionReference.BackwardInput(gradOutput, kernel, geometry, gradInput);
        else ConvolutionReference.BackwardKernel(gradOutput, input, geometry, gradKernel);
    }

    [Benchmark]
    public void Dispatched()
    {
        if (Gradient == "input") ConvolutionKernels.BackwardInput(gradOutput, kernel, geometry, gradInput);
        else ConvolutionKernels.BackwardKernel(gradOutput, input, geometry, gradKernel);
    }
}
