using System.Numerics;

namespace ConvKit.Kernels;

/// <summary>
/// Elementwise activations and their derivatives, Vector&lt;float&gt; wide, with the scalar rule for the tail (the same
/// operations in the same order, so the same bits wherever an element sits in a tensor), and softmax and log-softmax by
/// rows. <see cref="InPieces"/> and <see cref="InRows"/> split a large tensor across the threads. ReLU lives in
/// <see cref="Epilogue"/>. With <c>CONVKIT_KERNELS=reference</c> each runs its rule in <see cref="ElementwiseReference"/>.
/// </summary>
internal static class ActivationKernels
{
    /// <summary>piece(start, count) over [0, length), in one piece per thread when large (<see cref="KernelThreads.ForRows"/>).</summary>
    public static void InPieces(int length, Action<int, int> piece) =>
        KernelThreads.ForRows(length, 1, (_, start, end) => piece(start, end - start));

    /// <summary>rows(first, count) over <paramref name="rowCount"/> rows of <paramref name="rowLength"/>, split across the threads when large.</summary>
    public static void InRows(int rowCount, int rowLength, Action<int, int> rows) =>
        KernelThreads.ForRows(rowCount, rowLength, (_, first, end) => rows(first, end - first));

    /// <summary>The rule for one row: its values of two inputs, and its values of the output to write.</summary>
    public delegate void RowRule(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> result);

    /// <summary>rule(a row, b row, result row) for every row of <paramref name="n"/> values of <paramref name="size"/>, split across the threads when large.</summary>
    public static void EachRow(float[] a, float[] b, float[] result, int size, int n, RowRule rule) =>
        InRows(n == 0 ? 0 : size / n, n, (first, count) =>
        {
            for (int row = first * n, end = (first + count) * n; row < end; row += n)
                rule(a.AsSpan(row, n), b.AsSpan(row, n), result.AsSpan(row, n));
        });

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
