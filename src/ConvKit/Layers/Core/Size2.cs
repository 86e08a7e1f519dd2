namespace ConvKit.Layers;

/// <summary>
/// A height and width, written as one int (<c>5</c> means 5×5) or a pair (<c>(3, 5)</c>), as Keras accepts
/// <c>kernel_size=5</c> or <c>kernel_size=(3, 5)</c>.
/// </summary>
public readonly record struct Size2(int Height, int Width)
{
    public static implicit operator Size2(int size) => new(size, size);
    public static implicit operator Size2((int Height, int Width) size) => new(size.Height, size.Width);

    public (int H, int W) ToTuple() => (Height, Width);

    /// <summary>Python tuple notation, as in Keras messages: <c>(5, 5)</c>.</summary>
    public override string ToString() => $"({Height}, {Width})";
}
