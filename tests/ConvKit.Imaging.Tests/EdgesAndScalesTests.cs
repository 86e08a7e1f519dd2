using ConvKit.Tensors;
using ConvKit.Tests;

namespace ConvKit.Imaging.Tests;

public class EdgesAndScalesTests
{
    [Fact]
    public void AVerticalBar_LightsTheVerticalFilterAndNeverTheHorizontal_AtEveryScale()
    {
        using var dir = new TempDirectory();
        // 64×48, a bright bar over columns 20–27 from top to bottom: vertical edges only.
        var picture = Tensor.Zeros(64, 48, 3);
        for (int y = 0; y < 64; y++)
            for (int x = 20; x < 28; x++)
                for (int c = 0; c < 3; c++) picture.Span[(y * 48 + x) * 3 + c] = 1f;
        ImageIO.SavePng(picture, dir.File("bar.png"));
        var output = new StringWriter();

        EdgesAndScales.Walkthrough.Run(dir.File("bar.png"), dir.File("edges"), output);

        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(6, lines.Length);
        Assert.Equal("picture (1, 64, 48, 1), as luminance", lines[0]);
        Assert.All(lines[1..], line => Assert.Contains("horizontal 0.0000,", line));
        // Full size: |Sobel| is 4 on both columns beside each edge, over 62 rows: 4·4·62 / (62·46).
        Assert.Contains($"vertical {16.0 / 46:F4}, horizontal 0.0000, diagonal {12.0 / 46:F4}, anti-diagonal {12.0 / 46:F4}", lines[1]);
        var grid = ImageIO.Load(dir.File("edges/edges.png"), channels: 1);
        int f = FeatureGrid.Scale(62, 46, 216);
        Assert.Equal(new Shape(62 * f, 4 * (46 * f + 1) - 1, 1), grid.Shape);
        var quarter = ImageIO.Load(dir.File("edges/edges-pooled4.png"), channels: 1);
        int q = FeatureGrid.Scale(14, 10, 216);
        Assert.Equal(new Shape(14 * q, 4 * (10 * q + 1) - 1, 1), quarter.Shape);        // 16×12 pooled, less 2 each way
        foreach (var name in new[] { "edges-dilated2", "edges-dilated4", "edges-pooled2" })
            Assert.True(File.Exists(dir.File($"edges/{name}.png")), name);
    }
}
