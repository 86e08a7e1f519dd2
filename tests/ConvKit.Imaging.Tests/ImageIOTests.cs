using System.Buffers.Binary;
using ConvKit.IO;
using ConvKit.Tensors;
using ConvKit.Tests;
using SkiaSharp;

namespace ConvKit.Imaging.Tests;

public class ImageIOTests
{
    /// <summary>An (H, W, C) image whose values are exact multiples of 1/255, so PNG round trips are lossless.</summary>
    private static Tensor Gradient(int height, int width, int channels)
    {
        var image = Tensor.Zeros(height, width, channels);
        var values = image.Span;
        for (int i = 0; i < values.Length; i++) values[i] = (i * 29 % 256) / 255f;
        if (channels == 4)
            for (int p = 0; p < height * width; p++) values[4 * p + 3] = 1f;   // opaque, so colours survive unpremultiplied storage
        return image;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4)]
    public void SavePngThenLoad_RoundTrips(int channels)
    {
        using var dir = new TempDirectory();
        var image = Gradient(5, 7, channels);
        ImageIO.SavePng(image, dir.File("x.png"));

        var loaded = ImageIO.Load(dir.File("x.png"), channels);

        Assert.Equal(new Shape(5, 7, channels), loaded.Shape);
        Assert.Equal(image.ToArray(), loaded.ToArray());
    }

    [Fact]
    public void SavePng_TakesTwoDimensionalGrayscale_AndWritesARealPng()
    {
        using var dir = new TempDirectory();
        ImageIO.SavePng(Tensor.FromArray([0f, 0.5f, 1f, 2f], 2, 2), dir.File("g.png"));

        var bytes = File.ReadAllBytes(dir.File("g.png"));
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
        Assert.Equal(new[] { 0f, 128 / 255f, 1f, 1f }, ImageIO.Load(dir.File("g.png"), channels: 1).ToArray());
    }

    [Fact]
    public void Load_Grayscale_UsesPillowLuma()
    {
        using var dir = new TempDirectory();
        // Pure red, green and blue: L = 0.299·255, 0.587·255, 0.114·255 rounded = 76, 150, 29.
        ImageIO.SavePng(Tensor.FromArray([1, 0, 0, 0, 1, 0, 0, 0, 1], 1, 3, 3), dir.File("rgb.png"));
        var gray = ImageIO.Load(dir.File("rgb.png"), channels: 1);
        Assert.Equal(new[] { 76 / 255f, 150 / 255f, 29 / 255f }, gray.ToArray());
    }

    [Fact]
    public void Load_Resizes_ToTheRequestedHeightAndWidth()
    {
        using var dir = new TempDirectory();
        var flat = Tensor.Full(new Shape(8, 6, 3), 100 / 255f);
        ImageIO.SavePng(flat, dir.File("flat.png"));

        var resized = ImageIO.Load(dir.File("flat.png"), channels: 3, resizeTo: (4, 5));

        Assert.Equal(new Shape(4, 5, 3), resized.Shape);
        Assert.All(resized.ToArray(), v => Assert.Equal(100 / 255f, v, 3));
    }

    [Fact]
    public void Load_Jpeg_Decodes()
    {
        using var dir = new TempDirectory();
        using (var bitmap = new SKBitmap(new SKImageInfo(4, 4, SKColorType.Rgba8888, SKAlphaType.Opaque)))
        {
            bitmap.Erase(new SKColor(200, 100, 50));
            using var jpeg = bitmap.Encode(SKEncodedImageFormat.Jpeg, 95);
            File.WriteAllBytes(dir.File("c.jpg"), jpeg.ToArray());
        }
        var image = ImageIO.Load(dir.File("c.jpg"));
        Assert.Equal(new Shape(4, 4, 3), image.Shape);
        Assert.Equal(200 / 255f, image[0, 0, 0], 1);
        Assert.Equal(50 / 255f, image[3, 3, 2], 1);
    }

    [Fact]
    public void Load_NotAnImage_NamesTheFile()
    {
        using var dir = new TempDirectory();
        string path = dir.File("fake.png");
        File.WriteAllText(path, "this is not a picture");
        var error = Assert.Throws<ConvKitFormatException>(() => ImageIO.Load(path));
        Assert.Equal(path, error.FilePath);
        Assert.Contains("not a readable image", error.Message);
    }

    [Fact]
    public void Load_TruncatedPng_NamesTheFile()
    {
        using var dir = new TempDirectory();
        string path = dir.File("cut.png");
        var noise = Tensor.RandomUniform(new Shape(64, 64, 3), seed: 3);
        ImageIO.SavePng(noise, path);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);

        var error = Assert.Throws<ConvKitFormatException>(() => ImageIO.Load(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("truncated", error.Message);
    }

    [Fact]
    public void Load_MissingFile_IsFileNotFound()
    {
        using var dir = new TempDirectory();
        Assert.Throws<FileNotFoundException>(() => ImageIO.Load(dir.File("absent.png")));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(5)]
    public void Load_RejectsChannelCountsOtherThan134(int channels)
    {
        using var dir = new TempDirectory();
        Assert.Throws<ArgumentOutOfRangeException>(() => ImageIO.Load(dir.File("x.png"), channels));
    }

    [Fact]
    public void SavePng_RejectsOtherShapes()
    {
        using var dir = new TempDirectory();
        Assert.Throws<ArgumentException>(() => ImageIO.SavePng(Tensor.Zeros(2, 2, 2), dir.File("x.png")));
        Assert.Throws<ArgumentException>(() => ImageIO.SavePng(Tensor.Zeros(1, 2, 2, 3), dir.File("x.png")));
    }

    /// <summary>A real 2×2 PNG whose IHDR chunk is rewritten to declare <paramref name="width"/>×<paramref name="height"/> (CRC fixed).</summary>
    private static byte[] PngDeclaring(string path, int width, int height)
    {
        ImageIO.SavePng(Tensor.Zeros(2, 2, 3), path);
        var bytes = File.ReadAllBytes(path);
        // Signature (8 bytes), then IHDR: length (4), "IHDR" (4), width (4), height (4), 5 more bytes, CRC over type and data.
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(16), width);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(20), height);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(29), Crc(bytes.AsSpan(12, 17)));
        return bytes;
    }

    /// <summary>A 54-byte BMP header (BITMAPINFOHEADER, 24 bits) declaring <paramref name="width"/>×<paramref name="height"/> and no pixels.</summary>
    private static byte[] BmpDeclaring(int width, int height)
    {
        var bytes = new byte[54];
        bytes[0] = (byte)'B';
        bytes[1] = (byte)'M';
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(2), 54);         // file size
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(10), 54);        // pixel data offset
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(14), 40);        // info header size
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(18), width);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(22), height);
        BinaryPrimitives.WriteInt16LittleEndian(bytes.AsSpan(26), 1);         // planes
        BinaryPrimitives.WriteInt16LittleEndian(bytes.AsSpan(28), 24);        // bits per pixel
        return bytes;
    }

    /// <summary>CRC-32 as PNG chunks carry it (reflected polynomial 0xEDB88320).</summary>
    private static uint Crc(ReadOnlySpan<byte> data)
    {
        uint c = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            c ^= b;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
        }
        return ~c;
    }

    [Theory]
    [InlineData("png", 16385, 16384)]   // one row over 2^28 pixels
    [InlineData("png", 20000, 20000)]
    [InlineData("bmp", 30000, 30000)]
    public void Load_HeaderDeclaringTooManyPixels_NamesTheFileWithoutAllocating(string format, int width, int height)
    {
        using var dir = new TempDirectory();
        string path = dir.File($"huge.{format}");
        File.WriteAllBytes(path, format == "png" ? PngDeclaring(dir.File("small.png"), width, height) : BmpDeclaring(width, height));
        Assert.True(new FileInfo(path).Length < 1024);

        long before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<ConvKitFormatException>(() => ImageIO.Load(path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(path, error.FilePath);
        Assert.Contains($"declares {width}×{height} pixels", error.Message);
        Assert.True(allocated < 64L << 20, $"Loading allocated {allocated:N0} bytes.");
    }
}
