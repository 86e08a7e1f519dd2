using System.Text.Json.Nodes;
using ConvKit.IO;
using ConvKit.Kernels;
using ConvKit.Layers;
using ConvKit.Models;
using ConvKit.Tensors;
using ConvKit.Training;

namespace ConvKit.Tests.IO;

public class ModelFileTests
{
    private static Model Residual()
    {
        var input = new Input(10, 10, 3);
        var a = new Conv2D(4, 3, padding: Padding.Same, activation: Activation.Relu).Call(input);
        var b = new BatchNormalization().Call(new Conv2D(4, 3, padding: Padding.Same).Call(a));
        var sum = new Add().Call(a, b);
        var joined = new Concatenate().Call(new GlobalAveragePooling2D().Call(sum), new GlobalMaxPooling2D().Call(sum));
        return new Model(input, new Dense(5, activation: Activation.Softmax).Call(new Dropout(0.2f).Call(joined)));
    }

    [Fact]
    public void SaveLoadPredictGivesIdenticalOutputs()
    {
        using var dir = new TempDirectory();
        var x = Tensor.RandomNormal(new Shape(3, 10, 10, 3), seed: 4);
        var model = Residual();
        model.Compile(new Adam(), Losses.SparseCategoricalCrossentropy(), ["accuracy"]);
        model.Fit(x, Tensor.FromArray([0, 1, 2], 3), new FitOptions { Epochs = 1, BatchSize = 3 });
        ModelFile.Save(model, dir.File("m.safetensors"), new Dictionary<string, string> { ["note"] = "hello" });
        var (loaded, metadata) = ModelFile.Load(dir.File("m.safetensors"));
        Assert.Equal("hello", metadata["note"]);
        Assert.Equal(model.Predict(x).ToArray(), loaded.Predict(x).ToArray());
        Assert.Equal(model.SummaryText(), loaded.SummaryText());
        Assert.Equal(model.Optimizer!.Iterations, loaded.Optimizer!.Iterations);
        Assert.Equal("adam", loaded.Optimizer.Name);
        Assert.Contains("\"class_name\": \"Functional\"", ModelFile.ArchitectureJson(model));

        var sequential = new Sequential(new Input(6, 2), new Conv1D(3, 3, padding: Padding.Causal), new MaxPooling1D(2), new Flatten(), new Dense(2));
        ModelFile.Save(sequential, dir.File("s.safetensors"));
        var seq = Tensor.RandomNormal(new Shape(2, 6, 2), seed: 1);
        Assert.Equal(sequential.Predict(seq).ToArray(), ModelFile.Load(dir.File("s.safetensors")).Model.Predict(seq).ToArray());
    }

    [Fact]
    public void CorruptAndMismatchedFilesGiveClearErrors()
    {
        using var dir = new TempDirectory();
        var model = new Sequential(new Input(4, 4, 1), new Conv2D(2, 3), new Flatten(), new Dense(3));
        string path = dir.File("m.safetensors");
        ModelFile.Save(model, path);
        var bytes = File.ReadAllBytes(path);

        File.WriteAllBytes(dir.File("truncated.safetensors"), bytes[..(bytes.Length - 10)]);
        var truncated = Assert.Throws<ConvKitFormatException>(() => ModelFile.Load(dir.File("truncated.safetensors")));
        Assert.Contains("truncated.safetensors", truncated.Message);

        SafeTensors.Save(dir.File("weights-only.safetensors"), new Dictionary<string, Tensor> { ["w"] = Tensor.Zeros(2) });
        Assert.Contains("no ConvKit model", Assert.Throws<ConvKitFormatException>(() => ModelFile.Load(dir.File("weights-only.safetensors"))).Message);

        // The same architecture with a weight of the wrong shape.
        var (tensors, metadata) = SafeTensors.Load(path);
        var kernelName = model.Layers[^1].Weights[0].Name; // the Dense kernel, (8, 3)
        tensors[kernelName] = Tensor.Zeros(7, 3);
        SafeTensors.Save(dir.File("shape.safetensors"), tensors, metadata);
        var shape = Assert.Throws<ConvKitFormatException>(() => ModelFile.Load(dir.File("shape.safetensors")));
        Assert.Contains("(7, 3)", shape.Message);

        var missing = new Dictionary<string, Tensor>(tensors);
        missing.Remove(kernelName);
        SafeTensors.Save(dir.File("missing.safetensors"), missing, metadata);
        Assert.Contains("missing", Assert.Throws<ConvKitFormatException>(() => ModelFile.Load(dir.File("missing.safetensors"))).Message);

        var badConfig = new Dictionary<string, string>(metadata) { ["convkit.model"] = "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"x\", \"batch_shape\": [null, 4], \"layers\": [{\"class_name\": \"Warp\", \"config\": {}}]}}" };
        SafeTensors.Save(dir.File("config.safetensors"), tensors, badConfig);
        Assert.Contains("Warp", Assert.Throws<ConvKitFormatException>(() => ModelFile.Load(dir.File("config.safetensors"))).Message);

        var notJson = new Dictionary<string, string>(metadata) { ["convkit.model"] = "{not json" };
        SafeTensors.Save(dir.File("json.safetensors"), tensors, notJson);
        Assert.Throws<ConvKitFormatException>(() => ModelFile.Load(dir.File("json.safetensors")));
    }

