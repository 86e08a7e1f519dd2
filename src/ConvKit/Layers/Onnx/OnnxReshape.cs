using ConvKit.Operations;
using ConvKit.Tensors;

namespace ConvKit.Layers;

/// <summary>
/// Reshapes the whole tensor, batch included, as ONNX's <c>Reshape</c> does: a 0 copies the input's
/// dimension at that index (unless <see cref="AllowZero"/>, when it means an empty axis) and one −1 is inferred.
/// Example: (2, 3, 4) with shape (0, −1) → (2, 12).
/// </summary>
public sealed class OnnxReshape : Layer
{
    public OnnxReshape(int[] shape, bool allowZero = false, string? name = null) : base(name)
    {
        if (shape.Any(d => d < -1) || shape.Count(d => d == -1) > 1 || (allowZero && shape.Contains(0) && shape.Contains(-1)))
            throw new ArgumentException($"OnnxReshape: shape needs dimensions >= -1 with at most one -1 (and no -1 beside 0 when allowzero). Received shape={Describe.Tuple(shape)}.");
        TargetShape = shape;
        AllowZero = allowZero;
    }

    public int[] TargetShape { get; }
    public bool AllowZero { get; }

    /// <summary>The target with every 0 copied from <paramref name="input"/> (an unknown copied dimension stays unknown).</summary>
    private int[] Resolve(Shape input)
    {
        var dims = (int[])TargetShape.Clone();
        for (int i = 0; i < dims.Length; i++)
            if (dims[i] == 0 && !AllowZero)
            {
                if (i >= input.Rank)
                    throw new ArgumentException($"OnnxReshape '{Name}': shape {Describe.Tuple(TargetShape)} copies axis {i} of input {input}, which has no such axis.");
                dims[i] = input[i];
            }
        return dims;
    }

    /// <summary>
    /// The output shape; with an unknown batch copied by a 0, the −1 is still inferred from the known dimensions
    /// (e.g. (None, 512, 1, 1) with shape (0, −1) gives (None, 512)).
    /// </summary>
    public override Shape ComputeOutputShape(Shape inputShape)
    {
        var dims = Resolve(inputShape);
        if (inputShape.IsFullyKnown) return Tensor.ResolveReshape(inputShape, dims);
        int inferred = Array.IndexOf(dims, -1);
        int copiedUnknown = TargetShape.Where((d, i) => d == 0 && !AllowZero && dims[i] == Shape.Unknown).Count();
        var output = dims.Select((d, i) => d == Shape.Unknown && TargetShape[i] == 0 && !AllowZero ? Shape.Unknown : d).ToArray();
        if (inferred >= 0 && TargetShape[inferred] == -1)
        {
            long knownIn = inputShape.Where(d => d >= 0).Aggregate(1L, (a, b) => a * b);
            long knownOut = dims.Where((d, i) => d >= 0 && i != inferred).Aggregate(1L, (a, b) => a * b);
            bool unknownsCarried = copiedUnknown == inputShape.Count(d => d == Shape.Unknown);
            output[inferred] = unknownsCarried && knownOut > 0 && knownIn % knownOut == 0 ? (int)(knownIn / knownOut) : Shape.Unknown;
        }
        return new Shape(output);
    }

    protected override Tensor CallCore(Tensor input, bool training) => Ops.Reshape(input, Resolve(input.Shape));

    public override IReadOnlyDictionary<string, object?> GetConfig() => new Dictionary<string, object?>(base.GetConfig())
    {
        ["shape"] = TargetShape,
        ["allowzero"] = AllowZero,
    };
}
