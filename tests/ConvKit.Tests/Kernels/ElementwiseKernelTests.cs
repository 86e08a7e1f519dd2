using ConvKit.Autograd;
using ConvKit.Kernels;
using ConvKit.Operations;
using ConvKit.Tensors;

namespace ConvKit.Tests.Kernels;

/// <summary>
/// The vectorised elementwise kernels (activations, softmax rows, the output epilogue, batch normalization) against
/// their scalar rules in <see cref="ElementwiseReference"/>, and <c>CONVKIT_KERNELS=reference</c> running those rules.
/// </summary>
/// <remarks>In the collection that runs alone, as the tests that switch <see cref="KernelOptions.UseReference"/>.</remarks>
[Collection(nameof(ConvKit.Tests.Autograd.OpTraceCollection))]
public class ElementwiseKernelTests
{
    // Lengths around the vector widths (4, 8, 16) and past one thread's piece.
    public static TheoryData<int> Lengths() => [1, 3, 7, 8, 17, 33, 1000, 300_001];

    /// <summary>Values in ±8, a few exactly zero, and some past where e^x rounds to 0 or 1 in float32.</summary>
    private static float[] Inputs(int length, int seed)
    {
        var values = KernelAssert.Random(length, seed);
        for (int i = 0; i < length; i++) values[i] *= 8;
        if (length > 4) { values[1] = 0; values[length / 2] = -95; values[length - 1] = 40; }
        return values;
    }

    private static void Fast(Action run)
    {
        using (new FastKernels()) run();
    }

    /// <summary>The fast kernels for the scope's length, whatever CONVKIT_KERNELS says.</summary>
    private sealed class FastKernels : IDisposable
    {
        private readonly bool saved = KernelOptions.UseReference;

        public FastKernels() => KernelOptions.UseReference = false;

        public void Dispose() => KernelOptions.UseReference = saved;
    }

    [Theory, MemberData(nameof(Lengths))]
    public void ActivationsAndTheirDerivativesAgreeWithTheScalarRules(int length)
    {
        var x = Inputs(length, length);
        var dy = KernelAssert.Random(length, length + 1);
        var expected = new float[length];
        var actual = new float[length];
        var y = new float[length];

        void Check(string what, Action<float[]> fast, Action<float[]> reference, float tolerance)
        {
            Array.Fill(actual, float.NaN);
            Fast(() => fast(actual));
            reference(expected);
            if (tolerance == 0) KernelAssert.Exact(expected, actual, $"{what}, length {length}");
            else KernelAssert.Close(expected, actual, tolerance, $"{what}, length {length}");
        }

        Check("ReLU", a => Epilogue.Relu(x, a), e => ElementwiseReference.Relu(x, e), 0);
        Check("ReLU mask", a => Epilogue.Mask(x, dy, a), e => ElementwiseReference.Mask(x, dy, e), 0);
        Check("leaky ReLU", a => ActivationKernels.LeakyRelu(x, 0.3f, a), e => ElementwiseReference.LeakyRelu(x, 0.3f, e), 0);
        Check("leaky ReLU backward", a => ActivationKernels.LeakyReluBackward(x, dy, 0.3f, a), e => ElementwiseReference.LeakyReluBackward(x, dy, 0.3f, e), 0);
        Check("sigmoid", a => ActivationKernels.Sigmoid(x, a), e => ElementwiseReference.Sigmoid(x, e), 1e-6f);
        Check("tanh", a => ActivationKernels.Tanh(x, a), e => ElementwiseReference.Tanh(x, e), 1e-6f);
        Check("ELU", a => ActivationKernels.Elu(x, 0.7f, a), e => ElementwiseReference.Elu(x, 0.7f, e), 1e-6f);
        ElementwiseReference.Sigmoid(x, y);
        Check("sigmoid backward", a => ActivationKernels.SigmoidBackward(y, dy, a), e => ElementwiseReference.SigmoidBackward(y, dy, e), 0);
        ElementwiseReference.Tanh(x, y);
        Check("tanh backward", a => ActivationKernels.TanhBackward(y, dy, a), e => ElementwiseReference.TanhBackward(y, dy, e), 0);
        ElementwiseReference.Elu(x, 0.7f, y);
        Check("ELU backward", a => ActivationKernels.EluBackward(x, y, dy, 0.7f, a), e => ElementwiseReference.EluBackward(x, y, dy, 0.7f, e), 0);
    }

