using ConvKit.Autograd;
using ConvKit.Kernels;
using ConvKit.Tensors;

namespace ConvKit.Operations;

/// <summary>out[n,p,q,c] = max of the window over in[n,·,·,c] (padding never wins).  dIn gets dOut at each window's argmax.</summary>
internal sealed class MaxPoolOp(Tensor input, PoolGeometry geometry) : Op
{
    public override string Name => "MaxPool2D";

    public static Tensor Forward(Tensor input, PoolGeometry g)
    {
        // Every output is written (−∞ for a window wholly in the padding), so the storage is not cleared first.
        var output = Tensor.Uninitialized(new Shape(g.N, g.P, g.Q, g.C));
        PoolingKernels.MaxForward(input.Span, g, output.Span);
        GradientTape.Record(new MaxPoolOp(input, g), [input], output);
        return output;
    }

    public override Tensor?[] Backward(Tensor gradOutput, bool[] needs)
    {
        var dx = Tensor.Uninitialized(input.Shape);
        PoolingKernels.MaxBackward(gradOutput.Span, input.Span, geometry, dx.Span);
        return [dx];
    }
}

/// <summary>out[n,p,q,c] = mean of the window's cells inside the input.  dIn gets dOut / count from each window.</summary>
internal sealed class AveragePoolOp(Shape inputShape, PoolGeometry geometry) : Op
{
    public override string Name => "AveragePooling2D";

    public static Tensor Forward(Tensor input, PoolGeometry g)
    {
        var output = Tensor.Zeros(g.N, g.P, g.Q, g.C);
        PoolingKernels.AverageForward(input.Span, g, output.Span);
        GradientTape.Record(new AveragePoolOp(input.Shape, g), [input], output);
        return output;
    }

    public override Tensor?[] Backward(Tensor gradOutput, bool[] needs)
    {
        var dx = Tensor.Zeros(inputShape);
        PoolingKernels.AverageBackward(gradOutput.Span, geometry, dx.Span);
        return [dx];
    }
}

/// <summary>out[n,c] = max over (h, w) of in[n,h,w,c].  dIn[n,h,w,c] = dOut[n,c] at the first maximum.</summary>
internal sealed class GlobalMaxPoolOp(Tensor input) : Op
{
    public override string Name => "GlobalMaxPooling2D";

    public static Tensor Forward(Tensor input)
    {
        var (n, hw, c) = Dims(input);
        var output = Tensor.Zeros(n, c);
        PoolingKernels.GlobalMaxForward(input.Span, n, hw, c, output.Span);
        GradientTape.Record(new GlobalMaxPoolOp(input), [input], output);
        return output;
    }

    public override Tensor?[] Backward(Tensor gradOutput, bool[] needs)
    {
        var (n, hw, c) = Dims(input);
        var dx = Tensor.Zeros(input.Shape);
        var x = input.Data;
        var dy = gradOutput.Data;
        var d = dx.Span;
        for (int b = 0; b < n; b++)
            for (int j = 0; j < c; j++)
            {
                int best = (b * hw) * c + j;
                for (int i = 1; i < hw; i++)
                {
                    int at = (b * hw + i) * c + j;
                    if (x[at] > x[best]) best = at;
                }
                d[best] += dy[b * c + j];
            }
        return [dx];
    }

    /// <summary>(batch, spatial cells, channels) of a channels-last tensor of any rank ≥ 3.</summary>
    internal static (int N, int Spatial, int C) Dims(Tensor input)
    {
        if (input.Rank < 3) throw new ArgumentException($"Global pooling needs (batch, ..., channels) input; received {input.Shape}.");
        int n = input.Shape[0], c = input.Shape[-1];
        return (n, input.Size / Math.Max(1, n * c), c);
    }
}

/// <summary>out[n,c] = mean over (h, w) of in[n,h,w,c].  dIn[n,h,w,c] = dOut[n,c] / (H·W).</summary>
internal sealed class GlobalAveragePoolOp(Shape inputShape) : Op
{
    public override string Name => "GlobalAveragePooling2D";

    public static Tensor Forward(Tensor input)
    {
        var (n, hw, c) = GlobalMaxPoolOp.Dims(input);
        var output = Tensor.Zeros(n, c);
        PoolingKernels.GlobalAverageForward(input.Span, n, hw, c, output.Span);
        GradientTape.Record(new GlobalAveragePoolOp(input.Shape), [input], output);
        return output;
    }

    public override Tensor?[] Backward(Tensor gradOutput, bool[] needs)
    {
        int n = inputShape[0], c = inputShape[-1], hw = inputShape.Size / (n * c);
        var dx = Tensor.Zeros(inputShape);
        var dy = gradOutput.Data;
        var d = dx.Span;
        for (int b = 0; b < n; b++)
            for (int i = 0; i < hw; i++)
                for (int j = 0; j < c; j++)
                    d[(b * hw + i) * c + j] = dy[b * c + j] / hw;
        return [dx];
    }
}

