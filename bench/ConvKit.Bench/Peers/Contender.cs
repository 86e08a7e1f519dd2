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
