using ConvKit.Imaging;
using ConvKit.IO;
using ConvKit.Layers;
using ConvKit.Tensors;
using ConvKit.Tests;

namespace ConvKit.Cli.Tests;

public class StyleCommandTests
{
    [Fact]
    public void Style_writes_the_content_image_moved_towards_the_style()
    {
        using var dir = new TempDirectory();
        string model = ModelCommandTests.SaveTinyModel(dir), content = TestImages.SaveBar(dir), style = TestImages.SaveChecks(dir);
        string output = dir.File("styled.png");
        // The last layer with 26×26 maps and the last with 13×13 ones (their names depend on the models made before).
        var layers = ModelFile.Load(model).Model.Layers;
        string activation = layers.OfType<Layers.Activation>().Single().Name, dropout = layers.OfType<Dropout>().Single().Name;

        var result = CliResult.Run("style", content, style, "--model", model, "--steps", "6", "--out", output);

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains($"Style from {activation}, {dropout}; content from {dropout}; 6 steps", result.Output);
        Assert.Contains("step 6/6  loss", result.Output);
        var styled = ImageIO.Load(output, channels: 1);
        var original = ImageIO.Load(content, channels: 1, resizeTo: (28, 28));
        Assert.Equal(new Shape(28, 28, 1), styled.Shape);
        Assert.NotEqual(original.ToArray(), styled.ToArray());
    }

    [Fact]
    public void Style_needs_a_model_known_layers_and_at_least_one_step()
    {
        using var dir = new TempDirectory();
        string model = ModelCommandTests.SaveTinyModel(dir), content = TestImages.SaveBar(dir), style = TestImages.SaveChecks(dir);

        CliResult.Run("style", content, style).AssertOneLineError(Cli.UsageError);
        var unknown = CliResult.Run("style", content, style, "--model", model, "--style-layer", "conv9", "--out", dir.File("x.png")).AssertOneLineError();
        Assert.Contains("'conv9'", unknown);
        var steps = CliResult.Run("style", content, style, "--model", model, "--steps", "0", "--out", dir.File("x.png")).AssertOneLineError();
        Assert.Contains("--steps", steps);
        Assert.False(File.Exists(dir.File("x.png")));
    }
}
