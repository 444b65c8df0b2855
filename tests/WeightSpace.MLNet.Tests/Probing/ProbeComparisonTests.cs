using Microsoft.ML;
using Microsoft.ML.Data;
using WeightSpace.MLNet.Tests.Representation;
using WeightSpace.MLNet.Tests.Zoo;
using Xunit;

namespace WeightSpace.MLNet.Tests.Probing;

public class ProbeComparisonTests : IClassFixture<SmallZoo>
{
    private readonly SmallZoo _zoo;
    public ProbeComparisonTests(SmallZoo zoo) => _zoo = zoo;

    [Fact]
    public void EveryFeaturizerProbeAndTargetGetsATestScoreATableAndADataFrame()
    {
        using var tmp = new TempDir();
        var recipe = WeightSpace.ZooGen.Recipes.Presets.Get("tetris-hyp");
        recipe.Models = 48; recipe.Epochs = 4; recipe.Checkpoints = new() { 1, 2, 3, 4 };
        WeightSpace.ZooGen.Generation.ZooGenerator.Generate(new() { Recipe = recipe, Output = tmp.Sub("hyp") });
        var ml = new MLContext(1);
        var zoo = ml.Data.LoadZoo(tmp.Sub("hyp"));
        var layout = WeightLayout.TetrisMlp100;
        var lines = new List<string>();
        var comparison = new ProbeComparison(ml) { Progress = new Progress(lines.Add) };
        var results = comparison.Run(zoo, new[]
        {
            Featurizer.W(layout), Featurizer.Statistics(layout), Featurizer.Embedding("E_cD", layout, SmallZoo.Tiny with { Epochs = 2 }),
        }, new[] { ZooColumns.Epoch, ZooColumns.TestAccuracy, ZooColumns.Hyper.Activation });
        Assert.Equal(3 * 3 * 4, results.Count);
        Assert.Equal(3 * 3 * 4, lines.Count(l => l.Contains(" × ")));
        Assert.All(results.Where(r => r.Target != ZooColumns.Hyper.Activation), r => { Assert.Equal("R2", r.Metric); Assert.True(double.IsFinite(r.Value)); Assert.InRange(r.KendallTau, -1, 1); });
        Assert.All(results.Where(r => r.Target == ZooColumns.Hyper.Activation), r => { Assert.Equal("Accuracy", r.Metric); Assert.InRange(r.Value, 0, 1); });
        // Numeric results carry the test rows' truth and predictions (for plots); the R² is theirs.
        var one = results.First(r => r.Metric == "R2");
        Assert.Equal(one.Value, ProbeMetrics.RSquared(one.Truth!, one.Predicted!), 9);
        var frame = ProbeComparison.ToDataFrame(results);
        Assert.Equal(36, frame.Rows.Count);
        Assert.Equal(new[] { "featurizer", "probe", "target", "metric", "value", "value_std", "kendall_tau", "rank" }, frame.Columns.Select(c => c.Name));
        var markdown = ProbeComparison.ToMarkdown(results);
        Assert.Contains("| Epoch (R²) |", markdown);
        Assert.Contains("E_cD LightGbm", markdown);
        Assert.Contains("**", markdown);
    }

    private sealed class Progress(Action<string> report) : IProgress<string>
    {
        public void Report(string value) => report(value);
    }

    [Fact]
    public void TheLinearClassifiersPenaltyIsChosenOnValidationModels()
    {
        // Activation is the sign of one weight of 100 (the rest noise): a weak penalty separates it, an overwhelming one
        // leaves only the class prior. Choosing on validation must find the weak one, as the ridge probe chooses λ.
        using var tmp = new TempDir();
        var layout = WeightLayout.TetrisMlp100;
        using (var w = ZooWriter.Create(tmp.Sub("sign"), layout, "sign", ZooTestData.Hyper))
            for (int m = 0; m < 60; m++)
            {
                double sign = m % 2 == 0 ? 1 : -1;
                for (int e = 0; e < 4; e++)
                {
                    var r = ZooTestData.Record(layout, m, e);
                    r.Weights[0] = (float)(sign * (0.5 + new Random(m).NextDouble()));
                    r.Text[ZooColumns.Hyper.Activation] = sign > 0 ? "tanh" : "relu";
                    w.Write(r);
                }
            }
        var ml = new MLContext(1);
        var zoo = ml.Data.LoadZoo(tmp.Sub("sign"));
        double Accuracy(params double[] grid) => Assert.Single(new ProbeComparison(ml) { Probes = new[] { ProbeKind.Linear }, ClassifierL2Grid = grid }
            .Run(zoo, new[] { Featurizer.W(layout) }, new[] { ZooColumns.Hyper.Activation })).Value;

        double weak = Accuracy(1e-2), overwhelming = Accuracy(1e7), chosen = Accuracy(1e7, 1e-2);
        Assert.True(weak >= 0.9, $"weak penalty: accuracy {weak}");
        Assert.True(overwhelming <= 0.7, $"overwhelming penalty: accuracy {overwhelming}");
        Assert.Equal(weak, chosen);
        Assert.Throws<ArgumentException>(() => new ProbeComparison(ml) { ClassifierL2Grid = Array.Empty<double>() });
        Assert.Throws<ArgumentException>(() => new ProbeComparison(ml) { ClassifierL2Grid = new[] { 1.0, double.NaN } });
    }

