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

    /// <summary>A graph x [1, 1, 6, 6] → Conv with weights <paramref name="w"/> → y, the Conv given <paramref name="attributes"/>.</summary>
    private static ModelProto ConvGraph(TensorProto w, params AttributeProto[] attributes)
    {
        var model = SmallGraph();
        model.Graph.Initializer.Add(w);
        var conv = Node("Conv", "conv", ["x", "w"], ["y"]);
        conv.Attribute.Add(attributes);
        model.Graph.Node.Add(conv);
        return model;
    }

    private static TensorProto Weights(params long[] dims)
    {
        var w = new TensorProto { Name = "w", DataType = 1 };
        w.Dims.Add(dims);
        return w;
    }

    private static AttributeProto Ints(string name, params long[] values) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Ints, Ints = { values } };

    /// <summary>Loads <paramref name="model"/> written to a file, expecting a format error naming that file, and the bytes allocated meanwhile.</summary>
    private (ConvKitFormatException Error, long Allocated) LoadMalformed(ModelProto model, string name)
    {
        string path = Write(model, name);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ConvKitFormatException>(() => OnnxImporter.Load(path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(path, e.FilePath);
        return (e, allocated);
    }

    [Theory]
    [InlineData(new long[] { 2, -1, 3, 3 }, 0, "tensor 'w' has invalid dimensions (2, -1, 3, 3)")]
    [InlineData(new long[] { 2, 1, 3, 4_000_000_000 }, 0, "tensor 'w' has invalid dimensions")]
    [InlineData(new long[] { 65536, 65536, 65536, 65536 }, 0, "more values than one ConvKit tensor holds")]    // 2^64 wraps to 0
    [InlineData(new long[] { 2147483647, 2147483647, 1, 1 }, 0, "more values than one ConvKit tensor holds")]
    [InlineData(new long[] { 1 << 28, 1, 2, 2 }, 0, "needs 1073741824 values but holds 0")]                  // 4 GB the file does not hold
    [InlineData(new long[] { 2, 1, 3, 3 }, 17, "needs 18 values but holds 17")]
    [InlineData(new long[] { 2, 1, 3, 3 }, 19, "needs 18 values but holds 19")]
    public void TensorDimensionsAndValuesThatDisagreeAreFormatErrors(long[] dims, int values, string problem)
    {
        var w = Weights(dims);
        w.FloatData.Add(new float[values]);
        var (e, allocated) = LoadMalformed(ConvGraph(w), "dims.onnx");
        Assert.Contains(problem, e.Message);
        Assert.True(allocated < 64L << 20, $"Importing allocated {allocated:N0} bytes.");
    }

    [Fact]
    public void RawDataLongerThanTheDimensionsIsAFormatError()
    {
        var w = Weights(2, 1, 3, 3);
        w.RawData = ByteString.CopyFrom(new byte[19 * 4]);
        var (e, _) = LoadMalformed(ConvGraph(w), "longraw.onnx");
        Assert.Contains("needs 72 bytes of FLOAT but raw_data has 76", e.Message);
    }

    [Fact]
    public void ExternalDataIsRejectedNamingTheTensor()
    {
        var w = Weights(2, 1, 3, 3);
        w.DataLocation = TensorProto.Types.DataLocation.External;
        string path = Write(ConvGraph(w), "external.onnx");
        var e = Assert.Throws<OnnxUnsupportedException>(() => OnnxImporter.Load(path));
        Assert.Equal(path, e.FilePath);
        Assert.Equal("w", Assert.Single(e.Nodes).NodeName);
        Assert.Contains("external file", e.Message);
    }

    [Theory]
    [InlineData("strides 0", "must be positive")]
    [InlineData("strides 0 with auto_pad", "must be positive")]
    [InlineData("dilations -1", "must be positive")]
    [InlineData("pads -1", "pads [-1, 0, 0, 0] must not be negative")]
    [InlineData("kernel_shape 5×5", "kernel_shape [5, 5] differs from the weights' [3, 3]")]
    [InlineData("strides 2^32", "attribute strides holds 4294967296, outside the 32-bit range")]
    public void BadConvAttributesAreFormatErrorsNamingTheNode(string attribute, string problem)
    {
        var w = Weights(2, 1, 3, 3);
        w.FloatData.Add(new float[18]);
        AttributeProto[] attributes = attribute switch
        {
            "strides 0" => [Ints("strides", 0, 0)],
            "strides 0 with auto_pad" => [Ints("strides", 0, 1), new AttributeProto { Name = "auto_pad", Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8("SAME_UPPER") }],
            "dilations -1" => [Ints("dilations", 1, -1)],
            "pads -1" => [Ints("pads", -1, 0, 0, 0)],
            "kernel_shape 5×5" => [Ints("kernel_shape", 5, 5)],
            _ => [Ints("strides", 1L << 32, 1)],
        };
        var (e, _) = LoadMalformed(ConvGraph(w, attributes), "attribute.onnx");
        Assert.Contains("node 'conv' (Conv)", e.Message);
        Assert.Contains(problem, e.Message);
    }

    [Fact]
    public void ZeroPoolWindowIsAFormatErrorNamingTheNode()
    {
        var model = SmallGraph();
        var pool = Node("MaxPool", "pool", ["x"], ["y"]);
        pool.Attribute.Add(Ints("kernel_shape", 0, 2));
        model.Graph.Node.Add(pool);
        var (e, _) = LoadMalformed(model, "pool.onnx");
        Assert.Contains("node 'pool' (MaxPool): kernel_shape [0, 2]", e.Message);
    }

    [Theory]
    [InlineData(new long[] { 1, 1, -5, 6 }, "graph input 'x': dimensions (1, 1, -5, 6) must be ≥ 0")]
    [InlineData(new long[] { 1, 1, 6, 4_294_967_302 }, "graph input 'x': dimensions (1, 1, 6, 4294967302) must be ≥ 0 and below 2^31")]
    [InlineData(new long[] { 1, 65536, 65536, 65536 }, "graph input 'x': shape (1, 65536, 65536, 65536) has more values per sample")]
    public void GraphInputsOfImpossibleShapesAreFormatErrors(long[] dims, string problem)
    {
        var model = SmallGraph();
        model.Graph.Input[0] = Info("x", 1, dims);
        model.Graph.Node.Add(Node("Flatten", "flatten", ["x"], ["y"]));
        var (e, allocated) = LoadMalformed(model, "input.onnx");
        Assert.Contains(problem, e.Message);
        Assert.True(allocated < 64L << 20, $"Importing allocated {allocated:N0} bytes.");
    }

    [Fact]
    public void NodeReadingAnUndefinedValueIsAFormatError()
    {
        var model = SmallGraph();
        model.Graph.Node.Add(Node("Relu", "relu", ["ghost"], ["y"]));
        var (e, _) = LoadMalformed(model, "undefined.onnx");
        Assert.Contains("node 'relu' (Relu) reads 'ghost', which no graph input, initializer or earlier node defines", e.Message);
    }

    [Fact]
    public void CycleIsAFormatErrorAtItsFirstNode()
    {
        var model = SmallGraph();
        model.Graph.Node.Add(Node("Add", "a", ["x", "b_out"], ["a_out"]));
        model.Graph.Node.Add(Node("Relu", "b", ["a_out"], ["b_out"]));
        model.Graph.Node.Add(Node("Relu", "c", ["b_out"], ["y"]));
        var (e, _) = LoadMalformed(model, "cycle.onnx");
        Assert.Contains("node 'a' (Add) reads 'b_out'", e.Message);
    }

    [Fact]
    public void NodeWithoutOutputsIsAFormatError()
    {
        var model = SmallGraph();
        model.Graph.Node.Add(Node("Relu", "relu", ["x"], []));
        model.Graph.Node.Add(Node("Relu", "relu_2", ["x"], ["y"]));
        var (e, _) = LoadMalformed(model, "nooutput.onnx");
        Assert.Contains("node 'relu' (Relu) has no outputs", e.Message);
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
