using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace ConvKit.Bench.Peers;

/// <summary>
/// <c>peers</c>: the FMA ceiling, then every case on ConvKit and its peers in one process, on identical
/// inputs; each peer's output is checked against ConvKit's. Progress goes to stderr; the table (or, with
/// <c>--json</c>, one JSON line) to stdout.
/// </summary>
internal static class PeersCommand
{
    public static int Run(PeersOptions options)
    {
        // ConvKit reads its thread count from the environment; set it before any kernel runs.
        Environment.SetEnvironmentVariable("CONVKIT_THREADS", options.Threads.ToString(CultureInfo.InvariantCulture));
        var machine = MachineInfo.Current();
        if (machine.Build != "Release")
            Console.Error.WriteLine("warning: ConvKit.Bench or ConvKit was built without optimisation; the figures mean nothing. Run with -c Release.");
        Progress($"machine: {machine.Cpu}, {machine.LogicalCores} logical cores, {machine.Isa}, {machine.DotNet}, kernels {machine.Kernels}");

        TorchPeer.Start(options.Threads);
        if (TorchPeer.Unavailable is not null) Console.Error.WriteLine($"torch unavailable, going on without it: {TorchPeer.Unavailable}");
        OrtPeer.Start(options.Threads);
        if (OrtPeer.Unavailable is not null) Console.Error.WriteLine($"onnxruntime unavailable, going on without it: {OrtPeer.Unavailable}");

        Progress("FMA peak…");
        var peaks = FmaPeak.Measure(options.Threads, options.Quick);

        var results = new List<CaseResult>();
        foreach (var benchCase in BenchCases.All().Where(c => options.Includes(c.Id)))
        {
            results.Add(RunCase(benchCase, options));
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        Console.WriteLine(options.Json ? Json(options, machine, peaks, results) : Table(options, machine, peaks, results));
        return 0;
    }

    private static CaseResult RunCase(BenchCase benchCase, PeersOptions options)
    {
        Progress($"{benchCase.Id}: preparing inputs");
        var sides = benchCase.Prepare();
        var (convKit, reference) = Measure(benchCase, ConvKitSide.Side, sides.ConvKit, options, null, null);
        var peers = new List<SideResult>();
        for (int i = 0; i < sides.Peers.Count; i++)
            peers.Add(Measure(benchCase, sides.PeerNames[i], sides.Peers[i], options, convKit, reference).Result);
        return new CaseResult(benchCase, convKit, peers);
    }

    /// <summary>Sets up one side, times it, reads its output and, for a peer, compares it with ConvKit's.</summary>
    private static (SideResult Result, float[]? Output) Measure(BenchCase benchCase, string side, Func<Contender?> create,
        PeersOptions options, SideResult? convKit, float[]? reference)
    {
        Contender? contender;
        try
        {
            contender = create();
        }
        catch (PeerUnavailableException e)
        {
            return (new SideResult(side, SideStatus.Unavailable, e.Message), null);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Progress($"{benchCase.Id}: {side} failed to set up: {e.Message}");
            return (new SideResult(side, SideStatus.Failed, OneLine(e)), null);
        }
        if (contender is null) return (new SideResult(side, SideStatus.Missing, "not implemented yet"), null);

        using (contender)
        {
            try
            {
                Progress($"{benchCase.Id}: {contender.Side}");
                var timing = Stopwatches.Measure(contender, options);
                float[] output = contender.Output();
                double? gflops = benchCase.Flops / timing.MedianSeconds / 1e9;
                double? gbps = benchCase.Bytes / timing.MedianSeconds / 1e9;
                double? speedup = convKit?.Timing is { } ck ? timing.MedianSeconds / ck.MedianSeconds : null;
                double? maxAbs = null, relative = null;
                bool? agrees = null;
                if (reference is not null)
                {
                    (maxAbs, relative) = Compare(output, reference);
                    agrees = relative <= benchCase.Tolerance;
                }
                Progress($"{benchCase.Id}: {contender.Side} {timing.MedianSeconds * 1e3:F2} ms" +
                    (maxAbs is null ? "" : $", max|diff| {maxAbs:G3} ({(agrees == true ? "ok" : "MISMATCH")})"));
                return (new SideResult(contender.Side, SideStatus.Ok, null, timing, gflops, gbps, speedup, maxAbs, relative, agrees), output);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Progress($"{benchCase.Id}: {contender.Side} failed: {e.Message}");
                return (new SideResult(contender.Side, SideStatus.Failed, OneLine(e)), null);
            }
        }
    }

    /// <summary>max |a − b| and that over max(1, max |b|); a length mismatch or NaN counts as infinitely far.</summary>
    private static (double MaxAbs, double Relative) Compare(float[] output, float[] reference)
    {
        if (output.Length != reference.Length) return (double.PositiveInfinity, double.PositiveInfinity);
        double maxDiff = 0, scale = 1;
        for (int i = 0; i < output.Length; i++)
        {
            double d = Math.Abs((double)output[i] - reference[i]);
            if (double.IsNaN(d)) return (double.PositiveInfinity, double.PositiveInfinity);
            maxDiff = Math.Max(maxDiff, d);
            scale = Math.Max(scale, Math.Abs(reference[i]));
        }
        return (maxDiff, maxDiff / scale);
    }

    // ---- reports ----------------------------------------------------------------------------

    private static string Table(PeersOptions options, MachineInfo machine, List<FmaPeak.Result> peaks, List<CaseResult> results)
    {
        var sb = new StringBuilder();
        sb.AppendLine(Inv($"ConvKit side by side — {machine.Cpu}, {machine.LogicalCores} logical cores, {options.Threads} threads, {machine.Isa}"));
        sb.AppendLine(Inv($"{machine.DotNet}, {machine.Os}; ConvKit kernels: {machine.Kernels}; {machine.Build} build; {(options.Quick ? "quick" : "full")} run"));
        sb.AppendLine($"torch: {(TorchPeer.Unavailable is { } t ? "unavailable (" + t + ")" : TorchPeer.Version)}");
        sb.AppendLine($"onnxruntime: {(OrtPeer.Unavailable is { } o ? "unavailable (" + o + ")" : OrtPeer.Version)}");
        foreach (var p in peaks)
            sb.AppendLine(Inv($"FMA peak {p.Isa}: {p.SingleThreadGflops:F1} GFLOP/s on 1 thread, {p.AllThreadsGflops:F1} GFLOP/s on {p.Threads}"));
        sb.AppendLine();
        sb.AppendLine(Inv($"{"case",-13} {"side",-28} {"median ms",11} {"reps",4} {"throughput",16} {"ck speed",9} {"max|diff|",10} {"check",6}"));
        foreach (var r in results)
        {
            sb.AppendLine(r.Case.Title);
            foreach (var s in r.Peers.Prepend(r.ConvKit))
            {
                string id = s == r.ConvKit ? r.Case.Id : "";
                if (s.Status != SideStatus.Ok)
                {
                    sb.AppendLine(Inv($"{id,-13} {s.Side,-28} {"n/a",11}  {(s.Status == SideStatus.Missing ? "" : s.Status.ToString().ToLowerInvariant() + ": ")}{s.Reason}"));
                    continue;
                }
                string throughput = s.Gflops is { } g ? Inv($"{g:F1} GFLOP/s") : s.GBps is { } b ? Inv($"{b:F1} GB/s") : "";
                string speed = s.SpeedupOfConvKit is { } x ? Inv($"{x:F2}x") : s == r.ConvKit ? "" : "n/a";
                string diff = s.MaxAbsDiff is { } d ? Inv($"{d:G3}") : s == r.ConvKit ? "" : "n/a";
                string check = s.Agrees is { } ok ? (ok ? "ok" : "FAIL") : "";
                sb.AppendLine(Inv($"{id,-13} {s.Side,-28} {s.Timing!.MedianSeconds * 1e3,11:F2} {s.Timing.Reps,4} {throughput,16} {speed,9} {diff,10} {check,6}"));
            }
        }
        sb.AppendLine();
        sb.AppendLine("ck speed = peer time / ConvKit time (above 1: ConvKit faster). max|diff| = largest difference from ConvKit's output;");
        sb.Append("check: within the case's tolerance relative to max(1, max|ConvKit output|). Timings are medians of the reps shown.");
        return sb.ToString();
    }

    private static string Json(PeersOptions options, MachineInfo machine, List<FmaPeak.Result> peaks, List<CaseResult> results)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = false, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("benchmark", "convkit-peers");
            w.WriteString("timestamp", DateTimeOffset.UtcNow.ToString("o", CultureInfo.InvariantCulture));
            w.WriteBoolean("quick", options.Quick);
            w.WriteStartObject("machine");
            w.WriteString("cpu", machine.Cpu);
            w.WriteNumber("logicalCores", machine.LogicalCores);
            w.WriteNumber("threads", options.Threads);
            w.WriteString("isa", machine.Isa);
            w.WriteString("dotnet", machine.DotNet);
            w.WriteString("os", machine.Os);
            w.WriteString("convkitKernels", machine.Kernels);
            w.WriteString("build", machine.Build);
            w.WriteEndObject();
            w.WriteStartObject("peers");
            WritePeer(w, "torch", TorchPeer.Version, TorchPeer.Unavailable);
            WritePeer(w, "onnxruntime", OrtPeer.Version, OrtPeer.Unavailable);
            w.WriteEndObject();
            w.WriteStartArray("fmaPeak");
            foreach (var p in peaks)
            {
                w.WriteStartObject();
                w.WriteString("isa", p.Isa);
                w.WriteNumber("gflops1Thread", Math.Round(p.SingleThreadGflops, 2));
                w.WriteNumber("gflopsAllThreads", Math.Round(p.AllThreadsGflops, 2));
                w.WriteNumber("threads", p.Threads);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("cases");
            foreach (var r in results)
            {
                w.WriteStartObject();
                w.WriteString("id", r.Case.Id);
                w.WriteString("title", r.Case.Title);
                WriteNumber(w, "flops", r.Case.Flops);
                WriteNumber(w, "bytes", r.Case.Bytes);
                w.WriteNumber("tolerance", r.Case.Tolerance);
                w.WriteStartArray("sides");
                foreach (var s in r.Peers.Prepend(r.ConvKit))
                {
                    w.WriteStartObject();
                    w.WriteString("side", s.Side);
                    w.WriteString("status", s.Status switch { SideStatus.Ok => "ok", SideStatus.Missing => "n/a", _ => s.Status.ToString().ToLowerInvariant() });
                    if (s.Reason is not null) w.WriteString("reason", s.Reason);
                    if (s.Timing is { } t)
                    {
                        w.WriteNumber("medianMs", Math.Round(t.MedianSeconds * 1e3, 4));
                        w.WriteNumber("minMs", Math.Round(t.MinSeconds * 1e3, 4));
                        w.WriteNumber("reps", t.Reps);
                    }
                    WriteNumber(w, "gflops", s.Gflops, 2);
                    WriteNumber(w, "gbps", s.GBps, 2);
                    WriteNumber(w, "convkitSpeedup", s.SpeedupOfConvKit, 4);
                    WriteNumber(w, "maxAbsDiff", s.MaxAbsDiff);
                    WriteNumber(w, "relativeDiff", s.RelativeDiff);
                    if (s.Agrees is { } ok) w.WriteBoolean("agrees", ok);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void WritePeer(Utf8JsonWriter w, string name, string version, string? unavailable)
    {
        w.WriteStartObject(name);
        w.WriteString("version", version);
        w.WriteBoolean("available", unavailable is null);
        if (unavailable is not null) w.WriteString("reason", unavailable);
        w.WriteEndObject();
    }

    /// <summary>Writes a finite number (rounded to <paramref name="digits"/> when given); null and infinities become JSON null.</summary>
    private static void WriteNumber(Utf8JsonWriter w, string name, double? value, int? digits = null)
    {
        if (value is { } v && double.IsFinite(v)) w.WriteNumber(name, digits is { } d ? Math.Round(v, d) : v);
        else w.WriteNull(name);
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    private static string OneLine(Exception e) => $"{e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}";

    private static void Progress(string line) => Console.Error.WriteLine("[peers] " + line);
}
