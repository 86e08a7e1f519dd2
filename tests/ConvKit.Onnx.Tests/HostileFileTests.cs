using ConvKit.IO;
using ConvKit.Kernels;
using ConvKit.Layers;
using ConvKit.Models;
using ConvKit.Onnx.Protobuf;
using Google.Protobuf;

namespace ConvKit.Onnx.Tests;

/// <summary>Malformed files give <see cref="ConvKitFormatException"/> naming the file; unsupported graphs list every bad node before anything runs.</summary>
public sealed class HostileFileTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("convkit-onnx-hostile-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private string ValidModelBytesFile()
    {
        var model = new Sequential(new Input(8, 8, 2), new Conv2D(4, 3, activation: Activation.Relu), new Flatten(), new Dense(3));
        string path = Path.Combine(dir, "valid.onnx");
        OnnxExporter.Save(model, path);
        return path;
    }

    [Theory]
    [InlineData(0.1)]
    [InlineData(0.5)]
    [InlineData(0.9)]
    [InlineData(0.999)]
    public void TruncatedModelIsAFormatErrorNamingTheFile(double keep)
    {
        var bytes = File.ReadAllBytes(ValidModelBytesFile());
        string path = Path.Combine(dir, $"truncated-{keep}.onnx");
        File.WriteAllBytes(path, bytes[..(int)(bytes.Length * keep)]);
        var e = Assert.Throws<ConvKitFormatException>(() => OnnxImporter.Load(path));
        Assert.Equal(path, e.FilePath);
        Assert.Contains(path, e.Message);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void GarbageBytesAreAFormatError(int seed)
    {
        var bytes = new byte[4096];
        new Random(seed).NextBytes(bytes);
        string path = Path.Combine(dir, $"garbage-{seed}.onnx");
        File.WriteAllBytes(path, bytes);
        Assert.Throws<ConvKitFormatException>(() => OnnxImporter.Load(path));
    }

    [Fact]
    public void EmptyAndTextFilesAreFormatErrors()
    {
        string empty = Path.Combine(dir, "empty.onnx");
        File.WriteAllBytes(empty, []);
        Assert.Contains("empty", Assert.Throws<ConvKitFormatException>(() => OnnxImporter.Load(empty)).Message);
        string text = Path.Combine(dir, "text.onnx");
        File.WriteAllText(text, "this is not a model\n");
        Assert.Throws<ConvKitFormatException>(() => OnnxImporter.Load(text));
    }

    [Fact]
    public void RawDataOfTheWrongSizeIsAFormatError()
    {
        var model = SmallGraph();
        model.Graph.Initializer.Add(new TensorProto { Name = "w", DataType = 1, Dims = { 2, 1, 3, 3 }, RawData = ByteString.CopyFrom(new byte[10]) });
        model.Graph.Node.Add(Node("Conv", "conv", ["x", "w"], ["y"]));
        string path = Write(model, "badraw.onnx");
        var e = Assert.Throws<ConvKitFormatException>(() => OnnxImporter.Load(path));
        Assert.Contains("raw_data", e.Message);
    }

    [Fact]
    public void EveryUnsupportedNodeIsListedAtOnce()
    {
        var model = SmallGraph();
        model.Graph.Node.Add(Node("LRN", "lrn_1", ["x"], ["a"]));
        var conv = Node("MaxPool", "pool_with_odd_attribute", ["x"], ["b"]);
        conv.Attribute.Add(new AttributeProto { Name = "kernel_shape", Type = AttributeProto.Types.AttributeType.Ints, Ints = { 2, 2 } });
        conv.Attribute.Add(new AttributeProto { Name = "frobnicate", Type = AttributeProto.Types.AttributeType.Int, I = 1 });
        model.Graph.Node.Add(conv);
        model.Graph.Node.Add(Node("Relu", "after_lrn", ["a"], ["c"]));
        model.Graph.Node.Add(Node("Add", "sum", ["c", "b"], ["y"]));
        model.Graph.Node.Add(new NodeProto { Name = "custom", OpType = "Gelu", Domain = "com.example", Input = { "x" }, Output = { "z" } });
        string path = Write(model, "unsupported.onnx");
        var e = Assert.Throws<OnnxUnsupportedException>(() => OnnxImporter.Load(path));
        Assert.Equal(["lrn_1", "pool_with_odd_attribute", "custom"], e.Nodes.Select(n => n.NodeName));
        Assert.Equal(["LRN", "MaxPool", "Gelu"], e.Nodes.Select(n => n.OpType));
        Assert.Contains("frobnicate", e.Message);
        Assert.Contains("com.example", e.Message);
    }

    [Fact]
    public void IntegerInputsAreReportedWithTheirType()
    {
        var model = SmallGraph(elementType: 3);
        model.Graph.Node.Add(Node("Relu", "relu", ["x"], ["y"]));
        var e = Assert.Throws<OnnxUnsupportedException>(() => OnnxImporter.Load(Write(model, "int8.onnx")));
        Assert.Contains("INT8", e.Message);
    }

    [Fact]
    public void ExportListsEveryLayerWithoutAnOnnxForm()
    {
        var input = new Input(4, 5);
        var a = new OnnxSoftmax(axis: 1, coerce2D: true, name: "coerced_a").Call(input);
        var b = new OnnxSoftmax(axis: 1, coerce2D: true, name: "coerced_b").Call(a);
        var model = new Model(input, new Flatten().Call(b));
        var e = Assert.Throws<NotSupportedException>(() => OnnxExporter.Save(model, Path.Combine(dir, "no.onnx")));
        Assert.Contains("coerced_a", e.Message);
        Assert.Contains("coerced_b", e.Message);
        Assert.False(File.Exists(Path.Combine(dir, "no.onnx")));
        Assert.Throws<ArgumentException>(() => OnnxExporter.Save(new Sequential(new Input(3), new Dense(2)), Path.Combine(dir, "old.onnx"), opset: 11));
    }

    private static ModelProto SmallGraph(int elementType = 1)
    {
        var model = new ModelProto { IrVersion = 8, Graph = new GraphProto { Name = "g" } };
        model.OpsetImport.Add(new OperatorSetIdProto { Version = 17 });
        model.Graph.Input.Add(Info("x", elementType, 1, 1, 6, 6));
        model.Graph.Output.Add(Info("y", elementType, 1, 1, 6, 6));
        return model;
    }

    private static ValueInfoProto Info(string name, int elementType, params long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = elementType, Shape = shape } } };
    }

    private static NodeProto Node(string op, string name, string[] inputs, string[] outputs) =>
        new() { OpType = op, Name = name, Input = { inputs }, Output = { outputs } };

    private string Write(ModelProto model, string name)
    {
        string path = Path.Combine(dir, name);
        File.WriteAllBytes(path, model.ToByteArray());
        return path;
    }
}
