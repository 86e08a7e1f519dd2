namespace ConvKit.Onnx.Tests;

/// <summary>ONNX's own backend node tests (../shared/onnx-node-tests), compared at ONNX's tolerance: rtol 1e-3, atol 1e-7.</summary>
public sealed class NodeTests
{
    /// <summary>
    /// The node tests ConvKit does not run, each with the reason: the one place they are listed. Each must be rejected
    /// at import with <see cref="OnnxUnsupportedException"/> naming the node — never a wrong answer.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> Unsupported = new Dictionary<string, string>
    {
        ["test_add_int8"] = "int8 data: ConvKit computes in float32",
        ["test_add_int16"] = "int16 data: ConvKit computes in float32",
        ["test_add_uint8"] = "uint8 data: ConvKit computes in float32",
        ["test_add_uint16"] = "uint16 data: ConvKit computes in float32",
        ["test_add_uint32"] = "uint32 data: ConvKit computes in float32",
        ["test_add_uint64"] = "uint64 data: ConvKit computes in float32",
        ["test_maxpool_2d_uint8"] = "uint8 data: ConvKit computes in float32",
        ["test_maxpool_with_argmax_2d_precomputed_pads"] = "MaxPool's second output (int64 Indices): ConvKit tensors are float32, which holds an index exactly only below 2^24, and a model output cannot carry ONNX's int64 type",
        ["test_maxpool_with_argmax_2d_precomputed_strides"] = "MaxPool's second output (int64 Indices): ConvKit tensors are float32, which holds an index exactly only below 2^24, and a model output cannot carry ONNX's int64 type",
        ["test_dropout_default_mask"] = "Dropout's second output (bool mask): ConvKit tensors are float32 and a model output cannot carry ONNX's bool type",
        ["test_dropout_default_mask_ratio"] = "Dropout's second output (bool mask): ConvKit tensors are float32 and a model output cannot carry ONNX's bool type",
    };

    [Theory]
    [SuiteData("onnx-node-tests")]
    public void NodeTest(string name)
    {
        string folder = Path.Combine(TestData.Shared, "onnx-node-tests", name);
        if (Unsupported.TryGetValue(name, out var reason))
        {
            var e = Assert.Throws<OnnxUnsupportedException>(() => BackendTest.Run(folder, byPosition: false));
            Assert.NotEmpty(e.Nodes);
            return;
        }
        BackendTest.Run(folder, byPosition: false);
    }
}
