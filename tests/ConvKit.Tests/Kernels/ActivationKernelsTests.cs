using ConvKit.Autograd;
using ConvKit.Operations;
using ConvKit.Tensors;

namespace ConvKit.Tests.Kernels;

/// <summary>
/// The vectorised, threaded activations against their scalar rules, element by element, at lengths around the vector
/// width and past the size where they split across threads (2 · 2^17 elements).
/// </summary>
public class ActivationKernelsTests
{
    public static TheoryData<int> Lengths => new() { 1, 7, 8, 9, 37, 300_001 };

    /// <summary>y = f(x) and dx for dy, through the tape.</summary>
    internal static (float[] Y, float[] Dx) Run(Func<Tensor, Tensor> f, Tensor x, Tensor dy)
    {
        using var tape = new GradientTape();
        tape.Watch(x);
        var y = f(x);
        var dx = tape.Gradient(Ops.Sum(Ops.Multiply(y, dy)), [x])[0];
        return (y.ToArray(), dx.ToArray());
    }

    /// <summary>Within a few float roundings of the double-precision value.</summary>
    private static void Near(double expected, float actual) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-6 * Math.Max(1, Math.Abs(expected)), $"expected {expected}, got {actual}");

    [Theory, MemberData(nameof(Lengths))]
    public void ElementwiseActivationsFollowTheirScalarRules(int length)
    {
        var x = Tensor.RandomNormal(new Shape(length), 0f, 2f, length);
        var dy = Tensor.RandomNormal(new Shape(length), 0f, 1f, length + 1);
        float[] xs = x.ToArray(), g = dy.ToArray();

        var (relu, dRelu) = Run(Ops.Relu, x, dy);
        Assert.Equal(xs.Select(v => Math.Max(v, 0f)), relu);
        Assert.Equal(xs.Select((v, i) => v > 0 ? g[i] : 0f), dRelu);

        var (leaky, dLeaky) = Run(t => Ops.LeakyRelu(t, 0.2f), x, dy);
        Assert.Equal(xs.Select(v => v > 0 ? v : 0.2f * v), leaky);
        Assert.Equal(xs.Select((v, i) => v > 0 ? g[i] : 0.2f * g[i]), dLeaky);

        var (sigmoid, dSigmoid) = Run(Ops.Sigmoid, x, dy);
        Assert.All(sigmoid.Zip(xs), p => Near(1 / (1 + Math.Exp(-p.Second)), p.First));
        Assert.Equal(sigmoid.Select((y, i) => g[i] * y * (1 - y)), dSigmoid);

        var (tanh, dTanh) = Run(Ops.Tanh, x, dy);
        Assert.All(tanh.Zip(xs), p => Near(Math.Tanh(p.Second), p.First));
        Assert.Equal(tanh.Select((y, i) => g[i] * (1 - y * y)), dTanh);

        var (elu, dElu) = Run(t => Ops.Elu(t, 1.5f), x, dy);
        Assert.All(elu.Zip(xs), p => Near(p.Second > 0 ? p.Second : 1.5 * (Math.Exp(p.Second) - 1), p.First));
        Assert.Equal(xs.Select((v, i) => v > 0 ? g[i] : g[i] * (elu[i] + 1.5f)), dElu);
    }

    /// <summary>An element's ELU has the same bits wherever it sits: alone, at the end of a block, past a block of 2048.</summary>
    [Fact]
    public void EluGivesAnElementTheSameBitsInAnyTensor()
    {
        // Negative inputs, where ELU takes the exponential.
        var values = Tensor.RandomUniform(new Shape(4096), -4f, -0.01f, 11).ToArray();
        var whole = Ops.Elu(Tensor.FromArray(values, 4096)).ToArray();
        foreach (int length in new[] { 1, 2, 3, 9, 2049, 2050, 2051, 4095 })
        {
            var part = Ops.Elu(Tensor.FromArray(values[..length], length)).ToArray();
            Assert.Equal(whole[..length], part);
        }
    }

    /// <summary>Softmax and log-softmax rows, split across threads when there are many, are each row's own computation.</summary>
    [Theory]
    [InlineData(3, 10)]
    [InlineData(30_000, 10)]
    [InlineData(2, 140_000)]
    public void SoftmaxRowsAreComputedRowByRow(int rows, int n)
    {
        var x = Tensor.RandomNormal(new Shape(rows, n), 0f, 3f, rows + n);
        var dy = Tensor.RandomNormal(new Shape(rows, n), 0f, 1f, rows + n + 1);
        var (softmax, dSoftmax) = Run(t => Ops.Softmax(t), x, dy);
        var (logSoftmax, dLogSoftmax) = Run(t => Ops.LogSoftmax(t), x, dy);
        foreach (int row in new[] { 0, rows / 2, rows - 1 })
        {
            var single = x.Slice(0, row, 1);
            var singleDy = dy.Slice(0, row, 1);
            var (s, ds) = Run(t => Ops.Softmax(t), single, singleDy);
            var (l, dl) = Run(t => Ops.LogSoftmax(t), single, singleDy);
            Assert.Equal(s, softmax.AsSpan(row * n, n).ToArray());
            Assert.Equal(ds, dSoftmax.AsSpan(row * n, n).ToArray());
            Assert.Equal(l, logSoftmax.AsSpan(row * n, n).ToArray());
            Assert.Equal(dl, dLogSoftmax.AsSpan(row * n, n).ToArray());
            Assert.Equal(1.0, s.Sum(v => (double)v), 4);
        }
    }
}
