using ConvKit.Tensors;

namespace ConvKit.Layers;

/// <summary>
/// A named weight of a layer: a tensor that training updates in place.
/// Trainable variables are watched by gradient tapes automatically.
/// </summary>
public sealed class Variable
{
    private bool trainable;

    public Variable(string name, Tensor value, bool trainable = true)
    {
        Name = name;
        Value = value;
        Trainable = trainable;
        value.MarkAsWeights();
    }

    /// <summary>The weight's path, as Keras prints it: <c>conv2d/kernel</c>.</summary>
    public string Name { get; }

    /// <summary>The current value; optimizers update it in place, so references to it stay valid.</summary>
    public Tensor Value { get; }

    public Shape Shape => Value.Shape;

    public bool Trainable
    {
        get => trainable;
        set { trainable = value; Value.IsTrainableVariable = value; }
    }

    /// <summary>Copies <paramref name="value"/> into this variable (shapes must match).</summary>
    public void Assign(Tensor value)
    {
        if (value.Shape != Shape)
            throw new ArgumentException($"Variable '{Name}' has shape {Shape}; cannot assign a value of shape {value.Shape}.");
        value.Data.CopyTo(Value.Span);
    }

    public override string ToString() => $"<Variable {Name} shape={Shape}>";
}
