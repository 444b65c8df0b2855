using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;

namespace WeightSpace.MLNet.Tests.Zoo;

public class ZooDatasetTests
{
    [Fact]
    public void WrittenRecordsReadBackValueForValue()
    {
        using var tmp = new TempDir();
        var zoo = ZooTestData.Write(tmp.Sub("zoo"), WeightLayout.Cnn2464, models: 7, epochs: 5, rowsPerShard: 8);
        Assert.Equal(35, zoo.RowCount);
        Assert.Equal(4, zoo.Manifest.Shards.Count); // whole models per shard: a shard closes at the first new model past 8 rows
        Assert.All(zoo.Manifest.Shards, s => Assert.Equal(s.Rows, s.ModelIds.Length * 5));
        var records = zoo.Records().ToList();
        Assert.Equal(35, records.Count);
        for (int i = 0; i < records.Count; i++)
        {
            var expected = ZooTestData.Record(WeightLayout.Cnn2464, i / 5, i % 5);
            var r = records[i];
            Assert.Equal(expected.Weights, r.Weights);
            Assert.Equal(expected.ModelId, r.ModelId);
            Assert.Equal(expected.Epoch, r.Epoch);
            Assert.Equal(expected.Seed, r.Seed);
            Assert.Equal(expected.TestAccuracy, r.TestAccuracy);
            Assert.Equal(expected.TrainAccuracy - expected.TestAccuracy, r.GeneralizationGap, 6);
            Assert.Equal(expected.Numeric[ZooColumns.Hyper.LearningRate], r.Numeric[ZooColumns.Hyper.LearningRate]);
            Assert.Equal(expected.Text[ZooColumns.Hyper.Activation], r.Text[ZooColumns.Hyper.Activation]);
        }
        zoo.Verify();
    }

    [Fact]
    public void LoadZooGivesATypedLazyDataViewThatStockTransformsConsume()
    {
        using var tmp = new TempDir();
        ZooTestData.Write(tmp.Sub("zoo"), WeightLayout.TetrisMlp100, models: 20, epochs: 3, rowsPerShard: 16);
        var ml = new MLContext(seed: 1);
        var view = ml.Data.LoadZoo(tmp.Sub("zoo"));
        var weightsType = Assert.IsType<VectorDataViewType>(view.Schema["Weights"].Type);
        Assert.Equal(100, weightsType.Size);
        Assert.Equal(NumberDataViewType.Int32, view.Schema["ModelId"].Type);
        Assert.Equal(NumberDataViewType.Single, view.Schema["Epoch"].Type);
        Assert.IsType<TextDataViewType>(view.Schema["Activation"].Type);
        Assert.Equal(60L, view.GetRowCount());

        var acc = view.GetColumn<float>("TestAccuracy").ToArray();
        var act = view.GetColumn<ReadOnlyMemory<char>>("Activation").Select(m => m.ToString()).ToArray();
        var w = view.GetColumn<VBuffer<float>>("Weights").Select(v => v.DenseValues().ToArray()).ToArray();
        Assert.Equal(60, acc.Length);
        Assert.Equal(ZooTestData.Record(WeightLayout.TetrisMlp100, 13, 2).TestAccuracy, acc[13 * 3 + 2]);
        Assert.Equal("tanh", act[3 * 3]);
        Assert.Equal(ZooTestData.Record(WeightLayout.TetrisMlp100, 19, 1).Weights, w[19 * 3 + 1]);

        // A stock trainer consumes the vector column directly.
        var model = ml.Regression.Trainers.Sdca(labelColumnName: "TestAccuracy", featureColumnName: "Weights", maximumNumberOfIterations: 2).Fit(view);
        Assert.NotNull(model);
    }

    [Fact]
    public void SplittingByModelIdKeepsEveryModelOnOneSide()
    {
        using var tmp = new TempDir();
        ZooTestData.Write(tmp.Sub("zoo"), WeightLayout.TetrisMlp100, models: 60, epochs: 4);
        var ml = new MLContext(seed: 3);
        var split = ml.Data.TrainTestSplit(ml.Data.LoadZoo(tmp.Sub("zoo")), testFraction: 0.3, samplingKeyColumnName: ZooColumns.ModelId, seed: 3);
        var train = split.TrainSet.GetColumn<int>(ZooColumns.ModelId).ToList();
        var test = split.TestSet.GetColumn<int>(ZooColumns.ModelId).ToList();
        Assert.Equal(240, train.Count + test.Count);
        Assert.NotEmpty(test);
        Assert.NotEmpty(train);
        Assert.Empty(train.ToHashSet().Intersect(test));
        Assert.All(test.GroupBy(id => id), g => Assert.Equal(4, g.Count()));
    }

