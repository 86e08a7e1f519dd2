using ConvKit.Kernels;
using ConvKit.Tensors;

namespace ConvKit.Layers;

/// <summary>
/// What Conv1D and Conv2D share (Keras's <c>BaseConv</c>): argument checks, the kernel of shape
/// (…kernel size…, in/groups, filters) and the bias (filters,), and the output-shape rule:
/// valid <c>⌊(n − d·(k−1) − 1)/s⌋ + 1</c>, same <c>⌈n/s⌉</c> (<see cref="ConvArithmetic"/>).
/// </summary>
public abstract class BaseConv : Layer
{
    private protected BaseConv(int rank, int filters, int[] kernelSize, int[] strides, Padding padding, int[] dilationRate,
        int groups, ActivationFunction? activation, bool useBias, Initializer? kernelInitializer, Initializer? biasInitializer, string? name)
        : base(name)
    {
        string type = GetType().Name;
        if (filters <= 0) throw new ArgumentException($"{type}: invalid value for argument `filters`. Expected a strictly positive value. Received filters={filters}.");
        if (groups <= 0 || filters % groups != 0)
            throw new ArgumentException($"{type}: the number of filters must be evenly divisible by the number of groups. Received: groups={groups}, filters={filters}.");
        CheckWindow(type, rank, kernelSize, strides, dilationRate, padding);
        Rank = rank;
        Filters = filters;
        KernelSize = kernelSize;
        Strides = strides;
        Padding = padding;
        DilationRate = dilationRate;
        Groups = groups;
        ActivationFunction = activation ?? Activation.Linear;
        UseBias = useBias;
        KernelInitializer = kernelInitializer ?? Initializer.GlorotUniform;
        BiasInitializer = biasInitializer ?? Initializer.Zeros;
    }

    public int Rank { get; }
    public int Filters { get; }
    public int[] KernelSize { get; }
    public int[] Strides { get; }
    public Padding Padding { get; }
    public int[] DilationRate { get; }
    public int Groups { get; }
    public ActivationFunction ActivationFunction { get; }
    public bool UseBias { get; }
    public Initializer KernelInitializer { get; }
    public Initializer BiasInitializer { get; }
    public Variable? Kernel { get; private set; }
    public Variable? Bias { get; private set; }

    private protected static string Tuple(int[] values) => values.Length == 1 ? $"({values[0]},)" : "(" + string.Join(", ", values) + ")";

    /// <summary>Keras's checks of a convolution's window arguments (also <see cref="DepthwiseConv2D"/>'s), in its words.</summary>
    internal static void CheckWindow(string type, int rank, int[] kernelSize, int[] strides, int[] dilationRate, Padding padding)
    {
        if (kernelSize.Any(k => k <= 0)) throw new ArgumentException($"{type}: the `kernel_size` argument must be positive. Received kernel_size={Tuple(kernelSize)}.");
        if (strides.Any(s => s <= 0)) throw new ArgumentException($"{type}: the `strides` argument must be positive. Received strides={Tuple(strides)}.");
        if (dilationRate.Any(d => d <= 0)) throw new ArgumentException($"{type}: the `dilation_rate` argument must be positive. Received dilation_rate={Tuple(dilationRate)}.");
        if (strides.Max() > 1 && dilationRate.Max() > 1)
            throw new ArgumentException($"{type}: `strides > 1` not supported in conjunction with `dilation_rate > 1`. Received: strides={Tuple(strides)} and dilation_rate={Tuple(dilationRate)}");
        if (padding == Padding.Causal && rank != 1)
            throw new ArgumentException($"{type}: causal padding is only for 1-D convolution.");
    }

    /// <summary>The input checks of a convolution of <paramref name="rank"/> whose output for the input is <paramref name="output"/>.</summary>
    internal static void CheckInput(Layer layer, int rank, Shape inputShape, Shape output, int[] kernelSize, int[] strides, int[] dilationRate, Padding padding)
    {
        if (inputShape.Rank != rank + 2)
            throw new ArgumentException($"{layer.TypeName} '{layer.Name}' expects input of rank {rank + 2} (batch, {(rank == 2 ? "height, width" : "steps")}, channels); received {inputShape}.");
        if (inputShape[-1] == Shape.Unknown) throw new ArgumentException($"{layer.TypeName} '{layer.Name}' needs a known channel count; received {inputShape}.");
        for (int i = 1; i <= rank; i++)
            if (inputShape[i] != Shape.Unknown && output[i] <= 0)
                throw new ArgumentException(
                    $"{layer.TypeName} '{layer.Name}': computed output size would be negative or zero: output {output} for input {inputShape} with kernel_size={Tuple(kernelSize)}, strides={Tuple(strides)}, dilation_rate={Tuple(dilationRate)}, padding={padding.ToString().ToLowerInvariant()}.");
    }

    /// <summary>Input channels the layer was built for.</summary>
    public int InputChannels => Kernel is null ? Shape.Unknown : Kernel.Shape[-2] * Groups;

    protected override void ValidateInput(Shape inputShape)
    {
        if (inputShape.Rank == Rank + 2 && inputShape[-1] != Shape.Unknown && inputShape[-1] % Groups != 0)
            throw new ArgumentException($"{TypeName} '{Name}': the number of input channels must be evenly divisible by the number of groups. Received groups={Groups}, input {inputShape}.");
        CheckInput(this, Rank, inputShape, inputShape.Rank == Rank + 2 ? ComputeOutputShape(inputShape) : inputShape, KernelSize, Strides, DilationRate, Padding);
    }

    protected override void BuildCore(Shape inputShape)
    {
        Kernel = AddWeight("kernel", new Shape([.. KernelSize, inputShape[-1] / Groups, Filters]), KernelInitializer);
        if (UseBias) Bias = AddWeight("bias", new Shape(Filters), BiasInitializer);
    }

    public override Shape ComputeOutputShape(Shape inputShape)
    {
        var dims = new int[Rank + 2];
        dims[0] = inputShape[0];
        for (int i = 0; i < Rank; i++)
            dims[i + 1] = ConvArithmetic.OutputLength(Padding, inputShape[i + 1], KernelSize[i], Strides[i], DilationRate[i]);
        dims[^1] = Filters;
        return new Shape(dims);
    }

    /// <summary>The check every call makes once built, worded as the user needs it.</summary>
    private protected void CheckChannels(Tensor input)
    {
        if (input.Rank != Rank + 2 || input.Shape[-1] != InputChannels)
            throw new ArgumentException(
                $"{TypeName} '{Name}' expects {InputChannels} input channels (kernel {Kernel!.Shape}); received input {input.Shape}.");
    }

    public override IReadOnlyDictionary<string, object?> GetConfig() => new Dictionary<string, object?>(base.GetConfig())
    {
        ["filters"] = Filters,
        ["kernel_size"] = KernelSize,
        ["strides"] = Strides,
        ["padding"] = Padding.ToString().ToLowerInvariant(),
        ["dilation_rate"] = DilationRate,
        ["groups"] = Groups,
        ["activation"] = ActivationFunction.Name,
        ["use_bias"] = UseBias,
        ["kernel_initializer"] = KernelInitializer.Name,
        ["bias_initializer"] = BiasInitializer.Name,
    };
}
