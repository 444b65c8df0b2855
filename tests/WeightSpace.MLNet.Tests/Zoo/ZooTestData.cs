
namespace WeightSpace.MLNet.Tests.Zoo;

internal static class ZooTestData
{
    public static readonly ZooColumn[] Hyper =
    {
        new(ZooColumns.Hyper.LearningRate, ZooColumnType.Single),
        new(ZooColumns.Hyper.Activation, ZooColumnType.Text),
    };

    public static ZooRecord Record(WeightLayout layout, int model, int epoch)
    {
        var rng = new Random(model * 1000 + epoch);
        var r = new ZooRecord
        {
            Weights = Enumerable.Range(0, layout.ParameterCount).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray(),
            ModelId = model, Epoch = epoch, Seed = model + 100,
            TrainAccuracy = 0.5f + epoch * 0.01f, TestAccuracy = 0.4f + epoch * 0.01f, TrainLoss = 1f / (epoch + 1), TestLoss = 1.1f / (epoch + 1),
        };
        r.Numeric[ZooColumns.Hyper.LearningRate] = model % 2 == 0 ? 1e-3f : 1e-4f;
        r.Text[ZooColumns.Hyper.Activation] = model % 3 == 0 ? "tanh" : "relu";
        return r;
    }

    /// <summary>Writes models × epochs rows, in shards of <paramref name="rowsPerShard"/>.</summary>
    public static ZooDataset Write(string dir, WeightLayout layout, int models, int epochs, int rowsPerShard = 1000, int firstModel = 0)
    {
        using (var w = ZooWriter.Create(dir, layout, "synthetic", Hyper))
        {
            w.RowsPerShard = rowsPerShard;
            for (int m = firstModel; m < firstModel + models; m++)
                for (int e = 0; e < epochs; e++)
                    w.Write(Record(layout, m, e));
        }
        return ZooDataset.Open(dir);
    }
}
