using Microsoft.ML;
using Microsoft.ML.Data;
using WeightSpace.MLNet.Tests.Zoo;
using Xunit;

namespace WeightSpace.MLNet.Tests.MLNet;

public class TransformTests
{
    private sealed class Row
    {
        [VectorType(100)] public float[] Weights { get; set; } = Array.Empty<float>();
        public float Label { get; set; }
    }

    private sealed class Wrong
    {
        [VectorType(99)] public float[] Weights { get; set; } = Array.Empty<float>();
    }

    private static IDataView Rows(MLContext ml, int n) =>
        ml.Data.LoadFromEnumerable(Enumerable.Range(0, n).Select(i => new Row
        {
            Weights = Enumerable.Range(0, 100).Select(j => (float)Math.Sin(i * 100 + j) * (1 + i % 3)).ToArray(),
            Label = i % 3,
        }));

    [Fact]
    public void WeightStatisticsAddsAKnownSizeColumnThatMatchesTheFeaturizer()
    {
        var ml = new MLContext(1);
        var data = Rows(ml, 10);
        var t = ml.Transforms.WeightStatistics("Stats", "Weights", WeightLayout.TetrisMlp100).Fit(data);
        var output = t.Transform(data);
        var type = Assert.IsType<VectorDataViewType>(output.Schema["Stats"].Type);
        Assert.Equal(14, type.Size);
        var stats = output.GetColumn<VBuffer<float>>("Stats").Select(v => v.DenseValues().ToArray()).ToArray();
        var weights = data.GetColumn<float[]>("Weights").ToArray();
        var expected = new float[14];
        new WeightStatisticsFeaturizer(WeightLayout.TetrisMlp100).Compute(weights[4], expected);
        Assert.Equal(expected, stats[4]);
        Assert.Equal(new float[] { 0, 1, 2, 0, 1, 2, 0, 1, 2, 0 }, output.GetColumn<float>("Label").ToArray()); // pass-through intact
    }

    [Fact]
    public void AugmentWeightsIsDeterministicPerRowAndSeed()
    {
        var ml = new MLContext(1);
        var data = Rows(ml, 8);
        var opts = new AugmentationOptions { Seed = 11 };
        var t = ml.Transforms.AugmentWeights("Aug", "Weights", WeightLayout.TetrisMlp100, opts).Fit(data);
        var first = t.Transform(data).GetColumn<float[]>("Aug").ToArray();
        var second = t.Transform(data).GetColumn<float[]>("Aug").ToArray();
        Assert.Equal(first, second);
        var original = data.GetColumn<float[]>("Weights").ToArray();
        Assert.NotEqual(original[0], first[0]);
        var direct = new float[100];
        new WeightAugmenter(WeightLayout.TetrisMlp100, opts).Augment(original[5], direct, rowKey: 5);
        Assert.Equal(direct, first[5]);
    }

    [Fact]
    public void PipelinesWithStockTrainersWorkOnAZoo()
    {
        using var tmp = new TempDir();
        ZooTestData.Write(tmp.Sub("zoo"), WeightLayout.TetrisMlp100, models: 30, epochs: 3);
        var ml = new MLContext(2);
        var zoo = ml.Data.LoadZoo(tmp.Sub("zoo"));
        var pipeline = ml.Transforms.WeightStatistics("Features", ZooColumns.Weights, WeightLayout.TetrisMlp100, StatisticsVariant.Unterthiner)
            .Append(ml.Regression.Trainers.FastTree(labelColumnName: ZooColumns.TestAccuracy, numberOfLeaves: 4, numberOfTrees: 5, minimumExampleCountPerLeaf: 2));
        var model = pipeline.Fit(zoo);
        var metrics = ml.Regression.Evaluate(model.Transform(zoo), labelColumnName: ZooColumns.TestAccuracy);
        Assert.True(double.IsFinite(metrics.RSquared));

        var w = ml.Transforms.StandardizeWeightsPerLayer("Features", ZooColumns.Weights, WeightLayout.TetrisMlp100)
            .Append(ml.Regression.Trainers.Sdca(ZooColumns.TestAccuracy, maximumNumberOfIterations: 3)).Fit(zoo);
        Assert.NotNull(w);
    }

