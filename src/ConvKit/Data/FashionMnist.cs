namespace ConvKit.Data;

/// <summary>
/// Zalando's Fashion-MNIST: 70,000 grayscale 28×28 images of clothing in 10 classes, 60,000 for training and
/// 10,000 for testing, in MNIST's IDX files. Images load as <c>(N, 28, 28, 1)</c> in [0, 1], labels as <c>(N,)</c>.
/// </summary>
/// <remarks>On Debian and Ubuntu, <c>apt-get install dataset-fashion-mnist</c> puts the files in <see cref="DefaultDirectory"/>.</remarks>
public static class FashionMnist
{
    public const string DefaultDirectory = "/usr/share/datasets/fashion-mnist";

    private const string HowToGet =
        "Install the data set with 'apt-get install dataset-fashion-mnist' (it goes to " + DefaultDirectory +
        "), or pass the directory that holds train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz.";

    /// <summary>The class names, by label index.</summary>
    public static IReadOnlyList<string> ClassNames { get; } =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>Both splits from <paramref name="directory"/> (default <see cref="DefaultDirectory"/>).</summary>
    public static (Dataset Train, Dataset Test) Load(string? directory = null, bool scaleToUnitRange = true) =>
        (LoadTrain(directory, scaleToUnitRange), LoadTest(directory, scaleToUnitRange));

    /// <summary>The 60,000 training samples.</summary>
    public static Dataset LoadTrain(string? directory = null, bool scaleToUnitRange = true) =>
        MnistFormat.LoadSplit(directory ?? DefaultDirectory, "train", ClassNames, "Fashion-MNIST", HowToGet, scaleToUnitRange);

    /// <summary>The 10,000 test samples.</summary>
    public static Dataset LoadTest(string? directory = null, bool scaleToUnitRange = true) =>
        MnistFormat.LoadSplit(directory ?? DefaultDirectory, "t10k", ClassNames, "Fashion-MNIST", HowToGet, scaleToUnitRange);
}
