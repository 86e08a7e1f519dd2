using ConvKit.Autograd;
using ConvKit.Tensors;
using ConvKit.Training;

namespace ConvKit.Models;

public partial class Model
{
    public Optimizer? Optimizer { get; private set; }
    public Loss? Loss { get; private set; }
    public IReadOnlyList<string> MetricNames { get; private set; } = [];

    /// <summary>Set by a callback to end <c>Fit</c> after the current epoch.</summary>
    public bool StopTraining { get; set; }

    private static readonly string[] KnownMetrics = ["accuracy", "top_k_accuracy"];

    /// <summary>
    /// Chooses how to train: the optimizer, the loss and the metrics to log (<c>accuracy</c>, <c>top_k_accuracy</c> with k = 5).
    /// </summary>
    public void Compile(Optimizer optimizer, Loss loss, IReadOnlyList<string>? metrics = null)
    {
        foreach (var m in metrics ?? [])
            if (!KnownMetrics.Contains(m)) throw new ArgumentException($"Unknown metric '{m}'; known: {string.Join(", ", KnownMetrics)}.");
        Optimizer = optimizer;
        Loss = loss;
        MetricNames = metrics ?? [];
    }

    /// <summary>
    /// One optimisation step on one batch: forward in training mode, loss, gradients of every trainable weight,
    /// optimizer update. Returns the batch's loss and metrics.
    /// </summary>
    public Logs TrainOnBatch(Tensor images, Tensor labels)
    {
        RequireCompiled();
        if (!Built && this is Sequential s) s.Build(images.Shape.WithBatch(Shape.Unknown));
        var weights = TrainableWeights;
        Tensor predictions, loss;
        Tensor[] gradients;
        long stepStart = Tensor.NextSequence;
        bool outerTape = GradientTape.IsRecording;   // an enclosing tape may still need this step's activations
        var tape = new GradientTape();
        ConvKit.Layers.Dropout.TrainingStep = Optimizer!.Iterations;
        try
        {
            predictions = Call(images, training: true);
            loss = Loss!.Compute(labels, predictions);
            gradients = tape.Gradient(loss, weights.Select(w => w.Value).ToList());
        }
        finally
        {
            tape.Dispose();
            ConvKit.Layers.Dropout.TrainingStep = null;
        }
        Optimizer.Apply(weights, gradients);
        var logs = Measure(labels, predictions, loss.Item());
        // The step's activations and gradients are dead now: their storage serves the next step.
        if (!outerTape)
        {
            tape.DisposeOutputs(stepStart);
            foreach (var g in gradients) if (g.Sequence >= stepStart) g.Dispose();
        }
        return logs;
    }

    /// <summary>Loss and metrics of the model on a data set, in inference mode.</summary>
    public Logs Evaluate(Tensor images, Tensor labels, int batchSize = 32)
    {
        RequireCompiled();
        if (images.Shape[0] != labels.Shape[0])
            throw new ArgumentException($"Evaluate needs one label per image; received images {images.Shape} and labels {labels.Shape}.");
        using var _ = GradientTape.Pause();
        var predictions = Predict(images, batchSize);
        double loss = 0;
        int n = images.Shape[0];
        for (int start = 0; start < n; start += batchSize)
        {
            int count = Math.Min(batchSize, n - start);
            loss += Loss!.Compute(labels.Slice(0, start, count), predictions.Slice(0, start, count)).Item() * count;
        }
        return Measure(labels, predictions, loss / Math.Max(1, n));
    }

    private Logs Measure(Tensor labels, Tensor predictions, double loss)
    {
        var logs = new Logs { ["loss"] = loss };
        foreach (var metric in MetricNames)
            logs[metric] = metric == "accuracy" ? Metrics.Accuracy(labels, predictions) : Metrics.TopKAccuracy(labels, predictions, 5);
        return logs;
    }

    /// <summary>
    /// Trains for <see cref="FitOptions.Epochs"/> epochs over (images, labels) in shuffled batches, evaluating the
    /// validation data after each epoch; returns the per-epoch logs. Deterministic for a given seed and thread count.
    /// </summary>
    public History Fit(Tensor images, Tensor labels, FitOptions? options = null)
    {
        options ??= new FitOptions();
        RequireCompiled();
        int n = images.Shape[0];
        if (labels.Shape[0] != n) throw new ArgumentException($"Fit needs one label per image; received images {images.Shape} and labels {labels.Shape}.");
        if (options.BatchSize <= 0) throw new ArgumentException($"batchSize must be positive; received {options.BatchSize}.");
        var history = new History();
        StopTraining = false;
        foreach (var c in options.Callbacks) { c.Model = this; c.OnTrainBegin(); }
        var last = new Logs();
        int batches = (n + options.BatchSize - 1) / options.BatchSize;
        for (int epoch = options.InitialEpoch; epoch < options.Epochs && !StopTraining; epoch++)
        {
            foreach (var c in options.Callbacks) c.OnEpochBegin(epoch);
            var order = Enumerable.Range(0, n).ToArray();
            if (options.Shuffle) new RandomSource(RandomSource.DeriveSeed(options.Seed, epoch)).Shuffle(order.AsSpan());
            var sums = new Logs();
            int seen = 0;
            for (int b = 0; b < batches; b++)
            {
                int start = b * options.BatchSize, count = Math.Min(options.BatchSize, n - start);
                var gathered = Gather(images, order, start, count);
                var batchLabels = Gather(labels, order, start, count);
                var batchImages = gathered;
                if (options.Augment is { } augment)
                    batchImages = augment(gathered, new RandomSource(RandomSource.DeriveSeed(RandomSource.DeriveSeed(options.Seed, epoch), b)));
                var logs = TrainOnBatch(batchImages, batchLabels);
                // Only what Fit made: an augmentation's own result may be a tensor its author keeps.
                gathered.Dispose();
                batchLabels.Dispose();
                seen += count;
                foreach (var (key, value) in logs) sums[key] = sums.GetValueOrDefault(key) + value * count;
                var running = new Logs();
                foreach (var (key, value) in sums) running[key] = value / seen;
                foreach (var c in options.Callbacks) c.OnBatchEnd(epoch, b, batches, running);
            }
            last = new Logs();
            foreach (var (key, value) in sums) last[key] = value / Math.Max(1, seen);
            if (options.ValidationData is { } validation)
                foreach (var (key, value) in Evaluate(validation.Images, validation.Labels, options.BatchSize)) last["val_" + key] = value;
            history.Add(last);
            foreach (var c in options.Callbacks) c.OnEpochEnd(epoch, last);
        }
        foreach (var c in options.Callbacks) c.OnTrainEnd(last);
        return history;
    }

    /// <summary>Rows <c>order[start .. start + count)</c> of <paramref name="data"/>, copied into one batch.</summary>
    private static Tensor Gather(Tensor data, int[] order, int start, int count)
    {
        int row = data.Size / Math.Max(1, data.Shape[0]);
        var batch = Tensor.Zeros(data.Shape.WithBatch(count));
        var source = data.Span;
        var target = batch.Span;
        for (int i = 0; i < count; i++) source.Slice(order[start + i] * row, row).CopyTo(target.Slice(i * row, row));
        return batch;
    }

    private void RequireCompiled()
    {
        if (Optimizer is null || Loss is null)
            throw new InvalidOperationException($"Model '{Name}' must be compiled before training or evaluation: call Compile(optimizer, loss, metrics).");
    }
}
