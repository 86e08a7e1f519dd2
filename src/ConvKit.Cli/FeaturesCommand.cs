using System.CommandLine;
using ConvKit.Imaging;
using ConvKit.Layers;
using ConvKit.Models;
using ConvKit.Operations;
using ConvKit.Tensors;

namespace ConvKit.Cli;

/// <summary>
/// <c>convkit features IMAGE</c>: what a model's layers see in one image. For each chosen layer it writes the layer's
/// feature maps as a grid picture, and for convolutions that read the image itself (1 or 3 channels) their filters too.
/// The image is read and resized as <c>predict</c> reads it; the model's input as it saw it is written beside them.
/// </summary>
internal static class FeaturesCommand
{
    private static readonly Argument<string> Image = new("image") { Description = "Image file (PNG, JPEG, BMP, GIF, WebP)." };
    private static readonly Option<string> ModelOption = new("--model") { Description = "Model file (or a train --out directory, or an .onnx file).", DefaultValueFactory = _ => ModelSource.DefaultModelFile, HelpName = "FILE" };
    private static readonly Option<string[]> LayerOption = new("--layer")
    {
        Description = "A layer whose output feature maps to draw (repeat for more; default: every 2-D convolution).",
        HelpName = "NAME",
        AllowMultipleArgumentsPerToken = false,
    };
    private static readonly Option<string> Out = new("--out") { Description = "Directory to write the pictures to.", DefaultValueFactory = _ => "features", HelpName = "DIR" };
    private static readonly Option<float> InputScale = new("--input-scale") { Description = "The model sees the image's [0, 1] values times this (255 for models trained on bytes).", DefaultValueFactory = _ => 1f, HelpName = "X" };
    private static readonly Option<int> Columns = new("--columns") { Description = "Cells per row of a grid (default: as square as possible).", DefaultValueFactory = _ => 0, HelpName = "N" };

    public static Command Create(CliContext context)
    {
        var command = new Command("features", "Draw the feature maps (and first-layer filters) a model computes for an image.")
        {
            Image, ModelOption, LayerOption, Out, Columns, InputScale,
        };
        command.SetAction(parsed => Run(context, parsed));
        return command;
    }

    private static int Run(CliContext context, ParseResult parsed)
    {
        string imagePath = parsed.GetValue(Image)!, outDir = parsed.GetValue(Out)!;
        int columns = parsed.GetValue(Columns);
        if (columns < 0) throw new CliException($"--columns must be 0 (square) or positive; received {columns}.");
        float scale = parsed.GetValue(InputScale);
        if (!(scale > 0)) throw new CliException($"--input-scale must be positive; received {scale}.");
        if (!File.Exists(imagePath)) throw new CliException($"Image '{imagePath}' not found.");
        var (model, _) = ModelSource.Load(parsed.GetValue(ModelOption)!);
        var (height, width, channels) = ModelSource.ImageInput(model);

        var layers = ChosenLayers(model, parsed.GetValue(LayerOption) ?? []);
        var image = ImageIO.Load(imagePath, channels, (height, width));
        var maps = model.Extract(Ops.Scale(Ops.Reshape(image, 1, height, width, channels), scale), [.. layers.Select(l => l.Name)]);

        Directory.CreateDirectory(outDir);
        string input = Path.Combine(outDir, "input.png");
        ImageIO.SavePng(image, input);
        context.Output.WriteLine($"input  {new Shape(1, height, width, channels)}  {input}");
        foreach (var layer in layers)
        {
            var output = maps[layer.Name];
            string file = Path.Combine(outDir, FileName(layer.Name) + ".png");
            ImageIO.SavePng(FeatureGrid.Maps(output, columns), file);
            context.Output.WriteLine($"{layer.Name}  {output.Shape}  {file}");
            if (FirstLayerKernel(layer) is { } kernel)
            {
                string filters = Path.Combine(outDir, FileName(layer.Name) + ".filters.png");
                ImageIO.SavePng(FeatureGrid.Filters(kernel, columns), filters);
                context.Output.WriteLine($"{layer.Name} filters  {kernel.Shape}  {filters}");
            }
        }
        return Cli.Success;
    }

    /// <summary>The named layers, each checked to output feature maps (batch, H, W, C); or every 2-D convolution.</summary>
    private static List<Layer> ChosenLayers(Model model, string[] names)
    {
        if (names.Length == 0)
        {
            var convolutions = model.Layers.Where(IsConvolution2D).ToList();
            if (convolutions.Count == 0)
                throw new CliException($"Model '{model.Name}' has no 2-D convolution; name the layers to draw with --layer (its layers: {LayerList(model)}).");
            return convolutions;
        }
        var chosen = new List<Layer>();
        foreach (var name in names.Distinct())
        {
            var layer = model.Layers.FirstOrDefault(l => l.Name == name)
                ?? throw new CliException($"Model '{model.Name}' has no layer '{name}'; its layers: {LayerList(model)}.");
            var shape = layer.Output?.Shape;
            if (shape is null || shape.Value.Rank != 4)
                throw new CliException($"Layer '{name}' outputs {(shape is null ? "nothing" : shape.Value.ToString())}, not feature maps (batch, height, width, channels).");
            chosen.Add(layer);
        }
        return chosen;
    }

    private static string LayerList(Model model) => string.Join(", ", model.Layers.Select(l => l.Name));

    private static bool IsConvolution2D(Layer layer) => layer switch
    {
        Conv2D or DepthwiseConv2D => true,
        OnnxConv onnx => onnx.KernelSize.Length == 2,
        _ => false,
    };

    /// <summary>The kernel (R, S, C, K) of a 2-D convolution that reads 1 or 3 channels (the image), else null.</summary>
    private static Tensor? FirstLayerKernel(Layer layer)
    {
        var kernel = layer switch
        {
            Conv2D conv when conv.Groups == 1 => conv.Kernel?.Value,
            OnnxConv onnx when onnx.KernelSize.Length == 2 && onnx.Groups == 1 => onnx.Kernel?.Value,
            _ => null,
        };
        return kernel is { Shape.Rank: 4 } && kernel.Shape[2] is 1 or 3 ? kernel : null;
    }

    /// <summary>A layer name as a file name: characters a file system may refuse become '_'.</summary>
    private static string FileName(string name)
    {
        var invalid = Path.GetInvalidFileNameChars().Concat([':', '*', '?', '"', '<', '>', '|', '\\']).ToHashSet();
        return new string([.. name.Select(c => invalid.Contains(c) ? '_' : c)]);
    }
}
