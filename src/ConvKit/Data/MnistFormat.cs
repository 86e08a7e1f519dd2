using ConvKit.IO;

namespace ConvKit.Data;

/// <summary>Finds and loads the four standard files that MNIST and Fashion-MNIST share.</summary>
internal static class MnistFormat
{
    /// <summary>Loads <c>{prefix}-images-idx3-ubyte[.gz]</c> and <c>{prefix}-labels-idx1-ubyte[.gz]</c>; prefix is "train" or "t10k".</summary>
    public static Dataset LoadSplit(string directory, string prefix, IReadOnlyList<string> classNames, string dataSetName, string howToGet, bool scaleToUnitRange)
    {
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"The {dataSetName} directory '{directory}' does not exist. {howToGet}");
        string imagesPath = Find(directory, $"{prefix}-images-idx3-ubyte", dataSetName, howToGet);
        string labelsPath = Find(directory, $"{prefix}-labels-idx1-ubyte", dataSetName, howToGet);

        var images = Idx.ReadImages(imagesPath, scaleToUnitRange);
        var labelBytes = Idx.ReadLabelBytes(labelsPath);
        if (labelBytes.Length != images.Shape[0])
            throw new ConvKitFormatException(labelsPath, $"holds {labelBytes.Length} labels but '{imagesPath}' holds {images.Shape[0]} images.");
        int badIndex = Array.FindIndex(labelBytes, label => label >= classNames.Count);
        if (badIndex >= 0)
            throw new ConvKitFormatException(labelsPath, $"label {badIndex} is {labelBytes[badIndex]}, but {dataSetName} has classes 0..{classNames.Count - 1}.");
        return new Dataset(images, Idx.LabelsToTensor(labelBytes), classNames);
    }

    private static string Find(string directory, string baseName, string dataSetName, string howToGet)
    {
        foreach (string name in new[] { baseName, baseName + ".gz" })
        {
            string path = Path.Combine(directory, name);
            if (File.Exists(path)) return path;
        }
        throw new FileNotFoundException($"{dataSetName}: neither '{baseName}' nor '{baseName}.gz' is in '{directory}'. {howToGet}", Path.Combine(directory, baseName + ".gz"));
    }
}
