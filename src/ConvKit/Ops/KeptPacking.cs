using ConvKit.Autograd;
using ConvKit.Kernels;
using ConvKit.Tensors;

namespace ConvKit.Operations;

/// <summary>Whether an op may use, and keep, a packed copy of the weights it multiplies by (<see cref="PackedWeights"/>).</summary>
internal static class KeptPacking
{
    /// <summary>
    /// The packed copies of <paramref name="weights"/> when they can be kept: they are a layer's weights, and no gradient
    /// tape takes their gradient (weights in training change at every step; frozen ones, as in style transfer, do not).
    /// </summary>
    public static WeightPacking For(Tensor weights)
    {
        var storage = weights.Storage;
        if (!storage.HoldsWeights || GradientTape.Watches(weights)) return WeightPacking.None;
        return new WeightPacking(PackedWeights.For(storage), Volatile.Read(ref storage.Version));
    }
}
