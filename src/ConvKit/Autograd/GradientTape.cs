using ConvKit.Tensors;

namespace ConvKit.Autograd;

/// <summary>
/// Records the operations run while it is active, then computes gradients by walking them backwards
/// (reverse-mode automatic differentiation), as <c>tf.GradientTape</c> does.
/// </summary>
/// <remarks>
/// Trainable variables (layer weights) are watched automatically; other tensors are watched with
/// <see cref="Watch"/>. Only operations that depend on a watched tensor are recorded.
/// A tape belongs to the thread that created it.
/// </remarks>
/// <example>
/// <code>
/// using var tape = new GradientTape();
/// tape.Watch(x);
/// var loss = Ops.Sum(Ops.Relu(x));
/// var grad = tape.Gradient(loss, [x])[0];
/// </code>
/// </example>
public sealed class GradientTape : IDisposable
{
    [ThreadStatic] private static GradientTape? current;

    private readonly GradientTape? outer;
    private readonly List<Node> nodes = [];
    private readonly HashSet<Tensor> tracked = new(ReferenceEqualityComparer.Instance);
    private bool disposed;

    private sealed record Node(Op Op, Tensor[] Inputs, Tensor Output, bool[] NeedsGradient);

    public GradientTape()
    {
        outer = current;
        current = this;
    }

    /// <summary>Makes gradients with respect to <paramref name="tensor"/> available.</summary>
    public void Watch(Tensor tensor) => tracked.Add(tensor);

    /// <summary>Records an op's result on every active tape that watches one of its inputs; false when none did.</summary>
    internal static bool Record(Op op, Tensor[] inputs, Tensor output)
    {
        bool recorded = false;
        if (OpTrace.Level > 0) OpTrace.Forward(op.Name, inputs, output);
        for (var tape = current; tape is not null; tape = tape.outer)
        {
            if (tape.disposed) continue;
            var needs = new bool[inputs.Length];
            bool any = false;
            for (int i = 0; i < inputs.Length; i++)
            {
                needs[i] = inputs[i].IsTrainableVariable || tape.tracked.Contains(inputs[i]);
                any |= needs[i];
            }
            if (!any) continue;
            tape.tracked.Add(output);
            tape.nodes.Add(new Node(op, inputs, output, needs));
            recorded = true;
        }
        return recorded;
    }


    /// <summary>
    /// d target / d source for each source, as tensors of the sources' shapes (zeros where the target does not depend on a source).
    /// <paramref name="outputGradient"/> seeds the walk (default: ones, i.e. the gradient of the sum of <paramref name="target"/>).
    /// </summary>
    public Tensor[] Gradient(Tensor target, IReadOnlyList<Tensor> sources, Tensor? outputGradient = null)
    {
        if (outputGradient is not null && outputGradient.Shape != target.Shape)
            throw new ArgumentException($"Output gradient has shape {outputGradient.Shape}; the target has shape {target.Shape}.");
        // Gradients made during this walk are disposed as soon as nothing needs them, so their storage serves the next ones.
        long walkStart = Tensor.NextSequence;
        var grads = new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance)
        {
            [target] = outputGradient ?? Tensor.Ones(target.Shape),
        };
        for (int i = nodes.Count - 1; i >= 0; i--)
        {
            var node = nodes[i];
            if (!grads.Remove(node.Output, out var gradOutput)) continue;
            long started = OpTrace.Level > 0 ? System.Diagnostics.Stopwatch.GetTimestamp() : 0;
            var inputGrads = node.Op.Backward(gradOutput, node.NeedsGradient);
            if (OpTrace.Level > 0) OpTrace.Backward(node.Op.Name, gradOutput, inputGrads, started);
            for (int j = 0; j < node.Inputs.Length; j++)
            {
                if (!node.NeedsGradient[j] || inputGrads[j] is not { } g) continue;
                var input = node.Inputs[j];
                if (g.Shape != input.Shape)
                    throw new InvalidOperationException(
                        $"{node.Op.Name} backward gave a gradient of shape {g.Shape} for an input of shape {input.Shape}.");
                if (grads.TryGetValue(input, out var existing))
                {
                    // Gradients add up when a tensor feeds several ops.
                    var sum = existing.Clone();
                    System.Numerics.Tensors.TensorPrimitives.Add(sum.Span, g.Span, sum.Span);
                    grads[input] = sum;
                    DisposeIfUnused(existing, walkStart, grads, inputGrads);
                    DisposeIfUnused(g, walkStart, grads, inputGrads);
                }
                else grads[input] = g;
            }
            // Keep a source's gradient when the source is also an op output (e.g. a watched intermediate).
            if (ContainsReference(sources, node.Output)) grads[node.Output] = gradOutput;
            else DisposeIfUnused(gradOutput, walkStart, grads, inputGrads);
        }
        return sources.Select(s => grads.TryGetValue(s, out var g) ? g : Tensor.Zeros(s.Shape)).ToArray();
    }

    private static bool ContainsReference(IReadOnlyList<Tensor?> list, Tensor t)
    {
        foreach (var item in list) if (ReferenceEquals(item, t)) return true;
        return false;
    }

    /// <summary>
    /// Disposes a gradient made during this walk once neither a pending gradient nor one still to be added refers to it
    /// (a backward may hand the same tensor to several inputs). A caller's own output gradient is never disposed.
    /// </summary>
    private static void DisposeIfUnused(Tensor t, long walkStart, Dictionary<Tensor, Tensor> grads, Tensor?[] inputGrads)
    {
        if (t.Sequence < walkStart || ContainsReference(inputGrads, t)) return;
        foreach (var pending in grads.Values) if (ReferenceEquals(pending, t)) return;
        t.Dispose();
    }

    /// <summary>
    /// Disposes the outputs of the recorded ops that were made at or after <paramref name="since"/> (a
    /// <see cref="Tensor.NextSequence"/> mark), and what the ops saved for their backward passes: the activations of a
    /// training step, once its update is done.
    /// </summary>
    internal void DisposeOutputs(long since)
    {
        foreach (var node in nodes)
        {
            node.Op.ReleaseSaved();
            if (node.Output.Sequence >= since && !node.Output.IsTrainableVariable) node.Output.Dispose();
        }
    }

    /// <summary>True when a tape on this thread records the ops run now.</summary>
    internal static bool IsRecording
    {
        get
        {
            for (var tape = current; tape is not null; tape = tape.outer) if (!tape.disposed) return true;
            return false;
        }
    }

    /// <summary>True when a tape on this thread would record gradients for <paramref name="tensor"/> (it is watched, or a trainable variable).</summary>
    internal static bool Watches(Tensor tensor)
    {
        for (var tape = current; tape is not null; tape = tape.outer)
            if (!tape.disposed && (tensor.IsTrainableVariable || tape.tracked.Contains(tensor))) return true;
        return false;
    }

    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        if (ReferenceEquals(current, this)) current = outer;
    }

    /// <summary>Stops recording on this thread within a using block (for optimizer updates, metrics, inference).</summary>
    public static IDisposable Pause() => new Paused();

    private sealed class Paused : IDisposable
    {
        private readonly GradientTape? saved = current;
        public Paused() => current = null;
        public void Dispose() => current = saved;
    }

}
