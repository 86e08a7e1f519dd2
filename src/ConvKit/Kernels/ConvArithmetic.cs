namespace ConvKit.Kernels;

/// <summary>How a convolution or pooling window treats the border (Keras's <c>padding</c> argument).</summary>
public enum Padding
{
    /// <summary>No padding: the window stays inside the input. Output <c>floor((n − d·(k−1) − 1)/s) + 1</c>.</summary>
    Valid,
    /// <summary>Pad so that the output has <c>ceil(n/s)</c> positions; the odd pixel goes at the end.</summary>
    Same,
    /// <summary>1-D only: pad <c>d·(k−1)</c> at the start so output t never sees input after t.</summary>
    Causal,
}

/// <summary>The size arithmetic shared by every convolution and pooling layer, kernel and importer.</summary>
public static class ConvArithmetic
{
    /// <summary>
    /// Output length of a sliding window: <c>⌊(n + padBefore + padAfter − d·(k − 1) − 1) / s⌋ + 1</c>
    /// (PyTorch's Conv2d "Shape" formula; Keras's valid formula is the case of zero padding).
    /// With <paramref name="ceilMode"/> the division rounds up, as ONNX pools with <c>ceil_mode=1</c>,
    /// except that a last window starting inside the end padding is dropped.
    /// </summary>
    /// <example><c>OutputLength(1920, 5, 1, 1, 0, 0) == 1916</c>; <c>OutputLength(1916, 2, 2, 1, 0, 0) == 958</c>.</example>
    public static int OutputLength(int n, int kernel, int stride, int dilation, int padBefore, int padAfter, bool ceilMode = false)
    {
        long span = (long)dilation * (kernel - 1) + 1;
        long room = n + padBefore + padAfter - span;
        if (room < 0) return 0;
        long output = ceilMode ? (room + stride - 1) / stride + 1 : room / stride + 1;
        if (ceilMode && (output - 1) * stride >= n + padBefore) output--;
        return (int)output;
    }

    /// <summary>
    /// Keras/TensorFlow "same" padding: output <c>ceil(n/s)</c>, total padding
    /// <c>max(0, (out − 1)·s + d·(k − 1) + 1 − n)</c>, <c>before = total / 2</c>, the rest after.
    /// </summary>
    public static (int Before, int After) SamePadding(int n, int kernel, int stride, int dilation)
    {
        int output = (n + stride - 1) / stride;
        int total = Math.Max(0, (output - 1) * stride + dilation * (kernel - 1) + 1 - n);
        return (total / 2, total - total / 2);
    }

    /// <summary>Padding before and after for one spatial axis under a Keras padding mode.</summary>
    public static (int Before, int After) Pads(Padding padding, int n, int kernel, int stride, int dilation) => padding switch
    {
        Padding.Valid => (0, 0),
        Padding.Same => SamePadding(n, kernel, stride, dilation),
        Padding.Causal => (dilation * (kernel - 1), 0),
        _ => throw new ArgumentOutOfRangeException(nameof(padding)),
    };

    /// <summary>Output length for a padding mode; an unknown input length (<c>-1</c>) stays unknown.</summary>
    public static int OutputLength(Padding padding, int n, int kernel, int stride, int dilation)
    {
        if (n < 0) return n;
        var (before, after) = Pads(padding, n, kernel, stride, dilation);
        return OutputLength(n, kernel, stride, dilation, before, after);
    }
}