    /// <summary>Changes to a saved architecture, each leaving it malformed, and a fragment of the error each must give.</summary>
    private static readonly Dictionary<string, Action<JsonObject>> ArchitectureDamage = new()
    {
        ["null layer"] = a => Layers(a)[1] = null,
        ["layer not an object"] = a => Layers(a)[1] = 7,
        ["layer without config"] = a => Layers(a)[1]!.AsObject().Remove("config"),
        ["layer without class_name"] = a => Layers(a)[1]!.AsObject().Remove("class_name"),
        ["class_name not a string"] = a => Layers(a)[1]!["class_name"] = new JsonArray(),
        ["input layer without config"] = a => Layers(a)[0]!.AsObject().Remove("config"),
        ["input layer without name"] = a => Layers(a)[0]!["config"]!.AsObject().Remove("name"),
        ["model without class_name"] = a => a.Remove("class_name"),
        ["undefined inbound node"] = a => Layers(a)[1]!["inbound_nodes"] = new JsonArray("ghost"),
        ["null inbound node"] = a => Layers(a)[1]!["inbound_nodes"] = new JsonArray((JsonNode?)null),
        ["inbound node read before defined"] = a => Layers(a)[1]!["inbound_nodes"] = new JsonArray("dense"),
        ["unknown output layer"] = a => a["config"]!["output_layers"] = new JsonArray("ghost"),
        ["null output layer"] = a => a["config"]!["output_layers"] = new JsonArray((JsonNode?)null),
        ["null kernel_size value"] = a => Config(a, 1)["kernel_size"] = new JsonArray(3, null),
        ["huge filters"] = a => Config(a, 1)["filters"] = int.MaxValue,
        ["filters of gigabytes"] = a => Config(a, 1)["filters"] = 100_000_000, // 3×3×1×10⁸ floats: 3.6 GB
        ["units of gigabytes"] = a => Config(a, 3)["units"] = 200_000_000,  // 8×2·10⁸ floats: 6.4 GB
        ["batch_shape product overflows"] = a => Config(a, 0)["batch_shape"] = new JsonArray(null, int.MaxValue, int.MaxValue, 1),
        ["batch_shape negative"] = a => Config(a, 0)["batch_shape"] = new JsonArray(null, 4, -4, 1),
        ["batch_shape not numbers"] = a => Config(a, 0)["batch_shape"] = new JsonArray(null, "4", 4, 1),
        ["batch_shape empty"] = a => Config(a, 0)["batch_shape"] = new JsonArray(),
    };

    private static JsonArray Layers(JsonObject architecture) => architecture["config"]!["layers"]!.AsArray();
    private static JsonObject Config(JsonObject architecture, int layer) => Layers(architecture)[layer]!["config"]!.AsObject();

