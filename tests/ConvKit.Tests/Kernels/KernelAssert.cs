namespace ConvKit.Tests.Kernels;

/// <summary>Shared helpers for the fast-versus-reference kernel tests.</summary>
internal static class KernelAssert
{
    public static float[] Random(int length, int seed)
    {
        var random = new Random(seed);
        var values = new float[length];
        for (int i = 0; i < length; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
        return values;
    }

    /// <summary>Every element agrees within <c>tolerance · (1 + |expected|)</c>; the message names the first index that does not.</summary>
    public static void Close(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, float tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            float e = expected[i], a = actual[i];
            if (float.IsNaN(e) && float.IsNaN(a)) continue;
            if (!(Math.Abs(e - a) <= tolerance * (1 + Math.Abs(e))))
                Assert.Fail($"{what}: element {i} expected {e} but was {a}.");
        }
    }

    /// <summary>Bit-for-bit equality, for kernels that add in the same order as the reference.</summary>
    public static void Exact(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                Assert.Fail($"{what}: element {i} expected {expected[i]} but was {actual[i]}.");
    }
}
