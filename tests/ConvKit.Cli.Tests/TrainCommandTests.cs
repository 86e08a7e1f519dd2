using System.Text.Json;
using ConvKit.IO;
using ConvKit.Layers;
using ConvKit.Models;
using ConvKit.Training;
using ConvKit.Tests;

namespace ConvKit.Cli.Tests;

public class TrainCommandTests
{
    [FactWithFashionMnist]
    public void Train_tiny_with_json_prints_one_result_line_and_saves_the_model()
    {
        using var dir = new TempDirectory();
        var result = CliResult.Run("train", "--model", "tiny", "--limit", "500", "--epochs", "1", "--json", "--out", dir.Path);

        Assert.True(result.ExitCode == 0, result.Error);
        var line = Assert.Single(result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        using var json = JsonDocument.Parse(line);
        var root = json.RootElement;
        Assert.Equal("tiny", root.GetProperty("model").GetString());
        Assert.Equal(1, root.GetProperty("epochs").GetInt32());
        Assert.Equal(500, root.GetProperty("train_images").GetInt32());
        Assert.Equal(10_000, root.GetProperty("test_images").GetInt32());
        Assert.InRange(root.GetProperty("test_accuracy").GetDouble(), 0.2, 1.0);
        Assert.InRange(root.GetProperty("accuracy").GetDouble(), 0.0, 1.0);
        Assert.True(root.GetProperty("loss").GetDouble() > 0);
        Assert.True(root.GetProperty("images_per_second").GetDouble() > 0);
        Assert.True(root.GetProperty("wall_seconds").GetDouble() > 0);
        Assert.Contains("epoch 1/1", result.Error);

        var (model, metadata) = ModelFile.Load(dir.File("model.safetensors"));
        Assert.Equal(root.GetProperty("params").GetInt64(), model.CountParams());
        Assert.Equal("1", metadata["convkit.epoch"]);
        Assert.Equal("T-shirt/top", JsonSerializer.Deserialize<string[]>(metadata["convkit.class_names"])![0]);
        Assert.NotNull(model.Optimizer);
        Assert.Equal(10, model.Optimizer!.Iterations);  // 500 images in batches of 50
        Assert.Contains("\"Sequential\"", File.ReadAllText(dir.File("config.json")));
        using var history = JsonDocument.Parse(File.ReadAllText(dir.File("history.json")));
        Assert.Equal(1, history.RootElement.GetArrayLength());
    }

    [FactWithFashionMnist]
    public void Resume_continues_to_the_same_weights_as_an_uninterrupted_run()
    {
        using var interrupted = new TempDirectory();
        using var straight = new TempDirectory();
        string[] common = ["--model", "tiny", "--limit", "300", "--test-limit", "100", "--validation-split", "0.2", "--augment", "--seed", "7"];

        var first = CliResult.Run(["train", .. common, "--epochs", "1", "--out", interrupted.Path]);
        Assert.True(first.ExitCode == 0, first.Error);
        var resumed = CliResult.Run("train", "--resume", "--epochs", "2", "--out", interrupted.Path, "--test-limit", "100");
        Assert.True(resumed.ExitCode == 0, resumed.Error);
        Assert.Contains("epoch 2/2", resumed.Output);
        Assert.DoesNotContain("epoch 1/2", resumed.Output);
        var whole = CliResult.Run(["train", .. common, "--epochs", "2", "--out", straight.Path]);
        Assert.True(whole.ExitCode == 0, whole.Error);

        var (a, metadataA) = ModelFile.Load(interrupted.File("model.safetensors"));
        var (b, _) = ModelFile.Load(straight.File("model.safetensors"));
        Assert.Equal("2", metadataA["convkit.epoch"]);
        Assert.Equal(b.Optimizer!.Iterations, a.Optimizer!.Iterations);
        Assert.Equal(b.Weights.Count, a.Weights.Count);
        foreach (var (wa, wb) in a.Weights.Zip(b.Weights))
        {
            Assert.Equal(wb.Name, wa.Name);
            Assert.Equal(wb.Value.ToArray(), wa.Value.ToArray());
        }
        using var history = JsonDocument.Parse(File.ReadAllText(interrupted.File("history.json")));
        Assert.Equal(2, history.RootElement.GetArrayLength());
    }

    [FactWithFashionMnist]
    public void Resume_refuses_to_change_the_runs_settings()
    {
        using var dir = new TempDirectory();
        Assert.Equal(0, CliResult.Run("train", "--model", "tiny", "--limit", "100", "--test-limit", "50", "--epochs", "1", "--out", dir.Path).ExitCode);
        var line = CliResult.Run("train", "--resume", "--out", dir.Path, "--batch-size", "7").AssertOneLineError();
        Assert.Contains("--batch-size", line);
    }

    /// <summary>
    /// --threads and CONVKIT_THREADS set the kernels' threads of a fresh process (the kernels read them once, so this
    /// runs convkit as its own process): CONVKIT_DEBUG=2 names the threads each GEMM runs on.
    /// </summary>
    [FactWithFashionMnist]
    public void Threads_option_and_variable_set_the_kernel_threads()
    {
        using var dir = new TempDirectory();
        string ThreadCounts(string? option, string? variable)
        {
            var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "ConvKit.Cli.dll"));
            foreach (var arg in new[] { "train", "--model", "tiny", "--limit", "100", "--test-limit", "50", "--epochs", "1", "--out", dir.Path })
                start.ArgumentList.Add(arg);
            if (option != null) { start.ArgumentList.Add("--threads"); start.ArgumentList.Add(option); }
            start.Environment["CONVKIT_DEBUG"] = "2";
            start.Environment["CONVKIT_THREADS"] = variable;
            using var process = System.Diagnostics.Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            string error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, error);
            _ = output.Result;
            var counts = System.Text.RegularExpressions.Regex.Matches(error, @"kernel: GEMM .*, (\d+) thread\(s\)").Select(m => m.Groups[1].Value).Distinct().Order();
            return string.Join(",", counts);
        }

        Assert.Equal("1", ThreadCounts("1", null));
        Assert.Equal("1", ThreadCounts(null, "1"));
        Assert.Equal("2", ThreadCounts("2", "1"));     // the option wins over the variable
    }

    [Fact]
    public void Resume_without_a_checkpoint_is_one_line()
    {
        using var dir = new TempDirectory();
        var line = CliResult.Run("train", "--resume", "--out", dir.Path).AssertOneLineError();
        Assert.Contains("Nothing to resume", line);
    }

    [Fact]
    public void Missing_data_directory_says_how_to_install_the_data_set()
    {
        using var dir = new TempDirectory();
        var line = CliResult.Run("train", "--model", "tiny", "--data", dir.File("nowhere"), "--out", dir.File("out")).AssertOneLineError();
        Assert.Contains("apt-get install dataset-fashion-mnist", line);
        Assert.Contains("nowhere", line);
    }

    [Fact]
    public void Unknown_model_name_lists_the_built_in_models()
    {
        using var dir = new TempDirectory();
        var line = CliResult.Run("train", "--model", "resnet9000", "--out", dir.Path).AssertOneLineError();
        Assert.Contains("resnet9000", line);
        Assert.Contains("default, tutorial, tiny", line);
    }

    [Fact]
    public void Unknown_option_is_a_usage_error()
    {
        var line = CliResult.Run("train", "--epoch", "3").AssertOneLineError(Cli.UsageError);
        Assert.Contains("--epoch", line);
    }

    [Fact]
    public void Bad_option_value_is_one_line()
    {
        using var dir = new TempDirectory();
        CliResult.Run("train", "--model", "tiny", "--epochs", "0", "--out", dir.Path).AssertOneLineError();
        CliResult.Run("train", "--model", "tiny", "--epochs", "three").AssertOneLineError(Cli.UsageError);
    }

    /// <summary>A checkpoint in <paramref name="dir"/> as 'convkit train' leaves it after 2 of 3 epochs, with <paramref name="history"/> as history.json.</summary>
    private static void Checkpoint(TempDirectory dir, string history)
    {
        var model = new Sequential(new Input(28, 28, 1), new Flatten(), new Dense(10));
        model.Compile(new Adam(0.001f), Losses.SparseCategoricalCrossentropy(fromLogits: true), ["accuracy"]);
        var settings = new TrainSettings("tiny", "adam", 0.001f, 3, 50, 1, 100, 0, false, null);
        ModelFile.Save(model, dir.File("model.safetensors"), new Dictionary<string, string>
        {
            [MetadataKeys.Train] = settings.ToJson(),
            [MetadataKeys.Epoch] = "2",
        });
        File.WriteAllText(dir.File("history.json"), history);
    }

    public static TheoryData<string, string> MalformedHistories => new()
    {
        { "[{\"loss\": 0.5, \"epoch\": 1}, {\"lo", "not a training history" },                       // truncated
        { "", "not a training history" },
        { "{\"loss\": 0.5, \"epoch\": 1}", "not a training history" },                                // an object, not a list
        { "[{\"loss\": \"low\", \"epoch\": 1}]", "not a training history" },
        { "[[0.5, 1]]", "not a training history" },
        { "[{\"epoch\": 1e400}]", "entry 0 has no whole 'epoch' number" },
        { "[{\"epoch\": 1}, {\"epoch\": 0.5}]", "entry 1 has no whole 'epoch' number" },
        { "[{\"loss\": 0.5}]", "entry 0 has no whole 'epoch' number" },
        { "[null]", "entry 0 is null" },
        { "[{\"epoch\": 1}, null]", "entry 1 is null" },
        { "[{\"epoch\": [" + string.Join(",", Enumerable.Repeat("0", 1_000_000)) + "]}]", "not a training history" },
        { new string('[', 100_000), "not a training history" },
    };

    [Theory]
    [MemberData(nameof(MalformedHistories))]
    public void Resume_with_a_malformed_history_names_the_file(string history, string problem)
    {
        using var dir = new TempDirectory();
        Checkpoint(dir, history);
        var line = CliResult.Run("train", "--resume", "--out", dir.Path, "--data", dir.File("nowhere")).AssertOneLineError();
        Assert.Contains(dir.File("history.json"), line);
        Assert.Contains(problem, line);
    }

    [Fact]
    public void Resume_reads_a_long_history_and_goes_on_to_the_data()
    {
        using var dir = new TempDirectory();
        Checkpoint(dir, "[" + string.Join(",", Enumerable.Range(1, 50_000).Select(i => $"{{\"loss\": 0.5, \"epoch\": {i}}}")) + "]");
        var line = CliResult.Run("train", "--resume", "--out", dir.Path, "--data", dir.File("nowhere")).AssertOneLineError();
        Assert.Contains("nowhere", line);
        Assert.DoesNotContain("history", line);
    }

    [Fact]
    public void Resume_with_malformed_settings_names_the_checkpoint()
    {
        using var dir = new TempDirectory();
        Checkpoint(dir, "[]");
        var (tensors, metadata) = SafeTensors.Load(dir.File("model.safetensors"));
        metadata[MetadataKeys.Train] = metadata[MetadataKeys.Train].Replace("\"batch_size\":50", "\"batch_size\":0", StringComparison.Ordinal);
        SafeTensors.Save(dir.File("model.safetensors"), tensors, metadata);
        var line = CliResult.Run("train", "--resume", "--out", dir.Path, "--data", dir.File("nowhere")).AssertOneLineError();
        Assert.Contains(dir.File("model.safetensors"), line);
        Assert.Contains("batch_size is 0", line);
    }
}
