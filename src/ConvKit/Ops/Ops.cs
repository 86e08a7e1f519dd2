using ConvKit.Kernels;
using ConvKit.Tensors;

namespace ConvKit.Operations;

/// <summary>
/// The differentiable operations, one call each. Each runs forward now and, while a
/// <see cref="Autograd.GradientTape"/> watches one of its inputs, records itself for the backward pass.
/// Images are channels-last: (batch, height, width, channels).
/// </summary>
public static class Ops
{
    // ---- convolution and pooling ----------------------------------------------------------

    /// <summary>
    /// 2-D convolution (cross-correlation) of <paramref name="input"/> (N, H, W, C) with <paramref name="kernel"/> (R, S, C/groups, K).
    /// out[n,p,q,k] = bias[k] + Σ_{r,s,c} in[n, p·sh − pt + r·dh, q·sw − pl + s·dw, c] · w[r,s,c,k].
    /// </summary>
    /// <remarks>Shape: (N, P, Q, K) with P = ⌊(H + pt + pb − dh·(R−1) − 1)/sh⌋ + 1 (and Q alike); padding from <see cref="ConvArithmetic.Pads"/>.</remarks>
    public static Tensor Conv2D(Tensor input, Tensor kernel, Tensor? bias = null, (int H, int W)? strides = null,
        Padding padding = Padding.Valid, (int H, int W)? dilation = null, int groups = 1) =>
        Conv2D(input, kernel, bias, strides, padding, dilation, groups, relu: false);

    /// <summary>Conv2D, then ReLU fused into the convolution's epilogue when <paramref name="relu"/> is set (layers with activation relu).</summary>
    internal static Tensor Conv2D(Tensor input, Tensor kernel, Tensor? bias, (int H, int W)? strides,
        Padding padding, (int H, int W)? dilation, int groups, bool relu)
    {
        var g = Conv2DGeometry(input.Shape, kernel.Shape, strides ?? (1, 1), padding, dilation ?? (1, 1), groups);
        if (bias is not null && (bias.Rank != 1 || bias.Size != g.K))
            throw new ArgumentException($"Conv2D bias must have shape ({g.K},); received {bias.Shape}.");
        return Conv2DOp.Forward(input, kernel, bias, g, relu);
    }

    /// <summary>Conv2D with explicit padding on each side (as ONNX pads are given).</summary>
    public static Tensor Conv2D(Tensor input, Tensor kernel, Tensor? bias, ConvGeometry geometry) =>
        Conv2DOp.Forward(input, kernel, bias, geometry);

    internal static ConvGeometry Conv2DGeometry(Shape input, Shape kernel, (int H, int W) strides, Padding padding, (int H, int W) dilation, int groups)
    {
        if (input.Rank != 4 || kernel.Rank != 4)
            throw new ArgumentException($"Conv2D needs input (batch, height, width, channels) and kernel (kh, kw, in, filters); received input {input} and kernel {kernel}.");
        if (groups < 1 || input[3] % groups != 0 || kernel[3] % groups != 0 || kernel[2] * groups != input[3])
            throw new ArgumentException($"Conv2D with groups={groups} needs kernel (kh, kw, {input[3]}/groups, filters) with filters divisible by groups; received input {input} and kernel {kernel}.");
        if (padding == Padding.Causal) throw new ArgumentException("Causal padding is for 1-D convolution only.");
        var g = ConvGeometry.Create(input[0], input[1], input[2], input[3], kernel[3], kernel[0], kernel[1],
            strides.H, strides.W, dilation.H, dilation.W, padding, groups);
        if (g.P <= 0 || g.Q <= 0)
            throw new ArgumentException($"Conv2D kernel {kernel} (dilation {dilation}) does not fit input {input} with padding {padding.ToString().ToLowerInvariant()}: output would be ({g.N}, {g.P}, {g.Q}, {g.K}).");
        return g;
    }

    /// <summary>
    /// 1-D convolution (cross-correlation) of <paramref name="input"/> (N, L, C) with <paramref name="kernel"/> (k, C/groups, K):
    /// out[n,t,k] = bias[k] + Σ_{j,c} in[n, t·s − pad + j·d, c] · w[j,c,k]. Shape: (N, L', K).
    /// </summary>
    public static Tensor Conv1D(Tensor input, Tensor kernel, Tensor? bias = null, int stride = 1,
        Padding padding = Padding.Valid, int dilation = 1, int groups = 1) =>
        Conv1D(input, kernel, bias, stride, padding, dilation, groups, relu: false);

