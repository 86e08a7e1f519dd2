namespace ConvKit.Layers;

/// <summary>How the ONNX-shaped layers print their arguments in messages: as Python tuples, <c>(1, 2)</c>.</summary>
internal static class Describe
{
    public static string Tuple(IEnumerable<int> values)
    {
        var list = values.ToList();
        return list.Count == 1 ? $"({list[0]},)" : "(" + string.Join(", ", list) + ")";
    }
}
