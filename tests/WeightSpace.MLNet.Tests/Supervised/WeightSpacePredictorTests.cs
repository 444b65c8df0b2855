using Microsoft.ML;
using Microsoft.ML.Data;
using WeightSpace.MLNet.Tests.Representation;
using Xunit;

namespace WeightSpace.MLNet.Tests.Supervised;

/// <summary>A synthetic zoo whose label is a model's weight scale: "TestAccuracy" = scale, "Activation" = big / small.</summary>
public sealed class ScaleZoo : IDisposable
{
    private readonly TempDir _dir = new();
    public static readonly WeightLayout Layout = WeightLayout.Mlp(4, 3, 2);   // 3 hidden units: 6 permutations in all

    public ScaleZoo()
    {
        using (var w = ZooWriter.Create(_dir.Sub("zoo"), Layout, "scale", new[] { new ZooColumn(ZooColumns.Hyper.Activation, ZooColumnType.Text) }))
            for (int m = 0; m < 80; m++)
            {
                var rng = new Random(m);
                float scale = 0.2f + 1.8f * (float)rng.NextDouble();
                for (int e = 0; e < 3; e++)
                {
                    var weights = Enumerable.Range(0, Layout.ParameterCount).Select(_ => scale * (float)(rng.NextDouble() * 2 - 1)).ToArray();
                    var r = new ZooRecord { Weights = weights, ModelId = m, Epoch = e, Seed = m, TestAccuracy = scale, TrainAccuracy = scale, TestLoss = 1, TrainLoss = 1 };
                    r.Text[ZooColumns.Hyper.Activation] = scale > 1.1f ? "big" : "small";
                    w.Write(r);
                }
            }
        Path = _dir.Sub("zoo");
    }

    public string Path { get; }

    /// <summary>A small, fast configuration.</summary>
    public static WeightSpacePredictorOptions Tiny => new()
    {
        Encoder = WeightSpacePredictorOptions.DefaultEncoder(Layout) with { ModelDim = 16, Heads = 2, FeedForwardDim = 32, LatentDim = 16 },
        HeadWidth = 16, Steps = 300, EvaluateEvery = 25, TestViews = 6, LearningRate = 3e-3,
    };

    public void Dispose() => _dir.Dispose();
}

public class WeightSpacePredictorTests : IClassFixture<ScaleZoo>
{
    private readonly ScaleZoo _zoo;
    private readonly MLContext _ml = new(1);
    public WeightSpacePredictorTests(ScaleZoo zoo) => _zoo = zoo;

    private (IDataView Train, IDataView Test) Split()
    {
        var split = _ml.Data.TrainTestSplit(_ml.Data.LoadZoo(_zoo.Path), 0.25, samplingKeyColumnName: ZooColumns.ModelId, seed: 3);
        return (split.TrainSet, split.TestSet);
    }

    [Fact]
    public void TheRegressionTrainerLearnsTheLabelAndScoresLikeAStockTrainer()
    {
        var (train, test) = Split();
        var reports = new List<TrainingReport>();
        using var model = _ml.Regression.Trainers.WeightSpaceTransformer(ZooColumns.TestAccuracy, options: ScaleZoo.Tiny, progress: new Progress(reports.Add)).Fit(train);
        var scored = model.Transform(test);
        Assert.Equal(NumberDataViewType.Single, scored.Schema["Score"].Type);
        var metrics = _ml.Regression.Evaluate(scored, ZooColumns.TestAccuracy);
        Assert.True(metrics.RSquared > 0.8, $"R² {metrics.RSquared:F3}");
        // Validation on held-out models every 25 steps, the best state kept.
        Assert.True(reports.Count >= 2);
        Assert.Contains(reports, r => r.IsBest);
        Assert.All(reports, r => Assert.True(double.IsFinite(r.Score)));
    }

