using System.CommandLine;
using ConvKit.IO;
using ConvKit.Onnx;

namespace ConvKit.Cli;

/// <summary>
/// <c>convkit import MODEL.onnx [--summary] [--out FILE]</c> and <c>convkit export MODEL --out FILE.onnx [--opset N]</c>:
/// models to and from ONNX.
/// </summary>
internal static class OnnxCommands
{
    public static Command Import(CliContext context)
    {
        var file = new Argument<string>("onnx-file") { Description = "The ONNX model to import." };
        var summary = new Option<bool>("--summary") { Description = "Print the imported graph as Keras's summary table." };
        var output = new Option<string?>("--out") { Description = "Save the imported model as a ConvKit model file (.safetensors)." };
        var command = new Command("import", "Import an ONNX model: check every node is supported, show its inputs, optionally save it.") { file, summary, output };
        command.SetAction(parsed =>
        {
            string path = parsed.GetValue(file)!;
            if (!File.Exists(path)) throw new CliException($"ONNX file '{path}' not found.");
            ModelSource.FreshNames();
            var imported = Load(path);
            context.Output.WriteLine($"Imported '{path}': IR {imported.IrVersion}, opset {imported.Opset}, producer '{imported.Producer}', " +
                $"{imported.Model.Layers.Count} layers, {imported.Model.CountParams():N0} parameters");
            for (int i = 0; i < imported.InputNames.Count; i++)
                context.Output.WriteLine($"  input '{imported.InputNames[i]}': ConvKit shape {imported.Model.Inputs[i].Shape}, " +
                    (imported.InputLayouts[i] == TensorLayout.ChannelsLast ? "channels-last (the ONNX NCHW input transposed)" : "as in ONNX"));
            for (int i = 0; i < imported.OutputNames.Count; i++)
                context.Output.WriteLine($"  output '{imported.OutputNames[i]}': ConvKit shape {imported.Model.Outputs[i].Shape}");
            if (parsed.GetValue(summary)) context.Output.Write(imported.Model.SummaryText());
            if (parsed.GetValue(output) is { } target)
            {
                ModelFile.Save(imported.Model, target);
                context.Output.WriteLine($"Saved to {target}");
            }
            return Cli.Success;
        });
        return command;
    }

    public static Command Export(CliContext context)
    {
        var model = new Argument<string>("model") { Description = "A ConvKit model file (or a directory holding model.safetensors), or a built-in model name." };
        var output = new Option<string>("--out") { Description = "The ONNX file to write.", Required = true };
        var opset = new Option<int>("--opset") { Description = "ONNX opset (17 or newer).", DefaultValueFactory = _ => 17 };
        var command = new Command("export", "Export a model to ONNX (NHWC input, dynamic batch).") { model, output, opset };
        command.SetAction(parsed =>
        {
            string value = parsed.GetValue(model)!;
            ModelSource.FreshNames();
            var source = ModelSource.IsFile(value) ? ModelSource.Load(value).Model : ModelSource.Create(value, (28, 28, 1), 10, seed: 0);
            string target = parsed.GetValue(output)!;
            try
            {
                OnnxExporter.Save(source, target, parsed.GetValue(opset));
            }
            catch (NotSupportedException e)
            {
                throw new CliException(e.Message);
            }
            context.Output.WriteLine($"Exported '{source.Name}' ({source.CountParams():N0} parameters) to {target}");
            return Cli.Success;
        });
        return command;
    }

    /// <summary>Imports <paramref name="path"/>; unsupported nodes are the user's to know about, in one line.</summary>
    public static ImportedModel Load(string path)
    {
        try
        {
            return OnnxImporter.Load(path);
        }
        catch (OnnxUnsupportedException e)
        {
            throw new CliException(e.Message);
        }
    }
}
