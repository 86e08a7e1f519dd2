using ConvKit.Layers;
using ConvKit.Operations;
using ConvKit.Tensors;

namespace ConvKit.Onnx;

// One method per ONNX op, named after it, reading ONNX's attribute names; all registered in Table.
// Layouts: spatial ops (Conv, pools, BatchNormalization on images) work channels-last; generic N-D ops
// (Flatten, Reshape, Transpose, Gemm, MatMul, 2-D-coerced softmax) work in ONNX's order; elementwise ops keep
// whatever layout their input has. GraphImport.InLayout inserts the conversions.
public static partial class OnnxImporter
{
    private sealed partial class GraphImport
    {
        /// <summary>An op's importer, the attributes it reads (others are reported), and the input slots that must be constants.</summary>
        private sealed record OpEntry(Action<GraphImport, Node> Import, string[] Attributes, int[] ConstantSlots);

        private static readonly string[] ConvAttributes = ["auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"];
        private static readonly string[] PoolAttributes = ["auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "strides"];
        private static readonly string[] ReduceAttributes = ["axes", "keepdims", "noop_with_empty_axes"];

        /// <summary>The ops ConvKit imports. Legacy attributes that do not change inference (spatial, is_test, consumed_inputs) are read and ignored.</summary>
        private static readonly Dictionary<string, OpEntry> Table = new()
        {
            ["Conv"] = new((g, n) => g.Conv(n), ConvAttributes, [1, 2]),
            ["MaxPool"] = new((g, n) => g.MaxPool(n), [.. PoolAttributes, "storage_order"], []),
            ["AveragePool"] = new((g, n) => g.AveragePool(n), [.. PoolAttributes, "count_include_pad"], []),
            ["GlobalAveragePool"] = new((g, n) => g.GlobalAveragePool(n), [], []),
            ["GlobalMaxPool"] = new((g, n) => g.GlobalMaxPool(n), [], []),
            ["BatchNormalization"] = new((g, n) => g.BatchNormalization(n), ["epsilon", "momentum", "spatial", "is_test", "consumed_inputs", "training_mode"], [1, 2, 3, 4]),
            ["Relu"] = new((g, n) => g.Relu(n), ["consumed_inputs"], []),
            ["LeakyRelu"] = new((g, n) => g.LeakyRelu(n), ["alpha", "consumed_inputs"], []),
            ["PRelu"] = new((g, n) => g.PRelu(n), ["consumed_inputs"], [1]),
            ["Sigmoid"] = new((g, n) => g.Sigmoid(n), ["consumed_inputs"], []),
            ["Tanh"] = new((g, n) => g.Tanh(n), ["consumed_inputs"], []),
            ["Softmax"] = new((g, n) => g.Softmax(n), ["axis"], []),
            ["LogSoftmax"] = new((g, n) => g.LogSoftmax(n), ["axis"], []),
            ["Gemm"] = new((g, n) => g.Gemm(n), ["alpha", "beta", "transA", "transB", "broadcast"], [1, 2]),
            ["MatMul"] = new((g, n) => g.MatMul(n), [], []),
            ["Add"] = new((g, n) => g.Add(n), ["broadcast", "axis", "consumed_inputs"], []),
            ["Sub"] = new((g, n) => g.Sub(n), ["broadcast", "axis", "consumed_inputs"], []),
            ["Mul"] = new((g, n) => g.Mul(n), ["broadcast", "axis", "consumed_inputs"], []),
            ["Div"] = new((g, n) => g.Div(n), ["broadcast", "axis", "consumed_inputs"], []),
            ["Flatten"] = new((g, n) => g.Flatten(n), ["axis"], []),
            ["Reshape"] = new((g, n) => g.Reshape(n), ["allowzero"], [1]),
            ["Transpose"] = new((g, n) => g.Transpose(n), ["perm"], []),
            ["Concat"] = new((g, n) => g.Concat(n), ["axis"], []),
            ["Dropout"] = new((g, n) => g.Dropout(n), ["ratio", "is_test", "seed", "consumed_inputs"], [1, 2]),
            ["Identity"] = new((g, n) => g.Identity(n), [], []),
            ["Constant"] = new((g, n) => g.Constant(n), ["value", "value_float", "value_floats", "value_int", "value_ints"], []),
            ["Clip"] = new((g, n) => g.Clip(n), ["min", "max", "consumed_inputs"], [1, 2]),
            ["Unsqueeze"] = new((g, n) => g.Unsqueeze(n), ["axes"], [1]),
            ["Squeeze"] = new((g, n) => g.Squeeze(n), ["axes"], [1]),
            ["Exp"] = new((g, n) => g.Exp(n), ["consumed_inputs"], []),
            ["Log"] = new((g, n) => g.Log(n), ["consumed_inputs"], []),
            ["Neg"] = new((g, n) => g.Neg(n), ["consumed_inputs"], []),
            ["Sqrt"] = new((g, n) => g.Sqrt(n), ["consumed_inputs"], []),
            ["Max"] = new((g, n) => g.Max(n), ["consumed_inputs"], []),
            ["Min"] = new((g, n) => g.Min(n), ["consumed_inputs"], []),
            ["CastLike"] = new((g, n) => g.CastLike(n), ["saturate"], []),
            ["ReduceSum"] = new((g, n) => g.ReduceSum(n), ReduceAttributes, [1]),
            ["ReduceMean"] = new((g, n) => g.ReduceMean(n), ReduceAttributes, [1]),
            ["ReduceMax"] = new((g, n) => g.ReduceMax(n), ReduceAttributes, [1]),
            ["ReduceMin"] = new((g, n) => g.ReduceMin(n), ReduceAttributes, [1]),
        };

        /// <summary>Ops that want their image input channels-last; a graph input read only by these is an NHWC model input.</summary>
        private static readonly HashSet<string> SpatialOps = ["Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "BatchNormalization"];

        // ---- convolution and pooling ------------------------------------------------------------------

        /// <summary>Conv: X [N, C, (D, H,) W], W [K, C/group, (T, R,) S], optional B [K] → channels-last <see cref="OnnxConv"/>.</summary>
        private void Conv(Node n)
        {
            int rank = n.In(0).Rank;
            if (rank is not (3 or 4 or 5)) throw new UnsupportedException($"{rank - 2}-D convolution is not supported (1-D, 2-D and 3-D are)");
            var w = n.Const(1, "W");
            if (w.Dims.Length != rank) throw new UnsupportedException($"weights W of shape {Describe(w.Dims)} do not match input of rank {rank}");
            var kernel = w.Dims[2..];
            if (n.Ints("kernel_shape") is { } declared && !declared.SequenceEqual(kernel))
                throw new FormatException($"kernel_shape [{string.Join(", ", declared)}] differs from the weights' [{string.Join(", ", kernel)}]");
            var (strides, dilations, pads) = Window(n, kernel);
            var bias = n.Has(2) ? n.Const(2, "B") : null;
            int group = (int)n.Int("group", 1);
            var layer = new OnnxConv(w.Dims[0], kernel, strides, dilations, pads, group, bias is not null, n.LayerName(), Initializer.Zeros);
            var y = layer.Call(n.Data(0, TensorLayout.ChannelsLast));
            layer.Kernel!.Assign(Ops.Transpose(w.ToTensor(), rank switch { 5 => [2, 3, 4, 1, 0], 4 => [2, 3, 1, 0], _ => [2, 1, 0] }));
            if (bias is not null) layer.Bias!.Assign(bias.ToTensor().Reshape(w.Dims[0]));
            n.Output(0, y, TensorLayout.ChannelsLast);
        }

        private void MaxPool(Node n)
        {
            n.OnlyOutputs(1, "Indices");
            Pool(n, max: true);
        }

        private void AveragePool(Node n) => Pool(n, max: false);

        /// <summary>MaxPool and AveragePool: kernel_shape, strides, pads or auto_pad, dilations, ceil_mode, count_include_pad.</summary>
        private void Pool(Node n, bool max)
        {
            int rank = n.In(0).Rank;
            if (rank is not (3 or 4 or 5)) throw new UnsupportedException($"{rank - 2}-D pooling is not supported (1-D, 2-D and 3-D are)");
            var kernel = n.Ints("kernel_shape") ?? throw new UnsupportedException("kernel_shape is required");
            if (kernel.Length != rank - 2) throw new UnsupportedException($"kernel_shape {Describe(kernel)} does not match input of rank {rank}");
            var (strides, dilations, pads) = Window(n, kernel);
            var layer = new OnnxPool(max, kernel, strides, dilations, pads, n.Int("ceil_mode", 0) != 0, n.Int("count_include_pad", 0) != 0, n.LayerName());
            n.Output(0, layer.Call(n.Data(0, TensorLayout.ChannelsLast)), TensorLayout.ChannelsLast);
        }

        /// <summary>Strides, dilations and explicit pads (begins then ends) of a Conv or pool window, with auto_pad resolved.</summary>
        private static (int[] Strides, int[] Dilations, int[] Pads) Window(Node n, int[] kernel)
        {
            int rank = kernel.Length;
            var strides = n.Ints("strides") ?? Enumerable.Repeat(1, rank).ToArray();
            var dilations = n.Ints("dilations") ?? Enumerable.Repeat(1, rank).ToArray();
            if (strides.Length != rank || dilations.Length != rank)
                throw new UnsupportedException($"strides {Describe(strides)} and dilations {Describe(dilations)} need {rank} values");
            if (kernel.Any(k => k <= 0) || strides.Any(s => s <= 0) || dilations.Any(d => d <= 0))
                throw new FormatException($"kernel_shape [{string.Join(", ", kernel)}], strides [{string.Join(", ", strides)}] and dilations [{string.Join(", ", dilations)}] must be positive");
            string autoPad = n.String("auto_pad", "NOTSET");
            var spatial = n.In(0).OnnxShape[2..];
            int[] pads;
            switch (autoPad)
            {
                case "NOTSET":
                    pads = n.Ints("pads") ?? new int[2 * rank];
                    if (pads.Length != 2 * rank) throw new UnsupportedException($"pads {Describe(pads)} need {2 * rank} values");
                    if (pads.Any(p => p < 0)) throw new FormatException($"pads [{string.Join(", ", pads)}] must not be negative");
                    break;
                case "VALID":
                    pads = new int[2 * rank];
                    break;
                case "SAME_UPPER" or "SAME_LOWER":
                    pads = new int[2 * rank];
                    for (int i = 0; i < rank; i++)
                    {
                        if (spatial[i] < 0) throw new UnsupportedException($"auto_pad {autoPad} needs known spatial sizes; the input is {Describe(n.In(0).OnnxShape)}");
                        int output = (spatial[i] + strides[i] - 1) / strides[i];
                        int total = Math.Max(0, (output - 1) * strides[i] + dilations[i] * (kernel[i] - 1) + 1 - spatial[i]);
                        int small = total / 2;
                        (pads[i], pads[i + rank]) = autoPad == "SAME_UPPER" ? (small, total - small) : (total - small, small);
                    }
                    break;
                default:
                    throw new UnsupportedException($"auto_pad '{autoPad}' is not supported");
            }
            return (strides, dilations, pads);
        }

        private void GlobalAveragePool(Node n) => GlobalPool(n, max: false);
        private void GlobalMaxPool(Node n) => GlobalPool(n, max: true);

        /// <summary>Global pools keep ONNX's singleton spatial axes: (N, H, W, C) → (N, C) → (N, 1, 1, C).</summary>
        private void GlobalPool(Node n, bool max)
        {
            int rank = n.In(0).Rank;
            if (rank is not (3 or 4)) throw new UnsupportedException($"global pooling over {rank - 2}-D input is not supported (1-D and 2-D are)");
            Layer pool = (rank, max) switch
            {
                (4, false) => new GlobalAveragePooling2D(n.LayerName()),
                (4, true) => new GlobalMaxPooling2D(n.LayerName()),
                (_, false) => new GlobalAveragePooling1D(n.LayerName()),
                _ => new GlobalMaxPooling1D(n.LayerName()),
            };
            var pooled = pool.Call(n.Data(0, TensorLayout.ChannelsLast));
            int channels = pooled.Shape[1];
            var keep = new Reshape(rank == 4 ? [1, 1, channels] : [1, channels], n.LayerName("keepdims")).Call(pooled);
            n.Output(0, keep, TensorLayout.ChannelsLast);
        }

        /// <summary>
        /// BatchNormalization (inference): y = scale · (x − mean) / √(var + epsilon) + B over axis 1 (channels-last inside).
        /// With training_mode=1 (opset 14 on), see <see cref="BatchNormalizationTraining"/>.
        /// </summary>
        private void BatchNormalization(Node n)
        {
            float epsilon = n.Float("epsilon", 1e-5f);
            float momentum = n.Float("momentum", 0.9f);
            if (epsilon <= 0) throw new UnsupportedException($"epsilon={epsilon} must be positive");
            if (n.Int("training_mode", 0) != 0) { BatchNormalizationTraining(n, epsilon, momentum); return; }
            n.OnlyOutputs(1, "running statistics (training_mode=0)");
            var layer = new BatchNormalization(momentum is >= 0 and <= 1 ? momentum : 0.9f, epsilon, name: n.LayerName());
            var y = layer.Call(n.Data(0, TensorLayout.ChannelsLast));
            int channels = layer.MovingMean!.Shape[0];
            layer.Gamma!.Assign(n.Const(1, "scale").ToTensor().Reshape(channels));
            layer.Beta!.Assign(n.Const(2, "B").ToTensor().Reshape(channels));
            layer.MovingMean.Assign(n.Const(3, "mean").ToTensor().Reshape(channels));
            layer.MovingVariance!.Assign(n.Const(4, "var").ToTensor().Reshape(channels));
            n.Output(0, y, n.In(0).Rank >= 3 ? TensorLayout.ChannelsLast : TensorLayout.Onnx);
        }

        /// <summary>
        /// BatchNormalization with training_mode=1, spelled out in layers so it computes the same whenever the model runs:
        /// μ and σ² are the batch statistics over every axis but the channels (σ² biased, as ONNX's reference),
        /// y = scale · (x − μ) / √(σ² + epsilon) + B, running_mean = mean · momentum + μ · (1 − momentum), and
        /// running_var = var · momentum + σ² · (1 − momentum).
        /// </summary>
        private void BatchNormalizationTraining(Node n, float epsilon, float momentum)
        {
            var x = n.In(0);
            if (x.Tensor is null) throw new UnsupportedException("the input is a constant");
            int rank = x.Rank;
            if (rank < 2) throw new UnsupportedException($"input {Describe(x.OnnxShape)} has no channel axis");
            int channels = x.OnnxShape[1];
            int[] axes = [0, .. Enumerable.Range(2, rank - 2)];
            // A per-channel constant in ONNX's order, (C, 1, …) beside x and (C,) beside the statistics.
            Value PerChannel(Tensor values, bool besideX) => new() { Constant = ConstantTensor.FromTensor(besideX ? values.Reshape([channels, .. Enumerable.Repeat(1, rank - 2)]) : values.Reshape(channels)) };
            Value Scalar(float value) => new() { Constant = ConstantTensor.FromTensor(Tensor.Scalar(value)) };

            var mean = ReduceValue(ReduceOperation.Mean, x, axes, keepDims: true, n.LayerName("batch_mean"));
            var centered = Combine(BinaryOperation.Sub, x, mean, n.LayerName("centered"));
            var squares = Combine(BinaryOperation.Mul, centered, centered, n.LayerName("squares"));
            var variance = ReduceValue(ReduceOperation.Mean, squares, axes, keepDims: true, n.LayerName("batch_var"));
            var deviation = Unary(UnaryOperation.Sqrt, Combine(BinaryOperation.Add, variance, Scalar(epsilon), n.LayerName("var_epsilon")), n.LayerName("std"));
            var normalized = Combine(BinaryOperation.Div, centered, deviation, n.LayerName("normalized"));
            var scaled = Combine(BinaryOperation.Mul, normalized, PerChannel(n.Const(1, "scale").ToTensor(), true), n.LayerName("scaled"));
            n.Output(0, Combine(BinaryOperation.Add, scaled, PerChannel(n.Const(2, "B").ToTensor(), true), n.LayerName()));

            var running = new[] { (Input: 3, What: "input_mean", Source: x, Output: 1), (Input: 4, What: "input_var", Source: squares, Output: 2) };
            foreach (var (input, what, source, output) in running)
            {
                if (!n.HasOutput(output)) continue;
                var batch = ReduceValue(ReduceOperation.Mean, source, axes, keepDims: false, n.LayerName(what + "_batch"));
                var weighted = Combine(BinaryOperation.Mul, batch, Scalar(1 - momentum), n.LayerName(what + "_new"));
                var previous = PerChannel(Ops.Scale(n.Const(input, what).ToTensor(), momentum), false);
                n.Output(output, Combine(BinaryOperation.Add, weighted, previous, n.LayerName(what == "input_mean" ? "running_mean" : "running_var")));
            }
        }

        /// <summary>An <see cref="OnnxUnary"/> layer on a computed value, in its layout.</summary>
        private static Value Unary(UnaryOperation operation, Value x, string layerName) =>
            new() { Tensor = new OnnxUnary(operation, layerName).Call(x.Tensor!), Layout = x.Layout };

        // ---- elementwise ------------------------------------------------------------------------------

        private void Relu(Node n) => Elementwise(n, new Activation(Activation.Relu, n.LayerName()));
        private void Sigmoid(Node n) => Elementwise(n, new Activation(Activation.Sigmoid, n.LayerName()));
        private void Tanh(Node n) => Elementwise(n, new Activation(Activation.Tanh, n.LayerName()));
        private void LeakyRelu(Node n) => Elementwise(n, new LeakyReLU(n.Float("alpha", 0.01f), n.LayerName()));

        /// <summary>PRelu: the constant slope becomes the layer's trainable weight, permuted into the input's layout.</summary>
        private void PRelu(Node n)
        {
            var x = n.In(0);
            if (x.Tensor is null) throw new UnsupportedException("the input is a constant");
            var slope = n.Const(1, "slope").ToTensor();
            // Opset 6 exporters give one slope per channel as [C]; from opset 7 on that would broadcast against the last axis.
            if (n.Opset < 7 && slope.Rank == 1 && slope.Size > 1 && x.Rank >= 3 && slope.Size == x.OnnxShape[1])
                slope = slope.Reshape([slope.Size, .. Enumerable.Repeat(1, x.Rank - 2)]);
            var layout = x.Layout == TensorLayout.ChannelsLast && slope.Rank <= x.Rank ? TensorLayout.ChannelsLast : TensorLayout.Onnx;
            if (layout == TensorLayout.ChannelsLast)
                slope = Ops.Transpose(slope.Reshape([.. Enumerable.Repeat(1, x.Rank - slope.Rank), .. slope.Shape]), Layouts.ToChannelsLast(x.Rank));
            var layer = new OnnxPRelu(slope.Shape.ToArray(), n.LayerName());
            var y = layer.Call(n.Data(0, layout));
            layer.Slope.Assign(slope);
            n.Output(0, y, layout);
        }

        /// <summary>Clip: min and max are attributes before opset 11 and optional constant inputs from 11 on.</summary>
        private void Clip(Node n)
        {
            float min = n.Opset < 11 ? n.Float("min", float.NegativeInfinity) : n.Has(1) ? n.Const(1, "min").Floats.Single() : float.NegativeInfinity;
            float max = n.Opset < 11 ? n.Float("max", float.PositiveInfinity) : n.Has(2) ? n.Const(2, "max").Floats.Single() : float.PositiveInfinity;
            Elementwise(n, new OnnxClip(min, max, n.LayerName()));
        }

        /// <summary>A one-input layer that keeps the shape, applied in whatever layout its input has.</summary>
        private static void Elementwise(Node n, Layer layer)
        {
            var x = n.In(0);
            if (x.Tensor is null) throw new UnsupportedException("the input is a constant; fold it before export");
            n.Output(0, layer.Call(x.Tensor), x.Layout);
        }

        private void Add(Node n) => Binary(n, BinaryOperation.Add);
        private void Sub(Node n) => Binary(n, BinaryOperation.Sub);
        private void Mul(Node n) => Binary(n, BinaryOperation.Mul);
        private void Div(Node n) => Binary(n, BinaryOperation.Div);

        /// <summary>
        /// Add, Sub, Mul, Div with broadcasting. A constant operand becomes the layer's weight, permuted to the other
        /// operand's layout (a bias [C, 1, 1] beside an NCHW activation becomes [1, 1, 1, C] beside NHWC).
        /// </summary>
        private void Binary(Node n, BinaryOperation operation)
        {
            var (a, b) = (n.In(0), n.In(1));
            if (n.Opset < 7 && n.Int("broadcast", 0) != 0 && n.Attribute("axis") is not null)
            {
                // Opset 6 broadcasting aligns B at `axis` of A rather than at the end: pad B's shape with trailing ones.
                int axis = (int)n.Int("axis", 0);
                if (axis < 0) axis += a.Rank;
                var bc = b.Constant ?? throw new UnsupportedException("opset-6 broadcasting with an axis needs a constant B");
                b = new Value { Constant = bc with { Dims = [.. bc.Dims, .. Enumerable.Repeat(1, Math.Max(0, a.Rank - axis - bc.Dims.Length))] } };
            }
            n.Output(0, Combine(operation, a, b, n.LayerName()));
        }

        /// <summary>
        /// a ∘ b for two values: folded when both are constants; otherwise an <see cref="OnnxBinary"/> layer, a constant
        /// operand permuted into the other operand's layout.
        /// </summary>
        private Value Combine(BinaryOperation operation, Value a, Value b, string layerName)
        {
            if (a.Constant is not null && b.Constant is not null)
                return new Value { Constant = ConstantTensor.FromTensor(Apply(operation, a.Constant.ToTensor(), b.Constant.ToTensor())) };
            if (a.Constant is not null || b.Constant is not null)
            {
                bool constantFirst = a.Constant is not null;
                var (data, constant) = constantFirst ? (b, a.Constant!) : (a, b.Constant!);
                var layout = data.Layout == TensorLayout.ChannelsLast && constant.Dims.Length <= data.Rank ? TensorLayout.ChannelsLast : TensorLayout.Onnx;
                var c = constant.ToTensor();
                if (layout == TensorLayout.ChannelsLast)
                {
                    c = c.Reshape([.. Enumerable.Repeat(1, data.Rank - c.Rank), .. c.Shape]);
                    c = Ops.Transpose(c, Layouts.ToChannelsLast(data.Rank));
                }
                var layer = new OnnxBinary(operation, c.Shape.ToArray(), constantFirst, layerName);
                var y = layer.Call(new[] { InLayout(data, layout, layerName) });
                layer.Constant!.Assign(c);
                return new Value { Tensor = y, Layout = layout };
            }
            var shared = a.Layout == b.Layout && a.Rank == b.Rank ? a.Layout : TensorLayout.Onnx;
            var z = new OnnxBinary(operation, name: layerName).Call(InLayout(a, shared, layerName), InLayout(b, shared, layerName));
            return new Value { Tensor = z, Layout = shared };
        }

        private void Max(Node n) => Extremum(n, BinaryOperation.Max);
        private void Min(Node n) => Extremum(n, BinaryOperation.Min);

        /// <summary>Max and Min of one or more inputs with broadcasting, folded left into two-operand layers.</summary>
        private void Extremum(Node n, BinaryOperation operation)
        {
            var operands = Enumerable.Range(0, n.InputCount).Where(n.Has).Select(n.In).ToList();
            if (operands.Count == 0) throw new UnsupportedException($"{n.OpType} needs at least one input");
            var result = operands[0];
            for (int i = 1; i < operands.Count; i++)
                result = Combine(operation, result, operands[i], operands.Count == 2 ? n.LayerName() : n.LayerName(i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            n.Output(0, result);
        }

        private void Exp(Node n) => Unary(n, UnaryOperation.Exp);
        private void Log(Node n) => Unary(n, UnaryOperation.Log);
        private void Neg(Node n) => Unary(n, UnaryOperation.Neg);
        private void Sqrt(Node n) => Unary(n, UnaryOperation.Sqrt);

        /// <summary>Exp, Log, Neg, Sqrt: an <see cref="OnnxUnary"/> layer in the input's layout, or folded on a constant.</summary>
        private static void Unary(Node n, UnaryOperation operation)
        {
            if (n.In(0).Constant is { } c) { n.Output(0, ConstantTensor.FromTensor(OnnxUnary.Apply(operation, c.ToTensor()))); return; }
            Elementwise(n, new OnnxUnary(operation, n.LayerName()));
        }

        /// <summary>CastLike: float32 to float32 is the identity, the only cast ConvKit can express (it computes in float32).</summary>
        private void CastLike(Node n)
        {
            const int float32 = (int)Protobuf.TensorProto.Types.DataType.Float;
            int from = n.In(0).Constant?.DataType ?? float32, to = n.In(1).Constant?.DataType ?? float32;
            if (from != float32 || to != float32)
                throw new UnsupportedException($"CastLike from {OnnxTensors.TypeName(from)} to {OnnxTensors.TypeName(to)} is not supported; ConvKit computes in float32");
            n.Output(0, n.In(0));
        }

        private static Tensor Apply(BinaryOperation operation, Tensor a, Tensor b) => operation switch
        {
            BinaryOperation.Add => Ops.Add(a, b),
            BinaryOperation.Sub => Ops.Subtract(a, b),
            BinaryOperation.Mul => Ops.Multiply(a, b),
            BinaryOperation.Div => Ops.Divide(a, b),
            BinaryOperation.Max => Ops.Maximum(a, b),
            _ => Ops.Minimum(a, b),
        };

        // ---- softmax ----------------------------------------------------------------------------------

        private void Softmax(Node n) => SoftmaxAlong(n, log: false);
        private void LogSoftmax(Node n) => SoftmaxAlong(n, log: true);

        /// <summary>
        /// From opset 13 on, along one axis (default −1), mapped into the channels-last layout when the input is there;
        /// before 13, over the input coerced to 2-D at axis (default 1), which needs ONNX's order.
        /// </summary>
        private static void SoftmaxAlong(Node n, bool log)
        {
            var x = n.In(0);
            int rank = x.Rank;
            bool coerce = n.Opset < 13;
            int axis = (int)n.Int("axis", coerce ? 1 : -1);
            if (axis < -rank || axis >= Math.Max(rank, 1)) throw new UnsupportedException($"axis {axis} is out of range for input {Describe(x.OnnxShape)}");
            if (axis < 0) axis += rank;
            if (!coerce && x.Layout == TensorLayout.ChannelsLast)
            {
                var layer = new OnnxSoftmax(Layouts.ChannelsLastAxis(axis, rank), log, false, n.LayerName());
                n.Output(0, layer.Call(x.Tensor!), TensorLayout.ChannelsLast);
                return;
            }
            var y = new OnnxSoftmax(axis, log, coerce && axis != rank - 1, n.LayerName()).Call(n.Data(0, TensorLayout.Onnx));
            n.Output(0, y, TensorLayout.Onnx);
        }

        // ---- reductions -------------------------------------------------------------------------------

        private void ReduceSum(Node n) => Reduce(n, ReduceOperation.Sum, axesInputFrom: 13);
        private void ReduceMean(Node n) => Reduce(n, ReduceOperation.Mean, axesInputFrom: 18);
        private void ReduceMax(Node n) => Reduce(n, ReduceOperation.Max, axesInputFrom: 18);
        private void ReduceMin(Node n) => Reduce(n, ReduceOperation.Min, axesInputFrom: 18);

        /// <summary>
        /// ReduceSum/Mean/Max/Min: axes are an attribute before <paramref name="axesInputFrom"/> (13 for ReduceSum, 18 for
        /// the others) and an optional constant input from then on; none means all axes, or the identity with
        /// noop_with_empty_axes. keepdims (default 1) keeps reduced axes as 1, and then a channels-last input stays so.
        /// </summary>
        private static void Reduce(Node n, ReduceOperation operation, int axesInputFrom)
        {
            var x = n.In(0);
            int rank = x.Rank;
            var listed = n.Opset < axesInputFrom ? n.Ints("axes") : n.Has(1) ? n.Const(1, "axes").Longs.Select(v => checked((int)v)).ToArray() : null;
            if (n.Opset >= axesInputFrom && n.Attribute("axes") is not null)
                throw new UnsupportedException($"axes is an input from opset {axesInputFrom} on, not an attribute");
            bool keepDims = n.Int("keepdims", 1) != 0;
            if ((listed is null || listed.Length == 0) && n.Int("noop_with_empty_axes", 0) != 0) { n.Output(0, x); return; }
            var axes = (listed ?? []).Select(a => a >= -rank && a < rank ? (a + rank) % rank
                : throw new UnsupportedException($"axis {a} is out of range for input {Describe(x.OnnxShape)}")).ToArray();
            if (x.Constant is { } c)
            {
                n.Output(0, ConstantTensor.FromTensor(new OnnxReduce(operation, axes, keepDims).Call(c.ToTensor())));
                return;
            }
            n.Output(0, n.Import.ReduceValue(operation, x, axes.Length == 0 ? [.. Enumerable.Range(0, rank)] : axes, keepDims, n.LayerName()));
        }

        /// <summary>
        /// An <see cref="OnnxReduce"/> over ONNX <paramref name="axes"/> of a computed value. A channels-last input is reduced
        /// in place when keepdims holds its layout, or when the axes left keep ONNX's order (e.g. all but the channels);
        /// otherwise it is put back in ONNX's order first.
        /// </summary>
        private Value ReduceValue(ReduceOperation operation, Value x, int[] axes, bool keepDims, string layerName)
        {
            int rank = x.Rank;
            if (x.Layout == TensorLayout.ChannelsLast)
            {
                var mapped = axes.Select(a => Layouts.ChannelsLastAxis(a, rank)).ToArray();
                var left = Enumerable.Range(0, rank).Except(axes).Select(a => Layouts.ChannelsLastAxis(a, rank)).ToList();
                if (keepDims || left.SequenceEqual(left.Order()))
                {
                    var y = new OnnxReduce(operation, mapped, keepDims, layerName).Call(x.Tensor!);
                    return new Value { Tensor = y, Layout = keepDims ? TensorLayout.ChannelsLast : TensorLayout.Onnx };
                }
            }
            var z = new OnnxReduce(operation, axes, keepDims, layerName).Call(InLayout(x, TensorLayout.Onnx, layerName));
            return new Value { Tensor = z, Layout = TensorLayout.Onnx };
        }

        // ---- dense ------------------------------------------------------------------------------------

        /// <summary>
        /// Gemm: Y = alpha · A' · B' + beta · C. A constant B becomes a <see cref="Dense"/> layer with kernel alpha · B'
        /// (and bias beta · C when C is a vector); otherwise a transpose, an <see cref="OnnxMatMul"/> and elementwise layers.
        /// </summary>
        private void Gemm(Node n)
        {
            float alpha = n.Float("alpha", 1f), beta = n.Float("beta", 1f);
            bool transA = n.Int("transA", 0) != 0, transB = n.Int("transB", 0) != 0;
            if (n.In(0).Rank != 2 || n.In(1).Rank != 2) throw new UnsupportedException($"Gemm needs 2-D A and B; received {Describe(n.In(0).OnnxShape)} and {Describe(n.In(1).OnnxShape)}");
            var a = n.Data(0, TensorLayout.Onnx);
            if (transA) a = new OnnxTranspose([1, 0], n.LayerName("transA")).Call(a);
            SymbolicTensor product;
            int units;
            bool biasDone = false;
            if (n.In(1).Constant is { } bConstant)
            {
                var b = bConstant.ToTensor();
                if (transB) b = Ops.Transpose(b, 1, 0);
                if (alpha != 1) b = Ops.Scale(b, alpha);
                units = b.Shape[1];
                var c = n.Has(2) ? n.In(2).Constant : null;
                bool vectorBias = c is not null && c.Size == units && c.Dims.Take(Math.Max(0, c.Dims.Length - 1)).All(d => d == 1);
                var dense = new Dense(units, useBias: vectorBias, name: n.LayerName());
                product = dense.Call(a);
                dense.Kernel!.Assign(b);
                if (vectorBias)
                {
                    dense.Bias!.Assign(Ops.Scale(c!.ToTensor(), beta).Reshape(units));
                    biasDone = true;
                }
            }
            else
            {
                var b = n.Data(1, TensorLayout.Onnx);
                if (transB) b = new OnnxTranspose([1, 0], n.LayerName("transB")).Call(b);
                product = new OnnxMatMul(n.LayerName()).Call(a, b);
                units = product.Shape[1];
                if (alpha != 1) product = ScaleBy(product, alpha, n.LayerName("alpha"));
            }
            if (n.Has(2) && !biasDone)
            {
                if (n.In(2).Constant is { } c)
                {
                    var scaled = Ops.Scale(c.ToTensor(), beta);
                    var add = new OnnxBinary(BinaryOperation.Add, scaled.Shape.ToArray(), name: n.LayerName("bias"));
                    product = add.Call(new[] { product });
                    add.Constant!.Assign(scaled);
                }
                else
                {
                    var cTensor = n.Data(2, TensorLayout.Onnx);
                    if (beta != 1) cTensor = ScaleBy(cTensor, beta, n.LayerName("beta"));
                    product = new OnnxBinary(BinaryOperation.Add, name: n.LayerName("bias")).Call(product, cTensor);
                }
            }
            n.Output(0, product, TensorLayout.Onnx);
        }

        private static SymbolicTensor ScaleBy(SymbolicTensor x, float factor, string name)
        {
            var layer = new OnnxBinary(BinaryOperation.Mul, [], name: name);
            var y = layer.Call(new[] { x });
            layer.Constant!.Assign(Tensor.Scalar(factor));
            return y;
        }

        /// <summary>MatMul: A (…, K) · B (K, N). A constant B becomes a bias-free <see cref="Dense"/> layer.</summary>
        private void MatMul(Node n)
        {
            if (n.In(1).Rank != 2) throw new UnsupportedException($"MatMul with B of rank {n.In(1).Rank} is not supported (B must be 2-D)");
            if (n.In(0).Rank < 2) throw new UnsupportedException($"MatMul with 1-D A is not supported");
            var a = n.Data(0, TensorLayout.Onnx);
            if (n.In(1).Constant is { } b)
            {
                var dense = new Dense(b.Dims[1], useBias: false, name: n.LayerName());
                var y = dense.Call(a);
                dense.Kernel!.Assign(b.ToTensor());
                n.Output(0, y, TensorLayout.Onnx);
                return;
            }
            n.Output(0, new OnnxMatMul(n.LayerName()).Call(a, n.Data(1, TensorLayout.Onnx)), TensorLayout.Onnx);
        }

        // ---- shape ------------------------------------------------------------------------------------

        /// <summary>Flatten: (d0…d(axis−1), d(axis)…) in ONNX's order (a channels-last input is put back first).</summary>
        private void Flatten(Node n)
        {
            var x = n.In(0);
            int axis = (int)n.Int("axis", 1);
            if (x.Constant is { } c)
            {
                int a = axis < 0 ? axis + c.Dims.Length : axis;
                n.Output(0, c with { Dims = [c.Dims.Take(a).Aggregate(1, (p, d) => p * d), c.Dims.Skip(a).Aggregate(1, (p, d) => p * d)] });
                return;
            }
            n.Output(0, new OnnxFlatten(axis, n.LayerName()).Call(n.Data(0, TensorLayout.Onnx)), TensorLayout.Onnx);
        }

        /// <summary>Reshape: the shape input is a constant; 0 copies a dimension (unless allowzero) and −1 is inferred.</summary>
        private void Reshape(Node n)
        {
            var shape = n.Const(1, "shape").Longs.Select(d => checked((int)d)).ToArray();
            bool allowZero = n.Int("allowzero", 0) != 0;
            var x = n.In(0);
            if (x.Constant is { } c)
            {
                n.Output(0, c with { Dims = c.ToTensor().Reshape(shape.Select((d, i) => d == 0 && !allowZero ? c.Dims[i] : d).ToArray()).Shape.ToArray() });
                return;
            }
            n.Output(0, new OnnxReshape(shape, allowZero, n.LayerName()).Call(n.Data(0, TensorLayout.Onnx)), TensorLayout.Onnx);
        }

        /// <summary>Transpose (default perm: reversed axes). On a channels-last input the two permutations are composed into one.</summary>
        private void Transpose(Node n)
        {
            var x = n.In(0);
            int rank = x.Rank;
            var perm = n.Ints("perm") ?? Enumerable.Range(0, rank).Reverse().ToArray();
            if (x.Constant is { } c)
            {
                n.Output(0, ConstantTensor.FromTensor(Ops.Transpose(c.ToTensor(), perm)));
                return;
            }
            var composed = x.Layout == TensorLayout.ChannelsLast ? perm.Select(p => Layouts.ChannelsLastAxis(p, rank)).ToArray() : perm;
            // A transpose that only changes layout needs no layer: (N, H, W, C) → NCHW is this tensor, read channels-last.
            if (composed.SequenceEqual(Enumerable.Range(0, rank))) { n.Output(0, x.Tensor!, TensorLayout.Onnx); return; }
            if (rank >= 3 && Layouts.ToChannelsLast(rank).Select(i => composed[i]).SequenceEqual(Enumerable.Range(0, rank)))
            {
                n.Output(0, x.Tensor!, TensorLayout.ChannelsLast);
                return;
            }
            n.Output(0, new OnnxTranspose(composed, n.LayerName()).Call(x.Tensor!), TensorLayout.Onnx);
        }

        /// <summary>Concat along axis; channels-last inputs stay so, with the axis mapped.</summary>
        private void Concat(Node n)
        {
            var inputs = Enumerable.Range(0, n.InputCount).Where(n.Has).Select(n.In).ToList();
            if (inputs.Any(v => v.Constant is not null)) throw new UnsupportedException("constant inputs to Concat are not supported");
            int rank = inputs[0].Rank;
            int axis = (int)n.Int("axis", 1);
            if (axis < 0) axis += rank;
            var layout = inputs.All(v => v.Layout == TensorLayout.ChannelsLast) ? TensorLayout.ChannelsLast : TensorLayout.Onnx;
            var tensors = Enumerable.Range(0, n.InputCount).Where(n.Has).Select(i => n.Data(i, layout)).ToArray();
            if (tensors.Length == 1) { n.Output(0, tensors[0], layout); return; }
            int mapped = layout == TensorLayout.ChannelsLast ? Layouts.ChannelsLastAxis(axis, rank) : axis;
            n.Output(0, new Concatenate(mapped, n.LayerName()).Call(tensors), layout);
        }

        /// <summary>Unsqueeze: axes from the attribute (before opset 13) or the constant input.</summary>
        private void Unsqueeze(Node n)
        {
            var x = n.In(0);
            var axesList = (n.Opset < 13 ? n.Ints("axes") : n.Has(1) ? n.Const(1, "axes").Longs.Select(v => (int)v).ToArray() : null)
                ?? throw new UnsupportedException("axes are required");
            int outRank = x.Rank + axesList.Length;
            var axes = axesList.Select(a => a < 0 ? a + outRank : a).ToHashSet();
            var dims = new List<int>();
            var source = x.OnnxShape;
            for (int i = 0, j = 0; i < outRank; i++) dims.Add(axes.Contains(i) ? 1 : source[j++]);
            ReshapeTo(n, x, [.. dims]);
        }

        /// <summary>Squeeze: the listed axes of size 1 (all of them when none are listed).</summary>
        private void Squeeze(Node n)
        {
            var x = n.In(0);
            var source = x.OnnxShape;
            var listed = n.Opset < 13 ? n.Ints("axes") : n.Has(1) ? n.Const(1, "axes").Longs.Select(v => (int)v).ToArray() : null;
            var axes = (listed ?? Enumerable.Range(0, source.Length).Where(i => source[i] == 1).ToArray()).Select(a => a < 0 ? a + source.Length : a).ToHashSet();
            ReshapeTo(n, x, source.Where((d, i) => !axes.Contains(i)).ToArray());
        }

        /// <summary>A reshape to a known ONNX shape; an unknown batch that stays first is copied (0).</summary>
        private static void ReshapeTo(Node n, Value x, int[] dims)
        {
            if (x.Constant is { } c) { n.Output(0, c with { Dims = dims }); return; }
            var target = dims.Select((d, i) => d == Shape.Unknown ? (i == 0 && x.OnnxShape[0] == Shape.Unknown ? 0 : -1) : d).ToArray();
            if (target.Count(d => d == -1) > 1) throw new UnsupportedException($"more than one unknown dimension in {Describe(dims)}");
            n.Output(0, new OnnxReshape(target, name: n.LayerName()).Call(n.Data(0, TensorLayout.Onnx)), TensorLayout.Onnx);
        }

        // ---- pass-through -----------------------------------------------------------------------------

        /// <summary>Dropout is the identity at inference; a Keras <see cref="Layers.Dropout"/> layer keeps the ratio for fine-tuning.</summary>
        private void Dropout(Node n)
        {
            n.OnlyOutputs(1, "mask");
            float ratio = n.Opset < 12 ? n.Float("ratio", 0.5f) : n.Has(1) ? n.Const(1, "ratio").Floats.Single() : 0.5f;
            if (n.Has(2) && n.Const(2, "training_mode").Floats.Single() != 0) throw new UnsupportedException("training_mode=true is not supported (inference only)");
            var x = n.In(0);
            if (x.Tensor is null) { n.Output(0, x); return; }
            n.Output(0, new Layers.Dropout(ratio is >= 0 and < 1 ? ratio : 0.5f, name: n.LayerName()).Call(x.Tensor), x.Layout);
        }

        private void Identity(Node n) => n.Output(0, n.In(0));

        /// <summary>Constant: value (a tensor), value_float(s), value_int(s).</summary>
        private void Constant(Node n)
        {
            var attribute = n.Attribute("value") ?? n.Attribute("value_float") ?? n.Attribute("value_floats") ?? n.Attribute("value_int") ?? n.Attribute("value_ints")
                ?? throw new UnsupportedException("a Constant needs value, value_float(s) or value_int(s)");
            ConstantTensor value = attribute.Name switch
            {
                "value" => OnnxTensors.Read(attribute.T),
                "value_float" => new ConstantTensor([], [attribute.F], null, 1),
                "value_floats" => new ConstantTensor([attribute.Floats.Count], [.. attribute.Floats], null, 1),
                "value_int" => new ConstantTensor([], [attribute.I], [attribute.I], 7),
                _ => new ConstantTensor([attribute.Ints.Count], attribute.Ints.Select(v => (float)v).ToArray(), [.. attribute.Ints], 7),
            };
            n.Output(0, value);
        }
    }
}
