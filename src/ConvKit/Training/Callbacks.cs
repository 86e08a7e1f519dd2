using ConvKit.Models;

namespace ConvKit.Training;

/// <summary>Values measured during training, by name: <c>loss</c>, <c>accuracy</c>, <c>val_loss</c>, <c>val_accuracy</c>, …</summary>
public sealed class Logs : Dictionary<string, double>;

/// <summary>Hooks into <see cref="Model.Fit(Tensors.Tensor, Tensors.Tensor, FitOptions?)"/>, as Keras callbacks do.</summary>
public abstract class Callback
{
    /// <summary>The model being trained (set when training starts).</summary>
    public Model? Model { get; internal set; }

    public virtual void OnTrainBegin() { }
    public virtual void OnTrainEnd(Logs logs) { }
    public virtual void OnEpochBegin(int epoch) { }
    /// <summary>After each batch, with the running means of the epoch so far and the batch count.</summary>
    public virtual void OnBatchEnd(int epoch, int batch, int batches, Logs logs) { }
    public virtual void OnEpochEnd(int epoch, Logs logs) { }
}

/// <summary>Runs user code after each batch or epoch.</summary>
public sealed class LambdaCallback(Action<int, Logs>? onEpochEnd = null, Action<int, int, Logs>? onBatchEnd = null) : Callback
{
    public override void OnEpochEnd(int epoch, Logs logs) => onEpochEnd?.Invoke(epoch, logs);
    public override void OnBatchEnd(int epoch, int batch, int batches, Logs logs) => onBatchEnd?.Invoke(epoch, batch, logs);
}

/// <summary>What a monitored value should do to count as better.</summary>
public enum MonitorMode { Auto, Min, Max }

/// <summary>Shared bookkeeping for callbacks that watch one logged value.</summary>
public abstract class MonitorCallback(string monitor, MonitorMode mode, double minDelta) : Callback
{
    public string Monitor { get; } = monitor;
    public double Best { get; private set; } = double.NaN;

    private bool Maximize => mode == MonitorMode.Max || (mode == MonitorMode.Auto && Monitor.Contains("acc", StringComparison.Ordinal));

    /// <summary>True when <paramref name="logs"/> improves on the best value so far (and records it).</summary>
    protected bool Improved(Logs logs)
    {
        if (!logs.TryGetValue(Monitor, out double value))
            throw new InvalidOperationException($"{GetType().Name} monitors '{Monitor}', which training does not log; logged: {string.Join(", ", logs.Keys)}.");
        bool better = double.IsNaN(Best) || (Maximize ? value > Best + minDelta : value < Best - minDelta);
        if (better) Best = value;
        return better;
    }

    public override void OnTrainBegin() => Best = double.NaN;
}

/// <summary>Stops training when the monitored value has not improved for <c>patience</c> epochs; can restore the best weights.</summary>
public sealed class EarlyStopping(string monitor = "val_loss", int patience = 0, double minDelta = 0, bool restoreBestWeights = false,
    MonitorMode mode = MonitorMode.Auto) : MonitorCallback(monitor, mode, minDelta)
{
    private int wait;
    private float[][]? bestWeights;

    /// <summary>The epoch (0-based) training stopped after, or −1.</summary>
    public int StoppedEpoch { get; private set; } = -1;

    public override void OnTrainBegin()
    {
        base.OnTrainBegin();
        wait = 0;
        StoppedEpoch = -1;
        bestWeights = null;
    }

    public override void OnEpochEnd(int epoch, Logs logs)
    {
        if (Improved(logs))
        {
            wait = 0;
            if (restoreBestWeights) bestWeights = Model!.Weights.Select(w => w.Value.ToArray()).ToArray();
            return;
        }
        if (++wait >= patience && epoch > 0)
        {
            StoppedEpoch = epoch;
            Model!.StopTraining = true;
        }
    }

    public override void OnTrainEnd(Logs logs)
    {
        if (bestWeights is null || StoppedEpoch < 0) return;
        foreach (var (w, values) in Model!.Weights.Zip(bestWeights)) values.CopyTo(w.Value.Span);
    }
}

/// <summary>Multiplies the learning rate by <c>factor</c> when the monitored value stalls for <c>patience</c> epochs.</summary>
public sealed class ReduceLROnPlateau(string monitor = "val_loss", float factor = 0.1f, int patience = 10, float minLearningRate = 0,
    double minDelta = 1e-4, MonitorMode mode = MonitorMode.Auto) : MonitorCallback(monitor, mode, minDelta)
{
    private int wait;

    public override void OnEpochEnd(int epoch, Logs logs)
    {
        if (Improved(logs)) { wait = 0; return; }
        if (++wait < patience) return;
        var optimizer = Model!.Optimizer ?? throw new InvalidOperationException("ReduceLROnPlateau needs a compiled model.");
        optimizer.LearningRate = Math.Max(minLearningRate, optimizer.LearningRate * factor);
        wait = 0;
    }
}

/// <summary>The per-epoch values of a <c>Fit</c> run (Keras's <c>History</c>).</summary>
public sealed class History
{
    public Dictionary<string, List<double>> Values { get; } = [];
    public int Epochs => Values.Count == 0 ? 0 : Values.Values.Max(v => v.Count);

    internal void Add(Logs logs)
    {
        foreach (var (key, value) in logs)
        {
            if (!Values.TryGetValue(key, out var list)) Values[key] = list = [];
            list.Add(value);
        }
    }

    /// <summary>The values of <paramref name="key"/>, one per epoch.</summary>
    public IReadOnlyList<double> this[string key] => Values.TryGetValue(key, out var v) ? v : throw new KeyNotFoundException($"History has no '{key}'; it has {string.Join(", ", Values.Keys)}.");
}
