using ConvKit.Kernels;
using ConvKit.Operations;
using ConvKit.Tensors;

namespace ConvKit.Layers;

/// <summary>
/// Depthwise 2-D convolution (Keras's <c>DepthwiseConv2D</c>): each input channel is convolved with its own
/// <c>depthMultiplier</c> filters, and no filter mixes channels.
/// out[n,p,q,c·M + m] = activation(bias[c·M + m] + Σ_{r,s} in[n, p·sh + r·dh − pt, q·sw + s·dw − pl, c] · kernel[r,s,c,m]).
/// </summary>
/// <remarks>
/// Shape: (N, H, W, C) → (N, P, Q, C·M), P and Q as for <see cref="Conv2D"/>.
/// Weights: depthwise_kernel (kh, kw, C, M), bias (C·M,).
/// Example: 3×3 with multiplier 2 on 32 channels has 3·3·32·2 = 576 kernel weights and 64 biases.
/// It runs as a Conv2D with one group per input channel; its kernel, read as (kh, kw, 1, C·M), lies the same in memory.
/// </remarks>
public sealed class DepthwiseConv2D : Layer
{
    public DepthwiseConv2D(
        Size2 kernelSize, Size2? strides = null, Padding padding = Padding.Valid, int depthMultiplier = 1, Size2? dilationRate = null,
        ActivationFunction? activation = null, bool useBias = true, Initializer? depthwiseInitializer = null, Initializer? biasInitializer = null,
        string? name = null)
        : base(name)
    {
        KernelSize = [kernelSize.Height, kernelSize.Width];
        Strides = strides is { } s ? [s.Height, s.Width] : [1, 1];
        DilationRate = dilationRate is { } d ? [d.Height, d.Width] : [1, 1];
        if (depthMultiplier <= 0)
            throw new ArgumentException($"DepthwiseConv2D: invalid value for argument `depth_multiplier`. Expected a strictly positive value. Received depth_multiplier={depthMultiplier}.");
        BaseConv.CheckWindow("DepthwiseConv2D", 2, KernelSize, Strides, DilationRate, padding);
        Padding = padding;
        DepthMultiplier = depthMultiplier;
        ActivationFunction = activation ?? Activation.Linear;
        UseBias = useBias;
        DepthwiseInitializer = depthwiseInitializer ?? Initializer.GlorotUniform;
        BiasInitializer = biasInitializer ?? Initializer.Zeros;
    }

    public int[] KernelSize { get; }
    public int[] Strides { get; }
    public Padding Padding { get; }
    public int DepthMultiplier { get; }
    public int[] DilationRate { get; }
    public ActivationFunction ActivationFunction { get; }
    public bool UseBias { get; }
    public Initializer DepthwiseInitializer { get; }
    public Initializer BiasInitializer { get; }
    public Variable? DepthwiseKernel { get; private set; }
    public Variable? Bias { get; private set; }

    /// <summary>Input channels the layer was built for.</summary>
    public int InputChannels => DepthwiseKernel is null ? Shape.Unknown : DepthwiseKernel.Shape[2];

    protected override void ValidateInput(Shape inputShape) =>
        BaseConv.CheckInput(this, 2, inputShape, inputShape.Rank == 4 ? ComputeOutputShape(inputShape) : inputShape, KernelSize, Strides, DilationRate, Padding);

    protected override void BuildCore(Shape inputShape)
    {
        int channels = inputShape[-1];
        DepthwiseKernel = AddWeight("depthwise_kernel", new Shape(KernelSize[0], KernelSize[1], channels, DepthMultiplier), DepthwiseInitializer);
        if (UseBias) Bias = AddWeight("bias", new Shape(channels * DepthMultiplier), BiasInitializer);
    }

    public override Shape ComputeOutputShape(Shape inputShape)
    {
        int channels = inputShape[-1];
        return new Shape(inputShape[0],
            ConvArithmetic.OutputLength(Padding, inputShape[1], KernelSize[0], Strides[0], DilationRate[0]),
            ConvArithmetic.OutputLength(Padding, inputShape[2], KernelSize[1], Strides[1], DilationRate[1]),
            channels == Shape.Unknown ? Shape.Unknown : channels * DepthMultiplier);
    }

    /// <summary>The kernel as the grouped convolution reads it: (kh, kw, 1, C·M), a reshape that moves nothing.</summary>
    public Tensor GroupedKernel() => Ops.Reshape(DepthwiseKernel!.Value, KernelSize[0], KernelSize[1], 1, InputChannels * DepthMultiplier);

    protected override Tensor CallCore(Tensor input, bool training)
    {
        if (input.Rank != 4 || input.Shape[-1] != InputChannels)
            throw new ArgumentException($"{TypeName} '{Name}' expects {InputChannels} input channels (depthwise_kernel {DepthwiseKernel!.Shape}); received input {input.Shape}.");
        bool relu = ActivationFunction == ActivationFunction.Relu;
        var y = Ops.Conv2D(input, GroupedKernel(), Bias?.Value, (Strides[0], Strides[1]), Padding, (DilationRate[0], DilationRate[1]), InputChannels, relu);
        return relu ? y : ActivationFunction.Apply(y);
    }

    /// <summary>A linear DepthwiseConv2D folds a following batch normalization (and ReLU) into its epilogue at inference.</summary>
    private protected override Tensor? CallFoldedCore(Tensor input, float[] scale, float[] shift, Tensor? residual, bool relu, string name)
    {
        if (ActivationFunction != ActivationFunction.Linear || input.Rank != 4 || input.Shape[-1] != InputChannels) return null;
        var kernel = GroupedKernel();
        var g = Ops.Conv2DGeometry(input.Shape, kernel.Shape, (Strides[0], Strides[1]), Padding, (DilationRate[0], DilationRate[1]), InputChannels);
        return Conv2DOp.ForwardFolded(input, kernel, Bias?.Value, g, scale, shift, residual, relu, name);
    }

    public override IReadOnlyDictionary<string, object?> GetConfig() => new Dictionary<string, object?>(base.GetConfig())
    {
        ["kernel_size"] = KernelSize,
        ["strides"] = Strides,
        ["padding"] = Padding.ToString().ToLowerInvariant(),
        ["depth_multiplier"] = DepthMultiplier,
        ["dilation_rate"] = DilationRate,
        ["activation"] = ActivationFunction.Name,
        ["use_bias"] = UseBias,
        ["depthwise_initializer"] = DepthwiseInitializer.Name,
        ["bias_initializer"] = BiasInitializer.Name,
    };
}
