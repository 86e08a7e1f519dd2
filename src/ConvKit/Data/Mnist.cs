namespace ConvKit.Data;

/// <summary>
/// LeCun's MNIST handwritten digits: 60,000 training and 10,000 test images, grayscale 28×28, classes 0..9.
/// Images load as <c>(N, 28, 28, 1)</c> in [0, 1], labels as <c>(N,)</c>.
/// </summary>
/// <remarks>MNIST has no system package here; pass the directory holding its four IDX files (plain or <c>.gz</c>).</remarks>
public static class Mnist
{
    private const string HowToGet =
        "Pass the directory that holds train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (plain or .gz).";

    /// <summary>The class names, by label index: the digits.</summary>
    public static IReadOnlyList<string> ClassNames { get; } = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

    public static (Dataset Train, Dataset Test) Load(string directory, bool scaleToUnitRange = true) =>
        (LoadTrain(directory, scaleToUnitRange), LoadTest(directory, scaleToUnitRange));

    public static Dataset LoadTrain(string directory, bool scaleToUnitRange = true) =>
        MnistFormat.LoadSplit(directory, "train", ClassNames, "MNIST", HowToGet, scaleToUnitRange);

    public static Dataset LoadTest(string directory, bool scaleToUnitRange = true) =>
        MnistFormat.LoadSplit(directory, "t10k", ClassNames, "MNIST", HowToGet, scaleToUnitRange);
}
