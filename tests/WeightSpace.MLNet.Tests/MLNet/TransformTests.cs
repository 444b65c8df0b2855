using Microsoft.ML;
using Microsoft.ML.Data;
using WeightSpace.MLNet.Augmentation;
using WeightSpace.MLNet.Layout;
using WeightSpace.MLNet.MLNet;
using WeightSpace.MLNet.Probing;
using WeightSpace.MLNet.Tests.Zoo;
using WeightSpace.MLNet.Zoo;
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
