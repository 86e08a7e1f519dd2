using System.Buffers.Binary;
using System.Runtime.InteropServices;
using ConvKit.Onnx.Protobuf;
using ConvKit.Tensors;
using Google.Protobuf;

namespace ConvKit.Onnx;

/// <summary>
/// A tensor value known at import time (an initializer, a <c>Constant</c> node, a bound input), in ONNX's layout.
/// Floating-point data are kept as <see cref="Floats"/>; integer data (shapes, axes) also as <see cref="Integers"/>.
/// </summary>
internal sealed record ConstantTensor(int[] Dims, float[] Floats, long[]? Integers, int DataType)
{
    public int Size => Floats.Length;
    public Tensor ToTensor() => Tensor.FromArray(Floats, Dims.Length == 0 ? [] : Dims);
    public static ConstantTensor FromTensor(Tensor t) => new(t.Shape.ToArray(), t.ToArray(), null, (int)TensorProto.Types.DataType.Float);
    public long[] Longs => Integers ?? Floats.Select(f => (long)f).ToArray();
}

/// <summary>Conversions between ONNX <c>TensorProto</c>s and ConvKit arrays, with every size checked before use.</summary>
internal static class OnnxTensors
{
    /// <summary>The ONNX name of a data type code, e.g. 7 → INT64.</summary>
    public static string TypeName(int dataType) =>
        Enum.IsDefined(typeof(TensorProto.Types.DataType), dataType) ? ((TensorProto.Types.DataType)dataType).ToString().ToUpperInvariant() : $"type {dataType}";

    /// <summary>Whether ConvKit can hold values of this type: float32 (and float64, int32, int64 as constants).</summary>
    public static bool IsSupported(int dataType) => (TensorProto.Types.DataType)dataType is
        TensorProto.Types.DataType.Float or TensorProto.Types.DataType.Double or TensorProto.Types.DataType.Int64 or TensorProto.Types.DataType.Int32;

    /// <summary>Reads a tensor; a problem is thrown as <see cref="FormatException"/> naming the tensor.</summary>
    public static ConstantTensor Read(TensorProto t)
    {
        if (t.DataLocation == TensorProto.Types.DataLocation.External)
            throw new NotSupportedException($"tensor '{t.Name}' keeps its data in an external file, which ConvKit does not read");
        if (t.Dims.Any(d => d < 0 || d > int.MaxValue))
            throw new FormatException($"tensor '{t.Name}' has invalid dimensions ({string.Join(", ", t.Dims)})");
        var dims = t.Dims.Select(d => (int)d).ToArray();
        long count = 1;
        foreach (int d in dims)
            if ((count *= d) > Array.MaxLength)
                throw new FormatException($"tensor '{t.Name}' has dimensions ({string.Join(", ", dims)}): more values than one ConvKit tensor holds ({Array.MaxLength})");
        var type = (TensorProto.Types.DataType)t.DataType;
        var raw = t.RawData.Span;
        int width = type switch
        {
            TensorProto.Types.DataType.Float or TensorProto.Types.DataType.Int32 => 4,
            TensorProto.Types.DataType.Double or TensorProto.Types.DataType.Int64 => 8,
            _ => throw new NotSupportedException($"tensor '{t.Name}' has data type {TypeName(t.DataType)}; ConvKit computes in float32"),
        };
        int n = (int)count;
        if (!t.RawData.IsEmpty && raw.Length != (long)n * width)
            throw new FormatException($"tensor '{t.Name}' of shape ({string.Join(", ", dims)}) needs {(long)n * width} bytes of {TypeName(t.DataType)} but raw_data has {raw.Length}");
        bool fromRaw = !t.RawData.IsEmpty;
        int typedCount = type switch
        {
            TensorProto.Types.DataType.Float => t.FloatData.Count,
            TensorProto.Types.DataType.Int32 => t.Int32Data.Count,
            TensorProto.Types.DataType.Double => t.DoubleData.Count,
            _ => t.Int64Data.Count,
        };
        if (!fromRaw && typedCount != n)
            throw new FormatException($"tensor '{t.Name}' of shape ({string.Join(", ", dims)}) needs {n} values but holds {typedCount}");
        // Only now, with the values known to be in the file, is their array allocated.
        var floats = GC.AllocateUninitializedArray<float>(n);   // every value is written below
        long[]? integers = null;
        switch (type)
        {
            case TensorProto.Types.DataType.Float:
                // Whole copies: element by element through the repeated field's indexer took 7 % of importing ResNet18.
                if (!fromRaw) t.FloatData.CopyTo(floats, 0);
                else if (BitConverter.IsLittleEndian) MemoryMarshal.Cast<byte, float>(raw).CopyTo(floats);
                else for (int i = 0; i < n; i++) floats[i] = BinaryPrimitives.ReadSingleLittleEndian(raw[(4 * i)..]);
                break;
            case TensorProto.Types.DataType.Double:
                for (int i = 0; i < n; i++) floats[i] = (float)(fromRaw ? BinaryPrimitives.ReadDoubleLittleEndian(raw[(8 * i)..]) : t.DoubleData[i]);
                break;
            case TensorProto.Types.DataType.Int32:
                integers = new long[n];
                for (int i = 0; i < n; i++) integers[i] = fromRaw ? BinaryPrimitives.ReadInt32LittleEndian(raw[(4 * i)..]) : t.Int32Data[i];
                break;
            default:
                integers = new long[n];
                for (int i = 0; i < n; i++) integers[i] = fromRaw ? BinaryPrimitives.ReadInt64LittleEndian(raw[(8 * i)..]) : t.Int64Data[i];
                break;
        }
        if (integers is not null) for (int i = 0; i < n; i++) floats[i] = integers[i];
        return new ConstantTensor(dims, floats, integers, t.DataType);
    }

    /// <summary>A float32 tensor in <c>raw_data</c> (little-endian).</summary>
    public static TensorProto FromFloats(string name, ReadOnlySpan<float> values, params int[] dims)
    {
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i), values[i]);
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float, RawData = ByteString.CopyFrom(bytes) };
        t.Dims.AddRange(dims.Select(d => (long)d));
        return t;
    }

    /// <summary>An int64 tensor (shapes, axes) in <c>raw_data</c>.</summary>
    public static TensorProto FromLongs(string name, params long[] values)
    {
        var bytes = new byte[values.Length * 8];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(8 * i), values[i]);
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64, RawData = ByteString.CopyFrom(bytes) };
        t.Dims.Add(values.Length);
        return t;
    }
}
