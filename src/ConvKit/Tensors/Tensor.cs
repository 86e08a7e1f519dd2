using System.Globalization;
using System.Text;

namespace ConvKit.Tensors;

/// <summary>
/// An n-dimensional array of float32 values, contiguous and row-major (the last axis varies fastest).
/// Images are channels-last: <c>(batch, height, width, channels)</c>, as in Keras and TensorFlow.
/// </summary>
/// <remarks>
/// Values are reachable without copying through <see cref="Span"/> and by copy through <see cref="ToArray"/>.
/// <see cref="Reshape"/> returns a tensor that shares this one's storage.
/// <para>
/// <see cref="Dispose"/> is optional: it hands large storage back to <see cref="TensorMemory"/> for the next tensor of
/// the same size, once every tensor sharing it is disposed. A disposed tensor throws <see cref="ObjectDisposedException"/>.
/// </para>
/// </remarks>
public sealed class Tensor : IDisposable
{
    private static long created;

    private float[]? data;

    /// <summary>Shared by the tensors over one rented array (a tensor and its reshaped views); null for other storage.</summary>
    private readonly RentedStorage? rented;

    /// <summary>Shared by a tensor and its reshaped views: the storage's identity and write count, for packed copies of weights.</summary>
    private readonly StorageState state;

    /// <summary>Wraps <paramref name="storage"/> (not copied); its length must equal the shape's size.</summary>
    internal Tensor(Shape shape, float[] storage) : this(shape, storage, null, new StorageState()) { }

    private Tensor(Shape shape, float[] storage, RentedStorage? rented, StorageState state)
    {
        if (!shape.IsFullyKnown) throw new ArgumentException($"A tensor needs every dimension known; received shape {shape}.");
        if (storage.Length != shape.Size)
            throw new ArgumentException($"Shape {shape} needs {shape.Size} values; received {storage.Length}.");
        Shape = shape;
        data = storage;
        this.rented = rented;
        this.state = state;
        Sequence = Interlocked.Increment(ref created);
    }

    public Shape Shape { get; }
    public int Rank => Shape.Rank;
    public int Size => Shape.Size;

    /// <summary>The values in row-major order, without a copy; writes through it change the tensor.</summary>
    /// <remarks>
    /// Inference keeps the weights of layers packed for the GEMM while they stay unchanged. Taking this span counts as a
    /// write, so the next inference packs them again; a span taken before a model call and written after it is not seen
    /// by copies packed during that call, so take the span again after running the model, or write through
    /// <see cref="Layers.Variable.Assign"/>.
    /// </remarks>
    public Span<float> Span
    {
        get
        {
            var values = Data;
            if (state.HoldsWeights) Interlocked.Increment(ref state.Version);
            return values;
        }
    }

    /// <summary>The backing array (exactly <see cref="Size"/> long); for kernels that take arrays.</summary>
    internal float[] Data => data ?? throw Disposed();

    private ObjectDisposedException Disposed() => new(nameof(Tensor), $"This tensor of shape {Shape} has been disposed.");

    /// <summary>Order of creation in this process: code that disposes the tensors it made compares this with a mark taken before.</summary>
    internal long Sequence { get; }

    /// <summary>The <see cref="Sequence"/> the next tensor created will have at least.</summary>
    internal static long NextSequence => Interlocked.Read(ref created) + 1;

    /// <summary>True once <see cref="Dispose"/> has run.</summary>
    public bool IsDisposed => data is null;

    /// <summary>
    /// Releases the storage: large storage goes back to <see cref="TensorMemory"/> once no other tensor (a reshaped view)
    /// shares it. Using the tensor afterwards throws <see cref="ObjectDisposedException"/>. Calling it twice does nothing.
    /// </summary>
    public void Dispose()
    {
        var array = Interlocked.Exchange(ref data, null);
        if (array is null || rented is null) return;
        if (Interlocked.Decrement(ref rented.Owners) == 0) TensorMemory.Return(array);
    }

    /// <summary>
    /// What packed copies of a weight tensor key on (<see cref="Kernels.PackedWeights"/>): one per storage, shared by its
    /// views, with a count of the writable views handed out once the storage holds a layer's weights.
    /// </summary>
    internal sealed class StorageState
    {
        public int Version;
        public volatile bool HoldsWeights;
    }

    /// <summary>This tensor's storage, for caches of values derived from it.</summary>
    internal StorageState Storage => state;

    /// <summary>Marks the storage as a layer's weights: from now on writable views count as writes (<see cref="Span"/>).</summary>
    internal void MarkAsWeights()
    {
        state.HoldsWeights = true;
        Interlocked.Increment(ref state.Version);
    }

    private sealed class RentedStorage
    {
        public int Owners = 1;

        /// <summary>Counts one more tensor over the storage, unless the last one has already handed it back.</summary>
        public bool TryAddOwner()
        {
            for (int owners = Volatile.Read(ref Owners); owners > 0; owners = Volatile.Read(ref Owners))
                if (Interlocked.CompareExchange(ref Owners, owners + 1, owners) == owners) return true;
            return false;
        }
    }

