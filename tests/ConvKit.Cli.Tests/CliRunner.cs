using ConvKit.Data;

// The commands set process-wide state (layer name counters, the global seed, CONVKIT_THREADS): run one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace ConvKit.Cli.Tests;

/// <summary>Runs <c>convkit</c> in-process and keeps what it wrote.</summary>
internal sealed record CliResult(int ExitCode, string Output, string Error)
{
    public static CliResult Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = Cli.Run(args, output, error);
        return new CliResult(code, output.ToString(), error.ToString());
    }

    /// <summary>Asserts a failure reported as exactly one line on stderr with no stack trace, and returns that line.</summary>
    public string AssertOneLineError(int expectedCode = Cli.UserError)
    {
        Assert.Equal(expectedCode, ExitCode);
        var lines = Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one error line, got:\n{Error}");
        Assert.DoesNotContain("   at ", Error);
        Assert.StartsWith("convkit: ", lines[0]);
        return lines[0];
    }
}
