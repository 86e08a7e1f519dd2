using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ConvKit.Kernels;

/// <summary>How a weight matrix is packed: the routine, op(B)'s [k, n] and the depth of its blocks of the shared dimension.</summary>
internal enum PackedForm
{
    /// <summary><see cref="Gemm.PackWholeB"/>'s panels of NR columns, in blocks of KC (or the whole depth) of the shared dimension.</summary>
    Panels,

    /// <summary>The 16-wide panels of the direct convolution's narrow AVX-512 kernel.</summary>
    Narrow,

    /// <summary>A 3×3 or 5×5 kernel's 16 or 36 Winograd transforms, each in <see cref="Panels"/> form (<see cref="WinogradConvolution"/>).</summary>
    Winograd,
}

/// <summary>One packing of a weight matrix: its form, its size as op(B) [k, n] (times the groups) and its block depth.</summary>
internal readonly record struct PackedLayout(PackedForm Form, int N, int K, int Groups, int BlockDepth, long Floats);

/// <summary>
/// A layer's weights packed for the GEMM, kept for as long as the weights stay unchanged: inference multiplies every
/// input by the same weights, and ONNX Runtime packs them once when its session is made. The packed copy is made again
/// after anything takes a writable view of the weights (an optimizer's step, <c>Variable.Assign</c>, <c>Tensor.Span</c>).
/// </summary>
/// <remarks>
/// One instance per weight storage (<see cref="For"/>), living as long as the storage. A copy is kept from the second
/// call that finds the weights unchanged: the first packs into the kernels' scratch buffers as before, so a model run
/// once (the CLI's predict, an import and its first inference) does not pay for memory it will not reuse, and weights
/// that change between calls (evaluation during training) are not copied for nothing. Each layout is kept in a pinned
/// array of its own; a caller keeps the array it was handed in a local while it reads it, so a concurrent repacking
/// never frees memory still in use.
/// </remarks>
internal sealed class PackedWeights
{
    private static readonly ConditionalWeakTable<object, PackedWeights> Cache = new();

    private readonly Lock gate = new();

    /// <summary>Per layout, the version last asked for and its packed copy (null until it is asked for twice).</summary>
    private readonly List<(PackedLayout Layout, int Version, float[]? Values)> packings = [];

    /// <summary>Times these weights were packed into a kept copy (tests read it to see that inference packs once).</summary>
    internal int Packs { get; private set; }

    /// <summary>The packed copies of the weights in <paramref name="storage"/>.</summary>
    public static PackedWeights For(object storage) => Cache.GetValue(storage, _ => new PackedWeights());

    /// <summary>
    /// The weights packed as <paramref name="layout"/> at <paramref name="version"/>: the kept array, or, the second time
    /// this version is asked for, a new one that <paramref name="packer"/> fills (given its 64-byte-aligned start); null
    /// the first time, when the caller packs into its scratch buffer.
    /// </summary>
    public unsafe float[]? Get<TPacker>(PackedLayout layout, int version, in TPacker packer) where TPacker : struct, IPacker
    {
        lock (gate)
        {
            int at = packings.Count - 1;
            while (at >= 0 && packings[at].Layout != layout) at--;
            if (at < 0 || packings[at].Version != version)
            {
                if (at >= 0) packings[at] = (layout, version, null);
                else packings.Add((layout, version, null));
                return null;
            }
            if (packings[at].Values is { } kept) return kept;
            var values = GC.AllocateUninitializedArray<float>(checked((int)layout.Floats + 16), pinned: true);
            packer.Pack(Aligned(values));
            Packs++;
            packings[at] = (layout, version, values);
            return values;
        }
    }

    /// <summary>The 64-byte-aligned start of an array from <see cref="Get"/> (pinned, so it does not move).</summary>
    public static unsafe float* Aligned(float[] values)
    {
        nint start = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(values));
        return (float*)((start + 63) & ~(nint)63);
    }

    /// <summary>
    /// Fills a packed layout at a destination: a struct holding the packing routine's arguments, so that asking for packed
    /// weights allocates nothing (a lambda would allocate its captures at every call, packed or not).
    /// </summary>
    public unsafe interface IPacker
    {
        void Pack(float* destination);
    }
}

/// <summary>
/// What a kernel needs to use packed weights: the cache of the weights' storage and their version, or nothing (the
/// kernel packs into its scratch buffers, as during training, when the weights change at every step).
/// </summary>
internal readonly struct WeightPacking(PackedWeights? cache, int version)
{
    public static WeightPacking None => default;

    public bool IsCached => cache is not null;

    /// <summary>
    /// The weights packed as <paramref name="layout"/>: the kept copy (see <see cref="PackedWeights.Get"/>), which
    /// <paramref name="kept"/> holds on to while the caller reads it; or, when none is kept, packed now into the scratch
    /// buffer that <paramref name="scratch"/> returns for the layout's size.
    /// </summary>
    public unsafe float* Get<TPacker>(PackedLayout layout, in TPacker packer, delegate*<long, float*> scratch, out float[]? kept)
        where TPacker : struct, PackedWeights.IPacker
    {
        kept = cache?.Get(layout, version, in packer);
        if (kept is not null) return PackedWeights.Aligned(kept);
        float* packed = scratch(layout.Floats);
        packer.Pack(packed);
        return packed;
    }
}
