using System.Text.Json;
using System.Text.Json.Nodes;
using ConvKit.Layers;
using ConvKit.Models;
using ConvKit.Tensors;
using ConvKit.Training;

namespace ConvKit.IO;

/// <summary>
/// Saves and loads a whole model in one safetensors file: the weights under their names (<c>conv2d/kernel</c>), the
/// optimizer's state under <c>optimizer/…</c>, and in the file's metadata the architecture as Keras-like JSON
/// (<c>convkit.model</c>), the compile settings (<c>convkit.compile</c>) and any caller's entries.
/// One file written atomically means a checkpoint is always the old one or the new one, never half of each.
/// </summary>
public static class ModelFile
{
    private const string ModelKey = "convkit.model";
    private const string CompileKey = "convkit.compile";
    private const string OptimizerPrefix = "optimizer/";

    /// <summary>The architecture as JSON (what <c>config.json</c> files hold).</summary>
    public static string ArchitectureJson(Model model) => Architecture(model).ToJsonString(new JsonSerializerOptions { WriteIndented = true });

    /// <summary>Writes <paramref name="model"/> (and its optimizer state, when compiled) to <paramref name="path"/>.</summary>
    public static void Save(Model model, string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        if (!model.Built) throw new InvalidOperationException($"Model '{model.Name}' is not built yet; build it before saving.");
        var tensors = new Dictionary<string, Tensor>();
        foreach (var w in model.Weights)
            if (!tensors.TryAdd(w.Name, w.Value))
                throw new InvalidOperationException($"Two weights of model '{model.Name}' are named '{w.Name}'; give the layers unique names.");
        var meta = new Dictionary<string, string>(metadata ?? new Dictionary<string, string>())
        {
            [ModelKey] = Architecture(model).ToJsonString(),
        };
        if (model.Optimizer is { } optimizer && model.Loss is { } loss)
        {
            var (iterations, slots) = optimizer.GetState(model.TrainableWeights);
            foreach (var (name, tensor) in slots) tensors[OptimizerPrefix + name] = tensor;
            meta[CompileKey] = new JsonObject
            {
                ["optimizer"] = JsonSerializer.SerializeToNode(optimizer.GetConfig()),
                ["iterations"] = iterations,
                ["loss"] = loss.Name,
                ["from_logits"] = loss.FromLogits,
                ["metrics"] = new JsonArray(model.MetricNames.Select(m => (JsonNode)m!).ToArray()),
            }.ToJsonString();
        }
        SafeTensors.Save(path, tensors, meta);
    }

    /// <summary>
    /// Loads a model saved by <see cref="Save"/>: rebuilds the layers, fills the weights, and when the file holds compile
    /// settings, compiles the model and restores the optimizer's state so training resumes exactly.
    /// </summary>
    /// <exception cref="ConvKitFormatException">The file is malformed, or its weights do not fit its architecture.</exception>
    public static (Model Model, IReadOnlyDictionary<string, string> Metadata) Load(string path)
    {
        var (tensors, metadata) = SafeTensors.Load(path);
        if (!metadata.TryGetValue(ModelKey, out var architecture))
            throw new ConvKitFormatException(path, $"no '{ModelKey}' entry in the metadata: this safetensors file holds weights but no ConvKit model");
        Model model;
        // Layers built from the architecture may only create weights the file holds, with the same shapes.
        Layer.CheckWeightBacked = (name, shape) =>
        {
            if (!tensors.TryGetValue(name, out var stored)) throw new ConvKitFormatException(path, $"weights missing for {name}");
            if (stored.Shape != shape) throw new ConvKitFormatException(path, $"weight '{name}' has shape {stored.Shape} in the file but the model needs {shape}");
        };
        try
        {
            model = FromArchitecture(JsonNode.Parse(architecture) as JsonObject ?? throw new FormatException("the architecture is not a JSON object"));
        }
        catch (Exception e) when (e is FormatException or JsonException or InvalidOperationException or ArgumentException or OverflowException)
        {
            throw new ConvKitFormatException(path, $"bad architecture: {e.Message}", e);
        }
        finally
        {
            Layer.CheckWeightBacked = null;
        }
        LoadWeights(model, tensors, path);
        if (metadata.TryGetValue(CompileKey, out var compile)) Restore(model, compile, tensors, path);
        return (model, metadata);
    }

    private static void LoadWeights(Model model, Dictionary<string, Tensor> tensors, string path)
    {
        var expected = model.Weights;
        var missing = expected.Where(w => !tensors.ContainsKey(w.Name)).Select(w => w.Name).ToList();
        if (missing.Count > 0) throw new ConvKitFormatException(path, $"weights missing for {string.Join(", ", missing)}");
        var names = expected.Select(w => w.Name).ToHashSet();
        var extra = tensors.Keys.Where(k => !k.StartsWith(OptimizerPrefix, StringComparison.Ordinal) && !names.Contains(k)).ToList();
        if (extra.Count > 0) throw new ConvKitFormatException(path, $"weights {string.Join(", ", extra)} belong to no layer of the model");
        foreach (var w in expected)
        {
            var t = tensors[w.Name];
            if (t.Shape != w.Shape) throw new ConvKitFormatException(path, $"weight '{w.Name}' has shape {t.Shape} in the file but the model needs {w.Shape}");
            w.Assign(t);
        }
    }

