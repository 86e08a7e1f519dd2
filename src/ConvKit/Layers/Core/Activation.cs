using ConvKit.Operations;
using ConvKit.Tensors;

namespace ConvKit.Layers;

/// <summary>An elementwise (or last-axis) activation, named as in Keras.</summary>
public sealed class ActivationFunction
{
    private readonly Func<Tensor, Tensor> apply;

    private ActivationFunction(string name, Func<Tensor, Tensor> apply)
    {
        Name = name;
        this.apply = apply;
    }

    /// <summary>The Keras identifier, e.g. <c>relu</c>.</summary>
    public string Name { get; }

    public Tensor Apply(Tensor x) => apply(x);

    internal static readonly ActivationFunction Linear = new("linear", x => x);
    internal static readonly ActivationFunction Relu = new("relu", Ops.Relu);
    internal static readonly ActivationFunction Sigmoid = new("sigmoid", Ops.Sigmoid);
    internal static readonly ActivationFunction Tanh = new("tanh", Ops.Tanh);
    internal static readonly ActivationFunction Elu = new("elu", x => Ops.Elu(x));
    internal static readonly ActivationFunction LeakyRelu = new("leaky_relu", x => Ops.LeakyRelu(x));
    internal static readonly ActivationFunction Softmax = new("softmax", x => Ops.Softmax(x));
    internal static readonly ActivationFunction LogSoftmax = new("log_softmax", x => Ops.LogSoftmax(x));

    private static readonly ActivationFunction[] All = [Linear, Relu, Sigmoid, Tanh, Elu, LeakyRelu, Softmax, LogSoftmax];

    /// <summary>Looks up an activation by its Keras name.</summary>
    public static ActivationFunction FromName(string name) =>
        All.FirstOrDefault(a => a.Name == name)
        ?? throw new ArgumentException($"Unknown activation '{name}'; known: {string.Join(", ", All.Select(a => a.Name))}.");

    public static implicit operator ActivationFunction(string name) => FromName(name);

    public override string ToString() => Name;
}

/// <summary>
/// Applies an activation function: <c>new Activation(Activation.Relu)</c> or <c>new Activation("relu")</c>.
/// The static members are the functions that layers take as <c>activation:</c>.
/// </summary>
public sealed class Activation : Layer
{
    public static ActivationFunction Linear => ActivationFunction.Linear;
    public static ActivationFunction Relu => ActivationFunction.Relu;
    public static ActivationFunction Sigmoid => ActivationFunction.Sigmoid;
    public static ActivationFunction Tanh => ActivationFunction.Tanh;
    public static ActivationFunction Elu => ActivationFunction.Elu;
    public static ActivationFunction LeakyRelu => ActivationFunction.LeakyRelu;
    public static ActivationFunction Softmax => ActivationFunction.Softmax;
    public static ActivationFunction LogSoftmax => ActivationFunction.LogSoftmax;

    public Activation(ActivationFunction activation, string? name = null) : base(name) => Function = activation;

    public ActivationFunction Function { get; }

    public override Shape ComputeOutputShape(Shape inputShape) => inputShape;

    protected override Tensor CallCore(Tensor input, bool training) => Function.Apply(input);

    public override IReadOnlyDictionary<string, object?> GetConfig() =>
        new Dictionary<string, object?>(base.GetConfig()) { ["activation"] = Function.Name };
}
