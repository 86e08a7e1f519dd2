using ConvKit.Kernels;
using ConvKit.Operations;
using ConvKit.Tensors;

namespace ConvKit.Layers;

/// <summary>
/// Convolution with explicit padding on each side, as ONNX's <c>Conv</c> gives it: channels-last input
/// (N, L, C), (N, H, W, C) or (N, D, H, W, C), any stride with any dilation, groups (depthwise when groups = C).
/// out[n,p,q,k] = bias[k] + Σ_{r,s,c} in[n, p·sh − top + r·dh, q·sw − left + s·dw, g·C/G + c] · kernel[r,s,c,k].
/// </summary>
/// <remarks>
/// Shape: (N, H, W, C) → (N, P, Q, filters), P = ⌊(H + top + bottom − dh·(R−1) − 1)/sh⌋ + 1 (<see cref="ConvArithmetic.OutputLength(int, int, int, int, int, int, bool)"/>).
/// Weights: kernel (R, S, C/groups, filters) — (k, C/groups, filters) in 1-D, (T, R, S, C/groups, filters) in 3-D — and bias (filters,).
/// Pads are in ONNX order: all begins, then all ends ([top, left, bottom, right]; [begin, end] in 1-D).
/// 1-D and 2-D run on the 2-D convolution kernels; 3-D on the scalar <see cref="Ops.Conv3D"/>.
/// </remarks>
public sealed class OnnxConv : Layer
{
    // kernelInitializer: the kernel's starting values, glorot_uniform by default. The importer, which assigns the graph's
    // weights right after, asks for zeros: drawing ResNet18's 11 million random numbers first was a tenth of its import.
    public OnnxConv(int filters, int[] kernelSize, int[] strides, int[] dilations, int[] pads, int groups = 1, bool useBias = true, string? name = null,
        Initializer? kernelInitializer = null)
        : base(name)
    {
        int rank = kernelSize.Length;
        if (rank is not (1 or 2 or 3) || strides.Length != rank || dilations.Length != rank || pads.Length != 2 * rank)
            throw new ArgumentException($"OnnxConv: 1-D, 2-D or 3-D kernels with one stride and dilation per axis and two pads per axis. Received kernel_size={Describe.Tuple(kernelSize)}, strides={Describe.Tuple(strides)}, dilations={Describe.Tuple(dilations)}, pads={Describe.Tuple(pads)}.");
        if (filters <= 0 || groups <= 0 || filters % groups != 0)
            throw new ArgumentException($"OnnxConv: filters must be positive and divisible by groups. Received filters={filters}, groups={groups}.");
        if (kernelSize.Any(k => k <= 0) || strides.Any(s => s <= 0) || dilations.Any(d => d <= 0) || pads.Any(p => p < 0))
            throw new ArgumentException($"OnnxConv: kernel_size, strides and dilations must be positive and pads non-negative. Received kernel_size={Describe.Tuple(kernelSize)}, strides={Describe.Tuple(strides)}, dilations={Describe.Tuple(dilations)}, pads={Describe.Tuple(pads)}.");
        Filters = filters;
        KernelSize = kernelSize;
        Strides = strides;
        Dilations = dilations;
        Pads = pads;
        Groups = groups;
        UseBias = useBias;
        KernelInitializer = kernelInitializer ?? Initializer.GlorotUniform;
    }

    public Initializer KernelInitializer { get; }

    public int Filters { get; }
    public int[] KernelSize { get; }
    public int[] Strides { get; }
    public int[] Dilations { get; }
    public int[] Pads { get; }
    public int Groups { get; }
    public bool UseBias { get; }
    public Variable? Kernel { get; private set; }
    public Variable? Bias { get; private set; }

    private int SpatialRank => KernelSize.Length;

