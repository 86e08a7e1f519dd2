namespace ConvKit.IO;

/// <summary>
/// A file that ConvKit reads is malformed: truncated, of the wrong kind, or inconsistent with itself.
/// Every reader raises this one type, and its message names the file and what is wrong, e.g.
/// <c>'/data/train-images-idx3-ubyte.gz': header says 60000 images of 28×28 (47,040,000 bytes) but the data ends after 1,234 bytes.</c>
/// </summary>
public sealed class ConvKitFormatException : Exception
{
    public ConvKitFormatException(string path, string problem, Exception? innerException = null)
        : base($"'{path}': {problem}", innerException)
    {
        FilePath = path;
        Problem = problem;
    }

    /// <summary>The file that was being read.</summary>
    public string FilePath { get; }

    /// <summary>What is wrong with it, without the file name.</summary>
    public string Problem { get; }
}
