using ConvKit.Operations;
using ConvKit.Tensors;

namespace ConvKit.Layers;

/// <summary>Flattens every axis but the batch: (N, d1, d2, …) → (N, d1·d2·…).</summary>
public sealed class Flatten(string? name = null) : Layer(name)
{
    public override Shape ComputeOutputShape(Shape inputShape)
    {
        var rest = inputShape.Skip(1).ToArray();
        int size = rest.Any(d => d == Shape.Unknown) ? Shape.Unknown : rest.Aggregate(1, (a, b) => checked(a * b));
        return new Shape(inputShape[0], size);
    }

    protected override void ValidateInput(Shape inputShape)
    {
        if (inputShape.Rank < 1) throw new ArgumentException($"Flatten '{Name}' needs a batch axis; received {inputShape}.");
    }

    protected override Tensor CallCore(Tensor input, bool training) => Ops.Flatten(input);
}

/// <summary>Reshapes every axis but the batch to <c>targetShape</c> (one entry may be -1).</summary>
public sealed class Reshape : Layer
{
    public Reshape(int[] targetShape, string? name = null) : base(name) => TargetShape = targetShape;

    public int[] TargetShape { get; }

    public override Shape ComputeOutputShape(Shape inputShape)
    {
        var rest = new Shape(inputShape.Skip(1).ToArray());
        var resolved = rest.IsFullyKnown ? Tensor.ResolveReshape(rest, TargetShape) : new Shape(TargetShape.Select(d => d == -1 ? Shape.Unknown : d).ToArray());
        return resolved.Prepend(inputShape[0]);
    }

    protected override Tensor CallCore(Tensor input, bool training) => Ops.Reshape(input, [input.Shape[0], .. TargetShape]);

    public override IReadOnlyDictionary<string, object?> GetConfig() =>
        new Dictionary<string, object?>(base.GetConfig()) { ["target_shape"] = TargetShape };
}
