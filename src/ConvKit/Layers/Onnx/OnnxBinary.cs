using ConvKit.Operations;
using ConvKit.Tensors;

namespace ConvKit.Layers;

/// <summary>The elementwise operation of an <see cref="OnnxBinary"/> layer.</summary>
public enum BinaryOperation { Add, Sub, Mul, Div, Max, Min }

/// <summary>
/// ONNX's <c>Add</c>, <c>Sub</c>, <c>Mul</c>, <c>Div</c> and two-operand <c>Max</c>, <c>Min</c> with NumPy broadcasting:
/// out = a ∘ b (max and min send the gradient to the winning operand, to a on ties). Either both operands
/// are inputs, or one is an input and the other a constant held as a non-trainable weight (<c>constant</c>),
/// on the left when <see cref="ConstantFirst"/>. Shape: the broadcast of the two shapes.
/// </summary>
public sealed class OnnxBinary : Merge
{
    public OnnxBinary(BinaryOperation operation, int[]? constantShape = null, bool constantFirst = false, string? name = null) : base(name)
    {
        Operation = operation;
        ConstantFirst = constantFirst;
        if (constantShape is not null)
        {
            ConstantShape = constantShape;
            Constant = AddWeight("constant", new Shape(constantShape), Initializer.Zeros, trainable: false);
        }
    }

    public BinaryOperation Operation { get; }
    public bool ConstantFirst { get; }
    public int[]? ConstantShape { get; }

    /// <summary>The constant operand, when the layer has one input.</summary>
    public Variable? Constant { get; }

    private int InputCount => Constant is null ? 2 : 1;

    private IReadOnlyList<Shape> Operands(IReadOnlyList<Shape> inputs) =>
        Constant is null ? inputs : ConstantFirst ? [Constant.Shape, inputs[0]] : [inputs[0], Constant.Shape];

    internal override Shape ComputeOutputShape(IReadOnlyList<Shape> inputShapes)
    {
        var (a, b) = (Operands(inputShapes)[0], Operands(inputShapes)[1]);
        int rank = Math.Max(a.Rank, b.Rank);
        var dims = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i < rank - a.Rank ? 1 : a[i - (rank - a.Rank)];
            int db = i < rank - b.Rank ? 1 : b[i - (rank - b.Rank)];
            dims[i] = da == 1 ? db : db == 1 ? da : da == Shape.Unknown ? db : da;
        }
        return new Shape(dims);
    }

    private protected override void Validate(IReadOnlyList<Shape> shapes)
    {
        bool ok = shapes.Count == InputCount;
        if (ok)
        {
            var (a, b) = (Operands(shapes)[0], Operands(shapes)[1]);
            int rank = Math.Max(a.Rank, b.Rank);
            for (int i = 0; i < rank && ok; i++)
            {
                int da = i < rank - a.Rank ? 1 : a[i - (rank - a.Rank)];
                int db = i < rank - b.Rank ? 1 : b[i - (rank - b.Rank)];
                ok = da == db || da == 1 || db == 1 || da == Shape.Unknown || db == Shape.Unknown;
            }
        }
        if (!ok)
            throw new ArgumentException($"OnnxBinary '{Name}' ({Operation}) needs {InputCount} input(s) that broadcast{(Constant is null ? "" : $" with its constant {Constant.Shape}")}; received {string.Join(", ", shapes)}.");
    }

    private protected override Tensor Combine(IReadOnlyList<Tensor> inputs)
    {
        var (a, b) = Constant is null ? (inputs[0], inputs[1]) : ConstantFirst ? (Constant.Value, inputs[0]) : (inputs[0], Constant.Value);
        return Operation switch
        {
            BinaryOperation.Add => Ops.Add(a, b),
            BinaryOperation.Sub => Ops.Subtract(a, b),
            BinaryOperation.Mul => Ops.Multiply(a, b),
            BinaryOperation.Div => Ops.Divide(a, b),
            BinaryOperation.Max => Ops.Maximum(a, b),
            BinaryOperation.Min => Ops.Minimum(a, b),
            _ => throw new InvalidOperationException($"Unknown operation {Operation}."),
        };
    }

    public override IReadOnlyDictionary<string, object?> GetConfig() => new Dictionary<string, object?>(base.GetConfig())
    {
        ["operation"] = Operation.ToString().ToLowerInvariant(),
        ["constant_shape"] = ConstantShape,
        ["constant_first"] = ConstantFirst,
    };
}

/// <summary>
/// Matrix product of two inputs, a (…, M, K) · b (K, N) → (…, M, N) (ONNX's <c>MatMul</c> when both operands are
/// computed; a constant b becomes a <see cref="Dense"/> layer instead). da = dz · bᵀ, db = aᵀ · dz.
/// </summary>
public sealed class OnnxMatMul(string? name = null) : Merge(name)
{
    internal override Shape ComputeOutputShape(IReadOnlyList<Shape> inputShapes) => inputShapes[0].With(-1, inputShapes[1][1]);

    private protected override void Validate(IReadOnlyList<Shape> shapes)
    {
        if (shapes.Count != 2 || shapes[1].Rank != 2 || shapes[0].Rank < 1
            || (shapes[0][-1] != shapes[1][0] && shapes[0][-1] != Shape.Unknown && shapes[1][0] != Shape.Unknown))
            throw new ArgumentException($"OnnxMatMul '{Name}' needs a (…, K) and b (K, N); received {string.Join(", ", shapes)}.");
    }

    private protected override Tensor Combine(IReadOnlyList<Tensor> inputs) => Ops.MatMul(inputs[0], inputs[1]);
}
