using ConvKit.Kernels;
using ConvKit.Operations;
using ConvKit.Tensors;

namespace ConvKit.Layers;

/// <summary>
/// What the 2-D pooling layers share: pool size, strides (default: the pool size), padding, and the
/// output-shape rule of convolutions with dilation 1: valid <c>⌊(n − k)/s⌋ + 1</c>, same <c>⌈n/s⌉</c>.
/// </summary>
public abstract class Pooling2D : Layer
{
    private protected Pooling2D(Size2 poolSize, Size2? strides, Padding padding, string? name) : base(name)
    {
        var s = strides ?? poolSize;
        if (poolSize.Height <= 0 || poolSize.Width <= 0)
            throw new ArgumentException($"{TypeName}: the `pool_size` argument must be positive. Received pool_size={poolSize}.");
        if (s.Height <= 0 || s.Width <= 0)
            throw new ArgumentException($"{TypeName}: the `strides` argument must be positive. Received strides={s}.");
        if (padding == Padding.Causal) throw new ArgumentException($"{TypeName}: padding must be valid or same.");
        PoolSize = poolSize;
        Strides = s;
        Padding = padding;
    }

    public Size2 PoolSize { get; }
    public Size2 Strides { get; }
    public Padding Padding { get; }

    protected override void ValidateInput(Shape inputShape)
    {
        if (inputShape.Rank != 4)
            throw new ArgumentException($"{TypeName} '{Name}' expects input of rank 4 (batch, height, width, channels); received {inputShape}.");
        var output = ComputeOutputShape(inputShape);
        if ((inputShape[1] != Shape.Unknown && output[1] <= 0) || (inputShape[2] != Shape.Unknown && output[2] <= 0))
            throw new ArgumentException($"{TypeName} '{Name}': pool_size={PoolSize} does not fit input {inputShape} with padding={Padding.ToString().ToLowerInvariant()}.");
    }

    public override Shape ComputeOutputShape(Shape inputShape) => new(
        inputShape[0],
        ConvArithmetic.OutputLength(Padding, inputShape[1], PoolSize.Height, Strides.Height, 1),
        ConvArithmetic.OutputLength(Padding, inputShape[2], PoolSize.Width, Strides.Width, 1),
        inputShape[3]);

    private protected void CheckRank(Tensor input)
    {
        if (input.Rank != 4)
            throw new ArgumentException($"{TypeName} '{Name}' expects input of rank 4 (batch, height, width, channels); received {input.Shape}.");
    }

    public override IReadOnlyDictionary<string, object?> GetConfig() => new Dictionary<string, object?>(base.GetConfig())
    {
        ["pool_size"] = new[] { PoolSize.Height, PoolSize.Width },
        ["strides"] = new[] { Strides.Height, Strides.Width },
        ["padding"] = Padding.ToString().ToLowerInvariant(),
    };
}

/// <summary>
/// Max pooling: out[n,p,q,c] = max over the window of in[n,·,·,c]; with <c>same</c> padding the padded cells are −∞.
/// Shape: (N, H, W, C) → (N, P, Q, C). Example: pool 2, stride 2 on (1, 1916, 1076, 16) gives (1, 958, 538, 16).
/// </summary>
public class MaxPooling2D(Size2? poolSize = null, Size2? strides = null, Padding padding = Padding.Valid, string? name = null)
    : Pooling2D(poolSize ?? 2, strides, padding, name)
{
    public override string TypeName => "MaxPooling2D";

    protected override Tensor CallCore(Tensor input, bool training)
    {
        CheckRank(input);
        return Ops.MaxPool2D(input, PoolSize.ToTuple(), Strides.ToTuple(), Padding);
    }
}

/// <summary>Keras's alias of <see cref="MaxPooling2D"/>.</summary>
public sealed class MaxPool2D(Size2? poolSize = null, Size2? strides = null, Padding padding = Padding.Valid, string? name = null)
    : MaxPooling2D(poolSize, strides, padding, name);

/// <summary>
/// Average pooling: out[n,p,q,c] = mean of the window's cells that lie inside the input (with <c>same</c>
/// padding the divisor counts only real cells, as Keras does). Shape: (N, H, W, C) → (N, P, Q, C).
/// </summary>
public class AveragePooling2D(Size2? poolSize = null, Size2? strides = null, Padding padding = Padding.Valid, string? name = null)
    : Pooling2D(poolSize ?? 2, strides, padding, name)
{
    public override string TypeName => "AveragePooling2D";

    protected override Tensor CallCore(Tensor input, bool training)
    {
        CheckRank(input);
        return Ops.AveragePool2D(input, PoolSize.ToTuple(), Strides.ToTuple(), Padding);
    }
}

/// <summary>Keras's alias of <see cref="AveragePooling2D"/>.</summary>
public sealed class AvgPool2D(Size2? poolSize = null, Size2? strides = null, Padding padding = Padding.Valid, string? name = null)
    : AveragePooling2D(poolSize, strides, padding, name);