    /// <summary>True when <paramref name="other"/> reads or writes the same array as this tensor.</summary>
    internal bool SharesStorageWith(Tensor other) => data is not null && ReferenceEquals(data, other.data);

    /// <summary>Set when this tensor is the value of a trainable variable, so gradient tapes watch it without being told.</summary>
    internal bool IsTrainableVariable { get; set; }

    // ---- creation -------------------------------------------------------------------------

    public static Tensor Zeros(params int[] shape) => Zeros(new Shape(shape));

    public static Tensor Zeros(Shape shape)
    {
        if (!shape.IsFullyKnown || shape.Size < TensorMemory.MinimumPooledLength) return new(shape, new float[shape.Size]);
        var t = Uninitialized(shape);
        t.data.AsSpan().Clear();
        return t;
    }

    /// <summary>
    /// A tensor whose storage is not zeroed first, for op outputs that a kernel overwrites in full: large storage
    /// comes from <see cref="TensorMemory"/> (reused, with stale values) or is a fresh array that skips the clearing pass.
    /// </summary>
    internal static Tensor Uninitialized(Shape shape)
    {
        if (!shape.IsFullyKnown || shape.Size < TensorMemory.MinimumPooledLength)
            return new(shape, GC.AllocateUninitializedArray<float>(shape.Size));
        return new(shape, TensorMemory.Rent(shape.Size), new RentedStorage(), new StorageState());
    }
    public static Tensor Ones(params int[] shape) => Full(new Shape(shape), 1f);
    public static Tensor Ones(Shape shape) => Full(shape, 1f);

    public static Tensor Full(Shape shape, float value)
    {
        var t = Zeros(shape);
        t.Span.Fill(value);
        return t;
    }

    /// <summary>A scalar (rank 0) tensor.</summary>
    public static Tensor Scalar(float value) => new(new Shape(), [value]);

    /// <summary>Copies <paramref name="values"/> (row-major) into a new tensor of <paramref name="shape"/>;
    /// with no shape, a vector.</summary>
    public static Tensor FromArray(float[] values, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(values);
        var s = shape.Length == 0 ? new Shape(values.Length) : new Shape(shape);
        if (s.Size != values.Length)
            throw new ArgumentException($"Shape {s} needs {s.Size} values; received {values.Length}.");
        return new Tensor(s, (float[])values.Clone());
    }

    /// <summary>A tensor of values drawn from N(mean, stddev²), reproducible for a given seed.</summary>
    public static Tensor RandomNormal(Shape shape, float mean = 0f, float stddev = 1f, int seed = 0)
    {
        var t = Zeros(shape);
        new RandomSource(seed).FillNormal(t.Span, mean, stddev);
        return t;
    }

    /// <summary>A tensor of values drawn uniformly from [min, max), reproducible for a given seed.</summary>
    public static Tensor RandomUniform(Shape shape, float min = 0f, float max = 1f, int seed = 0)
    {
        var t = Zeros(shape);
        new RandomSource(seed).FillUniform(t.Span, min, max);
        return t;
    }

    // ---- reading and writing --------------------------------------------------------------

    /// <summary>The element at a full index, one entry per axis; negative indices count from the end.</summary>
    [System.Runtime.CompilerServices.IndexerName("Element")]
    public float this[params int[] index]
    {
        get => Data[Offset(index)];
        set
        {
            Data[Offset(index)] = value;
            if (state.HoldsWeights) Interlocked.Increment(ref state.Version);
        }
    }

    private int Offset(int[] index)
    {
        if (index.Length != Rank)
            throw new ArgumentException($"Index of {index.Length} entries for a tensor of shape {Shape} (rank {Rank}).");
        int offset = 0, stride = 1;
        for (int axis = Rank - 1; axis >= 0; axis--)
        {
            int n = Shape[axis], i = index[axis] < 0 ? index[axis] + n : index[axis];
            if ((uint)i >= (uint)n)
                throw new IndexOutOfRangeException($"Index {index[axis]} is out of range for axis {axis} of shape {Shape}.");
            offset += i * stride;
            stride *= n;
        }
        return offset;
    }

    public float[] ToArray() => (float[])Data.Clone();

    /// <summary>The single value of a one-element tensor.</summary>
    public float Item() => Size == 1 ? Data[0] : throw new InvalidOperationException($"Item() needs a one-element tensor; shape is {Shape}.");

    public Tensor Clone() => new(Shape, ToArray());

    /// <summary>The same values under another shape (storage shared). One dimension may be -1 and is inferred.</summary>
    public Tensor Reshape(params int[] shape)
    {
        var resolved = ResolveReshape(Shape, shape);
        var array = Data;
        if (rented is not null && !rented.TryAddOwner()) throw Disposed();
        return new(resolved, array, rented, state);
    }

