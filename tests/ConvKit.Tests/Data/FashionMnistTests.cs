using ConvKit.Data;
using ConvKit.Tensors;

namespace ConvKit.Tests.Data;

public class FashionMnistTests
{
    [FactWithFashionMnist]
    public void LoadTest_ReadsTheInstalledDataSet()
    {

        var test = FashionMnist.LoadTest();

        Assert.Equal(new Shape(10000, 28, 28, 1), test.Images.Shape);
        Assert.Equal(new Shape(10000), test.Labels.Shape);
        Assert.All(test.Labels.ToArray(), label => Assert.InRange(label, 0, 9));
        // The published first test labels: ankle boot, pullover, trouser, trouser, shirt.
        Assert.Equal(new float[] { 9, 2, 1, 1, 6 }, test.Labels.ToArray()[..5]);
        Assert.Equal("Ankle boot", test.ClassNames![(int)test.Labels.Span[0]]);
        Assert.Equal(1000, test.Labels.ToArray().Count(label => label == 0));
        // The first image's bytes sum to 33,456 and reach 255.
        var first = test.Images.Span[..784];
        Assert.Equal(33456f / 255f, System.Numerics.Tensors.TensorPrimitives.Sum(first), 2);
        Assert.Equal(1f, System.Numerics.Tensors.TensorPrimitives.Max(first));
    }

    [Fact]
    public void Load_AcceptsPlainAndCompressedFileNames()
    {
        using var dir = new TempDirectory();
        var images = Tensor.Zeros(2, 28, 28, 1);
        images.Span[0] = 1;
        Idx.WriteImages(dir.File("t10k-images-idx3-ubyte"), images);
        Idx.WriteLabels(dir.File("t10k-labels-idx1-ubyte.gz"), Tensor.FromArray([3, 8]));

        var test = FashionMnist.LoadTest(dir.Path);

        Assert.Equal(images.ToArray(), test.Images.ToArray());
        Assert.Equal(new float[] { 3, 8 }, test.Labels.ToArray());
        Assert.Equal("Bag", test.ClassNames![8]);
    }

    [Fact]
    public void Load_MissingDirectoryOrFile_SaysHowToGetTheData()
    {
        using var dir = new TempDirectory();
        var missingDirectory = Assert.Throws<DirectoryNotFoundException>(() => FashionMnist.LoadTest(dir.File("nowhere")));
        Assert.Contains("apt-get install dataset-fashion-mnist", missingDirectory.Message);

        var missingFile = Assert.Throws<FileNotFoundException>(() => FashionMnist.LoadTrain(dir.Path));
        Assert.Contains("train-images-idx3-ubyte", missingFile.Message);
        Assert.Contains("apt-get install dataset-fashion-mnist", missingFile.Message);
    }

    [Fact]
    public void Load_LabelCountDifferentFromImageCount_IsAFormatError()
    {
        using var dir = new TempDirectory();
        Idx.WriteImages(dir.File("train-images-idx3-ubyte.gz"), Tensor.Zeros(3, 28, 28, 1));
        Idx.WriteLabels(dir.File("train-labels-idx1-ubyte.gz"), Tensor.FromArray([1, 2]));
        var error = Assert.Throws<ConvKit.IO.ConvKitFormatException>(() => Mnist.LoadTrain(dir.Path));
        Assert.Contains("2 labels", error.Message);
        Assert.Contains("3 images", error.Message);
    }

    [Fact]
    public void Load_LabelOutsideTheClasses_IsAFormatError()
    {
        using var dir = new TempDirectory();
        Idx.WriteImages(dir.File("train-images-idx3-ubyte.gz"), Tensor.Zeros(2, 28, 28, 1));
        Idx.WriteLabels(dir.File("train-labels-idx1-ubyte.gz"), Tensor.FromArray([1, 12]));
        var error = Assert.Throws<ConvKit.IO.ConvKitFormatException>(() => FashionMnist.LoadTrain(dir.Path));
        Assert.Contains("label 1 is 12", error.Message);
    }
}
