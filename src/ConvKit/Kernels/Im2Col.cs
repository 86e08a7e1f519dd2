using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ConvKit.Kernels;

// N batch, H/W height/width, C in channels, K filters, R/S kernel h/w, P/Q output h/w, G groups.

/// <summary>
/// Im2col and col2im over a tile of output rows: the bridge between channels-last convolution and GEMM.
/// A column row holds one output pixel's receptive field in kernel order (r, s, c'), so the column tile
/// times the kernel viewed as [R·S·C/G, K] is the convolution.
/// </summary>
internal static unsafe class Im2Col
{
    /// <summary>
    /// columns[(p − p0)·Q + q, (r·S + s)·C/G + c'] = in[n, p·sh − padTop + r·dh, q·sw − padLeft + s·dw, c0 + c'],
    /// zero where the window leaves the input.
    /// </summary>
    public static void Gather(
        float* input,               // [N, H, W, C]
        ConvGeometry g, int n, int p0, int p1, int c0,
        float* columns)             // [(p1 − p0)·Q, R·S·C/G]
    {
        int cg = g.ChannelsPerGroup, span = g.S * cg;
        bool contiguous = g.DilationW == 1 && cg == g.C;
        float* dst = columns;
        for (int p = p0; p < p1; p++)
        for (int q = 0; q < g.Q; q++)
        {
            int w0 = q * g.StrideW - g.PadLeft;
            bool inside = w0 >= 0 && w0 + (g.S - 1) * g.DilationW < g.W;
            for (int r = 0; r < g.R; r++)
            {
                int h = p * g.StrideH - g.PadTop + r * g.DilationH;
                if ((uint)h >= (uint)g.H) { new Span<float>(dst, span).Clear(); dst += span; continue; }
                float* row = input + ((nint)(n * g.H + h) * g.W) * g.C + c0;
                if (inside && contiguous) { Copy(row + (nint)w0 * g.C, dst, span); dst += span; continue; }
                for (int s = 0; s < g.S; s++, dst += cg)
                {
                    int w = w0 + s * g.DilationW;
                    if ((uint)w >= (uint)g.W) new Span<float>(dst, cg).Clear();
                    else Copy(row + (nint)w * g.C, dst, cg);
                }
            }
        }
    }

    /// <summary>The adjoint of <see cref="Gather"/>: in[n, h, w, c0 + c'] += columns[…] for every cell a window reads.</summary>
    public static void Scatter(
        float* columns,             // [(p1 − p0)·Q, R·S·C/G]
        ConvGeometry g, int n, int p0, int p1, int c0,
        float* input)               // [N, H, W, C], accumulated
    {
        int cg = g.ChannelsPerGroup, span = g.S * cg;
        bool contiguous = g.DilationW == 1 && cg == g.C;
        float* src = columns;
        for (int p = p0; p < p1; p++)
        for (int q = 0; q < g.Q; q++)
        {
            int w0 = q * g.StrideW - g.PadLeft;
            bool inside = w0 >= 0 && w0 + (g.S - 1) * g.DilationW < g.W;
            for (int r = 0; r < g.R; r++)
            {
                int h = p * g.StrideH - g.PadTop + r * g.DilationH;
                if ((uint)h >= (uint)g.H) { src += span; continue; }
                float* row = input + ((nint)(n * g.H + h) * g.W) * g.C + c0;
                if (inside && contiguous) { Add(src, row + (nint)w0 * g.C, span); src += span; continue; }
                for (int s = 0; s < g.S; s++, src += cg)
                {
                    int w = w0 + s * g.DilationW;
                    if ((uint)w < (uint)g.W) Add(src, row + (nint)w * g.C, cg);
                }
            }
        }
    }

    /// <summary>dst[i] = src[i] for i &lt; length (non-overlapping buffers).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Copy(float* src, float* dst, int length)
    {
        if (length >= 8)
        {
            int i = 0;
            for (; i <= length - 8; i += 8) Vector256.Store(Vector256.Load(src + i), dst + i);
            if (i < length) Vector256.Store(Vector256.Load(src + length - 8), dst + length - 8);
        }
        else for (int i = 0; i < length; i++) dst[i] = src[i];
    }

    /// <summary>dst[i] += src[i] for i &lt; length.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add(float* src, float* dst, int length)
    {
        int i = 0;
        for (; i <= length - 8; i += 8) Vector256.Store(Vector256.Load(dst + i) + Vector256.Load(src + i), dst + i);
        for (; i < length; i++) dst[i] += src[i];
    }
}
