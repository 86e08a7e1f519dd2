using BenchmarkDotNet.Attributes;
using ConvKit.Kernels;
using ConvKit.Tensors;

namespace ConvKit.Bench.Kernels;

/// <summary>SGEMM C [n, n] = A [n, n] · B [n, n]: the scalar reference against whatever <see cref="GemmKernels"/> dispatches to.</summary>
public class GemmBenchmarks
{
    private float[] a = [], b = [], c = [];

    [Params(256, 1024)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        a = Tensor.RandomNormal(new Shape(Size, Size), seed: 1).ToArray();
        b = Tensor.RandomNormal(new Shape(Size, Size), seed: 2).ToArray();
        c = new float[Size * Size];
    }

    [Benchmark(Baseline = true)]
    public void Reference() => GemmReference.Multiply(false, false, Size, Size, Size, a, Size, b, Size, c, Size, accumulate: false);

    [Benchmark]
    public void Dispatched() => GemmKernels.Multiply(false, false, Size, Size, Size, a, Size, b, Size, c, Size, accumulate: false);
}
