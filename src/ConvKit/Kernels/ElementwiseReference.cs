namespace ConvKit.Kernels;

/// <summary>
/// The plain scalar rules of the elementwise kernels: activations and their derivatives, softmax and log-softmax by
/// rows, the output epilogue (scale, bias, residual, ReLU), and batch normalization's normalize and backward. They run
/// instead of the vectorised kernels when <see cref="KernelOptions.UseReference"/> is set (<c>CONVKIT_KERNELS=reference</c>),
/// and the fast kernels are tested against them. Sums over a row or a channel are kept in double.
/// </summary>
internal static class ElementwiseReference
{
    /// <summary>y = max(x, 0).</summary>
    public static void Relu(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < y.Length; i++) y[i] = MathF.Max(x[i], 0f);
    }

    /// <summary>dx = dy where y &gt; 0, else 0.</summary>
    public static void Mask(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        for (int i = 0; i < dx.Length; i++) dx[i] = y[i] > 0 ? dy[i] : 0f;
    }

    /// <summary>y = x for x &gt; 0, α·x otherwise.</summary>
    public static void LeakyRelu(ReadOnlySpan<float> x, float alpha, Span<float> y)
    {
        for (int i = 0; i < y.Length; i++) y[i] = x[i] > 0 ? x[i] : alpha * x[i];
    }

    /// <summary>dx = dy for x &gt; 0, α·dy otherwise.</summary>
    public static void LeakyReluBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, float alpha, Span<float> dx)
    {
        for (int i = 0; i < dx.Length; i++) dx[i] = x[i] > 0 ? dy[i] : alpha * dy[i];
    }

    /// <summary>y = 1 / (1 + e^−x).</summary>
    public static void Sigmoid(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < y.Length; i++) y[i] = (float)(1.0 / (1.0 + Math.Exp(-x[i])));
    }

    /// <summary>dx = dy · y · (1 − y).</summary>
    public static void SigmoidBackward(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        for (int i = 0; i < dx.Length; i++) dx[i] = dy[i] * y[i] * (1 - y[i]);
    }

    /// <summary>y = tanh x.</summary>
    public static void Tanh(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < y.Length; i++) y[i] = (float)Math.Tanh(x[i]);
    }

    /// <summary>dx = dy · (1 − y²).</summary>
    public static void TanhBackward(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        for (int i = 0; i < dx.Length; i++) dx[i] = dy[i] * (1 - y[i] * y[i]);
    }

    /// <summary>y = x for x &gt; 0, α·(eˣ − 1) otherwise.</summary>
    public static void Elu(ReadOnlySpan<float> x, float alpha, Span<float> y)
    {
        for (int i = 0; i < y.Length; i++) y[i] = x[i] > 0 ? x[i] : (float)(alpha * (Math.Exp(x[i]) - 1));
    }

    /// <summary>dx = dy for x &gt; 0, dy · (y + α) otherwise.</summary>
    public static void EluBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, float alpha, Span<float> dx)
    {
        for (int i = 0; i < dx.Length; i++) dx[i] = x[i] > 0 ? dy[i] : dy[i] * (y[i] + alpha);
    }

    /// <summary>One row: y_i = e^(x_i − max) / Σ_j e^(x_j − max).</summary>
    public static void SoftmaxRow(ReadOnlySpan<float> x, Span<float> y)
    {
        float max = Max(x);
        double sum = 0;
        for (int i = 0; i < x.Length; i++) sum += Math.Exp(x[i] - max);
        for (int i = 0; i < y.Length; i++) y[i] = (float)(Math.Exp(x[i] - max) / sum);
    }

    /// <summary>One row: dx_i = y_i · (dy_i − Σ_j dy_j · y_j).</summary>
    public static void SoftmaxBackwardRow(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        double dot = 0;
        for (int i = 0; i < y.Length; i++) dot += (double)y[i] * dy[i];
        for (int i = 0; i < dx.Length; i++) dx[i] = (float)(y[i] * (dy[i] - dot));
    }

    /// <summary>One row: y_i = x_i − max − log Σ_j e^(x_j − max).</summary>
    public static void LogSoftmaxRow(ReadOnlySpan<float> x, Span<float> y)
    {
        float max = Max(x);
        double sum = 0;
        for (int i = 0; i < x.Length; i++) sum += Math.Exp(x[i] - max);
        double shift = max + Math.Log(sum);
        for (int i = 0; i < y.Length; i++) y[i] = (float)(x[i] - shift);
    }

    /// <summary>One row: dx_i = dy_i − e^(y_i) · Σ_j dy_j.</summary>
    public static void LogSoftmaxBackwardRow(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        double sum = 0;
        for (int i = 0; i < dy.Length; i++) sum += dy[i];
        for (int i = 0; i < dx.Length; i++) dx[i] = (float)(dy[i] - Math.Exp(y[i]) * sum);
    }

    /// <summary>
    /// y[r, c] = y[r, c] · scale[c] + bias[c] + residual[r, c], then max(·, 0) when <paramref name="relu"/> is set; rows of
    /// <paramref name="k"/> values, empty spans leaving their step out.
    /// </summary>
    public static void Epilogue(Span<float> y, int k, ReadOnlySpan<float> bias, bool relu, ReadOnlySpan<float> scale, ReadOnlySpan<float> residual)
    {
        for (int i = 0; i < y.Length; i++)
        {
            float v = y[i];
            if (!scale.IsEmpty) v *= scale[i % k];
            if (!bias.IsEmpty) v += bias[i % k];
            if (!residual.IsEmpty) v += residual[i];
            if (relu) v = MathF.Max(v, 0f);
            y[i] = v;
        }
    }

    /// <summary>xhat[r,c] = (x[r,c] − mean[c]) · invStd[c]; y[r,c] = xhat[r,c] · gamma[c] + beta[c] (1 and 0 when absent).</summary>
    public static void BatchNormNormalize(float[] x, int channels, float[] mean, float[] invStd, float[]? gamma, float[]? beta, float[]? xhat, float[] y)
    {
        for (int i = 0; i < x.Length; i++)
        {
            int c = i % channels;
            float h = (x[i] - mean[c]) * invStd[c];
            if (xhat != null) xhat[i] = h;
            y[i] = h * (gamma?[c] ?? 1f) + (beta?[c] ?? 0f);
        }
    }

    /// <summary>
    /// Σdy and Σ(dy·xhat) per channel, and with s = gamma·invStd: dx = s · (dy − Σdy/R − xhat · Σ(dy·xhat)/R) in training,
    /// s · dy in inference.
    /// </summary>
    public static (double[] SumDy, double[] SumDyXhat) BatchNormBackward(float[] dy, float[] xhat, int channels, float[] invStd, float[]? gamma, bool training, float[]? dx)
    {
        int rows = dy.Length / channels;
        var sumDy = new double[channels];
        var sumDyXhat = new double[channels];
        for (int i = 0; i < dy.Length; i++)
        {
            sumDy[i % channels] += dy[i];
            sumDyXhat[i % channels] += (double)dy[i] * xhat[i];
        }
        if (dx is null) return (sumDy, sumDyXhat);
        for (int i = 0; i < dx.Length; i++)
        {
            int c = i % channels;
            double s = (gamma?[c] ?? 1f) * (double)invStd[c];
            dx[i] = (float)(training ? s * (dy[i] - sumDy[c] / rows - xhat[i] * sumDyXhat[c] / rows) : s * dy[i]);
        }
        return (sumDy, sumDyXhat);
    }

    private static float Max(ReadOnlySpan<float> x)
    {
        float max = float.NegativeInfinity;
        foreach (float v in x) if (v > max || float.IsNaN(v)) max = v;
        return max;
    }
}
