using System.Reflection;
using TorchSharp;
using static TorchSharp.torch;

namespace ConvKit.Bench.Peers;

/// <summary>
/// libtorch through TorchSharp. Images are handed to torch channels-last: an [N, H, W, C] buffer viewed as
/// NCHW through <c>permute(0, 3, 1, 2)</c> has exactly <c>memory_format=channels_last</c> strides, which is
/// how libtorch picks its channels-last (oneDNN) convolution and pooling; weights are laid out [K, R, S, C]
/// and viewed the same way.
/// </summary>
internal static class TorchPeer
{
    public const string Side = "torch";

    /// <summary>Null when torch runs, otherwise why not (set once by <see cref="Start"/>).</summary>
    public static string? Unavailable { get; private set; } = "torch not started";

    /// <summary>TorchSharp's package version and, when torch has started, libtorch's.</summary>
    public static string Version
    {
        get
        {
            string sharp = $"TorchSharp {typeof(torch).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]}";
            return Unavailable is null ? $"{sharp}, libtorch {torch.__version__}" : sharp;
        }
    }

    public static void Start(int threads)
    {
        Unavailable = Native.TorchLoader.TryStart();
        if (Unavailable is null)
        {
            torch.set_num_threads(threads);
            torch.manual_seed(0);
        }
    }

    private static void EnsureAvailable()
    {
        if (Unavailable is not null) throw new PeerUnavailableException(Unavailable);
    }

    /// <summary>C [M, N] = A [M, K] · B [K, N] with torch.mm.</summary>
    public static Contender MatMul(float[] a, float[] b, int m, int n, int k)
    {
        EnsureAvailable();
        var scope = new NativeResources();
        var ta = scope.Add(torch.tensor(a, [m, k]));
        var tb = scope.Add(torch.tensor(b, [k, n]));
        Tensor? c = null;
        scope.Add(() => c?.Dispose());
        return new Contender(Side,
            () => { c?.Dispose(); c = torch.mm(ta, tb); },
            () => c!.data<float>().ToArray(),
            scope);
    }

    /// <summary>Conv2D channels-last: input [N, H, W, C], kernel [R, S, C, K], no bias, stride 1, symmetric padding.</summary>
    public static Contender Conv2D(float[] input, int n, int h, int w, int c, float[] kernel, int r, int s, int k, int padH, int padW, int groups = 1)
    {
        EnsureAvailable();
        var scope = new NativeResources();
        int cg = c / groups;
        var x = scope.Add(scope.Add(torch.tensor(input, [n, h, w, c])).permute(0, 3, 1, 2));
        var weight = scope.Add(scope.Add(torch.tensor(Layouts.RsckToKrsc(kernel, r, s, cg, k), [k, r, s, cg])).permute(0, 3, 1, 2));
        Tensor? y = null;
        scope.Add(() => y?.Dispose());
        return new Contender(Side + " (channels_last)",
            () => { y?.Dispose(); y = nn.functional.conv2d(x, weight, null, [1, 1], [padH, padW], [1, 1], groups); },
            () => ChannelsLastArray(y!),
            scope);
    }

    /// <summary>MaxPool2D channels-last on [N, H, W, C], window = stride = <paramref name="pool"/>.</summary>
    public static Contender MaxPool2D(float[] input, int n, int h, int w, int c, int pool)
    {
        EnsureAvailable();
        var scope = new NativeResources();
        var x = scope.Add(scope.Add(torch.tensor(input, [n, h, w, c])).permute(0, 3, 1, 2));
        Tensor? y = null;
        scope.Add(() => y?.Dispose());
        return new Contender(Side + " (channels_last)",
            () => { y?.Dispose(); y = nn.functional.max_pool2d(x, [pool, pool], [pool, pool], [0, 0], [1, 1], false); },
            () => ChannelsLastArray(y!),
            scope);
    }

    /// <summary>A logical NCHW tensor's values in [N, H, W, C] order (a copy).</summary>
    private static float[] ChannelsLastArray(Tensor nchw)
    {
        using var nhwc = nchw.permute(0, 2, 3, 1);
        using var dense = nhwc.contiguous();
        return dense.data<float>().ToArray();
    }
}
