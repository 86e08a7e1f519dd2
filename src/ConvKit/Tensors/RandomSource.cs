namespace ConvKit.Tensors;

/// <summary>
/// A seeded stream of random numbers (xoshiro128**): the same seed gives the same values on every
/// machine and .NET version, which <see cref="System.Random"/> does not promise.
/// </summary>
public sealed class RandomSource
{
    private uint s0, s1, s2, s3;

    private static readonly RandomSource Unseeded = new(Environment.TickCount);
    private static readonly AsyncLocal<RandomSource?> Seeded = new();

    /// <summary>
    /// Seeds the stream that unseeded initializers and dropout layers draw their seeds from, so a program that
    /// calls this first is reproducible (Keras's <c>set_random_seed</c>). The stream belongs to the calling flow of
    /// execution (and the tasks it starts), so concurrent programs do not disturb each other's sequence.
    /// </summary>
    public static void SetGlobalSeed(int seed) => Seeded.Value = new RandomSource(seed);

    /// <summary>A seed from the global stream.</summary>
    public static int NextGlobalSeed()
    {
        var source = Seeded.Value ?? Unseeded;
        lock (source) return (int)source.NextUInt();
    }

    /// <summary>
    /// A seed for sub-stream <paramref name="stream"/> of <paramref name="seed"/> (epoch, batch, step…): a fixed
    /// SplitMix64 mix, the same in every process — unlike <see cref="HashCode.Combine{T1, T2}"/>, which is salted per process.
    /// </summary>
    public static int DeriveSeed(int seed, long stream)
    {
        ulong z = unchecked((ulong)(uint)seed * 0x9E3779B97F4A7C15UL + (ulong)stream * 0xBF58476D1CE4E5B9UL + 0x94D049BB133111EBUL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return unchecked((int)(z ^ (z >> 31)));
    }

    public RandomSource(int seed)
    {
        // SplitMix32 spreads the seed over the four words of state, so nearby seeds give unrelated streams.
        uint x = unchecked((uint)seed);
        s0 = SplitMix(ref x); s1 = SplitMix(ref x); s2 = SplitMix(ref x); s3 = SplitMix(ref x);
    }

    private static uint SplitMix(ref uint x)
    {
        uint z = x += 0x9E3779B9u;
        z = (z ^ (z >> 16)) * 0x85EBCA6Bu;
        z = (z ^ (z >> 13)) * 0xC2B2AE35u;
        return z ^ (z >> 16);
    }

    public uint NextUInt()
    {
        uint result = uint.RotateLeft(s1 * 5, 7) * 9;
        uint t = s1 << 9;
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3;
        s2 ^= t;
        s3 = uint.RotateLeft(s3, 11);
        return result;
    }

    /// <summary>The next <c>values.Length</c> numbers of the stream, as that many <see cref="NextUInt"/> calls give them.</summary>
    public void Fill(Span<uint> values)
    {
        // The state in locals: the JIT keeps them in registers, where the fields would go through memory on every draw.
        uint a = s0, b = s1, c = s2, d = s3;
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = uint.RotateLeft(b * 5, 7) * 9;
            uint t = b << 9;
            c ^= a; d ^= b; b ^= c; a ^= d;
            c ^= t;
            d = uint.RotateLeft(d, 11);
        }
        (s0, s1, s2, s3) = (a, b, c, d);
    }

    /// <summary>A float in [0, 1) with 24 random bits.</summary>
    public float NextFloat() => (NextUInt() >> 8) * (1f / (1 << 24));

    /// <summary>An integer in [0, n).</summary>
    public int NextInt(int n) => (int)((ulong)NextUInt() * (uint)n >> 32);

    /// <summary>A sample of N(0, 1) by the Box–Muller transform.</summary>
    public float NextNormal()
    {
        double u1 = 1.0 - (NextUInt() >> 8) * (1.0 / (1 << 24)), u2 = (NextUInt() >> 8) * (1.0 / (1 << 24));
        return (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2));
    }

    public void FillUniform(Span<float> values, float min, float max)
    {
        for (int i = 0; i < values.Length; i++) values[i] = min + (max - min) * NextFloat();
    }

    public void FillNormal(Span<float> values, float mean, float stddev)
    {
        for (int i = 0; i < values.Length; i++) values[i] = mean + stddev * NextNormal();
    }

    /// <summary>Shuffles <paramref name="items"/> in place (Fisher–Yates).</summary>
    public void Shuffle<T>(Span<T> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }
}