    [Fact]
    public void AveragingOverEveryPermutationMakesThePredictionInvariantToTheOrderOfHiddenUnits()
    {
        var (train, _) = Split();
        using var model = _ml.Regression.Trainers.WeightSpaceTransformer(ZooColumns.TestAccuracy, options: ScaleZoo.Tiny with { Steps = 60 }).Fit(train);
        var p = model.Predictor;
        var weights = RepresentationData.FromDataView(train, ScaleZoo.Layout).Weights.AsSpan(0, ScaleZoo.Layout.ParameterCount).ToArray();
        var permuted = Permutation.Random(ScaleZoo.Layout, seed: 11).Apply(weights);
        Assert.NotEqual(weights, permuted);
        // 6 views = all 3! orders of the hidden layer: the mean is over the same set for both.
        Assert.Equal(p.Predict(weights, 1, views: 6)[0], p.Predict(permuted, 1, views: 6)[0], 4);
        // One view is not invariant by construction (the encoder sees positions).
        Assert.NotEqual(p.Predict(weights, 1, views: 1)[0], p.Predict(permuted, 1, views: 1)[0]);
    }

    [Fact]
    public void TheMulticlassTrainerPredictsCategoriesThatMapBackToTheirNames()
    {
        var (train, test) = Split();
        var pipeline = _ml.Transforms.Conversion.MapValueToKey("Label", ZooColumns.Hyper.Activation)
            .Append(_ml.MulticlassClassification.Trainers.WeightSpaceTransformer("Label", options: ScaleZoo.Tiny));
        var model = pipeline.Fit(train);
        var scored = model.Transform(test);
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, 2), scored.Schema["Score"].Type);
        var metrics = _ml.MulticlassClassification.Evaluate(scored, "Label");
        Assert.True(metrics.MicroAccuracy > 0.8, $"accuracy {metrics.MicroAccuracy:F3}");
        // PredictedLabel carries the category names: mapped back, they agree with the scale as often as the accuracy says.
        var names = _ml.Transforms.Conversion.MapKeyToValue("PredictedName", "PredictedLabel").Fit(scored).Transform(scored)
            .GetColumn<ReadOnlyMemory<char>>("PredictedName").Select(n => n.ToString()).ToArray();
        var truth = scored.GetColumn<ReadOnlyMemory<char>>(ZooColumns.Hyper.Activation).Select(n => n.ToString()).ToArray();
        Assert.Equal(metrics.MicroAccuracy, names.Zip(truth).Count(z => z.First == z.Second) / (double)names.Length, 6);
        // Probabilities sum to one.
        Assert.All(scored.GetColumn<float[]>("Score"), s => Assert.Equal(1.0, s.Sum(), 4));
    }

    [Fact]
    public void ASavedPredictorLoadsWithTheSamePredictionsAndADamagedOneIsRefused()
    {
        var (train, test) = Split();
        // With s(W) in the head, so the saved file carries its standardisation too.
        using var model = _ml.Regression.Trainers.WeightSpaceTransformer(ZooColumns.TestAccuracy, options: ScaleZoo.Tiny with { Steps = 40, Statistics = true }).Fit(train);
        Assert.True(model.Predictor.Options.Statistics);
        using var tmp = new TempDir();
        string path = tmp.Sub("accuracy.wstransformer");
        model.Save(path);
        var loaded = Assert.IsType<WeightSpacePredictionTransformer>(WeightVectorTransformer.Load(_ml, path));
        using (loaded)
            Assert.Equal(model.Transform(test).GetColumn<float>("Score").ToArray(), loaded.Transform(test).GetColumn<float>("Score").ToArray());
        // The predictor alone, too.
        string alone = tmp.Sub("accuracy.wspred");
        model.Predictor.Save(alone);
        var bytes = File.ReadAllBytes(alone);
        bytes[bytes.Length / 2] ^= 0x10;
        File.WriteAllBytes(alone, bytes);
        var e = Assert.Throws<InvalidDataException>(() => WeightSpacePredictor.Load(alone));
        Assert.Contains(alone, e.Message);
        Assert.Contains("checksum", e.Message);
    }

    [Fact]
    public void FineTuningStartsFromATrainedHyperRepresentationOfTheSameLayout()
    {
        var (train, test) = Split();
        var data = RepresentationData.FromDataView(train, ScaleZoo.Layout, new[] { ZooColumns.TestAccuracy });
        var encoder = ScaleZoo.Tiny.Encoder! with { Epochs = 1, BatchSize = 32, ProjectionHead = new[] { 8, 4 } };
        using var representation = HyperRepresentation.Train(ScaleZoo.Layout, data, null, encoder);
        using var tmp = new TempDir();
        representation.Save(tmp.Sub("pretrained.wsemb"));
        using var model = _ml.Regression.Trainers.WeightSpaceTransformer(ZooColumns.TestAccuracy, options: ScaleZoo.Tiny with { Steps = 20 }, pretrained: tmp.Sub("pretrained.wsemb")).Fit(train);
        Assert.Equal(encoder.ModelDim, model.Predictor.Encoder.ModelDim);
        Assert.Equal(representation.LatentDim, model.Predictor.Encoder.LatentDim);
        Assert.Equal(representation.Options.TokenStatistics, model.Predictor.Encoder.TokenStatistics);
        // A hyper-representation of another layout is refused by name.
        using var other = HyperRepresentation.Train(WeightLayout.Mlp(4, 2, 2), new RepresentationData(new float[40 * WeightLayout.Mlp(4, 2, 2).ParameterCount], 40), null, encoder);
        var e = Assert.Throws<ArgumentException>(() => WeightSpacePredictor.TrainRegression(ScaleZoo.Layout, data, null, ZooColumns.TestAccuracy, ScaleZoo.Tiny, other));
        Assert.Contains("mlp-4-2-2", e.Message);
    }

    [Fact]
    public void BadLabelsAreNamed()
    {
        var (train, _) = Split();
        var text = Assert.Throws<ArgumentOutOfRangeException>(() => _ml.Regression.Trainers.WeightSpaceTransformer(ZooColumns.Hyper.Activation, options: ScaleZoo.Tiny).Fit(train));
        Assert.Contains("MulticlassClassification", text.Message);
        var missing = Assert.Throws<ArgumentOutOfRangeException>(() => _ml.Regression.Trainers.WeightSpaceTransformer("Nope", options: ScaleZoo.Tiny).Fit(train));
        Assert.Contains("'Nope' not found", missing.Message);
        var notKey = Assert.Throws<ArgumentOutOfRangeException>(() => _ml.MulticlassClassification.Trainers.WeightSpaceTransformer(ZooColumns.Hyper.Activation, options: ScaleZoo.Tiny).Fit(train));
        Assert.Contains("MapValueToKey", notKey.Message);
        var constant = Assert.Throws<ArgumentException>(() => _ml.Regression.Trainers.WeightSpaceTransformer(ZooColumns.TrainLoss, options: ScaleZoo.Tiny).Fit(train));
        Assert.Contains("constant", constant.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new WeightSpacePredictorOptions { Steps = 0 }.Validate());
    }

    [Fact]
    public void TheComparisonRanksTheSupervisedPredictorNextToTheProbesAndCombinedFeaturizers()
    {
        var zoo = _ml.Data.LoadZoo(_zoo.Path);
        var layout = ScaleZoo.Layout;
        var comparison = new ProbeComparison(_ml) { Probes = new[] { ProbeKind.Linear }, Supervised = new[] { SupervisedPredictor.WeightSpaceTransformer(options: ScaleZoo.Tiny) } };
        var results = comparison.Run(zoo, new[]
        {
            Featurizer.Statistics(layout), Featurizer.NeuronStatistics(layout),
            Featurizer.Combine("s(W) + s(neurons)", Featurizer.Statistics(layout), Featurizer.NeuronStatistics(layout)),
        }, new[] { ZooColumns.TestAccuracy, ZooColumns.Hyper.Activation });
        Assert.Equal(3 * 2 + 2, results.Count);
        var supervised = results.Where(r => r.Probe == "supervised").ToList();
        Assert.Equal(new[] { "R2", "Accuracy" }, supervised.Select(r => r.Metric));
        Assert.True(supervised[0].Value > 0.8, $"R² {supervised[0].Value:F3}");
        Assert.InRange(supervised[0].KendallTau, 0.5, 1);
        Assert.True(supervised[1].Value > 0.7, $"accuracy {supervised[1].Value:F3}");
        Assert.Contains(results, r => r.Featurizer == "s(W) + s(neurons)" && r.Target == ZooColumns.TestAccuracy);
    }

    private sealed class Progress(Action<TrainingReport> report) : IProgress<TrainingReport>
    {
        public void Report(TrainingReport value) => report(value);
    }
}
