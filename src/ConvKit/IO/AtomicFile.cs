namespace ConvKit.IO;

/// <summary>
/// Writes files so that a crash leaves either the old file or the new one, never half of one:
/// the contents go to a temporary file in the same directory, are flushed to disk, and the
/// temporary file is then renamed over the target (rename within one file system is atomic).
/// </summary>
public static class AtomicFile
{
    /// <summary>
    /// Creates or replaces <paramref name="path"/> with what <paramref name="writeContents"/> writes
    /// to the stream it is given. Wrappers such as <see cref="System.IO.Compression.GZipStream"/>
    /// may close that stream; the temporary file is flushed and renamed all the same.
    /// </summary>
    public static void Write(string path, Action<Stream> writeContents)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(writeContents);
        string fullPath = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(fullPath) ?? throw new ArgumentException($"'{path}' has no directory.", nameof(path));
        // Same directory, so the rename never crosses file systems; a dot name keeps it out of listings.
        string temporaryPath = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var file = new FileStream(temporaryPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16))
            {
                writeContents(new NonClosingStream(file));
                file.Flush(flushToDisk: true);
            }
            File.Move(temporaryPath, fullPath, overwrite: true);
        }
        catch
        {
            File.Delete(temporaryPath);
            throw;
        }
    }

    /// <summary>Creates or replaces <paramref name="path"/> with <paramref name="bytes"/>.</summary>
    public static void WriteAllBytes(string path, ReadOnlyMemory<byte> bytes) =>
        Write(path, stream => stream.Write(bytes.Span));

    /// <summary>Passes everything through but ignores Dispose, so the flush-and-rename above always sees an open file.</summary>
    private sealed class NonClosingStream(Stream inner) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);
        public override void Write(ReadOnlySpan<byte> buffer) => inner.Write(buffer);
        public override void WriteByte(byte value) => inner.WriteByte(value);
        protected override void Dispose(bool disposing) => inner.Flush();
    }
}