    [Fact]
    public void CrossValidationGroupsByModelAndReportsSpread()
    {
        var ml = new MLContext(1);
        var zoo = ml.Data.LoadZoo(_zoo.Path);
        var comparison = new ProbeComparison(ml) { Probes = new[] { ProbeKind.Linear } };
        var results = comparison.RunCrossValidated(zoo, new[] { Featurizer.Statistics(WeightLayout.TetrisMlp100) }, new[] { ZooColumns.Epoch }, folds: 4);
        var r = Assert.Single(results);
        Assert.True(r.ValueStd > 0);
        Assert.Throws<ArgumentOutOfRangeException>(() => comparison.RunCrossValidated(zoo, new[] { Featurizer.W(WeightLayout.TetrisMlp100) }, new[] { ZooColumns.Epoch }, folds: 2));
    }

    /// <summary>A Tetris zoo of 30 models × 3 checkpoints (epochs 0–2); optionally every model's epoch-0 row is one shared initialisation.</summary>
    private static IDataView ThirtyModels(MLContext ml, TempDir tmp, bool sharedInitialisation)
    {
        var layout = WeightLayout.TetrisMlp100;
        using (var w = ZooWriter.Create(tmp.Sub("zoo"), layout, "synthetic", ZooTestData.Hyper))
            for (int m = 0; m < 30; m++)
                for (int epoch = 0; epoch < 3; epoch++)
                {
                    var r = ZooTestData.Record(layout, sharedInitialisation && epoch == 0 ? 0 : m, epoch);
                    r.ModelId = m;
                    w.Write(r);
                }
        return ml.Data.LoadZoo(tmp.Sub("zoo"));
    }

    [Fact]
    public void AHyperRepresentationTrainedOnTestModelsIsRefused()
    {
        // 30 models × 3 checkpoints whose epoch-0 rows are one shared initialisation: identical weights in every part.
        using var tmp = new TempDir();
        var layout = WeightLayout.TetrisMlp100;
        var ml = new MLContext(1);
        var zoo = ThirtyModels(ml, tmp, sharedInitialisation: true);
        var comparison = new ProbeComparison(ml) { Probes = new[] { ProbeKind.Linear } };
        var (train, validation, test) = comparison.Parts(zoo);
        var options = SmallZoo.Tiny with { Epochs = 1, ValidationLabels = Array.Empty<string>() };
        RepresentationData Rows(IDataView part) => RepresentationData.FromDataView(part, layout);
        int testModels = test.GetColumn<int>(ZooColumns.ModelId).Distinct().Count();

        // Trained on this split's training part (and validated on its validation part): accepted, although the test
        // models' epoch-0 rows equal rows it trained on — those weights are in the training part too.
        using (var own = HyperRepresentation.Train(layout, Rows(train), Rows(validation), options))
        {
            Assert.True(own.RecordsTrainingRows);
            Assert.Contains(true, own.WereTrainingRows(Rows(test).Weights, Rows(test).Rows));
            Assert.Equal(0, comparison.LeakedTestRows(zoo, own));
            Assert.Single(comparison.Run(zoo, new[] { Featurizer.Embedding("E", own) }, new[] { ZooColumns.Epoch }));
            // Reused across cross-validation folds it has seen most folds' test rows.
            Assert.Contains("test rows", Assert.Throws<ArgumentException>(() =>
                comparison.RunCrossValidated(zoo, new[] { Featurizer.Embedding("E", own) }, new[] { ZooColumns.Epoch }, folds: 3)).Message);
        }
        // Trained on every model: the test models' later checkpoints leaked into its training.
        using var all = HyperRepresentation.Train(layout, Rows(zoo), null, options);
        Assert.Equal(2 * testModels, comparison.LeakedTestRows(zoo, all));
        var e = Assert.Throws<ArgumentException>(() => comparison.Run(zoo, new[] { Featurizer.Embedding("E_all", all) }, new[] { ZooColumns.Epoch }));
        Assert.Contains($"'E_all': {2 * testModels} of the {3 * testModels} test rows", e.Message);
    }

