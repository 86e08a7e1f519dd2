using ConvKit.IO;
using ConvKit.Layers;
using ConvKit.Models;
using ConvKit.Onnx.Protobuf;
using ConvKit.Tensors;

namespace ConvKit.Onnx;

/// <summary>Options for <see cref="OnnxImporter.Load(string, OnnxImportOptions?)"/>.</summary>
public sealed class OnnxImportOptions
{
    /// <summary>
    /// Values for graph inputs that feed weight or shape slots (a Conv's W and B, BatchNormalization's statistics, a
    /// Gemm's B and C, a Reshape's shape…), as ONNX's backend tests feed them: such inputs become the layers' weights.
    /// Inputs given here that feed only data slots stay model inputs.
    /// </summary>
    public IReadOnlyDictionary<string, (int[] Shape, float[] Values)> InputValues { get; init; } = new Dictionary<string, (int[], float[])>();

    /// <summary>The name of the ConvKit model (default: the ONNX graph's name).</summary>
    public string? ModelName { get; init; }
}

/// <summary>
/// Imports an ONNX model (IR up to 13, default-domain opsets 6 and later) as a ConvKit functional model whose nodes are
/// layers, so it can be run, summarised, fine-tuned and saved. Layouts are converted once: convolution kernels
/// [K, C/g, R, S] become [R, S, C/g, K] and activations are channels-last between spatial ops; see <see cref="ImportedModel"/>.
/// </summary>
/// <example>
/// <code>
/// var imported = OnnxImporter.Load("resnet18.onnx");
/// imported.Model.Summary();
/// var y = imported.Run(Tensor.FromArray(nchw, 1, 3, 224, 224))[0];
/// </code>
/// </example>
public static partial class OnnxImporter
{
    /// <summary>The highest IR version this importer reads.</summary>
    public const long MaxIrVersion = 13;

    /// <summary>The lowest default-domain opset this importer reads.</summary>
    public const long MinOpset = 6;

    /// <summary>Reads and imports an ONNX model file.</summary>
    /// <exception cref="ConvKitFormatException">The file is not a well-formed ONNX model.</exception>
    /// <exception cref="OnnxUnsupportedException">The graph uses ops, attributes or data types ConvKit lacks (all are listed).</exception>
    public static ImportedModel Load(string path, OnnxImportOptions? options = null)
    {
        var model = OnnxFile.ReadModel(path);
        return new GraphImport(model, path, options ?? new OnnxImportOptions()).Run();
    }

    /// <summary>An ONNX value while the graph is wired: a symbolic tensor in some layout, or a constant.</summary>
    private sealed class Value
    {
        public SymbolicTensor? Tensor { get; init; }
        public TensorLayout Layout { get; init; }
        public ConstantTensor? Constant { get; init; }

        /// <summary>The shape in ONNX's axis order.</summary>
        public int[] OnnxShape => Constant?.Dims ?? (Layout == TensorLayout.ChannelsLast
            ? Layouts.Permute(Tensor!.Shape.ToArray(), Layouts.FromChannelsLast(Tensor.Shape.Rank))
            : Tensor!.Shape.ToArray());

        public int Rank => OnnxShape.Length;
    }

    /// <summary>A node cannot be imported; the reason goes into the list of unsupported nodes.</summary>
    private sealed class UnsupportedException(string reason) : Exception(reason);

    /// <summary>The state of one import: values by name, the layer names in use, the problems found.</summary>
    private sealed partial class GraphImport(ModelProto model, string path, OnnxImportOptions options)
    {
        private readonly Dictionary<string, Value> values = [];
        private readonly HashSet<string> layerNames = [];
        private readonly List<UnsupportedNode> problems = [];
        private readonly HashSet<string> failed = [];
        private readonly string prefix = "";
        private long opset;

