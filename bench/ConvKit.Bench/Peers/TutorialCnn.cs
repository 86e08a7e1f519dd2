using ConvKit.Tensors;
using TorchSharp;
using Tensor = ConvKit.Tensors.Tensor;
using TorchParameter = TorchSharp.Modules.Parameter;
using TorchTensor = TorchSharp.torch.Tensor;
using static TorchSharp.torch.nn;

namespace ConvKit.Bench.Peers;

/// <summary>
/// The CNN of TensorFlow's MNIST layers tutorial, on 28×28×1 images (the Fashion-MNIST README's
/// "2 Conv+pooling" row): Conv2D(32, 5, same, relu) → MaxPool2D(2) → Conv2D(64, 5, same, relu) →
/// MaxPool2D(2) → Flatten → Dense(1024, relu) → Dropout(0.4) → Dense(10) logits; sparse categorical
/// cross-entropy from logits, Adam(1e-3, ε = 1e-7 as Keras). Every side starts from the same
/// Glorot-uniform weights (zero biases), generated here in Keras layout, and the same batch.
/// </summary>
internal static class TutorialCnn
{
    public const int Height = 28, Width = 28, Classes = 10;
    public const float DropoutRate = 0.4f, LearningRate = 1e-3f, AdamEpsilon = 1e-7f;

    /// <summary>Keras-layout weights and one batch of images [N, 28, 28, 1] with integer labels.</summary>
    public sealed record Setup(int Batch, Tensor Images, int[] Labels,
        Tensor Conv1Kernel, Tensor Conv1Bias,     // (5, 5, 1, 32), (32,)
        Tensor Conv2Kernel, Tensor Conv2Bias,     // (5, 5, 32, 64), (64,)
        Tensor Dense1Kernel, Tensor Dense1Bias,   // (3136, 1024), (1024,)  — 3136 = 7·7·64 in channels-last flatten order
        Tensor Dense2Kernel, Tensor Dense2Bias);  // (1024, 10), (10,)

    public static Setup Create(int batch, int seed)
    {
        var random = new Random(seed);
        var labels = new int[batch];
        for (int i = 0; i < batch; i++) labels[i] = random.Next(Classes);
        return new Setup(batch,
            Tensor.RandomUniform(new Shape(batch, Height, Width, 1), 0f, 1f, seed),
            labels,
            Glorot([5, 5, 1, 32], 5 * 5 * 1, 5 * 5 * 32, seed + 1), Tensor.Zeros(32),
            Glorot([5, 5, 32, 64], 5 * 5 * 32, 5 * 5 * 64, seed + 2), Tensor.Zeros(64),
            Glorot([3136, 1024], 3136, 1024, seed + 3), Tensor.Zeros(1024),
            Glorot([1024, Classes], 1024, Classes, seed + 4), Tensor.Zeros(Classes));
    }

    /// <summary>glorot_uniform: U(−l, l) with l = √(6 / (fan_in + fan_out)).</summary>
    private static Tensor Glorot(int[] shape, int fanIn, int fanOut, int seed)
    {
        float limit = MathF.Sqrt(6f / (fanIn + fanOut));
        return Tensor.RandomUniform(new Shape(shape), -limit, limit, seed);
    }

    /// <summary>Multiply-adds × 2 of one image's forward pass.</summary>
    public static double ForwardFlopsPerImage =>
        2.0 * (28 * 28 * 32 * 25 * 1 + 14 * 14 * 64 * 25 * 32 + 3136 * 1024 + 1024 * Classes);

    /// <summary>One step costs about 3× the forward pass (forward, gradient of inputs, gradient of weights).</summary>
    public static double TrainFlopsPerImage => 3 * ForwardFlopsPerImage;

