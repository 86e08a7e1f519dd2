using ConvKit.Bench.Kernels;
using ConvKit.Bench.Native;
using ConvKit.Bench.Peers;

namespace ConvKit.Bench;

/// <summary>
/// <c>peers</c>: ConvKit side by side with libtorch (TorchSharp) and ONNX Runtime on identical inputs.
/// <c>layers</c>: ResNet18 at batch 1 layer by layer, ConvKit beside ONNX Runtime.
/// <c>bdn</c>: BenchmarkDotNet runs of reference vs dispatched kernels.
/// <c>fix-torch DIR</c>: makes TorchSharp's native library loadable (run by the build; see README.md).
/// </summary>
internal static class Program
{
    private const string Usage = """
        usage: ConvKit.Bench peers [--quick] [--json] [--threads N] [--only ID[,ID…]]
               ConvKit.Bench layers [--threads N] [--runs N]
               ConvKit.Bench bdn [BenchmarkDotNet arguments, e.g. --filter *Gemm*]
               ConvKit.Bench fix-torch [OUTPUT_FOLDER]
        """;

    public static int Main(string[] args)
    {
        string command = args.Length == 0 ? "" : args[0];
        string[] rest = args.Length == 0 ? [] : args[1..];
        try
        {
            switch (command)
            {
                case "peers":
                    return PeersCommand.Run(PeersOptions.Parse(rest));
                case "layers":
                    return LayersCommand.Run(rest);
                case "bdn":
                    return BdnCommand.Run(rest);
                case "fix-torch":
                    bool failed = false;
                    foreach (var (line, lineFailed) in TorchLoader.FixOutputFolder(rest.Length > 0 ? rest[0] : AppContext.BaseDirectory))
                    {
                        Console.WriteLine("fix-torch: " + line);
                        failed |= lineFailed;
                    }
                    return failed ? 1 : 0;
                default:
                    Console.Error.WriteLine(Usage);
                    return command is "-h" or "--help" or "help" ? 0 : 2;
            }
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine(e.Message);
            Console.Error.WriteLine(Usage);
            return 2;
        }
    }
}