    [Theory, InlineData(1), InlineData(3), InlineData(7), InlineData(17), InlineData(33), InlineData(1000)]
    public void SoftmaxRowsAgreeWithTheScalarRules(int length)
    {
        var x = Inputs(length, 2 * length);
        for (int i = 0; i < length; i += 5) x[i] += 80;      // large logits: exp(x) alone would overflow
        var dy = KernelAssert.Random(length, 3);
        var expected = new float[length];
        var actual = new float[length];
        var y = new float[length];

        Fast(() => ActivationKernels.SoftmaxRow(x, actual));
        ElementwiseReference.SoftmaxRow(x, expected);
        KernelAssert.Close(expected, actual, 1e-6f, $"softmax, length {length}");
        Assert.InRange(expected.Sum(), 1 - 1e-5f, 1 + 1e-5f);

        Fast(() => ActivationKernels.LogSoftmaxRow(x, actual));
        ElementwiseReference.LogSoftmaxRow(x, expected);
        KernelAssert.Close(expected, actual, 1e-6f, $"log-softmax, length {length}");

        ElementwiseReference.SoftmaxRow(x, y);
        Fast(() => ActivationKernels.SoftmaxBackwardRow(y, dy, actual));
        ElementwiseReference.SoftmaxBackwardRow(y, dy, expected);
        KernelAssert.Close(expected, actual, 1e-6f, $"softmax backward, length {length}");

        ElementwiseReference.LogSoftmaxRow(x, y);
        Fast(() => ActivationKernels.LogSoftmaxBackwardRow(y, dy, actual));
        ElementwiseReference.LogSoftmaxBackwardRow(y, dy, expected);
        KernelAssert.Close(expected, actual, 1e-5f, $"log-softmax backward, length {length}");
    }

    /// <summary>y·scale + bias + residual, then ReLU, with each step present or not, on row lengths around the vector width.</summary>
    [Theory]
    [InlineData(1, 5)]
    [InlineData(7, 3)]
    [InlineData(8, 9)]
    [InlineData(17, 40)]
    [InlineData(64, 4100)]      // past one thread's share
    public unsafe void TheOutputEpilogueAgreesWithTheScalarRule(int k, int rows)
    {
        var bias = KernelAssert.Random(k, 1);
        var scale = KernelAssert.Random(k, 2);
        var residual = KernelAssert.Random(rows * k, 3);
        var y = KernelAssert.Random(rows * k, 4);
        for (int steps = 1; steps < 16; steps++)
        {
            bool withScale = (steps & 1) != 0, withBias = (steps & 2) != 0, withResidual = (steps & 4) != 0, relu = (steps & 8) != 0;
            ReadOnlySpan<float> s = withScale ? scale : default, b = withBias ? bias : default, r = withResidual ? residual : default;
            var expected = (float[])y.Clone();
            ElementwiseReference.Epilogue(expected, k, b, relu, s, r);
            var whole = (float[])y.Clone();
            Fast(() => Epilogue.Apply(whole, k, withBias ? bias : default, relu, withScale ? scale : default, withResidual ? residual : default));
            KernelAssert.Exact(expected, whole, $"epilogue k {k}, rows {rows}, steps {steps}");

            // The form the convolution kernels call on their own tiles.
            var tile = (float[])y.Clone();
            fixed (float* pt = tile, pb = bias, ps = scale, pr = residual)
            {
                float* tb = withBias ? pb : null, ts = withScale ? ps : null, tr = withResidual ? pr : null;
                using (new FastKernels()) Epilogue.ApplyHere(pt, rows, k, k, tb, relu, ts, tr);
            }
            KernelAssert.Exact(expected, tile, $"epilogue on a tile, k {k}, rows {rows}, steps {steps}");

            // The form a GEMM's thread calls on the block of columns it computed: those columns change, no others.
            int first = k / 3, columns = Math.Max(1, k - first - k / 4);
            var block = (float[])y.Clone();
            fixed (float* pt = block, pb = bias, ps = scale, pr = residual)
            {
                var e = new OutputEpilogue(withBias ? pb : null, withScale ? ps : null, withResidual ? pr : null, relu, pt);
                using (new FastKernels()) e.ApplyHere(pt + first, rows, columns, k);
            }
            for (int i = 0; i < block.Length; i++)
            {
                bool inside = i % k >= first && i % k < first + columns;
                Assert.True(BitConverter.SingleToInt32Bits(inside ? expected[i] : y[i]) == BitConverter.SingleToInt32Bits(block[i]),
                    $"epilogue on columns [{first}, {first + columns}) of k {k}, rows {rows}, steps {steps}: element {i} is {block[i]}");
            }
        }
    }

