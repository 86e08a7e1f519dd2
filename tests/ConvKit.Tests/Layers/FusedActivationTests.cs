using ConvKit.Autograd;
using ConvKit.Kernels;
using ConvKit.Layers;
using ConvKit.Operations;
using ConvKit.Tensors;

namespace ConvKit.Tests.Layers;

/// <summary>
/// A layer with activation relu runs ReLU inside its op (Conv2D+Relu, Dense+Relu). That must be invisible: the same
/// outputs and the same gradients, bit for bit, as the layer without activation followed by an Activation layer.
/// </summary>
public class FusedActivationTests
{
    public static TheoryData<string> Layers => new() { "conv2d", "conv1d", "dense", "dense without bias" };

    [Theory, MemberData(nameof(Layers))]
    public void ReluInsideTheLayerEqualsAnActivationLayerAfterIt(string kind)
    {
        (Layer fused, Layer plain, Tensor input) = kind switch
        {
            "conv2d" => ((Layer, Layer, Tensor))(new Conv2D(6, new Size2(3, 3), padding: Padding.Same, activation: Activation.Relu),
                new Conv2D(6, new Size2(3, 3), padding: Padding.Same), Tensor.RandomNormal(new Shape(3, 9, 8, 4), 0f, 1f, 5)),
            "conv1d" => (new Conv1D(5, 3, strides: 2, activation: Activation.Relu),
                new Conv1D(5, 3, strides: 2), Tensor.RandomNormal(new Shape(2, 13, 3), 0f, 1f, 6)),
            "dense" => (new Dense(7, activation: Activation.Relu), new Dense(7), Tensor.RandomNormal(new Shape(4, 9), 0f, 1f, 7)),
            _ => (new Dense(7, activation: Activation.Relu, useBias: false), new Dense(7, useBias: false),
                Tensor.RandomNormal(new Shape(4, 9), 0f, 1f, 8)),
        };
        fused.Build(input.Shape.WithBatch(Shape.Unknown));
        plain.Build(input.Shape.WithBatch(Shape.Unknown));
        for (int i = 0; i < fused.Weights.Count; i++)
        {
            // Biases start at zero; random ones make the bias part of the epilogue count.
            var value = Tensor.RandomNormal(fused.Weights[i].Shape, 0f, 1f, 20 + i);
            fused.Weights[i].Assign(value);
            plain.Weights[i].Assign(value);
        }
        var (fusedOutput, fusedGradients) = Run(x => fused.Call(x, training: true), fused, input);
        var (plainOutput, plainGradients) = Run(x => new Activation(Activation.Relu).Call(plain.Call(x, training: true)), plain, input);

        Assert.Equal(plainOutput.ToArray(), fusedOutput.ToArray());
        Assert.Contains(0f, fusedOutput.ToArray());
        Assert.Equal(plainGradients.Length, fusedGradients.Length);
        for (int i = 0; i < plainGradients.Length; i++) Assert.Equal(plainGradients[i].ToArray(), fusedGradients[i].ToArray());
    }

    /// <summary>The output, and the gradients of Σ output · r (r fixed random) for the input and every weight.</summary>
    private static (Tensor Output, Tensor[] Gradients) Run(Func<Tensor, Tensor> call, Layer layer, Tensor input)
    {
        using var tape = new GradientTape();
        tape.Watch(input);
        var output = call(input);
        var loss = Ops.Sum(Ops.Multiply(output, Tensor.RandomUniform(output.Shape, -1f, 1f, 9)));
        var gradients = tape.Gradient(loss, [input, .. layer.TrainableWeights.Select(w => w.Value)]);
        return (output, [.. gradients]);
    }
}
