using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ConvKit.Data;
using ConvKit.IO;
using ConvKit.Models;
using ConvKit.Tensors;
using ConvKit.Training;

namespace ConvKit.Cli;

/// <summary>
/// <c>convkit train</c>: trains a built-in model (or continues a saved one) on Fashion-MNIST, writes a checkpoint after
/// every epoch, and ends with the test accuracy on the 10,000 test images.
/// </summary>
internal static class TrainCommand
{
    private static readonly Option<string> Data = new("--data") { Description = "Fashion-MNIST directory.", DefaultValueFactory = _ => FashionMnist.DefaultDirectory, HelpName = "DIR" };
    private static readonly Option<string> ModelOption = new("--model") { Description = $"Built-in model ({string.Join(", ", ModelZoo.Names)}) or a model file to continue from.", DefaultValueFactory = _ => "default", HelpName = "NAME|FILE" };
    private static readonly Option<int?> Epochs = new("--epochs") { Description = "Epochs to train to (default: the model's recipe).", HelpName = "N" };
    private static readonly Option<int?> BatchSize = new("--batch-size") { Description = "Images per step (default: the model's recipe).", HelpName = "N" };
    private static readonly Option<float?> LearningRate = new("--lr") { Description = "Learning rate (default: the model's recipe).", HelpName = "RATE" };
    private static readonly Option<string?> OptimizerOption = new("--optimizer") { Description = "sgd, momentum, nesterov, adam, adamw or rmsprop (default: the model's recipe).", HelpName = "NAME" };
    private static readonly Option<string?> Schedule = new("--schedule") { Description = "Learning rate schedule: constant or cosine (default: the model's recipe).", HelpName = "NAME" };
    private static readonly Option<int> Seed = new("--seed") { Description = "Seed for weights, shuffles, dropout and augmentation.", DefaultValueFactory = _ => 1, HelpName = "N" };
    private static readonly Option<int?> Threads = new("--threads") { Description = "Kernel threads (sets CONVKIT_THREADS; default: all cores).", HelpName = "N" };
    private static readonly Option<string> Out = new("--out") { Description = "Directory for model.safetensors, config.json and history.json.", DefaultValueFactory = _ => "out", HelpName = "DIR" };
    private static readonly Option<int?> Limit = new("--limit") { Description = "Train on the first N training images only.", HelpName = "N" };
    private static readonly Option<int?> TestLimit = new("--test-limit") { Description = "Evaluate on the first N test images only (default: all 10,000).", HelpName = "N" };
    private static readonly Option<double> ValidationSplit = new("--validation-split") { Description = "Fraction of the training images held out for validation.", HelpName = "FRACTION" };
    private static readonly Option<bool> Augment = new("--augment") { Description = "Random horizontal flips and shifts of up to 2 pixels." };
    private static readonly Option<bool> Resume = new("--resume") { Description = "Continue the run checkpointed in --out exactly where it stopped." };
    private static readonly Option<bool> Json = new("--json") { Description = "Print one JSON line with the results (progress goes to stderr)." };

    public static Command Create(CliContext context)
    {
        var command = new Command("train", "Train a model on Fashion-MNIST and save it (with no options: the default model).")
        {
            Data, ModelOption, Epochs, BatchSize, LearningRate, OptimizerOption, Schedule, Seed, Threads, Out, Limit, TestLimit,
            ValidationSplit, Augment, Resume, Json,
        };
        command.SetAction(parsed => Run(context, parsed));
        return command;
    }

