namespace ConvKit.Kernels;

// N batch, H/W height/width, C in channels, K filters, R/S kernel h/w, P/Q output h/w, G groups.

/// <summary>
/// Everything a 2-D convolution kernel needs to know about its operands, channels-last:
/// input [N, H, W, C], kernel [R, S, C/G, K], output [N, P, Q, K]. A 1-D convolution is the case H = R = 1.
/// </summary>
/// <remarks>
/// P and Q are computed once, when the geometry is made, as the kernels read them in their loops; a <c>with</c>
/// expression copies them as they are, so a geometry with other sizes, strides, dilations or pads is made anew.
/// </remarks>
public readonly record struct ConvGeometry(
    int N, int H, int W, int C, int K, int R, int S,
    int StrideH, int StrideW, int DilationH, int DilationW,
    int PadTop, int PadLeft, int PadBottom, int PadRight, int Groups = 1)
{
    public int P { get; } = ConvArithmetic.OutputLength(H, R, StrideH, DilationH, PadTop, PadBottom);
    public int Q { get; } = ConvArithmetic.OutputLength(W, S, StrideW, DilationW, PadLeft, PadRight);

    /// <summary>Input channels seen by each filter.</summary>
    public int ChannelsPerGroup => C / Groups;
    /// <summary>Filters in each group.</summary>
    public int FiltersPerGroup => K / Groups;

    public int InputSize => N * H * W * C;
    public int KernelSize => R * S * ChannelsPerGroup * K;
    public int OutputSize => N * P * Q * K;

    /// <summary>Multiply-adds of the forward pass, times two.</summary>
    public double Flops => 2.0 * N * P * Q * K * R * S * ChannelsPerGroup;

    /// <summary>The geometry for a Keras padding mode.</summary>
    public static ConvGeometry Create(int n, int h, int w, int c, int k, int r, int s,
        int strideH, int strideW, int dilationH, int dilationW, Padding padding, int groups = 1)
    {
        var (top, bottom) = ConvArithmetic.Pads(padding, h, r, strideH, dilationH);
        var (left, right) = ConvArithmetic.Pads(padding, w, s, strideW, dilationW);
        return new ConvGeometry(n, h, w, c, k, r, s, strideH, strideW, dilationH, dilationW, top, left, bottom, right, groups);
    }
}

/// <summary>
/// The window of a 2-D pooling kernel, channels-last: input [N, H, W, C], output [N, P, Q, C].
/// <paramref name="CountIncludePad"/> makes average pooling divide by the whole window (ONNX
/// <c>count_include_pad=1</c>); by default it divides by the cells inside the input, as Keras does.
/// </summary>
public sealed record PoolGeometry(
    int N, int H, int W, int C, int R, int S,
    int StrideH, int StrideW, int PadTop, int PadLeft, int PadBottom, int PadRight,
    int DilationH = 1, int DilationW = 1, bool CeilMode = false, bool CountIncludePad = false)
{
    public int P { get; } = ConvArithmetic.OutputLength(H, R, StrideH, DilationH, PadTop, PadBottom, CeilMode);
    public int Q { get; } = ConvArithmetic.OutputLength(W, S, StrideW, DilationW, PadLeft, PadRight, CeilMode);
    public int InputSize => N * H * W * C;
    public int OutputSize => N * P * Q * C;

    public static PoolGeometry Create(int n, int h, int w, int c, int r, int s, int strideH, int strideW, Padding padding)
    {
        var (top, bottom) = ConvArithmetic.Pads(padding, h, r, strideH, 1);
        var (left, right) = ConvArithmetic.Pads(padding, w, s, strideW, 1);
        return new PoolGeometry(n, h, w, c, r, s, strideH, strideW, top, left, bottom, right);
    }
}