    [Fact]
    public void ScanMemoryDoesNotGrowWithTheZoo()
    {
        using var tmp = new TempDir();
        ZooTestData.Write(tmp.Sub("small"), WeightLayout.Cnn2464, models: 100, epochs: 5, rowsPerShard: 250);  // 500 rows, 5 MB
        ZooTestData.Write(tmp.Sub("large"), WeightLayout.Cnn2464, models: 400, epochs: 5, rowsPerShard: 250);  // 2,000 rows, 20 MB
        Scan(tmp.Sub("small")); // warm up pools and JIT
        var (smallRows, smallBytes) = Scan(tmp.Sub("small"));
        var (largeRows, largeBytes) = Scan(tmp.Sub("large"));
        Assert.Equal(500, smallRows);
        Assert.Equal(2000, largeRows);
        // Four times the rows (and shards) must not mean more memory: buffers are per cursor, not per row or shard.
        Assert.True(largeBytes < smallBytes + 1_000_000, $"small scan allocated {smallBytes} bytes, large scan {largeBytes}");
        Assert.True(largeBytes < 2_000_000, $"a 20 MB scan allocated {largeBytes} bytes");
    }

    private static (int Rows, long Allocated) Scan(string dir)
    {
        var view = new MLContext().Data.LoadZoo(dir);
        long before = GC.GetAllocatedBytesForCurrentThread();
        using var cursor = view.GetRowCursor(view.Schema);
        var getter = cursor.GetGetter<VBuffer<float>>(view.Schema["Weights"]);
        var buffer = default(VBuffer<float>);
        int rows = 0;
        while (cursor.MoveNext()) { getter(ref buffer); rows++; }
        return (rows, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void ExportToNumpyAndImportGiveTheSameZoo()
    {
        using var tmp = new TempDir();
        var zoo = ZooTestData.Write(tmp.Sub("zoo"), WeightLayout.TetrisMlp100, models: 4, epochs: 3);
        NumpyZoo.Export(zoo, tmp.Sub("npy"));
        var bytes = File.ReadAllBytes(tmp.Sub("npy/weights.npy"));
        Assert.Equal(0x93, bytes[0]);
        int headerLen = bytes[8] | bytes[9] << 8;
        Assert.Equal(0, (10 + headerLen) % 64);
        Assert.Equal(10 + headerLen + 12 * 100 * 4, bytes.Length);
        var header = File.ReadLines(tmp.Sub("npy/metrics.csv")).First();
        Assert.Contains("test_accuracy", header);
        Assert.Contains("config.learning_rate", header);

        var back = NumpyZoo.Import(tmp.Sub("npy"), tmp.Sub("zoo2"), WeightLayout.TetrisMlp100, "synthetic");
        var a = zoo.Records().ToList();
        var b = back.Records().ToList();
        Assert.Equal(a.Count, b.Count);
        for (int i = 0; i < a.Count; i++)
        {
            Assert.Equal(a[i].Weights, b[i].Weights);
            Assert.Equal(a[i].ModelId, b[i].ModelId);
            Assert.Equal(a[i].Epoch, b[i].Epoch);
            Assert.Equal(a[i].TestAccuracy, b[i].TestAccuracy);
            Assert.Equal(a[i].Text["Activation"], b[i].Text["Activation"]);
            Assert.Equal(a[i].Numeric["LearningRate"], b[i].Numeric["LearningRate"]);
        }
    }

    [Fact]
    public void ImportRefusesWeightsOfTheWrongWidth()
    {
        using var tmp = new TempDir();
        var zoo = ZooTestData.Write(tmp.Sub("zoo"), WeightLayout.TetrisMlp100, models: 2, epochs: 1);
        NumpyZoo.Export(zoo, tmp.Sub("npy"));
        var e = Assert.Throws<ZooFormatException>(() => NumpyZoo.Import(tmp.Sub("npy"), tmp.Sub("zoo2"), WeightLayout.Cnn2464, "x"));
        Assert.Contains("weights.npy", e.Message);
        Assert.Contains("2464", e.Message);
    }

    [Fact]
    public void MergeJoinsPartsAndRefusesOverlapOrOtherLayouts()
    {
        using var tmp = new TempDir();
        ZooTestData.Write(tmp.Sub("a"), WeightLayout.TetrisMlp100, models: 3, epochs: 2, firstModel: 0);
        ZooTestData.Write(tmp.Sub("b"), WeightLayout.TetrisMlp100, models: 3, epochs: 2, firstModel: 3);
        var merged = ZooMerge.Merge(tmp.Sub("ab"), new[] { tmp.Sub("a"), tmp.Sub("b") });
        Assert.Equal(12, merged.RowCount);
        Assert.Equal(Enumerable.Range(0, 6), merged.Records().Select(r => r.ModelId).Distinct().OrderBy(x => x));
        merged.Verify();

        var overlap = Assert.Throws<ZooFormatException>(() => ZooMerge.Merge(tmp.Sub("aa"), new[] { tmp.Sub("a"), tmp.Sub("a") }));
        Assert.Contains("model 0", overlap.Message);

        ZooTestData.Write(tmp.Sub("c"), WeightLayout.Cnn2464, models: 1, epochs: 1, firstModel: 10);
        var layout = Assert.Throws<ZooFormatException>(() => ZooMerge.Merge(tmp.Sub("ac"), new[] { tmp.Sub("a"), tmp.Sub("c") }));
        Assert.Contains("layout", layout.Message);
        Assert.False(File.Exists(Path.Combine(tmp.Sub("ac"), ZooManifest.FileName)));
    }

    [Fact]
    public void AppendAddsShardsToAnExistingZoo()
    {
        using var tmp = new TempDir();
        ZooTestData.Write(tmp.Sub("zoo"), WeightLayout.TetrisMlp100, models: 2, epochs: 2);
        using (var w = ZooWriter.Append(tmp.Sub("zoo")))
            w.Write(ZooTestData.Record(WeightLayout.TetrisMlp100, 5, 0));
        var zoo = ZooDataset.Open(tmp.Sub("zoo"));
        Assert.Equal(5, zoo.RowCount);
        Assert.Equal(5, zoo.Records().Last().ModelId);
        Assert.Throws<IOException>(() => ZooWriter.Create(tmp.Sub("zoo"), WeightLayout.TetrisMlp100, "x"));
    }

    [Fact]
    public void ValidationMetricsAreLabelsOfTheRecordNotHyperparameters()
    {
        using var tmp = new TempDir();
        var layout = WeightLayout.TetrisMlp100;
        var columns = ZooTestData.Hyper.Append(new(ZooColumns.ValidationAccuracy, ZooColumnType.Single)).Append(new(ZooColumns.ValidationLoss, ZooColumnType.Single)).ToArray();
        using (var w = ZooWriter.Create(tmp.Sub("zoo"), layout, "synthetic", columns))
        {
            var r = ZooTestData.Record(layout, 0, 1);
            r.ValidationAccuracy = 0.75f;
            r.ValidationLoss = 0.5f;
            w.Write(r);
            var misplaced = ZooTestData.Record(layout, 1, 1);
            misplaced.Numeric[ZooColumns.ValidationAccuracy] = 0.7f;
            Assert.Contains("record.ValidationAccuracy", Assert.Throws<ArgumentException>(() => w.Write(misplaced)).Message);
        }
        var back = ZooDataset.Open(tmp.Sub("zoo")).Records().Single();
        Assert.Equal(0.75f, back.ValidationAccuracy);
        Assert.Equal(0.5f, back.ValidationLoss);
        Assert.DoesNotContain(ZooColumns.ValidationAccuracy, back.Numeric.Keys);
        Assert.Equal(0.75f, back.Metric(ZooColumns.ValidationAccuracy));
        // In the IDataView it is an ordinary Single column, usable as a label.
        var view = new Microsoft.ML.MLContext(1).Data.LoadZoo(tmp.Sub("zoo"));
        Assert.Equal(new[] { 0.75f }, view.GetColumn<float>(ZooColumns.ValidationAccuracy).ToArray());
    }
}
