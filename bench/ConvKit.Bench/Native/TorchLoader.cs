using TorchSharp;

namespace ConvKit.Bench.Native;

/// <summary>
/// Makes TorchSharp's native library loadable on this machine and says whether torch runs.
/// See <see cref="ElfVersionWeakener"/> and bench/README.md ("Loading torch on Debian 12").
/// </summary>
internal static class TorchLoader
{
    /// <summary>The version whose requirement is made weak: the one libstdc++ symbol TorchSharp 0.107 asks for that Debian 12 lacks.</summary>
    public const string MissingVersion = "GLIBCXX_3.4.32";

    /// <summary>The copies of libLibTorchSharp.so in an output folder (portable and RID-specific layouts).</summary>
    public static IEnumerable<string> LibraryCopies(string outputFolder) =>
        new[]
        {
            Path.Combine(outputFolder, "runtimes", "linux-x64", "native", "libLibTorchSharp.so"),
            Path.Combine(outputFolder, "libLibTorchSharp.so"),
        }.Where(File.Exists);

    /// <summary>Weakens the requirement in every copy in <paramref name="outputFolder"/>; one line per file, and whether it went wrong.</summary>
    public static IEnumerable<(string Line, bool Failed)> FixOutputFolder(string outputFolder)
    {
        foreach (string library in LibraryCopies(outputFolder))
        {
            (string, bool) result;
            try
            {
                var outcome = ElfVersionWeakener.Weaken(library, MissingVersion);
                result = outcome == WeakenOutcome.UsedByRelocation
                    ? ($"left {library} alone: a relocated symbol needs {MissingVersion}", true)
                    : ($"{outcome}: {library}", false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                result = ($"could not patch {library}: {e.Message}", true);
            }
            yield return result;
        }
    }

    /// <summary>
    /// Weakens the requirement next to this program (idempotent), then starts torch with a tiny computation.
    /// Returns null when torch runs, otherwise one line saying why not.
    /// </summary>
    public static string? TryStart()
    {
        var problems = new List<string>();
        if (OperatingSystem.IsLinux())
            problems.AddRange(FixOutputFolder(AppContext.BaseDirectory).Where(r => r.Failed).Select(r => r.Line));
        // TorchSharp prints its native-loading trace to stdout when loading fails; keep stdout for the report.
        var stdout = Console.Out;
        Console.SetOut(TextWriter.Null);
        try
        {
            using var probe = torch.ones(2, 2);
            using var total = probe.sum();
            float sum = total.item<float>();
            if (sum == 4f) return null;
            problems.Add($"sanity check gave {sum}, expected 4");
        }
        catch (Exception e)
        {
            problems.Add(FirstLine(e));
        }
        finally
        {
            Console.SetOut(stdout);
        }
        return string.Join("; ", problems);
    }

    private static string FirstLine(Exception e)
    {
        while (e.InnerException is not null && e is TypeInitializationException) e = e.InnerException;
        string message = e.Message.Trim().ReplaceLineEndings("\n").Split('\n')[0];
        return $"{e.GetType().Name}: {(message.Length > 240 ? message[..240] + "…" : message)}";
    }
}
