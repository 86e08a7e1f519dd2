using System.Globalization;

namespace ConvKit.Signal;

/// <summary>How much of a 1-D or 2-D convolution to keep (NumPy's and SciPy's <c>mode</c>).</summary>
public enum ConvolutionMode
{
    /// <summary>Every position where the signals overlap at all: length n + m − 1.</summary>
    Full,
    /// <summary>The centre of the full result: length max(n, m) in 1-D (NumPy), the first input's size in 2-D (SciPy).</summary>
    Same,
    /// <summary>Only positions where the second signal lies wholly inside the first: length n − m + 1.</summary>
    Valid,
}

/// <summary>
/// The convolution operator of signal processing, and its unflipped sibling, cross-correlation.
/// </summary>
/// <remarks>
/// <para><b>Convolution</b> flips the filter: <c>(f * g)[t] = Σ_i f[i] · g[t − i]</c>. It is commutative,
/// <c>f * g = g * f</c>, and associative, <c>(f * g) * h = f * (g * h)</c>. Example: <c>[2 3] * [1 1] = [2 5 3]</c>.</para>
/// <para><b>Cross-correlation</b> does not flip: <c>(f ⋆ g)[t] = Σ_i f[t + i] · g[i]</c>. This is what deep-learning
/// "convolution" layers (Conv1D, Conv2D) compute; with a learned filter the flip makes no difference.</para>
/// Modes follow <c>numpy.convolve</c> / <c>scipy.signal.convolve2d</c>.
/// </remarks>
public static class Convolution
{
    /// <summary>
    /// 1-D convolution with the flip: full[t] = Σ_i f[i]·g[t − i], t = 0 … n + m − 2, then cut to <paramref name="mode"/>.
    /// </summary>
    /// <example><c>Convolve([2, 3], [1, 1], ConvolutionMode.Full)</c> is <c>[2, 5, 3]</c>.</example>
    public static double[] Convolve(double[] f, double[] g, ConvolutionMode mode = ConvolutionMode.Full)
    {
        RequireNonEmpty(f, g);
        var full = new double[f.Length + g.Length - 1];
        for (int i = 0; i < f.Length; i++)
            for (int j = 0; j < g.Length; j++)
                full[i + j] += f[i] * g[j];
        return Cut(full, f.Length, g.Length, mode);
    }

    /// <summary>1-D cross-correlation (no flip), as <c>numpy.correlate</c>: the convolution of f with g reversed.</summary>
    public static double[] Correlate(double[] f, double[] g, ConvolutionMode mode = ConvolutionMode.Valid)
    {
        RequireNonEmpty(f, g);
        return Convolve(f, g.Reverse().ToArray(), mode);
    }

    /// <summary>
    /// 2-D convolution with the flip in both axes: full[y,x] = Σ_{i,j} image[i,j]·kernel[y − i, x − j], cut to <paramref name="mode"/>
    /// (<c>scipy.signal.convolve2d</c>).
    /// </summary>
    public static double[,] Convolve2D(double[,] image, double[,] kernel, ConvolutionMode mode = ConvolutionMode.Full)
    {
        int ih = image.GetLength(0), iw = image.GetLength(1), kh = kernel.GetLength(0), kw = kernel.GetLength(1);
        if (ih == 0 || iw == 0 || kh == 0 || kw == 0) throw new ArgumentException("Convolve2D needs non-empty arrays.");
        var full = new double[ih + kh - 1, iw + kw - 1];
        for (int i = 0; i < ih; i++)
            for (int j = 0; j < iw; j++)
                for (int y = 0; y < kh; y++)
                    for (int x = 0; x < kw; x++)
                        full[i + y, j + x] += image[i, j] * kernel[y, x];
        var (top, height) = Range2D(ih, kh, mode);
        var (left, width) = Range2D(iw, kw, mode);
        var result = new double[height, width];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                result[y, x] = full[top + y, left + x];
        return result;
    }

    /// <summary>2-D cross-correlation (no flip), what a Conv2D layer computes on one channel: the convolution with the kernel rotated 180°.</summary>
    public static double[,] Correlate2D(double[,] image, double[,] kernel, ConvolutionMode mode = ConvolutionMode.Valid)
    {
        int kh = kernel.GetLength(0), kw = kernel.GetLength(1);
        var flipped = new double[kh, kw];
        for (int y = 0; y < kh; y++)
            for (int x = 0; x < kw; x++)
                flipped[y, x] = kernel[kh - 1 - y, kw - 1 - x];
        return Convolve2D(image, flipped, mode);
    }

    /// <summary>NumPy's way of printing a vector: <c>[2 5 3]</c> (whole numbers without a decimal point).</summary>
    public static string Format(IEnumerable<double> values) =>
        "[" + string.Join(" ", values.Select(v => v.ToString(v == Math.Round(v) ? "0" : "G6", CultureInfo.InvariantCulture))) + "]";

    private static double[] Cut(double[] full, int n, int m, ConvolutionMode mode)
    {
        var (start, length) = Range(n, m, mode);
        return full.AsSpan(start, length).ToArray();
    }

    /// <summary>Where the mode's part starts in the full 1-D result, and its length (<c>numpy.convolve</c>).</summary>
    private static (int Start, int Length) Range(int n, int m, ConvolutionMode mode) => mode switch
    {
        ConvolutionMode.Full => (0, n + m - 1),
        ConvolutionMode.Same => ((Math.Min(n, m) - 1) / 2, Math.Max(n, m)),
        ConvolutionMode.Valid => (Math.Min(n, m) - 1, Math.Max(n, m) - Math.Min(n, m) + 1),
        _ => throw new ArgumentOutOfRangeException(nameof(mode)),
    };

    /// <summary>The same along one axis of <c>scipy.signal.convolve2d</c>: "same" keeps the image's size, "valid" needs the kernel inside.</summary>
    private static (int Start, int Length) Range2D(int n, int m, ConvolutionMode mode) => mode switch
    {
        ConvolutionMode.Full => (0, n + m - 1),
        ConvolutionMode.Same => ((m - 1) / 2, n),
        ConvolutionMode.Valid when m <= n => (m - 1, n - m + 1),
        ConvolutionMode.Valid => throw new ArgumentException($"Valid 2-D convolution needs the kernel ({m}) no larger than the image ({n}) on every axis."),
        _ => throw new ArgumentOutOfRangeException(nameof(mode)),
    };

    private static void RequireNonEmpty(double[] f, double[] g)
    {
        if (f.Length == 0 || g.Length == 0) throw new ArgumentException("Convolution needs two non-empty vectors.");
    }
}
