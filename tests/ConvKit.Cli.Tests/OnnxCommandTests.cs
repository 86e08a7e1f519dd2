using ConvKit.Tests;

namespace ConvKit.Cli.Tests;

public class OnnxCommandTests
{
    [Fact]
    public void Export_then_import_keeps_the_model()
    {
        using var dir = new TempDirectory();
        string onnx = dir.File("tutorial.onnx");
        var exported = CliResult.Run("export", "tutorial", "--out", onnx);
        Assert.True(exported.ExitCode == 0, exported.Error);
        Assert.Contains("3,274,634 parameters", exported.Output);

        var imported = CliResult.Run("import", onnx, "--summary", "--out", dir.File("imported.safetensors"));
        Assert.True(imported.ExitCode == 0, imported.Error);
        Assert.Contains("opset 17", imported.Output);
        Assert.Contains("Total params: 3,274,634", imported.Output);
        Assert.True(File.Exists(dir.File("imported.safetensors")));

        var summary = CliResult.Run("summary", dir.File("imported.safetensors"));
        Assert.True(summary.ExitCode == 0, summary.Error);
        Assert.Contains("Total params: 3,274,634", summary.Output);
    }

    [Fact]
    public void Broken_onnx_files_are_one_line_errors()
    {
        using var dir = new TempDirectory();
        string path = dir.File("broken.onnx");
        File.WriteAllBytes(path, [0x08, 0x07, 0x12, 0xff, 0xff, 0xff]);
        var result = CliResult.Run("import", path);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("broken.onnx", result.Error);
        Assert.DoesNotContain("   at ", result.Error);
        Assert.Equal(1, CliResult.Run("import", dir.File("missing.onnx")).ExitCode);
    }
}
