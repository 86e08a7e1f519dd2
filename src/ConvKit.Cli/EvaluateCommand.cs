using System.CommandLine;
using System.Globalization;
using ConvKit.Data;
using ConvKit.Training;
using Spectre.Console;

namespace ConvKit.Cli;

/// <summary>
/// <c>convkit evaluate</c>: loss, accuracy and top-5 accuracy of a saved model on the Fashion-MNIST test images, then
/// a table of per-class accuracy and the confusion matrix.
/// </summary>
internal static class EvaluateCommand
{
    private static readonly Option<string> ModelOption = new("--model") { Description = "Model file (or a train --out directory).", DefaultValueFactory = _ => ModelSource.DefaultModelFile, HelpName = "FILE" };
    private static readonly Option<string> Data = new("--data") { Description = "Fashion-MNIST directory.", DefaultValueFactory = _ => FashionMnist.DefaultDirectory, HelpName = "DIR" };
    private static readonly Option<int?> Limit = new("--limit") { Description = "Evaluate on the first N test images only.", HelpName = "N" };
    private static readonly Option<int> BatchSize = new("--batch-size") { Description = "Images per inference batch.", DefaultValueFactory = _ => 256, HelpName = "N" };

    public static Command Create(CliContext context)
    {
        var command = new Command("evaluate", "Measure a saved model on the Fashion-MNIST test set.") { ModelOption, Data, Limit, BatchSize };
        command.SetAction(parsed => Run(context, parsed));
        return command;
    }

    private static int Run(CliContext context, ParseResult parsed)
    {
        if (parsed.GetValue(Limit) is < 1) throw new CliException($"--limit must be at least 1; received {parsed.GetValue(Limit)}.");
        if (parsed.GetValue(BatchSize) < 1) throw new CliException($"--batch-size must be at least 1; received {parsed.GetValue(BatchSize)}.");
        var (model, metadata) = ModelSource.Load(parsed.GetValue(ModelOption)!);
        ModelSource.ImageInput(model);
        int classes = ModelSource.Classes(model);
        var test = FashionMnist.LoadTest(parsed.GetValue(Data));
        if (parsed.GetValue(Limit) is { } limit) test = test.Take(limit);
        if (classes != FashionMnist.ClassNames.Count)
            throw new CliException($"Model '{model.Name}' has {classes} outputs; Fashion-MNIST has {FashionMnist.ClassNames.Count} classes.");
        var names = ModelSource.ClassNames(metadata, classes);

        ModelSource.EnsureCompiled(model);
        var scores = model.Predict(test.Images, parsed.GetValue(BatchSize));
        double loss = model.Loss!.Compute(test.Labels, scores).Item();
        double accuracy = Metrics.Accuracy(test.Labels, scores), top5 = Metrics.TopKAccuracy(test.Labels, scores, 5);
        var confusion = Metrics.ConfusionMatrix(test.Labels, scores);
        var perClass = Metrics.PerClassAccuracy(confusion);

        var console = context.ConsoleFor(context.Output);
        context.Output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{test.Count:N0} test images: loss {loss:F4}  accuracy {accuracy:F4}  top-5 accuracy {top5:F4}"));
        var table = new Table().Border(TableBorder.Rounded).Title("per class: accuracy, then counts by predicted class");
        table.AddColumn("true class").AddColumn(new TableColumn("accuracy").RightAligned());
        for (int j = 0; j < classes; j++) table.AddColumn(new TableColumn(j.ToString(CultureInfo.InvariantCulture)).RightAligned());
        for (int i = 0; i < classes; i++)
        {
            var row = new List<string> { Markup.Escape($"{i} {names[i]}"), double.IsNaN(perClass[i]) ? "-" : perClass[i].ToString("F3", CultureInfo.InvariantCulture) };
            for (int j = 0; j < classes; j++)
                row.Add(i == j ? $"[bold]{confusion[i, j]}[/]" : confusion[i, j].ToString(CultureInfo.InvariantCulture));
            table.AddRow(row.ToArray());
        }
        console.Write(table);
        return Cli.Success;
    }
}
