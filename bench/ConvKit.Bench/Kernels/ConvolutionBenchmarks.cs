using BenchmarkDotNet.Attributes;
using ConvKit.Kernels;
using ConvKit.Tensors;

namespace ConvKit.Bench.Kernels;

/// <summary>
/// Conv2D forward, channels-last: the scalar reference against <see cref="ConvolutionKernels"/>.
/// seed: (1, 1920, 1080, 3) → 16 × 5×5 valid; resnet: (32, 56, 56, 64) → 64 × 3×3 same.
/// </summary>
public class ConvolutionBenchmarks
{
    private float[] input = [], kernel = [], output = [];
    private ConvGeometry geometry;

    [Params("seed", "resnet")]
    public string Case { get; set; } = "seed";

    [GlobalSetup]
    public void Setup()
    {
        geometry = Case == "seed"
            ? ConvGeometry.Create(1, 1920, 1080, 3, 16, 5, 5, 1, 1, 1, 1, Padding.Valid)
            : ConvGeometry.Create(32, 56, 56, 64, 64, 3, 3, 1, 1, 1, 1, Padding.Same);
        input = Tensor.RandomNormal(new Shape(geometry.InputSize), seed: 3).ToArray();
        kernel = Tensor.RandomNormal(new Shape(geometry.KernelSize), stddev: 0.1f, seed: 4).ToArray();
        output = new float[geometry.OutputSize];
    }

    [Benchmark(Baseline = true)]
    public void Reference() => ConvolutionReference.Forward(input, kernel, default, geometry, output);

    [Benchmark]
    public void Dispatched() => ConvolutionKernels.Forward(input, kernel, default, geometry, output);
}
