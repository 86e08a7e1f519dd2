using ConvKit.Autograd;
using ConvKit.Layers;
using ConvKit.Operations;
using ConvKit.Tensors;
using ConvKit.Training;

namespace ConvKit.Models;

/// <summary>
/// Settings of <see cref="StyleTransfer.Run"/>: which layers' features carry the style and the content, the weights of
/// the three terms of the loss, and the optimisation.
/// </summary>
public sealed record StyleTransferOptions
{
    /// <summary>Layers whose Gram matrices the result should share with the style image (Gatys et al. use five).</summary>
    public required IReadOnlyList<string> StyleLayers { get; init; }

    /// <summary>The layer whose feature maps the result should share with the content image.</summary>
    public required string ContentLayer { get; init; }

    /// <summary>Weight of the style term against the content term (whose weight is 1).</summary>
    public float StyleWeight { get; init; } = 10f;

    /// <summary>Weight of the total variation term, which keeps neighbouring pixels alike (less high-frequency noise).</summary>
    public float TotalVariationWeight { get; init; } = 5f;

    /// <summary>Adam steps on the image.</summary>
    public int Steps { get; init; } = 300;

    /// <summary>Adam's learning rate, in the image's units ([0, 1] per channel).</summary>
    public float LearningRate { get; init; } = 0.02f;

    /// <summary>
    /// The model sees the image times this: 1 for models trained on values in [0, 1], 255 for models trained on bytes
    /// (such as the ResNet18 of Microsoft.ML.DnnImageFeaturizer.ResNet18).
    /// </summary>
    public float InputScale { get; init; } = 1f;
}

/// <summary>The losses after one step of <see cref="StyleTransfer.Run"/> (before that step's update).</summary>
public readonly record struct StyleTransferStep(int Step, float Loss, float ContentLoss, float StyleLoss, float TotalVariationLoss);

/// <summary>
/// Neural style transfer (Gatys, Ecker and Bethge, 2015): an image with the content of one picture and the style of
/// another, found by gradient descent on the image itself through a trained CNN whose weights stay fixed.
/// </summary>
/// <remarks>
/// The loss, with F the content layer's feature maps and G_l = Fᵀ F / (H·W) the Gram matrix of style layer l
/// (<see cref="Ops.GramMatrix"/>), x the image, c the content image and s the style image:
/// <code>
/// L = mean((F(x) − F(c))²) / mean(F(c)²)
///   + StyleWeight / |layers| · Σ_l mean((G_l(x) − G_l(s))²) / mean(G_l(s)²)
///   + TotalVariationWeight · (mean((x[i+1, j] − x[i, j])²) + mean((x[i, j+1] − x[i, j])²))
/// </code>
/// Each feature term is divided by the size of its target, so the weights mean the same for any model and layer (the
/// raw terms of different layers differ by orders of magnitude). The image starts as the content image, takes
/// <see cref="StyleTransferOptions.Steps"/> Adam steps, and is clipped to [0, 1] after each. The model's weights are
/// frozen meanwhile (their packed copies are kept from step to step) and their trainable flags restored afterwards.
/// </remarks>
public static class StyleTransfer
{
    /// <summary>
    /// The stylised image (1, H, W, C), values in [0, 1], for <paramref name="content"/> (1, H, W, C) and
    /// <paramref name="style"/> (1, H', W', C), both in [0, 1] and both of a size <paramref name="model"/> takes.
    /// <paramref name="progress"/> hears of every step.
    /// </summary>
    public static Tensor Run(Model model, Tensor content, Tensor style, StyleTransferOptions options, Action<StyleTransferStep>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(content);
        ArgumentNullException.ThrowIfNull(style);
        ArgumentNullException.ThrowIfNull(options);
        if (content.Shape.Rank != 4 || content.Shape[0] != 1 || style.Shape.Rank != 4 || style.Shape[0] != 1)
            throw new ArgumentException($"Style transfer takes one content image and one style image (1, H, W, C); received {content.Shape} and {style.Shape}.");
        if (options.StyleLayers.Count == 0) throw new ArgumentException("Style transfer needs at least one style layer.");
        if (options.Steps < 0 || !(options.LearningRate > 0) || !(options.StyleWeight >= 0) || !(options.TotalVariationWeight >= 0) || !(options.InputScale > 0))
            throw new ArgumentException($"Style transfer needs steps ≥ 0, a positive learning rate and input scale, and weights ≥ 0; received {options}.");

        string[] names = [.. options.StyleLayers, options.ContentLayer];
        var outputs = new List<SymbolicTensor>();
        foreach (var name in names)
        {
            var layer = model.GetLayer(name);
            if (layer.Output is not { Shape.Rank: 4 } output)
                throw new ArgumentException($"Style transfer reads feature maps (batch, height, width, channels); layer '{name}' outputs {layer.Output?.Shape.ToString() ?? "nothing"}.");
            outputs.Add(output);
        }
        var features = new Model(model.Inputs, outputs, model.Name + "_style_features");
        int styleCount = options.StyleLayers.Count;
        Tensor[] Features(Tensor image) => features.CallAll([Ops.Scale(image, options.InputScale)]);

        var frozen = model.Weights.Where(w => w.Trainable).ToList();
        foreach (var w in frozen) w.Trainable = false;
        try
        {
            Tensor[] styleTargets;
            Tensor contentTarget;
            using (GradientTape.Pause())
            {
                styleTargets = [.. Features(style).Take(styleCount).Select(Ops.GramMatrix)];
                contentTarget = Features(content)[^1];
            }
            float[] styleSizes = [.. styleTargets.Select(MeanSquare)];
            float contentSize = MeanSquare(contentTarget);

            var image = new Variable("style_transfer/image", Tensor.FromArray(content.ToArray(), content.Shape.ToArray()));
            var optimizer = new Adam(options.LearningRate);
            int channels = content.Shape[3];
            var down = Differences(2, 1, channels);
            var right = Differences(1, 2, channels);
            bool outerTape = GradientTape.IsRecording;   // an enclosing tape may still need the steps' tensors
            for (int step = 1; step <= options.Steps; step++)
            {
                Tensor gradient;
                StyleTransferStep losses;
                long stepStart = Tensor.NextSequence;
                var tape = new GradientTape();
                try
                {
                    var maps = Features(image.Value);
                    var contentLoss = Ops.Scale(Ops.Mean(Ops.Square(Ops.Subtract(maps[^1], contentTarget))), 1f / Math.Max(contentSize, float.Epsilon));
                    Tensor? styleLoss = null;
                    for (int l = 0; l < styleCount; l++)
                    {
                        var term = Ops.Scale(Ops.Mean(Ops.Square(Ops.Subtract(Ops.GramMatrix(maps[l]), styleTargets[l]))),
                            options.StyleWeight / styleCount / Math.Max(styleSizes[l], float.Epsilon));
                        styleLoss = styleLoss is null ? term : Ops.Add(styleLoss, term);
                    }
                    var variation = Ops.Scale(
                        Ops.Add(Ops.Mean(Ops.Square(Ops.Conv2D(image.Value, down, groups: channels))),
                                Ops.Mean(Ops.Square(Ops.Conv2D(image.Value, right, groups: channels)))),
                        options.TotalVariationWeight);
                    var loss = Ops.Add(Ops.Add(contentLoss, styleLoss!), variation);
                    losses = new StyleTransferStep(step, Scalar(loss), Scalar(contentLoss), Scalar(styleLoss!), Scalar(variation));
                    gradient = tape.Gradient(loss, [image.Value])[0];
                }
                finally { tape.Dispose(); }
                progress?.Invoke(losses);
                optimizer.Apply([image], [gradient]);
                var pixels = image.Value.Span;
                for (int i = 0; i < pixels.Length; i++) pixels[i] = Math.Clamp(pixels[i], 0f, 1f);
                // The step's feature maps and gradients are dead now: their storage serves the next step (as in TrainOnBatch).
                if (!outerTape)
                {
                    tape.DisposeOutputs(stepStart);
                    if (gradient.Sequence >= stepStart) gradient.Dispose();
                }
            }
            return image.Value;
        }
        finally
        {
            foreach (var w in frozen) w.Trainable = true;
        }
    }

