using System.CommandLine;
using System.Globalization;
using ConvKit.Data;
using ConvKit.Models;

namespace ConvKit.Cli;

/// <summary><c>convkit summary [NAME|FILE]</c>: Keras's model summary table of a built-in model or a model file.</summary>
internal static class SummaryCommand
{
    private static readonly Argument<string> ModelArgument = new("model")
    {
        Description = $"Built-in model ({string.Join(", ", ModelZoo.Names)}), a model file, or the directory convkit train wrote it to.",
        DefaultValueFactory = _ => "default",
    };

    public static Command Create(CliContext context)
    {
        var command = new Command("summary", "Print a model's layers, output shapes and parameter counts.") { ModelArgument };
        command.SetAction(parsed =>
        {
            string value = parsed.GetValue(ModelArgument)!;
            ModelSource.FreshNames();
            if (ModelSource.IsFile(value))
            {
                var (model, _) = ModelSource.Load(value);
                context.Output.Write(model.SummaryText());
            }
            else
            {
                var model = ModelSource.Create(value, (28, 28, 1), FashionMnist.ClassNames.Count, seed: 0);
                context.Output.Write(model.SummaryText());
                var r = ModelZoo.Recipe(value);
                context.Output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $" Recipe: {r.Optimizer} lr {r.LearningRate:G4}{(r.CosineDecay ? " with cosine decay" : "")}, {r.Epochs} epochs, batch size {r.BatchSize}"));
            }
            return Cli.Success;
        });
        return command;
    }
}
