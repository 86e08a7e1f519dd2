using ConvKit.Tensors;

namespace ConvKit.Training;

/// <summary>Keras's <c>fit()</c> arguments.</summary>
public sealed record FitOptions
{
    public int Epochs { get; init; } = 1;
    public int BatchSize { get; init; } = 32;
    /// <summary>Held-out data evaluated after each epoch (logged as <c>val_*</c>).</summary>
    public (Tensor Images, Tensor Labels)? ValidationData { get; init; }
    /// <summary>Shuffle the training samples before each epoch (seeded by <see cref="Seed"/>).</summary>
    public bool Shuffle { get; init; } = true;
    public int Seed { get; init; }
    /// <summary>The epoch to start at (for resuming): epochs before it are skipped, shuffles continue as if they ran.</summary>
    public int InitialEpoch { get; init; }
    public IReadOnlyList<Callback> Callbacks { get; init; } = [];
    /// <summary>Applied to each training batch before the step (augmentation); receives the batch and a seeded random source.</summary>
    public Func<Tensor, RandomSource, Tensor>? Augment { get; init; }
}
