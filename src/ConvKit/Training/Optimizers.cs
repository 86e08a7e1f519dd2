using System.Runtime.Intrinsics;
using ConvKit.Autograd;
using ConvKit.Kernels;
using ConvKit.Layers;
using ConvKit.Tensors;

namespace ConvKit.Training;

/// <summary>
/// Updates weights from their gradients, as Keras 3's optimizers do. The learning rate can follow a
/// <see cref="LearningRateSchedule"/>; <c>weightDecay</c> shrinks each weight by <c>lr · wd · w</c> before the step
/// (decoupled weight decay). Per-weight state (moments, velocities) is created on the first step and can be saved.
/// </summary>
public abstract class Optimizer
{
    private readonly Dictionary<Variable, Tensor[]> slots = new(ReferenceEqualityComparer.Instance);

    protected Optimizer(float learningRate, float weightDecay)
    {
        if (learningRate < 0 || float.IsNaN(learningRate)) throw new ArgumentException($"learning_rate must be >= 0. Received: learning_rate={learningRate}");
        if (weightDecay < 0) throw new ArgumentException($"weight_decay must be >= 0. Received: weight_decay={weightDecay}");
        LearningRate = learningRate;
        WeightDecay = weightDecay;
    }

    /// <summary>The Keras identifier, e.g. <c>adam</c>.</summary>
    public abstract string Name { get; }

    /// <summary>The base learning rate (a schedule, if any, scales from this).</summary>
    public float LearningRate { get; set; }

    public float WeightDecay { get; }

    /// <summary>Optional: the learning rate as a function of the step count.</summary>
    public LearningRateSchedule? Schedule { get; set; }

    /// <summary>Steps taken so far (Keras's <c>iterations</c>).</summary>
    public long Iterations { get; private set; }

    /// <summary>The learning rate of the next step.</summary>
    public float CurrentLearningRate => Schedule?.Rate(LearningRate, Iterations) ?? LearningRate;

    /// <summary>How many state tensors each weight keeps, at most two (Adam: 2, SGD with momentum: 1).</summary>
    protected abstract int SlotCount { get; }

    /// <summary>One step: every weight moves against its gradient.</summary>
    public void Apply(IReadOnlyList<Variable> weights, IReadOnlyList<Tensor> gradients)
    {
        if (weights.Count != gradients.Count)
            throw new ArgumentException($"{weights.Count} weights but {gradients.Count} gradients.");
        float lr = CurrentLearningRate;
        long step = Iterations + 1;
        long started = OpTrace.Level > 0 ? System.Diagnostics.Stopwatch.GetTimestamp() : 0;
        for (int i = 0; i < weights.Count; i++)
        {
            var w = weights[i];
            var g = gradients[i];
            if (g.Shape != w.Shape) throw new ArgumentException($"Gradient {g.Shape} does not match weight '{w.Name}' {w.Shape}.");
            if (SlotCount is < 0 or > 2)
                throw new InvalidOperationException($"Optimizer '{Name}' asks for {SlotCount} state slots per weight; an optimizer keeps at most two.");
            if (!slots.TryGetValue(w, out var state))
                slots[w] = state = Enumerable.Range(0, SlotCount).Select(_ => Tensor.Zeros(w.Shape)).ToArray();
            UpdateInChunks(w.Value, g, state, lr, step);
        }
        Iterations = step;
        if (OpTrace.Level > 0) OpTrace.Work($"{Name} update of {weights.Sum(w => (long)w.Shape.Size):N0} weights", started);
    }

    /// <summary>Elements per task of a large weight's update.</summary>
    private const int UpdateChunk = 1 << 16;

    /// <summary>
    /// Weight decay and <see cref="Update"/> over a weight, in chunks across the kernel threads when it is large (a
    /// dense layer's millions of weights): every rule is element by element, so chunking changes no bit, and two
    /// threads move more memory than one.
    /// </summary>
    private unsafe void UpdateInChunks(Tensor weight, Tensor gradient, Tensor[] state, float lr, long step)
    {
        int length = weight.Size;
        Span<float> first = state.Length > 0 ? state[0].Span : default, second = state.Length > 1 ? state[1].Span : default;
        fixed (float* pw = weight.Span, pg = gradient.Span, p0 = first, p1 = second)
        {
            float* w = pw, g = pg, s0 = p0, s1 = p1;
            KernelThreads.For((length + UpdateChunk - 1) / UpdateChunk, new UpdateChunks(this, w, g, s0, s1, length, lr, step));
        }
    }

    /// <summary><see cref="UpdateInChunks"/>'s chunks, as a struct so that a step allocates nothing for them.</summary>
    private readonly unsafe struct UpdateChunks(Optimizer optimizer, float* w, float* g, float* s0, float* s1, int length, float lr, long step)
        : KernelThreads.IItems
    {
        public void Run(int chunk)
        {
            int start = chunk * UpdateChunk, count = Math.Min(UpdateChunk, length - start);
            var values = new Span<float>(w + start, count);
            if (optimizer.WeightDecay > 0) TensorPrimitives.MultiplyAdd(values, -lr * optimizer.WeightDecay, values, values);
            var chunkSlots = new OptimizerSlots(
                s0 == null ? default : new Span<float>(s0 + start, count), s1 == null ? default : new Span<float>(s1 + start, count));
            optimizer.Update(values, new ReadOnlySpan<float>(g + start, count), chunkSlots, lr, step);
        }
    }

