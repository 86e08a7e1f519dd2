namespace ConvKit.Onnx.Tests;

/// <summary>ONNX's PyTorch-converted tests (../shared/onnx-pytorch-converted-tests): inputs fed by position, rtol 1e-3, atol 1e-7.</summary>
public sealed class PyTorchConvertedTests
{
    /// <summary>The converted tests ConvKit does not run, each with the reason; each must be rejected at import.</summary>
    public static readonly IReadOnlyDictionary<string, string> Unsupported = new Dictionary<string, string>
    {
    };

    [Theory]
    [SuiteData("onnx-pytorch-converted-tests")]
    public void ConvertedTest(string name)
    {
        string folder = Path.Combine(TestData.Shared, "onnx-pytorch-converted-tests", name);
        if (Unsupported.TryGetValue(name, out _))
        {
            Assert.Throws<OnnxUnsupportedException>(() => BackendTest.Run(folder, byPosition: true));
            return;
        }
        BackendTest.Run(folder, byPosition: true);
    }
}
