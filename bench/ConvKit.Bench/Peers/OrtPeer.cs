using Microsoft.ML.OnnxRuntime;
using static ConvKit.Bench.Peers.OnnxModelWriter;

namespace ConvKit.Bench.Peers;

/// <summary>
/// ONNX Runtime (CPU execution provider) on one-node models written by <see cref="OnnxModelWriter"/>.
/// ONNX images are NCHW: inputs are transposed from ConvKit's channels-last before timing and outputs
/// transposed back before comparing; the weights are initializers, so ORT may pre-pack them.
/// </summary>
internal static class OrtPeer
{
    public const string Side = "onnxruntime";

    /// <summary>Null when ORT runs, otherwise why not.</summary>
    public static string? Unavailable { get; private set; } = "onnxruntime not started";

    public static string Version { get; private set; } = "unknown";

    private static int threads = 1;

    public static void Start(int threadCount)
    {
        threads = threadCount;
        try
        {
            Version = "Microsoft.ML.OnnxRuntime " + OrtEnv.Instance().GetVersionString();
            Unavailable = null;
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or OnnxRuntimeException or EntryPointNotFoundException)
        {
            Unavailable = $"{e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}";
        }
    }

    /// <summary>C [M, N] = A [M, K] · B [K, N] with a Gemm node; B is an initializer.</summary>
    public static Contender MatMul(float[] a, float[] b, int m, int n, int k) =>
        Create(SingleNodeModel("Gemm", [new Value("a", [m, k])], [new Initializer("b", [k, n], b)], new Value("c", [m, n])),
            a, [m, k], y => y.ToArray());

    /// <summary>Conv (NCHW) of a channels-last input [N, H, W, C] with a Keras kernel [R, S, C, K]; no bias, stride 1.</summary>
    public static Contender Conv2D(float[] input, int n, int h, int w, int c, float[] kernel, int r, int s, int k, int padH, int padW, int groups = 1)
    {
        int p = h + 2 * padH - r + 1, q = w + 2 * padW - s + 1, cg = c / groups;
        var model = SingleNodeModel("Conv",
            [new Value("x", [n, c, h, w])],
            [new Initializer("w", [k, cg, r, s], Layouts.RsckToKcrs(kernel, r, s, cg, k))],
            new Value("y", [n, k, p, q]),
            new OnnxAttribute("kernel_shape", Ints: [r, s]), new OnnxAttribute("pads", Ints: [padH, padW, padH, padW]),
            new OnnxAttribute("strides", Ints: [1, 1]), new OnnxAttribute("dilations", Ints: [1, 1]), new OnnxAttribute("group", Int: groups));
        return Create(model, Layouts.NhwcToNchw(input, n, h, w, c), [n, c, h, w], y => Layouts.NchwToNhwc(y, n, k, p, q));
    }

    /// <summary>MaxPool (NCHW) of a channels-last input, window = stride = <paramref name="pool"/>.</summary>
    public static Contender MaxPool2D(float[] input, int n, int h, int w, int c, int pool)
    {
        int p = h / pool, q = w / pool;
        var model = SingleNodeModel("MaxPool", [new Value("x", [n, c, h, w])], [], new Value("y", [n, c, p, q]),
            new OnnxAttribute("kernel_shape", Ints: [pool, pool]), new OnnxAttribute("strides", Ints: [pool, pool]));
        return Create(model, Layouts.NhwcToNchw(input, n, h, w, c), [n, c, h, w], y => Layouts.NchwToNhwc(y, n, c, p, q));
    }

    /// <summary>
    /// ResNet18 from its ONNX file on the same image in NCHW; Output is the 512 features. With
    /// <paramref name="createEachRun"/> every run creates the session again before the inference (the first-use cost).
    /// </summary>
    public static Contender ResNet18(string path, float[] nhwc, bool createEachRun)
    {
        if (Unavailable is not null) throw new PeerUnavailableException(Unavailable);
        var resources = new NativeResources();
        var options = resources.Add(SessionOptionsForRuns());
        var x = resources.Add(OrtValue.CreateTensorValueFromMemory(Layouts.NhwcToNchw(nhwc, 1, 224, 224, 3), [1, 3, 224, 224]));
        var runOptions = resources.Add(new RunOptions());
        InferenceSession? kept = createEachRun ? null : resources.Add(new InferenceSession(path, options));
        float[]? features = null;
        return new Contender(Side, () =>
        {
            var session = kept ?? new InferenceSession(path, options);
            try
            {
                using var outputs = session.Run(runOptions, [session.InputNames[0]], [x], [session.OutputNames[0]]);
                features = outputs[0].GetTensorDataAsSpan<float>().ToArray();
            }
            finally
            {
                if (kept is null) session.Dispose();
            }
        }, () => features!, resources);
    }

    /// <summary>The session settings of every ONNX Runtime side: the bench's thread count, one operator at a time, all graph optimizations.</summary>
    internal static SessionOptions SessionOptionsForRuns() => new()
    {
        IntraOpNumThreads = threads,
        InterOpNumThreads = 1,
        ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
        GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
    };

    private static Contender Create(byte[] model, float[] input, long[] inputShape, Func<ReadOnlySpan<float>, float[]> toCanonical)
    {
        if (Unavailable is not null) throw new PeerUnavailableException(Unavailable);
        var resources = new NativeResources();
        var options = resources.Add(SessionOptionsForRuns());
        var session = resources.Add(new InferenceSession(model, options));
        var runOptions = resources.Add(new RunOptions());
        var x = resources.Add(OrtValue.CreateTensorValueFromMemory(input, inputShape));
        string inputName = session.InputNames[0], outputName = session.OutputNames[0];
        IDisposableReadOnlyCollection<OrtValue>? outputs = null;
        resources.Add(() => outputs?.Dispose());
        return new Contender(Side,
            () => { outputs?.Dispose(); outputs = session.Run(runOptions, [inputName], [x], [outputName]); },
            () => toCanonical(outputs![0].GetTensorDataAsSpan<float>()),
            resources);
    }
}