    [Theory]
    [InlineData("null layer", "layer 1 is null")]
    [InlineData("layer not an object", "layer 1 is the number 7")]
    [InlineData("layer without config", "no config object")]
    [InlineData("layer without class_name", "no class_name")]
    [InlineData("class_name not a string", "no class_name")]
    [InlineData("input layer without config", "InputLayer 0 has no config")]
    [InlineData("input layer without name", "name of InputLayer 0")]
    [InlineData("model without class_name", "class_name is null")]
    [InlineData("undefined inbound node", "'ghost' is not defined")]
    [InlineData("null inbound node", "inbound node of layer 1 is null")]
    [InlineData("inbound node read before defined", "'dense' is not defined")]
    [InlineData("unknown output layer", "unknown layer 'ghost'")]
    [InlineData("null output layer", "output layer name is null")]
    [InlineData("null kernel_size value", "'kernel_size' holds null")]
    [InlineData("huge filters", "conv/kernel")]
    [InlineData("filters of gigabytes", "weight 'conv/kernel' has shape (3, 3, 1, 2) in the file but the model needs (3, 3, 1, 100000000)")]
    [InlineData("units of gigabytes", "weight 'dense/kernel' has shape (8, 3) in the file but the model needs (8, 200000000)")]
    [InlineData("batch_shape product overflows", "more values per sample than one tensor holds")]
    [InlineData("batch_shape negative", "must be null or an integer ≥ 0")]
    [InlineData("batch_shape not numbers", "must be null or an integer ≥ 0")]
    [InlineData("batch_shape empty", "empty batch_shape")]
    public void MalformedArchitectureNamesFileAndProblemWithoutAllocating(string damage, string problem)
    {
        using var dir = new TempDirectory();
        var input = new Input([4, 4, 1], name: "image");
        var model = new Model(input, new Dense(3, name: "dense").Call(new Flatten(name: "flat").Call(new Conv2D(2, 3, name: "conv").Call(input))));
        ModelFile.Save(model, dir.File("m.safetensors"));
        var (tensors, metadata) = SafeTensors.Load(dir.File("m.safetensors"));
        var architecture = JsonNode.Parse(metadata["convkit.model"])!.AsObject();
        ArchitectureDamage[damage](architecture);
        metadata["convkit.model"] = architecture.ToJsonString();
        string path = dir.File("damaged.safetensors");
        SafeTensors.Save(path, tensors, metadata);

        long before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<ConvKitFormatException>(() => ModelFile.Load(path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(path, error.FilePath);
        Assert.Contains(problem, error.Message);
        Assert.True(allocated < 64L << 20, $"Loading allocated {allocated:N0} bytes.");
    }

    [Fact]
    public void NullLayerInSequentialArchitectureNamesFileAndLayer()
    {
        using var dir = new TempDirectory();
        var model = new Sequential(new Input(4, 4, 1), new Conv2D(2, 3), new Flatten(), new Dense(3));
        ModelFile.Save(model, dir.File("m.safetensors"));
        var (tensors, metadata) = SafeTensors.Load(dir.File("m.safetensors"));
        var architecture = JsonNode.Parse(metadata["convkit.model"])!.AsObject();
        Layers(architecture)[1] = null;
        metadata["convkit.model"] = architecture.ToJsonString();
        SafeTensors.Save(dir.File("null.safetensors"), tensors, metadata);

        var error = Assert.Throws<ConvKitFormatException>(() => ModelFile.Load(dir.File("null.safetensors")));
        Assert.Equal(dir.File("null.safetensors"), error.FilePath);
        Assert.Contains("layer 1 is null", error.Message);
    }

    [Fact]
    public void Conv1DKernelSizeWithoutValuesNamesFileAndLayer()
    {
        using var dir = new TempDirectory();
        var model = new Sequential(new Input(6, 2), new Conv1D(2, 3, name: "c1"));
        ModelFile.Save(model, dir.File("m.safetensors"));
        var (tensors, metadata) = SafeTensors.Load(dir.File("m.safetensors"));
        var architecture = JsonNode.Parse(metadata["convkit.model"])!.AsObject();
        Config(architecture, 0)["kernel_size"] = new JsonArray();
        metadata["convkit.model"] = architecture.ToJsonString();
        SafeTensors.Save(dir.File("empty.safetensors"), tensors, metadata);

        var error = Assert.Throws<ConvKitFormatException>(() => ModelFile.Load(dir.File("empty.safetensors")));
        Assert.Equal(dir.File("empty.safetensors"), error.FilePath);
        Assert.Contains("Layer 'c1' (Conv1D): 'kernel_size' needs one value", error.Message);
    }

    [Theory]
    [InlineData("{not json", "bad compile settings")]
    [InlineData("[1, 2]", "bad compile settings")]
    [InlineData("{\"loss\": \"mse\", \"metrics\": [], \"iterations\": 1}", "bad compile settings")]
    [InlineData("{\"optimizer\": {\"name\": \"warp\", \"learning_rate\": 0.1}, \"loss\": \"mse\", \"metrics\": [], \"iterations\": 1}", "warp")]
    [InlineData("{\"optimizer\": {\"name\": \"adam\", \"learning_rate\": \"fast\"}, \"loss\": \"mse\", \"metrics\": [], \"iterations\": 1}", "bad compile settings")]
    [InlineData("{\"optimizer\": {\"name\": \"adam\", \"learning_rate\": 0.1}, \"loss\": \"warp\", \"metrics\": [], \"iterations\": 1}", "Unknown loss 'warp'")]
    [InlineData("{\"optimizer\": {\"name\": \"adam\", \"learning_rate\": 0.1}, \"loss\": \"mse\", \"metrics\": [null], \"iterations\": 1}", "bad compile settings")]
    [InlineData("{\"optimizer\": {\"name\": \"adam\", \"learning_rate\": 0.1}, \"loss\": \"mse\", \"metrics\": \"accuracy\", \"iterations\": 1}", "bad compile settings")]
    [InlineData("{\"optimizer\": {\"name\": \"adam\", \"learning_rate\": 0.1}, \"loss\": \"mse\", \"metrics\": [], \"iterations\": -3}", "iterations is -3")]
    [InlineData("{\"optimizer\": {\"name\": \"adam\", \"learning_rate\": 0.1}, \"loss\": \"mse\", \"metrics\": [], \"iterations\": 1e30}", "bad compile settings")]
    [InlineData("{\"optimizer\": {\"name\": \"adam\", \"learning_rate\": 0.1}, \"loss\": \"mse\", \"metrics\": []}", "bad compile settings")]
    public void CorruptCompileSettingsNameFileAndProblem(string compile, string problem)
    {
        using var dir = new TempDirectory();
        var model = new Sequential(new Input(4), new Dense(2));
        model.Compile(new Adam(), Losses.MeanSquaredError());
        model.Fit(Tensor.Ones(2, 4), Tensor.Zeros(2, 2), new FitOptions { Epochs = 1, BatchSize = 2 });
        ModelFile.Save(model, dir.File("m.safetensors"));
        var (tensors, metadata) = SafeTensors.Load(dir.File("m.safetensors"));
        metadata["convkit.compile"] = compile;
        string path = dir.File("compile.safetensors");
        SafeTensors.Save(path, tensors, metadata);

        var error = Assert.Throws<ConvKitFormatException>(() => ModelFile.Load(path));
        Assert.Equal(path, error.FilePath);
        Assert.Contains(problem, error.Message);
    }

    [Fact]
    public void OptimizerStateOfWrongShapeNamesFileAndWeight()
    {
        using var dir = new TempDirectory();
        var model = new Sequential(new Input(4), new Dense(2, name: "dense"));
        model.Compile(new Adam(), Losses.MeanSquaredError());
        model.Fit(Tensor.Ones(2, 4), Tensor.Zeros(2, 2), new FitOptions { Epochs = 1, BatchSize = 2 });
        ModelFile.Save(model, dir.File("m.safetensors"));
        var (tensors, metadata) = SafeTensors.Load(dir.File("m.safetensors"));
        var slot = tensors.Keys.Single(k => k.StartsWith("optimizer/dense/kernel/slot0", StringComparison.Ordinal));
        tensors[slot] = Tensor.Zeros(3);
        string path = dir.File("state.safetensors");
        SafeTensors.Save(path, tensors, metadata);

        var error = Assert.Throws<ConvKitFormatException>(() => ModelFile.Load(path));
        Assert.Equal(path, error.FilePath);
        Assert.Contains("dense/kernel", error.Message);
    }
}
