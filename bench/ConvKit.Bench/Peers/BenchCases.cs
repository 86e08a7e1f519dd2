using ConvKit.Kernels;
using ConvKit.Tensors;

namespace ConvKit.Bench.Peers;

/// <summary>
/// One side-by-side case: <c>Id</c> names it for <c>--only</c> and the JSON; <c>Flops</c> is one run's
/// floating-point work (multiply-adds × 2) where meaningful, <c>Bytes</c> the memory it reads and writes for
/// memory-bound cases; a peer agrees when max|peer − convkit| / max(1, max|convkit|) ≤ <c>Tolerance</c>.
/// <c>Prepare</c> makes the inputs and the side factories, and is called only when the case runs, so its
/// memory is held only then.
/// </summary>
internal sealed record BenchCase(string Id, string Title, double? Flops, double? Bytes, double Tolerance, Func<CaseSides> Prepare);

/// <summary>The factories of a case's sides. A factory returning null means "not implemented yet"; one throwing <see cref="PeerUnavailableException"/> means the peer cannot run here.</summary>
internal sealed record CaseSides(Func<Contender?> ConvKit, IReadOnlyList<Func<Contender?>> Peers, IReadOnlyList<string> PeerNames);

/// <summary>The cases of <c>peers</c>, in the order they run.</summary>
internal static class BenchCases
{
    public static IReadOnlyList<BenchCase> All() =>
    [
        Gemm(1024),
        Gemm(2048),
        SeedConv(16),
        SeedConv(1),
        ResNetConv(),
        SmallMapsConv(),
        DepthwiseConv(),
        MaxPool(),
        TrainStep(),
        Inference(),
        ResNet18Load(),
        ResNet18Inference(),
    ];

    /// <summary>Where the ResNet18 package's ONNX file was restored (set by the project file).</summary>
    internal static string ResNet18Path => typeof(BenchCases).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
        .Cast<System.Reflection.AssemblyMetadataAttribute>().First(a => a.Key == "ResNet18OnnxPath").Value!;

    /// <summary>ResNet18 (224×224×3, 1.8 GFLOP) from its ONNX file: import (or session creation) plus the first inference.</summary>
    private static BenchCase ResNet18Load() => new("resnet18-load", "ResNet18 import + first inference", null, null, 1e-4, () =>
    {
        var input = Tensor.RandomUniform(new Shape(1, 224, 224, 3), seed: 8);
        float[] x = input.ToArray();
        return new CaseSides(() => ConvKitSide.ResNet18(ResNet18Path, input, loadEachRun: true),
            [() => OrtPeer.ResNet18(ResNet18Path, x, createEachRun: true)], [OrtPeer.Side]);
    });

    /// <summary>ResNet18 steady-state latency, batch 1 (the model loaded once).</summary>
    private static BenchCase ResNet18Inference() => new("resnet18", "ResNet18 inference, batch 1", ResNet18Flops, null, 1e-4, () =>
    {
        var input = Tensor.RandomUniform(new Shape(1, 224, 224, 3), seed: 8);
        float[] x = input.ToArray();
        return new CaseSides(() => ConvKitSide.ResNet18(ResNet18Path, input, loadEachRun: false),
            [() => OrtPeer.ResNet18(ResNet18Path, x, createEachRun: false)], [OrtPeer.Side]);
    });

    /// <summary>ResNet18's multiply-adds × 2 at 224×224 (1.82 G multiply-adds, the published figure).</summary>
    private const double ResNet18Flops = 2 * 1.82e9;

    /// <summary>SGEMM C = A·B, all n×n, random normal.</summary>
    private static BenchCase Gemm(int size) => new($"gemm-{size}", $"SGEMM {size}³", 2.0 * size * size * size, null, 1e-4, () =>
    {
        var a = Tensor.RandomNormal(new Shape(size, size), seed: 1);
        var b = Tensor.RandomNormal(new Shape(size, size), seed: 2);
        float[] aa = a.ToArray(), bb = b.ToArray();
        return new CaseSides(
            () => ConvKitSide.MatMul(a, b, size, size, size),
            [() => TorchPeer.MatMul(aa, bb, size, size, size), () => OrtPeer.MatMul(aa, bb, size, size, size)],
            [TorchPeer.Side, OrtPeer.Side]);
    });

    /// <summary>The seed walkthrough's layer: (1, 1920, 1080, 3) → filters 5×5 valid, no bias.</summary>
    private static BenchCase SeedConv(int filters) => Conv($"conv-seed-{filters}",
        $"Conv2D (1,1920,1080,3) → {filters} × 5×5 valid", 1, 1920, 1080, 3, filters, 5, Padding.Valid);

