using ConvKit.Kernels;

namespace ConvKit.Tests.Kernels;

public class BatchNormKernelsTests
{
    /// <summary>Moments, normalization and the training backward against float64 sums, for channel counts on and off the vector width.</summary>
    [Theory]
    [InlineData(1, 8)]
    [InlineData(1000, 32)]
    [InlineData(300, 64)]
    [InlineData(517, 5)]
    [InlineData(260, 24)]
    [InlineData(300, 40)]
    public void FastKernelsAgreeWithFloat64(int rows, int channels)
    {
        var x = KernelAssert.Random(rows * channels, rows + channels);
        var dy = KernelAssert.Random(rows * channels, rows + channels + 1);
        var gamma = KernelAssert.Random(channels, 3);
        var beta = KernelAssert.Random(channels, 4);

        float[] mean = new float[channels], variance = new float[channels], expectedMean = new float[channels], expectedVariance = new float[channels];
        BatchNormKernels.Moments(x, channels, mean, variance);
        BatchNormKernels.MomentsReference(x, channels, expectedMean, expectedVariance);
        KernelAssert.Close(expectedMean, mean, 1e-5f, "mean");
        KernelAssert.Close(expectedVariance, variance, 1e-5f, "variance");

        var invStd = expectedVariance.Select(v => 1f / MathF.Sqrt(v + 1e-3f)).ToArray();
        var y = new float[x.Length];
        BatchNormKernels.Normalize(x, channels, expectedMean, invStd, gamma, beta, y);
        var expectedXhat = new float[x.Length];
        var expectedY = new float[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            int c = i % channels;
            expectedXhat[i] = (float)(((double)x[i] - expectedMean[c]) * invStd[c]);
            expectedY[i] = (float)((double)expectedXhat[i] * gamma[c] + beta[c]);
        }
        KernelAssert.Close(expectedY, y, 1e-5f, "y");

        // The backward computes x̂ from x again.
        var dx = new float[x.Length];
        var (sumDy, sumDyXhat) = BatchNormKernels.Backward(dy, x, expectedMean, channels, invStd, gamma, training: true, dx);
        var expectedSumDy = new double[channels];
        var expectedSumDyXhat = new double[channels];
        for (int i = 0; i < x.Length; i++)
        {
            expectedSumDy[i % channels] += dy[i];
            expectedSumDyXhat[i % channels] += (double)dy[i] * expectedXhat[i];
        }
        KernelAssert.Close(expectedSumDy.Select(v => (float)v).ToArray(), sumDy.Select(v => (float)v).ToArray(), 1e-4f, "Σdy");
        KernelAssert.Close(expectedSumDyXhat.Select(v => (float)v).ToArray(), sumDyXhat.Select(v => (float)v).ToArray(), 1e-4f, "Σdy·xhat");
        var expectedDx = new float[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            int c = i % channels;
            double s = (double)gamma[c] * invStd[c];
            expectedDx[i] = (float)(s * (dy[i] - expectedSumDy[c] / rows - expectedXhat[i] * expectedSumDyXhat[c] / rows));
        }
        KernelAssert.Close(expectedDx, dx, 1e-4f, "dx");
    }

