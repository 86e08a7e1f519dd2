using ConvKit.Tensors;

namespace ConvKit.Layers;

/// <summary>Makes a layer's starting weights. Keras's names and formulas.</summary>
public abstract class Initializer
{
    /// <summary>A tensor of <paramref name="shape"/>; <paramref name="seed"/> makes it reproducible.</summary>
    public abstract Tensor Create(Shape shape, int seed);

    /// <summary>The Keras identifier, e.g. <c>glorot_uniform</c>.</summary>
    public abstract string Name { get; }

    public static Initializer Zeros { get; } = new ConstantInitializer(0f, "zeros");
    public static Initializer Ones { get; } = new ConstantInitializer(1f, "ones");
    public static Initializer GlorotUniform { get; } = new VarianceScaling(1f, FanMode.Average, uniform: true, "glorot_uniform");
    public static Initializer GlorotNormal { get; } = new VarianceScaling(1f, FanMode.Average, uniform: false, "glorot_normal");
    public static Initializer HeUniform { get; } = new VarianceScaling(2f, FanMode.In, uniform: true, "he_uniform");
    public static Initializer HeNormal { get; } = new VarianceScaling(2f, FanMode.In, uniform: false, "he_normal");
    public static Initializer LecunNormal { get; } = new VarianceScaling(1f, FanMode.In, uniform: false, "lecun_normal");
    public static Initializer Constant(float value) => new ConstantInitializer(value, "constant");

    /// <summary>Looks up an initializer by its Keras name.</summary>
    public static Initializer FromName(string name) => name switch
    {
        "zeros" => Zeros,
        "ones" => Ones,
        "glorot_uniform" => GlorotUniform,
        "glorot_normal" => GlorotNormal,
        "he_uniform" => HeUniform,
        "he_normal" => HeNormal,
        "lecun_normal" => LecunNormal,
        _ => throw new ArgumentException($"Unknown initializer '{name}'; known: zeros, ones, glorot_uniform, glorot_normal, he_uniform, he_normal, lecun_normal."),
    };

    /// <summary>
    /// Keras's fans: for a kernel (…receptive field…, in, out), fan_in = in · receptive and fan_out = out · receptive,
    /// so a Conv2D kernel (kh, kw, in, out) has fan_in = kh·kw·in and fan_out = kh·kw·out.
    /// </summary>
    public static (double FanIn, double FanOut) ComputeFans(Shape shape)
    {
        if (shape.Rank == 0) return (1, 1);
        if (shape.Rank == 1) return (shape[0], shape[0]);
        double receptive = 1;
        for (int i = 0; i < shape.Rank - 2; i++) receptive *= shape[i];
        return (shape[-2] * receptive, shape[-1] * receptive);
    }

    private sealed class ConstantInitializer(float value, string name) : Initializer
    {
        public override string Name => name;
        public override Tensor Create(Shape shape, int seed) => Tensor.Full(shape, value);
    }

    private enum FanMode { In, Average }

    /// <summary>
    /// Variance scaling: uniform on ±√(3·scale/n) or truncated normal with stddev √(scale/n) / 0.8796,
    /// n = fan_in or (fan_in + fan_out)/2. Glorot uniform's limit is √(6/(fan_in + fan_out)).
    /// </summary>
    private sealed class VarianceScaling(float scale, FanMode mode, bool uniform, string name) : Initializer
    {
        public override string Name => name;

        public override Tensor Create(Shape shape, int seed)
        {
            var (fanIn, fanOut) = ComputeFans(shape);
            double n = mode == FanMode.In ? fanIn : (fanIn + fanOut) / 2;
            n = Math.Max(1, n);
            var random = new RandomSource(seed);
            var t = Tensor.Zeros(shape);
            var values = t.Span;
            if (uniform)
            {
                float limit = (float)Math.Sqrt(3 * scale / n);
                random.FillUniform(values, -limit, limit);
            }
            else
            {
                // Keras draws from a normal truncated at two standard deviations; 0.8796 is that truncation's stddev.
                float stddev = (float)(Math.Sqrt(scale / n) / 0.87962566103423978);
                for (int i = 0; i < values.Length; i++)
                {
                    float z;
                    do z = random.NextNormal(); while (Math.Abs(z) > 2);
                    values[i] = z * stddev;
                }
            }
            return t;
        }
    }
}