    [Fact]
    public void AnEnsembleSetsItsMembersEmbeddingsSideBySideAndRefusesAMemberThatSawTestModels()
    {
        using var tmp = new TempDir();
        var layout = WeightLayout.TetrisMlp100;
        var ml = new MLContext(1);
        var zoo = ThirtyModels(ml, tmp, sharedInitialisation: false);
        var comparison = new ProbeComparison(ml) { Probes = new[] { ProbeKind.Linear } };
        var (train, validation, _) = comparison.Parts(zoo);
        RepresentationData Rows(IDataView part) => RepresentationData.FromDataView(part, layout);
        var options = SmallZoo.Tiny with { Epochs = 1, ValidationLabels = Array.Empty<string>() };
        using var a = HyperRepresentation.Train(layout, Rows(train), Rows(validation), options with { Seed = 1 });
        using var b = HyperRepresentation.Train(layout, Rows(train), Rows(validation), options with { Seed = 2, LatentDim = 6 });

        // A row's features are a's embedding, then b's.
        var ensemble = Featurizer.Embedding("E x2", new[] { a, b });
        var validationRows = Rows(validation);
        var features = ensemble.Fit(new Featurizer.FitContext(ml, train, validation, "Features", Array.Empty<string>())).Transform(validation).GetColumn<float[]>("Features").ToList();
        Assert.Equal(validationRows.Rows, features.Count);
        var ea = a.Embed(validationRows.Weights, validationRows.Rows);
        var eb = b.Embed(validationRows.Weights, validationRows.Rows);
        for (int row = 0; row < features.Count; row += 7)
        {
            Assert.Equal(a.LatentDim + b.LatentDim, features[row].Length);
            for (int j = 0; j < a.LatentDim; j++) Assert.Equal(ea[row * a.LatentDim + j], features[row][j], 5);
            for (int j = 0; j < b.LatentDim; j++) Assert.Equal(eb[row * b.LatentDim + j], features[row][a.LatentDim + j], 5);
        }
        Assert.Single(comparison.Run(zoo, new[] { ensemble }, new[] { ZooColumns.Epoch }));

        // One member trained on every model (the test models too) makes the whole ensemble refused, by name.
        using var all = HyperRepresentation.Train(layout, Rows(zoo), null, options);
        var e = Assert.Throws<ArgumentException>(() => comparison.Run(zoo, new[] { Featurizer.Embedding("E x3", new[] { a, b, all }) }, new[] { ZooColumns.Epoch }));
        Assert.Contains("'E x3'", e.Message);

        // Members must share a layout, and there must be one.
        var rng = new Random(5);
        var cnnWeights = Enumerable.Range(0, 8 * WeightLayout.Cnn2464.ParameterCount).Select(_ => (float)(rng.NextDouble() - 0.5) * 0.1f).ToArray();
        using var cnn = HyperRepresentation.Train(WeightLayout.Cnn2464, new RepresentationData(cnnWeights, 8), null, options);
        Assert.Contains("different layouts", Assert.Throws<ArgumentException>(() => Featurizer.Embedding("mixed", new[] { a, cnn })).Message);
        Assert.Throws<ArgumentException>(() => Featurizer.Embedding("none", Array.Empty<HyperRepresentation>()));
    }

    [Fact]
    public void AFeaturizerCanBeScoredWithItsOwnProbesAndTheSameCellsAsAlone()
    {
        var ml = new MLContext(1);
        var zoo = ml.Data.LoadZoo(_zoo.Path);
        var layout = WeightLayout.TetrisMlp100;
        var lines = new List<string>();
        var comparison = new ProbeComparison(ml) { Probes = new[] { ProbeKind.Linear, ProbeKind.LightGbm }, Progress = new Progress(lines.Add) };
        var targets = new[] { ZooColumns.Epoch, ZooColumns.TestAccuracy };
        var results = comparison.Run(zoo, new[] { Featurizer.W(layout), Featurizer.Statistics(layout).WithProbes(ProbeKind.Linear) }, targets);
        // W gets the comparison's two probes, s(W) only its own: 2 × 2 + 1 × 2 cells, and the progress counts those.
        Assert.Equal(6, results.Count);
        Assert.Equal(new[] { "linear" }, results.Where(r => r.Featurizer == "s(W)").Select(r => r.Probe).Distinct());
        Assert.Equal(new[] { "LightGbm", "linear" }, results.Where(r => r.Featurizer == "W").Select(r => r.Probe).Distinct().Order());
        Assert.Contains(lines, l => l.Contains("[6/6]"));
        // A cell is the same whether or not the featurizer's other probes run.
        var alone = new ProbeComparison(ml) { Probes = new[] { ProbeKind.Linear } }.Run(zoo, new[] { Featurizer.Statistics(layout) }, targets);
        foreach (var target in targets)
            Assert.Equal(alone.Single(r => r.Target == target).Value, results.Single(r => r.Featurizer == "s(W)" && r.Target == target).Value, 12);
        Assert.Throws<ArgumentException>(() => Featurizer.W(layout).WithProbes());
        Assert.Contains("each named once", Assert.Throws<ArgumentException>(() => Featurizer.W(layout).WithProbes(ProbeKind.Linear, ProbeKind.Linear)).Message);
    }

