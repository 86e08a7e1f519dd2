using CsCheck;
using ConvKit.Kernels;
using ConvKit.Operations;
using ConvKit.Signal;
using ConvKit.Tensors;

namespace ConvKit.Tests.Signal;

public class ConvolutionTests
{
    [Fact]
    public void FullConvolutionOfTheSeedExample()
    {
        Assert.Equal([2, 5, 3], Convolution.Convolve([2, 3], [1, 1], ConvolutionMode.Full));
        Assert.Equal("[2 3] * [1 1] = [2 5 3]",
            $"{Convolution.Format([2, 3])} * {Convolution.Format([1, 1])} = {Convolution.Format(Convolution.Convolve([2, 3], [1, 1]))}");
    }

    [Fact]
    public void ModesMatchNumpy()
    {
        // numpy.convolve([1, 2, 3], [0, 1, 0.5], mode) — from NumPy's documentation.
        Assert.Equal([0, 1, 2.5, 4, 1.5], Convolution.Convolve([1, 2, 3], [0, 1, 0.5], ConvolutionMode.Full));
        Assert.Equal([1, 2.5, 4], Convolution.Convolve([1, 2, 3], [0, 1, 0.5], ConvolutionMode.Same));
        Assert.Equal([2.5], Convolution.Convolve([1, 2, 3], [0, 1, 0.5], ConvolutionMode.Valid));
        // numpy.correlate([1, 2, 3], [0, 1, 0.5]) == [3.5] and mode "same" == [2, 3.5, 3].
        Assert.Equal([3.5], Convolution.Correlate([1, 2, 3], [0, 1, 0.5]));
        Assert.Equal([2, 3.5, 3], Convolution.Correlate([1, 2, 3], [0, 1, 0.5], ConvolutionMode.Same));
        Assert.Throws<ArgumentException>(() => Convolution.Convolve([], [1.0]));
    }

    private static readonly Gen<double[]> Vector = Gen.Int[-9, 9].Select(i => (double)i).Array[1, 8];

    [Fact]
    public void ConvolutionIsAssociative() =>
        Gen.Select(Vector, Vector, Vector).Sample((f, g, h) =>
            Convolution.Convolve(Convolution.Convolve(f, g), h).SequenceEqual(Convolution.Convolve(f, Convolution.Convolve(g, h))));

    [Fact]
    public void ConvolutionIsCommutative() =>
        Gen.Select(Vector, Vector).Sample((f, g) => Convolution.Convolve(f, g).SequenceEqual(Convolution.Convolve(g, f)));

    [Fact]
    public void CorrelationIsConvolutionWithTheFilterReversed() =>
        Gen.Select(Vector, Vector).Sample((f, g) =>
            Convolution.Correlate(f, g, ConvolutionMode.Full).SequenceEqual(Convolution.Convolve(f, g.Reverse().ToArray(), ConvolutionMode.Full)));

    [Fact]
    public void TwoDimensionalConvolutionMatchesScipy()
    {
        // scipy.signal.convolve2d([[1,2],[3,4]], [[1,1],[1,1]]) == [[1,3,2],[4,10,6],[3,7,4]]
        var full = Convolution.Convolve2D(new double[,] { { 1, 2 }, { 3, 4 } }, new double[,] { { 1, 1 }, { 1, 1 } });
        Assert.Equal(new double[,] { { 1, 3, 2 }, { 4, 10, 6 }, { 3, 7, 4 } }, full);
        // With an asymmetric kernel the flip shows: convolve2d([[1,2],[3,4]], [[1,2],[0,0]], 'valid') flips the kernel to
        // [[0,0],[2,1]] and gives 3·2 + 4·1 = 10; correlate2d uses it as is: 1·1 + 2·2 = 5.
        Assert.Equal(new double[,] { { 10 } }, Convolution.Convolve2D(new double[,] { { 1, 2 }, { 3, 4 } }, new double[,] { { 1, 2 }, { 0, 0 } }, ConvolutionMode.Valid));
        Assert.Equal(new double[,] { { 5 } }, Convolution.Correlate2D(new double[,] { { 1, 2 }, { 3, 4 } }, new double[,] { { 1, 2 }, { 0, 0 } }));
        Assert.Equal(2, Convolution.Convolve2D(new double[3, 2], new double[2, 2], ConvolutionMode.Same).GetLength(1));
    }

    [Fact]
    public void AConv2DLayerComputesCrossCorrelation()
    {
        var random = new RandomSource(3);
        var image = new double[9, 8];
        var kernel = new double[3, 3];
        for (int i = 0; i < 9; i++) for (int j = 0; j < 8; j++) image[i, j] = random.NextInt(10);
        for (int i = 0; i < 3; i++) for (int j = 0; j < 3; j++) kernel[i, j] = random.NextInt(5) - 2;
        var expected = Convolution.Correlate2D(image, kernel);

        var x = Tensor.Zeros(1, 9, 8, 1);
        var w = Tensor.Zeros(3, 3, 1, 1);
        for (int i = 0; i < 9; i++) for (int j = 0; j < 8; j++) x[0, i, j, 0] = (float)image[i, j];
        for (int i = 0; i < 3; i++) for (int j = 0; j < 3; j++) w[i, j, 0, 0] = (float)kernel[i, j];
        var y = Ops.Conv2D(x, w);
        Assert.Equal(new Shape(1, 7, 6, 1), y.Shape);
        for (int i = 0; i < 7; i++) for (int j = 0; j < 6; j++) Assert.Equal(expected[i, j], y[0, i, j, 0]);
    }

    [Fact]
    public void EdgeFiltersFindTheirEdges()
    {
        // A bright right half: a vertical edge. Its transpose has a horizontal edge.
        var vertical = new double[8, 8];
        var horizontal = new double[8, 8];
        var diagonal = new double[8, 8];
        for (int i = 0; i < 8; i++)
            for (int j = 0; j < 8; j++)
            {
                vertical[i, j] = j >= 4 ? 1 : 0;
                horizontal[i, j] = i >= 4 ? 1 : 0;
                diagonal[i, j] = i > j ? 1 : 0; // bright below the main diagonal
            }
        double Peak(double[,] image, double[,] filter) => Convolution.Correlate2D(image, filter).Cast<double>().Max(Math.Abs);
        Assert.Equal(4, Peak(vertical, EdgeFilters.Vertical));
        Assert.Equal(0, Peak(vertical, EdgeFilters.Horizontal));
        Assert.Equal(4, Peak(horizontal, EdgeFilters.Horizontal));
        Assert.Equal(0, Peak(horizontal, EdgeFilters.Vertical));
        Assert.True(Peak(diagonal, EdgeFilters.Diagonal) > Peak(diagonal, EdgeFilters.AntiDiagonal));

        // The same four filters as one Conv2D kernel on a 3-channel picture.
        var picture = Tensor.Zeros(1, 8, 8, 3);
        for (int i = 0; i < 8; i++) for (int j = 4; j < 8; j++) for (int c = 0; c < 3; c++) picture[0, i, j, c] = 1;
        var maps = Ops.Conv2D(picture, EdgeFilters.AsConv2DKernel(3), padding: Padding.Valid);
        Assert.Equal(4f, maps[0, 2, 2, 0], 4);
        Assert.Equal(0f, maps[0, 2, 2, 1], 4);
    }
}
