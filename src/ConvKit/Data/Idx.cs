using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using ConvKit.IO;
using ConvKit.Tensors;

namespace ConvKit.Data;

/// <summary>The contents of an IDX file: its dimensions, outermost first, and its unsigned bytes in row-major order.</summary>
public sealed record IdxArray(int[] Dimensions, byte[] Values);

/// <summary>
/// Reads and writes the IDX format of MNIST and Fashion-MNIST, plain or gzip-compressed.
/// </summary>
/// <remarks>
/// An IDX file is a 4-byte magic <c>00 00 TT RR</c> (TT the element type, 0x08 for unsigned bytes;
/// RR the number of dimensions), then RR big-endian int32 dimensions, then the values row-major:
/// images are <c>0x00000803</c> (N, rows, columns), labels <c>0x00000801</c> (N,).
/// Compression is recognised by the gzip magic bytes, not by the file name.
/// Every size is checked against the file before anything is allocated, and a gzip stream is
/// inflated incrementally, so a header that lies cannot make the reader allocate more than the data holds.
/// </remarks>
public static class Idx
{
    /// <summary>The default ceiling on the values of one file: 1 GiB, twenty times the Fashion-MNIST training images.</summary>
    public const long DefaultMaxBytes = 1L << 30;

    /// <summary>Deflate expands its input at most 1032-fold, so a gzip file of n bytes cannot hold more than 1032·n.</summary>
    private const long MaxDeflateRatio = 1032;

    private const byte UnsignedByteType = 0x08;
    private const int MaxRank = 16;
    private static readonly byte[] GzipMagic = [0x1F, 0x8B];

    /// <summary>Reads any unsigned-byte IDX file (plain or gzip).</summary>
    /// <exception cref="ConvKitFormatException">The file is not IDX, is truncated, has trailing data, or declares more than <paramref name="maxBytes"/>.</exception>
    public static IdxArray Read(string path, long maxBytes = DefaultMaxBytes)
    {
        using var file = File.OpenRead(path);
        long fileLength = file.Length;
        Span<byte> start = stackalloc byte[2];
        bool compressed = ReadFully(file, start) == 2 && start.SequenceEqual(GzipMagic);
        file.Position = 0;
        try
        {
            using Stream source = compressed ? new GZipStream(file, CompressionMode.Decompress) : file;
            int[] dimensions = ReadHeader(path, source);
            long declared = CheckedProduct(path, dimensions);
            long headerLength = 4 + 4L * dimensions.Length;
            string what = $"header declares {DescribeDimensions(dimensions)} ({Bytes(declared)})";
            if (declared > maxBytes || declared > Array.MaxLength)
                throw new ConvKitFormatException(path, $"{what}, more than the limit of {Bytes(Math.Min(maxBytes, Array.MaxLength))} (raise it with maxBytes if the file is genuine).");
            if (compressed)
            {
                if (declared > fileLength * MaxDeflateRatio)
                    throw new ConvKitFormatException(path, $"{what}, but a gzip file of {Bytes(fileLength)} cannot hold that much (deflate expands at most {MaxDeflateRatio}:1).");
                var inflated = ReadGrowing(path, source, (int)declared, what);
                VerifyGzipTrailer(path, file, EncodeHeader(dimensions), inflated);
                return new IdxArray(dimensions, inflated);
            }
            long available = fileLength - headerLength;
            if (available != declared)
                throw new ConvKitFormatException(path, available < declared
                    ? $"{what}, but the file holds only {Bytes(available)} of values."
                    : $"{what}, but the file holds {Bytes(available - declared)} more after them.");
            var values = new byte[declared];
            if (ReadFully(source, values) != declared)
                throw new ConvKitFormatException(path, $"{what}, but the file shrank while it was being read.");
            return new IdxArray(dimensions, values);
        }
        catch (InvalidDataException e)
        {
            throw new ConvKitFormatException(path, $"the gzip stream is corrupt ({e.Message})", e);
        }
    }

    /// <summary>
    /// Reads an image file (magic <c>0x00000803</c>) as a tensor <c>(N, rows, columns, 1)</c>,
    /// with values scaled to [0, 1] (<c>byte / 255</c>) or, when <paramref name="scaleToUnitRange"/> is false, kept as 0..255.
    /// </summary>
    public static Tensor ReadImages(string path, bool scaleToUnitRange = true, long maxBytes = DefaultMaxBytes)
    {
        var idx = Read(path, maxBytes);
        if (idx.Dimensions.Length != 3)
            throw new ConvKitFormatException(path, $"expected images (3 dimensions: count, rows, columns); the header declares {DescribeDimensions(idx.Dimensions)}.");
        var table = new float[256];
        for (int v = 0; v < 256; v++) table[v] = scaleToUnitRange ? v / 255f : v;
        var images = Tensor.Zeros(idx.Dimensions[0], idx.Dimensions[1], idx.Dimensions[2], 1);
        var pixels = images.Span;
        for (int i = 0; i < idx.Values.Length; i++) pixels[i] = table[idx.Values[i]];
        return images;
    }

