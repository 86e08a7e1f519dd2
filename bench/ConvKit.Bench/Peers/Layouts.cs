namespace ConvKit.Bench.Peers;

/// <summary>The layout conversions between ConvKit (channels-last, kernels [R, S, C, K]) and NCHW peers.</summary>
internal static class Layouts
{
    /// <summary>[N, H, W, C] → [N, C, H, W].</summary>
    public static float[] NhwcToNchw(ReadOnlySpan<float> x, int n, int h, int w, int c)
    {
        var y = new float[x.Length];
        for (int b = 0; b < n; b++)
            for (int i = 0; i < h; i++)
                for (int j = 0; j < w; j++)
                    for (int k = 0; k < c; k++)
                        y[((b * c + k) * h + i) * w + j] = x[((b * h + i) * w + j) * c + k];
        return y;
    }

    /// <summary>[N, C, H, W] → [N, H, W, C].</summary>
    public static float[] NchwToNhwc(ReadOnlySpan<float> x, int n, int c, int h, int w)
    {
        var y = new float[x.Length];
        for (int b = 0; b < n; b++)
            for (int k = 0; k < c; k++)
                for (int i = 0; i < h; i++)
                    for (int j = 0; j < w; j++)
                        y[((b * h + i) * w + j) * c + k] = x[((b * c + k) * h + i) * w + j];
        return y;
    }

    /// <summary>Keras kernel [R, S, C, K] → ONNX/torch weight [K, C, R, S].</summary>
    public static float[] RsckToKcrs(ReadOnlySpan<float> w, int r, int s, int c, int k)
    {
        var y = new float[w.Length];
        for (int i = 0; i < r; i++)
            for (int j = 0; j < s; j++)
                for (int ci = 0; ci < c; ci++)
                    for (int ki = 0; ki < k; ki++)
                        y[((ki * c + ci) * r + i) * s + j] = w[((i * s + j) * c + ci) * k + ki];
        return y;
    }

    /// <summary>Keras kernel [R, S, C, K] → [K, R, S, C] (torch's channels-last weight memory order).</summary>
    public static float[] RsckToKrsc(ReadOnlySpan<float> w, int r, int s, int c, int k)
    {
        var y = new float[w.Length];
        for (int i = 0; i < r; i++)
            for (int j = 0; j < s; j++)
                for (int ci = 0; ci < c; ci++)
                    for (int ki = 0; ki < k; ki++)
                        y[((ki * r + i) * s + j) * c + ci] = w[((i * s + j) * c + ci) * k + ki];
        return y;
    }

    /// <summary>[rows, cols] → [cols, rows].</summary>
    public static float[] Transpose(ReadOnlySpan<float> x, int rows, int cols)
    {
        var y = new float[x.Length];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                y[j * rows + i] = x[i * cols + j];
        return y;
    }
}
