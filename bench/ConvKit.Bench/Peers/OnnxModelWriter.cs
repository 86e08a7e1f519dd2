using System.Runtime.InteropServices;
using System.Text;

namespace ConvKit.Bench.Peers;

/// <summary>
/// Writes one-node ONNX models (Conv, MaxPool, Gemm) for ONNX Runtime without protoc: the handful of
/// onnx.proto messages needed, encoded by hand. Field numbers are those of onnx/onnx.proto
/// (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto, TypeProto).
/// </summary>
internal static class OnnxModelWriter
{
    public const int Opset = 17;
    private const int FloatType = 1;          // TensorProto.DataType.FLOAT
    private const int AttributeInt = 2, AttributeInts = 7;

    /// <summary>An input or output: name and fixed shape, float32.</summary>
    public sealed record Value(string Name, long[] Shape);

    /// <summary>A constant folded into the model (weights).</summary>
    public sealed record Initializer(string Name, long[] Shape, float[] Data);

    /// <summary>An attribute: an int, or a list of ints.</summary>
    public sealed record OnnxAttribute(string Name, long? Int = null, long[]? Ints = null);

    public static byte[] SingleNodeModel(string opType, Value[] inputs, Initializer[] initializers, Value output, params OnnxAttribute[] attributes)
    {
        var node = new ProtoWriter();
        foreach (var input in inputs) node.String(1, input.Name);
        foreach (var init in initializers) node.String(1, init.Name);
        node.String(2, output.Name);
        node.String(3, opType.ToLowerInvariant());
        node.String(4, opType);
        foreach (var a in attributes)
        {
            var attribute = new ProtoWriter();
            attribute.String(1, a.Name);
            if (a.Ints is not null)
            {
                foreach (long v in a.Ints) attribute.Varint(8, (ulong)v);
                attribute.Varint(20, AttributeInts);
            }
            else
            {
                attribute.Varint(3, (ulong)(a.Int ?? 0));
                attribute.Varint(20, AttributeInt);
            }
            node.Message(5, attribute);
        }

        var graph = new ProtoWriter();
        graph.Message(1, node);
        graph.String(2, opType.ToLowerInvariant() + "_graph");
        foreach (var init in initializers)
        {
            var tensor = new ProtoWriter();
            foreach (long d in init.Shape) tensor.Varint(1, (ulong)d);
            tensor.Varint(2, FloatType);
            tensor.String(8, init.Name);
            tensor.Bytes(9, MemoryMarshal.AsBytes(init.Data.AsSpan()));   // raw_data: little-endian float32
            graph.Message(5, tensor);
        }
        foreach (var input in inputs) graph.Message(11, ValueInfo(input));
        graph.Message(12, ValueInfo(output));

        var opset = new ProtoWriter();
        opset.String(1, "");
        opset.Varint(2, Opset);

        var model = new ProtoWriter();
        model.Varint(1, 8);                    // ir_version 8 (ONNX 1.10+)
        model.String(2, "ConvKit.Bench");
        model.Message(7, graph);
        model.Message(8, opset);
        return model.ToArray();
    }

    private static ProtoWriter ValueInfo(Value v)
    {
        var shape = new ProtoWriter();
        foreach (long d in v.Shape)
        {
            var dim = new ProtoWriter();
            dim.Varint(1, (ulong)d);
            shape.Message(1, dim);
        }
        var tensorType = new ProtoWriter();
        tensorType.Varint(1, FloatType);
        tensorType.Message(2, shape);
        var type = new ProtoWriter();
        type.Message(1, tensorType);
        var info = new ProtoWriter();
        info.String(1, v.Name);
        info.Message(2, type);
        return info;
    }

    /// <summary>Protocol-buffer wire format: varints (wire type 0) and length-delimited fields (wire type 2).</summary>
    private sealed class ProtoWriter
    {
        private readonly MemoryStream stream = new();

        public void Varint(int field, ulong value)
        {
            Raw(((ulong)field << 3) | 0);
            Raw(value);
        }

        public void Bytes(int field, ReadOnlySpan<byte> bytes)
        {
            Raw(((ulong)field << 3) | 2);
            Raw((ulong)bytes.Length);
            stream.Write(bytes);
        }

        public void String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

        public void Message(int field, ProtoWriter message) => Bytes(field, message.stream.GetBuffer().AsSpan(0, (int)message.stream.Length));

        public byte[] ToArray() => stream.ToArray();

        private void Raw(ulong value)
        {
            while (value >= 0x80)
            {
                stream.WriteByte((byte)(value | 0x80));
                value >>= 7;
            }
            stream.WriteByte((byte)value);
        }
    }
}
