using Microsoft.ML;
using Microsoft.ML.Data;
using WeightSpace.MLNet.Tests.Representation;
using Xunit;

namespace WeightSpace.MLNet.Tests.MLNet;

public class WeightEmbeddingTests : IClassFixture<SmallZoo>
{
    private readonly SmallZoo _zoo;
    public WeightEmbeddingTests(SmallZoo zoo) => _zoo = zoo;

    private static readonly WeightEmbeddingOptions Options = SmallZoo.Tiny with { Epochs = 2, InferenceBatchSize = 7 }; // odd blocks: reads ahead across block ends

    private sealed class Row
    {
        [VectorType(100)] public float[] Weights { get; set; } = Array.Empty<float>();
    }

    [Fact]
    public void TheTwoArgumentCallWorksOnALoadZooViewAndAddsTheEmbeddingInStep()
    {
        var ml = new MLContext(1);
        var zoo = ml.Data.LoadZoo(_zoo.Path);
        var split = ml.Data.TrainTestSplit(zoo, 0.25, samplingKeyColumnName: ZooColumns.ModelId, seed: 1);
        using var t = ml.Transforms.WeightEmbedding("Embedding", options: Options).Fit(split.TrainSet);
        var output = t.Transform(split.TestSet);
        Assert.Equal(8, Assert.IsType<VectorDataViewType>(output.Schema["Embedding"].Type).Size);
        // Lazy, batched output equals embedding each row on its own, and pass-through columns stay in step.
        var weights = output.GetColumn<float[]>(ZooColumns.Weights).ToArray();
        var embedded = output.GetColumn<float[]>("Embedding").ToArray();
        var epochs = output.GetColumn<float>(ZooColumns.Epoch).ToArray();
        Assert.Equal(split.TestSet.GetColumn<float>(ZooColumns.Epoch).ToArray(), epochs);
        for (int i = 0; i < weights.Length; i++)
            Assert.Equal(t.Representation.Embed(weights[i], 1), embedded[i], (x, y) => Math.Abs(x - y) < 1e-5f); // batch size changes GEMM rounding only
        var preview = output.Preview(5);
        Assert.Equal(5, preview.RowView.Length);
        Assert.Equal(8, ((VBuffer<float>)preview.ColumnView.Single(c => c.Column.Name == "Embedding").Values[0]).Length);
    }

    [Fact]
    public void TheTransformEmbedsWithTheOptionsViewCountAndKeepsItWhenSaved()
    {
        var ml = new MLContext(1);
        var zoo = ml.Data.LoadZoo(_zoo.Path);
        using var t = ml.Transforms.WeightEmbedding("Embedding", options: Options with { EmbeddingViews = 5 }).Fit(zoo);
        var weights = zoo.GetColumn<float[]>(ZooColumns.Weights).Take(12).ToArray();
        var embedded = t.Transform(zoo).GetColumn<float[]>("Embedding").Take(12).ToArray();
        using var tmp = new TempDir();
        t.Save(tmp.Sub("e.wsemb"));
        using var loaded = WeightEmbeddingTransformer.Load(ml, tmp.Sub("e.wsemb"));
        var reloaded = loaded.Transform(zoo).GetColumn<float[]>("Embedding").Take(12).ToArray();
        for (int i = 0; i < weights.Length; i++)
        {
            var five = t.Representation.Embed(weights[i], 1, views: 5);
            Assert.Equal(five, embedded[i], (x, y) => Math.Abs(x - y) < 1e-5f);
            Assert.Equal(five, reloaded[i], (x, y) => Math.Abs(x - y) < 1e-5f);
        }
        // ... and that is not what one view gives.
        Assert.True(weights.Select((w, i) => t.Representation.Embed(w, 1, views: 1).Zip(embedded[i], (x, y) => Math.Abs(x - y)).Max()).Max() > 1e-3);
    }

