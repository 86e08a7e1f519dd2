using System.Text.Json;
using ConvKit.IO;

namespace ConvKit.Cli;

/// <summary>
/// What a <c>convkit train</c> run was asked to do, stored in every checkpoint so <c>--resume</c> continues the same
/// run: the same data, batches, shuffles and learning-rate schedule.
/// </summary>
/// <param name="Model">The built-in model name, or the file training started from.</param>
/// <param name="Optimizer">The optimizer's name, as <c>Optimizer.FromName</c> takes it.</param>
/// <param name="LearningRate">The base learning rate.</param>
/// <param name="Epochs">The epoch count the run aims for.</param>
/// <param name="BatchSize">Images per step.</param>
/// <param name="Seed">Seed of the weights, shuffles, dropout masks and augmentation.</param>
/// <param name="Limit">Train on the first <c>Limit</c> training images only (null: all).</param>
/// <param name="ValidationSplit">The fraction of the training images held out for validation (0: none).</param>
/// <param name="Augment">Random flips and shifts of the training images.</param>
/// <param name="DecaySteps">The cosine decay's length in steps (null: a constant learning rate).</param>
internal sealed record TrainSettings(
    string Model, string Optimizer, float LearningRate, int Epochs, int BatchSize, int Seed,
    int? Limit, double ValidationSplit, bool Augment, long? DecaySteps)
{
    // Every setting must be present, and the strings not null: a checkpoint missing one cannot say how to continue.
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        RespectRequiredConstructorParameters = true,
        RespectNullableAnnotations = true,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>The settings stored in a checkpoint's metadata.</summary>
    public static TrainSettings FromMetadata(IReadOnlyDictionary<string, string> metadata, string path)
    {
        if (!metadata.TryGetValue(MetadataKeys.Train, out var json))
            throw new ConvKitFormatException(path, $"no '{MetadataKeys.Train}' entry: it was not written by 'convkit train', so there is no run to resume");
        TrainSettings settings;
        try
        {
            settings = JsonSerializer.Deserialize<TrainSettings>(json, Json) ?? throw new JsonException("null settings");
        }
        catch (JsonException e)
        {
            throw new ConvKitFormatException(path, $"bad '{MetadataKeys.Train}' entry: {e.Message}", e);
        }
        if (settings.Problem() is { } problem) throw new ConvKitFormatException(path, $"bad '{MetadataKeys.Train}' entry: {problem}");
        return settings;
    }

    /// <summary>What no run could have stored, e.g. <c>batch_size is 0; it must be at least 1</c>; null when the settings are sound.</summary>
    private string? Problem() =>
        Model.Length == 0 ? "model is empty"
        : Optimizer.Length == 0 ? "optimizer is empty"
        : !(LearningRate > 0) || float.IsInfinity(LearningRate) ? $"learning_rate is {LearningRate}; it must be positive and finite"
        : Epochs < 1 ? $"epochs is {Epochs}; it must be at least 1"
        : BatchSize < 1 ? $"batch_size is {BatchSize}; it must be at least 1"
        : Limit is < 1 ? $"limit is {Limit}; it must be at least 1"
        : ValidationSplit is < 0 or >= 1 || double.IsNaN(ValidationSplit) ? $"validation_split is {ValidationSplit}; it must be in [0, 1)"
        : DecaySteps is < 0 ? $"decay_steps is {DecaySteps}; it cannot be negative"
        : null;
}
