namespace ConvKit.Kernels;

/// <summary>What a convolution or dense layer does to its GEMM's output before anyone reads it: bias, then ReLU.</summary>
internal static class Epilogue
{
    /// <summary>
    /// y[i, ·] += bias for every row of <paramref name="k"/> values, then max(y, 0) when <paramref name="relu"/> is set;
    /// a row at a time, so each row is still in L1 for the second step. The same operations as BiasAdd then Relu, so
    /// the same bits.
    /// </summary>
    public static void Apply(Span<float> y, int k, ReadOnlySpan<float> bias, bool relu)
    {
        if (bias.IsEmpty)
        {
            if (relu) TensorPrimitives.Max(y, 0f, y);
            return;
        }
        for (int start = 0; start < y.Length; start += k)
        {
            var row = y.Slice(start, k);
            TensorPrimitives.Add(row, bias.Slice(0, k), row);
            if (relu) TensorPrimitives.Max(row, 0f, row);
        }
    }

    public static unsafe void Apply(float* y, nint rows, int k, float* bias, bool relu) =>
        Apply(new Span<float>(y, checked((int)(rows * k))), k, bias == null ? default : new ReadOnlySpan<float>(bias, k), relu);
}
