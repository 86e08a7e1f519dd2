using ConvKit.Data;

namespace ConvKit.Tests;

/// <summary>A test that needs Fashion-MNIST in its default directory; skipped, saying how to get it, when it is not there.</summary>
internal sealed class FactWithFashionMnistAttribute : FactAttribute
{
    public FactWithFashionMnistAttribute()
    {
        if (!File.Exists(Path.Combine(FashionMnist.DefaultDirectory, "t10k-labels-idx1-ubyte.gz")))
            Skip = $"Fashion-MNIST is not in {FashionMnist.DefaultDirectory}; apt-get install dataset-fashion-mnist to run this test.";
    }
}
