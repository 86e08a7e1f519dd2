using ConvKit.Imaging;
using ConvKit.IO;
using ConvKit.Layers;
using ConvKit.Tensors;
using ConvKit.Tests;

namespace ConvKit.Cli.Tests;

public class FeaturesCommandTests
{
    [Fact]
    public void Features_draws_every_convolution_its_filters_and_the_input_as_the_model_saw_it()
    {
        using var dir = new TempDirectory();
        string model = ModelCommandTests.SaveTinyModel(dir), png = TestImages.SaveBar(dir), outDir = dir.File("maps");
        var conv = ModelFile.Load(model).Model.Layers.OfType<Conv2D>().Single();

        var result = CliResult.Run("features", png, "--model", model, "--out", outDir);

        Assert.True(result.ExitCode == 0, result.Error);
        var input = ImageIO.Load(Path.Combine(outDir, "input.png"), channels: 1);
        Assert.Equal(new Shape(28, 28, 1), input.Shape);
        Assert.Equal(1f, input.Span[20 * 28 + 14]);                   // inside the bar
        Assert.Equal(0f, input.Span[2 * 28 + 2]);                     // outside it
        // Eight 26×26 maps (a valid 3×3 convolution of 28×28), enlarged twice, in 3 columns and 3 rows.
        var maps = ImageIO.Load(Path.Combine(outDir, conv.Name + ".png"), channels: 1);
        Assert.Equal(new Shape(3 * 53 - 1, 3 * 53 - 1, 1), maps.Shape);
        // The filters: eight 3×3 cells enlarged 16 times.
        var filters = ImageIO.Load(Path.Combine(outDir, conv.Name + ".filters.png"), channels: 1);
        Assert.Equal(new Shape(3 * 49 - 1, 3 * 49 - 1, 1), filters.Shape);
        Assert.Contains($"{conv.Name}  (1, 26, 26, 8)", result.Output);
        Assert.Contains($"{conv.Name} filters  (3, 3, 1, 8)", result.Output);
        Assert.Equal(3, result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public void Features_of_named_layers_draws_those_maps_and_matches_the_model_output()
    {
        using var dir = new TempDirectory();
        string model = ModelCommandTests.SaveTinyModel(dir), png = TestImages.SaveBar(dir), outDir = dir.File("maps");
        var loaded = ModelFile.Load(model).Model;
        var pool = loaded.Layers.OfType<MaxPooling2D>().Single();

        var result = CliResult.Run("features", png, "--model", model, "--out", outDir, "--layer", pool.Name, "--columns", "8");

        Assert.True(result.ExitCode == 0, result.Error);
        var grid = ImageIO.Load(Path.Combine(outDir, pool.Name + ".png"), channels: 1);
        Assert.Equal(new Shape(52, 8 * 53 - 1, 1), grid.Shape);       // 13×13 maps enlarged 4 times, one row
        // The brightest pixel of map 0 is where the model's own output of that layer is largest.
        var image = ImageIO.Load(png, channels: 1, resizeTo: (28, 28));
        var expected = loaded.Extract(Operations.Ops.Reshape(image, 1, 28, 28, 1), pool.Name)[pool.Name];
        var map0 = Enumerable.Range(0, 13 * 13).Select(p => expected.Span[p * 8]).ToArray();
        int brightest = Array.IndexOf(map0, map0.Max());
        Assert.Equal(1f, grid.Span[(brightest / 13 * 4 + 1) * grid.Shape[1] + brightest % 13 * 4 + 1]);
        Assert.False(File.Exists(Path.Combine(outDir, pool.Name + ".filters.png")));
    }

    [Fact]
    public void Features_of_an_unknown_layer_or_one_without_maps_is_one_line()
    {
        using var dir = new TempDirectory();
        string model = ModelCommandTests.SaveTinyModel(dir), png = TestImages.SaveBar(dir);
        var dense = ModelFile.Load(model).Model.Layers.OfType<Dense>().Single();

        var unknown = CliResult.Run("features", png, "--model", model, "--out", dir.File("m"), "--layer", "nope").AssertOneLineError();
        Assert.Contains("no layer 'nope'", unknown);
        Assert.Contains(dense.Name, unknown);                           // the layers it has are listed
        var flat = CliResult.Run("features", png, "--model", model, "--out", dir.File("m"), "--layer", dense.Name).AssertOneLineError();
        Assert.Contains($"'{dense.Name}' outputs (None, 10)", flat);
        var missing = CliResult.Run("features", dir.File("none.png"), "--model", model).AssertOneLineError();
        Assert.Contains("none.png", missing);
        Assert.False(Directory.Exists(dir.File("m")));                  // nothing written before the arguments are checked
    }
}
