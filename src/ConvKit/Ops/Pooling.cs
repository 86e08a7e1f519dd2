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
        var output = Tensor.Zeros(g.N, g.P, g.Q, g.C);
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
