using ConvKit.Operations;
using ConvKit.Tensors;

namespace ConvKit.Layers;

/// <summary>
/// Normalizes each channel (the last axis): y = γ · (x − μ) / √(σ² + ε) + β.
/// In training μ, σ² are the batch's mean and (biased) variance and the moving statistics follow them:
/// moving = moving · momentum + batch · (1 − momentum). At inference the moving statistics are used.
/// </summary>
/// <remarks>
/// Weights, in Keras's order: gamma (C,), beta (C,) trainable; moving_mean (C,), moving_variance (C,) not trainable,
/// so a layer on C channels has 4·C parameters of which 2·C are trainable. Defaults: momentum 0.99, epsilon 1e-3.
/// </remarks>
public sealed class BatchNormalization : Layer
{
    public BatchNormalization(float momentum = 0.99f, float epsilon = 1e-3f, bool center = true, bool scale = true, string? name = null)
        : base(name)
    {
        if (momentum is < 0 or > 1) throw new ArgumentException($"BatchNormalization: momentum must be in [0, 1]. Received: momentum={momentum}");
        if (epsilon <= 0) throw new ArgumentException($"BatchNormalization: epsilon must be positive. Received: epsilon={epsilon}");
        Momentum = momentum;
        Epsilon = epsilon;
        Center = center;
        Scale = scale;
    }

    public float Momentum { get; }
    public float Epsilon { get; }
    public bool Center { get; }
    public bool Scale { get; }
    public Variable? Gamma { get; private set; }
    public Variable? Beta { get; private set; }
    public Variable? MovingMean { get; private set; }
    public Variable? MovingVariance { get; private set; }

    protected override void ValidateInput(Shape inputShape)
    {
        if (inputShape.Rank < 2 || inputShape[-1] == Shape.Unknown)
            throw new ArgumentException($"BatchNormalization '{Name}' needs input (batch, ..., channels) with known channels; received {inputShape}.");
    }

    protected override void BuildCore(Shape inputShape)
    {
        var shape = new Shape(inputShape[-1]);
        if (Scale) Gamma = AddWeight("gamma", shape, Initializer.Ones);
        if (Center) Beta = AddWeight("beta", shape, Initializer.Zeros);
        MovingMean = AddWeight("moving_mean", shape, Initializer.Zeros, trainable: false);
        MovingVariance = AddWeight("moving_variance", shape, Initializer.Ones, trainable: false);
    }

    public override Shape ComputeOutputShape(Shape inputShape) => inputShape;

    protected override Tensor CallCore(Tensor input, bool training) => Run(input, training, relu: false);

    /// <summary>This layer and the ReLU after it as one op: the same bits, one pass over memory fewer each way.</summary>
    private protected override Tensor? CallWithReluCore(Tensor input, bool training) => Run(input, training, relu: true);

    private Tensor Run(Tensor input, bool training, bool relu)
    {
        if (input.Shape[-1] != MovingMean!.Shape[0])
            throw new ArgumentException($"BatchNormalization '{Name}' expects {MovingMean.Shape[0]} channels; received input {input.Shape}.");
        var (output, mean, variance) = BatchNormOp.Forward(input, Gamma?.Value, Beta?.Value, MovingMean.Value, MovingVariance!.Value, Epsilon, training, relu);
        if (training)
        {
            var mm = MovingMean.Value.Span;
            var mv = MovingVariance.Value.Span;
            for (int c = 0; c < mm.Length; c++)
            {
                mm[c] = mm[c] * Momentum + mean[c] * (1 - Momentum);
                mv[c] = mv[c] * Momentum + variance[c] * (1 - Momentum);
            }
        }
        return output;
    }

    /// <summary>
    /// At inference y = x·scale + shift per channel, with scale = γ / √(σ² + ε) and shift = β − μ·scale from the moving
    /// statistics: what a convolution before it folds into its epilogue. Null before the layer is built.
    /// </summary>
    internal (float[] Scale, float[] Shift)? InferenceAffine()
    {
        if (!Built) return null;
        var mean = MovingMean!.Value.Span;
        var variance = MovingVariance!.Value.Span;
        var scale = new float[mean.Length];
        var shift = new float[mean.Length];
        for (int c = 0; c < scale.Length; c++)
        {
            // 1 / √(σ² + ε) as the op computes it, then γ.
            scale[c] = 1f / MathF.Sqrt(variance[c] + Epsilon) * (Gamma is null ? 1f : Gamma.Value.Span[c]);
            shift[c] = (Beta is null ? 0f : Beta.Value.Span[c]) - mean[c] * scale[c];
        }
        return (scale, shift);
    }

    public override IReadOnlyDictionary<string, object?> GetConfig() => new Dictionary<string, object?>(base.GetConfig())
    {
        ["axis"] = -1,
        ["momentum"] = Momentum,
        ["epsilon"] = Epsilon,
        ["center"] = Center,
        ["scale"] = Scale,
    };
}
