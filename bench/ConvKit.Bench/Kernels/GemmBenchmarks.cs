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

/// <summary>
/// A layer's product with bias and ReLU, C = max(A · W + bias, 0): the epilogue as a pass of its own after the GEMM
/// (the baseline) against the epilogue applied as the GEMM stores each register tile. [m, n, k] = [100352, 256, 64] is a
/// batch-32 56×56×64 → 256 1×1 convolution, whose shallow product makes a separate pass over its 103 MB output costly;
/// [1024, 1024, 1024] a dense layer.
/// </summary>
public class GemmEpilogueBenchmarks
{
    private float[] a = [], w = [], bias = [], c = [];
    private WeightPacking packing;
    private int M, N, K;

    /// <summary>m×n×k.</summary>
    [Params("100352x256x64", "1024x1024x1024")]
    public string Shape { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        var sizes = Shape.Split('x').Select(int.Parse).ToArray();
        (M, N, K) = (sizes[0], sizes[1], sizes[2]);
        a = Tensor.RandomNormal(new Shape(M, K), seed: 1).ToArray();
        w = Tensor.RandomNormal(new Shape(K, N), seed: 2).ToArray();
        bias = Tensor.RandomNormal(new Shape(N), seed: 3).ToArray();
        c = new float[M * N];
        packing = new WeightPacking(new PackedWeights(), version: 1);
    }

    [Benchmark(Baseline = true)]
    public void SeparatePass()
    {
        GemmKernels.MultiplyWeights(M, N, K, a, w, c, packing);
        Epilogue.Apply(c, N, bias, relu: true);
    }

    [Benchmark]
    public void InTheGemm() => GemmKernels.MultiplyWeights(M, N, K, a, w, c, packing, bias, relu: true);
}
