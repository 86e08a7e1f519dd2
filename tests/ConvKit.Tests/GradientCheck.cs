using ConvKit.Autograd;
using ConvKit.Operations;
using ConvKit.Tensors;

namespace ConvKit.Tests;

/// <summary>
/// Checks an op's backward pass against central finite differences: the loss is Σ f(x) · w for a fixed random w,
/// so every output element carries a different gradient; sums are taken in double precision.
/// </summary>
public static class GradientCheck
{
    public static void Check(Func<Tensor[], Tensor> f, Tensor[] inputs, double epsilon = 1e-2, double atol = 2e-3, double rtol = 2e-2,
        int maxChecksPerInput = 80, bool[]? skip = null, int seed = 7)
    {
        var probe = f(inputs);
        var weights = Tensor.RandomUniform(probe.Shape, -1f, 1f, seed);

        Tensor[] analytic;
        using (var tape = new GradientTape())
        {
            foreach (var x in inputs) tape.Watch(x);
            var loss = Ops.Sum(Ops.Multiply(f(inputs), weights));
            analytic = tape.Gradient(loss, inputs);
        }

        double Loss()
        {
            var y = f(inputs).Span;
            var w = weights.Span;
            double sum = 0;
            for (int i = 0; i < y.Length; i++) sum += (double)y[i] * w[i];
            return sum;
        }

        var random = new RandomSource(seed + 1);
        for (int k = 0; k < inputs.Length; k++)
        {
            if (skip is not null && skip[k]) continue;
            var x = inputs[k].Span;
            Assert.Equal(inputs[k].Shape, analytic[k].Shape);
            int count = Math.Min(x.Length, maxChecksPerInput);
            for (int c = 0; c < count; c++)
            {
                int i = x.Length <= maxChecksPerInput ? c : random.NextInt(x.Length);
                float saved = x[i];
                x[i] = saved + (float)epsilon;
                double plus = Loss();
                x[i] = saved - (float)epsilon;
                double minus = Loss();
                x[i] = saved;
                double numeric = (plus - minus) / (2 * epsilon);
                double got = analytic[k].Span[i];
                Assert.True(Math.Abs(numeric - got) <= atol + rtol * Math.Abs(numeric),
                    $"input {k} element {i}: backward gives {got}, finite differences {numeric}");
            }
        }
    }

    /// <summary>Values spaced at least <paramref name="gap"/> apart in random order, so max and relu have no ties or kinks near them.</summary>
    public static Tensor Distinct(Shape shape, int seed, float gap = 0.05f)
    {
        var values = Enumerable.Range(0, shape.Size).Select(i => (i - shape.Size / 2) * gap + 0.013f).ToArray();
        new RandomSource(seed).Shuffle(values.AsSpan());
        return Tensor.FromArray(values, shape.ToArray());
    }

    public static Tensor Random(int seed, params int[] shape) => Tensor.RandomNormal(new Shape(shape), 0f, 1f, seed);
}
