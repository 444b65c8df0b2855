using Microsoft.ML;
using Microsoft.ML.Data;
using WeightSpace.MLNet.Tests.Representation;
using Xunit;

namespace WeightSpace.MLNet.Tests.Import;

/// <summary>A layout no zoo of ours has — an imported MLP 64 → 16 → 10 — goes through everything downstream.</summary>
public class AnyLayoutTests
{
    private static readonly WeightLayout Layout = WeightLayout.Mlp(64, 16, 10);

    /// <summary>The same MLP with a batch norm after its hidden layer (γ, β, μ, σ² per unit in the vector and the tokens).</summary>
    private static readonly WeightLayout BatchNormed = new("mlp-64-16bn-10", new[]
    {
        new LayerSpec("fc1", LayerKind.Linear, 64, 16, BatchNorm: true), new LayerSpec("fc2", LayerKind.Linear, 16, 10),
    });

    private static string Zoo(TempDir tmp, WeightLayout? layout = null)
    {
        var Layout = layout ?? AnyLayoutTests.Layout;
        var dir = tmp.Sub("zoo-" + Layout.Name);
        using var w = ZooWriter.Create(dir, Layout, "digits");
        var rng = new Random(4);
        for (int m = 0; m < 24; m++)
        {
            var init = Enumerable.Range(0, Layout.ParameterCount).Select(_ => (float)(rng.NextDouble() * 2 - 1) * 0.3f).ToArray();
            for (int e = 0; e < 3; e++)
                w.Write(new ZooRecord
                {
                    Weights = init.Select(v => v * (1 + 0.5f * e)).ToArray(), ModelId = m, Epoch = e, Seed = m,
                    TrainAccuracy = 0.3f + 0.2f * e, TestAccuracy = 0.25f + 0.2f * e + 0.01f * (m % 5), TrainLoss = 1, TestLoss = 1,
                });
        }
        return dir;
    }

    public static TheoryData<string> Layouts() => new() { Layout.Name, BatchNormed.Name };

    [Theory]
    [MemberData(nameof(Layouts))]
    public void StatisticsAugmentationAndTheHyperRepresentationWorkOnAnImportedMlp(string name)
    {
        var Layout = name == BatchNormed.Name ? BatchNormed : AnyLayoutTests.Layout;
        using var tmp = new TempDir();
        var ml = new MLContext(1);
        var zoo = ml.Data.LoadZoo(Zoo(tmp, Layout));
        var stats = ml.Transforms.WeightStatistics("Stats", ZooColumns.Weights, Layout).Fit(zoo).Transform(zoo);
        Assert.All(stats.GetColumn<float[]>("Stats"), v => Assert.All(v, x => Assert.True(float.IsFinite(x))));

        var augmented = ml.Transforms.AugmentWeights("Augmented", ZooColumns.Weights, Layout).Fit(zoo).Transform(zoo).GetColumn<float[]>("Augmented").First();
        Assert.Equal(Layout.ParameterCount, augmented.Length);

        var options = WeightEmbeddingOptions.CpuDefaultFor(Layout) with { ModelDim = 16, Heads = 2, FeedForwardDim = 32, LatentDim = 8, ProjectionHead = new[] { 8, 4 }, BatchSize = 16, Epochs = 2 };
        var embedded = ml.Transforms.WeightEmbedding("Embedding", ZooColumns.Weights, Layout, options).Fit(zoo).Transform(zoo);
        var rows = embedded.GetColumn<float[]>("Embedding").ToList();
        Assert.Equal(72, rows.Count);
        Assert.All(rows, v => Assert.Equal(8, v.Length));
        Assert.Contains("configuration for", Assert.Throws<ArgumentException>(() => WeightEmbeddingOptions.Paper(Layout)).Message);
    }

    [Fact]
    public void TheQuickstartComparesOnAZooOfYourOwn()
    {
        using var tmp = new TempDir();
        var zoo = Zoo(tmp);
        var entry = System.Reflection.Assembly.Load("Quickstart").EntryPoint!;
        var previous = Console.Out;
        var output = new StringWriter();
        Console.SetOut(output);
        int code;
        try { code = (int)entry.Invoke(null, new object[] { new[] { "--zoo", zoo, "--ae-epochs", "1", "--views", "1", "--out", tmp.Sub("out") } })!; }
        finally { Console.SetOut(previous); }
        Assert.True(code == 0, output.ToString());
        Assert.Contains("1. Your zoo", output.ToString());
        Assert.Contains("mlp-64-16-10", output.ToString());
        // where the time went: the zoo, the representation, each featurizer and each probe kind
        var time = output.ToString().Split('\n').SkipWhile(l => !l.StartsWith("Time: zoo")).Take(2).ToArray();
        Assert.Equal(2, time.Length);
        Assert.Contains("hyper-representation", time[0]);
        foreach (var part in new[] { "W ", "s(W) ", "E_cD ", "linear ", "FastTree ", "LightGbm " }) Assert.Contains(part, time[1]);
        var results = File.ReadAllText(Path.Combine(tmp.Sub("out"), "results.md"));
        Assert.Contains("--zoo", results);
        Assert.Contains("E_cD", results);
    }

    [Fact]
    public void PermutingTheHiddenUnitsOfAnImportedMlpKeepsItsFunction()
    {
        var rng = new Random(8);
        var weights = Enumerable.Range(0, Layout.ParameterCount).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var input = Enumerable.Range(0, 64).Select(_ => (float)rng.NextDouble()).ToArray();
        var net = NetworkArchitecture.For(Layout);
        var permuted = Permutation.Random(Layout, seed: 3).Apply(weights);
        Assert.NotEqual(weights, permuted);
        var a = net.Forward(weights, input, 64, 1, 1, "tanh");
        var b = net.Forward(permuted, input, 64, 1, 1, "tanh");
        for (int i = 0; i < 10; i++) Assert.Equal(a[i], b[i], 9);
    }
}