        public ImportedModel Run()
        {
            var graph = model.Graph;
            if (model.IrVersion > MaxIrVersion)
                problems.Add(new UnsupportedNode(graph.Name, "model", $"IR version {model.IrVersion} is newer than the {MaxIrVersion} this importer reads"));
            opset = model.OpsetImport.Where(o => o.Domain is "" or "ai.onnx").Select(o => o.Version).DefaultIfEmpty(1).Max();
            if (opset < MinOpset)
                problems.Add(new UnsupportedNode(graph.Name, "model", $"opset {opset} is older than the {MinOpset} this importer reads"));

            ReadInitializers(graph);
            var bound = BoundInputs(graph);
            var inputs = new List<(string Name, SymbolicTensor Tensor, TensorLayout Layout)>();
            foreach (var input in graph.Input)
            {
                if (values.ContainsKey(input.Name)) continue;
                if (bound.TryGetValue(input.Name, out var constant)) { values[input.Name] = new Value { Constant = constant }; continue; }
                int[] shape; string? problem;
                try { (shape, problem) = InputShape(input); }
                catch (FormatException e) { throw new ConvKitFormatException(path, $"graph input '{input.Name}': {e.Message}", e); }
                if (problem is not null) { problems.Add(new UnsupportedNode(input.Name, "graph input", problem)); failed.Add(input.Name); continue; }
                var layout = shape.Length >= 3 && Consumers(graph, input.Name).All(n => SpatialOps.Contains(n.OpType)) && Consumers(graph, input.Name).Any()
                    ? TensorLayout.ChannelsLast : TensorLayout.Onnx;
                var dims = layout == TensorLayout.ChannelsLast ? Layouts.Permute(shape, Layouts.ToChannelsLast(shape.Length)) : shape;
                if (dims.Length == 0) { problems.Add(new UnsupportedNode(input.Name, "graph input", "scalar (rank-0) inputs are not supported")); failed.Add(input.Name); continue; }
                var tensor = new Input(dims[1..], dims[0] < 0 ? null : dims[0], UniqueName(input.Name));
                values[input.Name] = new Value { Tensor = tensor, Layout = layout };
                inputs.Add((input.Name, tensor, layout));
            }

            foreach (var node in graph.Node) ImportNode(node);

            var outputs = new List<(string Name, SymbolicTensor Tensor, TensorLayout Layout)>();
            foreach (var output in graph.Output)
            {
                if (!values.TryGetValue(output.Name, out var v))
                {
                    if (!failed.Contains(output.Name))
                        throw new ConvKitFormatException(path, $"graph output '{output.Name}' is produced by no node, input or initializer");
                    continue;
                }
                if (v.Tensor is null) { problems.Add(new UnsupportedNode(output.Name, "graph output", "the output is a constant; ConvKit models compute their outputs from inputs")); continue; }
                outputs.Add((output.Name, v.Tensor, v.Layout));
            }
            if (problems.Count > 0) throw new OnnxUnsupportedException(path, problems);
            if (inputs.Count == 0) throw new OnnxUnsupportedException(path, [new UnsupportedNode(graph.Name, "graph", "the graph has no inputs left to compute from")]);

            var convkit = new Model(inputs.Select(i => i.Tensor).ToList(), outputs.Select(o => o.Tensor).ToList(),
                options.ModelName ?? (string.IsNullOrEmpty(graph.Name) ? "onnx_model" : Sanitize(graph.Name)));
            return new ImportedModel(convkit, inputs.Select(i => i.Name).ToList(), inputs.Select(i => i.Layout).ToList(),
                outputs.Select(o => o.Name).ToList(), outputs.Select(o => o.Layout).ToList(), model.IrVersion, opset,
                $"{model.ProducerName} {model.ProducerVersion}".Trim());
        }

        private void ReadInitializers(GraphProto graph)
        {
            foreach (var t in graph.Initializer)
            {
                try { values[t.Name] = new Value { Constant = OnnxTensors.Read(t) }; }
                catch (FormatException e) { throw new ConvKitFormatException(path, e.Message, e); }
                catch (NotSupportedException e) { problems.Add(new UnsupportedNode(t.Name, "initializer", e.Message)); failed.Add(t.Name); }
            }
        }

        /// <summary>Graph inputs with a value in the options that some node reads in a weight or shape slot.</summary>
        private Dictionary<string, ConstantTensor> BoundInputs(GraphProto graph)
        {
            var bound = new Dictionary<string, ConstantTensor>();
            foreach (var node in graph.Node)
            {
                if (!Table.TryGetValue(node.OpType, out var entry)) continue;
                for (int i = 0; i < node.Input.Count; i++)
                    if (entry.ConstantSlots.Contains(i) && options.InputValues.TryGetValue(node.Input[i], out var v))
                        bound[node.Input[i]] = new ConstantTensor(v.Shape, v.Values, v.Values.Select(f => (long)f).ToArray(), (int)TensorProto.Types.DataType.Float);
            }
            return bound;
        }

        private static IEnumerable<NodeProto> Consumers(GraphProto graph, string name) => graph.Node.Where(n => n.Input.Contains(name));

