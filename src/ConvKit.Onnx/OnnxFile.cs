using ConvKit.IO;
using ConvKit.Onnx.Protobuf;
using Google.Protobuf;

namespace ConvKit.Onnx;

/// <summary>Reads and writes ONNX protobuf files; a malformed file raises <see cref="ConvKitFormatException"/> naming it.</summary>
public static class OnnxFile
{
    /// <summary>Parses an ONNX model file and checks that it holds a graph.</summary>
    internal static ModelProto ReadModel(string path)
    {
        var bytes = ReadAll(path);
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new ConvKitFormatException(path, $"not a valid ONNX model ({bytes.Length:N0} bytes; the protobuf parser says: {e.Message})", e);
        }
        if (model.IrVersion <= 0)
            throw new ConvKitFormatException(path, $"not an ONNX model: no ir_version ({bytes.Length:N0} bytes)");
        if (model.Graph is null || (model.Graph.Node.Count == 0 && model.Graph.Output.Count == 0))
            throw new ConvKitFormatException(path, "the ONNX model has no graph");
        return model;
    }

    /// <summary>The names of the graph's inputs that are not initializers, in order (how backend tests feed inputs by position).</summary>
    public static IReadOnlyList<string> GraphInputNames(string path)
    {
        var graph = ReadModel(path).Graph;
        var initializers = graph.Initializer.Select(t => t.Name).ToHashSet();
        return graph.Input.Select(i => i.Name).Where(n => !initializers.Contains(n)).ToList();
    }

    /// <summary>The op types of the graph's nodes, each once, in first-use order.</summary>
    public static IReadOnlyList<string> OpTypes(string path) => ReadModel(path).Graph.Node.Select(n => n.OpType).Distinct().ToList();

    /// <summary>Parses a serialized ONNX tensor (a backend test's <c>input_0.pb</c>) into its shape and float values.</summary>
    public static (int[] Shape, float[] Values, string Name) ReadTensor(string path)
    {
        var bytes = ReadAll(path);
        try
        {
            var t = OnnxTensors.Read(TensorProto.Parser.ParseFrom(bytes));
            return (t.Dims, t.Floats, TensorProto.Parser.ParseFrom(bytes).Name);
        }
        catch (Exception e) when (e is InvalidProtocolBufferException or FormatException or NotSupportedException)
        {
            throw new ConvKitFormatException(path, $"not a valid ONNX tensor: {e.Message}", e);
        }
    }

    /// <summary>The data type of a serialized ONNX tensor, e.g. FLOAT or INT8.</summary>
    public static string ReadTensorType(string path)
    {
        try { return OnnxTensors.TypeName(TensorProto.Parser.ParseFrom(ReadAll(path)).DataType); }
        catch (InvalidProtocolBufferException e) { throw new ConvKitFormatException(path, $"not a valid ONNX tensor: {e.Message}", e); }
    }

    private static byte[] ReadAll(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"No ONNX file at '{path}'.", path);
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length == 0) throw new ConvKitFormatException(path, "the file is empty");
        return bytes;
    }

    /// <summary>Writes <paramref name="model"/> atomically (<see cref="AtomicFile"/>).</summary>
    internal static void WriteModel(ModelProto model, string path) => AtomicFile.Write(path, model.WriteTo);
}
