using ConvKit.Tensors;

namespace ConvKit.Autograd;

/// <summary>
/// A differentiable operation as recorded on a <see cref="GradientTape"/>: it keeps what its backward
/// pass needs and turns the gradient of its output into gradients of its inputs.
/// Each op class computes its forward pass in a static method and defines <see cref="Backward"/> right below.
/// </summary>
public abstract class Op
{
    /// <summary>The op's name as it appears in debug output and errors.</summary>
    public abstract string Name { get; }

    /// <summary>
    /// Gradients of the loss with respect to each input, given the gradient of the output.
    /// An entry may be null when <paramref name="needsGradient"/> says that input needs none.
    /// </summary>
    public abstract Tensor?[] Backward(Tensor gradOutput, bool[] needsGradient);

    /// <summary>
    /// Disposes the tensors the forward pass made only for <see cref="Backward"/> (not its output), once no backward
    /// pass will run: after a training step, or at once when no tape recorded the op.
    /// </summary>
    internal virtual void ReleaseSaved() { }
}
