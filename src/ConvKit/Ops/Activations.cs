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
        var y = Tensor.Zeros(x.Shape);
        var xv = x.Data;
        var yv = y.Span;
        for (int i = 0; i < yv.Length; i++) yv[i] = xv[i] > 0 ? xv[i] : alpha * xv[i];
        GradientTape.Record(new LeakyReluOp(x, alpha), [x], y);
        return y;
    }

    public override Tensor?[] Backward(Tensor dy, bool[] needs)
    {
        var dx = Tensor.Zeros(x.Shape);
        var xv = x.Data;
        var g = dy.Data;
        var d = dx.Span;
        for (int i = 0; i < d.Length; i++) d[i] = xv[i] > 0 ? g[i] : alpha * g[i];
        return [dx];
    }
}

/// <summary>y = 1 / (1 + e^−x).  dx = dy · y · (1 − y).</summary>
internal sealed class SigmoidOp(Tensor y) : Op
{
    public override string Name => "Sigmoid";

    public static Tensor Forward(Tensor x)
    {
        var y = Tensor.Zeros(x.Shape);
        TensorPrimitives.Sigmoid(x.Span, y.Span);
        GradientTape.Record(new SigmoidOp(y), [x], y);
        return y;
    }

    public override Tensor?[] Backward(Tensor dy, bool[] needs)
    {
        var dx = Tensor.Zeros(y.Shape);
        var yv = y.Data;
        var g = dy.Data;
        var d = dx.Span;
        for (int i = 0; i < d.Length; i++) d[i] = g[i] * yv[i] * (1 - yv[i]);
        return [dx];
    }
}

/// <summary>y = tanh(x).  dx = dy · (1 − y²).</summary>
internal sealed class TanhOp(Tensor y) : Op
{
    public override string Name => "Tanh";

    public static Tensor Forward(Tensor x)
    {
        var y = Tensor.Zeros(x.Shape);
        TensorPrimitives.Tanh(x.Span, y.Span);
        GradientTape.Record(new TanhOp(y), [x], y);
        return y;
    }

    public override Tensor?[] Backward(Tensor dy, bool[] needs)
    {
        var dx = Tensor.Zeros(y.Shape);
        var yv = y.Data;
        var g = dy.Data;
        var d = dx.Span;
        for (int i = 0; i < d.Length; i++) d[i] = g[i] * (1 - yv[i] * yv[i]);
        return [dx];
    }
}

/// <summary>y = x for x &gt; 0, α·(eˣ − 1) otherwise.  dx = dy · (x &gt; 0 ? 1 : y + α).</summary>
internal sealed class EluOp(Tensor x, Tensor y, float alpha) : Op
{
    public override string Name => "Elu";

    public static Tensor Forward(Tensor x, float alpha)
    {
        var y = Tensor.Zeros(x.Shape);
        var xv = x.Data;
        var yv = y.Span;
        for (int i = 0; i < yv.Length; i++) yv[i] = xv[i] > 0 ? xv[i] : alpha * (MathF.Exp(xv[i]) - 1);
        GradientTape.Record(new EluOp(x, y, alpha), [x], y);
        return y;
    }

    public override Tensor?[] Backward(Tensor dy, bool[] needs)
    {
        var dx = Tensor.Zeros(x.Shape);
        var xv = x.Data;
        var yv = y.Data;
        var g = dy.Data;
        var d = dx.Span;
        for (int i = 0; i < d.Length; i++) d[i] = xv[i] > 0 ? g[i] : g[i] * (yv[i] + alpha);
        return [dx];
    }
}

/// <summary>
/// y = softmax(x) along the last axis: y_i = e^(x_i − max) / Σ_j e^(x_j − max).
/// dx_i = y_i · (dy_i − Σ_j dy_j · y_j).
/// </summary>
internal sealed class SoftmaxOp(Tensor y) : Op
{
    public override string Name => "Softmax";

    public static Tensor Forward(Tensor x)
    {
        var y = Tensor.Zeros(x.Shape);
        int n = x.Shape[-1];
        for (int row = 0; row < x.Size; row += n)
        {
            // exp(x − max) / Σ exp(x − max): the same value, without overflow for large inputs (e.g. 10000).
            var yr = y.Span.Slice(row, n);
            TensorPrimitives.Subtract(x.Span.Slice(row, n), TensorPrimitives.Max(x.Span.Slice(row, n)), yr);
            TensorPrimitives.SoftMax(yr, yr);
        }
        GradientTape.Record(new SoftmaxOp(y), [x], y);
        return y;
    }

    public override Tensor?[] Backward(Tensor dy, bool[] needs)
    {
        var dx = Tensor.Zeros(y.Shape);
        int n = y.Shape[-1];
        for (int row = 0; row < y.Size; row += n)
        {
            var yr = y.Span.Slice(row, n);
            var gr = dy.Span.Slice(row, n);
            var dr = dx.Span.Slice(row, n);
            float dot = TensorPrimitives.Dot(yr, gr);
            for (int i = 0; i < n; i++) dr[i] = yr[i] * (gr[i] - dot);
        }
        return [dx];
    }
}

/// <summary>
/// y = log softmax(x) along the last axis: y_i = x_i − max − log Σ_j e^(x_j − max).
/// dx_i = dy_i − e^(y_i) · Σ_j dy_j.
/// </summary>
internal sealed class LogSoftmaxOp(Tensor y) : Op
{
    public override string Name => "LogSoftmax";

    public static Tensor Forward(Tensor x)
    {
        var y = Tensor.Zeros(x.Shape);
        int n = x.Shape[-1];
        for (int row = 0; row < x.Size; row += n)
        {
            var xr = x.Span.Slice(row, n);
            var yr = y.Span.Slice(row, n);
            float max = TensorPrimitives.Max(xr);
            double sum = 0;
            for (int i = 0; i < n; i++) sum += Math.Exp(xr[i] - max);
            float logSum = max + (float)Math.Log(sum);
            TensorPrimitives.Subtract(xr, logSum, yr);
        }
        GradientTape.Record(new LogSoftmaxOp(y), [x], y);
        return y;
    }

    public override Tensor?[] Backward(Tensor dy, bool[] needs)
    {
        var dx = Tensor.Zeros(y.Shape);
        int n = y.Shape[-1];
        for (int row = 0; row < y.Size; row += n)
        {
            var yr = y.Span.Slice(row, n);
            var gr = dy.Span.Slice(row, n);
            var dr = dx.Span.Slice(row, n);
            float sum = TensorPrimitives.Sum(gr);
            for (int i = 0; i < n; i++) dr[i] = gr[i] - MathF.Exp(yr[i]) * sum;
        }
        return [dx];
    }
}
