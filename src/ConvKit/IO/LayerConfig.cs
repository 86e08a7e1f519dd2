using System.Text.Json;
using System.Text.Json.Nodes;
using ConvKit.Kernels;
using ConvKit.Layers;

namespace ConvKit.IO;

/// <summary>
/// Layers to and from Keras-like JSON configs: <c>{"class_name": "Conv2D", "config": {"filters": 32, ...}}</c>.
/// One table maps each class name to its constructor call.
/// </summary>
public static class LayerConfig
{
    /// <summary>The layer's class name and arguments as a JSON object.</summary>
    public static JsonObject ToJson(Layer layer) => new()
    {
        ["class_name"] = layer is InputLayer ? "InputLayer" : layer.TypeName,
        ["config"] = JsonSerializer.SerializeToNode(layer is InputLayer input
            ? new Dictionary<string, object?> { ["name"] = input.Name, ["batch_shape"] = input.BatchShape.Select(d => d < 0 ? (int?)null : d).ToArray() }
            : layer.GetConfig()),
    };

    /// <summary>A new, unbuilt layer from a JSON config; unknown classes and bad arguments raise <see cref="FormatException"/>.</summary>
    public static Layer FromJson(JsonObject json)
    {
        string className = json["class_name"] is JsonValue v && v.TryGetValue<string>(out var s) ? s
            : throw new FormatException("A layer config has no class_name string.");
        var c = json["config"] as JsonObject ?? throw new FormatException($"Layer config of {className} has no config object.");
        string? name = c["name"]?.GetValue<string>();
        try
        {
            return className switch
            {
                "Conv2D" => new Conv2D(Int(c, "filters"), Pair(c, "kernel_size"), Pair(c, "strides"), Pad(c), Pair(c, "dilation_rate"),
                    Int(c, "groups", 1), Act(c), Bool(c, "use_bias", true), Init(c, "kernel_initializer"), Init(c, "bias_initializer"), name),
                "DepthwiseConv2D" => new DepthwiseConv2D(Pair(c, "kernel_size"), Pair(c, "strides"), Pad(c), Int(c, "depth_multiplier", 1),
                    Pair(c, "dilation_rate"), Act(c), Bool(c, "use_bias", true), Init(c, "depthwise_initializer"), Init(c, "bias_initializer"), name),
                "Conv1D" => new Conv1D(Int(c, "filters"), One(c, "kernel_size"), One(c, "strides"), Pad(c), One(c, "dilation_rate"),
                    Int(c, "groups", 1), Act(c), Bool(c, "use_bias", true), Init(c, "kernel_initializer"), Init(c, "bias_initializer"), name),
                "Dense" => new Dense(Int(c, "units"), Act(c), Bool(c, "use_bias", true), Init(c, "kernel_initializer"), Init(c, "bias_initializer"), name),
                "MaxPooling2D" => new MaxPooling2D(Pair(c, "pool_size"), Pair(c, "strides"), Pad(c), name),
                "AveragePooling2D" => new AveragePooling2D(Pair(c, "pool_size"), Pair(c, "strides"), Pad(c), name),
                "MaxPooling1D" => new MaxPooling1D(Int(c, "pool_size"), Int(c, "strides"), Pad(c), name),
                "AveragePooling1D" => new AveragePooling1D(Int(c, "pool_size"), Int(c, "strides"), Pad(c), name),
                "GlobalAveragePooling2D" => new GlobalAveragePooling2D(name),
                "GlobalMaxPooling2D" => new GlobalMaxPooling2D(name),
                "GlobalAveragePooling1D" => new GlobalAveragePooling1D(name),
                "GlobalMaxPooling1D" => new GlobalMaxPooling1D(name),
                "Flatten" => new Flatten(name),
                "Reshape" => new Reshape(Ints(c, "target_shape"), name),
                "Dropout" => new Dropout(Float(c, "rate"), c["seed"]?.GetValue<int>(), name),
                "Activation" => new Activation(Act(c), name),
                "BatchNormalization" => new BatchNormalization(Float(c, "momentum"), Float(c, "epsilon"), Bool(c, "center", true), Bool(c, "scale", true), name),
                "Add" => new Add(name),
                "Concatenate" => new Concatenate(Int(c, "axis", -1), name),
                "LeakyReLU" => new LeakyReLU(Float(c, "negative_slope"), name),
                "OnnxConv" => new OnnxConv(Int(c, "filters"), Ints(c, "kernel_size"), Ints(c, "strides"), Ints(c, "dilations"), Ints(c, "pads"),
                    Int(c, "groups", 1), Bool(c, "use_bias", true), name),
                "OnnxPool" => new OnnxPool(Bool(c, "max", true), Ints(c, "kernel_size"), Ints(c, "strides"), Ints(c, "dilations"), Ints(c, "pads"),
                    Bool(c, "ceil_mode", false), Bool(c, "count_include_pad", false), name),
                "OnnxTranspose" => new OnnxTranspose(Ints(c, "perm"), name),
                "OnnxReshape" => new OnnxReshape(Ints(c, "shape"), Bool(c, "allowzero", false), name),
                "OnnxFlatten" => new OnnxFlatten(Int(c, "axis", 1), name),
                "OnnxSoftmax" => new OnnxSoftmax(Int(c, "axis", -1), Bool(c, "log", false), Bool(c, "coerce_2d", false), name),
                "OnnxClip" => new OnnxClip(c["min"]?.GetValue<float>() ?? float.NegativeInfinity, c["max"]?.GetValue<float>() ?? float.PositiveInfinity, name),
                "OnnxBinary" => new OnnxBinary(Enum.Parse<BinaryOperation>(Get(c, "operation").GetValue<string>(), ignoreCase: true),
                    c["constant_shape"] is JsonArray shape ? shape.Select(n => Element(n, "constant_shape")).ToArray() : null, Bool(c, "constant_first", false), name),
                "OnnxMatMul" => new OnnxMatMul(name),
                "OnnxPRelu" => new OnnxPRelu(Ints(c, "slope_shape"), name),
                "OnnxReduce" => new OnnxReduce(Enum.Parse<ReduceOperation>(Get(c, "operation").GetValue<string>(), ignoreCase: true),
                    Ints(c, "axes"), Bool(c, "keepdims", true), name),
                "OnnxUnary" => new OnnxUnary(Enum.Parse<UnaryOperation>(Get(c, "operation").GetValue<string>(), ignoreCase: true), name),
                _ => throw new FormatException($"Unknown layer class '{className}'."),
            };
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or JsonException or KeyNotFoundException or FormatException)
        {
            throw new FormatException($"Layer '{name}' ({className}): {e.Message}", e);
        }
    }

