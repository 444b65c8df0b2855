using WeightSpace.MLNet.Internal;
using WeightSpace.ZooGen.Data;
using static TorchSharp.torch;

namespace WeightSpace.ZooGen.Training;

/// <summary>Tensors of a train/test split plus the per-model subsets and data orders both trainers share.</summary>
internal sealed class TrainingData : IDisposable
{
    public TrainingData(DataSplit split)
    {
        Split = split;
        var tr = split.Train;
        var te = split.Test;
        TrainX = tensor(tr.Pixels, new long[] { tr.Count, tr.Channels, tr.Height, tr.Width });
        TrainY = tensor(tr.Labels.Select(l => (long)l).ToArray());
        TestX = tensor(te.Pixels, new long[] { te.Count, te.Channels, te.Height, te.Width });
        TestY = tensor(te.Labels.Select(l => (long)l).ToArray());
    }

    public DataSplit Split { get; }
    public Tensor TrainX { get; }
    public Tensor TrainY { get; }
    public Tensor TestX { get; }
    public Tensor TestY { get; }

    /// <summary>The training indices a model uses (TrainFraction of the set, seeded, in ascending order).</summary>
    public static int[] Subset(ModelSpec model, int trainCount)
    {
        int n = Math.Max(1, (int)Math.Round(model.TrainFraction * trainCount));
        if (n >= trainCount) return Enumerable.Range(0, trainCount).ToArray();
        var all = Enumerable.Range(0, trainCount).ToArray();
        var rng = Rng.For(model.Seed, 0x5B5E7);
        rng.Shuffle(all);
        var subset = all[..n];
        Array.Sort(subset);
        return subset;
    }

    /// <summary>The order in which a model visits its subset in <paramref name="epoch"/> (1-based), seeded by the model.</summary>
    public static int[] EpochOrder(ModelSpec model, int[] subset, int epoch)
    {
        var order = (int[])subset.Clone();
        var rng = Rng.For(model.Seed, 0x0D0E, epoch);
        rng.Shuffle(order);
        return order;
    }

    public void Dispose()
    {
        TrainX.Dispose(); TrainY.Dispose(); TestX.Dispose(); TestY.Dispose();
    }
}
