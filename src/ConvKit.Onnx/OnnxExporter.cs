using ConvKit.Kernels;
using ConvKit.Layers;
using ConvKit.Models;
using ConvKit.Onnx.Protobuf;
using ConvKit.Operations;
using ConvKit.Tensors;
using Google.Protobuf;

namespace ConvKit.Onnx;

/// <summary>
/// Exports a ConvKit model to ONNX (opset 17 or newer): named inputs and outputs (the input and output layers' names),
/// a dynamic batch dimension (<c>N</c>), and ConvKit's own input layout kept — an NHWC image input stays NHWC and
/// Transpose nodes move it to ONNX's NCHW around convolutions and pools — so ONNX Runtime given the same tensors returns
/// ConvKit's outputs.
/// </summary>
/// <remarks>
/// Layers: Input, Conv1D, Conv2D, DepthwiseConv2D, MaxPooling1D/2D, AveragePooling1D/2D, GlobalAverage/MaxPooling1D/2D, Flatten, Reshape,
/// Dense, Dropout, Activation, BatchNormalization, Add, Concatenate, and the layers an ONNX import creates
/// (OnnxConv, OnnxPool, OnnxBinary, OnnxMatMul, OnnxTranspose, OnnxReshape, OnnxFlatten, OnnxSoftmax, OnnxClip, OnnxPRelu,
/// OnnxUnary, OnnxReduce, LeakyReLU).
/// </remarks>
public static class OnnxExporter
{
    /// <summary>The oldest opset the exporter writes.</summary>
    public const int MinOpset = 17;

    /// <summary>Writes <paramref name="model"/> to <paramref name="path"/> as an ONNX model (atomically).</summary>
    /// <exception cref="NotSupportedException">Some layers have no ONNX form here; all of them are listed.</exception>
    public static void Save(Model model, string path, int opset = MinOpset) => OnnxFile.WriteModel(ToProto(model, opset), path);

    /// <summary>The ONNX model as bytes (for an in-memory session).</summary>
    public static byte[] ToBytes(Model model, int opset = MinOpset) => ToProto(model, opset).ToByteArray();

    /// <summary>The IR version that goes with an opset (ONNX's versioning table).</summary>
    private static long IrVersionFor(int opset) => opset switch
    {
        <= 18 => 8,
        <= 20 => 9,
        <= 22 => 10,
        _ => 11,
    };

    internal static ModelProto ToProto(Model model, int opset)
    {
        if (opset < MinOpset) throw new ArgumentException($"OnnxExporter writes opset {MinOpset} or newer; received opset={opset}.");
        if (!model.Built) throw new InvalidOperationException($"Model '{model.Name}' is not built yet; build it (call it once, or give it an Input) before export.");
        var export = new GraphExport(model, opset);
        var graph = export.Run();
        var proto = new ModelProto
        {
            IrVersion = IrVersionFor(opset),
            ProducerName = "ConvKit",
            ProducerVersion = typeof(Model).Assembly.GetName().Version?.ToString() ?? "",
            Graph = graph,
        };
        proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        return proto;
    }

    /// <summary>
    /// One export: each ConvKit tensor gets an ONNX name, held either as ConvKit has it or channels-first
    /// (ConvKit's last axis moved to axis 1), whichever the ops around it need.
    /// </summary>
    private sealed class GraphExport(Model model, int opset)
    {
        private readonly GraphProto graph = new() { Name = model.Name };
        private readonly Dictionary<SymbolicTensor, (string Name, bool ChannelsFirst)> names = new(ReferenceEqualityComparer.Instance);
        private readonly Dictionary<(SymbolicTensor, bool), string> converted = [];
        private readonly HashSet<string> used = [];
        private readonly List<string> problems = [];