    private static int Run(CliContext context, ParseResult parsed)
    {
        var wall = Stopwatch.StartNew();
        if (parsed.GetValue(Threads) is { } threads)
        {
            if (threads < 1) throw new CliException($"--threads must be at least 1; received {threads}.");
            Environment.SetEnvironmentVariable("CONVKIT_THREADS", threads.ToString(CultureInfo.InvariantCulture));
        }
        bool json = parsed.GetValue(Json);
        var report = json ? context.Error : context.Output;
        string outDirectory = parsed.GetValue(Out)!;
        string checkpoint = Path.Combine(outDirectory, "model.safetensors");

        ModelSource.FreshNames();
        var (model, settings, initialEpoch, history) = parsed.GetValue(Resume)
            ? Resumed(parsed, checkpoint, outDirectory)
            : Fresh(parsed);
        RandomSource.SetGlobalSeed(settings.Seed);
        Validate(settings);

        var (trainSet, testSet) = LoadData(parsed.GetValue(Data)!, settings.Limit, parsed.GetValue(TestLimit));
        var (fitSet, validationSet) = settings.ValidationSplit > 0 ? Split(trainSet, settings.ValidationSplit) : (trainSet, null);
        var inputShape = ModelSource.ImageInput(model);
        if (fitSet.SampleShape != new Shape(inputShape.Height, inputShape.Width, inputShape.Channels))
            throw new CliException($"Model '{model.Name}' takes images {model.Inputs[0].Shape}; the data set has images {fitSet.SampleShape}.");
        var classNames = trainSet.ClassNames ?? Enumerable.Range(0, ModelSource.Classes(model)).Select(i => $"class {i}").ToArray();
        if (ModelSource.Classes(model) != classNames.Count)
            throw new CliException($"Model '{model.Name}' has {ModelSource.Classes(model)} outputs; the data set has {classNames.Count} classes.");

        if (settings.DecaySteps == 0) settings = settings with { DecaySteps = (long)settings.Epochs * fitSet.BatchCount(settings.BatchSize) };
        if (!parsed.GetValue(Resume)) Compile(model, settings);

        Directory.CreateDirectory(outDirectory);
        AtomicFile.WriteAllBytes(Path.Combine(outDirectory, "config.json"), Encoding.UTF8.GetBytes(ModelFile.ArchitectureJson(model) + "\n"));
        var baseMetadata = new Dictionary<string, string>
        {
            [MetadataKeys.ClassNames] = JsonSerializer.Serialize(classNames),
            [MetadataKeys.Train] = settings.ToJson(),
        };
        var saver = new LambdaCallback(onEpochEnd: (epoch, logs) =>
        {
            history.Add(new Dictionary<string, double>(logs) { ["epoch"] = epoch + 1 });
            ModelFile.Save(model, checkpoint, new Dictionary<string, string>(baseMetadata) { [MetadataKeys.Epoch] = (epoch + 1).ToString(CultureInfo.InvariantCulture) });
            AtomicFile.WriteAllBytes(Path.Combine(outDirectory, "history.json"), JsonSerializer.SerializeToUtf8Bytes(history, new JsonSerializerOptions { WriteIndented = true }));
        });
        var progress = new TrainingProgress(context.ConsoleFor(context.Output), report, live: !json && context.OutputIsTerminal,
            settings.Epochs, fitSet.Count, settings.BatchSize);

        if (!json)
            report.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Training '{settings.Model}' ({model.CountParams():N0} params) on {fitSet.Count:N0} images{(validationSet is null ? "" : $", validating on {validationSet.Count:N0}")}: " +
                $"{settings.Optimizer} lr {settings.LearningRate:G4}{(settings.DecaySteps is null ? "" : " cosine")}, batch {settings.BatchSize}, epochs {initialEpoch + 1}..{settings.Epochs}, seed {settings.Seed}"));
        if (initialEpoch >= settings.Epochs)
            report.WriteLine($"The checkpoint in '{outDirectory}' has already trained {initialEpoch} epochs; pass a larger --epochs to train on.");

        var options = new FitOptions
        {
            Epochs = settings.Epochs,
            BatchSize = settings.BatchSize,
            InitialEpoch = initialEpoch,
            Seed = settings.Seed,
            Shuffle = true,
            ValidationData = validationSet is null ? null : (validationSet.Images, validationSet.Labels),
            Augment = settings.Augment ? new Augmentation(HorizontalFlip: true, MaxShift: 2).Apply : null,
            Callbacks = [progress, saver],
        };
        var trainClock = Stopwatch.StartNew();
        progress.Run(() => model.Fit(fitSet.Images, fitSet.Labels, options));
        double trainSeconds = trainClock.Elapsed.TotalSeconds;

        var test = model.Evaluate(testSet.Images, testSet.Labels, batchSize: 256);
        var last = history.Count > 0 ? history[^1] : new Dictionary<string, double>();
        if (json)
        {
            var result = new JsonObject
            {
                ["model"] = settings.Model,
                ["epochs"] = last.TryGetValue("epoch", out var e) ? (int)e : initialEpoch,
                ["params"] = model.CountParams(),
                ["train_images"] = fitSet.Count,
                ["validation_images"] = validationSet?.Count ?? 0,
            };
            foreach (var (key, value) in last) if (key != "epoch") result[key] = Number(value);
            result["test_images"] = testSet.Count;
            result["test_loss"] = Number(test["loss"]);
            result["test_accuracy"] = Number(test["accuracy"]);
            result["wall_seconds"] = Math.Round(wall.Elapsed.TotalSeconds, 3);
            result["train_seconds"] = Math.Round(trainSeconds, 3);
            result["images_per_second"] = Math.Round(progress.ImagesPerSecond, 1);
            result["model_file"] = Path.GetFullPath(checkpoint);
            context.Output.WriteLine(result.ToJsonString());
        }
        else
        {
            report.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Test accuracy: {test["accuracy"]:F4} (loss {test["loss"]:F4}) on {testSet.Count:N0} test images; model saved to {checkpoint}; {wall.Elapsed.TotalSeconds:F1}s in all"));
        }
        return Cli.Success;
    }

    /// <summary>A new run: a built-in model, or a saved model's weights with fresh training settings.</summary>
    private static (Model, TrainSettings, int, List<Dictionary<string, double>>) Fresh(ParseResult parsed)
    {
        string modelName = parsed.GetValue(ModelOption)!;
        int seed = parsed.GetValue(Seed);
        Model model;
        TrainingRecipe recipe;
        if (ModelSource.IsFile(modelName))
        {
            var (loaded, metadata) = ModelSource.Load(modelName);
            model = loaded;
            string? zooName = metadata.TryGetValue(MetadataKeys.Train, out _) ? TrainSettings.FromMetadata(metadata, modelName).Model : null;
            recipe = zooName is not null && ModelZoo.Contains(zooName) ? ModelZoo.Recipe(zooName) : ModelZoo.Recipe("tutorial");
        }
        else
        {
            RandomSource.SetGlobalSeed(seed);
            model = ModelSource.Create(modelName, (28, 28, 1), FashionMnist.ClassNames.Count, seed);
            recipe = ModelZoo.Recipe(modelName);
        }
        string schedule = parsed.GetValue(Schedule) ?? (recipe.CosineDecay ? "cosine" : "constant");
        if (schedule is not ("constant" or "cosine")) throw new CliException($"Unknown --schedule '{schedule}'; use constant or cosine.");
        var settings = new TrainSettings(
            modelName,
            (parsed.GetValue(OptimizerOption) ?? recipe.Optimizer).ToLowerInvariant(),
            parsed.GetValue(LearningRate) ?? recipe.LearningRate,
            parsed.GetValue(Epochs) ?? recipe.Epochs,
            parsed.GetValue(BatchSize) ?? recipe.BatchSize,
            seed,
            parsed.GetValue(Limit),
            parsed.GetValue(ValidationSplit),
            parsed.GetValue(Augment),
            schedule == "cosine" ? 0 : null);
        return (model, settings, 0, []);
    }

    /// <summary>Continues the run in <paramref name="outDirectory"/>: its weights, optimizer state, epoch count and settings.</summary>
    private static (Model, TrainSettings, int, List<Dictionary<string, double>>) Resumed(ParseResult parsed, string checkpoint, string outDirectory)
    {
        if (!File.Exists(checkpoint))
            throw new CliException($"Nothing to resume: '{checkpoint}' does not exist (train without --resume first, or pass the run's --out).");
        var (model, metadata) = ModelFile.Load(checkpoint);
        var stored = TrainSettings.FromMetadata(metadata, checkpoint);
        if (!metadata.TryGetValue(MetadataKeys.Epoch, out var epochText) || !int.TryParse(epochText, CultureInfo.InvariantCulture, out int epoch) || epoch < 0)
            throw new ConvKitFormatException(checkpoint, $"no valid '{MetadataKeys.Epoch}' entry");
        if (model.Optimizer is null) throw new ConvKitFormatException(checkpoint, "no optimizer state to resume from");
        // The run's own settings decide the data, batches and shuffles; only the target epoch count may change.
        Unchanged(parsed, Limit, stored.Limit);
        Unchanged(parsed, BatchSize, stored.BatchSize);
        Unchanged(parsed, Seed, stored.Seed);
        Unchanged(parsed, ValidationSplit, stored.ValidationSplit);
        Unchanged(parsed, Augment, stored.Augment);
        Unchanged(parsed, LearningRate, stored.LearningRate);
        Unchanged(parsed, OptimizerOption, stored.Optimizer);
        var settings = stored with { Epochs = parsed.GetValue(Epochs) ?? stored.Epochs };
        if (stored.DecaySteps is { } steps && steps > 0) model.Optimizer.Schedule = new CosineDecay(steps);
        var history = new List<Dictionary<string, double>>();
        string historyPath = Path.Combine(outDirectory, "history.json");
        if (File.Exists(historyPath))
        {
            try
            {
                history = JsonSerializer.Deserialize<List<Dictionary<string, double>>>(File.ReadAllText(historyPath)) ?? [];
            }
            catch (JsonException e)
            {
                throw new ConvKitFormatException(historyPath, $"not a training history: {e.Message}", e);
            }
            for (int i = 0; i < history.Count; i++)
            {
                // The element type does not stop a JSON null inside the array; 1e400 reads as infinity.
                if (history[i] is null)
                    throw new ConvKitFormatException(historyPath, $"not a training history: entry {i} is null, not an object of the epoch's numbers");
                if (!history[i].TryGetValue("epoch", out double number) || !(number >= 1) || double.IsInfinity(number) || number != Math.Floor(number))
                    throw new ConvKitFormatException(historyPath, $"not a training history: entry {i} has no whole 'epoch' number from 1 on");
            }
            history = history.Where(h => h["epoch"] <= epoch).ToList();
        }
        return (model, settings, epoch, history);
    }

    private static void Unchanged<T>(ParseResult parsed, Option<T> option, object? stored)
    {
        var result = parsed.GetResult(option);
        if (result is null || result.Implicit) return;
        object? given = parsed.GetValue(option);
        if (!Equals(given, stored) && !Equals(given?.ToString(), stored?.ToString()))
            throw new CliException($"--resume continues the run with its own settings; {option.Name} was {stored?.ToString() ?? "not set"} and cannot change (only --epochs can).");
    }

    private static void Validate(TrainSettings s)
    {
        if (s.Epochs < 1) throw new CliException($"--epochs must be at least 1; received {s.Epochs}.");
        if (s.BatchSize < 1) throw new CliException($"--batch-size must be at least 1; received {s.BatchSize}.");
        if (s.Limit is < 1) throw new CliException($"--limit must be at least 1; received {s.Limit}.");
        if (s.ValidationSplit is < 0 or >= 1 || double.IsNaN(s.ValidationSplit))
            throw new CliException($"--validation-split must be in [0, 1); received {s.ValidationSplit}.");
        if (!(s.LearningRate > 0)) throw new CliException($"--lr must be positive; received {s.LearningRate}.");
    }

    private static void Compile(Model model, TrainSettings settings)
    {
        var optimizer = Optimizer.FromName(settings.Optimizer, settings.LearningRate);
        if (settings.DecaySteps is { } steps) optimizer.Schedule = new CosineDecay(steps);
        model.Compile(optimizer, Losses.SparseCategoricalCrossentropy(fromLogits: ModelSource.OutputsLogits(model)), ["accuracy"]);
    }

    private static (Dataset Train, Dataset Test) LoadData(string directory, int? limit, int? testLimit)
    {
        var (train, test) = FashionMnist.Load(directory);
        if (testLimit is < 1) throw new CliException($"--test-limit must be at least 1; received {testLimit}.");
        return (limit is { } n ? train.Take(n) : train, testLimit is { } t ? test.Take(t) : test);
    }

    private static (Dataset, Dataset?) Split(Dataset train, double fraction)
    {
        var (fit, validation) = train.SplitValidation(fraction);
        if (fit.Count == 0 || validation.Count == 0)
            throw new CliException($"--validation-split {fraction} of {train.Count} images leaves an empty training or validation set.");
        return (fit, validation);
    }

    private static JsonNode? Number(double value) => double.IsFinite(value) ? JsonValue.Create(Math.Round(value, 6)) : null;
}