    [Fact]
    public void AChainWithAStockProbeSavesAndReloadsWithIdenticalPredictions()
    {
        var ml = new MLContext(1);
        var zoo = ml.Data.LoadZoo(_zoo.Path);
        var split = ml.Data.TrainTestSplit(zoo, 0.25, samplingKeyColumnName: ZooColumns.ModelId, seed: 1);
        var pipeline = ml.Transforms.WeightEmbedding("Embedding", options: Options)
            .Append(ml.Transforms.NormalizeMeanVariance("Features", "Embedding"))
            .Append(ml.Regression.Trainers.LightGbm(ZooColumns.TestAccuracy, "Features", numberOfIterations: 20, minimumExampleCountPerLeaf: 5));
        var model = pipeline.Fit(split.TrainSet);
        using var tmp = new TempDir();
        var path = tmp.Sub("probe.wsmodel");
        ml.Model.SaveWeightSpace(model, zoo.Schema, path);
        var loaded = ml.Model.LoadWeightSpace(path, out var schema);
        Assert.NotNull(schema.GetColumnOrNull(ZooColumns.Weights));
        var before = model.Transform(split.TestSet).GetColumn<float>("Score").ToArray();
        var after = loaded.Transform(split.TestSet).GetColumn<float>("Score").ToArray();
        Assert.Equal(before, after);
        // The prediction engine (row by row) agrees with the batched view.
        var engine = ml.Model.CreatePredictionEngine<Row, Score>(loaded, ignoreMissingColumns: true);
        var first = split.TestSet.GetColumn<float[]>(ZooColumns.Weights).First();
        Assert.Equal(before[0], engine.Predict(new Row { Weights = first }).Value, 5);
        // ML.NET's own Save names the supported API.
        var e = Assert.Throws<NotSupportedException>(() => ml.Model.Save(model, zoo.Schema, tmp.Sub("model.zip")));
        Assert.Contains("SaveWeightSpace", e.Message);
        // A truncated file is a named error.
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(tmp.Sub("cut"), bytes[..(bytes.Length - 100)]);
        Assert.Contains(tmp.Sub("cut"), Assert.Throws<InvalidDataException>(() => ml.Model.LoadWeightSpace(tmp.Sub("cut"), out _)).Message);
    }

    private sealed class Score
    {
        [ColumnName("Score")] public float Value { get; set; }
    }

    [Fact]
    public void PretrainedWrapsASavedEmbeddingAndRefusesAnotherLayout()
    {
        var ml = new MLContext(1);
        var zoo = ml.Data.LoadZoo(_zoo.Path);
        using var tmp = new TempDir();
        using var t = ml.Transforms.WeightEmbedding("Embedding", options: Options).Fit(zoo);
        t.Save(tmp.Sub("e.wsemb"));
        using var again = ml.Transforms.WeightEmbedding("Embedding", pretrained: tmp.Sub("e.wsemb")).Fit(zoo);
        Assert.Equal(t.Transform(zoo).GetColumn<float[]>("Embedding").First(), again.Transform(zoo).GetColumn<float[]>("Embedding").First());
        var cnn = ml.Data.LoadFromEnumerable(new[] { new CnnRow { Weights = new float[2464] } });
        var e = Assert.Throws<ArgumentException>(() => ml.Transforms.WeightEmbedding("Embedding", "Weights", WeightLayout.Cnn2464, pretrained: tmp.Sub("e.wsemb")).Fit(cnn));
        Assert.Contains("tetris-mlp-100", e.Message);
        Assert.Throws<FileNotFoundException>(() => ml.Transforms.WeightEmbedding("Embedding", pretrained: tmp.Sub("missing.wsemb")));
    }

    private sealed class CnnRow
    {
        [VectorType(2464)] public float[] Weights { get; set; } = Array.Empty<float>();
    }

