using ConvKit.Operations;
using ConvKit.Tensors;

namespace ConvKit.Layers;

/// <summary>A layer that joins several inputs into one (residual connections, branches).</summary>
public abstract class Merge(string? name) : Layer(name)
{
    /// <summary>Runs the layer on its input batches.</summary>
    public Tensor Call(IReadOnlyList<Tensor> inputs, bool training = false)
    {
        if (!Built) BuildFor(inputs.Select(t => t.Shape.WithBatch(Shape.Unknown)).ToList());
        Validate(inputs.Select(t => t.Shape).ToList());
        return Combine(inputs);
    }

    /// <summary>Wires the layer into a functional model.</summary>
    public SymbolicTensor Call(params SymbolicTensor[] inputs)
    {
        var shapes = inputs.Select(t => t.Shape).ToList();
        if (!Built) BuildFor(shapes);
        var output = new SymbolicTensor(ComputeOutputShape(shapes), this, inputs);
        Output ??= output;
        return output;
    }

    private void BuildFor(IReadOnlyList<Shape> shapes)
    {
        Validate(shapes);
        Built = true;
    }

    private protected abstract void Validate(IReadOnlyList<Shape> shapes);
    private protected abstract Tensor Combine(IReadOnlyList<Tensor> inputs);

    internal override Tensor Invoke(IReadOnlyList<Tensor> inputs, bool training) => Call(inputs, training);

    public override Shape ComputeOutputShape(Shape inputShape) =>
        throw new InvalidOperationException($"{TypeName} '{Name}' takes a list of inputs.");

    protected override Tensor CallCore(Tensor input, bool training) =>
        throw new InvalidOperationException($"{TypeName} '{Name}' takes a list of inputs; call it with several tensors.");
}

/// <summary>Adds its inputs elementwise; they must have the same shape. Shape unchanged.</summary>
public sealed class Add(string? name = null) : Merge(name)
{
    internal override Shape ComputeOutputShape(IReadOnlyList<Shape> inputShapes) => inputShapes[0];

    private protected override void Validate(IReadOnlyList<Shape> shapes)
    {
        if (shapes.Count < 2 || shapes.Any(s => !s.IsCompatibleWith(shapes[0])))
            throw new ArgumentException($"Add '{Name}' needs two or more inputs of the same shape; received {string.Join(", ", shapes)}.");
    }

    private protected override Tensor Combine(IReadOnlyList<Tensor> inputs)
    {
        var sum = inputs[0];
        for (int i = 1; i < inputs.Count; i++) sum = Ops.Add(sum, inputs[i]);
        return sum;
    }
}

/// <summary>Joins its inputs along <c>axis</c> (default the channels); the other axes must agree.</summary>
public sealed class Concatenate(int axis = -1, string? name = null) : Merge(name)
{
    public int Axis { get; } = axis;

    internal override Shape ComputeOutputShape(IReadOnlyList<Shape> inputShapes)
    {
        var first = inputShapes[0];
        int a = first.NormalizeAxis(Axis);
        int total = inputShapes.Any(s => s[a] == Shape.Unknown) ? Shape.Unknown : inputShapes.Sum(s => s[a]);
        return first.With(a, total);
    }

    private protected override void Validate(IReadOnlyList<Shape> shapes)
    {
        bool ok = shapes.Count >= 2 && shapes.All(s => s.Rank == shapes[0].Rank);
        if (ok)
        {
            int a = shapes[0].NormalizeAxis(Axis);
            ok = shapes.All(s => s.With(a, 0).IsCompatibleWith(shapes[0].With(a, 0)));
        }
        if (!ok)
            throw new ArgumentException($"Concatenate '{Name}' needs two or more inputs that match except on axis {Axis}; received {string.Join(", ", shapes)}.");
    }

    private protected override Tensor Combine(IReadOnlyList<Tensor> inputs) => Ops.Concatenate(inputs, Axis);

    public override IReadOnlyDictionary<string, object?> GetConfig() =>
        new Dictionary<string, object?>(base.GetConfig()) { ["axis"] = Axis };
}
