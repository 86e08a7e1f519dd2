using System.Collections;
using System.Globalization;

namespace ConvKit.Tensors;

/// <summary>
/// The dimensions of a tensor, outermost first: images are <c>(batch, height, width, channels)</c>.
/// A dimension of <see cref="Unknown"/> (printed <c>None</c>, as in Keras) stands for a size that is
/// not known before the data arrives, such as the batch of a model's input.
/// </summary>
/// <example><c>new Shape(1, 1916, 1076, 16).ToString() == "(1, 1916, 1076, 16)"</c></example>
public readonly struct Shape : IEquatable<Shape>, IReadOnlyList<int>
{
    /// <summary>The size of a dimension that is not known yet (Keras's <c>None</c>).</summary>
    public const int Unknown = -1;

    private readonly int[]? dims;

    public Shape(params int[] dimensions)
    {
        ArgumentNullException.ThrowIfNull(dimensions);
        foreach (int d in dimensions)
        {
            if (d < 0 && d != Unknown)
                throw new ArgumentException($"Shape dimensions must be >= 0 (or Unknown); received {Format(dimensions)}.");
        }
        dims = (int[])dimensions.Clone();
    }

    public Shape(IEnumerable<int> dimensions) : this(dimensions.ToArray()) { }

    public int Rank => dims?.Length ?? 0;
    public int Count => Rank;
    public int this[int axis] => Dims[axis < 0 ? axis + Rank : axis];
    public ReadOnlySpan<int> Span => Dims;
    private int[] Dims => dims ?? [];

    /// <summary>True when every dimension is known.</summary>
    public bool IsFullyKnown => Array.TrueForAll(Dims, d => d != Unknown);

    /// <summary>The number of elements as a 64-bit count (unknown dimensions are not allowed).</summary>
    public long LongSize
    {
        get
        {
            long size = 1;
            foreach (int d in Dims)
            {
                if (d == Unknown) throw new InvalidOperationException($"Shape {this} has an unknown dimension and no size.");
                size = checked(size * d);
            }
            return size;
        }
    }

    /// <summary>The number of elements. A tensor lives in one .NET array, so this is at most <see cref="Array.MaxLength"/>.</summary>
    public int Size
    {
        get
        {
            long size = LongSize;
            if (size > Array.MaxLength)
                throw new ArgumentException(
                    $"Shape {this} has {size.ToString("N0", CultureInfo.InvariantCulture)} elements; a ConvKit tensor holds at most " +
                    $"{Array.MaxLength.ToString("N0", CultureInfo.InvariantCulture)} (one .NET array, just under 2^31).");
            return (int)size;
        }
    }

    /// <summary>Converts a negative axis (counted from the end) to its position.</summary>
    public int NormalizeAxis(int axis)
    {
        int a = axis < 0 ? axis + Rank : axis;
        if (a < 0 || a >= Rank) throw new ArgumentOutOfRangeException(nameof(axis), $"Axis {axis} is out of range for shape {this} (rank {Rank}).");
        return a;
    }

    /// <summary>Row-major strides in elements: the last axis has stride 1.</summary>
    public int[] Strides()
    {
        var strides = new int[Rank];
        int s = 1;
        for (int i = Rank - 1; i >= 0; i--) { strides[i] = s; s *= Dims[i]; }
        return strides;
    }

    public int[] ToArray() => (int[])Dims.Clone();

    /// <summary>The same shape with dimension <paramref name="axis"/> replaced.</summary>
    public Shape With(int axis, int size)
    {
        var d = ToArray();
        d[NormalizeAxis(axis)] = size;
        return new Shape(d);
    }

    /// <summary>This shape with the batch (first) dimension replaced by <paramref name="batch"/>.</summary>
    public Shape WithBatch(int batch) => With(0, batch);

    /// <summary>A shape with <paramref name="batch"/> in front of these dimensions.</summary>
    public Shape Prepend(int batch) => new([batch, .. Dims]);

    /// <summary>True when the shapes agree on every dimension that both know.</summary>
    public bool IsCompatibleWith(Shape other)
    {
        if (Rank != other.Rank) return false;
        for (int i = 0; i < Rank; i++)
            if (this[i] != Unknown && other[i] != Unknown && this[i] != other[i]) return false;
        return true;
    }

    public bool Equals(Shape other) => Dims.AsSpan().SequenceEqual(other.Dims);
    public override bool Equals(object? obj) => obj is Shape s && Equals(s);
    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (int d in Dims) hash.Add(d);
        return hash.ToHashCode();
    }
    public static bool operator ==(Shape a, Shape b) => a.Equals(b);
    public static bool operator !=(Shape a, Shape b) => !a.Equals(b);

    public IEnumerator<int> GetEnumerator() => ((IEnumerable<int>)Dims).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Python tuple notation: <c>(1, 28, 28, 1)</c>, <c>(5,)</c>, <c>()</c>; unknown sizes print as <c>None</c>.</summary>
    public override string ToString() => Format(Dims);

    private static string Format(int[] d)
    {
        static string One(int x) => x == Unknown ? "None" : x.ToString(CultureInfo.InvariantCulture);
        return d.Length == 1 ? $"({One(d[0])},)" : "(" + string.Join(", ", d.Select(One)) + ")";
    }

    public static implicit operator Shape(int[] dimensions) => new(dimensions);
}
