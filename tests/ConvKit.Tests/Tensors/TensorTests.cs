using ConvKit.Tensors;

namespace ConvKit.Tests.Tensors;

public class TensorTests
{
    [Fact]
    public void ShapesPrintAsPythonTuples()
    {
        Assert.Equal("(1, 1916, 1076, 16)", new Shape(1, 1916, 1076, 16).ToString());
        Assert.Equal("(5,)", new Shape(5).ToString());
        Assert.Equal("()", new Shape().ToString());
        Assert.Equal("(None, 28, 28, 1)", new Shape(Shape.Unknown, 28, 28, 1).ToString());
    }

    [Fact]
    public void SeedSizedTensorsWork()
    {
        var t = Tensor.Zeros(1, 1916, 1076, 16);
        Assert.Equal(32_985_856, t.Size);
        t[0, 1915, 1075, 15] = 3f;
        Assert.Equal(3f, t.Span[^1]);
    }

    [Fact]
    public void ShapesPastTheArrayLimitAreRefusedClearly()
    {
        var error = Assert.Throws<ArgumentException>(() => Tensor.Zeros(65536, 65536));
        Assert.Contains("(65536, 65536)", error.Message);
        Assert.Contains("4,294,967,296", error.Message);
        Assert.Throws<OverflowException>(() => new Shape(int.MaxValue, int.MaxValue, int.MaxValue).LongSize);
    }

    [Fact]
    public void CreationReadingAndCopying()
    {
        var t = Tensor.FromArray([1, 2, 3, 4, 5, 6], 2, 3);
        Assert.Equal(6f, t[1, 2]);
        Assert.Equal(4f, t[-1, 0]);
        Assert.Equal(new float[] { 4, 5, 6 }, t[1].ToArray());
        Assert.Equal(new Shape(3), t[1].Shape);
        var copy = t.ToArray();
        copy[0] = 100;
        Assert.Equal(1f, t[0, 0]);
        Assert.Throws<ArgumentException>(() => Tensor.FromArray([1, 2, 3], 2, 2));
        Assert.Throws<IndexOutOfRangeException>(() => t[2, 0]);
        Assert.Throws<ArgumentException>(() => t[0, 0, 0]);
        Assert.Equal(new float[] { 1, 1 }, Tensor.Ones(2).ToArray());
        Assert.Equal(7f, Tensor.Full(new Shape(2, 2), 7f)[1, 1]);
    }

    [Fact]
    public void ReshapeSharesStorageAndInfersOneDimension()
    {
        var t = Tensor.FromArray(Enumerable.Range(0, 24).Select(i => (float)i).ToArray(), 2, 3, 4);
        var r = t.Reshape(4, -1);
        Assert.Equal(new Shape(4, 6), r.Shape);
        r[0, 0] = -1;
        Assert.Equal(-1f, t[0, 0, 0]);
        Assert.Throws<ArgumentException>(() => t.Reshape(5, -1));
        Assert.Throws<ArgumentException>(() => t.Reshape(-1, -1));
        Assert.Throws<ArgumentException>(() => t.Reshape(2, 3));
    }

    [Fact]
    public void SliceAndStack()
    {
        var t = Tensor.FromArray(Enumerable.Range(0, 24).Select(i => (float)i).ToArray(), 2, 3, 4);
        var s = t.Slice(1, 1, 2);
        Assert.Equal(new Shape(2, 2, 4), s.Shape);
        Assert.Equal(t[1, 2, 3], s[1, 1, 3]);
        var last = t.Slice(-1, 3, 1);
        Assert.Equal(new float[] { 3, 7, 11, 15, 19, 23 }, last.ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => t.Slice(0, 1, 2));
        var stacked = Tensor.Stack([t[0], t[1]]);
        Assert.Equal(t.ToArray(), stacked.ToArray());
    }

    [Fact]
    public void RandomTensorsAreReproducibleAndHaveTheAskedDistribution()
    {
        var a = Tensor.RandomNormal(new Shape(100_000), 2f, 3f, seed: 42);
        var b = Tensor.RandomNormal(new Shape(100_000), 2f, 3f, seed: 42);
        Assert.Equal(a.ToArray(), b.ToArray());
        Assert.NotEqual(a.ToArray(), Tensor.RandomNormal(new Shape(100_000), 2f, 3f, seed: 43).ToArray());
        double mean = a.ToArray().Average(v => (double)v);
        double std = Math.Sqrt(a.ToArray().Average(v => (v - mean) * (v - mean)));
        Assert.InRange(mean, 1.95, 2.05);
        Assert.InRange(std, 2.95, 3.05);
        var u = Tensor.RandomUniform(new Shape(10_000), -1f, 1f, seed: 1).ToArray();
        Assert.All(u, v => Assert.InRange(v, -1f, 1f));
        Assert.InRange(u.Average(), -0.03, 0.03);
    }

    [Fact]
    public void PrintingShowsValuesAndShape()
    {
        var t = Tensor.FromArray([1, 2.5f, 3, 4], 2, 2);
        Assert.Equal("Tensor([[1, 2.5],\n        [3, 4]], shape=(2, 2))", t.ToString());
        Assert.Contains("...", Tensor.Zeros(100).ToString());
    }

    [Fact]
    public void FillDrawsWhatOneCallAtATimeDraws()
    {
        var one = new RandomSource(42);
        var bulk = new RandomSource(42);
        var expected = Enumerable.Range(0, 37).Select(_ => one.NextUInt()).ToArray();
        var values = new uint[37];
        bulk.Fill(values.AsSpan(0, 20));
        bulk.Fill(values.AsSpan(20));
        Assert.Equal(expected, values);
        Assert.Equal(one.NextUInt(), bulk.NextUInt());
    }

    /// <summary>Dropout's mask, built eight at a time, is the scalar rule: keep 1/(1 − rate) where the draw is ≥ rate.</summary>
    [Fact]
    public void DropoutKeepsExactlyTheUnitsWhoseDrawIsAtLeastTheRate()
    {
        var x = Tensor.Ones(3, 37);
        var y = ConvKit.Operations.Ops.Dropout(x, 0.4f, new RandomSource(9));
        var draws = new RandomSource(9);
        float keep = 1f / (1f - 0.4f);
        var expected = Enumerable.Range(0, x.Size).Select(_ => draws.NextFloat() >= 0.4f ? keep : 0f).ToArray();
        Assert.Equal(expected, y.ToArray());
        Assert.InRange(expected.Count(v => v == 0f), 20, 70);
    }
}
