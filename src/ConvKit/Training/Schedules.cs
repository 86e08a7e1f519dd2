namespace ConvKit.Training;

/// <summary>The learning rate as a function of the optimizer's step count.</summary>
public abstract class LearningRateSchedule
{
    /// <summary>The rate for step <paramref name="step"/> (0-based) given the optimizer's base rate.</summary>
    public abstract float Rate(float baseRate, long step);
}

/// <summary>Step decay: the rate is multiplied by <c>factor</c> every <c>stepSize</c> steps (Keras's staircase ExponentialDecay).</summary>
public sealed class StepDecay(long stepSize, float factor) : LearningRateSchedule
{
    public long StepSize { get; } = stepSize > 0 ? stepSize : throw new ArgumentException($"stepSize must be positive; received {stepSize}.");
    public float Factor { get; } = factor;
    public override float Rate(float baseRate, long step) => baseRate * MathF.Pow(Factor, step / StepSize);
}

/// <summary>
/// Cosine decay (Loshchilov &amp; Hutter): rate = base · (α + (1 − α) · ½(1 + cos(π · min(step, T)/T))), with optional linear warm-up.
/// </summary>
public sealed class CosineDecay(long decaySteps, float alpha = 0f, long warmupSteps = 0) : LearningRateSchedule
{
    public long DecaySteps { get; } = decaySteps > 0 ? decaySteps : throw new ArgumentException($"decaySteps must be positive; received {decaySteps}.");
    public float Alpha { get; } = alpha;
    public long WarmupSteps { get; } = warmupSteps;

    public override float Rate(float baseRate, long step)
    {
        if (step < WarmupSteps) return baseRate * (step + 1) / WarmupSteps;
        double t = Math.Min(step - WarmupSteps, DecaySteps) / (double)DecaySteps;
        return (float)(baseRate * (Alpha + (1 - Alpha) * 0.5 * (1 + Math.Cos(Math.PI * t))));
    }
}