/// <summary>
/// 3-D max or average pooling of channels-last (N, D, H, W, C) with ONNX's window, the plain scalar definition:
/// out[n,a,p,q,c] = max (or mean) of in[n, a·sd − front + t·dd, p·sh − top + r·dh, q·sw − left + s·dw, c] over the
/// window cells inside the input. Max: padding never wins, dIn gets dOut at each window's first maximum.
/// Average: divided by the cells inside the input, or with <c>countIncludePad</c> by the window cells up to the end
/// padding (not those <c>ceil_mode</c> adds beyond it, as for 2-D); dIn gets dOut / divisor from each window.
/// </summary>
internal sealed class Pool3DOp(Shape inputShape, int[][] windows, float[] divisors, int[]? winners) : Op
{
    public override string Name => winners is null ? "AveragePool3D" : "MaxPool3D";

    public static Tensor Forward(
        Tensor input,           // [N, D, H, W, C]
        bool max,
        int[] kernel,           // (kd, kh, kw); strides and dilations alike
        int[] strides,
        int[] dilations,
        int[] pads,             // ONNX order: front, top, left, back, bottom, right
        bool ceilMode,
        bool countIncludePad)   // → [N, A, P, Q, C]
    {
        if (input.Rank != 5 || kernel.Length != 3 || strides.Length != 3 || dilations.Length != 3 || pads.Length != 6)
            throw new ArgumentException($"Pool3D needs input (N, D, H, W, C), three kernel sizes, strides and dilations and six pads; received input {input.Shape}, kernel ({string.Join(", ", kernel)}), pads ({string.Join(", ", pads)}).");
        var s = input.Shape;
        int n = s[0], c = s[4];
        int[] size = [s[1], s[2], s[3]];
        var outSize = new int[3];
        for (int i = 0; i < 3; i++)
            outSize[i] = ConvArithmetic.OutputLength(size[i], kernel[i], strides[i], dilations[i], pads[i], pads[i + 3], ceilMode);
        if (outSize.Any(o => o <= 0))
            throw new ArgumentException($"Pool3D kernel ({string.Join(", ", kernel)}) does not fit input {input.Shape} (pads ({string.Join(", ", pads)}), dilations ({string.Join(", ", dilations)})).");

        // For each output position, the flat (d, h, w) cells of its window inside the input, and its divisor.
        int positions = outSize[0] * outSize[1] * outSize[2];
        var windows = new int[positions][];
        var divisors = new float[positions];
        var cells = new List<int>();
        for (int a = 0, o = 0; a < outSize[0]; a++)
        for (int p = 0; p < outSize[1]; p++)
        for (int q = 0; q < outSize[2]; q++, o++)
        {
            cells.Clear();
            int[] start = [a * strides[0] - pads[0], p * strides[1] - pads[1], q * strides[2] - pads[2]];
            int padded = 1;
            for (int i = 0; i < 3; i++)
                padded *= Enumerable.Range(0, kernel[i]).Count(k => start[i] + k * dilations[i] < size[i] + pads[i + 3]);
            for (int t = 0; t < kernel[0]; t++)
            {
                int d = start[0] + t * dilations[0];
                if ((uint)d >= (uint)size[0]) continue;
                for (int r = 0; r < kernel[1]; r++)
                {
                    int h = start[1] + r * dilations[1];
                    if ((uint)h >= (uint)size[1]) continue;
                    for (int u = 0; u < kernel[2]; u++)
                    {
                        int w = start[2] + u * dilations[2];
                        if ((uint)w >= (uint)size[2]) continue;
                        cells.Add((d * size[1] + h) * size[2] + w);
                    }
                }
            }
            windows[o] = [.. cells];
            divisors[o] = countIncludePad ? padded : cells.Count;
        }

        var output = Tensor.Zeros(n, outSize[0], outSize[1], outSize[2], c);
        int[]? winners = max ? new int[output.Size] : null;
        var x = input.Data;
        var y = output.Span;
        int volume = size[0] * size[1] * size[2];
        for (int b = 0; b < n; b++)
        for (int o = 0; o < positions; o++)
        for (int k = 0; k < c; k++)
        {
            int at = (b * positions + o) * c + k;
            if (max)
            {
                float best = float.NegativeInfinity;
                int winner = -1;
                foreach (int cell in windows[o])
                {
                    int i = (b * volume + cell) * c + k;
                    if (winner < 0 || x[i] > best) { best = x[i]; winner = i; }
                }
                y[at] = best;
                winners![at] = winner;
            }
            else
            {
                float sum = 0;
                foreach (int cell in windows[o]) sum += x[(b * volume + cell) * c + k];
                y[at] = windows[o].Length == 0 ? 0 : sum / divisors[o];
            }
        }
        GradientTape.Record(new Pool3DOp(input.Shape, windows, divisors, winners), [input], output);
        return output;
    }

    public override Tensor?[] Backward(Tensor gradOutput, bool[] needs)
    {
        var dx = Tensor.Zeros(inputShape);
        var g = gradOutput.Data;
        var d = dx.Span;
        if (winners is not null)
        {
            for (int at = 0; at < g.Length; at++)
                if (winners[at] >= 0) d[winners[at]] += g[at];
            return [dx];
        }
        int n = inputShape[0], c = inputShape[4], volume = inputShape[1] * inputShape[2] * inputShape[3], positions = windows.Length;
        for (int b = 0; b < n; b++)
        for (int o = 0; o < positions; o++)
        for (int k = 0; k < c; k++)
        {
            if (windows[o].Length == 0) continue;
            float share = g[(b * positions + o) * c + k] / divisors[o];
            foreach (int cell in windows[o]) d[(b * volume + cell) * c + k] += share;
        }
        return [dx];
    }
}
