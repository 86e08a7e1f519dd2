using System.Diagnostics;

namespace ConvKit.Bench.Peers;

/// <summary>
/// One implementation of a case, set up and ready: <see cref="Run"/> is what is timed (inputs are laid out
/// beforehand), <see cref="Output"/> returns the last run's result in the case's canonical layout
/// (channels-last for images, row-major for matrices) so that every side can be compared with ConvKit's.
/// </summary>
internal sealed class Contender(string side, Action run, Func<float[]> output, IDisposable? resources = null) : IDisposable
{
    public string Side { get; } = side;
    public void Run() => run();
    public float[] Output() => output();
    public void Dispose() => resources?.Dispose();
}

/// <summary>Median and best of the timed runs.</summary>
internal sealed record Timing(double MedianSeconds, double MinSeconds, int Reps);

internal static class Stopwatches
{
    /// <summary>Warm-up, then up to <see cref="PeersOptions.MaxReps"/> timed runs within the time budget; the median is the figure.</summary>
    public static Timing Measure(Contender contender, PeersOptions options)
    {
        var samples = new List<double>();
        for (int i = 0; i < options.WarmupRuns; i++)
        {
            double seconds = Time(contender);
            if (seconds >= options.BudgetSeconds)
            {
                samples.Add(seconds);   // too slow to repeat: the warm-up is the sample
                break;
            }
        }
        if (samples.Count == 0)
        {
            for (int i = 0; i < options.MaxReps; i++)
            {
                samples.Add(Time(contender));
                if (samples.Sum() >= options.BudgetSeconds) break;
            }
        }
        samples.Sort();
        double median = samples.Count % 2 == 1 ? samples[samples.Count / 2] : (samples[samples.Count / 2 - 1] + samples[samples.Count / 2]) / 2;
        return new Timing(median, samples[0], samples.Count);
    }

    private static double Time(Contender contender)
    {
        var start = Stopwatch.GetTimestamp();
        contender.Run();
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }
}
