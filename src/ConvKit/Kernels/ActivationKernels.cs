using System.Numerics;

namespace ConvKit.Kernels;

/// <summary>
/// Elementwise activations and their derivatives, Vector&lt;float&gt; wide, with the scalar rule for the tail (the same
/// operations in the same order, so the same bits wherever an element sits in a tensor), and softmax and log-softmax by
/// rows. <see cref="InPieces"/> and <see cref="EachRow"/> split a large tensor across the threads. ReLU lives in
/// <see cref="Epilogue"/>. With <c>CONVKIT_KERNELS=reference</c> each runs its rule in <see cref="ElementwiseReference"/>.
/// </summary>
internal static class ActivationKernels
{
    /// <summary>The elementwise rules <see cref="InPieces"/> runs over whole tensors.</summary>
    public enum Rule { LeakyRelu, LeakyReluBackward, Sigmoid, SigmoidBackward, Tanh, TanhBackward, Elu, EluBackward }

    /// <summary>
    /// result = rule(first[, second[, third]]) over whole tensors of one size, in one piece per thread when large
    /// (<see cref="KernelThreads.ForRows{TRows}"/>). The inputs come in the order of the rule's method: x for the forward
    /// rules; x, dy for <see cref="LeakyReluBackward"/>; y, dy for <see cref="SigmoidBackward"/> and <see cref="TanhBackward"/>;
    /// x, y, dy for <see cref="EluBackward"/>. <paramref name="alpha"/> is the leaky ReLU's slope or the ELU's α.
    /// </summary>
    public static void InPieces(Rule rule, float alpha, float[] first, float[]? second, float[]? third, float[] result) =>
        KernelThreads.ForRows(result.Length, 1, new Pieces(rule, alpha, first, second, third, result));

    /// <summary>The rules by rows that <see cref="EachRow"/> runs.</summary>
    public enum RowRule { Softmax, SoftmaxBackward, LogSoftmax, LogSoftmaxBackward }

    /// <summary>
    /// The row rule for every row of <paramref name="rowLength"/> values, split across the threads when large: softmax and
    /// log-softmax of <paramref name="a"/> (b unused), or their backward from the output <paramref name="a"/> and dy <paramref name="b"/>.
    /// </summary>
    public static void EachRow(RowRule rule, float[] a, float[] b, float[] result, int rowLength) =>
        KernelThreads.ForRows(rowLength == 0 ? 0 : result.Length / rowLength, rowLength, new RowPieces(rule, a, b, result, rowLength));

    // The threads' ranges as structs, where a lambda would allocate its captures at every call.

    private readonly struct Pieces(Rule rule, float alpha, float[] first, float[]? second, float[]? third, float[] result) : KernelThreads.IRows
    {
        public void Run(int part, int start, int end)
        {
            int count = end - start;
            ReadOnlySpan<float> a = first.AsSpan(start, count);
            Span<float> r = result.AsSpan(start, count);
            switch (rule)
            {
                case Rule.LeakyRelu: LeakyRelu(a, alpha, r); break;
                case Rule.LeakyReluBackward: LeakyReluBackward(a, second.AsSpan(start, count), alpha, r); break;
                case Rule.Sigmoid: Sigmoid(a, r); break;
                case Rule.SigmoidBackward: SigmoidBackward(a, second.AsSpan(start, count), r); break;
                case Rule.Tanh: Tanh(a, r); break;
                case Rule.TanhBackward: TanhBackward(a, second.AsSpan(start, count), r); break;
                case Rule.Elu: Elu(a, alpha, r); break;
                case Rule.EluBackward: EluBackward(a, second.AsSpan(start, count), third.AsSpan(start, count), alpha, r); break;
                default: throw new ArgumentOutOfRangeException(nameof(rule), rule, "Not an elementwise rule.");
            }
        }
    }

    private readonly struct RowPieces(RowRule rule, float[] a, float[] b, float[] result, int n) : KernelThreads.IRows
    {
        public void Run(int part, int first, int end)
        {
            for (int row = first * n, last = end * n; row < last; row += n)
            {
                var x = a.AsSpan(row, n);
                var y = result.AsSpan(row, n);
                switch (rule)
                {
                    case RowRule.Softmax: SoftmaxRow(x, y); break;
                    case RowRule.SoftmaxBackward: SoftmaxBackwardRow(x, b.AsSpan(row, n), y); break;
                    case RowRule.LogSoftmax: LogSoftmaxRow(x, y); break;
                    case RowRule.LogSoftmaxBackward: LogSoftmaxBackwardRow(x, b.AsSpan(row, n), y); break;
                    default: throw new ArgumentOutOfRangeException(nameof(rule), rule, "Not a row rule.");
                }
            }
        }
    }

