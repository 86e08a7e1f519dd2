using ConvKit.Layers;
using ConvKit.Tensors;
using ConvKit.Training;

namespace ConvKit.Tests.Training;

/// <summary>One or two steps of each optimizer against Keras 3's update rules, worked out by hand.</summary>
public class OptimizerTests
{
    private static Variable Weight(params float[] values) => new("w", Tensor.FromArray(values));

    private static void Step(Optimizer optimizer, Variable w, params float[] gradient) =>
        optimizer.Apply([w], [Tensor.FromArray(gradient)]);

    [Fact]
    public void SgdWithAndWithoutMomentum()
    {
        var w = Weight(1f, -2f);
        Step(new SGD(0.1f), w, 0.5f, -1f);
        Assert.Equal(new[] { 0.95f, -1.9f }, w.Value.ToArray());

        // v = m·v − lr·g; w += v.  Step 1: v = −0.1, w = 0.9.  Step 2: v = 0.9·(−0.1) − 0.1 = −0.19, w = 0.71.
        var momentum = new SGD(0.1f, momentum: 0.9f);
        var m = Weight(1f);
        Step(momentum, m, 1f);
        Step(momentum, m, 1f);
        Assert.Equal(0.71f, m.Value.Span[0], 5);

        // Nesterov: w += m·v − lr·g.  Step 1: v = −0.1, w = 1 − 0.09 − 0.1 = 0.81.
        var nesterov = Weight(1f);
        Step(new SGD(0.1f, momentum: 0.9f, nesterov: true), nesterov, 1f);
        Assert.Equal(0.81f, nesterov.Value.Span[0], 5);
    }

    [Fact]
    public void AdamFollowsKerasBiasCorrection()
    {
        // Step 1: m = 0.1·g, v = 0.001·g², α = lr·√(1 − 0.999)/(1 − 0.9); w −= α·m/(√v + ε) ≈ lr·sign(g).
        var w = Weight(1f, 1f);
        var adam = new Adam(0.01f);
        Step(adam, w, 0.5f, -3f);
        double alpha = 0.01 * Math.Sqrt(1 - 0.999) / (1 - 0.9);
        Assert.Equal(1 - alpha * 0.05 / (Math.Sqrt(0.001 * 0.25) + 1e-7), w.Value.Span[0], 5);
        Assert.Equal(1 + alpha * 0.3 / (Math.Sqrt(0.001 * 9) + 1e-7), w.Value.Span[1], 5);
        Assert.Equal(1, adam.Iterations);

        // Step 2 with g = 1: m = 0.09·… recomputed in double.
        double m = 0.1 * 0.5, v = 0.001 * 0.25, x = w.Value.Span[0];
        Step(adam, w, 1f, 0f);
        m += (1 - m) * 0.1;
        v += (1 - v) * 0.001;
        double alpha2 = 0.01 * Math.Sqrt(1 - 0.999 * 0.999) / (1 - 0.9 * 0.9);
        Assert.Equal(x - alpha2 * m / (Math.Sqrt(v) + 1e-7), w.Value.Span[0], 5);
    }

    [Fact]
    public void AdamIsTheScalarRuleBitForBitAtEveryLength()
    {
        // The update runs eight elements at a time with a scalar tail, and large weights in chunks of 65,536 across
        // threads; every element must match the scalar formula.
        foreach (int length in new[] { 1, 7, 8, 9, 37, 65_536 + 37, 3 * 65_536 + 5 })
        {
            var random = new Random(length);
            var initial = Enumerable.Range(0, length).Select(_ => (float)random.NextDouble() * 2 - 1).ToArray();
            var gradients = Enumerable.Range(0, 2).Select(_ => Enumerable.Range(0, length).Select(_ => (float)random.NextDouble() * 2 - 1).ToArray()).ToArray();
            var w = Weight((float[])initial.Clone());
            var adam = new Adam(0.01f);
            var expected = (float[])initial.Clone();
            float[] m = new float[length], v = new float[length];
            for (int step = 1; step <= 2; step++)
            {
                Step(adam, w, gradients[step - 1]);
                float alpha = (float)(0.01f * Math.Sqrt(1 - Math.Pow(0.999f, step)) / (1 - Math.Pow(0.9f, step)));
                for (int i = 0; i < length; i++)
                {
                    float g = gradients[step - 1][i];
                    m[i] += (g - m[i]) * (1 - 0.9f);
                    v[i] += (g * g - v[i]) * (1 - 0.999f);
                    expected[i] -= alpha * m[i] / (MathF.Sqrt(v[i]) + 1e-7f);
                }
            }
            Assert.Equal(expected, w.Value.ToArray());
        }
    }

    [Fact]
    public void AdamWDecaysWeightsBeforeTheStep()
    {
        var plain = Weight(2f);
        var decayed = Weight(2f);
        Step(new Adam(0.01f), plain, 0.5f);
        Step(new AdamW(0.01f, weightDecay: 0.1f), decayed, 0.5f);
        // w ← w − lr·wd·w first: 2 − 0.01·0.1·2 = 1.998, then the same Adam step.
        Assert.Equal(plain.Value.Span[0] - 0.002f, decayed.Value.Span[0], 5);
    }

    [Fact]
    public void RmsProp()
    {
        // a = 0.1·g² = 0.4; w −= lr·g/(√a + ε).
        var w = Weight(1f);
        Step(new RMSprop(0.01f), w, 2f);
        Assert.Equal(1 - 0.01 * 2 / (Math.Sqrt(0.4) + 1e-7), w.Value.Span[0], 5);
    }

    [Fact]
    public void SchedulesAndNames()
    {
        Assert.Equal(0.1f, new StepDecay(10, 0.5f).Rate(0.1f, 9), 6);
        Assert.Equal(0.05f, new StepDecay(10, 0.5f).Rate(0.1f, 10), 6);
        var cosine = new CosineDecay(100);
        Assert.Equal(0.1f, cosine.Rate(0.1f, 0), 6);
        Assert.Equal(0.05f, cosine.Rate(0.1f, 50), 6);
        Assert.Equal(0f, cosine.Rate(0.1f, 100), 6);
        Assert.Equal(0.05f, new CosineDecay(100, warmupSteps: 10).Rate(0.1f, 4), 6);

        var optimizer = new SGD(0.1f) { Schedule = new StepDecay(1, 0.5f) };
        var w = Weight(1f);
        Step(optimizer, w, 1f); // lr 0.1
        Step(optimizer, w, 1f); // lr 0.05
        Assert.Equal(0.85f, w.Value.Span[0], 5);
        Assert.IsType<Adam>(Optimizer.FromName("adam", 0.001f));
        Assert.Throws<ArgumentException>(() => Optimizer.FromName("lion", 0.1f));
        Assert.Throws<ArgumentException>(() => new SGD(-1f));
    }

    [Fact]
    public void StateRoundTripsForResuming()
    {
        var a = Weight(1f, 2f);
        var adam = new Adam(0.01f);
        Step(adam, a, 0.3f, -0.2f);
        var (iterations, slots) = adam.GetState([a]);
        var b = Weight(a.Value.ToArray());
        var resumed = new Adam(0.01f);
        resumed.SetState([b], iterations, slots.ToDictionary(p => p.Key, p => p.Value.Clone()));
        Step(adam, a, 0.1f, 0.4f);
        Step(resumed, b, 0.1f, 0.4f);
        Assert.Equal(a.Value.ToArray(), b.Value.ToArray());
        Assert.Throws<ArgumentException>(() => resumed.SetState([Weight(1f)], 1, slots));
    }
}
