using ConvKit.Autograd;
using ConvKit.Tensors;

namespace ConvKit.Operations;

/// <summary>y = x viewed with another shape (same values, row-major).  dx = dy viewed with x's shape.</summary>
internal sealed class ReshapeOp(Shape inputShape) : Op
{
    public override string Name => "Reshape";

    public static Tensor Forward(Tensor x, params int[] shape)
    {
        var y = x.Reshape(shape);
        GradientTape.Record(new ReshapeOp(x.Shape), [x], y);
        return y;
    }

    public override Tensor?[] Backward(Tensor dy, bool[] needs) => [dy.Reshape(inputShape.ToArray())];
}

/// <summary>y = the inputs joined along <c>axis</c>.  Each dx is its slice of dy.</summary>
internal sealed class ConcatenateOp(Shape[] shapes, int axis) : Op
{
    public override string Name => "Concatenate";

    public static Tensor Forward(IReadOnlyList<Tensor> inputs, int axis)
    {
        if (inputs.Count == 0) throw new ArgumentException("Concatenate needs at least one tensor.");
        var first = inputs[0].Shape;
        axis = first.NormalizeAxis(axis);
        int total = 0;
        foreach (var t in inputs)
        {
            if (t.Rank != first.Rank || !Enumerable.Range(0, first.Rank).All(i => i == axis || t.Shape[i] == first[i]))
                throw new ArgumentException(
                    $"Concatenate on axis {axis} needs shapes equal except on that axis; received {string.Join(", ", inputs.Select(x => x.Shape))}.");
            total += t.Shape[axis];
        }
        var y = Tensor.Zeros(first.With(axis, total));
        int outer = 1, inner = 1;
        for (int i = 0; i < axis; i++) outer *= first[i];
        for (int i = axis + 1; i < first.Rank; i++) inner *= first[i];
        int offset = 0;
        foreach (var t in inputs)
        {
            int chunk = t.Shape[axis] * inner;
            for (int o = 0; o < outer; o++)
                Array.Copy(t.Data, o * chunk, y.Data, o * total * inner + offset, chunk);
            offset += chunk;
        }
        GradientTape.Record(new ConcatenateOp(inputs.Select(t => t.Shape).ToArray(), axis), inputs.ToArray(), y);
        return y;
    }

    public override Tensor?[] Backward(Tensor dy, bool[] needs)
    {
        var grads = new Tensor?[shapes.Length];
        int start = 0;
        for (int i = 0; i < shapes.Length; i++)
        {
            if (needs[i]) grads[i] = dy.Slice(axis, start, shapes[i][axis]);
            start += shapes[i][axis];
        }
        return grads;
    }
}

/// <summary>y = x with its axes permuted: y.shape[i] = x.shape[perm[i]].  dx = dy permuted back.</summary>
internal sealed class TransposeOp(int[] permutation) : Op
{
    public override string Name => "Transpose";

    public static Tensor Forward(Tensor x, int[] permutation)
    {
        var y = Permute(x, permutation);
        GradientTape.Record(new TransposeOp(permutation), [x], y);
        return y;
    }

    public override Tensor?[] Backward(Tensor dy, bool[] needs)
    {
        var inverse = new int[permutation.Length];
        for (int i = 0; i < permutation.Length; i++) inverse[permutation[i]] = i;
        return [Permute(dy, inverse)];
    }

    internal static Tensor Permute(Tensor x, int[] permutation)
    {
        if (permutation.Length != x.Rank || permutation.Order().Where((p, i) => p != i).Any())
            throw new ArgumentException($"Transpose of {x.Shape} needs a permutation of 0..{x.Rank - 1}; received ({string.Join(", ", permutation)}).");
        var y = Tensor.Zeros(new Shape(permutation.Select(p => x.Shape[p]).ToArray()));
        var inStrides = x.Shape.Strides();
        var strides = permutation.Select(p => inStrides[p]).ToArray();
        var counter = new int[x.Rank];
        int index = 0;
        var src = x.Data;
        var dst = y.Span;
        for (int flat = 0; flat < dst.Length; flat++)
        {
            dst[flat] = src[index];
            for (int axis = x.Rank - 1; axis >= 0; axis--)
            {
                index += strides[axis];
                if (++counter[axis] < y.Shape[axis]) break;
                index -= strides[axis] * counter[axis];
                counter[axis] = 0;
            }
        }
        return y;
    }
}
