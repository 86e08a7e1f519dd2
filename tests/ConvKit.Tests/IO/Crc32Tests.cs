using ConvKit.IO;

namespace ConvKit.Tests.IO;

public class Crc32Tests
{
    [Fact]
    public void Compute_MatchesTheStandardCheckValue() => Assert.Equal(0xCBF43926u, Crc32.Compute("123456789"u8));

    [Fact]
    public void Append_EqualsComputingTheWhole() =>
        Assert.Equal(Crc32.Compute("hello world"u8), Crc32.Append(Crc32.Compute("hello "u8), "world"u8));
}
