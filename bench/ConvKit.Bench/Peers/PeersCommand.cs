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

    /// <summary>
    /// Sets every side up, warms each up, then times them in turns (ConvKit, peer 1, peer 2, ConvKit, …) so that a
    /// stretch of this shared machine's slowness falls on every side alike instead of on whichever was being timed.
    /// </summary>
    private static CaseResult RunCase(BenchCase benchCase, PeersOptions options)
    {
        Progress($"{benchCase.Id}: preparing inputs");
        var prepared = benchCase.Prepare();
        // Every side stays set up for the whole case (three seed-convolution outputs are about 400 MB together).
        var sides = new List<MeasuredSide> { SetUp(benchCase, ConvKitSide.Side, prepared.ConvKit) };
        for (int i = 0; i < prepared.Peers.Count; i++) sides.Add(SetUp(benchCase, prepared.PeerNames[i], prepared.Peers[i]));
        try
        {
            foreach (var side in sides) WarmUp(benchCase, side, options);
            for (int rep = 0; rep < options.MaxReps; rep++)
                foreach (var side in sides.Where(s => s.Contender is not null && !s.Finished))
                    TimeOnce(benchCase, side, options);
            var convKit = Report(benchCase, sides[0], null, null, out var reference);
            var peers = sides.Skip(1).Select(side => Report(benchCase, side, convKit, reference, out _)).ToList();
            return new CaseResult(benchCase, convKit, peers);
        }
        finally
        {
            foreach (var side in sides) side.Contender?.Dispose();
        }
    }

    /// <summary>One side of a case while it is measured: its contender, or why it has none, and its timed runs.</summary>
    private sealed class MeasuredSide(string name)
    {
        public string Name { get; } = name;
        public Contender? Contender { get; set; }
        public SideResult? Failure { get; set; }
        public List<double> Samples { get; } = [];
        /// <summary>Its time budget is spent (or one warm-up took all of it): no more runs.</summary>
        public bool Finished { get; set; }
    }

    private static MeasuredSide SetUp(BenchCase benchCase, string name, Func<Contender?> create)
    {
        var side = new MeasuredSide(name);
        try
        {
            side.Contender = create();
            if (side.Contender is null) side.Failure = new SideResult(name, SideStatus.Missing, "not implemented yet");
        }
        catch (PeerUnavailableException e)
        {
            side.Failure = new SideResult(name, SideStatus.Unavailable, e.Message);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Progress($"{benchCase.Id}: {name} failed to set up: {e.Message}");
            side.Failure = new SideResult(name, SideStatus.Failed, OneLine(e));
        }
        return side;
    }

    /// <summary>
    /// At least <see cref="PeersOptions.WarmupRuns"/> untimed runs, and more until <see cref="PeersOptions.WarmupSeconds"/>
    /// have passed: the runtime compiles hot code a second time, optimised, only after some dozens of calls, so a
    /// training step reaches its steady speed after about ten steps. A warm-up longer than the whole budget is the sample.
    /// </summary>
    private static void WarmUp(BenchCase benchCase, MeasuredSide side, PeersOptions options)
    {
        if (side.Contender is null) return;
        Progress($"{benchCase.Id}: {side.Name}: warming up");
        double spent = 0;
        for (int run = 0; run < options.MaxWarmupRuns && (run < options.WarmupRuns || spent < options.WarmupSeconds); run++)
        {
            double seconds = Run(benchCase, side);
            if (side.Contender is null) return;
            spent += seconds;
            if (seconds >= options.BudgetSeconds)
            {
                side.Samples.Add(seconds);
                side.Finished = true;
                return;
            }
        }
    }

    /// <summary>
    /// Idle time before each timed run. libgomp's and ONNX Runtime's worker threads spin for a while after their work,
    /// so a side timed right after a peer shared the cores with that peer's spinning threads; a pause lets them sleep.
    /// 30 ms was too short for ONNX Runtime: ResNet18 at batch 1, timed right after it, ran in 62–82 ms with that pause
    /// and in 43–52 ms with this one (or with ONNX Runtime's spinning turned off), ONNX Runtime itself in 27–30 ms either way.
    /// </summary>
    internal const int PauseMilliseconds = 250;

    private static void TimeOnce(BenchCase benchCase, MeasuredSide side, PeersOptions options)
    {
        Thread.Sleep(PauseMilliseconds);
        double seconds = Run(benchCase, side);
        if (side.Contender is null) return;
        side.Samples.Add(seconds);
        if (side.Samples.Sum() >= options.BudgetSeconds) side.Finished = true;
    }

    /// <summary>Times one run; a side that throws is marked failed and set aside.</summary>
    private static double Run(BenchCase benchCase, MeasuredSide side)
    {
        try
        {
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            side.Contender!.Run();
            return System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Progress($"{benchCase.Id}: {side.Name} failed: {e.Message}");
            side.Failure = new SideResult(side.Name, SideStatus.Failed, OneLine(e));
            var failed = side.Contender!;
            side.Contender = null;
            try { failed.Dispose(); }
            catch (Exception disposal) when (disposal is not OutOfMemoryException) { Progress($"{benchCase.Id}: {side.Name} failed to clean up: {disposal.Message}"); }
            return 0;
        }
    }

    /// <summary>The side's median and best, its output and, for a peer, the comparison with ConvKit's output.</summary>
    private static SideResult Report(BenchCase benchCase, MeasuredSide side, SideResult? convKit, float[]? reference, out float[]? output)
    {
        output = null;
        if (side.Failure is not null || side.Contender is null || side.Samples.Count == 0)
            return side.Failure ?? new SideResult(side.Name, SideStatus.Failed, "no timed run");
        try
        {
            var samples = side.Samples.Order().ToList();
            int count = samples.Count;
            double median = count % 2 == 1 ? samples[count / 2] : (samples[count / 2 - 1] + samples[count / 2]) / 2;
            var timing = new Timing(median, samples[0], count);
            output = side.Contender.Output();
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
            Progress($"{benchCase.Id}: {side.Name} {timing.MedianSeconds * 1e3:F2} ms over {count} runs" +
                (maxAbs is null ? "" : $", max|diff| {maxAbs:G3} ({(agrees == true ? "ok" : "MISMATCH")})"));
            return new SideResult(side.Name, SideStatus.Ok, null, timing, gflops, gbps, speedup, maxAbs, relative, agrees);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Progress($"{benchCase.Id}: {side.Name} failed: {e.Message}");
            return new SideResult(side.Name, SideStatus.Failed, OneLine(e));
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
        if (machine.IsaLimits != "none") sb.AppendLine(Inv($"Instruction sets limited by {machine.IsaLimits}"));
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
            w.WriteString("isaLimits", machine.IsaLimits);
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
