using System.Diagnostics;
using ConvKit.Tensors;

namespace ConvKit.Autograd;

/// <summary>
/// The one switch for looking inside: <c>CONVKIT_DEBUG=1</c> prints every op as it runs, forward and backward, with
/// its shapes and time, to standard error; <c>CONVKIT_DEBUG=2</c> adds the kernel each convolution, pooling and GEMM
/// chose. Off (the default) it costs one comparison per op.
/// </summary>
/// <remarks>
/// A forward op's time runs from the end of the previous op (or the start of the layer call) on the same thread to
/// the end of this one, so it includes the layer's own bookkeeping between ops, which is small; the first op on a
/// thread outside a layer shows "—". A backward op is timed exactly around its gradient computation.
/// </remarks>
/// <example>
/// <code>
/// [convkit] Conv2D (100, 28, 28, 1), (5, 5, 1, 32), (32,) → (100, 28, 28, 32)  1.204 ms
/// [convkit] ∂Conv2D (100, 28, 28, 32) → (5, 5, 1, 32), (32,)  2.317 ms
/// </code>
/// </example>
internal static class OpTrace
{
    /// <summary>0 off, 1 ops, 2 ops and kernels; from <c>CONVKIT_DEBUG</c> (any other non-empty value but 0 means 1; tests set it directly).</summary>
    public static int Level { get; set; } = ReadLevel(Environment.GetEnvironmentVariable("CONVKIT_DEBUG"));

    /// <summary>Where the lines go: standard error as it is when a line is written, unless a test sets a writer.</summary>
    public static TextWriter? Output { get; set; }

    private static readonly Lock Gate = new();

    [ThreadStatic] private static long lastEvent;

    /// <summary>Marks the start of work whose ops follow (a layer call), so the first op is not charged for what came before.</summary>
    public static void Mark()
    {
        if (Level > 0) lastEvent = Stopwatch.GetTimestamp();
    }

    /// <summary>A forward op has produced <paramref name="output"/> from <paramref name="inputs"/>.</summary>
    public static void Forward(string name, IReadOnlyList<Tensor> inputs, Tensor output)
    {
        long now = Stopwatch.GetTimestamp();
        string time = lastEvent == 0 ? "—" : Milliseconds(Stopwatch.GetElapsedTime(lastEvent, now));
        lastEvent = now;
        Write($"{name} {Shapes(inputs)} → {output.Shape}  {time}");
    }

    /// <summary>A backward op has turned <paramref name="gradOutput"/> into the gradients of its inputs.</summary>
    public static void Backward(string name, Tensor gradOutput, IReadOnlyList<Tensor?> gradInputs, long started)
    {
        string time = Milliseconds(Stopwatch.GetElapsedTime(started));
        lastEvent = Stopwatch.GetTimestamp();
        Write($"∂{name} {gradOutput.Shape} → {Shapes(gradInputs)}  {time}");
    }

    /// <summary>Work between ops that a step also spends time on (the optimizer's update), timed from <paramref name="started"/>.</summary>
    public static void Work(string description, long started)
    {
        string time = Milliseconds(Stopwatch.GetElapsedTime(started));
        lastEvent = Stopwatch.GetTimestamp();
        Write($"{description}  {time}");
    }

    /// <summary>At level 2, the kernel a dispatcher chose, as a line of its own before the op's line.</summary>
    public static void Kernel(string description)
    {
        if (Level >= 2) Write("  kernel: " + description);
    }

    private static int ReadLevel(string? text) =>
        int.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int level) ? Math.Max(0, level)
        : string.IsNullOrEmpty(text) ? 0 : 1;

    private static string Milliseconds(TimeSpan elapsed) =>
        elapsed.TotalMilliseconds.ToString("F3", System.Globalization.CultureInfo.InvariantCulture) + " ms";

    private static string Shapes(IEnumerable<Tensor?> tensors) => string.Join(", ", tensors.Select(t => t is null ? "-" : t.Shape.ToString()));

    private static void Write(string line)
    {
        lock (Gate) (Output ?? Console.Error).WriteLine("[convkit] " + line);
    }
}
