using ConvKit.Kernels;
using ConvKit.Operations;
using ConvKit.Tensors;

namespace ConvKit.Layers;

/// <summary>
/// Max or average pooling with ONNX's window: explicit pads on each side, dilations, <c>ceil_mode</c> and
/// <c>count_include_pad</c>, over channels-last (N, L, C), (N, H, W, C) or (N, D, H, W, C).
/// out[n,p,q,c] = max (or mean) of in[n, p·sh − top + r·dh, q·sw − left + s·dw, c] over the window cells inside the input;
/// average pooling divides by the whole window up to the end padding when <see cref="CountIncludePad"/> is set.
/// </summary>
/// <remarks>
/// Shape: (N, H, W, C) → (N, P, Q, C) with P = ⌊(H + top + bottom − dh·(R−1) − 1)/sh⌋ + 1, rounded up in ceil mode
/// (<see cref="ConvArithmetic.OutputLength(int, int, int, int, int, int, bool)"/>), and alike for D in 3-D. Pads in ONNX order:
/// begins, then ends. 1-D and 2-D run on the 2-D pooling kernels; 3-D on the scalar <see cref="Ops.MaxPool3D"/>.
/// </remarks>
public sealed class OnnxPool : Layer
{
    public OnnxPool(bool max, int[] kernelSize, int[] strides, int[] dilations, int[] pads, bool ceilMode = false, bool countIncludePad = false, string? name = null)
        : base(name)
    {
        int rank = kernelSize.Length;
        if (rank is not (1 or 2 or 3) || strides.Length != rank || dilations.Length != rank || pads.Length != 2 * rank)
            throw new ArgumentException($"OnnxPool: 1-D, 2-D or 3-D windows with one stride and dilation per axis and two pads per axis. Received kernel_size={Describe.Tuple(kernelSize)}, strides={Describe.Tuple(strides)}, dilations={Describe.Tuple(dilations)}, pads={Describe.Tuple(pads)}.");
        if (kernelSize.Any(k => k <= 0) || strides.Any(s => s <= 0) || dilations.Any(d => d <= 0) || pads.Any(p => p < 0))
            throw new ArgumentException($"OnnxPool: kernel_size, strides and dilations must be positive and pads non-negative. Received kernel_size={Describe.Tuple(kernelSize)}, strides={Describe.Tuple(strides)}, dilations={Describe.Tuple(dilations)}, pads={Describe.Tuple(pads)}.");
        Max = max;
        KernelSize = kernelSize;
        Strides = strides;
        Dilations = dilations;
        Pads = pads;
        CeilMode = ceilMode;
        CountIncludePad = countIncludePad;
    }

    /// <summary>True for max pooling, false for average pooling.</summary>
    public bool Max { get; }
    public int[] KernelSize { get; }
    public int[] Strides { get; }
    public int[] Dilations { get; }
    public int[] Pads { get; }
    public bool CeilMode { get; }
    public bool CountIncludePad { get; }

    private int SpatialRank => KernelSize.Length;

    protected override void ValidateInput(Shape inputShape)
    {
        if (inputShape.Rank != SpatialRank + 2)
            throw new ArgumentException($"OnnxPool '{Name}' expects input of rank {SpatialRank + 2}; received {inputShape}.");
        var output = ComputeOutputShape(inputShape);
        for (int i = 1; i <= SpatialRank; i++)
            if (inputShape[i] != Shape.Unknown && output[i] <= 0)
                throw new ArgumentException($"OnnxPool '{Name}': kernel_size={Describe.Tuple(KernelSize)} does not fit input {inputShape} (pads {Describe.Tuple(Pads)}).");
    }

    public override Shape ComputeOutputShape(Shape inputShape)
    {
        var dims = inputShape.ToArray();
        for (int i = 0; i < SpatialRank; i++)
            dims[i + 1] = inputShape[i + 1] < 0 ? Shape.Unknown
                : ConvArithmetic.OutputLength(inputShape[i + 1], KernelSize[i], Strides[i], Dilations[i], Pads[i], Pads[i + SpatialRank], CeilMode);
        return new Shape(dims);
    }

    protected override Tensor CallCore(Tensor input, bool training)
    {
        if (input.Rank != SpatialRank + 2)
            throw new ArgumentException($"OnnxPool '{Name}' expects input of rank {SpatialRank + 2}; received {input.Shape}.");
        if (SpatialRank == 3)
            return Max ? Ops.MaxPool3D(input, KernelSize, Strides, Dilations, Pads, CeilMode)
                : Ops.AveragePool3D(input, KernelSize, Strides, Dilations, Pads, CeilMode, CountIncludePad);
        var s = input.Shape;
        var g = SpatialRank == 2
            ? new PoolGeometry(s[0], s[1], s[2], s[3], KernelSize[0], KernelSize[1], Strides[0], Strides[1],
                Pads[0], Pads[1], Pads[2], Pads[3], Dilations[0], Dilations[1], CeilMode, CountIncludePad)
            : new PoolGeometry(s[0], 1, s[1], s[2], 1, KernelSize[0], 1, Strides[0],
                0, Pads[0], 0, Pads[1], 1, Dilations[0], CeilMode, CountIncludePad);
        var image = SpatialRank == 2 ? input : Ops.Reshape(input, g.N, 1, g.W, g.C);
        var output = Max ? Ops.MaxPool2D(image, g) : Ops.AveragePool2D(image, g);
        return SpatialRank == 2 ? output : Ops.Reshape(output, g.N, g.Q, g.C);
    }

    public override IReadOnlyDictionary<string, object?> GetConfig() => new Dictionary<string, object?>(base.GetConfig())
    {
        ["max"] = Max,
        ["kernel_size"] = KernelSize,
        ["strides"] = Strides,
        ["dilations"] = Dilations,
        ["pads"] = Pads,
        ["ceil_mode"] = CeilMode,
        ["count_include_pad"] = CountIncludePad,
    };
}
