using ConvKit.Tensors;

namespace ConvKit.Operations;

/// <summary>NumPy broadcasting: shapes are aligned at their last axis; a dimension of 1 stretches to match.</summary>
internal static class Broadcast
{
    public static Shape ResultShape(Shape a, Shape b, string opName)
    {
        int rank = Math.Max(a.Rank, b.Rank);
        var dims = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i < rank - a.Rank ? 1 : a[i - (rank - a.Rank)];
            int db = i < rank - b.Rank ? 1 : b[i - (rank - b.Rank)];
            if (da != db && da != 1 && db != 1)
                throw new ArgumentException($"{opName}: shapes {a} and {b} cannot be broadcast together.");
            dims[i] = da == 1 ? db : da;
        }
        return new Shape(dims);
    }

    /// <summary>For each element of <paramref name="result"/>, the index of the element of <paramref name="source"/> it reads.</summary>
    public static int[] SourceIndices(Shape source, Shape result)
    {
        int rank = result.Rank, offset = rank - source.Rank;
        var strides = new int[rank];
        int stride = 1;
        for (int i = rank - 1; i >= offset; i--)
        {
            strides[i] = source[i - offset] == 1 ? 0 : stride;
            stride *= source[i - offset];
        }
        var indices = new int[result.Size];
        var counter = new int[rank];
        int index = 0;
        for (int flat = 0; flat < indices.Length; flat++)
        {
            indices[flat] = index;
            for (int axis = rank - 1; axis >= 0; axis--)
            {
                index += strides[axis];
                if (++counter[axis] < result[axis]) break;
                index -= strides[axis] * counter[axis];
                counter[axis] = 0;
            }
        }
        return indices;
    }

    /// <summary>Sums a gradient of the broadcast shape back down to <paramref name="shape"/>.</summary>
    public static Tensor ReduceTo(Tensor grad, Shape shape)
    {
        if (grad.Shape == shape) return grad;
        var result = Tensor.Zeros(shape);
        var indices = SourceIndices(shape, grad.Shape);
        var g = grad.Span;
        var r = result.Span;
        for (int i = 0; i < indices.Length; i++) r[indices[i]] += g[i];
        return result;
    }
}
