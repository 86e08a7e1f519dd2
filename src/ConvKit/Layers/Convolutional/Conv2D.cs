using ConvKit.Kernels;
using ConvKit.Operations;
using ConvKit.Tensors;

namespace ConvKit.Layers;

/// <summary>
/// 2-D convolution layer: <c>filters</c> filters, each spanning every input channel, slid over the image.
/// out[n,p,q,k] = activation(bias[k] + Σ_{r,s,c} in[n, p·sh + r·dh − pt, q·sw + s·dw − pl, c] · kernel[r,s,c,k]).
/// </summary>
/// <remarks>
/// Shape: (N, H, W, C) → (N, P, Q, filters); valid P = ⌊(H − dh·(kh−1) − 1)/sh⌋ + 1, same P = ⌈H/sh⌉.
/// Weights: kernel (kh, kw, C/groups, filters), bias (filters,).
/// Example: 16 filters of 5×5 on RGB have 5·5·3·16 = 1,200 kernel weights.
/// </remarks>
public sealed class Conv2D(
    int filters, Size2 kernelSize, Size2? strides = null, Padding padding = Padding.Valid, Size2? dilationRate = null,
    int groups = 1, ActivationFunction? activation = null, bool useBias = true,
    Initializer? kernelInitializer = null, Initializer? biasInitializer = null, string? name = null)
    : BaseConv(2, filters, [kernelSize.Height, kernelSize.Width], Pair(strides), padding, Pair(dilationRate),
        groups, activation, useBias, kernelInitializer, biasInitializer, name)
{
    private static int[] Pair(Size2? size) => size is { } s ? [s.Height, s.Width] : [1, 1];

    protected override Tensor CallCore(Tensor input, bool training)
    {
        CheckChannels(input);
        // ReLU is fused into the convolution's epilogue; any other activation follows as an op of its own.
        bool relu = ActivationFunction == ActivationFunction.Relu;
        var y = Ops.Conv2D(input, Kernel!.Value, Bias?.Value, (Strides[0], Strides[1]), Padding, (DilationRate[0], DilationRate[1]), Groups, relu);
        return relu ? y : ActivationFunction.Apply(y);
    }

    /// <summary>A linear Conv2D folds a following batch normalization (and ReLU) into its epilogue at inference.</summary>
    private protected override Tensor? CallFoldedCore(Tensor input, float[] scale, float[] shift, Tensor? residual, bool relu, string name)
    {
        if (ActivationFunction != ActivationFunction.Linear) return null;
        CheckChannels(input);
        var g = Ops.Conv2DGeometry(input.Shape, Kernel!.Value.Shape, (Strides[0], Strides[1]), Padding, (DilationRate[0], DilationRate[1]), Groups);
        return Conv2DOp.ForwardFolded(input, Kernel.Value, Bias?.Value, g, scale, shift, residual, relu, name);
    }
}

/// <summary>
/// 1-D convolution layer over (batch, steps, channels).
/// out[n,t,k] = activation(bias[k] + Σ_{j,c} in[n, t·s + j·d − pad, c] · kernel[j,c,k]).
/// </summary>
/// <remarks>
/// Shape: (N, L, C) → (N, L', filters); valid L' = ⌊(L − d·(k−1) − 1)/s⌋ + 1, same and causal L' = ⌈L/s⌉.
/// Weights: kernel (k, C/groups, filters), bias (filters,).
/// </remarks>
public sealed class Conv1D(
    int filters, int kernelSize, int strides = 1, Padding padding = Padding.Valid, int dilationRate = 1,
    int groups = 1, ActivationFunction? activation = null, bool useBias = true,
    Initializer? kernelInitializer = null, Initializer? biasInitializer = null, string? name = null)
    : BaseConv(1, filters, [kernelSize], [strides], padding, [dilationRate], groups, activation, useBias, kernelInitializer, biasInitializer, name)
{
    protected override Tensor CallCore(Tensor input, bool training)
    {
        CheckChannels(input);
        bool relu = ActivationFunction == ActivationFunction.Relu;
        var y = Ops.Conv1D(input, Kernel!.Value, Bias?.Value, Strides[0], Padding, DilationRate[0], Groups, relu);
        return relu ? y : ActivationFunction.Apply(y);
    }

    /// <summary>A linear Conv1D folds a following batch normalization (and what follows it) as the 2-D convolution of one row.</summary>
    private protected override Tensor? CallFoldedCore(Tensor input, float[] scale, float[] shift, Tensor? residual, bool relu, string name)
    {
        if (ActivationFunction != ActivationFunction.Linear) return null;
        CheckChannels(input);
        var g = Ops.Conv1DGeometry(input.Shape, Kernel!.Value.Shape, Strides[0], Padding, DilationRate[0], Groups);
        var output = Conv2DOp.ForwardFolded(Ops.Reshape(input, g.N, 1, g.W, g.C), Ops.Reshape(Kernel.Value, 1, g.S, g.ChannelsPerGroup, g.K),
            Bias?.Value, g, scale, shift, residual, relu, name);
        return Ops.Reshape(output, g.N, g.Q, g.K);
    }
}
