using System.Buffers.Binary;
using System.IO.Compression;
using ConvKit.Data;
using ConvKit.IO;
using ConvKit.Tensors;

namespace ConvKit.Tests.Data;

public class IdxTests
{
    private static Tensor SampleImages()
    {
        var images = Tensor.Zeros(3, 4, 5, 1);
        var pixels = images.Span;
        for (int i = 0; i < pixels.Length; i++) pixels[i] = (i * 37 % 256) / 255f;
        return images;
    }

    [Theory]
    [InlineData("images-idx3-ubyte")]
    [InlineData("images-idx3-ubyte.gz")]
    public void Images_RoundTrip_PlainAndGzip(string name)
    {
        using var dir = new TempDirectory();
        var images = SampleImages();
        Idx.WriteImages(dir.File(name), images);

        var read = Idx.ReadImages(dir.File(name));

        Assert.Equal(new Shape(3, 4, 5, 1), read.Shape);
        Assert.Equal(images.ToArray(), read.ToArray());
        Assert.Equal(name.EndsWith(".gz"), File.ReadAllBytes(dir.File(name))[0] == 0x1F);
    }

    [Fact]
    public void ReadImages_CanKeepTheByteRange()
    {
        using var dir = new TempDirectory();
        Idx.Write(dir.File("x"), new IdxArray([1, 1, 3], [0, 128, 255]));
        Assert.Equal(new float[] { 0, 128, 255 }, Idx.ReadImages(dir.File("x"), scaleToUnitRange: false).ToArray());
        Assert.Equal(new float[] { 0, 128 / 255f, 1 }, Idx.ReadImages(dir.File("x")).ToArray());
    }

    [Fact]
    public void Labels_RoundTrip()
    {
        using var dir = new TempDirectory();
        Idx.WriteLabels(dir.File("labels"), Tensor.FromArray([9, 0, 3, 255]));
        Assert.Equal(new byte[] { 9, 0, 3, 255 }, Idx.ReadLabelBytes(dir.File("labels")));
        Assert.Equal(new float[] { 9, 0, 3, 255 }, Idx.ReadLabels(dir.File("labels")).ToArray());
    }

    [Fact]
    public void Compression_IsDetectedByContentNotName()
    {
        using var dir = new TempDirectory();
        Idx.WriteLabels(dir.File("compressed-without-extension"), Tensor.FromArray([1, 2]), compress: true);
        Idx.WriteLabels(dir.File("plain.gz"), Tensor.FromArray([3, 4]), compress: false);
        Assert.Equal(new byte[] { 1, 2 }, Idx.ReadLabelBytes(dir.File("compressed-without-extension")));
        Assert.Equal(new byte[] { 3, 4 }, Idx.ReadLabelBytes(dir.File("plain.gz")));
    }

    [Fact]
    public void WriteLabels_RejectsValuesThatAreNotBytes()
    {
        using var dir = new TempDirectory();
        Assert.Throws<ArgumentException>(() => Idx.WriteLabels(dir.File("x"), Tensor.FromArray([1.5f])));
        Assert.Throws<ArgumentException>(() => Idx.WriteLabels(dir.File("x"), Tensor.FromArray([256f])));
    }

    // ---- hostile inputs ---------------------------------------------------------------------

