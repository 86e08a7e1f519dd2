using System.Globalization;

namespace ConvKit.Bench.Peers;

/// <summary>Arguments of <c>peers</c>: <c>--quick</c>, <c>--json</c>, <c>--threads N</c>, <c>--only ID[,ID…]</c>.</summary>
internal sealed record PeersOptions(bool Quick, bool Json, int Threads, IReadOnlySet<string>? Only)
{
    /// <summary>Timed repetitions of each side at most, taken in turns with the other sides (the median is reported).</summary>
    public int MaxReps => Quick ? 3 : 15;

    /// <summary>Untimed runs before timing, at least.</summary>
    public int WarmupRuns => Quick ? 1 : 2;

    /// <summary>Warm-up goes on until this much time has passed (or <see cref="MaxWarmupRuns"/> runs).</summary>
    public double WarmupSeconds => Quick ? 0.2 : 3;

    /// <summary>
    /// Warm-up runs at most. The runtime recompiles a method without loops, optimised, only after 30 calls, and code
    /// called once per layer of a model gets there only after 30 runs of a model with few such layers.
    /// </summary>
    public int MaxWarmupRuns => Quick ? 5 : 80;

    /// <summary>
    /// Seconds one contender may spend on timed runs; a slow kernel gets fewer reps (at least one).
    /// A warm-up longer than this is itself taken as the one sample, so a scalar reference kernel
    /// does not hold a quick run up for minutes.
    /// </summary>
    public double BudgetSeconds => Quick ? 4 : 30;

    public bool Includes(string caseId) => Only is null || Only.Contains(caseId);

    public static PeersOptions Parse(string[] args)
    {
        bool quick = false, json = false;
        int threads = Environment.ProcessorCount;
        HashSet<string>? only = null;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--quick": quick = true; break;
                case "--json": json = true; break;
                case "--threads":
                    if (i + 1 >= args.Length || !int.TryParse(args[++i], NumberStyles.None, CultureInfo.InvariantCulture, out threads) || threads < 1)
                        throw new ArgumentException($"--threads needs a positive whole number; received '{(i < args.Length ? args[i] : "")}'.");
                    break;
                case "--only":
                    if (i + 1 >= args.Length) throw new ArgumentException("--only needs a comma-separated list of case ids.");
                    only = [.. args[++i].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
                    break;
                default: throw new ArgumentException($"peers: unknown argument '{args[i]}'.");
            }
        }
        return new PeersOptions(quick, json, threads, only);
    }
}
