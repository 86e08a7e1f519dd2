namespace ConvKit.Kernels;

// N batch, H/W height/width, C in channels, K filters, R/S kernel h/w, P/Q output h/w, G groups.

/// <summary>
/// The plain scalar definition of 2-D convolution (cross-correlation, as deep-learning layers compute it),
/// channels-last. Obviously right rather than fast: the fast kernels are tested against it and
/// <c>CONVKIT_KERNELS=reference</c> runs it everywhere.
/// </summary>
/// <remarks>
/// Effectively computes
/// <c>out[n,p,q,k] = bias[k] + Σ_{r,s,c'} in[n, p·sh − padTop + r·dh, q·sw − padLeft + s·dw, g·C/G + c'] · w[r,s,c',k]</c>
/// with <c>g = k / (K/G)</c> and cells outside the input read as zero.
/// </remarks>
internal static class ConvolutionReference
{
    public static void Forward(
        ReadOnlySpan<float> input,      // [N, H, W, C]
        ReadOnlySpan<float> kernel,     // [R, S, C/G, K]
        ReadOnlySpan<float> bias,       // [K] or empty
        ConvGeometry g,
        Span<float> output)             // [N, P, Q, K]
    {
        int cg = g.ChannelsPerGroup, kg = g.FiltersPerGroup;
        for (int n = 0; n < g.N; n++)
        for (int p = 0; p < g.P; p++)
        for (int q = 0; q < g.Q; q++)
        {
            var o = output.Slice(((n * g.P + p) * g.Q + q) * g.K, g.K);
            if (bias.IsEmpty) o.Clear(); else bias.CopyTo(o);
            for (int r = 0; r < g.R; r++)
            {
                int h = p * g.StrideH - g.PadTop + r * g.DilationH;
                if ((uint)h >= (uint)g.H) continue;
                for (int s = 0; s < g.S; s++)
                {
                    int w = q * g.StrideW - g.PadLeft + s * g.DilationW;
                    if ((uint)w >= (uint)g.W) continue;
                    int inBase = ((n * g.H + h) * g.W + w) * g.C;
                    for (int group = 0; group < g.Groups; group++)
                    for (int c = 0; c < cg; c++)
                    {
                        float x = input[inBase + group * cg + c];
                        int wBase = ((r * g.S + s) * cg + c) * g.K;
                        for (int k = group * kg; k < (group + 1) * kg; k++) o[k] += x * kernel[wBase + k];
                    }
                }
            }
        }
    }

    /// <summary>dIn[n,h,w,c] = Σ over the windows that read (h, w, c) of dOut[n,p,q,k] · w[r,s,c',k].</summary>
    public static void BackwardInput(
        ReadOnlySpan<float> gradOutput, // [N, P, Q, K]
        ReadOnlySpan<float> kernel,     // [R, S, C/G, K]
        ConvGeometry g,
        Span<float> gradInput)          // [N, H, W, C], overwritten
    {
        gradInput.Clear();
        int cg = g.ChannelsPerGroup, kg = g.FiltersPerGroup;
        for (int n = 0; n < g.N; n++)
        for (int p = 0; p < g.P; p++)
        for (int q = 0; q < g.Q; q++)
        {
            var dy = gradOutput.Slice(((n * g.P + p) * g.Q + q) * g.K, g.K);
            for (int r = 0; r < g.R; r++)
            {
                int h = p * g.StrideH - g.PadTop + r * g.DilationH;
                if ((uint)h >= (uint)g.H) continue;
                for (int s = 0; s < g.S; s++)
                {
                    int w = q * g.StrideW - g.PadLeft + s * g.DilationW;
                    if ((uint)w >= (uint)g.W) continue;
                    int inBase = ((n * g.H + h) * g.W + w) * g.C;
                    for (int group = 0; group < g.Groups; group++)
                    for (int c = 0; c < cg; c++)
                    {
                        int wBase = ((r * g.S + s) * cg + c) * g.K;
                        float sum = 0;
                        for (int k = group * kg; k < (group + 1) * kg; k++) sum += dy[k] * kernel[wBase + k];
                        gradInput[inBase + group * cg + c] += sum;
                    }
                }
            }
        }
    }

    /// <summary>dW[r,s,c',k] = Σ_{n,p,q} dOut[n,p,q,k] · in[n, h(p,r), w(q,s), g·C/G + c'].</summary>
    public static void BackwardKernel(
        ReadOnlySpan<float> gradOutput, // [N, P, Q, K]
        ReadOnlySpan<float> input,      // [N, H, W, C]
        ConvGeometry g,
        Span<float> gradKernel)         // [R, S, C/G, K], overwritten
    {
        gradKernel.Clear();
        int cg = g.ChannelsPerGroup, kg = g.FiltersPerGroup;
        for (int n = 0; n < g.N; n++)
        for (int p = 0; p < g.P; p++)
        for (int q = 0; q < g.Q; q++)
        {
            var dy = gradOutput.Slice(((n * g.P + p) * g.Q + q) * g.K, g.K);
            for (int r = 0; r < g.R; r++)
            {
                int h = p * g.StrideH - g.PadTop + r * g.DilationH;
                if ((uint)h >= (uint)g.H) continue;
                for (int s = 0; s < g.S; s++)
                {
                    int w = q * g.StrideW - g.PadLeft + s * g.DilationW;
                    if ((uint)w >= (uint)g.W) continue;
                    int inBase = ((n * g.H + h) * g.W + w) * g.C;
                    for (int group = 0; group < g.Groups; group++)
                    for (int c = 0; c < cg; c++)
                    {
                        float x = input[inBase + group * cg + c];
                        int wBase = ((r * g.S + s) * cg + c) * g.K;
                        for (int k = group * kg; k < (group + 1) * kg; k++) gradKernel[wBase + k] += x * dy[k];
                    }
                }
            }
        }
    }

    /// <summary>dBias[k] = Σ_{n,p,q} dOut[n,p,q,k].</summary>
    public static void BackwardBias(ReadOnlySpan<float> gradOutput, int k, Span<float> gradBias)
    {
        gradBias.Clear();
        for (int i = 0; i < gradOutput.Length; i += k)
            for (int j = 0; j < k; j++) gradBias[j] += gradOutput[i + j];
    }
}