    private static byte[] Header(byte type, params int[] dimensions)
    {
        var header = new byte[4 + 4 * dimensions.Length];
        header[2] = type;
        header[3] = (byte)dimensions.Length;
        for (int i = 0; i < dimensions.Length; i++) BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4 + 4 * i), dimensions[i]);
        return header;
    }

    private static byte[] Gzip(byte[] bytes)
    {
        using var memory = new MemoryStream();
        using (var gzip = new GZipStream(memory, CompressionLevel.Optimal)) gzip.Write(bytes);
        return memory.ToArray();
    }

    private static ConvKitFormatException ReadFails(string path, byte[] contents)
    {
        File.WriteAllBytes(path, contents);
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<ConvKitFormatException>(() => Idx.Read(path));
        // A lying header must be caught before anything large is allocated.
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - allocatedBefore < 16 << 20, "the reader allocated more than 16 MiB before failing");
        Assert.Contains(path, error.Message);
        Assert.Equal(path, error.FilePath);
        return error;
    }

    [Fact]
    public void Read_TruncatedPlainFile_SaysHowMuchIsMissing()
    {
        using var dir = new TempDirectory();
        var error = ReadFails(dir.File("train-images-idx3-ubyte"), [.. Header(8, 60000, 28, 28), .. new byte[1234]]);
        Assert.Contains("60,000 images of 28×28", error.Message);
        Assert.Contains("1,234 bytes", error.Message);
    }

    [Fact]
    public void Read_TrailingBytes_AreAnError()
    {
        using var dir = new TempDirectory();
        var error = ReadFails(dir.File("x"), [.. Header(8, 2), 1, 2, 3]);
        Assert.Contains("1 byte more", error.Message);
    }

    [Theory]
    [InlineData(new byte[] { })]
    [InlineData(new byte[] { 0, 0 })]
    [InlineData(new byte[] { 0x50, 0x4B, 3, 4, 0, 0, 0, 1 })]
    [InlineData(new byte[] { 0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0 })]
    [InlineData(new byte[] { 0, 0, 8, 0 })]
    [InlineData(new byte[] { 0, 0, 8, 3, 0, 0, 0, 1 })]
    [InlineData(new byte[] { 0, 0, 8, 1, 0xFF, 0xFF, 0xFF, 0xFF })]
    public void Read_BadMagicOrHeader_Fails(byte[] contents)
    {
        using var dir = new TempDirectory();
        ReadFails(dir.File("bad"), contents);
    }

    [Fact]
    public void Read_WrongElementType_NamesIt()
    {
        using var dir = new TempDirectory();
        var error = ReadFails(dir.File("floats"), [.. Header(0x0D, 1), 0, 0, 0, 0]);
        Assert.Contains("0x0D", error.Message);
    }

    [Fact]
    public void Read_HeaderClaimingHugeDimensions_FailsFast()
    {
        using var dir = new TempDirectory();
        ReadFails(dir.File("huge"), [.. Header(8, int.MaxValue, int.MaxValue, 28), .. new byte[10]]);
        ReadFails(dir.File("large"), [.. Header(8, 1_000_000, 28, 28), .. new byte[10]]);
        var overLimit = ReadFails(dir.File("over-limit"), [.. Header(8, 2_000_000_000, 1), .. new byte[10]]);
        Assert.Contains("limit", overLimit.Message);
    }

    [Fact]
    public void Read_GzipClaimingMoreThanDeflateCanHold_FailsBeforeInflating()
    {
        using var dir = new TempDirectory();
        var error = ReadFails(dir.File("bomb.gz"), Gzip([.. Header(8, 1_000_000, 28, 28), .. new byte[100]]));
        Assert.Contains("1032", error.Message);
    }

    [Fact]
    public void Read_GzipWhoseDataIsShorterThanItsHeader_FailsWithoutAllocatingTheClaim()
    {
        using var dir = new TempDirectory();
        // 400 KB of incompressible bytes make a gzip file large enough for a 400 MB claim to pass the deflate-ratio check...
        var noise = new byte[400_000];
        new Random(1).NextBytes(noise);
        var error = ReadFails(dir.File("liar.gz"), Gzip([.. Header(8, 400_000, 1000), .. noise]));
        // ...and the incremental reader stops at what the stream really holds.
        Assert.Contains("ends after", error.Message);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(8)]
    [InlineData(9)]
    [InlineData(100)]
    public void Read_TruncatedGzip_Fails(int bytesCut)
    {
        using var dir = new TempDirectory();
        var whole = Gzip([.. Header(8, 100, 28, 28), .. Enumerable.Range(0, 78400).Select(i => (byte)(i * 7919 >> 3))]);
        ReadFails(dir.File("cut.gz"), whole[..^bytesCut]);
    }

    [Fact]
    public void Read_CorruptGzip_Fails()
    {
        using var dir = new TempDirectory();
        var bytes = Gzip([.. Header(8, 100, 28, 28), .. new byte[78400]]);
        for (int i = 12; i < bytes.Length - 8; i++) bytes[i] ^= 0x5A;
        ReadFails(dir.File("corrupt.gz"), bytes);
    }

    [Fact]
    public void ReadImages_RejectsALabelFile()
    {
        using var dir = new TempDirectory();
        Idx.WriteLabels(dir.File("labels"), Tensor.FromArray([1, 2]));
        var error = Assert.Throws<ConvKitFormatException>(() => Idx.ReadImages(dir.File("labels")));
        Assert.Contains("expected images", error.Message);
    }
}
