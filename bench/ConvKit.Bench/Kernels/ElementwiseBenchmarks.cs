using BenchmarkDotNet.Attributes;
using ConvKit.Kernels;
using ConvKit.Tensors;

namespace ConvKit.Bench.Kernels;

/// <summary>
/// The elementwise kernels on a ResNet-sized activation, (32, 56, 56, 64) = 6.4 M values: the scalar rules of
/// <see cref="ElementwiseReference"/> (one thread) against the vectorised, threaded kernels the ops call.
/// </summary>
/// <remarks>
/// <c>epilogue</c> is y·scale + bias + residual then ReLU (a convolution's output with batch norm folded in and a
/// residual block's Add); <c>softmax</c> runs over rows of 1000 (a classifier's logits at batch 6,422).
/// </remarks>
public class ElementwiseBenchmarks
{
    private const int Channels = 64;
    private float[] x = [], y = [], dy = [], residual = [], scale = [], bias = [], mean = [], invStd = [];

    [Params("relu", "sigmoid", "epilogue", "batchnorm", "softmax")]
    public string Kernel { get; set; } = "relu";

    [GlobalSetup]
    public void Setup()
    {
        int size = 32 * 56 * 56 * Channels;
        x = Tensor.RandomNormal(new Shape(size), seed: 1).ToArray();
        dy = Tensor.RandomNormal(new Shape(size), seed: 2).ToArray();
        residual = Tensor.RandomNormal(new Shape(size), seed: 3).ToArray();
        y = new float[size];
        scale = Tensor.RandomNormal(new Shape(Channels), seed: 4).ToArray();
        bias = Tensor.RandomNormal(new Shape(Channels), seed: 5).ToArray();
        mean = Tensor.RandomNormal(new Shape(Channels), seed: 6).ToArray();
        invStd = scale.Select(v => 0.5f + Math.Abs(v)).ToArray();
    }

    [Benchmark(Baseline = true)]
    public void Reference()
    {
        switch (Kernel)
        {
            case "relu": ElementwiseReference.Relu(x, y); break;
            case "sigmoid": ElementwiseReference.Sigmoid(x, y); break;
            case "epilogue": x.CopyTo(y, 0); ElementwiseReference.Epilogue(y, Channels, bias, relu: true, scale, residual); break;
            case "batchnorm": ElementwiseReference.BatchNormNormalize(x, Channels, mean, invStd, scale, bias, null, y); break;
            case "softmax":
                for (int row = 0; row + 1000 <= x.Length; row += 1000) ElementwiseReference.SoftmaxRow(x.AsSpan(row, 1000), y.AsSpan(row, 1000));
                break;
        }
    }

    [Benchmark]
    public void Dispatched()
    {
        switch (Kernel)
        {
            case "relu": Epilogue.Relu(x, y); break;
            case "sigmoid": ActivationKernels.InPieces(ActivationKernels.Rule.Sigmoid, 0f, x, null, null, y); break;
            case "epilogue": x.CopyTo(y, 0); Epilogue.Apply(y, Channels, bias, relu: true, scale, residual); break;
            case "batchnorm": BatchNormKernels.Normalize(x, Channels, mean, invStd, scale, bias, y); break;
            case "softmax": ActivationKernels.EachRow(ActivationKernels.RowRule.Softmax, x, x, y, 1000); break;
        }
    }
}
