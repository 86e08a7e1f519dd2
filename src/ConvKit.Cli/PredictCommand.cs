using System.CommandLine;
using System.Globalization;
using ConvKit.Imaging;
using ConvKit.Tensors;

namespace ConvKit.Cli;

/// <summary>
/// <c>convkit predict IMAGE...</c>: the top-k classes of each image with their probabilities. Images are read as
/// grayscale or RGB to match the model's input channels and resized (bilinear) to its input size; logits go through
/// a softmax.
/// </summary>
internal static class PredictCommand
{
    private static readonly Argument<string[]> Images = new("images") { Description = "Image files (PNG, JPEG, BMP, GIF, WebP).", Arity = ArgumentArity.OneOrMore };
    private static readonly Option<string> ModelOption = new("--model") { Description = "Model file (or a train --out directory).", DefaultValueFactory = _ => ModelSource.DefaultModelFile, HelpName = "FILE" };
    private static readonly Option<int> Top = new("--top") { Description = "How many classes to show per image.", DefaultValueFactory = _ => 3, HelpName = "K" };

    public static Command Create(CliContext context)
    {
        var command = new Command("predict", "Classify image files with a saved model.") { Images, ModelOption, Top };
        command.SetAction(parsed => Run(context, parsed));
        return command;
    }

    private static int Run(CliContext context, ParseResult parsed)
    {
        var paths = parsed.GetValue(Images)!;
        int top = parsed.GetValue(Top);
        if (top < 1) throw new CliException($"--top must be at least 1; received {top}.");
        foreach (var path in paths)
            if (!File.Exists(path)) throw new CliException($"Image '{path}' not found.");
        var (model, metadata) = ModelSource.Load(parsed.GetValue(ModelOption)!);
        var (height, width, channels) = ModelSource.ImageInput(model);
        int classes = ModelSource.Classes(model);
        var names = ModelSource.ClassNames(metadata, classes);
        bool logits = ModelSource.OutputsLogits(model);

        var batch = Tensor.Zeros(paths.Length, height, width, channels);
        int size = height * width * channels;
        for (int i = 0; i < paths.Length; i++)
            ImageIO.Load(paths[i], channels, (height, width)).Span.CopyTo(batch.Span.Slice(i * size, size));
        var scores = model.Predict(batch);

        int shown = Math.Min(top, classes);
        for (int i = 0; i < paths.Length; i++)
        {
            var probabilities = Probabilities(scores.Span.Slice(i * classes, classes), logits);
            context.Output.WriteLine(paths[i]);
            foreach (int c in Enumerable.Range(0, classes).OrderByDescending(c => probabilities[c]).ThenBy(c => c).Take(shown))
                context.Output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {probabilities[c] * 100,6:F2}%  {c}  {names[c]}"));
        }
        return Cli.Success;
    }

    /// <summary>softmax(z)_c = exp(z_c − max z) / Σ exp(z_j − max z) for logits; probabilities pass through.</summary>
    private static double[] Probabilities(ReadOnlySpan<float> scores, bool logits)
    {
        var p = new double[scores.Length];
        if (!logits)
        {
            for (int c = 0; c < p.Length; c++) p[c] = scores[c];
            return p;
        }
        double max = double.NegativeInfinity, sum = 0;
        foreach (float z in scores) max = Math.Max(max, z);
        for (int c = 0; c < p.Length; c++) sum += p[c] = Math.Exp(scores[c] - max);
        for (int c = 0; c < p.Length; c++) p[c] /= sum;
        return p;
    }
}
