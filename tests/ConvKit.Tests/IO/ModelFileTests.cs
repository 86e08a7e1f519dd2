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
}
