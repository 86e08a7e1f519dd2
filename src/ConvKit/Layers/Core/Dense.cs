using ConvKit.Operations;
using ConvKit.Tensors;

namespace ConvKit.Layers;

/// <summary>
/// A fully connected layer: <c>y = activation(x · kernel + bias)</c> on the last axis.
/// Weights: kernel (in, units), bias (units,). Shape: (…, in) → (…, units).
/// </summary>
public sealed class Dense : Layer
{
    public Dense(int units, ActivationFunction? activation = null, bool useBias = true,
        Initializer? kernelInitializer = null, Initializer? biasInitializer = null, string? name = null) : base(name)
    {
        if (units <= 0) throw new ArgumentException($"Dense: units must be a positive integer. Received: units={units}");
        Units = units;
        ActivationFunction = activation ?? Activation.Linear;
        UseBias = useBias;
        KernelInitializer = kernelInitializer ?? Initializer.GlorotUniform;
        BiasInitializer = biasInitializer ?? Initializer.Zeros;
    }

    public int Units { get; }
    public ActivationFunction ActivationFunction { get; }
    public bool UseBias { get; }
    public Initializer KernelInitializer { get; }
    public Initializer BiasInitializer { get; }
    public Variable? Kernel { get; private set; }
    public Variable? Bias { get; private set; }

    protected override void ValidateInput(Shape inputShape)
    {
        if (inputShape.Rank < 2 || inputShape[-1] == Shape.Unknown)
            throw new ArgumentException($"Dense '{Name}' needs input (batch, ..., features) with known features; received {inputShape}.");
    }

    protected override void BuildCore(Shape inputShape)
    {
        Kernel = AddWeight("kernel", new Shape(inputShape[-1], Units), KernelInitializer);
        if (UseBias) Bias = AddWeight("bias", new Shape(Units), BiasInitializer);
    }

    public override Shape ComputeOutputShape(Shape inputShape) => inputShape.With(-1, Units);

    protected override Tensor CallCore(Tensor input, bool training)
    {
        if (input.Shape[-1] != Kernel!.Shape[0])
            throw new ArgumentException($"Dense '{Name}' expects {Kernel.Shape[0]} input features (kernel {Kernel.Shape}); received input {input.Shape}.");
        // ReLU, the common case, is fused into the op's bias pass; any other activation follows as an op of its own.
        bool relu = ActivationFunction == ActivationFunction.Relu;
        var y = Ops.Dense(input, Kernel.Value, Bias?.Value, relu);
        return relu ? y : ActivationFunction.Apply(y);
    }

    public override IReadOnlyDictionary<string, object?> GetConfig() => new Dictionary<string, object?>(base.GetConfig())
    {
        ["units"] = Units,
        ["activation"] = ActivationFunction.Name,
        ["use_bias"] = UseBias,
        ["kernel_initializer"] = KernelInitializer.Name,
        ["bias_initializer"] = BiasInitializer.Name,
    };
}