    internal static Shape ResolveReshape(Shape from, int[] to)
    {
        int inferred = Array.IndexOf(to, -1);
        if (inferred >= 0 && Array.LastIndexOf(to, -1) != inferred)
            throw new ArgumentException($"Reshape {new Shape(from.ToArray())} to {Describe(to)}: at most one dimension may be -1.");
        long known = 1;
        foreach (int d in to)
        {
            if (d < -1) throw new ArgumentException($"Reshape to {Describe(to)}: dimensions must be >= -1.");
            if (d != -1) known *= d;
        }
        var result = (int[])to.Clone();
        long size = from.LongSize;
        if (inferred >= 0)
        {
            if (known == 0 || size % known != 0)
                throw new ArgumentException($"Cannot reshape {from} ({size} values) to {Describe(to)}.");
            result[inferred] = (int)(size / known);
        }
        else if (known != size)
            throw new ArgumentException($"Cannot reshape {from} ({size} values) to {Describe(to)} ({known} values).");
        return new Shape(result);
    }

    private static string Describe(int[] dims) => dims.Length == 1 ? $"({dims[0]},)" : "(" + string.Join(", ", dims) + ")";

    /// <summary>A copy of items <c>[start, start + length)</c> along <paramref name="axis"/>.</summary>
    /// <example><c>images.Slice(0, 100, 50)</c> takes images 100..149 of a batch.</example>
    public Tensor Slice(int axis, int start, int length)
    {
        axis = Shape.NormalizeAxis(axis);
        int n = Shape[axis];
        if (start < 0 || length < 0 || start + length > n)
            throw new ArgumentOutOfRangeException(nameof(start), $"Slice [{start}, {start + length}) is outside axis {axis} of shape {Shape}.");
        int outer = 1, inner = 1;
        for (int i = 0; i < axis; i++) outer *= Shape[i];
        for (int i = axis + 1; i < Rank; i++) inner *= Shape[i];
        var result = Zeros(Shape.With(axis, length));
        for (int o = 0; o < outer; o++)
            Array.Copy(Data, (o * n + start) * inner, result.Data, o * length * inner, length * inner);
        return result;
    }

    /// <summary>The sub-tensor at <paramref name="index"/> of the first axis (a copy): <c>batch[3]</c> of a (N, H, W, C) batch is (H, W, C).</summary>
    [System.Runtime.CompilerServices.IndexerName("Element")]
    public Tensor this[int index]
    {
        get
        {
            if (Rank == 0) throw new InvalidOperationException("A scalar has no first axis to index.");
            int i = index < 0 ? index + Shape[0] : index;
            var slice = Slice(0, i, 1);
            return new Tensor(new Shape(Shape.ToArray()[1..]), slice.Data, slice.rented, slice.state);   // takes over the slice's storage
        }
    }

    /// <summary>Stacks equally shaped tensors along a new first axis.</summary>
    public static Tensor Stack(IReadOnlyList<Tensor> items)
    {
        if (items.Count == 0) throw new ArgumentException("Stack needs at least one tensor.");
        var shape = items[0].Shape;
        var result = Zeros(shape.Prepend(items.Count));
        for (int i = 0; i < items.Count; i++)
        {
            if (items[i].Shape != shape)
                throw new ArgumentException($"Stack needs equal shapes; item 0 is {shape}, item {i} is {items[i].Shape}.");
            items[i].Data.CopyTo(result.Data, i * shape.Size);
        }
        return result;
    }

    // ---- printing -------------------------------------------------------------------------

    /// <summary>Like NumPy: nested brackets, at most a few values per axis, then the shape.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder("Tensor(");
        if (IsDisposed) return $"Tensor(disposed, shape={Shape})";
        if (Rank == 0) sb.Append(FormatValue(Data[0]));
        else AppendAxis(sb, 0, 0, 7);
        sb.Append(", shape=").Append(Shape).Append(')');
        return sb.ToString();
    }

    private void AppendAxis(StringBuilder sb, int axis, int offset, int indent)
    {
        int n = Shape[axis], stride = 1;
        for (int i = axis + 1; i < Rank; i++) stride *= Shape[i];
        const int edge = 3;
        sb.Append('[');
        for (int i = 0; i < n; i++)
        {
            if (n > 2 * edge && i == edge) { sb.Append(axis == Rank - 1 ? "..., " : "...,\n" + new string(' ', indent + axis + 1)); i = n - edge; }
            if (axis == Rank - 1) sb.Append(FormatValue(Data[offset + i]));
            else AppendAxis(sb, axis + 1, offset + i * stride, indent);
            if (i < n - 1) sb.Append(axis == Rank - 1 ? ", " : ",\n" + new string(' ', indent + axis + 1));
        }
        sb.Append(']');
    }

    internal static string FormatValue(float v) => v.ToString("G6", CultureInfo.InvariantCulture);
}