    private static void Restore(Model model, string compile, Dictionary<string, Tensor> tensors, string path)
    {
        try
        {
            var c = JsonNode.Parse(compile)!.AsObject();
            var o = c["optimizer"]!.AsObject();
            var optimizer = OptimizerFromConfig(o);
            var loss = Losses.FromName(c["loss"]!.GetValue<string>(), c["from_logits"]?.GetValue<bool>() ?? false);
            model.Compile(optimizer, loss, c["metrics"]!.AsArray().Select(m => m!.GetValue<string>()).ToList());
            var slots = tensors.Where(p => p.Key.StartsWith(OptimizerPrefix, StringComparison.Ordinal))
                .ToDictionary(p => p.Key[OptimizerPrefix.Length..], p => p.Value);
            long iterations = c["iterations"]!.GetValue<long>();
            if (iterations < 0) throw new FormatException($"iterations is {iterations}; it counts steps taken and cannot be negative");
            optimizer.SetState(model.TrainableWeights, iterations, slots);
        }
        catch (Exception e) when (e is FormatException or JsonException or InvalidOperationException or ArgumentException or NullReferenceException)
        {
            throw new ConvKitFormatException(path, $"bad compile settings or optimizer state: {e.Message}", e);
        }
    }

    /// <summary>The optimizer <see cref="Optimizer.GetConfig"/> described, with every argument it saved (momentum, betas, …).</summary>
    private static Optimizer OptimizerFromConfig(JsonObject o)
    {
        string name = o["name"]!.GetValue<string>();
        float learningRate = o["learning_rate"]!.GetValue<float>(), weightDecay = o["weight_decay"]?.GetValue<float>() ?? 0;
        float F(string key, float fallback) => o[key]?.GetValue<float>() ?? fallback;
        return name switch
        {
            "sgd" => new SGD(learningRate, F("momentum", 0), o["nesterov"]?.GetValue<bool>() ?? false, weightDecay),
            "adam" => new Adam(learningRate, F("beta_1", 0.9f), F("beta_2", 0.999f), F("epsilon", 1e-7f), weightDecay),
            "adamw" => new AdamW(learningRate, F("beta_1", 0.9f), F("beta_2", 0.999f), F("epsilon", 1e-7f), weightDecay),
            "rmsprop" => new RMSprop(learningRate, F("rho", 0.9f), F("momentum", 0), F("epsilon", 1e-7f), weightDecay),
            _ => Optimizer.FromName(name, learningRate, weightDecay),
        };
    }

    private static JsonObject Architecture(Model model)
    {
        if (model is Sequential sequential)
            return new JsonObject
            {
                ["class_name"] = "Sequential",
                ["config"] = new JsonObject
                {
                    ["name"] = model.Name,
                    ["batch_shape"] = JsonSerializer.SerializeToNode(model.Inputs[0].Shape.Select(d => d < 0 ? (int?)null : d).ToArray()),
                    ["layers"] = new JsonArray(sequential.Layers.Select(l => (JsonNode)LayerConfig.ToJson(l)).ToArray()),
                },
            };

        var nodes = new List<SymbolicTensor>();
        var seen = new HashSet<SymbolicTensor>(ReferenceEqualityComparer.Instance);
        void Visit(SymbolicTensor t)
        {
            if (!seen.Add(t)) return;
            foreach (var p in t.Parents) Visit(p);
            nodes.Add(t);
        }
        foreach (var o in model.Outputs) Visit(o);
        if (nodes.Select(n => n.Layer).Distinct().Count() != nodes.Count)
            throw new InvalidOperationException($"Model '{model.Name}' calls a layer more than once; saving shared layers is not supported.");
        var layers = new JsonArray();
        foreach (var node in nodes)
        {
            var json = LayerConfig.ToJson(node.Layer);
            json["inbound_nodes"] = new JsonArray(node.Parents.Select(p => (JsonNode)p.Layer.Name!).ToArray());
            layers.Add(json);
        }
        return new JsonObject
        {
            ["class_name"] = "Functional",
            ["config"] = new JsonObject
            {
                ["name"] = model.Name,
                ["layers"] = layers,
                ["input_layers"] = new JsonArray(model.Inputs.Select(i => (JsonNode)i.Layer.Name!).ToArray()),
                ["output_layers"] = new JsonArray(model.Outputs.Select(o => (JsonNode)o.Layer.Name!).ToArray()),
            },
        };
    }

