using ConvKit.Operations;
using ConvKit.Tensors;

namespace ConvKit.Layers;

/// <summary>Global pooling removes the spatial axes: (N, …spatial…, C) → (N, C).</summary>
public abstract class GlobalPooling : Layer
{
    private readonly int spatialRank;

    private protected GlobalPooling(int spatialRank, string? name) : base(name) => this.spatialRank = spatialRank;

    protected override void ValidateInput(Shape inputShape)
    {
        if (inputShape.Rank != spatialRank + 2)
            throw new ArgumentException($"{TypeName} '{Name}' expects input of rank {spatialRank + 2}; received {inputShape}.");
    }

    public override Shape ComputeOutputShape(Shape inputShape) => new(inputShape[0], inputShape[-1]);

    private protected void CheckRank(Tensor input) => ValidateInput(input.Shape);
}

/// <summary>out[n,c] = mean over (h, w) of in[n,h,w,c]. Shape: (N, H, W, C) → (N, C).</summary>
public class GlobalAveragePooling2D(string? name = null) : GlobalPooling(2, name)
{
    public override string TypeName => "GlobalAveragePooling2D";
    protected override Tensor CallCore(Tensor input, bool training) { CheckRank(input); return Ops.GlobalAveragePool(input); }
}

/// <summary>Keras's alias of <see cref="GlobalAveragePooling2D"/>.</summary>
public sealed class GlobalAvgPool2D(string? name = null) : GlobalAveragePooling2D(name);

/// <summary>out[n,c] = max over (h, w) of in[n,h,w,c]. Shape: (N, H, W, C) → (N, C).</summary>
public class GlobalMaxPooling2D(string? name = null) : GlobalPooling(2, name)
{
    public override string TypeName => "GlobalMaxPooling2D";
    protected override Tensor CallCore(Tensor input, bool training) { CheckRank(input); return Ops.GlobalMaxPool(input); }
}

/// <summary>Keras's alias of <see cref="GlobalMaxPooling2D"/>.</summary>
public sealed class GlobalMaxPool2D(string? name = null) : GlobalMaxPooling2D(name);

/// <summary>out[n,c] = mean over steps of in[n,t,c]. Shape: (N, L, C) → (N, C).</summary>
public sealed class GlobalAveragePooling1D(string? name = null) : GlobalPooling(1, name)
{
    protected override Tensor CallCore(Tensor input, bool training) { CheckRank(input); return Ops.GlobalAveragePool(input); }
}

/// <summary>out[n,c] = max over steps of in[n,t,c]. Shape: (N, L, C) → (N, C).</summary>
public sealed class GlobalMaxPooling1D(string? name = null) : GlobalPooling(1, name)
{
    protected override Tensor CallCore(Tensor input, bool training) { CheckRank(input); return Ops.GlobalMaxPool(input); }
}
