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
        ActivationKernels.InPieces(ActivationKernels.Rule.LeakyRelu, alpha, x.Data, null, null, y.Data);
        GradientTape.Record(new LeakyReluOp(x, alpha), [x], y);
        return y;
    }

    public override Tensor?[] Backward(Tensor dy, bool[] needs)
    {
        var dx = Tensor.Uninitialized(x.Shape);
        ActivationKernels.InPieces(ActivationKernels.Rule.LeakyReluBackward, alpha, x.Data, dy.Data, null, dx.Data);
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
        ActivationKernels.InPieces(ActivationKernels.Rule.Sigmoid, 0f, x.Data, null, null, y.Data);
        GradientTape.Record(new SigmoidOp(y), [x], y);
        return y;
    }

    public override Tensor?[] Backward(Tensor dy, bool[] needs)
    {
        var dx = Tensor.Uninitialized(y.Shape);
        ActivationKernels.InPieces(ActivationKernels.Rule.SigmoidBackward, 0f, y.Data, dy.Data, null, dx.Data);
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
        ActivationKernels.InPieces(ActivationKernels.Rule.Tanh, 0f, x.Data, null, null, y.Data);
        GradientTape.Record(new TanhOp(y), [x], y);
        return y;
    }

    public override Tensor?[] Backward(Tensor dy, bool[] needs)
    {
        var dx = Tensor.Uninitialized(y.Shape);
        ActivationKernels.InPieces(ActivationKernels.Rule.TanhBackward, 0f, y.Data, dy.Data, null, dx.Data);
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
        ActivationKernels.InPieces(ActivationKernels.Rule.Elu, alpha, x.Data, null, null, y.Data);
        GradientTape.Record(new EluOp(x, y, alpha), [x], y);
        return y;
    }

    public override Tensor?[] Backward(Tensor dy, bool[] needs)
    {
        var dx = Tensor.Uninitialized(x.Shape);
        ActivationKernels.InPieces(ActivationKernels.Rule.EluBackward, alpha, x.Data, y.Data, dy.Data, dx.Data);
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
        ActivationKernels.EachRow(ActivationKernels.RowRule.Softmax, x.Data, x.Data, y.Data, x.Shape[-1]);
        GradientTape.Record(new SoftmaxOp(y), [x], y);
        return y;
    }

    public override Tensor?[] Backward(Tensor dy, bool[] needs)
    {
        var dx = Tensor.Uninitialized(y.Shape);
        ActivationKernels.EachRow(ActivationKernels.RowRule.SoftmaxBackward, y.Data, dy.Data, dx.Data, y.Shape[-1]);
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
        ActivationKernels.EachRow(ActivationKernels.RowRule.LogSoftmax, x.Data, x.Data, y.Data, x.Shape[-1]);
        GradientTape.Record(new LogSoftmaxOp(y), [x], y);
        return y;
    }

    public override Tensor?[] Backward(Tensor dy, bool[] needs)
    {
        var dx = Tensor.Uninitialized(y.Shape);
        ActivationKernels.EachRow(ActivationKernels.RowRule.LogSoftmaxBackward, y.Data, dy.Data, dx.Data, y.Shape[-1]);
        return [dx];
    }
}
