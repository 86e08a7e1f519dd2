using ConvKit.Autograd;
using ConvKit.Kernels;
using ConvKit.Layers;
using ConvKit.Models;
using ConvKit.Operations;
using ConvKit.Tensors;
using ConvKit.Tests.Kernels;

namespace ConvKit.Tests.Layers;

/// <summary>
/// A BatchNormalization whose output only a ReLU reads runs with that ReLU as one op, in training and at inference,
/// with the bits of the two ops run one after the other (the kernels: <see cref="ConvKit.Tests.Kernels.BatchNormReluKernelsTests"/>).
/// The test reads the op trace, which is global, so it runs alone with the trace tests.
/// </summary>
[Collection(nameof(ConvKit.Tests.Autograd.OpTraceCollection))]
public class BatchNormReluFusionTests
{
    /// <summary>
    /// A model whose normalizations feed ReLUs only runs each pair as one op; the same layers with a normalization's
    /// output also read as a model output run that pair as two. Both give the same outputs and the same gradients, bit
    /// for bit, in a training step, and the same predictions.
    /// </summary>
    [Fact]
    public void ModelsRunNormalizationAndReluAsOneOpWithTheSameBits()
    {
        var input = new Input(8, 8, 3);
        var norm = new BatchNormalization();
        var normalized = norm.Call(new Conv2D(16, 3, padding: Padding.Same, useBias: false).Call(input));
        var pooled = new MaxPool2D(2).Call(new Activation(Activation.Relu).Call(normalized));
        var second = new Activation(Activation.Relu).Call(new BatchNormalization(center: false).Call(pooled));
        var logits = new Dense(3).Call(new Flatten().Call(second));
        var fused = new Model(input, logits);
        var separate = new Model([input], [logits, normalized]);
        RandomSource.SetGlobalSeed(5);
        foreach (var weight in fused.TrainableWeights)
            Tensor.RandomNormal(weight.Value.Shape, stddev: 0.5f, seed: weight.Name.Length).Span.CopyTo(weight.Value.Span);
        var x = Tensor.RandomNormal(new Shape(4, 8, 8, 3), seed: 7);

        (float[] Output, float[][] Gradients) Step(Model model)
        {
            using var tape = new GradientTape();
            var output = model.CallAll([x], training: true)[0];
            var loss = Ops.Sum(Ops.Multiply(output, output));
            var grads = tape.Gradient(loss, model.TrainableWeights.Select(w => w.Value).ToList());
            return (output.ToArray(), grads.Select(g => g.ToArray()).ToArray());
        }
        var trace = Capture(() => Step(fused), out var one);
        var (outputOne, gradientsOne) = one;
        var (outputTwo, gradientsTwo) = Step(separate);

        Assert.Equal(2, trace.Split('\n').Count(l => l.StartsWith("[convkit] BatchNormalization+Relu")));
        Assert.Equal(2, trace.Split('\n').Count(l => l.StartsWith("[convkit] ∂BatchNormalization+Relu")));
        Assert.DoesNotContain("[convkit] Relu", trace);
        KernelAssert.Exact(outputTwo, outputOne, "training output");
        Assert.Equal(gradientsTwo.Length, gradientsOne.Length);
        for (int i = 0; i < gradientsOne.Length; i++) KernelAssert.Exact(gradientsTwo[i], gradientsOne[i], $"gradient of {fused.TrainableWeights[i].Name}");

        // At inference the first pair folds into the convolution, the second (after pooling) runs as one op.
        var predictTrace = Capture(() => fused.Predict(x), out var predicted);
        Assert.Contains("[convkit] BatchNormalization+Relu", predictTrace);
        KernelAssert.Exact(separate.Predict(x).ToArray(), predicted.ToArray(), "predictions");
    }

    private static string Capture<T>(Func<T> run, out T result)
    {
        var (savedLevel, savedOutput) = (OpTrace.Level, OpTrace.Output);
        var output = new StringWriter();
        try
        {
            OpTrace.Level = 1;
            OpTrace.Output = output;
            result = run();
        }
        finally { (OpTrace.Level, OpTrace.Output) = (savedLevel, savedOutput); }
        return output.ToString();
    }
}