    /// <summary>
    /// Layers for a model whose maps shrink as they go (VGG, ResNet): for each of the first four map sizes its layers
    /// reach, in the order of the layers, the last layer with maps of that size is a style layer (ResNet18: the ReLUs that end its stem and its first three
    /// stages), and the third of them (the last one when there are fewer) the content layer. Gatys et al. took VGG's
    /// first convolution of each of five stages for the style and one of the fourth stage for the content.
    /// </summary>
    public static (IReadOnlyList<string> StyleLayers, string ContentLayer) DefaultLayers(Model model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var lastOfSize = new List<(int Height, int Width, string Name)>();
        foreach (var layer in model.Layers)
        {
            if (layer is InputLayer || layer.Output is not { Shape.Rank: 4 } output) continue;
            int height = output.Shape[1], width = output.Shape[2];
            int index = lastOfSize.FindIndex(m => m.Height == height && m.Width == width);
            if (index >= 0) lastOfSize[index] = (height, width, layer.Name);
            else lastOfSize.Add((height, width, layer.Name));
        }
        if (lastOfSize.Count == 0) throw new ArgumentException($"Model '{model.Name}' has no layer with feature maps (batch, height, width, channels) to transfer a style with.");
        var style = lastOfSize.Take(4).Select(m => m.Name).ToList();
        return (style, style[Math.Min(2, style.Count - 1)]);
    }

    /// <summary>
    /// A depthwise kernel (R, S, 1, C) of −1 then +1 along one axis: R = 2 gives x[i+1, j] − x[i, j], S = 2 gives
    /// x[i, j+1] − x[i, j], per channel.
    /// </summary>
    private static Tensor Differences(int rows, int columns, int channels)
    {
        var kernel = Tensor.Zeros(rows, columns, 1, channels);
        for (int c = 0; c < channels; c++)
        {
            kernel.Span[c] = -1f;
            kernel.Span[channels + c] = 1f;
        }
        return kernel;
    }

    private static float MeanSquare(Tensor t)
    {
        double sum = 0;
        foreach (float v in t.Span) sum += (double)v * v;
        return (float)(sum / t.Shape.Size);
    }

    private static float Scalar(Tensor t) => t.Span[0];
}