        public GraphProto Run()
        {
            var order = new List<SymbolicTensor>();
            var seen = new HashSet<SymbolicTensor>(ReferenceEqualityComparer.Instance);
            void Visit(SymbolicTensor t)
            {
                if (!seen.Add(t)) return;
                foreach (var p in t.Parents) Visit(p);
                order.Add(t);
            }
            foreach (var o in model.Outputs) Visit(o);
            // Graph outputs carry their layers' names exactly; internal values of those layers get a suffix.
            foreach (var o in model.Outputs) used.Add(o.Layer.Name);
            foreach (var input in model.Inputs)
            {
                string name = Unique(input.Layer.Name);
                graph.Input.Add(ValueInfo(name, input.Shape));
                names[input] = (name, false);
            }
            foreach (var node in order)
            {
                if (names.ContainsKey(node)) continue;
                try { Export(node); }
                catch (NotSupportedException e)
                {
                    problems.Add($"layer '{node.Layer.Name}' ({node.Layer.TypeName}): {e.Message}");
                    // A stand-in name lets the layers below be checked too, so every problem is listed at once.
                    names[node] = (node.Layer.Name + "<unsupported>", false);
                }
            }
            if (problems.Count > 0)
                throw new NotSupportedException($"Model '{model.Name}' cannot be exported to ONNX:{Environment.NewLine}  " + string.Join(Environment.NewLine + "  ", problems));
            foreach (var output in model.Outputs)
            {
                string name = output.Layer.Name;
                if (graph.Output.Any(o => o.Name == name)) name = Unique(name);
                Node("Identity", [As(output, false)], name);
                graph.Output.Add(ValueInfo(name, output.Shape));
            }
            return graph;
        }