    /// <summary>Moves <paramref name="weight"/> by one step of this optimizer's rule.</summary>
    /// <remarks>
    /// Called on a contiguous piece of a weight, with the same piece of each state slot, possibly on several threads at
    /// once for different pieces: a rule must treat every element on its own.
    /// </remarks>
    protected abstract void Update(Span<float> weight, ReadOnlySpan<float> gradient, OptimizerSlots slots, float learningRate, long step);

    /// <summary>The state to save for resuming: the step count and every slot, keyed <c>weight name/slot i</c>.</summary>
    public (long Iterations, IReadOnlyDictionary<string, Tensor> Slots) GetState(IReadOnlyList<Variable> weights)
    {
        var state = new Dictionary<string, Tensor>();
        foreach (var w in weights)
            if (slots.TryGetValue(w, out var s))
                for (int i = 0; i < s.Length; i++) state[$"{w.Name}/slot{i}"] = s[i];
        return (Iterations, state);
    }

    /// <summary>Restores what <see cref="GetState"/> saved, so training continues exactly where it stopped.</summary>
    public void SetState(IReadOnlyList<Variable> weights, long iterations, IReadOnlyDictionary<string, Tensor> state)
    {
        var restored = new Dictionary<Variable, Tensor[]>(ReferenceEqualityComparer.Instance);
        foreach (var w in weights)
        {
            if (SlotCount == 0 || !state.ContainsKey($"{w.Name}/slot0")) continue;
            var s = new Tensor[SlotCount];
            for (int i = 0; i < SlotCount; i++)
            {
                if (!state.TryGetValue($"{w.Name}/slot{i}", out var t) || t.Shape != w.Shape)
                    throw new ArgumentException($"Optimizer state for '{w.Name}' slot {i} is missing or does not have the weight's shape {w.Shape}.");
                s[i] = t.Clone();
            }
            restored[w] = s;
        }
        slots.Clear();
        foreach (var (w, s) in restored) slots[w] = s;
        Iterations = iterations;
    }

    /// <summary>The optimizer's arguments, for saving with a model.</summary>
    public virtual IReadOnlyDictionary<string, object> GetConfig() => new Dictionary<string, object>
    {
        ["name"] = Name,
        ["learning_rate"] = LearningRate,
        ["weight_decay"] = WeightDecay,
    };

    /// <summary>An optimizer by its Keras name with default arguments and the given learning rate.</summary>
    public static Optimizer FromName(string name, float learningRate, float weightDecay = 0) => name.ToLowerInvariant() switch
    {
        "sgd" => new SGD(learningRate, weightDecay: weightDecay),
        "momentum" => new SGD(learningRate, momentum: 0.9f, weightDecay: weightDecay),
        "nesterov" => new SGD(learningRate, momentum: 0.9f, nesterov: true, weightDecay: weightDecay),
        "adam" => new Adam(learningRate, weightDecay: weightDecay),
        "adamw" => new AdamW(learningRate, weightDecay: weightDecay == 0 ? 0.004f : weightDecay),
        "rmsprop" => new RMSprop(learningRate, weightDecay: weightDecay),
        _ => throw new ArgumentException($"Unknown optimizer '{name}'; known: sgd, momentum, nesterov, adam, adamw, rmsprop."),
    };
}

/// <summary>The state slots of one piece of a weight (Adam's first and second moments), as spans over that piece.</summary>
public readonly ref struct OptimizerSlots(Span<float> first, Span<float> second)
{
    private readonly Span<float> first = first, second = second;

    /// <summary>Slot 0 or 1 over the piece.</summary>
    public Span<float> this[int slot] => slot switch
    {
        0 => first,
        1 => second,
        _ => throw new ArgumentOutOfRangeException(nameof(slot), slot, "An optimizer keeps at most two slots per weight."),
    };
}

/// <summary>
/// Stochastic gradient descent. Without momentum: w −= lr·g. With momentum m: v = m·v − lr·g, then
/// w += v, or with Nesterov w += m·v − lr·g.
/// </summary>
public sealed class SGD(float learningRate = 0.01f, float momentum = 0f, bool nesterov = false, float weightDecay = 0f)
    : Optimizer(learningRate, weightDecay)
{
    public float Momentum { get; } = momentum is >= 0 and <= 1 ? momentum : throw new ArgumentException($"momentum must be in [0, 1]. Received: momentum={momentum}");
    public bool Nesterov { get; } = nesterov;
    public override string Name => "sgd";
    protected override int SlotCount => Momentum > 0 ? 1 : 0;

    protected override void Update(Span<float> w, ReadOnlySpan<float> g, OptimizerSlots state, float lr, long step)
    {
        if (Momentum == 0) { TensorPrimitives.MultiplyAdd(g, -lr, w, w); return; }
        var v = state[0];
        for (int i = 0; i < w.Length; i++)
        {
            v[i] = Momentum * v[i] - lr * g[i];
            w[i] += Nesterov ? Momentum * v[i] - lr * g[i] : v[i];
        }
    }

    public override IReadOnlyDictionary<string, object> GetConfig() =>
        new Dictionary<string, object>(base.GetConfig()) { ["momentum"] = Momentum, ["nesterov"] = Nesterov };
}

