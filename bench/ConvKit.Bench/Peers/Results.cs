namespace ConvKit.Bench.Peers;

/// <summary>How one side of a case went.</summary>
internal enum SideStatus
{
    /// <summary>Measured.</summary>
    Ok,
    /// <summary>Not implemented for this side yet (printed "n/a").</summary>
    Missing,
    /// <summary>The peer cannot run on this machine.</summary>
    Unavailable,
    /// <summary>Threw while setting up or running.</summary>
    Failed,
}

/// <summary>
/// One side of one case. <c>SpeedupOfConvKit</c> = peer time / ConvKit time (above 1 ConvKit is faster);
/// <c>MaxAbsDiff</c> = max |side − convkit| over the output and <c>RelativeDiff</c> that over
/// max(1, max |convkit|), which <c>Agrees</c> compares with the case's tolerance (all null when either side
/// has no output).
/// </summary>
internal sealed record SideResult(string Side, SideStatus Status, string? Reason = null, Timing? Timing = null,
    double? Gflops = null, double? GBps = null, double? SpeedupOfConvKit = null,
    double? MaxAbsDiff = null, double? RelativeDiff = null, bool? Agrees = null);

internal sealed record CaseResult(BenchCase Case, SideResult ConvKit, IReadOnlyList<SideResult> Peers);
