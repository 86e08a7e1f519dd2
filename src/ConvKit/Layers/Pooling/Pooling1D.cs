using ConvKit.Kernels;
using ConvKit.Operations;
using ConvKit.Tensors;

namespace ConvKit.Layers;

/// <summary>
/// 1-D pooling over (batch, steps, channels): the 2-D pool with a window of height 1.
/// Shape: (N, L, C) → (N, L', C) with valid L' = ⌊(L − k)/s⌋ + 1, same L' = ⌈L/s⌉.
/// </summary>
public abstract class Pooling1D : Layer
{
    private readonly bool max;

    private protected Pooling1D(bool max, int poolSize, int? strides, Padding padding, string? name) : base(name)
    {
        if (poolSize <= 0 || strides <= 0)
            throw new ArgumentException($"{TypeName}: pool_size and strides must be positive. Received pool_size={poolSize}, strides={strides}.");
        if (padding == Padding.Causal) throw new ArgumentException($"{TypeName}: padding must be valid or same.");
        this.max = max;
        PoolSize = poolSize;
        Strides = strides ?? poolSize;
        Padding = padding;
    }

    public int PoolSize { get; }
    public int Strides { get; }
    public Padding Padding { get; }

    protected override void ValidateInput(Shape inputShape)
    {
        if (inputShape.Rank != 3)
            throw new ArgumentException($"{TypeName} '{Name}' expects input of rank 3 (batch, steps, channels); received {inputShape}.");
        if (inputShape[1] != Shape.Unknown && ComputeOutputShape(inputShape)[1] <= 0)
            throw new ArgumentException($"{TypeName} '{Name}': pool_size={PoolSize} does not fit input {inputShape}.");
    }

    public override Shape ComputeOutputShape(Shape inputShape) =>
        new(inputShape[0], ConvArithmetic.OutputLength(Padding, inputShape[1], PoolSize, Strides, 1), inputShape[2]);

    protected override Tensor CallCore(Tensor input, bool training)
    {
        ValidateInput(input.Shape);
        var image = Ops.Reshape(input, input.Shape[0], 1, input.Shape[1], input.Shape[2]);
        var pooled = max
            ? Ops.MaxPool2D(image, (1, PoolSize), (1, Strides), Padding)
            : Ops.AveragePool2D(image, (1, PoolSize), (1, Strides), Padding);
        return Ops.Reshape(pooled, pooled.Shape[0], pooled.Shape[2], pooled.Shape[3]);
    }

    public override IReadOnlyDictionary<string, object?> GetConfig() => new Dictionary<string, object?>(base.GetConfig())
    {
        ["pool_size"] = PoolSize,
        ["strides"] = Strides,
        ["padding"] = Padding.ToString().ToLowerInvariant(),
    };
}

/// <summary>Max pooling over steps: out[n,t,c] = max of in[n, t·s − pad … t·s − pad + k − 1, c].</summary>
public sealed class MaxPooling1D(int poolSize = 2, int? strides = null, Padding padding = Padding.Valid, string? name = null)
    : Pooling1D(true, poolSize, strides, padding, name);

/// <summary>Average pooling over steps: the mean of the window's cells inside the input.</summary>
public sealed class AveragePooling1D(int poolSize = 2, int? strides = null, Padding padding = Padding.Valid, string? name = null)
    : Pooling1D(false, poolSize, strides, padding, name);