    /// <summary>Conv1D, then ReLU fused into the convolution's epilogue when <paramref name="relu"/> is set.</summary>
    internal static Tensor Conv1D(Tensor input, Tensor kernel, Tensor? bias, int stride, Padding padding, int dilation, int groups, bool relu)
    {
        var g = Conv1DGeometry(input.Shape, kernel.Shape, stride, padding, dilation, groups);
        var image = Reshape(input, g.N, 1, g.W, g.C);
        var filters = Reshape(kernel, 1, g.S, g.ChannelsPerGroup, g.K);
        var output = Conv2DOp.Forward(image, filters, bias, g, relu);
        return Reshape(output, g.N, g.Q, g.K);
    }

    /// <summary>A 1-D convolution as the 2-D one of a single row: (N, 1, L, C) with a (1, k, C/groups, K) kernel.</summary>
    internal static ConvGeometry Conv1DGeometry(Shape input, Shape kernel, int stride, Padding padding, int dilation, int groups)
    {
        if (input.Rank != 3 || kernel.Rank != 3)
            throw new ArgumentException($"Conv1D needs input (batch, steps, channels) and kernel (k, in, filters); received input {input} and kernel {kernel}.");
        var (before, after) = ConvArithmetic.Pads(padding, input[1], kernel[0], stride, dilation);
        var g = new ConvGeometry(input[0], 1, input[1], input[2], kernel[2], 1, kernel[0], 1, stride, 1, dilation, 0, before, 0, after, groups);
        if (g.Q <= 0 || input[2] != kernel[1] * groups)
            throw new ArgumentException($"Conv1D kernel {kernel} does not fit input {input} (padding {padding.ToString().ToLowerInvariant()}, dilation {dilation}, groups {groups}).");
        return g;
    }

    /// <summary>
    /// 3-D convolution of <paramref name="input"/> (N, D, H, W, C) with <paramref name="kernel"/> (T, R, S, C/groups, K), the
    /// scalar reference: out[n,a,p,q,k] = bias[k] + Σ_{t,r,s,c} in[n, a·sd − front + t·dd, p·sh − top + r·dh, q·sw − left + s·dw, c] · w[t,r,s,c,k].
    /// <paramref name="pads"/> are ONNX's (front, top, left, back, bottom, right).
    /// </summary>
    /// <remarks>Shape: (N, A, P, Q, K), each as <see cref="ConvArithmetic.OutputLength(int, int, int, int, int, int, bool)"/>.</remarks>
    public static Tensor Conv3D(Tensor input, Tensor kernel, Tensor? bias, int[] strides, int[] dilations, int[] pads, int groups = 1) =>
        Conv3DOp.Forward(input, kernel, bias, strides, dilations, pads, groups);

    /// <summary>Max pooling over (N, H, W, C): out[n,p,q,c] = max of the window; padding never wins. Strides default to the pool size.</summary>
    public static Tensor MaxPool2D(Tensor input, (int H, int W) poolSize, (int H, int W)? strides = null, Padding padding = Padding.Valid) =>
        MaxPoolOp.Forward(input, PoolGeometry(input.Shape, poolSize, strides ?? poolSize, padding, "MaxPool2D"));

    /// <summary>Average pooling over (N, H, W, C): the mean of the window's cells inside the input. Strides default to the pool size.</summary>
    public static Tensor AveragePool2D(Tensor input, (int H, int W) poolSize, (int H, int W)? strides = null, Padding padding = Padding.Valid) =>
        AveragePoolOp.Forward(input, PoolGeometry(input.Shape, poolSize, strides ?? poolSize, padding, "AveragePooling2D"));

    /// <summary>Max pooling with an explicit window (pads, dilation, ceil mode).</summary>
    public static Tensor MaxPool2D(Tensor input, PoolGeometry geometry) => MaxPoolOp.Forward(input, geometry);

    /// <summary>Average pooling with an explicit window (pads, ceil mode, whether padding counts).</summary>
    public static Tensor AveragePool2D(Tensor input, PoolGeometry geometry) => AveragePoolOp.Forward(input, geometry);

    /// <summary>
    /// 3-D max pooling of (N, D, H, W, C) with an explicit window; <paramref name="pads"/> are ONNX's (front, top, left,
    /// back, bottom, right). Shape: (N, A, P, Q, C), each as <see cref="ConvArithmetic.OutputLength(int, int, int, int, int, int, bool)"/>.
    /// </summary>
    public static Tensor MaxPool3D(Tensor input, int[] kernel, int[] strides, int[] dilations, int[] pads, bool ceilMode = false) =>
        Pool3DOp.Forward(input, max: true, kernel, strides, dilations, pads, ceilMode, countIncludePad: false);

