using WeightSpace.MLNet.Internal;
using WeightSpace.ZooGen.Data;
using static TorchSharp.torch;

namespace WeightSpace.ZooGen.Training;

/// <summary>Tensors of a train/test split plus the per-model subsets and data orders both trainers share.</summary>
internal sealed class TrainingData : IDisposable
{
    // Tensors are made on first use (the lane trainer works on the C# arrays and never needs them); first use may be
    // inside a training step's dispose scope, so they are detached from it: this object owns and disposes them.
    private readonly Lazy<Tensor> _trainX, _trainY, _testX, _testY;
    private readonly Lazy<Tensor>? _valX, _valY;

    public TrainingData(DataSplit split)
    {
        Split = split;
        static Lazy<Tensor> Images(ImageDataset d) => new(() => tensor(d.Pixels, new long[] { d.Count, d.Channels, d.Height, d.Width }).DetachFromDisposeScope());
        static Lazy<Tensor> Labels(ImageDataset d) => new(() => tensor(d.Labels.Select(l => (long)l).ToArray()).DetachFromDisposeScope());
        _trainX = Images(split.Train); _trainY = Labels(split.Train);
        _testX = Images(split.Test); _testY = Labels(split.Test);
        if (split.Validation is { } v) { _valX = Images(v); _valY = Labels(v); }
    }

    public DataSplit Split { get; }
    public Tensor TrainX => _trainX.Value;
    public Tensor TrainY => _trainY.Value;
    public Tensor TestX => _testX.Value;
    public Tensor TestY => _testY.Value;
    /// <summary>Validation images, or null without a validation set.</summary>
    public Tensor? ValidationX => _valX?.Value;
    /// <summary>Validation labels, or null without a validation set.</summary>
    public Tensor? ValidationY => _valY?.Value;

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
        foreach (var t in new[] { _trainX, _trainY, _testX, _testY, _valX, _valY })
            if (t is not null && t.IsValueCreated) t.Value.Dispose();
    }
}
