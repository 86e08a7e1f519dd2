using System.Buffers.Binary;
using System.Text;
using ConvKit.IO;
using ConvKit.Tensors;

namespace ConvKit.Tests.IO;

public class SafeTensorsTests
{
    [Fact]
    public void SaveLoad_RoundTrip_TensorsAndMetadata()
    {
        using var dir = new TempDirectory();
        var tensors = new Dictionary<string, Tensor>
        {
            ["conv2d/kernel"] = Tensor.RandomNormal(new Shape(3, 3, 1, 4), seed: 1),
            ["conv2d/bias"] = Tensor.FromArray([1, 2, 3, 4]),
            ["scalar"] = Tensor.Scalar(2.5f),
            ["empty"] = Tensor.Zeros(0, 3),
        };
        var metadata = new Dictionary<string, string> { ["format"] = "convkit", ["epoch"] = "3" };

        SafeTensors.Save(dir.File("w.safetensors"), tensors, metadata);
        var (loaded, loadedMetadata) = SafeTensors.Load(dir.File("w.safetensors"));

        Assert.Equal(tensors.Keys.Order(), loaded.Keys.Order());
        foreach (var (name, tensor) in tensors)
        {
            Assert.Equal(tensor.Shape, loaded[name].Shape);
            Assert.Equal(tensor.ToArray(), loaded[name].ToArray());
        }
        Assert.Equal(metadata, loadedMetadata);
    }

    [Fact]
    public void Save_WritesTheReferenceLayout()
    {
        using var dir = new TempDirectory();
        SafeTensors.Save(dir.File("w.safetensors"), new Dictionary<string, Tensor> { ["b"] = Tensor.FromArray([1f]), ["a"] = Tensor.FromArray([2f, 3f]) });

        var bytes = File.ReadAllBytes(dir.File("w.safetensors"));
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        string header = Encoding.UTF8.GetString(bytes, 8, (int)headerLength);

        Assert.Equal(0, (8 + headerLength) % 8);
        Assert.Equal(
            """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}""",
            header.TrimEnd(' '));
        Assert.Equal(8 + headerLength + 12, bytes.Length);
        Assert.Equal(2f, BitConverter.ToSingle(bytes, (int)(8 + headerLength)));
    }

    // ---- hostile inputs ---------------------------------------------------------------------

    /// <summary>A file made of <paramref name="header"/> (JSON, its length prefixed unless given) and <paramref name="dataLength"/> bytes of data.</summary>
    private static byte[] HandMadeFile(string header, int dataLength, ulong? declaredHeaderLength = null)
    {
        var json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + dataLength];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declaredHeaderLength ?? (ulong)json.Length);
        json.CopyTo(bytes, 8);
        return bytes;
    }

    private static ConvKitFormatException LoadFails(byte[] contents, string expectedProblem)
    {
        using var dir = new TempDirectory();
        string path = dir.File("model.safetensors");
        File.WriteAllBytes(path, contents);
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<ConvKitFormatException>(() => SafeTensors.Load(path));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - allocatedBefore < 16 << 20, "the reader allocated more than 16 MiB before failing");
        Assert.Contains(path, error.Message);
        Assert.Contains(expectedProblem, error.Message);
        return error;
    }

    private const string OneTensor = """{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}""";

    [Fact]
    public void Load_ValidHandMadeFile_Works()
    {
        using var dir = new TempDirectory();
        var bytes = HandMadeFile(OneTensor, 16);
        BitConverter.GetBytes(1.5f).CopyTo(bytes, bytes.Length - 4);
        File.WriteAllBytes(dir.File("x"), bytes);
        var (tensors, metadata) = SafeTensors.Load(dir.File("x"));
        Assert.Equal(new Shape(2, 2), tensors["w"].Shape);
        Assert.Equal(1.5f, tensors["w"][1, 1]);
        Assert.Empty(metadata);
    }

    [Fact]
    public void Load_ShorterThanTheLengthPrefix_Fails() => LoadFails([1, 2, 3], "fewer than the 8-byte");

    [Fact]
    public void Load_HeaderLengthBeyondTheFile_Fails() => LoadFails(HandMadeFile(OneTensor, 16, declaredHeaderLength: ulong.MaxValue), "only");

    [Fact]
    public void Load_HeaderLengthAboveTheLimit_Fails()
    {
        // Claims a 200 MB header on a small file: rejected by the file-size check before any allocation.
        LoadFails(HandMadeFile(OneTensor, 16, declaredHeaderLength: 200_000_000), "header length");
    }

    [Theory]
    [InlineData("{\"w\":", "not valid JSON")]
    [InlineData("[1,2]", "expected an object")]
    [InlineData("""{"w":{"dtype":"F32","shape":[2,2]}}""", "data_offsets")]
    [InlineData("""{"w":{"shape":[2,2],"data_offsets":[0,16]}}""", "dtype")]
    [InlineData("""{"w":{"dtype":"F32","shape":[2,-2],"data_offsets":[0,16]}}""", "non-negative integer")]
    [InlineData("""{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16,32]}}""", "expected 2")]
    [InlineData("""{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}""", "twice")]
    [InlineData("""{"__metadata__":{"epoch":3},"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}""", "expected a string")]
    public void Load_MalformedHeader_Fails(string header, string expectedProblem) => LoadFails(HandMadeFile(header, 16), expectedProblem);

    [Theory]
    [InlineData("F16")]
    [InlineData("BF16")]
    [InlineData("I64")]
    public void Load_OtherDtypes_AreRejectedByName(string dtype) =>
        LoadFails(HandMadeFile($$$"""{"w":{"dtype":"{{{dtype}}}","shape":[2,2],"data_offsets":[0,16]}}""", 16), $"dtype {dtype}");

    [Fact]
    public void Load_ShapeThatDisagreesWithOffsets_Fails() =>
        LoadFails(HandMadeFile("""{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,16]}}""", 16), "span 16 bytes");

    [Fact]
    public void Load_HugeShape_FailsWithoutAllocating() =>
        LoadFails(HandMadeFile("""{"w":{"dtype":"F32","shape":[100000,100000],"data_offsets":[0,16]}}""", 16), "larger than one .NET array");

    [Fact]
    public void Load_OffsetsPastTheData_Fail() =>
        LoadFails(HandMadeFile("""{"w":{"dtype":"F32","shape":[1000000],"data_offsets":[0,4000000]}}""", 16), "past the end");

    [Fact]
    public void Load_ReversedOffsets_Fail() =>
        LoadFails(HandMadeFile("""{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}""", 16), "end before they begin");

    [Fact]
    public void Load_OverlappingTensors_Fail() =>
        LoadFails(HandMadeFile("""{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}""", 16), "overlap");

    [Fact]
    public void Load_GapBetweenTensors_Fails() =>
        LoadFails(HandMadeFile("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}""", 12), "belong to no tensor");

    [Fact]
    public void Load_TrailingDataAfterTheTensors_Fails() => LoadFails(HandMadeFile(OneTensor, 20), "cover 16 bytes");
}
