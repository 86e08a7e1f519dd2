using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using ConvKit.Tensors;

namespace ConvKit.IO;

/// <summary>
/// Reads and writes Hugging Face's safetensors format, the weights format shared with PyTorch, Keras 3 and others.
/// </summary>
/// <remarks>
/// Layout: an 8-byte little-endian header length n; n bytes of JSON,
/// <c>{"__metadata__": {"key": "value"}, "name": {"dtype": "F32", "shape": [3, 3, 1, 16], "data_offsets": [begin, end]}, ...}</c>;
/// then the tensors' raw little-endian bytes, with offsets counted from the end of the header. The tensors
/// tile the data section exactly: no gaps, no overlaps. ConvKit reads and writes float32 (<c>F32</c>) tensors;
/// other dtypes are rejected by name. Every inconsistency raises <see cref="ConvKitFormatException"/> before
/// any tensor is allocated.
/// </remarks>
public static class SafeTensors
{
    /// <summary>The largest header accepted: 100 MB, the limit of the reference implementation.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private const string MetadataKey = "__metadata__";
    private const string Float32 = "F32";

    /// <summary>
    /// Writes <paramref name="tensors"/> (in name order) and optional string <paramref name="metadata"/> to
    /// <paramref name="path"/>, atomically.
    /// </summary>
    public static void Save(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var names = tensors.Keys.Order(StringComparer.Ordinal).ToArray();
        foreach (string name in names)
        {
            if (name.Length == 0 || name == MetadataKey)
                throw new ArgumentException($"A tensor cannot be named '{name}' in safetensors.", nameof(tensors));
            ArgumentNullException.ThrowIfNull(tensors[name], $"{nameof(tensors)}[\"{name}\"]");
        }
        byte[] header = BuildHeader(names, tensors, metadata);

        AtomicFile.Write(path, stream =>
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
            stream.Write(length);
            stream.Write(header);
            foreach (string name in names) WriteLittleEndian(stream, tensors[name].Span);
        });
    }

    /// <summary>Reads every tensor and the metadata of a safetensors file.</summary>
    /// <exception cref="ConvKitFormatException">The file is malformed or holds a dtype other than F32.</exception>
    public static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) Load(string path)
    {
        using var file = File.OpenRead(path);
        long fileLength = file.Length;
        if (fileLength < 8)
            throw new ConvKitFormatException(path, $"the file holds {fileLength} bytes, fewer than the 8-byte header length that starts a safetensors file.");
        Span<byte> prefix = stackalloc byte[8];
        file.ReadExactly(prefix);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > (ulong)(fileLength - 8))
            throw new ConvKitFormatException(path, $"the header length says {headerLength} bytes, but only {fileLength - 8} follow it.");
        if (headerLength > MaxHeaderBytes)
            throw new ConvKitFormatException(path, $"the header length says {headerLength} bytes, more than the limit of {MaxHeaderBytes}.");

        var header = new byte[headerLength];
        file.ReadExactly(header);
        long dataLength = fileLength - 8 - (long)headerLength;
        var (entries, metadata) = ParseHeader(path, header, dataLength);

        var tensors = new Dictionary<string, Tensor>(entries.Count, StringComparer.Ordinal);
        long dataStart = 8 + (long)headerLength;
        foreach (var entry in entries)
        {
            var values = new float[entry.Shape.Size];
            file.Position = dataStart + entry.Begin;
            file.ReadExactly(MemoryMarshal.AsBytes(values.AsSpan()));
            if (!BitConverter.IsLittleEndian) ReverseEndianness(values);
            tensors.Add(entry.Name, new Tensor(entry.Shape, values));
        }
        return (tensors, metadata);
    }

    private sealed record Entry(string Name, Shape Shape, long Begin, long End);

    /// <summary>Parses and checks the JSON header; the entries come back in data order.</summary>
    private static (List<Entry> Entries, Dictionary<string, string> Metadata) ParseHeader(string path, byte[] header, long dataLength)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(header);
        }
        catch (JsonException e)
        {
            throw new ConvKitFormatException(path, $"the header is not valid JSON ({e.Message})", e);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new ConvKitFormatException(path, $"the header is a JSON {document.RootElement.ValueKind}, expected an object.");
            var entries = new List<Entry>();
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (!seen.Add(property.Name))
                    throw new ConvKitFormatException(path, $"the header names '{property.Name}' twice.");
                if (property.Name == MetadataKey) ReadMetadata(path, property.Value, metadata);
                else entries.Add(ReadEntry(path, property.Name, property.Value, dataLength));
            }
            CheckTiling(path, entries, dataLength);
            return (entries, metadata);
        }
    }

    private static void ReadMetadata(string path, JsonElement element, Dictionary<string, string> metadata)
    {
        if (element.ValueKind != JsonValueKind.Object)
            throw new ConvKitFormatException(path, $"'{MetadataKey}' is a JSON {element.ValueKind}, expected an object of strings.");
        foreach (var item in element.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
                throw new ConvKitFormatException(path, $"metadata '{item.Name}' is a JSON {item.Value.ValueKind}, expected a string.");
            metadata[item.Name] = item.Value.GetString()!;
        }
    }

    private static Entry ReadEntry(string path, string name, JsonElement element, long dataLength)
    {
        if (element.ValueKind != JsonValueKind.Object)
            throw new ConvKitFormatException(path, $"tensor '{name}' is a JSON {element.ValueKind}, expected an object with dtype, shape and data_offsets.");
        string dtype = element.TryGetProperty("dtype", out var d) && d.ValueKind == JsonValueKind.String
            ? d.GetString()!
            : throw new ConvKitFormatException(path, $"tensor '{name}' has no string \"dtype\".");
        if (dtype != Float32)
            throw new ConvKitFormatException(path, $"tensor '{name}' has dtype {dtype}; ConvKit reads {Float32} (float32) tensors only.");

        long[] dimensions = ReadIntegers(path, name, element, "shape", expectedCount: null);
        long[] offsets = ReadIntegers(path, name, element, "data_offsets", expectedCount: 2);
        long size = 1;
        foreach (long dimension in dimensions)
        {
            if (dimension > int.MaxValue || (size *= dimension) > Array.MaxLength)
                throw new ConvKitFormatException(path, $"tensor '{name}' has shape {FormatList(dimensions)}, larger than one .NET array can hold.");
        }
        long begin = offsets[0], end = offsets[1];
        string range = $"data_offsets [{begin}, {end}]";
        if (begin > end) throw new ConvKitFormatException(path, $"tensor '{name}' has {range}, which end before they begin.");
        if (end > dataLength) throw new ConvKitFormatException(path, $"tensor '{name}' has {range}, past the end of the {dataLength}-byte data section.");
        if (end - begin != size * sizeof(float))
            throw new ConvKitFormatException(path, $"tensor '{name}' has shape {FormatList(dimensions)} ({size} floats, {size * sizeof(float)} bytes) but {range} span {end - begin} bytes.");
        return new Entry(name, new Shape(dimensions.Select(x => (int)x).ToArray()), begin, end);
    }

    private static long[] ReadIntegers(string path, string name, JsonElement element, string key, int? expectedCount)
    {
        if (!element.TryGetProperty(key, out var array) || array.ValueKind != JsonValueKind.Array)
            throw new ConvKitFormatException(path, $"tensor '{name}' has no \"{key}\" array.");
        if (expectedCount is int count && array.GetArrayLength() != count)
            throw new ConvKitFormatException(path, $"tensor '{name}' has {array.GetArrayLength()} entries in \"{key}\", expected {count}.");
        var values = new long[array.GetArrayLength()];
        int i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out values[i]) || values[i] < 0)
                throw new ConvKitFormatException(path, $"tensor '{name}' has \"{key}\" {item.GetRawText()} at position {i}, expected a non-negative integer.");
            i++;
        }
        return values;
    }

    /// <summary>Sorts the entries by offset and checks that they cover the data section exactly once.</summary>
    private static void CheckTiling(string path, List<Entry> entries, long dataLength)
    {
        entries.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        long covered = 0;
        Entry? previous = null;
        foreach (var entry in entries)
        {
            if (entry.Begin < covered)
                throw new ConvKitFormatException(path, $"tensors '{previous!.Name}' [{previous.Begin}, {previous.End}] and '{entry.Name}' [{entry.Begin}, {entry.End}] overlap.");
            if (entry.Begin > covered)
                throw new ConvKitFormatException(path, $"bytes [{covered}, {entry.Begin}) of the data section belong to no tensor (before '{entry.Name}').");
            covered = entry.End;
            previous = entry;
        }
        if (covered != dataLength)
            throw new ConvKitFormatException(path, $"the tensors cover {covered} bytes of data, but the file holds {dataLength} after the header.");
    }

    private static byte[] BuildHeader(string[] names, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(MetadataKey);
                foreach (var (key, value) in metadata.OrderBy(pair => pair.Key, StringComparer.Ordinal)) json.WriteString(key, value);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (string name in names)
            {
                var tensor = tensors[name];
                json.WriteStartObject(name);
                json.WriteString("dtype", Float32);
                json.WriteStartArray("shape");
                foreach (int dimension in tensor.Shape) json.WriteNumberValue(dimension);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset += (long)tensor.Size * sizeof(float));
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        // Spaces pad the header so the data starts 8-byte aligned, as the reference writer does.
        int padded = (buffer.WrittenCount + 7) / 8 * 8;
        var header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(buffer.WrittenCount).Fill((byte)' ');
        return header;
    }

    private static void WriteLittleEndian(Stream stream, ReadOnlySpan<float> values)
    {
        if (BitConverter.IsLittleEndian)
        {
            stream.Write(MemoryMarshal.AsBytes(values));
            return;
        }
        var copy = values.ToArray();
        ReverseEndianness(copy);
        stream.Write(MemoryMarshal.AsBytes(copy.AsSpan()));
    }

    private static void ReverseEndianness(float[] values)
    {
        var bits = MemoryMarshal.Cast<float, int>(values.AsSpan());
        BinaryPrimitives.ReverseEndianness(bits, bits);
    }

    private static string FormatList(long[] values) => "[" + string.Join(", ", values.Select(v => v.ToString(CultureInfo.InvariantCulture))) + "]";
}
