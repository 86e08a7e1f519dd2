using ConvKit.Autograd;
using ConvKit.Kernels;
using ConvKit.Tensors;

namespace ConvKit.Operations;

/// <summary>y = max(x, 0).  dx = dy · [y &gt; 0].</summary>
internal sealed class ReluOp(Tensor y) : Op
{
    public override string Name => "Relu";

    public static Tensor Forward(Tensor x)
    {
        var y = Tensor.Uninitialized(x.Shape);
        Epilogue.Relu(x.Span, y.Span);
        GradientTape.Record(new ReluOp(y), [x], y);
        return y;
    }

    public override Tensor?[] Backward(Tensor dy, bool[] needs)
    {
        var dx = Tensor.Uninitialized(y.Shape);
        Epilogue.ReluBackward(y.Span, dy.Span, dx.Span, 1, default);
        return [dx];
    }
}

/// <summary>y = x for x &gt; 0, α·x otherwise.  dx = dy · (x &gt; 0 ? 1 : α).</summary>
internal sealed class LeakyReluOp(Tensor x, float alpha) : Op
{
    public override string Name => "LeakyRelu";

    public static Tensor Forward(Tensor x, float alpha)
    {
        var y = Tensor.Uninitialized(x.Shape);
        float[] xv = x.Data, yv = y.Data;
        ActivationKernels.InPieces(y.Size, (start, count) => ActivationKernels.LeakyRelu(xv.AsSpan(start, count), alpha, yv.AsSpan(start, count)));
        GradientTape.Record(new LeakyReluOp(x, alpha), [x], y);
        return y;
    }

    public override Tensor?[] Backward(Tensor dy, bool[] needs)
    {
        var dx = Tensor.Uninitialized(x.Shape);
        float[] xv = x.Data, g = dy.Data, d = dx.Data;
        ActivationKernels.InPieces(dx.Size, (start, count) =>
            ActivationKernels.LeakyReluBackward(xv.AsSpan(start, count), g.AsSpan(start, count), alpha, d.AsSpan(start, count)));
        return [dx];
    }
}

/// <summary>y = 1 / (1 + e^−x).  dx = dy · y · (1 − y).</summary>
internal sealed class SigmoidOp(Tensor y) : Op
{
    public override string Name => "Sigmoid";

    public static Tensor Forward(Tensor x)
    {
        var y = Tensor.Uninitialized(x.Shape);
        float[] xv = x.Data, yv = y.Data;
        ActivationKernels.InPieces(y.Size, (start, count) => ActivationKernels.Sigmoid(xv.AsSpan(start, count), yv.AsSpan(start, count)));
        GradientTape.Record(new SigmoidOp(y), [x], y);
        return y;
    }

    public override Tensor?[] Backward(Tensor dy, bool[] needs)
    {
        var dx = Tensor.Uninitialized(y.Shape);
        float[] yv = y.Data, g = dy.Data, d = dx.Data;
        ActivationKernels.InPieces(dx.Size, (start, count) =>
            ActivationKernels.SigmoidBackward(yv.AsSpan(start, count), g.AsSpan(start, count), d.AsSpan(start, count)));
        return [dx];
    }
}

/// <summary>y = tanh(x).  dx = dy · (1 − y²).</summary>
internal sealed class TanhOp(Tensor y) : Op
{
    public override string Name => "Tanh";

    public static Tensor Forward(Tensor x)
    {
        var y = Tensor.Uninitialized(x.Shape);
        float[] xv = x.Data, yv = y.Data;
        ActivationKernels.InPieces(y.Size, (start, count) => ActivationKernels.Tanh(xv.AsSpan(start, count), yv.AsSpan(start, count)));
        GradientTape.Record(new TanhOp(y), [x], y);
        return y;
    }

    public override Tensor?[] Backward(Tensor dy, bool[] needs)
    {
        var dx = Tensor.Uninitialized(y.Shape);
        float[] yv = y.Data, g = dy.Data, d = dx.Data;
        ActivationKernels.InPieces(dx.Size, (start, count) =>
            ActivationKernels.TanhBackward(yv.AsSpan(start, count), g.AsSpan(start, count), d.AsSpan(start, count)));
        return [dx];
    }
}

/// <summary>y = x for x &gt; 0, α·(eˣ − 1) otherwise.  dx = dy · (x &gt; 0 ? 1 : y + α).</summary>
internal sealed class EluOp(Tensor x, Tensor y, float alpha) : Op
{
    public override string Name => "Elu";

    public static Tensor Forward(Tensor x, float alpha)
    {
        var y = Tensor.Uninitialized(x.Shape);
        float[] xv = x.Data, yv = y.Data;
        ActivationKernels.InPieces(y.Size, (start, count) => ActivationKernels.Elu(xv.AsSpan(start, count), alpha, yv.AsSpan(start, count)));
        GradientTape.Record(new EluOp(x, y, alpha), [x], y);
        return y;
    }

    public override Tensor?[] Backward(Tensor dy, bool[] needs)
    {
        var dx = Tensor.Uninitialized(x.Shape);
        float[] xv = x.Data, yv = y.Data, g = dy.Data, d = dx.Data;
        ActivationKernels.InPieces(dx.Size, (start, count) =>
            ActivationKernels.EluBackward(xv.AsSpan(start, count), yv.AsSpan(start, count), g.AsSpan(start, count), alpha, d.AsSpan(start, count)));
        return [dx];
    }
}

/// <summary>
/// y = softmax(x) along the last axis: y_i = e^(x_i − max) / Σ_j e^(x_j − max).
/// dx_i = y_i · (dy_i − Σ_j dy_j · y_j). Rows are split across the threads when large.
/// </summary>
internal sealed class SoftmaxOp(Tensor y) : Op
{
    public override string Name => "Softmax";

    public static Tensor Forward(Tensor x)
    {
        var y = Tensor.Uninitialized(x.Shape);
        ActivationKernels.EachRow(x.Data, x.Data, y.Data, x.Size, x.Shape[-1], (xr, _, yr) => ActivationKernels.SoftmaxRow(xr, yr));
        GradientTape.Record(new SoftmaxOp(y), [x], y);
        return y;
    }

    public override Tensor?[] Backward(Tensor dy, bool[] needs)
    {
        var dx = Tensor.Uninitialized(y.Shape);
        ActivationKernels.EachRow(y.Data, dy.Data, dx.Data, y.Size, y.Shape[-1], ActivationKernels.SoftmaxBackwardRow);
        return [dx];
    }
}

/// <summary>
/// y = log softmax(x) along the last axis: y_i = x_i − max − log Σ_j e^(x_j − max).
/// dx_i = dy_i − e^(y_i) · Σ_j dy_j. Rows are split across the threads when large.
/// </summary>
internal sealed class LogSoftmaxOp(Tensor y) : Op
{
    public override string Name => "LogSoftmax";

    public static Tensor Forward(Tensor x)
    {
        var y = Tensor.Uninitialized(x.Shape);
        ActivationKernels.EachRow(x.Data, x.Data, y.Data, x.Size, x.Shape[-1], (xr, _, yr) => ActivationKernels.LogSoftmaxRow(xr, yr));
        GradientTape.Record(new LogSoftmaxOp(y), [x], y);
        return y;
    }

    public override Tensor?[] Backward(Tensor dy, bool[] needs)
    {
        var dx = Tensor.Uninitialized(y.Shape);
        ActivationKernels.EachRow(y.Data, dy.Data, dx.Data, y.Size, y.Shape[-1], ActivationKernels.LogSoftmaxBackwardRow);
        return [dx];
    }
}