    /// <summary>
    /// Shapes past 2^15 elements, where normalization and the input gradient split their rows across the threads when
    /// there are several (and the sums run over many 256-row chunks): 4096 × 24 and a batch of 8 × 33 × 33 × 40 on the vector-width path, 3001 × 13
    /// on the per-row one. Against sums in float64 taken here from the inputs: the moments; the training forward with
    /// γ and β and without them (x̂ kept) and the inference forward on given statistics (x̂ not kept); the training
    /// backward with γ and without it, and the inference backward (dx = γ/√(σ² + ε) · dy), each with dγ = Σ dy·x̂ and dβ = Σ dy.
    /// </summary>
    [Theory]
    [InlineData(4096, 24)]
    [InlineData(8 * 33 * 33, 40)]
    [InlineData(3001, 13)]
    public void ThreadedShapesAgreeWithFloat64(int rows, int channels)
    {
        const float epsilon = 1e-3f;
        // Channels with their own offsets and spreads, as a layer's inputs have.
        var x = KernelAssert.Random(rows * channels, rows);
        for (int i = 0; i < x.Length; i++) x[i] = x[i] * (1 + i % channels % 5) + (i % channels - channels / 2) * 0.7f;
        var dy = KernelAssert.Random(rows * channels, rows + 1);
        var gamma = KernelAssert.Random(channels, 5);
        var beta = KernelAssert.Random(channels, 6);

        var expectedMean = new double[channels];
        var expectedVariance = new double[channels];
        for (int i = 0; i < x.Length; i++) expectedMean[i % channels] += x[i];
        for (int c = 0; c < channels; c++) expectedMean[c] /= rows;
        for (int i = 0; i < x.Length; i++) expectedVariance[i % channels] += Math.Pow(x[i] - expectedMean[i % channels], 2);
        for (int c = 0; c < channels; c++) expectedVariance[c] /= rows;
        float[] mean = new float[channels], variance = new float[channels];
        BatchNormKernels.Moments(x, channels, mean, variance);
        KernelAssert.Close(ToFloat(expectedMean), mean, 1e-6f, "mean");
        KernelAssert.Close(ToFloat(expectedVariance), variance, 1e-6f, "variance");

        // Training: this batch's statistics.
        var invStd = variance.Select(v => 1f / MathF.Sqrt(v + epsilon)).ToArray();
        var y = new float[x.Length];
        var expectedXhat = new double[x.Length];
        for (int i = 0; i < x.Length; i++) expectedXhat[i] = ((double)x[i] - mean[i % channels]) * invStd[i % channels];
        BatchNormKernels.Normalize(x, channels, mean, invStd, gamma, beta, y);
        KernelAssert.Close(ToFloat(expectedXhat.Select((h, i) => h * gamma[i % channels] + beta[i % channels])), y, 1e-6f, "y with γ and β");
        var yPlain = KernelAssert.Random(x.Length, 7);
        BatchNormKernels.Normalize(x, channels, mean, invStd, null, null, yPlain);
        KernelAssert.Close(ToFloat(expectedXhat), yPlain, 1e-6f, "y without γ and β");

        // Inference: given moving statistics.
        var movingMean = KernelAssert.Random(channels, 9);
        var movingInvStd = KernelAssert.Random(channels, 10).Select(v => 1f / MathF.Sqrt(1.5f + v + epsilon)).ToArray();
        var yInference = KernelAssert.Random(x.Length, 11);
        BatchNormKernels.Normalize(x, channels, movingMean, movingInvStd, gamma, null, yInference);
        KernelAssert.Close(ToFloat(x.Select((v, i) => ((double)v - movingMean[i % channels]) * movingInvStd[i % channels] * gamma[i % channels])),
            yInference, 1e-6f, "inference y with γ, without β");

        // The backward computes x̂ from x again, in float as the forward does.
        var xhat = x.Select((v, i) => (v - mean[i % channels]) * invStd[i % channels]).ToArray();
        var sumDy = new double[channels];
        var sumDyXhat = new double[channels];
        for (int i = 0; i < x.Length; i++)
        {
            sumDy[i % channels] += dy[i];
            sumDyXhat[i % channels] += dy[i] * (double)xhat[i];
        }
        foreach (var (g, training) in new[] { (gamma, true), (null, true), (gamma, false), (null, false) })
        {
            string what = $"{(training ? "training" : "inference")} backward {(g is null ? "without" : "with")} γ";
            var dx = KernelAssert.Random(x.Length, 12);
            var (gotSumDy, gotSumDyXhat) = BatchNormKernels.Backward(dy, x, mean, channels, invStd, g, training, dx);
            // Sums of thousands of terms that mostly cancel, whose rounding is large beside the result: 1e-5 of it.
            KernelAssert.Close(ToFloat(sumDy), ToFloat(gotSumDy), 1e-5f, $"{what}: Σdy");
            KernelAssert.Close(ToFloat(sumDyXhat), ToFloat(gotSumDyXhat), 1e-5f, $"{what}: Σdy·x̂");
            var expectedDx = new double[x.Length];
            for (int i = 0; i < x.Length; i++)
            {
                int c = i % channels;
                double scale = (g?[c] ?? 1.0) * invStd[c];
                expectedDx[i] = training ? scale * (dy[i] - sumDy[c] / rows - xhat[i] * sumDyXhat[c] / rows) : scale * dy[i];
            }
            KernelAssert.Close(ToFloat(expectedDx), dx, 1e-6f, $"{what}: dx");
        }
        // Only dγ and dβ (the input needs no gradient): the same sums, no dx.
        var (onlySumDy, onlySumDyXhat) = BatchNormKernels.Backward(dy, x, mean, channels, invStd, gamma, training: true, dx: null);
        KernelAssert.Close(ToFloat(sumDy), ToFloat(onlySumDy), 1e-5f, "Σdy without dx");
        KernelAssert.Close(ToFloat(sumDyXhat), ToFloat(onlySumDyXhat), 1e-5f, "Σdy·x̂ without dx");
    }

    private static float[] ToFloat(IEnumerable<double> values) => values.Select(v => (float)v).ToArray();
}