        private static (int[] Shape, string? Problem) InputShape(ValueInfoProto input)
        {
            if (input.Type?.TensorType is not { } tensorType) return ([], "only tensor inputs are supported");
            if (tensorType.ElemType != (int)TensorProto.Types.DataType.Float)
                return ([], $"data type {OnnxTensors.TypeName(tensorType.ElemType)} is not supported; ConvKit computes in float32");
            if (tensorType.Shape is null) return ([], "the input has no shape");
            var given = tensorType.Shape.Dim.Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? d.DimValue : Shape.Unknown).ToArray();
            if (given.Any(d => d is < 0 and not Shape.Unknown || d > int.MaxValue))
                throw new FormatException($"dimensions ({string.Join(", ", given.Select(d => d == Shape.Unknown ? "None" : d.ToString(System.Globalization.CultureInfo.InvariantCulture)))}) must be ≥ 0 and below 2^31");
            var dims = given.Select(d => (int)d).ToArray();
            if (dims.Skip(1).Contains(Shape.Unknown)) return ([], $"only the batch (first) dimension may be symbolic; the shape is {Describe(dims)}");
            if (dims.Skip(1).Aggregate(1L, (size, d) => Math.Min(size * d, (long)Array.MaxLength + 1)) > Array.MaxLength)
                throw new FormatException($"shape {Describe(dims)} has more values per sample than one ConvKit tensor holds ({Array.MaxLength})");
            return (dims, null);
        }

        private void ImportNode(NodeProto node)
        {
            string name = string.IsNullOrEmpty(node.Name) ? (node.Output.FirstOrDefault(o => o != "") ?? node.OpType) : node.Name;
            if (node.Input.FirstOrDefault(i => i != "" && !values.ContainsKey(i) && !failed.Contains(i)) is { } undefined)
                throw new ConvKitFormatException(path, $"node '{name}' ({node.OpType}) reads '{undefined}', which no graph input, initializer or earlier node defines");
            if (node.Output.Count(o => o != "") == 0)
                throw new ConvKitFormatException(path, $"node '{name}' ({node.OpType}) has no outputs");
            // A node whose inputs failed is not reported again: the first failure explains it.
            if (node.Input.Any(i => i != "" && !values.ContainsKey(i)))
            {
                failed.UnionWith(node.Output);
                return;
            }
            try
            {
                if (node.Domain is not ("" or "ai.onnx"))
                    throw new UnsupportedException($"domain '{node.Domain}' is not supported (only the default ai.onnx operators are)");
                if (!Table.TryGetValue(node.OpType, out var entry))
                    throw new UnsupportedException($"op {node.OpType} is not supported");
                var unknown = node.Attribute.Select(a => a.Name).Where(a => !entry.Attributes.Contains(a)).ToList();
                if (unknown.Count > 0)
                    throw new UnsupportedException($"attribute{(unknown.Count > 1 ? "s" : "")} {string.Join(", ", unknown)} not supported");
                entry.Import(this, new Node(node, name, this));
            }
            catch (FormatException e)
            {
                throw new ConvKitFormatException(path, $"node '{name}' ({node.OpType}): {e.Message}", e);
            }
            catch (OverflowException e)
            {
                throw new ConvKitFormatException(path, $"node '{name}' ({node.OpType}) holds a value outside the 32-bit range: {e.Message}", e);
            }
            catch (Exception e) when (e is UnsupportedException or NotSupportedException or ArgumentException)
            {
                problems.Add(new UnsupportedNode(name, node.OpType, e.Message));
                failed.UnionWith(node.Output);
            }
        }

        /// <summary>A layer name derived from an ONNX name, unique within the model.</summary>
        public string UniqueName(string onnxName)
        {
            string baseName = Sanitize(onnxName);
            string candidate = baseName;
            for (int i = 1; !layerNames.Add(candidate); i++) candidate = $"{baseName}_{i}";
            return prefix + candidate;
        }

        private static string Sanitize(string name)
        {
            var chars = name.Select(c => char.IsLetterOrDigit(c) || c is '_' or '-' or '.' ? c : '_').ToArray();
            return chars.Length == 0 ? "node" : new string(chars);
        }

        public static string Describe(IEnumerable<int> dims) => "(" + string.Join(", ", dims.Select(d => d < 0 ? "None" : d.ToString(System.Globalization.CultureInfo.InvariantCulture))) + ")";
    }
}
