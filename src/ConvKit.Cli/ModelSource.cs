using System.Text.Json;
using ConvKit.IO;
using ConvKit.Layers;
using ConvKit.Models;
using ConvKit.Training;

namespace ConvKit.Cli;

/// <summary>The metadata entries <c>convkit train</c> stores in its model files, next to what <see cref="ModelFile"/> stores.</summary>
internal static class MetadataKeys
{
    /// <summary>Epochs completed, e.g. <c>"3"</c>.</summary>
    public const string Epoch = "convkit.epoch";
    /// <summary>The class names as a JSON array, by label index.</summary>
    public const string ClassNames = "convkit.class_names";
    /// <summary>The run's settings as JSON (<see cref="TrainSettings"/>), so <c>--resume</c> continues it exactly.</summary>
    public const string Train = "convkit.train";
}

/// <summary>Turns a <c>--model</c> value (a built-in name or a model file) into a model.</summary>
internal static class ModelSource
{
    /// <summary>The checkpoint <c>convkit train</c> writes by default, and what the other commands read by default.</summary>
    public static string DefaultModelFile => Path.Combine("out", "model.safetensors");

    /// <summary>True when <paramref name="value"/> names a file (or a train --out directory) rather than a built-in model.</summary>
    public static bool IsFile(string value) =>
        !ModelZoo.Contains(value) && (File.Exists(value) || Directory.Exists(value) || value.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)
            || value.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase)
            || value.Contains('/') || value.Contains(Path.DirectorySeparatorChar));

    /// <summary>Loads a model file; a missing file or a malformed one is the user's to fix.</summary>
    public static (Model Model, IReadOnlyDictionary<string, string> Metadata) Load(string path)
    {
        if (Directory.Exists(path)) path = Path.Combine(path, "model.safetensors");
        if (!File.Exists(path)) throw new CliException($"Model file '{path}' not found.");
        if (path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase))
            return (OnnxCommands.Load(path).Model, new Dictionary<string, string>());
        return ModelFile.Load(path);
    }

    /// <summary>A built-in model, or an error that lists the built-in names.</summary>
    public static Sequential Create(string name, (int Height, int Width, int Channels) inputShape, int classes, int seed)
    {
        if (!ModelZoo.Contains(name))
            throw new CliException($"Unknown model '{name}': pass a built-in model ({string.Join(", ", ModelZoo.Names)}) or a .safetensors model file (or the directory convkit train wrote it to).");
        return ModelZoo.Create(name, inputShape, classes, seed);
    }

    /// <summary>The class names stored by <c>convkit train</c>, or <c>class 0</c>, <c>class 1</c>, …</summary>
    public static IReadOnlyList<string> ClassNames(IReadOnlyDictionary<string, string> metadata, int classes)
    {
        if (metadata.TryGetValue(MetadataKeys.ClassNames, out var json))
        {
            try
            {
                var names = JsonSerializer.Deserialize<string[]>(json);
                if (names is not null && names.Length == classes) return names;
            }
            catch (JsonException) { }
        }
        return Enumerable.Range(0, classes).Select(i => $"class {i}").ToArray();
    }

    /// <summary>True when the model's outputs are logits (its loss says so, or its last layer applies no softmax).</summary>
    public static bool OutputsLogits(Model model)
    {
        if (model.Loss is { } loss) return loss.FromLogits;
        var last = model.Layers[^1];
        string? activation = last.GetConfig().TryGetValue("activation", out var a) ? a?.ToString() : null;
        return activation is not ("softmax" or "sigmoid");
    }

    /// <summary>The model's image input (height, width, channels), or an error when it takes something else.</summary>
    public static (int Height, int Width, int Channels) ImageInput(Model model)
    {
        var shape = model.Inputs[0].Shape;
        if (model.Inputs.Count != 1 || shape.Rank != 4 || shape[1] <= 0 || shape[2] <= 0 || shape[3] is not (1 or 3 or 4))
            throw new CliException($"Model '{model.Name}' takes input {shape}; the convkit commands need one image input (batch, height, width, 1, 3 or 4 channels).");
        return (shape[1], shape[2], shape[3]);
    }

    /// <summary>The number of classes: the size of the model's output.</summary>
    public static int Classes(Model model)
    {
        var shape = model.Outputs[0].Shape;
        if (shape.Rank != 2 || shape[1] < 2)
            throw new CliException($"Model '{model.Name}' outputs {shape}; the convkit commands need class scores (batch, classes).");
        return shape[1];
    }

    /// <summary>Compiles an uncompiled model for classification, so it can be evaluated.</summary>
    public static void EnsureCompiled(Model model)
    {
        if (model.Loss is null) model.Compile(new Adam(), Losses.SparseCategoricalCrossentropy(OutputsLogits(model)), ["accuracy"]);
    }

    /// <summary>Turns layer names' global counters back to zero so a command's models get Keras's plain names.</summary>
    public static void FreshNames() => Names.ClearSession();
}
