namespace ConvKit.Kernels;

// N batch, H/W height/width, C channels, R/S window h/w, P/Q output h/w.

/// <summary>
/// The plain scalar definition of max and average pooling, channels-last. Max pooling treats padding
/// as −∞ (it never wins); average pooling divides by the cells inside the input unless the geometry
/// says <c>CountIncludePad</c>.
/// </summary>
internal static class PoolingReference
{
    /// <summary>out[n,p,q,c] = max over the window of in[n, p·sh − padTop + r·dh, q·sw − padLeft + s·dw, c].</summary>
    public static void MaxForward(ReadOnlySpan<float> input, PoolGeometry g, Span<float> output)
    {
        for (int n = 0; n < g.N; n++)
        for (int p = 0; p < g.P; p++)
        for (int q = 0; q < g.Q; q++)
        for (int c = 0; c < g.C; c++)
        {
            float best = float.NegativeInfinity;
            foreach (int i in Window(g, n, p, q, c)) best = Math.Max(best, input[i]);
            output[((n * g.P + p) * g.Q + q) * g.C + c] = best;
        }
    }

    /// <summary>The gradient goes to the first maximum of each window (ties: the first in row-major order).</summary>
    public static void MaxBackward(ReadOnlySpan<float> gradOutput, ReadOnlySpan<float> input, PoolGeometry g, Span<float> gradInput)
    {
        gradInput.Clear();
        for (int n = 0; n < g.N; n++)
        for (int p = 0; p < g.P; p++)
        for (int q = 0; q < g.Q; q++)
        for (int c = 0; c < g.C; c++)
        {
            float best = float.NegativeInfinity;
            int argmax = -1;
            foreach (int i in Window(g, n, p, q, c))
                if (argmax < 0 || input[i] > best) { best = input[i]; argmax = i; }
            if (argmax >= 0) gradInput[argmax] += gradOutput[((n * g.P + p) * g.Q + q) * g.C + c];
        }
    }

    /// <summary>out[n,p,q,c] = (Σ over the window's cells inside the input) / count.</summary>
    public static void AverageForward(ReadOnlySpan<float> input, PoolGeometry g, Span<float> output)
    {
        for (int n = 0; n < g.N; n++)
        for (int p = 0; p < g.P; p++)
        for (int q = 0; q < g.Q; q++)
        for (int c = 0; c < g.C; c++)
        {
            float sum = 0;
            int count = 0;
            foreach (int i in Window(g, n, p, q, c)) { sum += input[i]; count++; }
            output[((n * g.P + p) * g.Q + q) * g.C + c] = count == 0 ? 0 : sum / Divisor(g, p, q, count);
        }
    }

    public static void AverageBackward(ReadOnlySpan<float> gradOutput, PoolGeometry g, Span<float> gradInput)
    {
        gradInput.Clear();
        for (int n = 0; n < g.N; n++)
        for (int p = 0; p < g.P; p++)
        for (int q = 0; q < g.Q; q++)
        for (int c = 0; c < g.C; c++)
        {
            int count = 0;
            foreach (int _ in Window(g, n, p, q, c)) count++;
            if (count == 0) continue;
            float share = gradOutput[((n * g.P + p) * g.Q + q) * g.C + c] / Divisor(g, p, q, count);
            foreach (int i in Window(g, n, p, q, c)) gradInput[i] += share;
        }
    }

    /// <summary>
    /// With <c>CountIncludePad</c> the divisor counts padding cells but not the cells that
    /// <c>ceil_mode</c> adds beyond the end padding (as ONNX and PyTorch do).
    /// </summary>
    private static int Divisor(PoolGeometry g, int p, int q, int count)
    {
        if (!g.CountIncludePad) return count;
        int h0 = p * g.StrideH - g.PadTop, w0 = q * g.StrideW - g.PadLeft;
        int rows = 0, cols = 0;
        for (int r = 0; r < g.R; r++) { int h = h0 + r * g.DilationH; if (h < g.H + g.PadBottom) rows++; }
        for (int s = 0; s < g.S; s++) { int w = w0 + s * g.DilationW; if (w < g.W + g.PadRight) cols++; }
        return rows * cols;
    }

    /// <summary>Flat input indices of the window's cells that lie inside the input.</summary>
    private static IEnumerable<int> Window(PoolGeometry g, int n, int p, int q, int c)
    {
        for (int r = 0; r < g.R; r++)
        {
            int h = p * g.StrideH - g.PadTop + r * g.DilationH;
            if ((uint)h >= (uint)g.H) continue;
            for (int s = 0; s < g.S; s++)
            {
                int w = q * g.StrideW - g.PadLeft + s * g.DilationW;
                if ((uint)w >= (uint)g.W) continue;
                yield return ((n * g.H + h) * g.W + w) * g.C + c;
            }
        }
    }

    /// <summary>out[n,c] = max over (h, w) of in[n,h,w,c].</summary>
    public static void GlobalMaxForward(ReadOnlySpan<float> input, int n, int hw, int c, Span<float> output)
    {
        output.Fill(float.NegativeInfinity);
        for (int b = 0; b < n; b++)
            for (int i = 0; i < hw; i++)
                for (int j = 0; j < c; j++)
                    output[b * c + j] = Math.Max(output[b * c + j], input[(b * hw + i) * c + j]);
    }

    /// <summary>out[n,c] = mean over (h, w) of in[n,h,w,c].</summary>
    public static void GlobalAverageForward(ReadOnlySpan<float> input, int n, int hw, int c, Span<float> output)
    {
        output.Clear();
        for (int b = 0; b < n; b++)
            for (int i = 0; i < hw; i++)
                for (int j = 0; j < c; j++)
                    output[b * c + j] += input[(b * hw + i) * c + j];
        for (int i = 0; i < output.Length; i++) output[i] /= hw;
    }
}
