using System.Reflection;
using ConvKit.Onnx;
using ConvKit.Tensors;
using Xunit.Sdk;

namespace ConvKit.Onnx.Tests;

/// <summary>Where the external test data lives: <c>../shared</c> beside the repository (CI lays it there too).</summary>
internal static class TestData
{
    public static string RepositoryRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "ConvKit.slnx"))) dir = dir.Parent;
            return dir?.FullName ?? throw new InvalidOperationException($"No ConvKit.slnx above {AppContext.BaseDirectory}.");
        }
    }

    public static string Shared => Path.GetFullPath(Path.Combine(RepositoryRoot, "..", "shared"));

    /// <summary>The test folders of one suite, or null when the suite is not there.</summary>
    public static IReadOnlyList<string>? Suite(string name)
    {
        string dir = Path.Combine(Shared, name);
        return Directory.Exists(dir)
            ? Directory.GetDirectories(dir).Where(d => File.Exists(Path.Combine(d, "model.onnx"))).Select(d => Path.GetFileName(d)!).Order(StringComparer.Ordinal).ToList()
            : null;
    }

    /// <summary>The ResNet18 ONNX file from the Microsoft.ML.DnnImageFeaturizer.ResNet18 package.</summary>
    public static string ResNet18Path => typeof(TestData).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .First(a => a.Key == "ResNet18OnnxPath").Value!;

    /// <summary>Every element within atol + rtol·|expected| (ONNX's backend-test rule); shapes equal.</summary>
    public static void AssertClose(int[] expectedShape, float[] expected, Tensor actual, double rtol, double atol, string what)
    {
        Assert.True(expectedShape.SequenceEqual(actual.Shape.ToArray()),
            $"{what}: shape {actual.Shape} differs from the expected ({string.Join(", ", expectedShape)})");
        var values = actual.ToArray();
        double worst = 0;
        int worstIndex = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = values[i];
            if (e.Equals(a)) continue;
            double excess = Math.Abs(a - e) - (atol + rtol * Math.Abs(e));
            if (double.IsNaN(excess) || excess > worst) { worst = double.IsNaN(excess) ? double.PositiveInfinity : excess; worstIndex = i; }
        }
        if (worstIndex >= 0)
            throw new XunitException($"{what}: element {worstIndex} is {values[worstIndex]} but expected {expected[worstIndex]} (rtol {rtol}, atol {atol})");
    }

    public static double MaxAbsDiff(float[] a, float[] b) => a.Zip(b, (x, y) => (double)Math.Abs(x - y)).DefaultIfEmpty(0).Max();
}

/// <summary>Theory data: one case per test folder of a suite, or the whole theory skipped (with the reason) when the suite is absent.</summary>
internal sealed class SuiteDataAttribute : DataAttribute
{
    private readonly string suite;

    public SuiteDataAttribute(string suite)
    {
        this.suite = suite;
        if (TestData.Suite(suite) is null) Skip = $"{Path.Combine(TestData.Shared, suite)} is not there (it sits beside the repository checkout in CI)";
    }

    public override IEnumerable<object[]> GetData(MethodInfo testMethod) =>
        (TestData.Suite(suite) ?? ["(none)"]).Select(name => new object[] { name });
}

/// <summary>Runs one backend test folder: model.onnx with test_data_set_0/input_*.pb, compared with output_*.pb.</summary>
internal static class BackendTest
{
    public static void Run(string folder, bool byPosition, double rtol = 1e-3, double atol = 1e-7)
    {
        var data = Path.Combine(folder, "test_data_set_0");
        var inputs = Directory.GetFiles(data, "input_*.pb").OrderBy(f => int.Parse(Path.GetFileNameWithoutExtension(f)[6..]))
            .Where(f => OnnxFile.ReadTensorType(f) is "FLOAT" or "DOUBLE" or "INT64" or "INT32").Select(OnnxFile.ReadTensor).ToList();
        var graphInputs = OnnxFile.GraphInputNames(Path.Combine(folder, "model.onnx"));
        var named = inputs.Select((t, i) => (Name: byPosition || string.IsNullOrEmpty(t.Name) ? graphInputs[i] : t.Name, t.Shape, t.Values)).ToList();
        var imported = OnnxImporter.Load(Path.Combine(folder, "model.onnx"), new OnnxImportOptions
        {
            InputValues = named.ToDictionary(t => t.Name, t => (t.Shape, t.Values)),
        });
        var feed = imported.InputNames.Select(n => named.First(t => t.Name == n)).Select(t => Tensor.FromArray(t.Values, t.Shape)).ToArray();
        var results = imported.Run(feed);
        var outputs = Directory.GetFiles(data, "output_*.pb").OrderBy(f => int.Parse(Path.GetFileNameWithoutExtension(f)[7..])).Select(OnnxFile.ReadTensor).ToList();
        Assert.Equal(outputs.Count, results.Length);
        for (int i = 0; i < outputs.Count; i++)
            TestData.AssertClose(outputs[i].Shape, outputs[i].Values, results[i], rtol, atol, $"output {i} ('{imported.OutputNames[i]}')");
    }
}