    /// <summary>3-D average pooling of (N, D, H, W, C) with an explicit window (as <see cref="MaxPool3D"/>), padding counted or not.</summary>
    public static Tensor AveragePool3D(Tensor input, int[] kernel, int[] strides, int[] dilations, int[] pads, bool ceilMode = false, bool countIncludePad = false) =>
        Pool3DOp.Forward(input, max: false, kernel, strides, dilations, pads, ceilMode, countIncludePad);

    internal static PoolGeometry PoolGeometry(Shape input, (int H, int W) pool, (int H, int W) strides, Padding padding, string name)
    {
        if (input.Rank != 4) throw new ArgumentException($"{name} needs input (batch, height, width, channels); received {input}.");
        var g = Kernels.PoolGeometry.Create(input[0], input[1], input[2], input[3], pool.H, pool.W, strides.H, strides.W, padding);
        if (g.P <= 0 || g.Q <= 0)
            throw new ArgumentException($"{name} pool size {pool} does not fit input {input} with padding {padding.ToString().ToLowerInvariant()}.");
        return g;
    }

    /// <summary>out[n,c] = max over every spatial position of in[n,…,c]. Shape: (N, C).</summary>
    public static Tensor GlobalMaxPool(Tensor input) => GlobalMaxPoolOp.Forward(input);

    /// <summary>out[n,c] = mean over every spatial position of in[n,…,c]. Shape: (N, C).</summary>
    public static Tensor GlobalAveragePool(Tensor input) => GlobalAveragePoolOp.Forward(input);

    // ---- dense --------------------------------------------------------------------------

    /// <summary>a (…, K) · b (K, N) → (…, N).</summary>
    public static Tensor MatMul(Tensor a, Tensor b) => MatMulOp.Forward(a, b);

    /// <summary>x (…, N) + bias (N,) on every row.</summary>
    public static Tensor BiasAdd(Tensor x, Tensor bias) => BiasAddOp.Forward(x, bias);

    /// <summary>The dense layer's computation: x (…, in) · kernel (in, units) + bias (units,).</summary>
    public static Tensor Dense(Tensor x, Tensor kernel, Tensor? bias = null) => DenseOp.Forward(x, kernel, bias, relu: false);

    /// <summary>Dense, then ReLU fused into the same pass as the bias when <paramref name="relu"/> is set.</summary>
    internal static Tensor Dense(Tensor x, Tensor kernel, Tensor? bias, bool relu) => DenseOp.Forward(x, kernel, bias, relu);

    // ---- shape ----------------------------------------------------------------------------

    /// <summary>The same values under a new shape; one dimension may be -1.</summary>
    public static Tensor Reshape(Tensor x, params int[] shape) => ReshapeOp.Forward(x, shape);

    /// <summary>(N, d1, d2, …) → (N, d1·d2·…).</summary>
    public static Tensor Flatten(Tensor x) => Reshape(x, x.Rank == 0 ? 1 : x.Shape[0], -1);

    /// <summary>Joins tensors along <paramref name="axis"/>; the other dimensions must agree.</summary>
    public static Tensor Concatenate(IReadOnlyList<Tensor> inputs, int axis = -1) => ConcatenateOp.Forward(inputs, axis);

    /// <summary>Permutes the axes: result.Shape[i] = x.Shape[permutation[i]].</summary>
    public static Tensor Transpose(Tensor x, params int[] permutation) => TransposeOp.Forward(x, permutation);

    // ---- elementwise ----------------------------------------------------------------------

    public static Tensor Add(Tensor a, Tensor b) => AddOp.Forward(a, b);
    public static Tensor Subtract(Tensor a, Tensor b) => SubtractOp.Forward(a, b);
    public static Tensor Multiply(Tensor a, Tensor b) => MultiplyOp.Forward(a, b);
    public static Tensor Divide(Tensor a, Tensor b) => DivideOp.Forward(a, b);
    public static Tensor Scale(Tensor x, float factor) => ScaleOp.Forward(x, factor);
    public static Tensor Square(Tensor x) => SquareOp.Forward(x);
    public static Tensor Log(Tensor x) => LogOp.Forward(x);
    public static Tensor Exp(Tensor x) => ExpOp.Forward(x);
    public static Tensor Sqrt(Tensor x) => SqrtOp.Forward(x);

