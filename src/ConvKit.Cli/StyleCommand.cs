using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using ConvKit.Imaging;
using ConvKit.Models;
using ConvKit.Operations;
using ConvKit.Tensors;

namespace ConvKit.Cli;

/// <summary>
/// <c>convkit style CONTENT STYLE --model FILE</c>: neural style transfer (<see cref="StyleTransfer"/>) through a trained
/// model, both images read and resized to the model's input as <c>predict</c> reads them, the result written as a PNG.
/// </summary>
internal static class StyleCommand
{
    private static readonly Argument<string> Content = new("content") { Description = "The picture whose content to keep." };
    private static readonly Argument<string> StyleImage = new("style") { Description = "The picture whose style to take." };
    private static readonly Option<string> ModelOption = new("--model") { Description = "A trained model: a model file, a train --out directory, or an .onnx file.", Required = true, HelpName = "FILE" };
    private static readonly Option<string[]> StyleLayers = new("--style-layer") { Description = "A layer whose Gram matrix carries the style (repeat for more; default: the last layer of each of the first four map sizes).", HelpName = "NAME" };
    private static readonly Option<string?> ContentLayer = new("--content-layer") { Description = "The layer whose maps carry the content (default: the third style layer).", HelpName = "NAME" };
    private static readonly Option<int> Steps = new("--steps") { Description = "Adam steps on the image.", DefaultValueFactory = _ => 300, HelpName = "N" };
    private static readonly Option<float> StyleWeight = new("--style-weight") { Description = "Weight of the style term against the content term's 1.", DefaultValueFactory = _ => 10f, HelpName = "W" };
    private static readonly Option<float> VariationWeight = new("--tv-weight") { Description = "Weight of the total variation term (smoothness).", DefaultValueFactory = _ => 5f, HelpName = "W" };
    private static readonly Option<float> LearningRate = new("--lr") { Description = "Adam's learning rate on the image's [0, 1] values.", DefaultValueFactory = _ => 0.02f, HelpName = "RATE" };
    private static readonly Option<float> InputScale = new("--input-scale") { Description = "The model sees the image's [0, 1] values times this (255 for models trained on bytes).", DefaultValueFactory = _ => 1f, HelpName = "X" };
    private static readonly Option<string> Out = new("--out") { Description = "The PNG file to write.", DefaultValueFactory = _ => "styled.png", HelpName = "FILE" };

    public static Command Create(CliContext context)
    {
        var command = new Command("style", "Paint one image in the style of another (neural style transfer) with a trained CNN.")
        {
            Content, StyleImage, ModelOption, StyleLayers, ContentLayer, Steps, StyleWeight, VariationWeight, LearningRate, InputScale, Out,
        };
        command.SetAction(parsed => Run(context, parsed));
        return command;
    }

    private static int Run(CliContext context, ParseResult parsed)
    {
        string contentPath = parsed.GetValue(Content)!, stylePath = parsed.GetValue(StyleImage)!, outPath = parsed.GetValue(Out)!;
        foreach (var path in new[] { contentPath, stylePath })
            if (!File.Exists(path)) throw new CliException($"Image '{path}' not found.");
        int steps = parsed.GetValue(Steps);
        if (steps < 1) throw new CliException($"--steps must be at least 1; received {steps}.");
        var (model, _) = ModelSource.Load(parsed.GetValue(ModelOption)!);
        var (height, width, channels) = ModelSource.ImageInput(model);

        var (defaultStyle, defaultContent) = StyleTransfer.DefaultLayers(model);
        var styleLayers = parsed.GetValue(StyleLayers) is { Length: > 0 } named ? named : defaultStyle;
        var options = new StyleTransferOptions
        {
            StyleLayers = styleLayers,
            ContentLayer = parsed.GetValue(ContentLayer) ?? defaultContent,
            Steps = steps,
            StyleWeight = parsed.GetValue(StyleWeight),
            TotalVariationWeight = parsed.GetValue(VariationWeight),
            LearningRate = parsed.GetValue(LearningRate),
            InputScale = parsed.GetValue(InputScale),
        };
        Tensor Read(string path) => Ops.Reshape(ImageIO.Load(path, channels, (height, width)), 1, height, width, channels);
        var content = Read(contentPath);
        var style = Read(stylePath);

        context.Output.WriteLine($"Style from {string.Join(", ", options.StyleLayers)}; content from {options.ContentLayer}; " +
            Invariant($"{steps} steps of Adam at {options.LearningRate:G4} on a {height}×{width} image"));
        var clock = Stopwatch.StartNew();
        int every = Math.Max(1, steps / 10);
        var result = StyleTransfer.Run(model, content, style, options, s =>
        {
            if (s.Step == 1 || s.Step % every == 0 || s.Step == steps)
                context.Output.WriteLine(Invariant(
                    $"step {s.Step}/{steps}  loss {s.Loss:F4}  (content {s.ContentLoss:F4}, style {s.StyleLoss:F4}, variation {s.TotalVariationLoss:F4})  {clock.Elapsed.TotalSeconds:F1}s"));
        });
        ImageIO.SavePng(Ops.Reshape(result, height, width, channels), outPath);
        context.Output.WriteLine(Invariant($"Saved {outPath} ({height}×{width}); {clock.Elapsed.TotalSeconds:F1}s in all"));
        return Cli.Success;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
