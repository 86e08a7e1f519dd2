using ConvKit.IO;
using ConvKit.Tensors;
using SkiaSharp;

namespace ConvKit.Imaging;

/// <summary>
/// Image files (PNG, JPEG, BMP, GIF, WebP; decoded by SkiaSharp) to and from tensors <c>(H, W, C)</c> with values in [0, 1].
/// </summary>
public static class ImageIO
{
    /// <summary>The largest image decoded: 2^28 pixels (a 16384×16384 image), 1 GiB as RGBA bytes.</summary>
    public const long MaxPixels = 1L << 28;

    /// <summary>
    /// Decodes <paramref name="path"/> to a tensor <c>(H, W, channels)</c> of values <c>byte / 255</c>:
    /// 1 channel is luminance <c>L = 0.299 R + 0.587 G + 0.114 B</c> (as Pillow's <c>convert("L")</c>, which Keras uses),
    /// 3 is RGB, 4 is RGBA (not premultiplied). With <paramref name="resizeTo"/>, the image is first resized
    /// bilinearly to that (height, width), like Keras's <c>image_dataset_from_directory</c>.
    /// </summary>
    /// <exception cref="ConvKitFormatException">The file is not a decodable image, or is truncated.</exception>
    public static Tensor Load(string path, int channels = 3, (int Height, int Width)? resizeTo = null)
    {
        CheckChannels(channels);
        if (resizeTo is { } size && (size.Height <= 0 || size.Width <= 0))
            throw new ArgumentOutOfRangeException(nameof(resizeTo), $"Resize needs a positive height and width; received {size}.");

        using var decoded = Decode(path);
        if (resizeTo is not { } target || (target.Height == decoded.Height && target.Width == decoded.Width))
            return ToTensor(decoded.GetPixelSpan(), decoded.Height, decoded.Width, channels);
        using var resized = decoded.Resize(decoded.Info.WithSize(target.Width, target.Height), new SKSamplingOptions(SKFilterMode.Linear))
            ?? throw new InvalidOperationException($"SkiaSharp could not resize '{path}' from {decoded.Height}×{decoded.Width} to {target.Height}×{target.Width}.");
        return ToTensor(resized.GetPixelSpan(), target.Height, target.Width, channels);
    }

    /// <summary>
    /// Writes <paramref name="image"/> <c>(H, W)</c> or <c>(H, W, C)</c> with C = 1, 3 or 4 as a PNG file, atomically.
    /// Values are clamped to [0, 1] and stored as <c>round(255·x)</c>.
    /// </summary>
    public static void SavePng(Tensor image, string path)
    {
        ArgumentNullException.ThrowIfNull(image);
        var shape = image.Shape;
        int channels = shape.Rank == 2 ? 1 : shape.Rank == 3 ? shape[2] : 0;
        if (channels is not (1 or 3 or 4))
            throw new ArgumentException($"SavePng takes an image (H, W) or (H, W, C) with C = 1, 3 or 4; received {shape}.", nameof(image));
        int height = shape[0], width = shape[1];

        var info = channels == 1
            ? new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque)
            : new SKImageInfo(width, height, SKColorType.Rgba8888, channels == 4 ? SKAlphaType.Unpremul : SKAlphaType.Opaque);
        var pixels = new byte[info.BytesSize64];
        var values = image.Span;
        int stride = channels == 1 ? 1 : 4;
        for (int p = 0; p < height * width; p++)
        {
            for (int c = 0; c < channels; c++) pixels[p * stride + c] = ToByte(values[p * channels + c]);
            if (channels == 3) pixels[p * stride + 3] = 255;
        }

        using var skImage = SKImage.FromPixelCopy(info, pixels) ?? throw new InvalidOperationException($"SkiaSharp could not wrap a {height}×{width} image.");
        using var png = skImage.Encode(SKEncodedImageFormat.Png, 100) ?? throw new InvalidOperationException($"SkiaSharp could not encode a {height}×{width} PNG.");
        AtomicFile.WriteAllBytes(path, png.ToArray());
    }

    /// <summary>Decodes the whole file to unpremultiplied RGBA, checking the size before allocating and failing on truncation.</summary>
    private static SKBitmap Decode(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"The image '{path}' does not exist.", path);
        using var codec = SKCodec.Create(path, out var createResult)
            ?? throw new ConvKitFormatException(path, $"not a readable image ({Describe(createResult)}); ConvKit reads PNG, JPEG, BMP, GIF and WebP.");
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        if (info.Width <= 0 || info.Height <= 0 || (long)info.Width * info.Height > MaxPixels)
            throw new ConvKitFormatException(path, $"the image declares {info.Width}×{info.Height} pixels; ConvKit decodes 1 to {MaxPixels:N0} pixels.");

        var bitmap = new SKBitmap(info);
        var result = codec.GetPixels(info, bitmap.GetPixels());
        if (result != SKCodecResult.Success)
        {
            bitmap.Dispose();
            throw new ConvKitFormatException(path, $"the {codec.EncodedFormat} image of {info.Width}×{info.Height} could not be decoded ({Describe(result)}).");
        }
        return bitmap;
    }

    private static string Describe(SKCodecResult result) => result switch
    {
        SKCodecResult.IncompleteInput => "the file is truncated",
        SKCodecResult.ErrorInInput => "the data is corrupt",
        SKCodecResult.Unimplemented => "an unsupported format or variant",
        _ => result.ToString(),
    };

    /// <summary>Converts RGBA bytes <c>[H, W, 4]</c> to a tensor <c>(H, W, channels)</c> in [0, 1].</summary>
    private static Tensor ToTensor(ReadOnlySpan<byte> rgba, int height, int width, int channels)
    {
        var tensor = Tensor.Zeros(height, width, channels);
        var values = tensor.Span;
        for (int p = 0; p < height * width; p++)
        {
            var pixel = rgba.Slice(4 * p, 4);
            if (channels == 1)
            {
                // Pillow's fixed-point ITU-R 601-2 luma, so grayscale matches Keras's load_img to the byte.
                values[p] = ((pixel[0] * 19595 + pixel[1] * 38470 + pixel[2] * 7471 + 0x8000) >> 16) / 255f;
                continue;
            }
            for (int c = 0; c < channels; c++) values[p * channels + c] = pixel[c] / 255f;
        }
        return tensor;
    }

    private static byte ToByte(float value) => float.IsNaN(value) ? (byte)0 : (byte)MathF.Round(Math.Clamp(value, 0f, 1f) * 255f);

    internal static void CheckChannels(int channels)
    {
        if (channels is not (1 or 3 or 4))
            throw new ArgumentOutOfRangeException(nameof(channels), $"Images have 1 (grayscale), 3 (RGB) or 4 (RGBA) channels; received {channels}.");
    }
}
