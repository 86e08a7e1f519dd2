using ConvKit.Kernels;
using ConvKit.Layers;
using ConvKit.Models;
using ConvKit.Tensors;

namespace ConvKit.Tests.Models;

public class StyleTransferTests
{
    /// <summary>Three ReLU convolutions on 16×16 RGB, each of the last two after a 2×2 max pooling, then a classifier.</summary>
    private static Sequential Network()
    {
        RandomSource.SetGlobalSeed(21);
        return new Sequential(
            new Input(16, 16, 3),
            new Conv2D(8, 3, padding: Padding.Same, activation: Activation.Relu, name: "c1"),
            new MaxPool2D(2, name: "p1"),
            new Conv2D(16, 3, padding: Padding.Same, activation: Activation.Relu, name: "c2"),
            new MaxPool2D(2, name: "p2"),
            new Conv2D(16, 3, padding: Padding.Same, activation: Activation.Relu, name: "c3"),
            new Flatten(name: "flat"),
            new Dense(10, name: "logits"));
    }

    /// <summary>Vertical stripes two pixels wide in two colours: a style unlike random noise.</summary>
    private static Tensor Stripes()
    {
        var image = Tensor.Zeros(1, 16, 16, 3);
        for (int y = 0; y < 16; y++)
            for (int x = 0; x < 16; x++)
            {
                bool on = x / 2 % 2 == 0;
                image.Span[(y * 16 + x) * 3] = on ? 0.9f : 0.1f;
                image.Span[(y * 16 + x) * 3 + 2] = on ? 0.2f : 0.8f;
            }
        return image;
    }

    private static readonly StyleTransferOptions Layers = new() { StyleLayers = ["c1", "c2"], ContentLayer = "c3" };

    [Fact]
    public void Run_LowersTheStyleLoss_KeepsTheImageInRange_AndLeavesTheModelAsItWas()
    {
        var model = Network();
        var weights = model.Weights.Select(w => w.Value.ToArray()).ToList();
        var content = Tensor.RandomUniform(new Shape(1, 16, 16, 3), seed: 1);
        var steps = new List<StyleTransferStep>();

        var result = StyleTransfer.Run(model, content, Stripes(), Layers with { Steps = 60, LearningRate = 0.05f }, steps.Add);

        Assert.Equal(new Shape(1, 16, 16, 3), result.Shape);
        Assert.Equal(Enumerable.Range(1, 60), steps.Select(s => s.Step));
        Assert.Equal(0f, steps[0].ContentLoss);                                 // it starts as the content image
        Assert.True(steps[^1].StyleLoss < 0.3f * steps[0].StyleLoss, $"style loss {steps[0].StyleLoss} → {steps[^1].StyleLoss}");
        Assert.True(steps[^1].Loss < steps[0].Loss);
        Assert.All(steps, s => Assert.Equal(s.ContentLoss + s.StyleLoss + s.TotalVariationLoss, s.Loss, 5));
        Assert.All(result.ToArray(), v => Assert.InRange(v, 0f, 1f));
        Assert.NotEqual(content.ToArray(), result.ToArray());
        Assert.Equal(weights, model.Weights.Select(w => w.Value.ToArray()).ToList());
        Assert.All(model.TrainableWeights, w => Assert.True(w.Trainable));
        Assert.Equal(model.Weights.Count, model.TrainableWeights.Count);         // none left frozen
    }

    [Fact]
    public void WithoutStyleAndSmoothing_TheContentImageStaysExactlyWhereItIs()
    {
        var content = Tensor.RandomUniform(new Shape(1, 16, 16, 3), seed: 4);
        var steps = new List<StyleTransferStep>();

        var result = StyleTransfer.Run(Network(), content, Stripes(), Layers with { Steps = 5, StyleWeight = 0, TotalVariationWeight = 0 }, steps.Add);

        Assert.Equal(content.ToArray(), result.ToArray());                       // zero loss, zero gradient, no step
        Assert.All(steps, s => Assert.Equal(0f, s.Loss));
    }

    [Fact]
    public void TheVariationTerm_IsTheMeanSquareOfNeighbourDifferences()
    {
        // A grey image with one bright pixel on its top edge, at (0, 7) in channel 1: three differences of δ, one down
        // (there is no row above) and two across.
        var image = Tensor.Zeros(1, 16, 16, 3);
        image.Span.Fill(0.5f);
        const float delta = 0.25f;
        image.Span[7 * 3 + 1] += delta;
        var steps = new List<StyleTransferStep>();

        StyleTransfer.Run(Network(), image, image, Layers with { Steps = 1, StyleWeight = 0, TotalVariationWeight = 3f }, steps.Add);

        float expected = 3f * (delta * delta / (15 * 16 * 3) + 2 * delta * delta / (16 * 15 * 3));
        Assert.Equal(expected, steps.Single().TotalVariationLoss, 6);
        Assert.Equal(0f, steps.Single().ContentLoss);
        Assert.Equal(0f, steps.Single().StyleLoss);                              // the style image is the content image
    }

    [Fact]
    public void DefaultLayers_TakeTheLastLayerOfEachMapSize()
    {
        var (style, content) = StyleTransfer.DefaultLayers(Network());

        Assert.Equal(["c1", "c2", "c3"], style);                                 // 16×16: c1; 8×8: p1, c2; 4×4: p2, c3
        Assert.Equal("c3", content);
    }

    [Fact]
    public void BadLayersAndImages_AreRefusedByName()
    {
        var model = Network();
        var image = Tensor.RandomUniform(new Shape(1, 16, 16, 3), seed: 2);

        var unknown = Assert.Throws<ArgumentException>(() => StyleTransfer.Run(model, image, image, Layers with { ContentLayer = "c9" }));
        Assert.Contains("'c9'", unknown.Message);
        var dense = Assert.Throws<ArgumentException>(() => StyleTransfer.Run(model, image, image, Layers with { StyleLayers = ["logits"] }));
        Assert.Contains("layer 'logits' outputs (None, 10)", dense.Message);
        var batch = Assert.Throws<ArgumentException>(() => StyleTransfer.Run(model, Tensor.Zeros(2, 16, 16, 3), image, Layers));
        Assert.Contains("(2, 16, 16, 3)", batch.Message);
        Assert.Throws<ArgumentException>(() => StyleTransfer.Run(model, image, image, Layers with { StyleLayers = [] }));
        Assert.Throws<ArgumentException>(() => StyleTransfer.Run(model, image, image, Layers with { LearningRate = 0 }));
    }
}
