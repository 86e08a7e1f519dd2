using BenchmarkDotNet.Attributes;
using ConvKit.Kernels;
using ConvKit.Tensors;

namespace ConvKit.Bench.Kernels;

/// <summary>MaxPool2D 2×2 stride 2 on (1, 1916, 1076, 16): the scalar reference against <see cref="PoolingKernels"/>.</summary>
public class PoolingBenchmarks
{
    private float[] input = [], output = [];
    private PoolGeometry geometry = null!;

    [GlobalSetup]
    public void Setup()
    {
        geometry = PoolGeometry.Create(1, 1916, 1076, 16, 2, 2, 2, 2, Padding.Valid);
        input = Tensor.RandomNormal(new Shape(geometry.InputSize), seed: 5).ToArray();
        output = new float[geometry.OutputSize];
    }

    [Benchmark(Baseline = true)]
    public void Reference() => PoolingReference.MaxForward(input, geometry, output);

    [Benchmark]
    public void Dispatched() => PoolingKernels.MaxForward(input, geometry, output);
}
