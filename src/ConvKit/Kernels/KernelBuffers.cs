using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ConvKit.Kernels;

/// <summary>
/// Pooled scratch memory for the kernels: one pinned, 64-byte-aligned buffer per purpose and thread.
/// A buffer only grows, so in steady state no kernel call allocates.
/// </summary>
internal static unsafe class KernelBuffers
{
    [ThreadStatic] private static AlignedBuffer? packA, packB, sharedA, sharedB, wholeB, columns, partials, perChannel, transformedKernel, paddedInput, edgeWindows, winogradProducts;

    /// <summary>Packed A block of the GEMM (MC × KC), private to the thread that packs it.</summary>
    public static float* PackA(int length) => (packA ??= new()).Get(length);

    /// <summary>Packed B block of the GEMM (KC × NC): shared by the threads of one call, or private to one thread's share.</summary>
    public static float* PackB(int length) => (packB ??= new()).Get(length);

    /// <summary><see cref="PackB(int)"/> for a length given as a long (a whole packed convolution kernel).</summary>
    public static float* PackB(long length) => PackB(checked((int)length));

    /// <summary>A's blocks packed by all threads of one GEMM for all of them, held by the thread that starts the region.</summary>
    public static float* SharedA(long length) => (sharedA ??= new()).Get(checked((int)length));

    /// <summary>B's blocks packed by all threads of one GEMM for all of them, held by the thread that starts the region.</summary>
    public static float* SharedB(long length) => (sharedB ??= new()).Get(checked((int)length));

    /// <summary>
    /// A convolution's kernel packed once (<see cref="Gemm.PackWholeB"/>) by the thread that starts a parallel region,
    /// read by every tile of it; nothing asks for this buffer inside a region.
    /// </summary>
    public static float* WholeB(long length) => (wholeB ??= new()).Get(checked((int)length));

    /// <summary>Im2col column tile of a convolution, or the input transforms of a block of Winograd tiles.</summary>
    public static float* Columns(int length) => (columns ??= new()).Get(length);

    /// <summary>Per-chunk partial results that are summed in a fixed order.</summary>
    public static float* Partials(int length) => (partials ??= new()).Get(length);

    /// <summary>Per-channel coefficients of one pass (batch norm's scale and shift), filled by the calling thread.</summary>
    public static float* PerChannel(int length) => (perChannel ??= new()).Get(length);

    /// <summary>A convolution kernel rearranged for another pass (flipped and transposed for the input gradient).</summary>
    public static float* TransformedKernel(int length) => (transformedKernel ??= new()).Get(length);

    /// <summary>A convolution input with its width padding written out, for the direct kernels.</summary>
    public static float* PaddedInput(int length) => (paddedInput ??= new()).Get(length);

    /// <summary>The windows of a direct convolution's edge pixels, copied with their padding columns written as zeros.</summary>
    public static float* EdgeWindows(int length) => (edgeWindows ??= new()).Get(length);

    /// <summary>The 16 or 36 products of a block of Winograd tiles (<see cref="WinogradConvolution"/>).</summary>
    public static float* WinogradProducts(int length) => (winogradProducts ??= new()).Get(length);

    private sealed class AlignedBuffer
    {
        private float[] array = [];
        private float* aligned;

        public float* Get(int length)
        {
            if (array.Length < length + 16)
            {
                array = GC.AllocateUninitializedArray<float>(Math.Max(length + 16, array.Length * 3 / 2), pinned: true);
                nint start = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array));
                aligned = (float*)((start + 63) & ~(nint)63);
            }
            return aligned;
        }
    }
}
