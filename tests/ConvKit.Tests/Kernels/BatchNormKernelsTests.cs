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
        var xhat = new float[x.Length];
        var y = new float[x.Length];
        BatchNormKernels.Normalize(x, channels, expectedMean, invStd, gamma, beta, xhat, y);
        var expectedXhat = new float[x.Length];
        var expectedY = new float[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            int c = i % channels;
            expectedXhat[i] = (float)(((double)x[i] - expectedMean[c]) * invStd[c]);
            expectedY[i] = (float)((double)expectedXhat[i] * gamma[c] + beta[c]);
        }
        KernelAssert.Close(expectedXhat, xhat, 1e-5f, "xhat");
        KernelAssert.Close(expectedY, y, 1e-5f, "y");
        // Inference keeps no x̂: the same y, bit for bit.
        var yWithoutXhat = new float[x.Length];
        BatchNormKernels.Normalize(x, channels, expectedMean, invStd, gamma, beta, null, yWithoutXhat);
        Assert.Equal(y, yWithoutXhat);

        var dx = new float[x.Length];
        var (sumDy, sumDyXhat) = BatchNormKernels.Backward(dy, expectedXhat, channels, invStd, gamma, training: true, dx);
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
}