    [Fact]
    public void BadTargetsAndMismatchedZoosAreNamed()
    {
        var ml = new MLContext(1);
        var zoo = ml.Data.LoadZoo(_zoo.Path);
        var comparison = new ProbeComparison(ml) { Probes = new[] { ProbeKind.Linear } };
        var s = new[] { Featurizer.Statistics(WeightLayout.TetrisMlp100) };
        Assert.Contains("'Nope' not found", Assert.Throws<ArgumentException>(() => comparison.Run(zoo, s, new[] { "Nope" })).Message);
        Assert.Contains("constant", Assert.Throws<ArgumentException>(() => comparison.Run(zoo, s, new[] { ZooColumns.Hyper.LearningRate })).Message);
        using var tmp = new TempDir();
        ZooTestData.Write(tmp.Sub("cnn"), WeightLayout.Cnn2464, 4, 3);
        var e = Assert.Throws<ArgumentException>(() => comparison.RunOutOfDistribution(zoo, ml.Data.LoadZoo(tmp.Sub("cnn")), s, new[] { ZooColumns.Epoch }, "tetris", "cnn"));
        Assert.Contains("tetris holds tetris-mlp-100", e.Message);
        Assert.Contains("cnn holds cnn-2464", e.Message);
        var tooFew = Assert.Throws<ArgumentException>(() => comparison.Run(zoo, s, new[] { ZooColumns.Epoch }, trainFraction: 0.99, validationFraction: 0.01));
        Assert.Contains("empty", tooFew.Message);
    }

    [Fact]
    public void OutOfDistributionScoresTheOtherZooWithKendallTau()
    {
        var ml = new MLContext(1);
        var zoo = ml.Data.LoadZoo(_zoo.Path);
        var results = new ProbeComparison(ml) { Probes = new[] { ProbeKind.Linear } }
            .RunOutOfDistribution(zoo, zoo, new[] { Featurizer.Statistics(WeightLayout.TetrisMlp100) }, new[] { ZooColumns.Epoch });
        Assert.True(Assert.Single(results).KendallTau > 0.3);
        var (train, validation, test) = new ProbeComparison(ml).Parts(zoo, 0.85, 0.15); // no test fraction: an empty test part, not an error
        Assert.Empty(test.GetColumn<int>(ZooColumns.ModelId));
        Assert.Equal(40, train.GetColumn<int>(ZooColumns.ModelId).Concat(validation.GetColumn<int>(ZooColumns.ModelId)).Distinct().Count());
    }

    [Fact]
    public void PlotsArePngPicturesWithContent()
    {
        using var tmp = new TempDir();
        var truth = Enumerable.Range(0, 50).Select(i => i / 50.0).ToArray();
        ProbePlots.PredictedVsTrue(tmp.Sub("scatter.png"), "TestAccuracy", new[] { ("s(W)", (IReadOnlyList<double>)truth, (IReadOnlyList<double>)truth.Select(t => t + 0.05).ToArray()) });
        var rng = new Random(1);
        var emb = Enumerable.Range(0, 200 * 5).Select(_ => (float)rng.NextDouble()).ToArray();
        ProbePlots.EmbeddingPca(tmp.Sub("pca.png"), emb, 5, Enumerable.Range(0, 200).Select(i => (double)i).ToArray(), "epoch", "E_cD");
        var history = Enumerable.Range(1, 4).Select(e => new TrainingReport { Epoch = e, EpochEnd = true, Loss = 1.0 / e, ValidationReconstructionR2 = 0.1 * e,
            ValidationProbeR2 = new Dictionary<string, double> { ["Epoch"] = 0.2 * e } }).ToList();
        ProbePlots.LearningCurves(tmp.Sub("curves.png"), history);
        foreach (var f in new[] { "scatter.png", "pca.png", "curves.png" })
        {
            var bytes = File.ReadAllBytes(tmp.Sub(f));
            Assert.True(bytes.Length > 5000, f);
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
        }
        var (pc1, pc2) = ProbePlots.Pca2(new float[] { 0, 0, 1, 1, 2, 2, 3, 3.1f }, 4, 2);
        Assert.True(Math.Abs(pc1[3] - pc1[0]) > 10 * Math.Abs(pc2[3] - pc2[0])); // the first component follows the diagonal spread
    }
}
