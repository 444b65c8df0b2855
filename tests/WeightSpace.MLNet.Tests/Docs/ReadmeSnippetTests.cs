using Microsoft.ML;
using Microsoft.ML.Data;
using WeightSpace.MLNet.Tests.Representation;
using Xunit;

namespace WeightSpace.MLNet.Tests.Docs;

/// <summary>The README's C# snippets (ReadmeSnippets.cs) are compiled, compared with the README line by line, and run on a small zoo, so they cannot rot.</summary>
public class ReadmeSnippetTests : IClassFixture<SmallZoo>
{
    private readonly SmallZoo _zoo;
    public ReadmeSnippetTests(SmallZoo zoo) => _zoo = zoo;

    /// <summary>Every region between README:BEGIN and README:END in ReadmeSnippets.cs appears verbatim (trimmed) in README.md.</summary>
    [Fact]
    public void EverySnippetRegionIsInTheReadme()
    {
        var root = RepoRoot.Path;
        var readme = File.ReadAllLines(Path.Combine(root, "README.md")).Select(l => l.Trim()).ToArray();
        var source = File.ReadAllLines(Path.Combine(root, "tests", "WeightSpace.MLNet.Tests", "Docs", "ReadmeSnippets.cs"));
        var regions = Regions(source);
        Assert.Equal(6, regions.Count); // usings, the embedding probe, the supervised predictor, your own models, the comparison in two parts
        foreach (var region in regions)
        {
            int start = Array.IndexOf(readme, region[0]);
            Assert.True(start >= 0, $"the README lacks the line '{region[0]}'");
            Assert.Equal(region, readme.Skip(start).Take(region.Count));
        }
        // The usings open the README's first C# block: nothing else is needed to compile it.
        int block = Array.IndexOf(readme, "```csharp");
        Assert.Equal(regions[0], readme.Skip(block + 1).Take(regions[0].Count));
    }

    private static List<List<string>> Regions(string[] source)
    {
        var regions = new List<List<string>>();
        List<string>? current = null;
        foreach (var line in source.Select(l => l.Trim()))
        {
            if (line == "// README:BEGIN") current = new List<string>();
            else if (line == "// README:END") { regions.Add(current!); current = null; }
            else current?.Add(line);
        }
        Assert.Null(current);
        return regions;
    }

    [Fact]
    public void TheEmbeddingProbeSnippetRuns()
    {
        using var tmp = new TempDir();
        Directory.CreateDirectory(tmp.Sub("zoos"));
        CopyDirectory(_zoo.Path, tmp.Sub("zoos/tetris-seed"));
        var previous = Directory.GetCurrentDirectory();
        Directory.SetCurrentDirectory(tmp.Path);
        try
        {
            double r2 = ReadmeSnippets.Snippets.EmbeddingProbe();
            Assert.True(double.IsFinite(r2));
            var ml = new MLContext(1);
            var loaded = ml.Model.LoadWeightSpace("accuracy-probe.wsmodel", out _);
            Assert.Equal(2, loaded.Count());
        }
        finally { Directory.SetCurrentDirectory(previous); }
    }

    [Fact]
    public void TheOwnModelsSnippetRuns()
    {
        using var tmp = new TempDir();
        var fixtures = Path.Combine(RepoRoot.Path, "tests", "fixtures", "import");
        Directory.CreateDirectory(tmp.Sub("runs"));
        foreach (var f in Directory.GetFiles(fixtures, "mlp*.pt").Append(Path.Combine(fixtures, "labels.csv")))
            File.Copy(f, Path.Combine(tmp.Sub("runs"), Path.GetFileName(f)));
        var previous = Directory.GetCurrentDirectory();
        Directory.SetCurrentDirectory(tmp.Path);
        try
        {
            var view = ReadmeSnippets.Snippets.OwnModels();
            Assert.Equal(6, view.GetColumn<float>(ZooColumns.TestAccuracy).Count());
        }
        finally { Directory.SetCurrentDirectory(previous); }
    }

    [Fact]
    public void TheSupervisedSnippetRuns()
    {
        var ml = new MLContext(1);
        var split = ml.Data.TrainTestSplit(ml.Data.LoadZoo(_zoo.Path), 0.3, samplingKeyColumnName: ZooColumns.ModelId);
        double r2 = ReadmeSnippets.Snippets.Supervised(ml, (split.TrainSet, split.TestSet));
        Assert.True(double.IsFinite(r2) && r2 <= 1, $"R² {r2}");
    }

    [Fact]
    public void TheComparisonSnippetRuns()
    {
        var ml = new MLContext(1);
        var markdown = ReadmeSnippets.Snippets.Comparison(ml, ml.Data.LoadZoo(_zoo.Path), SmallZoo.Tiny with { Epochs = 1 });
        foreach (var name in new[] { "W", "s(W)", "E_cD", "Epoch", "TestAccuracy", "GeneralizationGap" }) Assert.Contains(name, markdown);
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from).Where(f => !Path.GetFileName(f).StartsWith(".zoo.")))
            File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
    }
}
