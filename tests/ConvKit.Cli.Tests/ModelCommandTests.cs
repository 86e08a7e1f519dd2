using System.Globalization;
using System.Text.Json;
using ConvKit.Data;
using ConvKit.Imaging;
using ConvKit.IO;
using ConvKit.Models;
using ConvKit.Tensors;
using ConvKit.Tests;

namespace ConvKit.Cli.Tests;

public class ModelCommandTests
{
    [Fact]
    public void Summary_of_tutorial_counts_3274634_parameters()
    {
        var result = CliResult.Run("summary", "tutorial");
        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains("Total params: 3,274,634 (12.49 MB)", result.Output);
        Assert.Contains("conv2d (Conv2D)", result.Output);
        Assert.Contains("(None, 7, 7, 64)", result.Output);
    }

    [Fact]
    public void Summary_of_a_model_file_matches_the_saved_model()
    {
        using var dir = new TempDirectory();
        string path = SaveTinyModel(dir);
        var result = CliResult.Run("summary", path);
        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains("Total params: 13,634", result.Output);
        // The directory convkit train writes (model.safetensors inside), named as evaluate and predict take it: a bare
        // relative name, which is also what a built-in model's name looks like. (The CLI tests run one at a time.)
        Directory.CreateDirectory(dir.File("run"));
        File.Copy(path, Path.Combine(dir.File("run"), "model.safetensors"));
        var previous = Directory.GetCurrentDirectory();
        try
        {
            Directory.SetCurrentDirectory(Path.GetDirectoryName(path)!);
            var byDirectory = CliResult.Run("summary", "run");
            Assert.True(byDirectory.ExitCode == 0, byDirectory.Error);
            Assert.Contains("Total params: 13,634", byDirectory.Output);
        }
        finally { Directory.SetCurrentDirectory(previous); }
    }

    [Fact]
    public void Predict_prints_the_top_classes_with_probabilities()
    {
        using var dir = new TempDirectory();
        string model = SaveTinyModel(dir);
        string png = TestImages.SaveBar(dir);

        var result = CliResult.Run("predict", png, png, "--model", model, "--top", "4");

        Assert.True(result.ExitCode == 0, result.Error);
        var lines = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2 * 5, lines.Length);
        Assert.Equal(png, lines[0]);
        var probabilities = lines[1..5].Select(l => double.Parse(l.Trim().Split(' ')[0].TrimEnd('%'), CultureInfo.InvariantCulture) / 100).ToArray();
        Assert.All(probabilities, p => Assert.InRange(p, 0, 1));
        Assert.Equal(probabilities.OrderByDescending(p => p), probabilities);
        Assert.Contains(lines[1..5], l => FashionMnist.ClassNames.Any(l.EndsWith));
        Assert.Equal(lines[1..5], lines[6..10]);
    }

    [Fact]
    public void Predict_of_a_missing_image_is_one_line()
    {
        using var dir = new TempDirectory();
        string model = SaveTinyModel(dir);
        var line = CliResult.Run("predict", dir.File("nothing.png"), "--model", model).AssertOneLineError();
        Assert.Contains("nothing.png", line);
    }

    [Fact]
    public void Corrupt_model_file_reports_the_file_and_the_problem()
    {
        using var dir = new TempDirectory();
        string path = dir.File("broken.safetensors");
        File.WriteAllBytes(path, [0x10, 0, 0, 0, 0, 0, 0, 0, (byte)'{', (byte)'"', (byte)'x']);

        foreach (var args in new[] { new[] { "summary", path }, ["evaluate", "--model", path], ["predict", path, "--model", path] })
        {
            var line = CliResult.Run(args).AssertOneLineError();
            Assert.Contains("broken.safetensors", line);
        }
    }

    [Fact]
    public void Missing_model_file_is_one_line()
    {
        using var dir = new TempDirectory();
        var line = CliResult.Run("evaluate", "--model", dir.File("none.safetensors")).AssertOneLineError();
        Assert.Contains("none.safetensors", line);
    }

    [FactWithFashionMnist]
    public void Evaluate_prints_accuracy_top5_and_the_confusion_matrix()
    {
        using var dir = new TempDirectory();
        string model = SaveTinyModel(dir);
        var result = CliResult.Run("evaluate", "--model", model, "--limit", "200");
        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains("200 test images: loss", result.Output);
        Assert.Contains("top-5 accuracy", result.Output);
        Assert.Contains("9 Ankle boot", result.Output);
    }

    /// <summary>An untrained tiny model saved as convkit train would, with Fashion-MNIST's class names.</summary>
    internal static string SaveTinyModel(TempDirectory dir)
    {
        RandomSource.SetGlobalSeed(3);
        var model = ModelZoo.Create("tiny", (28, 28, 1), 10, seed: 3);
        string path = dir.File("tiny.safetensors");
        ModelFile.Save(model, path, new Dictionary<string, string> { ["convkit.class_names"] = JsonSerializer.Serialize(FashionMnist.ClassNames) });
        return path;
    }
}
