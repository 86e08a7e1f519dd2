using ConvKit.Operations;
using ConvKit.Tensors;

namespace ConvKit.Layers;

/// <summary>
/// In training, zeroes each value with probability <c>rate</c> and scales the others by 1/(1 − rate);
/// at inference it passes the input through unchanged. Shape unchanged.
/// </summary>
public sealed class Dropout : Layer
{
    private readonly int streamSeed;
    private long calls;

    /// <summary>
    /// Set by <c>TrainOnBatch</c> to the optimizer's step count, so each step's masks depend only on the seed and the
    /// step — a resumed run draws the same masks as an uninterrupted one.
    /// </summary>
    [ThreadStatic] internal static long? TrainingStep;

    public Dropout(float rate, int? seed = null, string? name = null) : base(name)
    {
        if (rate is < 0 or > 1 || float.IsNaN(rate))
            throw new ArgumentException($"Dropout: the rate must be a number in [0, 1]. Received: rate={rate}");
        Rate = rate;
        Seed = seed;
        streamSeed = seed ?? RandomSource.NextGlobalSeed();
    }

    public float Rate { get; }
    public int? Seed { get; }

    public override Shape ComputeOutputShape(Shape inputShape) => inputShape;

    protected override Tensor CallCore(Tensor input, bool training)
    {
        if (!training || Rate == 0) return input;
        if (Rate == 1) return Ops.Scale(input, 0f);
        long step = TrainingStep ?? Interlocked.Increment(ref calls);
        return Ops.Dropout(input, Rate, new RandomSource(RandomSource.DeriveSeed(streamSeed, step)));
    }

    public override IReadOnlyDictionary<string, object?> GetConfig() =>
        new Dictionary<string, object?>(base.GetConfig()) { ["rate"] = Rate, ["seed"] = streamSeed }; // the drawn seed, so a reloaded model drops the same units
}
