using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using ConvKit.Autograd;
using ConvKit.Models;
using ConvKit.Tensors;
using Microsoft.ML.OnnxRuntime;

namespace ConvKit.Bench.Peers;

/// <summary>
/// <c>layers</c>: ResNet18 at batch 1, layer by layer, ConvKit beside ONNX Runtime. ConvKit's times are its op trace
/// (what <c>CONVKIT_DEBUG=1</c> prints, captured in memory), ONNX Runtime's its own profiler's kernel times; both are
/// medians over the same number of inferences after the same warm-up, the two sides taking turns. A layer is matched
/// to its peer by kind, kernel shape and output shape (ONNX Runtime runs the downsampling 1×1 convolutions before their
/// block's 3×3 ones).
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
        var convkit = new ConvKitSide(image);
        using var ort = OrtPeer.Unavailable is null ? new OrtSide(image.ToArray()) : null;
        if (OrtPeer.Unavailable is { } why) Console.Error.WriteLine($"[layers] onnxruntime unavailable: {why}");
        // Warm-ups back to back, then the timed inferences in turns, each after PeersCommand's pause: the sides then see
        // the same minutes of the host, and neither shares the cores with the other's spinning workers (ONNX Runtime's
        // spun through ConvKit's next inference and made its 56×56 layers 1.5× slower).
        Console.Error.WriteLine($"[layers] {warmups} warm-up inferences on each side, then {runs} timed ones in turns");
        for (int r = 0; r < warmups; r++) convkit.Infer(timed: false);
        for (int r = 0; r < warmups; r++) ort?.Infer();
        for (int r = 0; r < runs; r++)
        {
            Thread.Sleep(PeersCommand.PauseMilliseconds);
            convkit.Infer(timed: true);
            if (ort is null) continue;
            Thread.Sleep(PeersCommand.PauseMilliseconds);
            ort.Infer();
        }
        Print(convkit.Layers(), ort?.Layers(runs) ?? [], threads, runs);
        return 0;
    }

    /// <summary>One layer: its kind ("conv", "maxpool", "avgpool" or another op's name), kernel [R, S, C, K] (empty if none), output [P, Q, K] and median time.</summary>
    private sealed record Layer(string Kind, string Description, int[] Kernel, int[] Output, double Milliseconds)
    {
        public string Key => $"{Kind} {string.Join('×', Kernel)} → {string.Join('×', Output)}";

        public double Flops => Kind == "conv" && Kernel.Length == 4 ? 2.0 * Output[0] * Output[1] * Output[2] * Kernel[0] * Kernel[1] * Kernel[2] : 0;
    }

    /// <summary>ConvKit's side: the imported model, its op trace captured in memory on timed inferences.</summary>
    private sealed class ConvKitSide(Tensor image)
    {
        private readonly Model model = Onnx.OnnxImporter.Load(BenchCases.ResNet18Path).Model;
        private readonly List<List<(string Op, string Inputs, string Output, double Ms)>> perRun = [];

        public void Infer(bool timed)
        {
            if (!timed)
            {
                model.Predict(image).Dispose();
                return;
            }
            var lines = new StringWriter(CultureInfo.InvariantCulture);
            var (level, output) = (OpTrace.Level, OpTrace.Output);
            try
            {
                (OpTrace.Level, OpTrace.Output) = (1, lines);
                model.Predict(image).Dispose();
            }
            finally
            {
                (OpTrace.Level, OpTrace.Output) = (level, output);
            }
            var ops = new List<(string, string, string, double)>();
            foreach (var line in lines.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries))
                if (TraceLine().Match(line) is { Success: true } m)
                    ops.Add((m.Groups[1].Value, m.Groups[2].Value, m.Groups[3].Value, double.Parse(m.Groups[4].Value, CultureInfo.InvariantCulture)));
            perRun.Add(ops);
        }

        /// <summary>Each traced op of the first timed inference, with its median over all of them.</summary>
        public List<Layer> Layers()
        {
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
    }

    /// <summary>ONNX Runtime's side: a session with its profiler on, which records every inference's node times.</summary>
    private sealed class OrtSide : IDisposable
    {
        private readonly string folder = Directory.CreateTempSubdirectory("convkit-layers-").FullName;
        private readonly SessionOptions options = OrtPeer.SessionOptionsForRuns();
        private readonly InferenceSession session;
        private readonly OrtValue input;
        private readonly RunOptions runOptions = new();

        public OrtSide(float[] nhwc)
        {
            options.EnableProfiling = true;
            options.ProfileOutputPathPrefix = Path.Combine(folder, "ort");
            try
            {
                session = new InferenceSession(BenchCases.ResNet18Path, options);
                input = OrtValue.CreateTensorValueFromMemory(Layouts.NhwcToNchw(nhwc, 1, 224, 224, 3), [1, 3, 224, 224]);
            }
            catch
            {
                session?.Dispose();
                runOptions.Dispose();
                options.Dispose();
                Directory.Delete(folder, recursive: true);
                throw;
            }
        }

        public void Infer()
        {
            using var outputs = session.Run(runOptions, [session.InputNames[0]], [input], [session.OutputNames[0]]);
        }

        /// <summary>The profile's nodes, each with the median of its last <paramref name="runs"/> times.</summary>
        public List<Layer> Layers(int runs)
        {
            string file = session.EndProfiling();
            return ParseProfile(Path.IsPathRooted(file) ? file : Path.Combine(Environment.CurrentDirectory, file), runs);
        }

        public void Dispose()
        {
            runOptions.Dispose();
            input.Dispose();
            session.Dispose();
            options.Dispose();
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