    /// <summary>A ResNet stage-2 convolution: batch 32, 56×56, 64 → 64, 3×3 same.</summary>
    private static BenchCase ResNetConv() => Conv("conv-resnet", "Conv2D (32,56,56,64) → 64 × 3×3 same", 32, 56, 56, 64, 64, 3, Padding.Same);

    /// <summary>The last stage of a VGG for 32×32 images: batch 128, 4×4 maps, 512 → 512, 3×3 same (16 pixels an image).</summary>
    private static BenchCase SmallMapsConv() =>
        Conv("conv-small-maps", "Conv2D (128,4,4,512) → 512 × 3×3 same", 128, 4, 4, 512, 512, 3, Padding.Same);

    /// <summary>A MobileNetV2 depthwise convolution: batch 8, 56×56, 144 channels, 3×3 same, a group per channel.</summary>
    private static BenchCase DepthwiseConv() =>
        Conv("conv-depthwise", "Depthwise Conv2D (8,56,56,144) 3×3 same", 8, 56, 56, 144, 144, 3, Padding.Same, groups: 144);

    private static BenchCase Conv(string id, string title, int n, int h, int w, int c, int k, int r, Padding padding, int groups = 1)
    {
        var g = ConvGeometry.Create(n, h, w, c, k, r, r, 1, 1, 1, 1, padding, groups);
        return new BenchCase(id, title, g.Flops, null, 1e-4, () =>
        {
            var input = Tensor.RandomNormal(new Shape(n, h, w, c), seed: 3);
            var kernel = Tensor.RandomNormal(new Shape(r, r, c / groups, k), stddev: 0.1f, seed: 4);
            float[] x = input.ToArray(), wk = kernel.ToArray();
            return new CaseSides(
                () => ConvKitSide.Conv2D(input, kernel, padding, groups),
                [() => OrtPeer.Conv2D(x, n, h, w, c, wk, r, r, k, g.PadTop, g.PadLeft, groups),
                 () => TorchPeer.Conv2D(x, n, h, w, c, wk, r, r, k, g.PadTop, g.PadLeft, groups)],
                [OrtPeer.Side, TorchPeer.Side]);
        });
    }

    /// <summary>MaxPool2D 2×2 on the seed conv's output shape (1, 1916, 1076, 16); memory-bound, so GB/s.</summary>
    private static BenchCase MaxPool()
    {
        const int n = 1, h = 1916, w = 1076, c = 16;
        double bytes = 4.0 * (n * h * w * c + n * (h / 2) * (w / 2) * c);
        return new BenchCase("maxpool", "MaxPool2D 2×2 on (1,1916,1076,16)", null, bytes, 0, () =>
        {
            var input = Tensor.RandomNormal(new Shape(n, h, w, c), seed: 5);
            float[] x = input.ToArray();
            return new CaseSides(
                () => ConvKitSide.MaxPool2D(input, 2),
                [() => OrtPeer.MaxPool2D(x, n, h, w, c, 2), () => TorchPeer.MaxPool2D(x, n, h, w, c, 2)],
                [OrtPeer.Side, TorchPeer.Side]);
        });
    }

    /// <summary>One Adam step of the tutorial CNN, batch 100; the check compares the first step's loss (run without dropout).</summary>
    private static BenchCase TrainStep()
    {
        const int batch = 100;
        return new BenchCase("cnn-train", $"Tutorial CNN train step, batch {batch}, Adam", batch * TutorialCnn.TrainFlopsPerImage, null, 1e-4, () =>
        {
            var setup = TutorialCnn.Create(batch, seed: 6);
            return new CaseSides(() => ConvKitSide.TutorialTrainStep(setup), [() => TutorialCnn.TorchTrainStep(setup)], [TorchPeer.Side]);
        });
    }

    /// <summary>Tutorial CNN inference (logits), batch 1000.</summary>
    private static BenchCase Inference()
    {
        const int batch = 1000;
        return new BenchCase("cnn-infer", $"Tutorial CNN inference, batch {batch}", batch * TutorialCnn.ForwardFlopsPerImage, null, 1e-4, () =>
        {
            var setup = TutorialCnn.Create(batch, seed: 7);
            return new CaseSides(() => ConvKitSide.TutorialInference(setup), [() => TutorialCnn.TorchInference(setup)], [TorchPeer.Side]);
        });
    }
}
