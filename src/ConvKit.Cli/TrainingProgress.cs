using System.Diagnostics;
using System.Globalization;
using ConvKit.Training;
using Spectre.Console;

namespace ConvKit.Cli;

/// <summary>
/// Shows how training goes. On a terminal: a Spectre progress bar per epoch with loss, accuracy, images/s and the
/// time left. Otherwise (redirected output, <c>--json</c>): one plain line per epoch, and a line every 30 seconds
/// within long epochs so logs show the run is alive.
/// </summary>
internal sealed class TrainingProgress(IAnsiConsole console, TextWriter plain, bool live, int epochs, int samples, int batchSize) : Callback
{
    private static readonly TimeSpan PlainInterval = TimeSpan.FromSeconds(30);
    private readonly Stopwatch epochClock = new();
    private TimeSpan lastPlainLine;
    private ProgressContext? context;
    private ProgressTask? task;

    /// <summary>Images per second over the training batches of all epochs so far (validation excluded).</summary>
    public double ImagesPerSecond => trainSeconds > 0 ? trainImages / trainSeconds : 0;
    private double trainSeconds, trainImages, epochTrainSeconds;

    /// <summary>Runs <paramref name="fit"/>, with the live display around it when there is one.</summary>
    public void Run(Action fit)
    {
        if (!live) { fit(); return; }
        console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx => { context = ctx; fit(); });
    }

    public override void OnEpochBegin(int epoch)
    {
        epochClock.Restart();
        lastPlainLine = TimeSpan.Zero;
        int batches = (samples + batchSize - 1) / batchSize;
        task = context?.AddTask(Label(epoch), maxValue: batches);
    }

    public override void OnBatchEnd(int epoch, int batch, int batches, Logs logs)
    {
        var elapsed = epochClock.Elapsed;
        epochTrainSeconds = elapsed.TotalSeconds;
        int seen = Math.Min(samples, (batch + 1) * batchSize);
        double rate = seen / Math.Max(1e-9, elapsed.TotalSeconds);
        if (task is not null)
        {
            task.Value = batch + 1;
            task.Description = Markup.Escape(string.Create(CultureInfo.InvariantCulture, $"{Label(epoch)} {Format(logs, compact: true)} {rate:F0} img/s"));
        }
        else if (elapsed - lastPlainLine >= PlainInterval && batch + 1 < batches)
        {
            lastPlainLine = elapsed;
            plain.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{Label(epoch)}  batch {batch + 1}/{batches}  {Format(logs)}  {rate:F0} img/s  eta {Seconds(elapsed.TotalSeconds / (batch + 1) * (batches - batch - 1))}"));
        }
    }

    public override void OnEpochEnd(int epoch, Logs logs)
    {
        double rate = samples / Math.Max(1e-9, epochTrainSeconds);
        trainSeconds += epochTrainSeconds;
        trainImages += samples;
        string line = string.Create(CultureInfo.InvariantCulture, $"{Label(epoch)}  {Format(logs)}  {rate:F0} img/s  {Seconds(epochClock.Elapsed.TotalSeconds)}");
        if (task is not null)
        {
            task.Description = Markup.Escape(line);
            task.StopTask();
        }
        else plain.WriteLine(line);
    }

    private string Label(int epoch) => $"epoch {(epoch + 1).ToString().PadLeft(epochs.ToString().Length)}/{epochs}";

    /// <summary><c>loss 0.4321  accuracy 0.8456  val_loss …</c></summary>
    internal static string Format(Logs logs, bool compact = false) =>
        string.Join(compact ? " " : "  ", logs.Select(p => string.Create(CultureInfo.InvariantCulture,
            $"{(compact ? p.Key.Replace("accuracy", "acc", StringComparison.Ordinal) : p.Key)} {p.Value:F4}")));

    private static string Seconds(double s) => s < 90 ? string.Create(CultureInfo.InvariantCulture, $"{s:F1}s") : TimeSpan.FromSeconds(Math.Round(s)).ToString("c", CultureInfo.InvariantCulture);
}
