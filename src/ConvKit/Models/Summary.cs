using System.Globalization;
using System.Text;
using ConvKit.Layers;

namespace ConvKit.Models;

public partial class Model
{
    /// <summary>
    /// Keras's model summary: one row per layer (name and type, output shape, parameter count, and for functional
    /// models the layers it is connected to), then total, trainable and non-trainable parameters with their sizes.
    /// </summary>
    public string SummaryText()
    {
        if (!Built) throw new InvalidOperationException($"Model '{Name}' is not built yet: give it an Input, call Build(shape) or call it on data first.");
        bool functional = this is not Sequential;
        var header = functional ? new[] { "Layer (type)", "Output Shape", "Param #", "Connected to" } : ["Layer (type)", "Output Shape", "Param #"];
        var rows = new List<string[][]>();
        foreach (var layer in Layers)
        {
            var node = nodes.First(n => ReferenceEquals(n.Layer, layer));
            var cells = new List<string[]>
            {
                new[] { $"{layer.Name} ({layer.TypeName})" },
                new[] { node.Shape.ToString() },
                new[] { layer.CountParams().ToString("N0", CultureInfo.InvariantCulture) },
            };
            if (functional)
                cells.Add(node.Parents.Count == 0 ? ["-"] : node.Parents.Select(p => $"{p.Layer.Name}[0][0]").ToArray());
            rows.Add(cells.ToArray());
        }

        int[] minimum = functional ? [25, 21, 10, 21] : [31, 22, 13];
        var widths = new int[header.Length];
        for (int c = 0; c < header.Length; c++)
            widths[c] = Math.Max(minimum[c], Math.Max(header[c].Length, rows.Count == 0 ? 0 : rows.Max(r => r[c].Max(s => s.Length))));

        var sb = new StringBuilder();
        sb.Append("Model: \"").Append(Name).Append("\"\n");
        sb.Append(Rule('┏', '━', '┳', '┓', widths));
        sb.Append(Line('┃', header.Select(h => new[] { h }).ToArray(), widths));
        sb.Append(Rule('┡', '━', '╇', '┩', widths));
        for (int i = 0; i < rows.Count; i++)
        {
            sb.Append(Line('│', rows[i], widths));
            sb.Append(i < rows.Count - 1 ? Rule('├', '─', '┼', '┤', widths) : Rule('└', '─', '┴', '┘', widths));
        }
        long total = CountParams(), trainable = TrainableWeights.Sum(w => (long)w.Shape.Size);
        sb.Append(" Total params: ").Append(Count(total)).Append('\n');
        sb.Append(" Trainable params: ").Append(Count(trainable)).Append('\n');
        sb.Append(" Non-trainable params: ").Append(Count(total - trainable)).Append('\n');
        return sb.ToString();
    }

    /// <summary>Prints <see cref="SummaryText"/> to the console (or to <paramref name="print"/>).</summary>
    public void Summary(Action<string>? print = null) => (print ?? Console.Write)(SummaryText());

    private static string Rule(char left, char fill, char join, char right, int[] widths) =>
        left + string.Join(join, widths.Select(w => new string(fill, w + 2))) + right + "\n";

    /// <summary>One table row; cells may span several lines. Param # is right-aligned, as in Keras.</summary>
    private static string Line(char border, string[][] cells, int[] widths)
    {
        int height = cells.Max(c => c.Length);
        var sb = new StringBuilder();
        for (int line = 0; line < height; line++)
        {
            sb.Append(border);
            for (int c = 0; c < cells.Length; c++)
            {
                string text = line < cells[c].Length ? cells[c][line] : "";
                sb.Append(' ').Append(c == 2 ? text.PadLeft(widths[c]) : text.PadRight(widths[c])).Append(' ').Append(border);
            }
            sb.Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>"3,274,634 (12.49 MB)": the count and its float32 size, as Keras's <c>readable_memory_size</c>.</summary>
    internal static string Count(long parameters) =>
        $"{parameters.ToString("N0", CultureInfo.InvariantCulture)} ({ReadableSize(parameters * 4.0)})";

    internal static string ReadableSize(double bytes)
    {
        string[] units = ["B", "KB", "MB", "GB", "TB", "PB"];
        foreach (var unit in units)
        {
            if (bytes / 1024 < 1) return string.Create(CultureInfo.InvariantCulture, $"{bytes:F2} {unit}");
            bytes /= 1024;
        }
        return string.Create(CultureInfo.InvariantCulture, $"{bytes:F2} PB");
    }
}
