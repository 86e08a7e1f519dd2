using System.IO.Compression;
using ConvKit.IO;

namespace ConvKit.Tests.IO;

public class AtomicFileTests
{
    [Fact]
    public void Write_CreatesAndReplacesTheFile()
    {
        using var dir = new TempDirectory();
        string path = dir.File("a.bin");
        AtomicFile.WriteAllBytes(path, new byte[] { 1, 2, 3 });
        AtomicFile.WriteAllBytes(path, new byte[] { 4, 5 });
        Assert.Equal(new byte[] { 4, 5 }, File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Write_WhenTheWriterFails_LeavesTheOldFileAndNoTemporaryFile()
    {
        using var dir = new TempDirectory();
        string path = dir.File("a.bin");
        AtomicFile.WriteAllBytes(path, new byte[] { 1, 2, 3 });

        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, stream =>
        {
            stream.Write(new byte[1000]);
            throw new InvalidOperationException("crash halfway");
        }));

        Assert.Equal(new byte[] { 1, 2, 3 }, File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Write_ThroughAWrapperThatClosesTheStream_StillCompletes()
    {
        using var dir = new TempDirectory();
        string path = dir.File("a.gz");
        AtomicFile.Write(path, stream =>
        {
            using var gzip = new GZipStream(stream, CompressionLevel.Fastest);
            gzip.Write(new byte[] { 7, 8, 9 });
        });
        using var reader = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        var buffer = new byte[3];
        reader.ReadExactly(buffer);
        Assert.Equal(new byte[] { 7, 8, 9 }, buffer);
    }
}