    private static Model FromArchitecture(JsonObject json)
    {
        string className = String(json["class_name"], "the model's class_name");
        var config = json["config"] as JsonObject ?? throw new FormatException("no config");
        string name = String(config["name"], "the model's name");
        var layers = config["layers"] as JsonArray ?? throw new FormatException("no layers");
        if (className == "Sequential")
        {
            var batch = BatchShape(config["batch_shape"], $"model '{name}'");
            var input = new Input(batch[1..], batch[0] < 0 ? null : batch[0]);
            return new Sequential(input, layers.Select((l, i) => LayerConfig.FromJson(l as JsonObject ?? throw new FormatException($"layer {i} is {Describe(l)}, not an object"))), name);
        }
        if (className != "Functional") throw new FormatException($"unknown model class '{className}'");
        var outputs = new Dictionary<string, SymbolicTensor>();
        foreach (var (item, i) in layers.Select((l, i) => (l, i)))
        {
            var layerJson = item as JsonObject ?? throw new FormatException($"layer {i} is {Describe(item)}, not an object");
            var inbound = (layerJson["inbound_nodes"] as JsonArray ?? []).Select(n => String(n, $"an inbound node of layer {i}")).ToList();
            var parents = inbound.Select(n => outputs.TryGetValue(n, out var t) ? t : throw new FormatException($"layer input '{n}' is not defined before its use")).ToArray();
            SymbolicTensor output;
            if (layerJson["class_name"] is JsonValue v && v.TryGetValue<string>(out var layerClass) && layerClass == "InputLayer")
            {
                var c = layerJson["config"] as JsonObject ?? throw new FormatException($"InputLayer {i} has no config object");
                string inputName = String(c["name"], $"the name of InputLayer {i}");
                var batch = BatchShape(c["batch_shape"], $"InputLayer '{inputName}'");
                output = new Input(batch[1..], batch[0] < 0 ? null : batch[0], inputName);
            }
            else
            {
                var layer = LayerConfig.FromJson(layerJson);
                output = layer switch
                {
                    Merge merge => merge.Call(parents),
                    _ when parents.Length == 1 => layer.Call(parents[0]),
                    _ => throw new FormatException($"layer '{layer.Name}' needs one input; the file gives {parents.Length}"),
                };
            }
            outputs[output.Layer.Name] = output;
        }
        SymbolicTensor Find(JsonNode? n)
        {
            string layer = String(n, "an input or output layer name");
            return outputs.TryGetValue(layer, out var t) ? t : throw new FormatException($"unknown layer '{layer}'");
        }
        return new Model(
            (config["input_layers"] as JsonArray ?? throw new FormatException("no input_layers")).Select(Find).ToList(),
            (config["output_layers"] as JsonArray ?? throw new FormatException("no output_layers")).Select(Find).ToList(), name);
    }

    /// <summary>A JSON string, or a <see cref="FormatException"/> naming <paramref name="what"/> and what was found instead.</summary>
    private static string String(JsonNode? node, string what) =>
        node is JsonValue v && v.TryGetValue<string>(out var s) ? s : throw new FormatException($"{what} is {Describe(node)}, not a string");

    /// <summary>
    /// A batch shape such as <c>[null, 28, 28, 1]</c> (<c>null</c> for a size not known): at least one dimension, each
    /// null or ≥ 0, and a sample (all but the batch) no larger than one tensor can hold.
    /// </summary>
    private static int[] BatchShape(JsonNode? node, string owner)
    {
        var dims = node as JsonArray ?? throw new FormatException($"{owner} has no batch_shape array");
        var batch = dims.Select(d => d is null ? Shape.Unknown
            : d is JsonValue v && v.TryGetValue<int>(out int n) && n >= 0 ? n
            : throw new FormatException($"{owner} has batch_shape {dims.ToJsonString()}; each dimension must be null or an integer ≥ 0")).ToArray();
        if (batch.Length == 0) throw new FormatException($"{owner} has an empty batch_shape");
        long sample = 1;
        foreach (int d in batch[1..])
            if (d != Shape.Unknown && (sample *= Math.Max(d, 1)) > Array.MaxLength)
                throw new FormatException($"{owner} has batch_shape {dims.ToJsonString()}: more values per sample than one tensor holds ({Array.MaxLength})");
        return batch;
    }

    /// <summary>What a JSON node is, short enough for a message: <c>null</c>, <c>the number 3</c>, <c>an Array</c>.</summary>
    private static string Describe(JsonNode? node) => node switch
    {
        null => "null",
        JsonValue v when v.ToJsonString() is { Length: <= 40 } text => $"the {v.GetValueKind().ToString().ToLowerInvariant()} {text}",
        _ => $"a JSON {node.GetValueKind()}",
    };
}
