using ConvKit.Tensors;
using ConvKit.Tests;

namespace ConvKit.Imaging.Tests;

public class FeatureGridTests
{
    /// <summary>The pixel (y, x, c) of an (H, W, C) image.</summary>
    private static float At(Tensor image, int y, int x, int c = 0) => image.Span[(y * image.Shape[1] + x) * image.Shape[2] + c];

    [Fact]
    public void Maps_LaysOutEachMapScaledToItsOwnRange_WithWhiteLinesBetween()
    {
        // (1, 2, 3, 3): map 0 runs 0..5 along the pixels, map 1 is 10·(that), map 2 is constant.
        var maps = Tensor.Zeros(1, 2, 3, 3);
        for (int p = 0; p < 6; p++)
        {
            maps.Span[p * 3] = p;
            maps.Span[p * 3 + 1] = 10 * p - 7;
            maps.Span[p * 3 + 2] = 4;
        }

        var grid = FeatureGrid.Maps(maps);

        int f = FeatureGrid.Scale(2, 3);
        Assert.Equal(16, f);                                        // 3·16 = 48 pixels on the longer side
        // ⌈√3⌉ = 2 columns, 2 rows of 2·16 by 3·16 pixels with one line between.
        Assert.Equal(new Shape(2 * 32 + 1, 2 * 48 + 1, 1), grid.Shape);
        for (int p = 0; p < 6; p++)
        {
            int y = p / 3 * f + f / 2, x = p % 3 * f + f / 2;
            Assert.Equal(p / 5f, At(grid, y, x), 6);                 // map 0, top left
            Assert.Equal(p / 5f, At(grid, y, 49 + x), 6);            // map 1, top right: its own range gives the same picture
            Assert.Equal(0f, At(grid, 33 + y, x));                   // map 2, constant: black
        }
        Assert.All(Enumerable.Range(0, grid.Shape[0]), y => Assert.Equal(1f, At(grid, y, 48)));   // the line between the columns
        Assert.All(Enumerable.Range(0, grid.Shape[1]), x => Assert.Equal(1f, At(grid, 32, x)));   // and between the rows
        Assert.Equal(1f, At(grid, 33 + 5, 49 + 5));                  // no fourth map: the empty cell stays white
    }

    [Fact]
    public void Maps_TakesAColumnCountAndLeavesLargeMapsAtTheirSize()
    {
        var maps = Tensor.RandomUniform(new Shape(60, 50, 5), seed: 2);

        var grid = FeatureGrid.Maps(maps, columns: 5);

        Assert.Equal(1, FeatureGrid.Scale(60, 50));
        Assert.Equal(new Shape(60, 5 * 51 - 1, 1), grid.Shape);
        float min = maps.ToArray().Where((_, i) => i % 5 == 3).Min(), max = maps.ToArray().Where((_, i) => i % 5 == 3).Max();
        Assert.Equal((maps.Span[(7 * 50 + 9) * 5 + 3] - min) / (max - min), At(grid, 7, 3 * 51 + 9), 6);
    }

    [Fact]
    public void Maps_EnlargeToTheCellSizeAskedFor()
    {
        var grid = FeatureGrid.Maps(Tensor.RandomUniform(new Shape(10, 8, 2), seed: 3), columns: 2, minCellPixels: 100);

        Assert.Equal(10, FeatureGrid.Scale(10, 8, 100));
        Assert.Equal(new Shape(100, 2 * 81 - 1, 1), grid.Shape);
        Assert.Throws<ArgumentOutOfRangeException>(() => FeatureGrid.Maps(Tensor.Zeros(4, 4, 1), minCellPixels: 0));
    }

    [Fact]
    public void Filters_OfAnRgbKernel_AreInColour_EachScaledOverItsThreeChannels()
    {
        // (R, S, C, K) = (1, 2, 3, 2): filter 0 is red on the left pixel and blue on the right; filter 1 all 0.5 but one 1.
        var kernel = Tensor.Zeros(1, 2, 3, 2);
        void Set(int s, int c, int k, float v) => kernel.Span[(s * 3 + c) * 2 + k] = v;
        Set(0, 0, 0, 2f); Set(1, 2, 0, 2f);
        for (int s = 0; s < 2; s++) for (int c = 0; c < 3; c++) Set(s, c, 1, 0.5f);
        Set(1, 1, 1, 1f);

        var grid = FeatureGrid.Filters(kernel);

        int f = FeatureGrid.Scale(1, 2);
        Assert.Equal(new Shape(f, 2 * (2 * f + 1) - 1, 3), grid.Shape);
        Assert.Equal([1f, 0f, 0f], [At(grid, 0, 0, 0), At(grid, 0, 0, 1), At(grid, 0, 0, 2)]);
        Assert.Equal([0f, 0f, 1f], [At(grid, 0, f, 0), At(grid, 0, f, 1), At(grid, 0, f, 2)]);
        int right = 2 * f + 1;
        Assert.Equal([0f, 0f, 0f], [At(grid, 0, right, 0), At(grid, 0, right, 1), At(grid, 0, right, 2)]);
        Assert.Equal([0f, 1f, 0f], [At(grid, 0, right + f, 0), At(grid, 0, right + f, 1), At(grid, 0, right + f, 2)]);
    }

    [Fact]
    public void Filters_OfADeeperKernel_ShowOneInputChannel()
    {
        var kernel = Tensor.RandomUniform(new Shape(3, 3, 4, 6), seed: 5);
        var values = kernel.ToArray();

        var grid = FeatureGrid.Filters(kernel, columns: 6, channel: 2);

        int f = FeatureGrid.Scale(3, 3);
        Assert.Equal(new Shape(3 * f, 6 * (3 * f + 1) - 1, 1), grid.Shape);
        // Filter 4 on channel 2, its weight at (r, s) = (1, 2).
        var cell = Enumerable.Range(0, 9).Select(i => values[(i * 4 + 2) * 6 + 4]).ToArray();
        float expected = (values[((1 * 3 + 2) * 4 + 2) * 6 + 4] - cell.Min()) / (cell.Max() - cell.Min());
        Assert.Equal(expected, At(grid, 1 * f, 4 * (3 * f + 1) + 2 * f), 6);
    }

    [Fact]
    public void BadShapesAndArguments_AreRefusedWithTheShape()
    {
        Assert.Contains("(2, 4, 4, 8)", Assert.Throws<ArgumentException>(() => FeatureGrid.Maps(Tensor.Zeros(2, 4, 4, 8))).Message);
        Assert.Contains("(4, 8)", Assert.Throws<ArgumentException>(() => FeatureGrid.Maps(Tensor.Zeros(4, 8))).Message);
        Assert.Contains("(3, 3, 8)", Assert.Throws<ArgumentException>(() => FeatureGrid.Filters(Tensor.Zeros(3, 3, 8))).Message);
        Assert.Contains("4 input channels", Assert.Throws<ArgumentOutOfRangeException>(() => FeatureGrid.Filters(Tensor.Zeros(3, 3, 4, 2), channel: 4)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => FeatureGrid.Maps(Tensor.Zeros(4, 4, 2), columns: -1));
    }

    [Fact]
    public void AGrid_SavesAsAPngOfItsSize()
    {
        using var dir = new TempDirectory();
        var grid = FeatureGrid.Maps(Tensor.RandomUniform(new Shape(1, 7, 7, 10), seed: 1));

        ImageIO.SavePng(grid, dir.File("grid.png"));

        Assert.Equal(grid.Shape, ImageIO.Load(dir.File("grid.png"), channels: 1).Shape);
    }
}
