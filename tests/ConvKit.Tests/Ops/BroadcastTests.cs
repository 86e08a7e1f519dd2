using ConvKit.Autograd;
using ConvKit.Operations;
using ConvKit.Tensors;

namespace ConvKit.Tests.Operations;

public class BroadcastTests
{
    /// <summary>Σ of <paramref name="grad"/> into <paramref name="shape"/> by NumPy's rule, one element at a time, in double.</summary>
    private static double[] Reference(Tensor grad, Shape shape)
    {
        var result = new double[shape.Size];
        int rank = grad.Shape.Rank, offset = rank - shape.Rank;
        var index = new int[rank];
        for (int flat = 0; flat < grad.Shape.Size; flat++)
        {
            int rest = flat, target = 0;
            for (int axis = rank - 1; axis >= 0; axis--) { index[axis] = rest % grad.Shape[axis]; rest /= grad.Shape[axis]; }
            for (int axis = offset; axis < rank; axis++) target = target * shape[axis - offset] + (shape[axis - offset] == 1 ? 0 : index[axis]);
            result[target] += grad.Span[flat];
        }
        return result;
    }

    public static TheoryData<int[], int[]> Reductions => new()
    {
        { [2, 3, 4], [] },              // to one value: one vectorised sum
        { [5, 7, 9, 33], [1] },
        { [2, 3, 4], [4] },             // to the trailing axes: row sums
        { [1, 5, 6, 7], [1, 1, 1, 7] },
        { [4, 5, 6], [1, 5, 6] },
        { [4, 5, 1], [5, 1] },
        { [2, 3, 4], [2, 1, 4] },       // anything else: element by element
        { [2, 3, 4], [3, 1] },
        { [1, 6, 2], [1, 1, 2] },
    };

    [Theory]
    [MemberData(nameof(Reductions))]
    public void ReduceTo_SumsEveryElementIntoItsBroadcastSource(int[] from, int[] to)
    {
        var grad = Tensor.RandomUniform(new Shape(from), -1, 1, seed: from.Sum() + to.Length);

        var reduced = Broadcast.ReduceTo(grad, new Shape(to));

        Assert.Equal(new Shape(to), reduced.Shape);
        var expected = Reference(grad, new Shape(to));
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], reduced.Span[i], 1e-4);
    }

    [Theory]
    [InlineData(new[] { 4 }, new[] { 2, 3, 4 }, true)]
    [InlineData(new[] { 1, 1, 4 }, new[] { 2, 3, 4 }, true)]
    [InlineData(new[] { 1, 3, 4 }, new[] { 2, 3, 4 }, true)]
    [InlineData(new[] { 3, 1 }, new[] { 2, 3, 1 }, true)]
    [InlineData(new[] { 2, 3, 4 }, new[] { 2, 3, 4 }, true)]
    [InlineData(new[] { 2, 1, 4 }, new[] { 2, 3, 4 }, false)]
    [InlineData(new[] { 3, 1 }, new[] { 2, 3, 4 }, false)]
    [InlineData(new[] { 1, 1, 2 }, new[] { 1, 6, 2 }, true)]
    public void TrailingBlock_IsTheSourceRepeatedWhole(int[] source, int[] result, bool expected) =>
        Assert.Equal(expected, Broadcast.TrailingBlock(new Shape(source), new Shape(result)));

    [Fact]
    public void TheGradientOfAMean_IsOneValueEverywhere_AndOfARowSum_TheRowRepeated()
    {
        var x = Tensor.RandomUniform(new Shape(3, 4, 5), seed: 8);
        using (var tape = new GradientTape())
        {
            tape.Watch(x);
            var dx = tape.Gradient(Ops.Mean(x), [x])[0];
            Assert.All(dx.ToArray(), v => Assert.Equal(1f / 60, v));
        }
        using (var tape = new GradientTape())
        {
            tape.Watch(x);
            var rows = Ops.Sum(x, [0, 1], keepDims: true);                 // (1, 1, 5)
            var weighted = Ops.Multiply(rows, Tensor.FromArray([1f, 2f, 3f, 4f, 5f], 1, 1, 5));
            var dx = tape.Gradient(Ops.Sum(weighted), [x])[0];
            for (int i = 0; i < 60; i++) Assert.Equal(i % 5 + 1f, dx.Span[i]);
        }
    }
}
