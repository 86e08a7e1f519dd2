using ConvKit.Layers;
using ConvKit.Onnx.Protobuf;
using ConvKit.Tensors;

namespace ConvKit.Onnx;

public static partial class OnnxImporter
{
    private sealed partial class GraphImport
    {
        private readonly Dictionary<(Value, TensorLayout), SymbolicTensor> converted = [];

        /// <summary>
        /// The value as a symbolic tensor in <paramref name="layout"/>. Between layouts a tensor whose non-1 axes keep
        /// their order (e.g. (N, C, 1, 1) ↔ (N, 1, 1, C)) is only relabelled (<see cref="OnnxReshape"/>); others are transposed.
        /// </summary>
        public SymbolicTensor InLayout(Value value, TensorLayout layout, string nodeName)
        {
            var tensor = value.Tensor ?? throw new UnsupportedException("a data input is a constant; ConvKit layers compute from graph inputs");
            if (value.Layout == layout || tensor.Shape.Rank < 3) return tensor;
            if (converted.TryGetValue((value, layout), out var done)) return done;
            int rank = tensor.Shape.Rank;
            var onnxShape = value.OnnxShape;
            var perm = layout == TensorLayout.ChannelsLast ? Layouts.ToChannelsLast(rank) : Layouts.FromChannelsLast(rank);
            var clOrder = Layouts.ToChannelsLast(rank);
            bool relabel = clOrder.Where(a => onnxShape[a] != 1).SequenceEqual(Enumerable.Range(0, rank).Where(a => onnxShape[a] != 1))
                && tensor.Shape.Skip(1).All(d => d != Shape.Unknown);
            var targetDims = Layouts.Permute(tensor.Shape.ToArray(), perm);
            Layer layer = relabel
                ? new OnnxReshape(targetDims.Select((d, i) => i == 0 && d == Shape.Unknown ? 0 : d).ToArray(), name: UniqueName(nodeName + (layout == TensorLayout.ChannelsLast ? "_to_nhwc" : "_to_nchw")))
                : new OnnxTranspose(perm, UniqueName(nodeName + (layout == TensorLayout.ChannelsLast ? "_to_nhwc" : "_to_nchw")));
            var result = layer.Call(tensor);
            converted[(value, layout)] = result;
            return result;
        }

        /// <summary>What an op handler sees of its node: inputs, attributes, and where its outputs go.</summary>
        private sealed class Node(NodeProto proto, string name, GraphImport import)
        {
            public string Name { get; } = name;
            public string OpType => proto.OpType;
            public long Opset => import.opset;
            public GraphImport Import => import;

            public bool Has(int i) => i < proto.Input.Count && proto.Input[i] != "";
            public Value In(int i) => Has(i) ? import.values[proto.Input[i]] : throw new UnsupportedException($"input {i} is required");
            public int InputCount => proto.Input.Count;

            /// <summary>How many outputs the graph uses (trailing optional outputs left empty do not count).</summary>
            public int OutputCount => proto.Output.Count(o => o != "");

            /// <summary>Whether the graph uses output <paramref name="i"/> (an optional output may be left empty).</summary>
            public bool HasOutput(int i) => i < proto.Output.Count && proto.Output[i] != "";

            public ConstantTensor Const(int i, string what) =>
                In(i).Constant ?? throw new UnsupportedException($"input {i} ({what}) must be a constant (an initializer or Constant node) because ConvKit holds it as weights or configuration");

            public bool IsConst(int i) => Has(i) && In(i).Constant is not null;

            public SymbolicTensor Data(int i, TensorLayout layout) => import.InLayout(In(i), layout, Name);

            public string LayerName(string? suffix = null) => import.UniqueName(suffix is null ? Name : $"{Name}_{suffix}");

            public AttributeProto? Attribute(string attributeName) => proto.Attribute.FirstOrDefault(a => a.Name == attributeName);
            public long Int(string attributeName, long fallback) => Attribute(attributeName)?.I ?? fallback;
            public float Float(string attributeName, float fallback) => Attribute(attributeName) is { } a ? a.F : fallback;
            public string String(string attributeName, string fallback) => Attribute(attributeName) is { } a ? a.S.ToStringUtf8() : fallback;
            public int[]? Ints(string attributeName) => Attribute(attributeName) is { } a
                ? a.Ints.Select(v => v is >= int.MinValue and <= int.MaxValue ? (int)v
                    : throw new FormatException($"attribute {attributeName} holds {v}, outside the 32-bit range")).ToArray()
                : null;

            public void Output(int i, SymbolicTensor tensor, TensorLayout layout) => import.values[proto.Output[i]] = new Value { Tensor = tensor, Layout = layout };
            public void Output(int i, ConstantTensor constant) => import.values[proto.Output[i]] = new Value { Constant = constant };
            public void Output(int i, Value value) => import.values[proto.Output[i]] = value;

            /// <summary>Rejects uses of the outputs after the first <paramref name="supported"/> (indices, masks, training statistics).</summary>
            public void OnlyOutputs(int supported, string what)
            {
                for (int i = supported; i < proto.Output.Count; i++)
                    if (proto.Output[i] != "") throw new UnsupportedException($"output {i} ({what}) is not supported");
            }
        }
    }
}
