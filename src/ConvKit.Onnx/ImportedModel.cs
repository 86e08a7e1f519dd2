using ConvKit.Models;
using ConvKit.Operations;
using ConvKit.Tensors;

namespace ConvKit.Onnx;

/// <summary>How a model input or output orders its axes relative to the ONNX graph's tensor.</summary>
public enum TensorLayout
{
    /// <summary>The ONNX order, unchanged (NCHW for images; every tensor of rank 2 or less).</summary>
    Onnx,
    /// <summary>ONNX's axis 1 (channels) moved last: NCHW → NHWC, NCL → NLC. ConvKit's own convention.</summary>
    ChannelsLast,
}

/// <summary>
/// An ONNX graph imported as a ConvKit functional <see cref="Models.Model"/>, with the names of the graph's inputs and outputs
/// and the layout each takes: images are channels-last inside ConvKit, so an NCHW input of the ONNX graph is an NHWC
/// input of <see cref="Model"/>. <see cref="Run"/> takes and returns tensors in the ONNX layout.
/// </summary>
public sealed class ImportedModel
{
    internal ImportedModel(Model model, IReadOnlyList<string> inputNames, IReadOnlyList<TensorLayout> inputLayouts,
        IReadOnlyList<string> outputNames, IReadOnlyList<TensorLayout> outputLayouts, long irVersion, long opset, string producer)
    {
        Model = model;
        InputNames = inputNames;
        InputLayouts = inputLayouts;
        OutputNames = outputNames;
        OutputLayouts = outputLayouts;
        IrVersion = irVersion;
        Opset = opset;
        Producer = producer;
    }

    /// <summary>The ConvKit model: run, summarise, fine-tune and save it like any other.</summary>
    public Model Model { get; }

    /// <summary>The ONNX names of the model's inputs, in the order <see cref="Models.Model.CallAll"/> takes them (bound inputs left out).</summary>
    public IReadOnlyList<string> InputNames { get; }

    /// <summary>The layout each model input expects.</summary>
    public IReadOnlyList<TensorLayout> InputLayouts { get; }

    /// <summary>The ONNX names of the model's outputs, in order.</summary>
    public IReadOnlyList<string> OutputNames { get; }

    /// <summary>The layout of each model output.</summary>
    public IReadOnlyList<TensorLayout> OutputLayouts { get; }

    public long IrVersion { get; }

    /// <summary>The version of the default (ai.onnx) operator set the graph was written for.</summary>
    public long Opset { get; }

    public string Producer { get; }

    /// <summary>An ONNX-layout tensor (e.g. NCHW) as model input <paramref name="index"/> expects it (e.g. NHWC).</summary>
    public Tensor ToModelInput(int index, Tensor onnxTensor) => InputLayouts[index] == TensorLayout.ChannelsLast
        ? Ops.Transpose(onnxTensor, Layouts.ToChannelsLast(onnxTensor.Rank)) : onnxTensor;

    /// <summary>ONNX-layout values and shape (e.g. an NCHW array) as model input <paramref name="index"/> expects them.</summary>
    public Tensor ToModelInput(int index, float[] onnxValues, params int[] onnxShape) => ToModelInput(index, Tensor.FromArray(onnxValues, onnxShape));

    /// <summary>Model output <paramref name="index"/> in the ONNX graph's layout (e.g. NHWC back to NCHW).</summary>
    public Tensor ToOnnxOutput(int index, Tensor modelOutput) => OutputLayouts[index] == TensorLayout.ChannelsLast
        ? Ops.Transpose(modelOutput, Layouts.FromChannelsLast(modelOutput.Rank)) : modelOutput;

    /// <summary>Inference on ONNX-layout inputs (one per <see cref="InputNames"/>), returning ONNX-layout outputs.</summary>
    public Tensor[] Run(params Tensor[] onnxInputs)
    {
        using var _ = Autograd.GradientTape.Pause();
        var outputs = Model.CallAll(onnxInputs.Select((t, i) => ToModelInput(i, t)).ToList());
        return outputs.Select((t, i) => ToOnnxOutput(i, t)).ToArray();
    }

    public override string ToString() =>
        $"<ImportedModel '{Model.Name}' (IR {IrVersion}, opset {Opset}, {Producer}): inputs {string.Join(", ", InputNames.Zip(InputLayouts, (n, l) => $"{n} [{l}]"))}; outputs {string.Join(", ", OutputNames)}>";
}

/// <summary>The axis permutations between ONNX's channels-first order and ConvKit's channels-last order.</summary>
internal static class Layouts
{
    /// <summary>NCHW → NHWC: (0, 2, 3, …, 1).</summary>
    public static int[] ToChannelsLast(int rank) => rank < 3 ? [.. Enumerable.Range(0, rank)] : [0, .. Enumerable.Range(2, rank - 2), 1];

    /// <summary>NHWC → NCHW: (0, r−1, 1, …, r−2).</summary>
    public static int[] FromChannelsLast(int rank) => rank < 3 ? [.. Enumerable.Range(0, rank)] : [0, rank - 1, .. Enumerable.Range(1, rank - 2)];

    /// <summary>Where ONNX axis <paramref name="onnxAxis"/> sits in the channels-last tensor.</summary>
    public static int ChannelsLastAxis(int onnxAxis, int rank) => rank < 3 || onnxAxis == 0 ? onnxAxis : onnxAxis == 1 ? rank - 1 : onnxAxis - 1;

    /// <summary>Applies a permutation to a shape: result[i] = dims[perm[i]].</summary>
    public static int[] Permute(IReadOnlyList<int> dims, int[] perm) => perm.Select(p => dims[p]).ToArray();
}
