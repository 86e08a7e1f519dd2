namespace ConvKit.Onnx;

/// <summary>One node (or graph input) of an ONNX model that ConvKit cannot import, and why.</summary>
public sealed record UnsupportedNode(string NodeName, string OpType, string Reason)
{
    public override string ToString() => $"node '{NodeName}' ({OpType}): {Reason}";
}

/// <summary>
/// An ONNX model uses ops, attributes or data types that ConvKit lacks. Raised before anything runs, and lists every
/// such node at once: <c>'m.onnx' cannot be imported: node 'lrn1' (LRN): op LRN is not supported; …</c>.
/// </summary>
public sealed class OnnxUnsupportedException(string path, IReadOnlyList<UnsupportedNode> nodes)
    : NotSupportedException($"'{path}' cannot be imported; {nodes.Count} unsupported node(s):{Environment.NewLine}  "
        + string.Join(Environment.NewLine + "  ", nodes))
{
    public string FilePath { get; } = path;
    public IReadOnlyList<UnsupportedNode> Nodes { get; } = nodes;
}