    [Theory]
    [InlineData(5, 3)]
    [InlineData(1000, 8)]
    [InlineData(4096, 24)]      // past one thread's share, channels a multiple of the vector width
    [InlineData(3000, 33)]
    public void BatchNormalizationAgreesWithTheScalarRules(int rows, int channels)
    {
        var x = Inputs(rows * channels, rows);
        var dy = KernelAssert.Random(rows * channels, 5);
        var mean = KernelAssert.Random(channels, 6);
        var invStd = KernelAssert.Random(channels, 7).Select(v => 0.5f + Math.Abs(v)).ToArray();
        var gamma = KernelAssert.Random(channels, 8);
        var beta = KernelAssert.Random(channels, 9);
        foreach (bool affine in new[] { true, false })
        {
            float[]? g = affine ? gamma : null, b = affine ? beta : null;
            var (y, xhatExpected, yExpected) = (new float[x.Length], new float[x.Length], new float[x.Length]);
            Fast(() => BatchNormKernels.Normalize(x, channels, mean, invStd, g, b, y));
            ElementwiseReference.BatchNormNormalize(x, channels, mean, invStd, g, b, xhatExpected, yExpected);
            KernelAssert.Close(yExpected, y, 1e-6f, $"normalized {rows}×{channels}, affine {affine}");

            foreach (bool training in new[] { true, false })
            {
                var (dx, dxExpected) = (new float[x.Length], new float[x.Length]);
                (double[] SumDy, double[] SumDyXhat) sums;
                using (new FastKernels()) sums = BatchNormKernels.Backward(dy, x, mean, channels, invStd, g, training, dx);
                var expectedSums = ElementwiseReference.BatchNormBackward(dy, xhatExpected, channels, invStd, g, training, dxExpected);
                KernelAssert.Close(dxExpected, dx, 2e-5f, $"batch norm dx {rows}×{channels}, training {training}, affine {affine}");
                for (int c = 0; c < channels; c++)
                {
                    Assert.Equal(expectedSums.SumDy[c], sums.SumDy[c], 1e-4 * (1 + rows));
                    Assert.Equal(expectedSums.SumDyXhat[c], sums.SumDyXhat[c], 1e-4 * (1 + rows));
                }
            }
        }
    }

    /// <summary>
    /// With <see cref="KernelOptions.UseReference"/> set, the ops give the scalar rules' bits exactly; the fast kernels
    /// give other bits somewhere on the same inputs, so a kernel that ignored the switch would be seen.
    /// </summary>
    [Fact]
    public void ReferenceModeRunsTheScalarRules()
    {
        const int Rows = 64, Columns = 37;
        var x = Inputs(Rows * Columns, 11);
        var input = Tensor.FromArray(x, Rows, Columns);
        var cases = new (string Name, Func<Tensor, Tensor> Op, Action<float[], float[]> Rule)[]
        {
            ("sigmoid", Ops.Sigmoid, (a, y) => ElementwiseReference.Sigmoid(a, y)),
            ("tanh", Ops.Tanh, (a, y) => ElementwiseReference.Tanh(a, y)),
            ("ELU", t => Ops.Elu(t, 0.7f), (a, y) => ElementwiseReference.Elu(a, 0.7f, y)),
            ("softmax", t => Ops.Softmax(t), (a, y) => { for (int r = 0; r < Rows; r++) ElementwiseReference.SoftmaxRow(a.AsSpan(r * Columns, Columns), y.AsSpan(r * Columns, Columns)); }),
            ("log-softmax", t => Ops.LogSoftmax(t), (a, y) => { for (int r = 0; r < Rows; r++) ElementwiseReference.LogSoftmaxRow(a.AsSpan(r * Columns, Columns), y.AsSpan(r * Columns, Columns)); }),
        };
        var saved = KernelOptions.UseReference;
        try
        {
            foreach (var (name, op, rule) in cases)
            {
                var expected = new float[x.Length];
                rule(x, expected);
                KernelOptions.UseReference = false;
                var fast = op(input).ToArray();
                Assert.False(fast.Select(BitConverter.SingleToInt32Bits).SequenceEqual(expected.Select(BitConverter.SingleToInt32Bits)),
                    $"{name}: the fast kernel should round some value otherwise than the scalar rule on these inputs");
                KernelOptions.UseReference = true;
                KernelAssert.Exact(expected, op(input).ToArray(), $"{name} with CONVKIT_KERNELS=reference");
            }
        }
        finally { KernelOptions.UseReference = saved; }
    }
}