        private static ValueInfoProto ValueInfo(string name, Shape shape)
        {
            var tensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = new TensorShapeProto() };
            for (int i = 0; i < shape.Rank; i++)
                tensorType.Shape.Dim.Add(shape[i] == Shape.Unknown || i == 0
                    ? new TensorShapeProto.Types.Dimension { DimParam = i == 0 ? "N" : $"d{i}" }
                    : new TensorShapeProto.Types.Dimension { DimValue = shape[i] });
            return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensorType } };
        }

        private string Unique(string name)
        {
            string candidate = name;
            for (int i = 1; !used.Add(candidate); i++) candidate = $"{name}_{i}";
            return candidate;
        }

        /// <summary>Adds a node and returns its (first) output's name.</summary>
        private string Node(string opType, IEnumerable<string> inputs, string output, params AttributeProto[] attributes)
        {
            var node = new NodeProto { OpType = opType, Name = output };
            node.Input.AddRange(inputs);
            node.Output.Add(output);
            node.Attribute.AddRange(attributes);
            graph.Node.Add(node);
            return output;
        }

        private string Initializer(string name, Tensor value)
        {
            string unique = Unique(name);
            graph.Initializer.Add(OnnxTensors.FromFloats(unique, value.Span, value.Shape.ToArray()));
            return unique;
        }

        private string Longs(string name, params long[] values)
        {
            string unique = Unique(name);
            graph.Initializer.Add(OnnxTensors.FromLongs(unique, values));
            return unique;
        }

        private static AttributeProto Ints(string name, params int[] values)
        {
            var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
            a.Ints.AddRange(values.Select(v => (long)v));
            return a;
        }

        private static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };
        private static AttributeProto Float(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

        /// <summary>The ONNX name of <paramref name="t"/> held channels-first or as ConvKit has it, adding a Transpose when needed.</summary>
        private string As(SymbolicTensor t, bool channelsFirst)
        {
            var (name, isChannelsFirst) = names[t];
            int rank = t.Shape.Rank;
            if (isChannelsFirst == channelsFirst || rank < 3) return name;
            if (converted.TryGetValue((t, channelsFirst), out var done)) return done;
            var perm = channelsFirst ? Layouts.FromChannelsLast(rank) : Layouts.ToChannelsLast(rank);
            var result = Node("Transpose", [name], Unique(name + (channelsFirst ? "_nchw" : "_nhwc")), Ints("perm", perm));
            converted[(t, channelsFirst)] = result;
            return result;
        }

        private void Set(SymbolicTensor t, string name, bool channelsFirst) => names[t] = (name, channelsFirst);

        private void Export(SymbolicTensor node)
        {
            var layer = node.Layer;
            var inputs = node.Parents;
            string output = Unique(layer.Name);
            switch (layer)
            {
                case Conv2D conv:
                    Convolution(node, conv.Kernel!.Value, conv.Bias?.Value, conv.Strides, conv.DilationRate, SpatialPads(inputs[0].Shape, conv.KernelSize, conv.Strides, conv.DilationRate, conv.Padding), conv.Groups, output);
                    Activate(node, conv.ActivationFunction, output, true);
                    break;
                case DepthwiseConv2D conv:
                    Convolution(node, conv.GroupedKernel(), conv.Bias?.Value, conv.Strides, conv.DilationRate, SpatialPads(inputs[0].Shape, conv.KernelSize, conv.Strides, conv.DilationRate, conv.Padding), conv.InputChannels, output);
                    Activate(node, conv.ActivationFunction, output, true);
                    break;
                case Conv1D conv:
                    Convolution(node, conv.Kernel!.Value, conv.Bias?.Value, conv.Strides, conv.DilationRate, SpatialPads(inputs[0].Shape, conv.KernelSize, conv.Strides, conv.DilationRate, conv.Padding), conv.Groups, output);
                    Activate(node, conv.ActivationFunction, output, true);
                    break;
                case OnnxConv conv:
                    Convolution(node, conv.Kernel!.Value, conv.Bias?.Value, conv.Strides, conv.Dilations, conv.Pads, conv.Groups, output);
                    break;
                case MaxPooling2D or AveragePooling2D:
                {
                    var pool = (Pooling2D)layer;
                    int[] kernel = [pool.PoolSize.Height, pool.PoolSize.Width], strides = [pool.Strides.Height, pool.Strides.Width];
                    Pool(node, layer is MaxPooling2D, kernel, strides, [1, 1], SpatialPads(inputs[0].Shape, kernel, strides, [1, 1], pool.Padding), false, false, output);
                    break;
                }
                case Pooling1D pool:
                    Pool(node, pool.TypeName.StartsWith("Max", StringComparison.Ordinal), [pool.PoolSize], [pool.Strides], [1],
                        SpatialPads(inputs[0].Shape, [pool.PoolSize], [pool.Strides], [1], pool.Padding), false, false, output);
                    break;
                case OnnxPool pool:
                    Pool(node, pool.Max, pool.KernelSize, pool.Strides, pool.Dilations, pool.Pads, pool.CeilMode, pool.CountIncludePad, output);
                    break;
                case GlobalPooling:
                {
                    bool max = layer.TypeName.StartsWith("GlobalMax", StringComparison.Ordinal);
                    string pooled = Node(max ? "GlobalMaxPool" : "GlobalAveragePool", [As(inputs[0], true)], Unique(output + "_pool"));
                    Set(node, Node("Flatten", [pooled], output, Int("axis", 1)), false);
                    break;
                }
                case Flatten:
                    Set(node, Node("Flatten", [As(inputs[0], false)], output, Int("axis", 1)), false);
                    break;
                case Layers.Reshape reshape:
                    Set(node, Node("Reshape", [As(inputs[0], false), Longs(output + "/shape", [0, .. reshape.TargetShape.Select(d => (long)d)])], output), false);
                    break;
                case Dense dense:
                    DenseLayer(node, dense, output);
                    break;
                case Layers.Dropout:
                    names[node] = names[inputs[0]];
                    break;
                case Activation activation:
                {
                    bool cf = names[inputs[0]].ChannelsFirst;
                    names[node] = names[inputs[0]];
                    Activate(node, activation.Function, output, cf);
                    break;
                }
                case LeakyReLU leaky:
                    Set(node, Node("LeakyRelu", [names[inputs[0]].Name], output, Float("alpha", leaky.NegativeSlope)), names[inputs[0]].ChannelsFirst);
                    break;
                case OnnxClip clip:
                {
                    var bounds = new List<string> { names[inputs[0]].Name };
                    bounds.Add(float.IsNegativeInfinity(clip.Min) ? "" : Initializer(output + "/min", Tensor.Scalar(clip.Min)));
                    if (!float.IsPositiveInfinity(clip.Max)) bounds.Add(Initializer(output + "/max", Tensor.Scalar(clip.Max)));
                    Set(node, Node("Clip", bounds, output), names[inputs[0]].ChannelsFirst);
                    break;
                }
                case BatchNormalization bn:
                {
                    int channels = bn.MovingMean!.Shape[0];
                    bool cf = inputs[0].Shape.Rank >= 3;
                    Set(node, Node("BatchNormalization",
                    [
                        As(inputs[0], cf),
                        Initializer(layer.Name + "/gamma", bn.Gamma?.Value ?? Tensor.Ones(channels)),
                        Initializer(layer.Name + "/beta", bn.Beta?.Value ?? Tensor.Zeros(channels)),
                        Initializer(layer.Name + "/moving_mean", bn.MovingMean.Value),
                        Initializer(layer.Name + "/moving_variance", bn.MovingVariance!.Value),
                    ], output, Float("epsilon", bn.Epsilon), Float("momentum", bn.Momentum)), cf);
                    break;
                }
                case Add:
                {
                    bool cf = names[inputs[0]].ChannelsFirst;
                    string sum = As(inputs[0], cf);
                    for (int i = 1; i < inputs.Count; i++)
                        sum = Node("Add", [sum, As(inputs[i], cf)], i == inputs.Count - 1 ? output : Unique($"{output}_{i}"));
                    Set(node, sum, cf);
                    break;
                }
                case Concatenate concat:
                {
                    bool cf = names[inputs[0]].ChannelsFirst && node.Shape.Rank >= 3;
                    int rank = node.Shape.Rank;
                    int axis = node.Shape.NormalizeAxis(concat.Axis);
                    int onnxAxis = cf ? (axis == 0 ? 0 : axis == rank - 1 ? 1 : axis + 1) : axis;
                    Set(node, Node("Concat", inputs.Select(i => As(i, cf)), output, Int("axis", onnxAxis)), cf);
                    break;
                }
                case OnnxBinary binary:
                {
                    string op = binary.Operation.ToString();
                    if (binary.Constant is { } constant)
                    {
                        string c = Initializer(output + "/constant", constant.Value);
                        string x = As(inputs[0], false);
                        Set(node, Node(op, binary.ConstantFirst ? [c, x] : [x, c], output), false);
                    }
                    else Set(node, Node(op, [As(inputs[0], false), As(inputs[1], false)], output), false);
                    break;
                }
                case OnnxUnary unary:
                    Set(node, Node(unary.Operation.ToString(), [names[inputs[0]].Name], output), names[inputs[0]].ChannelsFirst);
                    break;
                case OnnxReduce reduce:
                {
                    // Axes became an input in opset 13 for ReduceSum and in 18 for the others.
                    string op = "Reduce" + reduce.Operation;
                    bool axesInput = reduce.Operation == ReduceOperation.Sum || opset >= 18;
                    var x = As(inputs[0], false);
                    var keep = Int("keepdims", reduce.KeepDims ? 1 : 0);
                    Set(node, reduce.Axes.Length == 0 ? Node(op, [x], output, keep)
                        : axesInput ? Node(op, [x, Longs(output + "/axes", reduce.Axes.Select(a => (long)a).ToArray())], output, keep)
                        : Node(op, [x], output, keep, Ints("axes", reduce.Axes)), false);
                    break;
                }
                case OnnxPRelu prelu:
                    Set(node, Node("PRelu", [As(inputs[0], false), Initializer(output + "/slope", prelu.Slope.Value)], output), false);
                    break;
                case OnnxMatMul:
                    Set(node, Node("MatMul", [As(inputs[0], false), As(inputs[1], false)], output), false);
                    break;
                case OnnxTranspose transpose:
                    Set(node, Node("Transpose", [As(inputs[0], false)], output, Ints("perm", transpose.Perm)), false);
                    break;
                case OnnxReshape reshape:
                    Set(node, Node("Reshape", [As(inputs[0], false), Longs(output + "/shape", reshape.TargetShape.Select(d => (long)d).ToArray())], output, Int("allowzero", reshape.AllowZero ? 1 : 0)), false);
                    break;
                case OnnxFlatten flatten:
                    Set(node, Node("Flatten", [As(inputs[0], false)], output, Int("axis", flatten.Axis)), false);
                    break;
                case OnnxSoftmax softmax when !softmax.Coerce2D:
                    Set(node, Node(softmax.Log ? "LogSoftmax" : "Softmax", [As(inputs[0], false)], output, Int("axis", softmax.Axis)), false);
                    break;
                default:
                    throw new NotSupportedException($"no ONNX form for {layer.TypeName} (with these arguments)");
            }
        }

        /// <summary>Explicit pads, ONNX order (begins then ends), for a Keras padding mode on known spatial sizes.</summary>
        private static int[] SpatialPads(Shape input, int[] kernel, int[] strides, int[] dilations, Padding padding)
        {
            int rank = kernel.Length;
            var pads = new int[2 * rank];
            for (int i = 0; i < rank; i++)
            {
                if (padding != Padding.Valid && padding != Padding.Causal && input[i + 1] == Shape.Unknown)
                    throw new NotSupportedException($"'same' padding needs a known spatial size; the input is {input}");
                (pads[i], pads[i + rank]) = ConvArithmetic.Pads(padding, Math.Max(0, input[i + 1]), kernel[i], strides[i], dilations[i]);
            }
            return pads;
        }

        /// <summary>Conv on the channels-first input: kernel (…k, C/g, K) → W (K, C/g, …k).</summary>
        private void Convolution(SymbolicTensor node, Tensor kernel, Tensor? bias, int[] strides, int[] dilations, int[] pads, int groups, string output)
        {
            var layer = node.Layer;
            int rank = kernel.Rank;
            int[] perm = rank switch { 5 => [4, 3, 0, 1, 2], 4 => [3, 2, 0, 1], _ => [2, 1, 0] };
            var w = Ops.Transpose(kernel, perm);
            var inputs = new List<string> { As(node.Parents[0], true), Initializer(layer.Name + "/kernel", w) };
            if (bias is not null) inputs.Add(Initializer(layer.Name + "/bias", bias));
            Set(node, Node("Conv", inputs, output, Ints("kernel_shape", w.Shape.ToArray()[2..]), Ints("strides", strides),
                Ints("dilations", dilations), Ints("pads", pads), Int("group", groups)), true);
        }

        private void Pool(SymbolicTensor node, bool max, int[] kernel, int[] strides, int[] dilations, int[] pads, bool ceil, bool countPad, string output)
        {
            var attributes = new List<AttributeProto> { Ints("kernel_shape", kernel), Ints("strides", strides), Ints("pads", pads), Int("ceil_mode", ceil ? 1 : 0) };
            if (dilations.Any(d => d != 1)) attributes.Add(Ints("dilations", dilations));
            if (!max) attributes.Add(Int("count_include_pad", countPad ? 1 : 0));
            Set(node, Node(max ? "MaxPool" : "AveragePool", [As(node.Parents[0], true)], output, [.. attributes]), true);
        }

        /// <summary>Dense: Gemm on 2-D inputs, MatMul (+ Add) on higher ranks.</summary>
        private void DenseLayer(SymbolicTensor node, Dense dense, string output)
        {
            string x = As(node.Parents[0], false);
            string kernel = Initializer(dense.Name + "/kernel", dense.Kernel!.Value);
            string? bias = dense.Bias is { } b ? Initializer(dense.Name + "/bias", b.Value) : null;
            string y;
            if (node.Shape.Rank == 2)
                y = Node("Gemm", bias is null ? [x, kernel] : [x, kernel, bias], output);
            else
            {
                y = Node("MatMul", [x, kernel], bias is null ? output : Unique(output + "_matmul"));
                if (bias is not null) y = Node("Add", [y, bias], output);
            }
            Set(node, y, false);
            Activate(node, dense.ActivationFunction, output, false);
        }

        /// <summary>Appends the activation node for a layer's fused activation; the tensor's name moves to its output.</summary>
        private void Activate(SymbolicTensor node, ActivationFunction function, string output, bool channelsFirst)
        {
            if (function.Name == "linear") return;
            string x = names[node].Name;
            string name = Unique(output + "_" + function.Name);
            int rank = node.Shape.Rank;
            string y = function.Name switch
            {
                "relu" => Node("Relu", [x], name),
                "sigmoid" => Node("Sigmoid", [x], name),
                "tanh" => Node("Tanh", [x], name),
                "elu" => Node("Elu", [x], name, Float("alpha", 1f)),
                "leaky_relu" => Node("LeakyRelu", [x], name, Float("alpha", 0.2f)),
                "softmax" => Node("Softmax", [x], name, Int("axis", channelsFirst && rank >= 3 ? 1 : -1)),
                "log_softmax" => Node("LogSoftmax", [x], name, Int("axis", channelsFirst && rank >= 3 ? 1 : -1)),
                _ => throw new NotSupportedException($"no ONNX form for activation '{function.Name}'"),
            };
            Set(node, y, channelsFirst);
        }
    }
}
