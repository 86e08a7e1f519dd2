using ConvKit.Kernels;

namespace ConvKit.Tests.Kernels;

/// <summary>
/// Batch normalization with the ReLU after it in its passes (<see cref="BatchNormKernels.Normalize"/> and
/// <see cref="BatchNormKernels.Backward"/> with <c>relu</c>): max(γ·x̂ + β, 0) forward, the ReLU's gradient taken from x̂
/// backward. The tests switch the kernels, which is global, so they run alone with the trace tests.
/// </summary>
[Collection(nameof(ConvKit.Tests.Autograd.OpTraceCollection))]
public class BatchNormReluKernelsTests
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
                    float[] y = new float[x.Length], fused = new float[x.Length];
                    BatchNormKernels.Normalize(x, channels, mean, invStd, g, b, y);
                    Epilogue.Relu(y, y);
                    BatchNormKernels.Normalize(x, channels, mean, invStd, g, b, fused, relu: true);
                    KernelAssert.Exact(y, fused, $"forward, {what}");
                    Assert.Contains(0f, fused);

                    // The backward's input without the NaNs, as a layer's would be after a finite forward; its mask is
                    // the ReLU's gradient on the forward's output.
                    var input = x.Select(v => float.IsNaN(v) ? 0f : v).ToArray();
                    var yForMask = new float[x.Length];
                    BatchNormKernels.Normalize(input, channels, mean, invStd, g, b, yForMask, relu: true);
                    var masked = new float[x.Length];
                    Epilogue.ReluBackward(yForMask, dy, masked, channels, default);
                    foreach (bool training in new[] { true, false })
                    {
                        float[] dx = new float[x.Length], dxFused = new float[x.Length];
                        var (sumDy, sumDyXhat) = BatchNormKernels.Backward(masked, input, mean, channels, invStd, g, training, dx);
                        var (sumDyFused, sumDyXhatFused) = BatchNormKernels.Backward(dy, input, mean, channels, invStd, g, training, dxFused, b, relu: true);
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
}
