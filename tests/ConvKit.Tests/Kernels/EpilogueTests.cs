using ConvKit.Kernels;

namespace ConvKit.Tests.Kernels;

/// <summary>
/// The output epilogue (y·scale + bias + residual, then ReLU) against its scalar rule, bit for bit: channel counts below,
/// at and around the vector width, every combination of its parts, special values, and outputs large enough to split
/// across the threads.
/// </summary>
public class EpilogueTests
{
    public static TheoryData<int, int> Shapes => new()
    {
        { 5, 1 }, { 4, 3 }, { 3, 7 }, { 6, 8 }, { 2, 17 }, { 3, 33 }, { 9, 64 }, { 40_000, 16 },
    };

    /// <summary>Each step rounded on its own, in the order of the rule; ReLU as <see cref="MathF.Max(float, float)"/> (NaN stays NaN, −0 becomes +0).</summary>
    private static float[] Expected(float[] y, int k, float[]? bias, bool relu, float[]? scale, float[]? residual)
    {
        var expected = new float[y.Length];
        for (int i = 0; i < y.Length; i++)
        {
            float v = y[i];
            if (scale is not null) v *= scale[i % k];
            if (bias is not null) v += bias[i % k];
            if (residual is not null) v += residual[i];
            expected[i] = relu ? MathF.Max(v, 0f) : v;
        }
        return expected;
    }

    [Theory, MemberData(nameof(Shapes))]
    public void EveryCombinationFollowsTheScalarRule(int rows, int k)
    {
        var y = KernelAssert.Random(rows * k, k);
        // Special values where the vectors and the scalar tail both see them.
        float[] specials = [float.NaN, -0f, 0f, float.PositiveInfinity, float.NegativeInfinity, -1e-40f, 1e-40f];
        for (int i = 0; i < Math.Min(specials.Length, y.Length); i++) y[(int)((long)i * 7919 % y.Length)] = specials[i];
        var bias = KernelAssert.Random(k, k + 1);
        var scale = KernelAssert.Random(k, k + 2);
        var residual = KernelAssert.Random(rows * k, k + 3);
        for (int mask = 1; mask < 16; mask++)
        {
            bool withBias = (mask & 1) != 0, withScale = (mask & 2) != 0, withResidual = (mask & 4) != 0, relu = (mask & 8) != 0;
            var actual = (float[])y.Clone();
            Epilogue.Apply(actual, k, withBias ? bias : default, relu, withScale ? scale : default, withResidual ? residual : default);
            var expected = Expected(y, k, withBias ? bias : null, relu, withScale ? scale : null, withResidual ? residual : null);
            KernelAssert.Exact(expected, actual, $"rows {rows}, k {k}, bias {withBias}, scale {withScale}, residual {withResidual}, relu {relu}");
        }
    }

    [Fact]
    public void NothingToApplyLeavesTheOutputAlone()
    {
        var y = KernelAssert.Random(3 * 9, 1);
        var before = (float[])y.Clone();
        Epilogue.Apply(y, 9, default, relu: false);
        KernelAssert.Exact(before, y, "no bias, scale, residual or ReLU");
    }
}
