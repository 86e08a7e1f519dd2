using System.CommandLine;
using System.CommandLine.Invocation;
using ConvKit.IO;
using Spectre.Console;

namespace ConvKit.Cli;

/// <summary>
/// The <c>convkit</c> command: <c>train</c>, <c>evaluate</c>, <c>predict</c>, <c>summary</c>, <c>import</c>, <c>export</c>,
/// <c>features</c> and <c>style</c>. <see cref="Run"/> is the
/// whole program with its streams passed in, so tests run it in-process.
/// </summary>
/// <remarks>
/// Exit codes: 0 success, 1 a user mistake or bad input (missing data set, malformed file, unknown model…), 2 a
/// command line that does not parse, 70 an internal error. Mistakes print one line on the error stream, never a
/// stack trace; <c>CONVKIT_DEBUG=1</c> adds the trace of internal errors.
/// </remarks>
public static class Cli
{
    public const int Success = 0, UserError = 1, UsageError = 2, InternalError = 70;

    /// <summary>Runs <c>convkit</c> with <paramref name="args"/>, writing results to <paramref name="output"/> and problems to <paramref name="error"/>.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        try
        {
            var context = new CliContext(output, error);
            var root = new RootCommand("Train, evaluate and run convolutional networks with ConvKit.")
            {
                TrainCommand.Create(context),
                EvaluateCommand.Create(context),
                PredictCommand.Create(context),
                SummaryCommand.Create(context),
                OnnxCommands.Import(context),
                OnnxCommands.Export(context),
                FeaturesCommand.Create(context),
                StyleCommand.Create(context),
            };
            var parsed = root.Parse(args);
            if (parsed.Errors.Count > 0 && parsed.Action is ParseErrorAction)
            {
                string command = parsed.CommandResult.Command is RootCommand ? "convkit" : "convkit " + parsed.CommandResult.Command.Name;
                error.WriteLine($"convkit: {OneLine(parsed.Errors[0].Message)} (see '{command} --help')");
                return UsageError;
            }
            return parsed.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (IsUserMistake(e))
        {
            error.WriteLine($"convkit: {OneLine(e.Message)}");
            return UserError;
        }
        catch (Exception e)
        {
            error.WriteLine($"convkit: internal error: {e.GetType().Name}: {OneLine(e.Message)}");
            if (Environment.GetEnvironmentVariable("CONVKIT_DEBUG") is { Length: > 0 } and not "0") error.WriteLine(e);
            return InternalError;
        }
    }

    /// <summary>Exceptions that mean the input was wrong, not the program: shown as one line.</summary>
    private static bool IsUserMistake(Exception e) => e is CliException or ConvKitFormatException or FileNotFoundException
        or DirectoryNotFoundException or UnauthorizedAccessException or ArgumentException or IOException;

    internal static string OneLine(string message) => string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}

/// <summary>A mistake in how the command was used; its message is shown to the user as it is.</summary>
public sealed class CliException(string message) : Exception(message);

/// <summary>The streams a run writes to, and the Spectre consoles over them.</summary>
internal sealed class CliContext(TextWriter output, TextWriter error)
{
    public TextWriter Output { get; } = output;
    public TextWriter Error { get; } = error;

    /// <summary>True when <see cref="Output"/> is the process's own terminal: live progress bars and colour.</summary>
    public bool OutputIsTerminal => ReferenceEquals(Output, Console.Out) && !Console.IsOutputRedirected;

    /// <summary>A Spectre console over <paramref name="writer"/>: ANSI and colour on a terminal, plain text 120 wide otherwise.</summary>
    public IAnsiConsole ConsoleFor(TextWriter writer)
    {
        bool terminal = ReferenceEquals(writer, Console.Out) ? !Console.IsOutputRedirected
            : ReferenceEquals(writer, Console.Error) && !Console.IsErrorRedirected;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = terminal ? InteractionSupport.Detect : InteractionSupport.No,
            Out = new AnsiConsoleOutput(writer),
        });
        if (!terminal) console.Profile.Width = 120;
        return console;
    }
}
