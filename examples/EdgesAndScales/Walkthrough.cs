using System.Globalization;
using ConvKit.Imaging;
using ConvKit.Operations;
using ConvKit.Signal;
using ConvKit.Tensors;

namespace EdgesAndScales;

/// <summary>
/// Filters that find edges, and features at several scales: the four 3×3 edge filters of <see cref="EdgeFilters"/> as
/// one convolution on a picture, then the same filters made larger (dilated) and the picture made smaller (pooled).
/// Each step writes the four response maps side by side as a PNG and prints how strongly each filter responds.
/// </summary>
public static class Walkthrough
{
    /// <summary>The filters of <see cref="EdgeFilters.AsConv2DKernel"/>, in its order.</summary>
    public static readonly string[] FilterNames = ["vertical", "horizontal", "diagonal", "anti-diagonal"];

    /// <summary>
    /// |response| (1, H − 2d, W − 2d, 4) of the four edge filters on <paramref name="image"/> (1, H, W, C), each filter's
    /// taps d = <paramref name="dilation"/> pixels apart: a 3×3 filter that reaches 2d + 1 pixels. No padding: a zero
    /// border would be the strongest edge of all.
    /// </summary>
    public static Tensor EdgeStrength(Tensor image, int dilation = 1)
    {
        var response = Ops.Conv2D(image, EdgeFilters.AsConv2DKernel(image.Shape[3]), dilation: (dilation, dilation));
        var values = response.Span;
        for (int i = 0; i < values.Length; i++) values[i] = Math.Abs(values[i]);
        return response;
    }

    /// <summary>The mean |response| of each of the four filters.</summary>
    public static double[] MeanStrength(Tensor strength)
    {
        var sums = new double[4];
        var values = strength.Span;
        for (int i = 0; i < values.Length; i++) sums[i % 4] += values[i];
        int pixels = values.Length / 4;
        return [.. sums.Select(s => s / pixels)];
    }

    public static void Run(string imagePath, string outDir, TextWriter output)
    {
        // Luminance: edges are where brightness changes (in this drawing the sun and the sky have the same mean of R, G, B).
        var picture = ImageIO.Load(imagePath, channels: 1);
        var image = Ops.Reshape(picture, 1, picture.Shape[0], picture.Shape[1], 1);
        Directory.CreateDirectory(outDir);
        output.WriteLine($"picture {image.Shape}, as luminance");

        // One 3×3 filter per edge direction, all four as the filters of one convolution.
        Report(output, outDir, "edges", "3×3 filters", EdgeStrength(image));

        // Larger filters: the same taps spread out, so each sees edges across 5 and 9 pixels and passes over finer detail.
        foreach (int dilation in new[] { 2, 4 })
            Report(output, outDir, $"edges-dilated{dilation}", $"3×3 filters dilated {dilation} (reach {2 * dilation + 1}×{2 * dilation + 1})",
                EdgeStrength(image, dilation));

        // Smaller images: average pooling halves the picture, and the same 3×3 filters then span twice as much of the scene.
        var smaller = image;
        foreach (int factor in new[] { 2, 4 })
        {
            smaller = Ops.AveragePool2D(smaller, (2, 2));
            Report(output, outDir, $"edges-pooled{factor}", $"3×3 filters on the picture pooled {factor}× {smaller.Shape}", EdgeStrength(smaller));
        }
    }

    private static void Report(TextWriter output, string outDir, string name, string what, Tensor strength)
    {
        string file = Path.Combine(outDir, name + ".png");
        // Every map drawn about as large as the picture, so the scales compare by eye.
        ImageIO.SavePng(FeatureGrid.Maps(strength, columns: 4, minCellPixels: 216), file);
        var means = MeanStrength(strength);
        output.WriteLine($"{what}: mean |response| " +
            string.Join(", ", FilterNames.Zip(means, (n, m) => string.Create(CultureInfo.InvariantCulture, $"{n} {m:F4}"))) + $" -> {file}");
    }
}
