using ConvKit.Imaging;
using ConvKit.Tensors;
using ConvKit.Tests;

namespace ConvKit.Cli.Tests;

/// <summary>Small pictures the command tests read.</summary>
internal static class TestImages
{
    /// <summary>A 40×30 RGB picture of a bright bar (trousers, roughly), which the models read as 28×28 grayscale.</summary>
    public static string SaveBar(TempDirectory dir)
    {
        var image = Tensor.Zeros(40, 30, 3);
        for (int y = 8; y < 32; y++)
            for (int x = 10; x < 20; x++)
                for (int c = 0; c < 3; c++) image.Span[(y * 30 + x) * 3 + c] = 1f;
        string png = dir.File("bar.png");
        ImageIO.SavePng(image, png);
        return png;
    }

    /// <summary>A 28×28 checkerboard of 4-pixel squares: the style.</summary>
    public static string SaveChecks(TempDirectory dir)
    {
        var image = Tensor.Zeros(28, 28, 1);
        for (int y = 0; y < 28; y++)
            for (int x = 0; x < 28; x++) image.Span[y * 28 + x] = (y / 4 + x / 4) % 2;
        string png = dir.File("checks.png");
        ImageIO.SavePng(image, png);
        return png;
    }
}
