using ConvKit.Data;
using ConvKit.Tensors;

namespace ConvKit.Imaging;

/// <summary>
/// A labelled data set from a directory with one subdirectory per class, as Keras's <c>image_dataset_from_directory</c>:
/// <code>
/// root/cat/001.png
/// root/cat/002.jpg
/// root/dog/001.png
/// </code>
/// Classes are the subdirectory names sorted ordinally (label 0 = first); files are sorted within each class.
/// </summary>
public static class ImageFolderDataset
{
    /// <summary>The file extensions read, as Keras's (case-insensitive).</summary>
    public static IReadOnlyList<string> Extensions { get; } = [".bmp", ".gif", ".jpeg", ".jpg", ".png"];

    /// <summary>
    /// Loads every image under <paramref name="root"/>, resized to <paramref name="height"/>×<paramref name="width"/>
    /// with <paramref name="channels"/> channels (see <see cref="ImageIO.Load"/>), into a <see cref="Dataset"/>
    /// whose images are <c>(N, height, width, channels)</c>, labels the class indices and <see cref="Dataset.ClassNames"/> the subdirectory names.
    /// </summary>
    /// <exception cref="IO.ConvKitFormatException">An image cannot be decoded; the message names the file.</exception>
    public static Dataset Load(string root, int height, int width, int channels = 3)
    {
        ImageIO.CheckChannels(channels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"The image folder '{root}' does not exist.");

        var classDirectories = Directory.GetDirectories(root)
            .Where(d => !Path.GetFileName(d).StartsWith('.'))
            .Order(StringComparer.Ordinal)
            .ToArray();
        if (classDirectories.Length == 0)
            throw new ArgumentException($"The image folder '{root}' has no subdirectories; put each class's images in a subdirectory named after the class.", nameof(root));

        var files = new List<(string Path, int Label)>();
        for (int label = 0; label < classDirectories.Length; label++)
        {
            files.AddRange(Directory.EnumerateFiles(classDirectories[label], "*", SearchOption.AllDirectories)
                .Where(IsImage)
                .Order(StringComparer.Ordinal)
                .Select(path => (path, label)));
        }
        if (files.Count == 0)
            throw new ArgumentException($"The image folder '{root}' holds no {string.Join("/", Extensions)} files in its class subdirectories.", nameof(root));

        var images = Tensor.Zeros(files.Count, height, width, channels);
        var labels = Tensor.Zeros(files.Count);
        int sampleSize = height * width * channels;
        for (int i = 0; i < files.Count; i++)
        {
            ImageIO.Load(files[i].Path, channels, (height, width)).Span.CopyTo(images.Span.Slice(i * sampleSize, sampleSize));
            labels.Span[i] = files[i].Label;
        }
        return new Dataset(images, labels, classDirectories.Select(d => Path.GetFileName(d)).ToArray());
    }

    private static bool IsImage(string path) =>
        !Path.GetFileName(path).StartsWith('.') && Extensions.Contains(Path.GetExtension(path).ToLowerInvariant());
}