    private static JsonNode Get(JsonObject c, string key) => c[key] ?? throw new KeyNotFoundException($"missing argument '{key}'");
    private static int Int(JsonObject c, string key) => Get(c, key).GetValue<int>();
    private static int Int(JsonObject c, string key, int fallback) => c[key]?.GetValue<int>() ?? fallback;
    private static float Float(JsonObject c, string key) => Get(c, key).GetValue<float>();
    private static bool Bool(JsonObject c, string key, bool fallback) => c[key]?.GetValue<bool>() ?? fallback;
    private static int[] Ints(JsonObject c, string key) => Get(c, key) is JsonArray a ? a.Select(n => Element(n, key)).ToArray() : [Int(c, key)];
    private static int Element(JsonNode? n, string key) => n?.GetValue<int>() ?? throw new FormatException($"'{key}' holds null where it needs integers");
    private static int One(JsonObject c, string key) { var v = Ints(c, key); return v.Length == 1 ? v[0] : throw new FormatException($"'{key}' needs one value"); }
    private static Size2 Pair(JsonObject c, string key) { var v = Ints(c, key); return v.Length == 2 ? new Size2(v[0], v[1]) : throw new FormatException($"'{key}' needs two values"); }
    private static Padding Pad(JsonObject c) => Enum.Parse<Padding>(Get(c, "padding").GetValue<string>(), ignoreCase: true);
    private static ActivationFunction Act(JsonObject c) => ActivationFunction.FromName(Get(c, "activation").GetValue<string>());
    private static Initializer? Init(JsonObject c, string key) => c[key] is { } v ? Initializer.FromName(v.GetValue<string>()) : null;
}
