using ConvKit.Operations;
using ConvKit.Tensors;

namespace ConvKit.Layers;

/// <summary>
/// Permutes every axis, the batch included (ONNX's <c>Transpose</c>): out.Shape[i] = in.Shape[perm[i]].
/// The importer also uses it to move between ONNX's channels-first and ConvKit's channels-last layouts.
/// </summary>
public sealed class OnnxTranspose : Layer
{
    public OnnxTranspose(int[] perm, string? name = null) : base(name)
    {
        if (perm.Order().Where((p, i) => p != i).Any())
            throw new ArgumentException($"OnnxTranspose: perm must be a permutation of 0..{perm.Length - 1}. Received perm={Describe.Tuple(perm)}.");
        Perm = perm;
    }

    public int[] Perm { get; }

    protected override void ValidateInput(Shape inputShape)
    {
        if (inputShape.Rank != Perm.Length)
            throw new ArgumentException($"OnnxTranspose '{Name}' with perm {Describe.Tuple(Perm)} needs input of rank {Perm.Length}; received {inputShape}.");
    }

    public override Shape ComputeOutputShape(Shape inputShape) => new(Perm.Select(p => inputShape[p]).ToArray());

    protected override Tensor CallCore(Tensor input, bool training) => Ops.Transpose(input, Perm);

    public override IReadOnlyDictionary<string, object?> GetConfig() =>
        new Dictionary<string, object?>(base.GetConfig()) { ["perm"] = Perm };
}