/// <summary>
/// Adam (Kingma &amp; Ba), as Keras computes it: m += (g − m)(1 − β1), v += (g² − v)(1 − β2),
/// w −= lr·√(1 − β2ᵗ)/(1 − β1ᵗ) · m / (√v + ε).
/// </summary>
public class Adam(float learningRate = 0.001f, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-7f, float weightDecay = 0f)
    : Optimizer(learningRate, weightDecay)
{
    public float Beta1 { get; } = beta1;
    public float Beta2 { get; } = beta2;
    public float Epsilon { get; } = epsilon;
    public override string Name => "adam";
    protected override int SlotCount => 2;

    protected override void Update(Span<float> w, ReadOnlySpan<float> g, OptimizerSlots state, float lr, long step)
    {
        var m = state[0];
        var v = state[1];
        float alpha = (float)(lr * Math.Sqrt(1 - Math.Pow(Beta2, step)) / (1 - Math.Pow(Beta1, step)));
        float a = 1 - Beta1, b = 1 - Beta2;
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            // The scalar loop's arithmetic, eight at a time: the same operations in the same order, so the same bits.
            var va = Vector256.Create(a);
            var vb = Vector256.Create(b);
            var vAlpha = Vector256.Create(alpha);
            var vEpsilon = Vector256.Create(Epsilon);
            for (; i <= w.Length - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var gi = Vector256.Create<float>(g.Slice(i));
                var mi = Vector256.Create<float>(m.Slice(i));
                var vi = Vector256.Create<float>(v.Slice(i));
                mi += (gi - mi) * va;
                vi += (gi * gi - vi) * vb;
                mi.CopyTo(m.Slice(i));
                vi.CopyTo(v.Slice(i));
                (Vector256.Create<float>(w.Slice(i)) - vAlpha * mi / (Vector256.Sqrt(vi) + vEpsilon)).CopyTo(w.Slice(i));
            }
        }
        for (; i < w.Length; i++)
        {
            m[i] += (g[i] - m[i]) * a;
            v[i] += (g[i] * g[i] - v[i]) * b;
            w[i] -= alpha * m[i] / (MathF.Sqrt(v[i]) + Epsilon);
        }
    }

    public override IReadOnlyDictionary<string, object> GetConfig() =>
        new Dictionary<string, object>(base.GetConfig()) { ["beta_1"] = Beta1, ["beta_2"] = Beta2, ["epsilon"] = Epsilon };
}

/// <summary>Adam with decoupled weight decay (Loshchilov &amp; Hutter); Keras's default decay is 0.004.</summary>
public sealed class AdamW(float learningRate = 0.001f, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-7f, float weightDecay = 0.004f)
    : Adam(learningRate, beta1, beta2, epsilon, weightDecay)
{
    public override string Name => "adamw";
}

/// <summary>
/// RMSprop: a = ρ·a + (1 − ρ)·g², step = lr·g/(√a + ε); with momentum μ: s = μ·s + step, w −= s; otherwise w −= step.
/// </summary>
public sealed class RMSprop(float learningRate = 0.001f, float rho = 0.9f, float momentum = 0f, float epsilon = 1e-7f, float weightDecay = 0f)
    : Optimizer(learningRate, weightDecay)
{
    public float Rho { get; } = rho;
    public float Momentum { get; } = momentum;
    public float Epsilon { get; } = epsilon;
    public override string Name => "rmsprop";
    protected override int SlotCount => Momentum > 0 ? 2 : 1;

    protected override void Update(Span<float> w, ReadOnlySpan<float> g, OptimizerSlots state, float lr, long step)
    {
        var a = state[0];
        for (int i = 0; i < w.Length; i++)
        {
            a[i] = Rho * a[i] + (1 - Rho) * g[i] * g[i];
            float increment = lr * g[i] / (MathF.Sqrt(a[i]) + Epsilon);
            if (Momentum > 0)
            {
                var s = state[1];
                s[i] = Momentum * s[i] + increment;
                w[i] -= s[i];
            }
            else w[i] -= increment;
        }
    }

    public override IReadOnlyDictionary<string, object> GetConfig() =>
        new Dictionary<string, object>(base.GetConfig()) { ["rho"] = Rho, ["momentum"] = Momentum, ["epsilon"] = Epsilon };
}