    /// <summary>Reads a label file (magic <c>0x00000801</c>) as its raw bytes, one class index per sample.</summary>
    public static byte[] ReadLabelBytes(string path, long maxBytes = DefaultMaxBytes)
    {
        var idx = Read(path, maxBytes);
        if (idx.Dimensions.Length != 1)
            throw new ConvKitFormatException(path, $"expected labels (1 dimension: count); the header declares {DescribeDimensions(idx.Dimensions)}.");
        return idx.Values;
    }

    /// <summary>Reads a label file as a tensor <c>(N,)</c> of class indices stored as floats.</summary>
    public static Tensor ReadLabels(string path, long maxBytes = DefaultMaxBytes) => LabelsToTensor(ReadLabelBytes(path, maxBytes));

    internal static Tensor LabelsToTensor(byte[] labels)
    {
        var tensor = Tensor.Zeros(labels.Length);
        var values = tensor.Span;
        for (int i = 0; i < labels.Length; i++) values[i] = labels[i];
        return tensor;
    }

    /// <summary>
    /// Writes <paramref name="idx"/> atomically; gzip-compressed when <paramref name="compress"/> is true,
    /// or when it is null and the path ends in <c>.gz</c>.
    /// </summary>
    public static void Write(string path, IdxArray idx, bool? compress = null)
    {
        ArgumentNullException.ThrowIfNull(idx);
        if (idx.Dimensions.Length is 0 or > MaxRank || idx.Dimensions.Any(d => d < 0))
            throw new ArgumentException($"IDX needs 1 to {MaxRank} non-negative dimensions; received {DescribeDimensions(idx.Dimensions)}.", nameof(idx));
        long size = idx.Dimensions.Aggregate(1L, (product, d) => checked(product * d));
        if (size != idx.Values.Length)
            throw new ArgumentException($"Dimensions {DescribeDimensions(idx.Dimensions)} need {size} values; received {idx.Values.Length}.", nameof(idx));

        var header = EncodeHeader(idx.Dimensions);
        AtomicFile.Write(path, stream =>
        {
            using Stream target = compress ?? path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)
                ? new GZipStream(stream, CompressionLevel.Optimal)
                : stream;
            target.Write(header);
            target.Write(idx.Values);
        });
    }

    /// <summary>
    /// Writes images <c>(N, rows, columns)</c> or <c>(N, rows, columns, 1)</c> as an IDX image file.
    /// Values in [0, 1] are stored as <c>round(255·x)</c>; with <paramref name="unitRange"/> false they are taken as 0..255.
    /// Values outside the range are clamped.
    /// </summary>
    public static void WriteImages(string path, Tensor images, bool unitRange = true, bool? compress = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        var shape = images.Shape;
        if (!(shape.Rank == 3 || (shape.Rank == 4 && shape[3] == 1)))
            throw new ArgumentException($"IDX images are (N, rows, columns) or (N, rows, columns, 1); received {shape}.", nameof(images));
        float scale = unitRange ? 255f : 1f;
        var values = new byte[images.Size];
        var pixels = images.Span;
        for (int i = 0; i < values.Length; i++) values[i] = (byte)Math.Clamp(MathF.Round(pixels[i] * scale), 0f, 255f);
        Write(path, new IdxArray([shape[0], shape[1], shape[2]], values), compress);
    }

    /// <summary>Writes class indices <c>(N,)</c>, each a whole number in 0..255, as an IDX label file.</summary>
    public static void WriteLabels(string path, Tensor labels, bool? compress = null)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.Rank != 1) throw new ArgumentException($"IDX labels are (N,); received {labels.Shape}.", nameof(labels));
        var values = new byte[labels.Size];
        var source = labels.Span;
        for (int i = 0; i < values.Length; i++)
        {
            float label = source[i];
            if (label is < 0 or > 255 || label != MathF.Floor(label))
                throw new ArgumentException($"IDX labels are whole numbers in 0..255; label {i} is {label}.", nameof(labels));
            values[i] = (byte)label;
        }
        Write(path, new IdxArray([values.Length], values), compress);
    }

    private static byte[] EncodeHeader(int[] dimensions)
    {
        var header = new byte[4 + 4 * dimensions.Length];
        header[2] = UnsignedByteType;
        header[3] = (byte)dimensions.Length;
        for (int i = 0; i < dimensions.Length; i++)
            BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4 + 4 * i), dimensions[i]);
        return header;
    }

    private static int[] ReadHeader(string path, Stream source)
    {
        Span<byte> magic = stackalloc byte[4];
        int got = ReadFully(source, magic);
        if (got < 4) throw new ConvKitFormatException(path, $"the file ends after {Bytes(got)}, before the 4-byte IDX magic number.");
        if (magic[0] != 0 || magic[1] != 0)
            throw new ConvKitFormatException(path, $"not an IDX file: it starts with {Convert.ToHexString(magic)}, expected 000008xx.");
        if (magic[2] != UnsignedByteType)
            throw new ConvKitFormatException(path, $"IDX element type 0x{magic[2]:X2} is not supported; ConvKit reads unsigned-byte files (type 0x08).");
        int rank = magic[3];
        if (rank is 0 or > MaxRank)
            throw new ConvKitFormatException(path, $"the header declares {rank} dimensions; expected 1 to {MaxRank}.");

        Span<byte> header = stackalloc byte[4 * rank];
        got = ReadFully(source, header);
        if (got < header.Length)
            throw new ConvKitFormatException(path, $"the file ends inside the header: {rank} dimensions need {header.Length} bytes, found {got}.");
        var dimensions = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            dimensions[i] = BinaryPrimitives.ReadInt32BigEndian(header[(4 * i)..]);
            if (dimensions[i] < 0)
                throw new ConvKitFormatException(path, $"dimension {i} of the header is negative ({dimensions[i]}).");
        }
        return dimensions;
    }

    private static long CheckedProduct(string path, int[] dimensions)
    {
        long product = 1;
        foreach (int d in dimensions)
        {
            // Each dimension is below 2^31, so a product still under 2^32 cannot overflow on the next multiply.
            product *= d;
            if (product > uint.MaxValue)
                throw new ConvKitFormatException(path, $"header declares {DescribeDimensions(dimensions)}, more values than any IDX file can hold.");
        }
        return product;
    }

    /// <summary>
    /// Inflates exactly <paramref name="declared"/> bytes, growing the buffer as data arrives so that memory
    /// follows what the stream really holds rather than what the header claims, then checks nothing follows.
    /// </summary>
    private static byte[] ReadGrowing(string path, Stream source, int declared, string what)
    {
        var buffer = new byte[Math.Min(declared, 1 << 20)];
        int filled = 0;
        while (filled < declared)
        {
            if (filled == buffer.Length) Array.Resize(ref buffer, (int)Math.Min(declared, 2L * buffer.Length));
            int read = source.Read(buffer, filled, buffer.Length - filled);
            if (read == 0) throw new ConvKitFormatException(path, $"{what}, but the gzip stream ends after {Bytes(filled)} of values.");
            filled += read;
        }
        Span<byte> probe = stackalloc byte[1];
        if (source.Read(probe) != 0)
            throw new ConvKitFormatException(path, $"{what}, but the gzip stream holds more data after them.");
        return buffer;
    }

    /// <summary>
    /// Checks the gzip trailer (CRC-32 and length mod 2^32 of the inflated bytes, the file's last 8 bytes) against
    /// what was inflated. .NET's GZipStream reports a stream cut inside its last block or trailer as a clean end,
    /// so without this check a truncated download would load silently. Files are expected as one gzip member, as
    /// gzip, Python and .NET write them.
    /// </summary>
    private static void VerifyGzipTrailer(string path, FileStream file, byte[] header, byte[] values)
    {
        uint crc = Crc32.Append(Crc32.Compute(header), values);
        uint length = unchecked((uint)(header.Length + (long)values.Length));
        Span<byte> trailer = stackalloc byte[8];
        file.Seek(-8, SeekOrigin.End);
        file.ReadExactly(trailer);
        uint recordedCrc = BinaryPrimitives.ReadUInt32LittleEndian(trailer);
        uint recordedLength = BinaryPrimitives.ReadUInt32LittleEndian(trailer[4..]);
        if (recordedCrc != crc || recordedLength != length)
            throw new ConvKitFormatException(path,
                $"the gzip stream is truncated or corrupt: its trailer records {Bytes(recordedLength)} with CRC-32 {recordedCrc:X8}, " +
                $"but it inflates to {Bytes(length)} with CRC-32 {crc:X8}.");
    }

    /// <summary>Reads until <paramref name="buffer"/> is full or the stream ends; returns the count read.</summary>
    private static int ReadFully(Stream source, Span<byte> buffer)
    {
        int filled = 0;
        while (filled < buffer.Length)
        {
            int read = source.Read(buffer[filled..]);
            if (read == 0) break;
            filled += read;
        }
        return filled;
    }

    internal static string DescribeDimensions(int[] dimensions) =>
        dimensions.Length == 3
            ? $"{Count(dimensions[0])} images of {dimensions[1]}×{dimensions[2]}"
            : dimensions.Length == 1
                ? $"{Count(dimensions[0])} labels"
                : "(" + string.Join(", ", dimensions) + ")";

    private static string Count(long n) => n.ToString("N0", CultureInfo.InvariantCulture);
    private static string Bytes(long n) => n == 1 ? "1 byte" : $"{Count(n)} bytes";
}