    protected override void ValidateInput(Shape inputShape)
    {
        if (inputShape.Rank != SpatialRank + 2 || inputShape[-1] == Shape.Unknown || inputShape[-1] % Groups != 0)
            throw new ArgumentException($"OnnxConv '{Name}' expects input of rank {SpatialRank + 2} with known channels divisible by groups={Groups}; received {inputShape}.");
        var output = ComputeOutputShape(inputShape);
        for (int i = 1; i <= SpatialRank; i++)
            if (inputShape[i] != Shape.Unknown && output[i] <= 0)
                throw new ArgumentException($"OnnxConv '{Name}': kernel_size={Describe.Tuple(KernelSize)} does not fit input {inputShape} (pads {Describe.Tuple(Pads)}, dilations {Describe.Tuple(Dilations)}).");
    }

    protected override void BuildCore(Shape inputShape)
    {
        Kernel = AddWeight("kernel", new Shape([.. KernelSize, inputShape[-1] / Groups, Filters]), KernelInitializer);
        if (UseBias) Bias = AddWeight("bias", new Shape(Filters), Initializer.Zeros);
    }

    public override Shape ComputeOutputShape(Shape inputShape)
    {
        var dims = inputShape.ToArray();
        for (int i = 0; i < SpatialRank; i++)
            dims[i + 1] = inputShape[i + 1] < 0 ? Shape.Unknown
                : ConvArithmetic.OutputLength(inputShape[i + 1], KernelSize[i], Strides[i], Dilations[i], Pads[i], Pads[i + SpatialRank]);
        dims[^1] = Filters;
        return new Shape(dims);
    }

    protected override Tensor CallCore(Tensor input, bool training)
    {
        if (input.Rank != SpatialRank + 2 || input.Shape[-1] != Kernel!.Shape[-2] * Groups)
            throw new ArgumentException($"OnnxConv '{Name}' expects {Kernel!.Shape[-2] * Groups} input channels (kernel {Kernel.Shape}); received input {input.Shape}.");
        if (SpatialRank == 3) return Ops.Conv3D(input, Kernel.Value, Bias?.Value, Strides, Dilations, Pads, Groups);
        if (SpatialRank == 2)
        {
            var g = new ConvGeometry(input.Shape[0], input.Shape[1], input.Shape[2], input.Shape[3], Filters, KernelSize[0], KernelSize[1],
                Strides[0], Strides[1], Dilations[0], Dilations[1], Pads[0], Pads[1], Pads[2], Pads[3], Groups);
            return Ops.Conv2D(input, Kernel.Value, Bias?.Value, g);
        }
        var line = new ConvGeometry(input.Shape[0], 1, input.Shape[1], input.Shape[2], Filters, 1, KernelSize[0],
            1, Strides[0], 1, Dilations[0], 0, Pads[0], 0, Pads[1], Groups);
        var image = Ops.Reshape(input, line.N, 1, line.W, line.C);
        var filters = Ops.Reshape(Kernel.Value, 1, line.S, line.ChannelsPerGroup, line.K);
        return Ops.Reshape(Ops.Conv2D(image, filters, Bias?.Value, line), line.N, line.Q, line.K);
    }

    /// <summary>A 2-D OnnxConv folds a following batch normalization (and ReLU) into its epilogue at inference.</summary>
    private protected override Tensor? CallFoldedCore(Tensor input, float[] scale, float[] shift, Tensor? residual, bool relu, string name)
    {
        if (SpatialRank != 2 || input.Rank != 4 || input.Shape[-1] != Kernel!.Shape[-2] * Groups) return null;
        var g = new ConvGeometry(input.Shape[0], input.Shape[1], input.Shape[2], input.Shape[3], Filters, KernelSize[0], KernelSize[1],
            Strides[0], Strides[1], Dilations[0], Dilations[1], Pads[0], Pads[1], Pads[2], Pads[3], Groups);
        return Conv2DOp.ForwardFolded(input, Kernel.Value, Bias?.Value, g, scale, shift, residual, relu, name);
    }

    public override IReadOnlyDictionary<string, object?> GetConfig() => new Dictionary<string, object?>(base.GetConfig())
    {
        ["filters"] = Filters,
        ["kernel_size"] = KernelSize,
        ["strides"] = Strides,
        ["dilations"] = Dilations,
        ["pads"] = Pads,
        ["groups"] = Groups,
        ["use_bias"] = UseBias,
    };
}
