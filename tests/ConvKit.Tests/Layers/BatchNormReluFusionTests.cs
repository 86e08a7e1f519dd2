using ConvKit.Autograd;
using ConvKit.Kernels;
using ConvKit.Layers;
using ConvKit.Models;
using ConvKit.Operations;
using ConvKit.Tensors;
using ConvKit.Tests.Kernels;

namespace ConvKit.Tests.Layers;

/// <summary>
/// A BatchNormalization whose output only a ReLU reads runs with that ReLU as one op, in training and at inference:
/// max(γ·x̂ + β, 0) in the normalization's pass, and the ReLU's gradient taken from x̂ in the backward's. It must give
/// the bits of the two ops run one after the other. The tests switch the kernels and read the op trace, both global,
/// so they run alone with the trace tests.
/// </summary>
[Collection(nameof(ConvKit.Tests.Autograd.OpTraceCollection))]
public class BatchNormReluFusionTests
{
    /// <summary>
    /// The kernels with the ReLU against the kernels without it and the ReLU's own kernels, bit for bit: channel counts on
    /// and off the vector width, one row and thousands (threaded), with γ and β and without, training and inference
    /// backward, on the fast and the reference kernels. Inputs include NaNs, zeros of both signs and values that land on
    /// exactly 0 after the normalization, where the ReLU's mask must be the same.
    /// </summary>
    [Theory]
    [InlineData(1, 8)]
    [InlineData(4096, 64)]
    [InlineData(300, 13)]
    [InlineData(2048, 24)]
    public void FusedKernelsGiveTheBitsOfTheTwoOps(int rows, int channels)
    {
        var saved = KernelOptions.UseReference;
        try
        {
            foreach (bool reference in new[] { false, true })
            {
                KernelOptions.UseReference = reference;
                var x = KernelAssert.Random(rows * channels, rows + channels);
                var dy = KernelAssert.Random(rows * channels, rows + channels + 1);
                for (int i = 0; i < x.Length; i += 7) x[i] = 0.5f;      // x̂ = 0 exactly where mean = 0.5, invStd = 1
                for (int i = 3; i < x.Length; i += 29) x[i] = float.NaN;
                for (int i = 5; i < x.Length; i += 31) x[i] = -0f;
                var mean = Enumerable.Repeat(0.5f, channels).ToArray();
                var invStd = KernelAssert.Random(channels, 2).Select((v, c) => c % 3 == 0 ? 1f : 1.5f + v).ToArray();
                var gamma = KernelAssert.Random(channels, 3).Select((v, c) => c % 3 == 0 ? 1f : v).ToArray();
                var beta = KernelAssert.Random(channels, 4).Select((v, c) => c % 3 == 0 ? 0f : v).ToArray();
                foreach (var (g, b) in new[] { (gamma, beta), (null, null), (gamma, null) })
                {
                    string what = $"{(reference ? "reference" : "fast")}, {rows} × {channels}, {(g is null ? "no γ" : "γ")}, {(b is null ? "no β" : "β")}";
                    float[] xhat = new float[x.Length], y = new float[x.Length], xhatFused = new float[x.Length], fused = new float[x.Length];
                    BatchNormKernels.Normalize(x, channels, mean, invStd, g, b, xhat, y);
                    Epilogue.Relu(y, y);
                    BatchNormKernels.Normalize(x, channels, mean, invStd, g, b, xhatFused, fused, relu: true);
                    KernelAssert.Exact(y, fused, $"forward, {what}");
                    KernelAssert.Exact(xhat, xhatFused, $"x̂, {what}");
                    Assert.Contains(0f, fused);

                    // The backward reads x̂ without its NaNs, as a layer's would have none after a finite input.
                    for (int i = 0; i < xhat.Length; i++) if (float.IsNaN(xhat[i])) xhat[i] = 0f;
                    var yForMask = new float[x.Length];
                    BatchNormKernels.Normalize(xhat, channels, new float[channels], Enumerable.Repeat(1f, channels).ToArray(), g, b, null, yForMask);
                    Epilogue.Relu(yForMask, yForMask);
                    var masked = new float[x.Length];
                    Epilogue.ReluBackward(yForMask, dy, masked, channels, default);
                    foreach (bool training in new[] { true, false })
                    {
                        float[] dx = new float[x.Length], dxFused = new float[x.Length];
                        var (sumDy, sumDyXhat) = BatchNormKernels.Backward(masked, xhat, channels, invStd, g, training, dx);
                        var (sumDyFused, sumDyXhatFused) = BatchNormKernels.Backward(dy, xhat, channels, invStd, g, training, dxFused, b, relu: true);
                        string pass = $"{(training ? "training" : "inference")} backward, {what}";
                        KernelAssert.Exact(dx, dxFused, $"dx, {pass}");
                        Assert.Equal(sumDy, sumDyFused);
                        Assert.Equal(sumDyXhat, sumDyXhatFused);
                    }
                }
            }
        }
        finally { KernelOptions.UseReference = saved; }
    }

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