    /// <summary>torch's side of the train step: Run is one Adam step; Output is [loss of the first step], run without dropout.</summary>
    public static Contender TorchTrainStep(Setup setup)
    {
        var model = new TorchModel(setup);
        var optimizer = model.Resources.Add(torch.optim.Adam(model.Parameters, LearningRate, 0.9, 0.999, AdamEpsilon));
        var labels = model.Resources.Add(torch.tensor(setup.Labels.Select(l => (long)l).ToArray(), [setup.Batch]));
        float? firstLoss = null;
        return new Contender(TorchPeer.Side, () =>
        {
            using var scope = torch.NewDisposeScope();
            optimizer.zero_grad();
            var logits = model.Forward(training: firstLoss is not null);
            var loss = functional.cross_entropy(logits, labels);
            loss.backward();
            optimizer.step();
            firstLoss ??= loss.item<float>();
        }, () => [firstLoss ?? float.NaN], model.Resources);
    }

    /// <summary>torch's side of inference: Run computes the logits without gradients; Output is the logits [N, 10].</summary>
    public static Contender TorchInference(Setup setup)
    {
        var model = new TorchModel(setup);
        TorchTensor? logits = null;
        model.Resources.Add(() => logits?.Dispose());
        return new Contender(TorchPeer.Side, () =>
        {
            using var noGrad = torch.no_grad();
            logits?.Dispose();
            using var scope = torch.NewDisposeScope();
            logits = model.Forward(training: false).MoveToOuterDisposeScope();
        }, () => logits!.data<float>().ToArray(), model.Resources);
    }

    /// <summary>The tutorial CNN written with torch.functional on parameters converted from the Keras-layout weights.</summary>
    private sealed class TorchModel
    {
        private readonly TorchTensor images;
        private readonly TorchParameter w1, b1, w2, b2, w3, b3, w4, b4;

        public NativeResources Resources { get; } = new();
        public TorchParameter[] Parameters => [w1, b1, w2, b2, w3, b3, w4, b4];

        public TorchModel(Setup s)
        {
            if (TorchPeer.Unavailable is not null) throw new PeerUnavailableException(TorchPeer.Unavailable);
            images = Resources.Add(Resources.Add(torch.tensor(s.Images.ToArray(), [s.Batch, Height, Width, 1])).permute(0, 3, 1, 2).contiguous());
            w1 = Parameter(Layouts.RsckToKcrs(s.Conv1Kernel.Span, 5, 5, 1, 32), [32, 1, 5, 5]);
            b1 = Parameter(s.Conv1Bias.ToArray(), [32]);
            w2 = Parameter(Layouts.RsckToKcrs(s.Conv2Kernel.Span, 5, 5, 32, 64), [64, 32, 5, 5]);
            b2 = Parameter(s.Conv2Bias.ToArray(), [64]);
            w3 = Parameter(Layouts.Transpose(s.Dense1Kernel.Span, 3136, 1024), [1024, 3136]);
            b3 = Parameter(s.Dense1Bias.ToArray(), [1024]);
            w4 = Parameter(Layouts.Transpose(s.Dense2Kernel.Span, 1024, Classes), [Classes, 1024]);
            b4 = Parameter(s.Dense2Bias.ToArray(), [Classes]);
        }

        private TorchParameter Parameter(float[] values, long[] shape) =>
            Resources.Add(new TorchParameter(Resources.Add(torch.tensor(values, shape)), requires_grad: true));

        /// <summary>Logits [N, 10]; the flatten goes through channels-last order so the dense weights mean what Keras's do.</summary>
        public TorchTensor Forward(bool training)
        {
            var x = functional.relu(functional.conv2d(images, w1, b1, [1, 1], [2, 2], [1, 1], 1));
            x = functional.max_pool2d(x, [2, 2], [2, 2], [0, 0], [1, 1], false);
            x = functional.relu(functional.conv2d(x, w2, b2, [1, 1], [2, 2], [1, 1], 1));
            x = functional.max_pool2d(x, [2, 2], [2, 2], [0, 0], [1, 1], false);
            x = x.permute(0, 2, 3, 1).flatten(1);
            x = functional.relu(functional.linear(x, w3, b3));
            x = functional.dropout(x, DropoutRate, training, false);
            return functional.linear(x, w4, b4);
        }
    }
}
