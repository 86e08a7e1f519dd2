using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using ConvKit.Autograd;
using ConvKit.Tensors;
using Microsoft.ML.OnnxRuntime;

namespace ConvKit.Bench.Peers;

/// <summary>
/// <c>layers</c>: ResNet18 at batch 1, layer by layer, ConvKit beside ONNX Runtime. ConvKit's times are its op trace
/// (what <c>CONVKIT_DEBUG=1</c> prints, captured in memory), ONNX Runtime's its own profiler's kernel times; both are
/// medians over the same number of inferences after the same warm-up. A layer is matched to its peer by kind, kernel
/// shape and output shape (ONNX Runtime runs the downsampling 1×1 convolutions before their block's 3×3 ones).
/// </summary>
internal static partial class LayersCommand
{
    public static int Run(string[] args)
    {
        int threads = Environment.ProcessorCount, runs = 100, warmups = 50;
        for (int i = 0; i < args.Length; i++)
            switch (args[i])
            {
                case "--threads" when i + 1 < args.Length: threads = Positive(args[++i], "--threads"); break;
                case "--runs" when i + 1 < args.Length: runs = Positive(args[++i], "--runs"); break;
                default: throw new ArgumentException($"layers: unknown argument '{args[i]}'.");
            }
        Environment.SetEnvironmentVariable("CONVKIT_THREADS", threads.ToString(CultureInfo.InvariantCulture));
        OrtPeer.Start(threads);
        var image = Tensor.RandomUniform(new Shape(1, 224, 224, 3), seed: 8);
        Console.Error.WriteLine($"[layers] ConvKit: {warmups} warm-up and {runs} timed inferences");
        var convkit = ConvKitLayers(image, warmups, runs);
        List<Layer> ort = [];
        if (OrtPeer.Unavailable is { } why) Console.Error.WriteLine($"[layers] onnxruntime unavailable: {why}");
        else
        {
            Console.Error.WriteLine($"[layers] onnxruntime: {warmups} warm-up and {runs} timed inferences");
            ort = OrtLayers(image.ToArray(), warmups, runs);
        }
        Print(convkit, ort, threads, runs);
        return 0;
    }

    /// <summary>One layer: its kind ("conv", "maxpool", "avgpool" or another op's name), kernel [R, S, C, K] (empty if none), output [P, Q, K] and median time.</summary>
    private sealed record Layer(string Kind, string Description, int[] Kernel, int[] Output, double Milliseconds)
    {
        public string Key => $"{Kind} {string.Join('×', Kernel)} → {string.Join('×', Output)}";

        public double Flops => Kind == "conv" && Kernel.Length == 4 ? 2.0 * Output[0] * Output[1] * Output[2] * Kernel[0] * Kernel[1] * Kernel[2] : 0;
    }