    [Fact]
    public void StandardizedLayersHaveZeroMeanAndUnitVarianceOverTheFitData()
    {
        var ml = new MLContext(1);
        var data = Rows(ml, 30);
        var t = ml.Transforms.StandardizeWeightsPerLayer("Std", "Weights", WeightLayout.TetrisMlp100).Fit(data);
        var rows = t.Transform(data).GetColumn<float[]>("Std").ToArray();
        foreach (var (start, len) in new[] { (0, 80), (80, 20) })
        {
            var all = rows.SelectMany(r => r.Skip(start).Take(len)).Select(v => (double)v).ToArray();
            Assert.InRange(all.Average(), -1e-4, 1e-4);
            Assert.InRange(all.Select(v => v * v).Average(), 0.999, 1.001);
        }
    }

    [Fact]
    public void PredictionEngineWorksThroughTheRowToRowMapper()
    {
        var ml = new MLContext(1);
        var data = Rows(ml, 5);
        var t = ml.Transforms.WeightStatistics("Stats", "Weights", WeightLayout.TetrisMlp100).Fit(data);
        var engine = ml.Model.CreatePredictionEngine<Row, StatsOut>(t);
        var row = data.GetColumn<float[]>("Weights").First();
        var result = engine.Predict(new Row { Weights = row });
        var expected = new float[14];
        new WeightStatisticsFeaturizer(WeightLayout.TetrisMlp100).Compute(row, expected);
        Assert.Equal(expected, result.Stats);
    }

    private sealed class StatsOut
    {
        public float[] Stats { get; set; } = Array.Empty<float>();
    }

    [Fact]
    public void SchemaErrorsNameTheColumnAndBothSizes()
    {
        var ml = new MLContext(1);
        var wrong = ml.Data.LoadFromEnumerable(new[] { new Wrong { Weights = new float[99] } });
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.WeightStatistics("S", "Weights", WeightLayout.TetrisMlp100).Fit(wrong));
        Assert.Contains("'Weights'", e.Message);
        Assert.Contains("99", e.Message);
        Assert.Contains("100", e.Message);
        var missing = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.AugmentWeights("A", "W", WeightLayout.TetrisMlp100).Fit(wrong));
        Assert.Contains("'W'", missing.Message);
    }

    [Fact]
    public void GetOutputSchemaAddsTheColumnForChains()
    {
        var ml = new MLContext(1);
        var data = Rows(ml, 3);
        var chain = ml.Transforms.AugmentWeights("Aug", "Weights", WeightLayout.TetrisMlp100)
            .Append(ml.Transforms.WeightStatistics("Stats", "Aug", WeightLayout.TetrisMlp100));
        var model = chain.Fit(data);
        Assert.Equal(14, ((VectorDataViewType)model.Transform(data).Schema["Stats"].Type).Size);
        Assert.Throws<NotSupportedException>(() => ml.Model.Save(model, data.Schema, new MemoryStream()));
    }
}

public class NonFiniteWeightsTests
{
    private sealed class Row
    {
        [VectorType(100)] public float[] Weights { get; set; } = Array.Empty<float>();
    }

    private static IDataView Rows(MLContext ml, int bad)
    {
        var rows = Enumerable.Range(0, 6).Select(i => new Row { Weights = Enumerable.Range(0, 100).Select(j => (float)Math.Cos(i * 7 + j)).ToArray() }).ToArray();
        rows[bad].Weights[17] = float.NaN;
        rows[bad + 1].Weights[3] = float.PositiveInfinity;
        return ml.Data.LoadFromEnumerable(rows);
    }

