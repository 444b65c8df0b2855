using Microsoft.ML;
using WeightSpace.MLNet.MLNet;
using WeightSpace.MLNet.Tests.Representation;
using WeightSpace.MLNet.Zoo;
using Xunit;

namespace WeightSpace.MLNet.Tests.Docs;

/// <summary>The README's ML.NET snippet is compiled here, run on a small zoo, and compared with the README line by line, so it cannot rot.</summary>
public class ReadmeSnippetTests : IClassFixture<SmallZoo>
{
    private readonly SmallZoo _zoo;
    public ReadmeSnippetTests(SmallZoo zoo) => _zoo = zoo;

    private static double Snippet()
    {
        // README:BEGIN
        var ml = new MLContext(seed: 1);
        IDataView zoo = ml.Data.LoadZoo("zoos/tetris-seed");
        var split = ml.Data.TrainTestSplit(zoo, testFraction: 0.3, samplingKeyColumnName: ZooColumns.ModelId);
        var pipeline = ml.Transforms.WeightEmbedding("Embedding")                          // the hyper-representation (trains in Fit)
            .Append(ml.Regression.Trainers.WeightSpaceRidge(ZooColumns.TestAccuracy, "Embedding"));
        var model = pipeline.Fit(split.TrainSet);
        var metrics = ml.Regression.Evaluate(model.Transform(split.TestSet), ZooColumns.TestAccuracy);
        Console.WriteLine($"test accuracy from the weights alone: R² {metrics.RSquared:F3}");
        ml.Model.SaveWeightSpace(model, zoo.Schema, "accuracy-probe.wsmodel");     // embedding + probe, reloadable
        // README:END
        return metrics.RSquared;
    }

    [Fact]
    public void TheReadmeSnippetIsThisCodeAndRuns()
    {
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "README.md")) || !Directory.Exists(Path.Combine(root, "src"))) root = Path.GetDirectoryName(root)!;
        var readme = File.ReadAllLines(Path.Combine(root, "README.md"));
        var source = File.ReadAllLines(Path.Combine(root, "tests", "WeightSpace.MLNet.Tests", "Docs", "ReadmeSnippetTests.cs"));
        var snippet = source.SkipWhile(l => !l.Contains("README:BEGIN")).Skip(1).TakeWhile(l => !l.Contains("README:END")).Select(l => l.Trim()).ToList();
        int start = Array.FindIndex(readme, l => l.Trim() == snippet[0]);
        Assert.True(start >= 0, "the README lacks the snippet's first line");
        Assert.Equal(snippet, readme.Skip(start).Take(snippet.Count).Select(l => l.Trim()));
        Assert.Contains("using WeightSpace.MLNet.MLNet;", readme);
        Assert.Contains("using WeightSpace.MLNet.Zoo;", readme);

        using var tmp = new TempDir();
        Directory.CreateDirectory(tmp.Sub("zoos"));
        CopyDirectory(_zoo.Path, tmp.Sub("zoos/tetris-seed"));
        var previous = Directory.GetCurrentDirectory();
        Directory.SetCurrentDirectory(tmp.Path);
        try
        {
            double r2 = Snippet();
            Assert.True(double.IsFinite(r2));
            var ml = new MLContext(1);
            var loaded = ml.Model.LoadWeightSpace("accuracy-probe.wsmodel", out _);
            Assert.Equal(2, loaded.Count());
        }
        finally { Directory.SetCurrentDirectory(previous); }
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from).Where(f => !Path.GetFileName(f).StartsWith(".zoo.")))
            File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
    }
}
