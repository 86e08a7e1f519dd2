using ConvKit.Operations;
using ConvKit.Tensors;

namespace ConvKit.Tests.Operations;

public class TransposeTests
{
    /// <summary>y[i_0, …] = x at the index whose axis permutation[a] is i_a, for every element: the definition, by hand.</summary>
    private static float[] Expected(Tensor x, int[] permutation)
    {
        var outDims = permutation.Select(p => x.Shape[p]).ToArray();
        var result = new float[x.Size];
        var inStrides = x.Shape.Strides();
        var index = new int[outDims.Length];
        var values = x.ToArray();
        for (int flat = 0; flat < result.Length; flat++)
        {
            int rest = flat, at = 0;
            for (int a = outDims.Length - 1; a >= 0; a--)
            {
                index[a] = rest % outDims[a];
                rest /= outDims[a];
            }
            for (int a = 0; a < outDims.Length; a++) at += index[a] * inStrides[permutation[a]];
            result[flat] = values[at];
        }
        return result;
    }

    private static IEnumerable<int[]> Permutations(int n) =>
        n == 1 ? [[0]] : Permutations(n - 1).SelectMany(p => Enumerable.Range(0, n).Select(i => p[..i].Append(n - 1).Concat(p[i..]).ToArray()));

    [Theory]
    [InlineData(new[] { 5 })]
    [InlineData(new[] { 3, 17 })]
    [InlineData(new[] { 33, 2, 7 })]
    [InlineData(new[] { 20, 18, 3, 3 })]      // an ONNX kernel (K, C, R, S): 8 × 8 and 4 × 8 blocks with ragged edges
    [InlineData(new[] { 2, 1, 5, 19, 1 })]
    public void EveryPermutationMovesEveryElementWhereTheDefinitionSays(int[] dims)
    {
        var x = Tensor.RandomNormal(new Shape(dims), 0f, 1f, dims.Sum());
        foreach (var permutation in Permutations(dims.Length))
        {
            var y = Ops.Transpose(x, permutation);
            Assert.Equal(permutation.Select(p => dims[p]).ToArray(), y.Shape.ToArray());
            Assert.Equal(Expected(x, permutation), y.ToArray());
        }
    }

    [Fact]
    public void AScalarTransposesToItself()
    {
        var y = Ops.Transpose(Tensor.Scalar(4.5f), []);
        Assert.Equal(0, y.Rank);
        Assert.Equal(4.5f, y.Item());
    }

    [Fact]
    public void AnEmptyAxisGivesAnEmptyResult()
    {
        var y = Ops.Transpose(Tensor.Zeros(new Shape(2, 0, 3)), 2, 0, 1);
        Assert.Equal(new[] { 3, 2, 0 }, y.Shape.ToArray());
        Assert.Equal(0, y.Size);
    }
}