    [Fact]
    public void EveryTransformNamesTheRowAndPositionOfANonFiniteWeight()
    {
        var ml = new MLContext(1);
        var data = Rows(ml, 2);
        var layout = WeightLayout.TetrisMlp100;
        foreach (var estimator in new IEstimator<ITransformer>[]
        {
            ml.Transforms.WeightStatistics("F", "Weights", layout),
            ml.Transforms.AugmentWeights("F", "Weights", layout),
        })
        {
            var output = estimator.Fit(data).Transform(data);
            var e = Assert.Throws<InvalidOperationException>(() => output.GetColumn<float[]>("F").ToArray());
            Assert.Contains("Row 2", e.Message);
            Assert.Contains("position 17", e.Message);
            Assert.Contains("'Weights'", e.Message);
        }
        var fit = Assert.Throws<InvalidOperationException>(() => ml.Transforms.StandardizeWeightsPerLayer("F", "Weights", layout).Fit(data));
        Assert.Contains("Row 2", fit.Message);
    }

    [Fact]
    public void ReplaceWithZeroImputesAndFilterNonFiniteWeightsDropsTheRows()
    {
        var ml = new MLContext(1);
        var data = Rows(ml, 2);
        var layout = WeightLayout.TetrisMlp100;
        var imputed = ml.Transforms.StandardizeWeightsPerLayer("F", "Weights", layout, NonFiniteWeights.ReplaceWithZero).Fit(data).Transform(data)
            .GetColumn<float[]>("F").ToArray();
        Assert.Equal(6, imputed.Length);
        Assert.All(imputed.SelectMany(v => v), v => Assert.True(float.IsFinite(v)));
        var clean = ml.Data.FilterNonFiniteWeights(data);
        var kept = clean.GetColumn<float[]>("Weights").ToArray();
        Assert.Equal(4, kept.Length);
        Assert.All(kept.SelectMany(v => v), v => Assert.True(float.IsFinite(v)));
        Assert.Equal(4, ml.Transforms.WeightStatistics("F", "Weights", layout).Fit(clean).Transform(clean).GetColumn<float[]>("F").Count());
    }

    [Fact]
    public void FittedLibraryTransformersSaveAndLoadWithIdenticalOutputs()
    {
        var ml = new MLContext(1);
        var rows = Enumerable.Range(0, 10).Select(i => new Row { Weights = Enumerable.Range(0, 100).Select(j => (float)Math.Sin(i * 3 + j) * (1 + i)).ToArray() });
        var data = ml.Data.LoadFromEnumerable(rows);
        using var tmp = new TempDir();
        var layout = WeightLayout.TetrisMlp100;
        foreach (var estimator in new IEstimator<WeightVectorTransformer>[]
        {
            ml.Transforms.StandardizeWeightsPerLayer("F", "Weights", layout),
            ml.Transforms.WeightStatistics("F", "Weights", layout, StatisticsVariant.Unterthiner),
            ml.Transforms.AugmentWeights("F", "Weights", layout, new AugmentationOptions { Seed = 4, NoiseSigma = 0.1 }),
        })
        {
            var t = estimator.Fit(data);
            var path = tmp.Sub(t.GetType().Name);
            t.Save(path);
            var loaded = WeightVectorTransformer.Load(ml, path);
            Assert.IsType(t.GetType(), loaded);
            Assert.Equal(t.Transform(data).GetColumn<float[]>("F").ToArray(), loaded.Transform(data).GetColumn<float[]>("F").ToArray());
        }
        // ML.NET's own Save names the way that works.
        var model = ml.Transforms.StandardizeWeightsPerLayer("F", "Weights", layout).Append(ml.Transforms.CopyColumns("G", "F")).Fit(data);
        Assert.Contains("SaveWeightSpace", Assert.Throws<NotSupportedException>(() => ml.Model.Save(model, data.Schema, tmp.Sub("model.zip"))).Message);
        ml.Model.SaveWeightSpace(model, data.Schema, tmp.Sub("chain.wsmodel"));
        var back = ml.Model.LoadWeightSpace(tmp.Sub("chain.wsmodel"), out _);
        Assert.Equal(model.Transform(data).GetColumn<float[]>("G").ToArray(), back.Transform(data).GetColumn<float[]>("G").ToArray());
    }
}
