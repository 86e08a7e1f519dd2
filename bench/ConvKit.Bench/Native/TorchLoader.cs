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

    /// <summary>Weakens the requirement in every copy in <paramref name="outputFolder"/>; returns one line per file.</summary>
    public static IEnumerable<string> FixOutputFolder(string outputFolder)
    {
        foreach (string library in LibraryCopies(outputFolder))
        {
            string line;
            try { line = $"{ElfVersionWeakener.Weaken(library, MissingVersion)}: {library}"; }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                line = $"Failed ({e.Message}): {library}";
            }
            yield return line;
        }
    }

    /// <summary>
    /// Weakens the requirement next to this program (idempotent), then starts torch. Returns null when torch runs,
    /// otherwise one line saying why not.
    /// </summary>
    public static string? TryStart()
    {
        if (OperatingSystem.IsLinux())
        {
            foreach (string line in FixOutputFolder(AppContext.BaseDirectory))
                if (line.StartsWith("Failed", StringComparison.Ordinal) || line.StartsWith(nameof(WeakenOutcome.UsedByRelocation), StringComparison.Ordinal))
                    return $"torch unavailable: could not patch libLibTorchSharp.so ({line}).";
        }
        try
        {
            using var probe = torch.ones(2, 2);
            float sum = probe.sum().item<float>();
            return sum == 4f ? null : $"torch unavailable: sanity check gave {sum}, expected 4.";
        }
        catch (Exception e)
        {
            return "torch unavailable: " + FirstLine(e);
        }
    }

    private static string FirstLine(Exception e)
    {
        while (e.InnerException is not null && e is TypeInitializationException) e = e.InnerException;
        string message = e.Message.ReplaceLineEndings(" ");
        return $"{e.GetType().Name}: {(message.Length > 300 ? message[..300] + "…" : message)}";
    }
}
