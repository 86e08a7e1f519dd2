using ConvKit.Layers;
using ConvKit.Signal;
using ConvKit.Tensors;

namespace SeedWalkthrough;

/// <summary>
/// The first steps with ConvKit: what the convolution operator does to two short vectors, then real layers
/// on a real 1920×1080 RGB picture — sizes, weight shapes and parameter counts, exactly as Keras reports them.
/// </summary>
public static class Walkthrough
{
    public static void Run(TextWriter output)
    {
        // The operator itself: full 1-D convolution flips the filter and slides it past the signal.
        double[] f = [2, 3], g = [1, 1];
        output.WriteLine($"{Convolution.Format(f)} * {Convolution.Format(g)} = {Convolution.Format(Convolution.Convolve(f, g, ConvolutionMode.Full))}");

        // A 1920×1080 RGB picture is 1·1920·1080·3 = 6,220,800 values.
        var picture = Tensor.RandomUniform(new Shape(1, 1920, 1080, 3), seed: 1);
        output.WriteLine($"input {picture.Shape} -> Flatten -> {new Flatten().Call(picture).Shape}");

        foreach (int filters in new[] { 1, 16 })
        {
            // Each filter spans all three colour channels: 5·5·3 weights per filter, no bias.
            var conv = new Conv2D(filters: filters, kernelSize: 5, useBias: false);
            var features = conv.Call(picture);
            output.WriteLine(
                $"Conv2D(filters={filters}, kernel_size=(5,5), use_bias=False): weights {conv.Weights[0].Shape}, " +
                $"params {conv.CountParams()}, output {features.Shape}, flattened {new Flatten().Call(features).Shape}");
            if (filters == 16)
            {
                // Pooling halves height and width, keeping the strongest response of each 2×2 block.
                var pooled = new MaxPool2D(poolSize: 2, strides: 2).Call(features);
                output.WriteLine($"MaxPool2D(pool_size=(2,2), strides=(2,2)) on that: {pooled.Shape}");
            }
        }
    }
}