    [Fact]
    public void WithoutOptionsTheDefaultFollowsTheLayoutTokenStatisticsForAllPerLayerNormalisationForCnns()
    {
        foreach (var mlp in new[] { WeightLayout.TetrisMlp100, WeightLayout.Mlp(64, 16, 10) })
            Assert.Equal(WeightEmbeddingOptions.CpuDefault with { TokenStatistics = true }, WeightEmbeddingOptions.CpuDefaultFor(mlp));
        foreach (var cnn in new[] { WeightLayout.Cnn2464, WeightLayout.Cnn4970 })
            Assert.Equal(WeightEmbeddingOptions.CpuDefault with { Normalization = WeightNormalization.PerLayer, TokenStatistics = true }, WeightEmbeddingOptions.CpuDefaultFor(cnn));
        Assert.False(WeightEmbeddingOptions.CpuDefault.TokenStatistics);
        Assert.Throws<ArgumentNullException>(() => WeightEmbeddingOptions.CpuDefaultFor(null!));
        // The batch follows the training rows: a twentieth of them within [32, 500], never more than the rows.
        Assert.Equal(0, WeightEmbeddingOptions.CpuDefault.BatchSize);
        Assert.Equal(new[] { 32, 63, 500, 500 }, new[] { 100, 1_260, 10_000, 52_000 }.Select(WeightEmbeddingOptions.AutoBatchSize));
        Assert.Equal(20, WeightEmbeddingOptions.CpuDefault.BatchFor(20));
        Assert.Equal(7, (WeightEmbeddingOptions.CpuDefault with { BatchSize = 7 }).BatchFor(1_000));
        Assert.Throws<ArgumentOutOfRangeException>(() => (WeightEmbeddingOptions.CpuDefault with { BatchSize = -1 }).Validate());

        // The estimator resolves the default at Fit, from the column's layout, and the trained representation keeps it.
        var ml = new MLContext(1);
        var rows = Enumerable.Range(0, 6).Select(i => new CnnRow { Weights = Enumerable.Range(0, 2464).Select(j => (float)Math.Sin(0.37 * i + 0.011 * j * (1 + j % 7))).ToArray() });
        var estimator = ml.Transforms.WeightEmbedding("E", "Weights", WeightLayout.Cnn2464);
        Assert.Null(estimator.Options);
        using var t = estimator.Fit(ml.Data.LoadFromEnumerable(rows));
        Assert.Equal(WeightNormalization.PerLayer, t.Representation.Options.Normalization);
        Assert.True(t.Representation.Options.TokenStatistics);
        Assert.Equal(WeightEmbeddingOptions.CpuDefault.Epochs, t.Representation.History.Count);
    }

    [Fact]
    public void SchemaAndDataErrorsNameTheColumn()
    {
        var ml = new MLContext(1);
        var plain = ml.Data.LoadFromEnumerable(new[] { new Row { Weights = new float[100] } });
        var noLayout = Assert.Throws<ArgumentException>(() => ml.Transforms.WeightEmbedding("E", options: Options).Fit(plain));
        Assert.Contains("no 'WeightLayout' annotation", noLayout.Message);
        var missing = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.WeightEmbedding("E", "Nope", WeightLayout.TetrisMlp100, Options).Fit(plain));
        Assert.Contains("'Nope' not found", missing.Message);
        var wrongSize = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.WeightEmbedding("E", "Weights", WeightLayout.Cnn2464, Options).Fit(plain));
        Assert.Contains("needs 2464", wrongSize.Message);
        var rows = Enumerable.Range(0, 20).Select(i => new Row { Weights = Enumerable.Range(0, 100).Select(j => (float)Math.Sin(i + j)).ToArray() }).ToList();
        rows[13].Weights[42] = float.NaN;
        var nan = Assert.Throws<InvalidOperationException>(() => ml.Transforms.WeightEmbedding("E", "Weights", WeightLayout.TetrisMlp100, Options).Fit(ml.Data.LoadFromEnumerable(rows)));
        Assert.Contains("Row 13", nan.Message);
        Assert.Contains("position 42", nan.Message);
        var gpu = new MLContext(1) { GpuDeviceId = 0, FallbackToCpu = false };
        Assert.Contains("FallbackToCpu", Assert.Throws<InvalidOperationException>(() => gpu.Transforms.WeightEmbedding("E", options: Options).Fit(gpu.Data.LoadZoo(_zoo.Path))).Message);
    }

    [Fact]
    public void ADisposedEmbeddingSaysSoInsteadOfCrashing()
    {
        var ml = new MLContext(1);
        var zoo = ml.Data.LoadZoo(_zoo.Path);
        var t = ml.Transforms.WeightEmbedding("Embedding", options: Options).Fit(zoo);
        t.Dispose();
        Assert.Throws<ObjectDisposedException>(() => t.Transform(zoo).GetColumn<float[]>("Embedding").First());
    }

    [Fact]
    public void CrossValidationByModelWorksWithTheEmbeddingInThePipeline()
    {
        var ml = new MLContext(1);
        var zoo = ml.Data.LoadZoo(_zoo.Path);
        var pipeline = ml.Transforms.WeightEmbedding("Embedding", options: Options with { Epochs = 1 })
            .Append(ml.Regression.Trainers.Sdca(ZooColumns.Epoch, "Embedding", maximumNumberOfIterations: 5));
        var folds = ml.Regression.CrossValidate(zoo, pipeline, numberOfFolds: 2, labelColumnName: ZooColumns.Epoch, samplingKeyColumnName: ZooColumns.ModelId, seed: 1);
        Assert.Equal(2, folds.Count);
        Assert.All(folds, f => Assert.True(double.IsFinite(f.Metrics.RSquared)));
        foreach (var f in folds) (f.Model as IDisposable)?.Dispose();
    }
}