    /// <summary>y = x for x &gt; 0, α·x otherwise.</summary>
    public static void LeakyRelu(ReadOnlySpan<float> x, float alpha, Span<float> y)
    {
        if (KernelOptions.UseReference)
        {
            ElementwiseReference.LeakyRelu(x, alpha, y);
            return;
        }
        var a = new Vector<float>(alpha);
        int i = 0;
        for (; i <= y.Length - Vector<float>.Count; i += Vector<float>.Count)
        {
            var v = new Vector<float>(x.Slice(i));
            Vector.ConditionalSelect(Vector.GreaterThan(v, Vector<float>.Zero), v, a * v).CopyTo(y.Slice(i));
        }
        for (; i < y.Length; i++) y[i] = x[i] > 0 ? x[i] : alpha * x[i];
    }

    /// <summary>dx = dy for x &gt; 0, α·dy otherwise.</summary>
    public static void LeakyReluBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, float alpha, Span<float> dx)
    {
        if (KernelOptions.UseReference)
        {
            ElementwiseReference.LeakyReluBackward(x, dy, alpha, dx);
            return;
        }
        var a = new Vector<float>(alpha);
        int i = 0;
        for (; i <= dx.Length - Vector<float>.Count; i += Vector<float>.Count)
        {
            var g = new Vector<float>(dy.Slice(i));
            Vector.ConditionalSelect(Vector.GreaterThan(new Vector<float>(x.Slice(i)), Vector<float>.Zero), g, a * g).CopyTo(dx.Slice(i));
        }
        for (; i < dx.Length; i++) dx[i] = x[i] > 0 ? dy[i] : alpha * dy[i];
    }

    /// <summary>y = 1 / (1 + e^−x), by <see cref="TensorPrimitives.Sigmoid(ReadOnlySpan{float}, Span{float})"/>.</summary>
    public static void Sigmoid(ReadOnlySpan<float> x, Span<float> y)
    {
        if (KernelOptions.UseReference) ElementwiseReference.Sigmoid(x, y);
        else TensorPrimitives.Sigmoid(x, y);
    }

    /// <summary>y = tanh x, by <see cref="TensorPrimitives.Tanh(ReadOnlySpan{float}, Span{float})"/>.</summary>
    public static void Tanh(ReadOnlySpan<float> x, Span<float> y)
    {
        if (KernelOptions.UseReference) ElementwiseReference.Tanh(x, y);
        else TensorPrimitives.Tanh(x, y);
    }

    /// <summary>One row of softmax: y_i = e^(x_i − max) / Σ_j e^(x_j − max), without overflow for large inputs (e.g. 10000).</summary>
    public static void SoftmaxRow(ReadOnlySpan<float> x, Span<float> y)
    {
        if (KernelOptions.UseReference)
        {
            ElementwiseReference.SoftmaxRow(x, y);
            return;
        }
        TensorPrimitives.Subtract(x, TensorPrimitives.Max(x), y);
        TensorPrimitives.SoftMax(y, y);
    }

    /// <summary>One row of softmax's backward: dx_i = y_i · (dy_i − Σ_j dy_j · y_j).</summary>
    public static void SoftmaxBackwardRow(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        if (KernelOptions.UseReference)
        {
            ElementwiseReference.SoftmaxBackwardRow(y, dy, dx);
            return;
        }
        float dot = TensorPrimitives.Dot(y, dy);
        for (int i = 0; i < dx.Length; i++) dx[i] = y[i] * (dy[i] - dot);
    }

    /// <summary>One row of log-softmax: y_i = x_i − max − log Σ_j e^(x_j − max).</summary>
    public static void LogSoftmaxRow(ReadOnlySpan<float> x, Span<float> y)
    {
        if (KernelOptions.UseReference)
        {
            ElementwiseReference.LogSoftmaxRow(x, y);
            return;
        }
        float max = TensorPrimitives.Max(x);
        double sum = 0;
        for (int i = 0; i < x.Length; i++) sum += Math.Exp(x[i] - max);
        // (x − max) − log Σ rather than x − (max + log Σ): the latter rounds at the scale of max, 7.6e-6 at max = 80
        // for a value near 0.
        TensorPrimitives.Subtract(x, max, y);
        TensorPrimitives.Subtract(y, (float)Math.Log(sum), y);
    }

    /// <summary>One row of log-softmax's backward: dx_i = dy_i − e^(y_i) · Σ_j dy_j.</summary>
    public static void LogSoftmaxBackwardRow(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        if (KernelOptions.UseReference)
        {
            ElementwiseReference.LogSoftmaxBackwardRow(y, dy, dx);
            return;
        }
        float sum = TensorPrimitives.Sum(dy);
        for (int i = 0; i < dx.Length; i++) dx[i] = dy[i] - MathF.Exp(y[i]) * sum;
    }

    /// <summary>dx = dy · y · (1 − y), the sigmoid's derivative from its output.</summary>
    public static void SigmoidBackward(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        if (KernelOptions.UseReference)
        {
            ElementwiseReference.SigmoidBackward(y, dy, dx);
            return;
        }
        int i = 0;
        for (; i <= dx.Length - Vector<float>.Count; i += Vector<float>.Count)
        {
            var v = new Vector<float>(y.Slice(i));
            (new Vector<float>(dy.Slice(i)) * v * (Vector<float>.One - v)).CopyTo(dx.Slice(i));
        }
        for (; i < dx.Length; i++) dx[i] = dy[i] * y[i] * (1 - y[i]);
    }

    /// <summary>dx = dy · (1 − y²), tanh's derivative from its output.</summary>
    public static void TanhBackward(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        if (KernelOptions.UseReference)
        {
            ElementwiseReference.TanhBackward(y, dy, dx);
            return;
        }
        int i = 0;
        for (; i <= dx.Length - Vector<float>.Count; i += Vector<float>.Count)
        {
            var v = new Vector<float>(y.Slice(i));
            (new Vector<float>(dy.Slice(i)) * (Vector<float>.One - v * v)).CopyTo(dx.Slice(i));
        }
        for (; i < dx.Length; i++) dx[i] = dy[i] * (1 - y[i] * y[i]);
    }

    /// <summary>y = x for x &gt; 0, α·(eˣ − 1) otherwise; eˣ from <see cref="TensorPrimitives.Exp(ReadOnlySpan{float}, Span{float})"/>.</summary>
    public static void Elu(ReadOnlySpan<float> x, float alpha, Span<float> y)
    {
        if (KernelOptions.UseReference)
        {
            ElementwiseReference.Elu(x, alpha, y);
            return;
        }
        // A block at a time, so that the second step finds the block's exponentials still in L1.
        const int Block = 2048;
        for (int start = 0; start < y.Length; start += Block)
        {
            // The last block takes the remainder whole rather than leave a short one.
            int count = y.Length - start < 2 * Block ? y.Length - start : Block;
            EluBlock(x.Slice(start, count), alpha, y.Slice(start, count));
            if (count > Block) break;
        }
    }

    private static void EluBlock(ReadOnlySpan<float> x, float alpha, Span<float> y)
    {
        if (x.Length < 8)
        {
            // TensorPrimitives.Exp takes another path for spans of 1–3 and rounds some values differently; padded to
            // eight, every element gets the bits it would get anywhere in a longer tensor.
            Span<float> padded = stackalloc float[8];
            padded.Clear();
            x.CopyTo(padded);
            TensorPrimitives.Exp(padded, padded);
            padded.Slice(0, x.Length).CopyTo(y);
        }
        else TensorPrimitives.Exp(x, y);
        var a = new Vector<float>(alpha);
        int i = 0;
        for (; i <= y.Length - Vector<float>.Count; i += Vector<float>.Count)
        {
            var v = new Vector<float>(x.Slice(i));
            Vector.ConditionalSelect(Vector.GreaterThan(v, Vector<float>.Zero), v, a * (new Vector<float>(y.Slice(i)) - Vector<float>.One)).CopyTo(y.Slice(i));
        }
        for (; i < y.Length; i++) y[i] = x[i] > 0 ? x[i] : alpha * (y[i] - 1);
    }

    /// <summary>dx = dy for x &gt; 0, dy · (y + α) otherwise.</summary>
    public static void EluBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, float alpha, Span<float> dx)
    {
        if (KernelOptions.UseReference)
        {
            ElementwiseReference.EluBackward(x, y, dy, alpha, dx);
            return;
        }
        var a = new Vector<float>(alpha);
        int i = 0;
        for (; i <= dx.Length - Vector<float>.Count; i += Vector<float>.Count)
        {
            var g = new Vector<float>(dy.Slice(i));
            Vector.ConditionalSelect(Vector.GreaterThan(new Vector<float>(x.Slice(i)), Vector<float>.Zero), g, g * (new Vector<float>(y.Slice(i)) + a))
                .CopyTo(dx.Slice(i));
        }
        for (; i < dx.Length; i++) dx[i] = x[i] > 0 ? dy[i] : dy[i] * (y[i] + alpha);
    }
}