    /// <summary>max(a, b) elementwise with broadcasting; where they tie the gradient goes to <paramref name="a"/>.</summary>
    public static Tensor Maximum(Tensor a, Tensor b) => MaximumOp.Forward(a, b, min: false);

    /// <summary>min(a, b) elementwise with broadcasting; where they tie the gradient goes to <paramref name="a"/>.</summary>
    public static Tensor Minimum(Tensor a, Tensor b) => MaximumOp.Forward(a, b, min: true);
    public static Tensor Clip(Tensor x, float min, float max) => ClipOp.Forward(x, min, max);

    public static Tensor Relu(Tensor x) => ReluOp.Forward(x);
    public static Tensor LeakyRelu(Tensor x, float alpha = 0.2f) => LeakyReluOp.Forward(x, alpha);
    public static Tensor Sigmoid(Tensor x) => SigmoidOp.Forward(x);
    public static Tensor Tanh(Tensor x) => TanhOp.Forward(x);
    public static Tensor Elu(Tensor x, float alpha = 1f) => EluOp.Forward(x, alpha);

    /// <summary>Softmax along <paramref name="axis"/> (default the last).</summary>
    public static Tensor Softmax(Tensor x, int axis = -1) => AlongLastAxis(x, axis, SoftmaxOp.Forward);

    /// <summary>Log-softmax along <paramref name="axis"/> (default the last), computed stably.</summary>
    public static Tensor LogSoftmax(Tensor x, int axis = -1) => AlongLastAxis(x, axis, LogSoftmaxOp.Forward);

    /// <summary>Runs a last-axis op on another axis by moving that axis last and back.</summary>
    private static Tensor AlongLastAxis(Tensor x, int axis, Func<Tensor, Tensor> op)
    {
        int a = x.Shape.NormalizeAxis(axis);
        if (a == x.Rank - 1) return op(x);
        var permutation = Enumerable.Range(0, x.Rank).Where(i => i != a).Append(a).ToArray();
        var inverse = new int[x.Rank];
        for (int i = 0; i < x.Rank; i++) inverse[permutation[i]] = i;
        return Transpose(op(Transpose(x, permutation)), inverse);
    }

    /// <summary>In training, zeroes each value with probability <paramref name="rate"/> and scales the rest by 1/(1 − rate).</summary>
    public static Tensor Dropout(Tensor x, float rate, RandomSource random) => DropoutOp.Forward(x, rate, random);

    // ---- reductions ---------------------------------------------------------------------

    /// <summary>Σ over <paramref name="axes"/> (all when none).</summary>
    public static Tensor Sum(Tensor x, int[]? axes = null, bool keepDims = false) => SumOp.Forward(x, axes, keepDims, mean: false);

    /// <summary>Mean over <paramref name="axes"/> (all when none).</summary>
    public static Tensor Mean(Tensor x, int[]? axes = null, bool keepDims = false) => SumOp.Forward(x, axes, keepDims, mean: true);

    /// <summary>Maximum over <paramref name="axes"/> (all when none); the gradient goes to the first maximum of each slice.</summary>
    public static Tensor Max(Tensor x, int[]? axes = null, bool keepDims = false) => ExtremumOp.Forward(x, axes, keepDims, min: false);

    /// <summary>Minimum over <paramref name="axes"/> (all when none); the gradient goes to the first minimum of each slice.</summary>
    public static Tensor Min(Tensor x, int[]? axes = null, bool keepDims = false) => ExtremumOp.Forward(x, axes, keepDims, min: true);

    /// <summary>
    /// Gram matrix of feature maps (N, H, W, C): G[n] = F[n]ᵀ F[n] / (H·W) with F[n] the (H·W, C) matrix of positions × features.
    /// Shape: (N, C, C).
    /// </summary>
    public static Tensor GramMatrix(Tensor features) => GramMatrixOp.Forward(features);

    /// <summary>Batch normalization over the last axis; the BatchNormalization layer keeps the moving statistics.</summary>
    public static (Tensor Output, float[] Mean, float[] Variance) BatchNorm(Tensor x, Tensor? gamma, Tensor? beta,
        Tensor movingMean, Tensor movingVariance, float epsilon, bool training) =>
        BatchNormOp.Forward(x, gamma, beta, movingMean, movingVariance, epsilon, training);

    /// <summary>−mean_i logp[i, label_i]: the loss of integer labels given log-probabilities (N, C).</summary>
    public static Tensor NegativeLogLikelihood(Tensor logProbabilities, Tensor labels) =>
        NegativeLogLikelihoodOp.Forward(logProbabilities, labels);
}
