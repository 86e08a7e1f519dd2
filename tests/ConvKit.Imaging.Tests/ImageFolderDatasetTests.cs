using ConvKit.IO;
using ConvKit.Tensors;
using ConvKit.Tests;

namespace ConvKit.Imaging.Tests;

public class ImageFolderDatasetTests
{
    private static void SaveFlat(string path, float value, int height = 6, int width = 4)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        ImageIO.SavePng(Tensor.Full(new Shape(height, width, 3), value), path);
    }

    [Fact]
    public void Load_OneClassPerSubdirectory_SortedByName()
    {
        using var dir = new TempDirectory();
        SaveFlat(Path.Combine(dir.Path, "zebra", "b.png"), 0.2f);
        SaveFlat(Path.Combine(dir.Path, "zebra", "a.png"), 0.4f);
        SaveFlat(Path.Combine(dir.Path, "ant", "only.png"), 0.6f, height: 9, width: 9);
        File.WriteAllText(Path.Combine(dir.Path, "zebra", "notes.txt"), "ignored");

        var data = ImageFolderDataset.Load(dir.Path, height: 3, width: 2, channels: 3);

        Assert.Equal(new[] { "ant", "zebra" }, data.ClassNames);
        Assert.Equal(new Shape(3, 3, 2, 3), data.Images.Shape);
        Assert.Equal(new float[] { 0, 1, 1 }, data.Labels.ToArray());
        // Within a class, files are in name order: a.png (0.4) before b.png (0.2).
        Assert.Equal(MathF.Round(0.6f * 255) / 255, data.Images[0].Span[0], 3);
        Assert.Equal(MathF.Round(0.4f * 255) / 255, data.Images[1].Span[0], 3);
        Assert.Equal(MathF.Round(0.2f * 255) / 255, data.Images[2].Span[0], 3);
    }

    [Fact]
    public void Load_Grayscale_GivesOneChannel()
    {
        using var dir = new TempDirectory();
        SaveFlat(Path.Combine(dir.Path, "a", "x.png"), 1f);
        var data = ImageFolderDataset.Load(dir.Path, 5, 5, channels: 1);
        Assert.Equal(new Shape(1, 5, 5, 1), data.Images.Shape);
        Assert.All(data.Images.ToArray(), v => Assert.Equal(1f, v, 3));
    }

    [Fact]
    public void Load_MalformedImage_NamesTheFile()
    {
        using var dir = new TempDirectory();
        SaveFlat(Path.Combine(dir.Path, "good", "x.png"), 0.5f);
        string bad = Path.Combine(dir.Path, "good", "y.jpg");
        File.WriteAllBytes(bad, [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]);

        var error = Assert.Throws<ConvKitFormatException>(() => ImageFolderDataset.Load(dir.Path, 4, 4));
        Assert.Equal(bad, error.FilePath);
    }

    [Fact]
    public void Load_EmptyOrMissingFolder_IsAClearError()
    {
        using var dir = new TempDirectory();
        Assert.Throws<DirectoryNotFoundException>(() => ImageFolderDataset.Load(dir.File("missing"), 4, 4));
        var noClasses = Assert.Throws<ArgumentException>(() => ImageFolderDataset.Load(dir.Path, 4, 4));
        Assert.Contains("no subdirectories", noClasses.Message);
        Directory.CreateDirectory(dir.File("empty-class"));
        var noImages = Assert.Throws<ArgumentException>(() => ImageFolderDataset.Load(dir.Path, 4, 4));
        Assert.Contains("no .bmp/.gif/.jpeg/.jpg/.png files", noImages.Message);
    }
}