    private static List<Layer> ConvKitLayers(Tensor image, int warmups, int runs)
    {
        var model = Onnx.OnnxImporter.Load(BenchCases.ResNet18Path).Model;
        for (int i = 0; i < warmups; i++) model.Predict(image).Dispose();
        var lines = new StringWriter(CultureInfo.InvariantCulture);
        var (level, output) = (OpTrace.Level, OpTrace.Output);
        var perRun = new List<List<(string Op, string Inputs, string Output, double Ms)>>();
        try
        {
            OpTrace.Level = 1;
            OpTrace.Output = lines;
            for (int r = 0; r < runs; r++)
            {
                lines.GetStringBuilder().Clear();
                model.Predict(image).Dispose();
                var ops = new List<(string, string, string, double)>();
                foreach (var line in lines.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries))
                    if (TraceLine().Match(line) is { Success: true } m)
                        ops.Add((m.Groups[1].Value, m.Groups[2].Value, m.Groups[3].Value, double.Parse(m.Groups[4].Value, CultureInfo.InvariantCulture)));
                perRun.Add(ops);
            }
        }
        finally
        {
            (OpTrace.Level, OpTrace.Output) = (level, output);
        }
        var layers = new List<Layer>();
        for (int i = 0; i < perRun[0].Count; i++)
        {
            var (op, inputs, outputShape, _) = perRun[0][i];
            var shapes = Numbers(inputs);
            int[] outDims = Numbers(outputShape)[0];
            string kind = op.StartsWith("Conv2D", StringComparison.Ordinal) ? "conv" : op == "MaxPool2D" ? "maxpool" : op == "AveragePooling2D" ? "avgpool" : op;
            int[] kernel = kind == "conv" && shapes.Count > 1 ? shapes[1] : [];
            layers.Add(new Layer(kind, $"{op} {inputs} → {outputShape}", kernel, outDims.Length == 4 ? outDims[1..] : outDims,
                Median(perRun.Where(ops => ops.Count > i).Select(ops => ops[i].Ms))));
        }
        return layers;
    }

    private static List<Layer> OrtLayers(float[] nhwc, int warmups, int runs)
    {
        string folder = Directory.CreateTempSubdirectory("convkit-layers-").FullName;
        try
        {
            using var options = OrtPeer.SessionOptionsForRuns();
            options.EnableProfiling = true;
            options.ProfileOutputPathPrefix = Path.Combine(folder, "ort");
            using var session = new InferenceSession(BenchCases.ResNet18Path, options);
            using var x = OrtValue.CreateTensorValueFromMemory(Layouts.NhwcToNchw(nhwc, 1, 224, 224, 3), [1, 3, 224, 224]);
            using var runOptions = new RunOptions();
            for (int r = 0; r < warmups + runs; r++)
            {
                using var outputs = session.Run(runOptions, [session.InputNames[0]], [x], [session.OutputNames[0]]);
            }
            string file = session.EndProfiling();
            return ParseProfile(Path.IsPathRooted(file) ? file : Path.Combine(Environment.CurrentDirectory, file), runs);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>ONNX Runtime's profile: per node, the median of its last <paramref name="runs"/> kernel times, in the order the nodes ran.</summary>
    private static List<Layer> ParseProfile(string file, int runs)
    {
        using var json = JsonDocument.Parse(File.ReadAllBytes(file));
        File.Delete(file);
        var times = new Dictionary<string, List<double>>();
        var nodes = new List<(string Name, string Op, int[] Weight, int[] Output)>();
        foreach (var e in json.RootElement.EnumerateArray())
        {
            if (e.GetProperty("cat").GetString() != "Node") continue;
            string name = e.GetProperty("name").GetString()!;
            if (!name.EndsWith("_kernel_time", StringComparison.Ordinal)) continue;
            if (!times.TryGetValue(name, out var list))
            {
                times[name] = list = [];
                var a = e.GetProperty("args");
                nodes.Add((name, a.GetProperty("op_name").GetString()!, ShapeAt(a.GetProperty("input_type_shape"), 1), ShapeAt(a.GetProperty("output_type_shape"), 0)));
            }
            list.Add(e.GetProperty("dur").GetDouble() / 1000);
        }
        var layers = new List<Layer>();
        foreach (var (name, op, weight, output) in nodes)
        {
            string kind = op switch { "Conv" or "FusedConv" => "conv", "MaxPool" => "maxpool", "AveragePool" or "GlobalAveragePool" => "avgpool", _ => op };
            // NCHW (or NCHWc) [1, K, P, Q] → [P, Q, K]; weights [K, C, R, S] → [R, S, C, K].
            int[] outDims = output.Length == 4 ? [output[2], output[3], output[1]] : output;
            int[] kernel = kind == "conv" && weight.Length == 4 ? [weight[2], weight[3], weight[1], weight[0]] : [];
            var list = times[name];
            layers.Add(new Layer(kind, $"{op} {name[..^"_kernel_time".Length]}", kernel, outDims, Median(list.Skip(Math.Max(0, list.Count - runs)))));
        }
        return layers;
    }

    private static void Print(List<Layer> convkit, List<Layer> ort, int threads, int runs)
    {
        Console.WriteLine($"ResNet18, batch 1, {threads} threads: medians of {runs} inferences per layer (ms); ratio = onnxruntime / ConvKit time");
        Console.WriteLine();
        Console.WriteLine("| ConvKit layer | GFLOP | ConvKit ms | GFLOP/s | onnxruntime ms | GFLOP/s | ratio |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        var unmatched = new List<Layer>(ort);
        double convkitTotal = 0, ortTotal = 0;
        foreach (var layer in convkit)
        {
            var peer = unmatched.FirstOrDefault(o => o.Key == layer.Key);
            if (peer is not null) unmatched.Remove(peer);
            convkitTotal += layer.Milliseconds;
            ortTotal += peer?.Milliseconds ?? 0;
            string flops = layer.Flops > 0 ? Inv($"{layer.Flops / 1e9:F3}") : "";
            Console.WriteLine(Inv($"| {layer.Description} | {flops} | {layer.Milliseconds:F3} | {Rate(layer.Flops, layer.Milliseconds)} | ") +
                (peer is null ? "— | | |" : Inv($"{peer.Milliseconds:F3} | {Rate(layer.Flops, peer.Milliseconds)} | {peer.Milliseconds / layer.Milliseconds:F2}× |")));
        }
        foreach (var peer in unmatched)
        {
            ortTotal += peer.Milliseconds;
            Console.WriteLine(Inv($"| (onnxruntime only) {peer.Description} | | — | | {peer.Milliseconds:F3} | | |"));
        }
        Console.WriteLine(Inv($"| sum of the medians | | {convkitTotal:F2} | | {ortTotal:F2} | | {(convkitTotal > 0 ? ortTotal / convkitTotal : 0):F2}× |"));
    }

    private static string Rate(double flops, double ms) => flops > 0 && ms > 0 ? Inv($"{flops / ms / 1e6:F0}") : "";


    private static int[] ShapeAt(JsonElement shapes, int index)
    {
        if (shapes.GetArrayLength() <= index) return [];
        foreach (var property in shapes[index].EnumerateObject()) return [.. property.Value.EnumerateArray().Select(d => d.GetInt32())];
        return [];
    }

    /// <summary>Every parenthesised list of integers in <paramref name="text"/>: "(1, 56, 56, 64), (3, 3, 64, 64)".</summary>
    private static List<int[]> Numbers(string text) =>
        [.. Tuple().Matches(text).Select(m => m.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray())];

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? 0 : sorted[sorted.Length / 2];
    }

    private static int Positive(string text, string option) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) && value > 0 ? value
        : throw new ArgumentException($"layers: {option} needs a positive whole number; received '{text}'.");

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^\[convkit\] (\S+) (.*) → (\([0-9, ]*\))  ([0-9.]+) ms$")]
    private static partial Regex TraceLine();

    [GeneratedRegex(@"\(([0-9, ]*)\)")]
    private static partial Regex Tuple();
}
