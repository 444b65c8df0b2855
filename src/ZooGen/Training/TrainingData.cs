using WeightSpace.MLNet;
using WeightSpace.ZooGen.Data;

namespace WeightSpace.ZooGen.Training;

/// <summary>A train/test split plus the per-model subsets and data orders every trainer shares (the lanes here, the TorchSharp references in tests/ZooGen.Reference).</summary>
internal sealed class TrainingData
{
    public TrainingData(DataSplit split) => Split = split;

    public DataSplit Split { get; }

    /// <summary>How many training images a model uses per epoch: TrainFraction of the set, at least one, at most all.</summary>
    public static int SubsetSize(ModelSpec model, int trainCount) => Math.Min(trainCount, Math.Max(1, (int)Math.Round(model.TrainFraction * trainCount)));

    /// <summary>The training indices a model uses (<see cref="SubsetSize"/> of the set, seeded, in ascending order).</summary>
    public static int[] Subset(ModelSpec model, int trainCount)
    {
        int n = SubsetSize(model, trainCount);
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
}
