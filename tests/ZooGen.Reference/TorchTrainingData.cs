using WeightSpace.ZooGen.Data;
using static TorchSharp.torch;

namespace WeightSpace.ZooGen.Training;

/// <summary>
/// <see cref="TrainingData"/> plus its images and labels as tensors, for the TorchSharp reference trainers. Converts
/// implicitly to <see cref="TrainingData"/>, so one object feeds the lane trainer and its references.
/// </summary>
internal sealed class TorchTrainingData : IDisposable
{
    // Tensors are made on first use; first use may be inside a training step's dispose scope, so they are detached
    // from it: this object owns and disposes them.
    private readonly Lazy<Tensor> _trainX, _trainY, _testX, _testY;
    private readonly Lazy<Tensor>? _valX, _valY;

    public TorchTrainingData(DataSplit split)
    {
        Data = new TrainingData(split);
        static Lazy<Tensor> Images(ImageDataset d) => new(() => tensor(d.Pixels, new long[] { d.Count, d.Channels, d.Height, d.Width }).DetachFromDisposeScope());
        static Lazy<Tensor> Labels(ImageDataset d) => new(() => tensor(d.Labels.Select(l => (long)l).ToArray()).DetachFromDisposeScope());
        _trainX = Images(split.Train); _trainY = Labels(split.Train);
        _testX = Images(split.Test); _testY = Labels(split.Test);
        if (split.Validation is { } v) { _valX = Images(v); _valY = Labels(v); }
    }

    public TrainingData Data { get; }
    public DataSplit Split => Data.Split;
    public Tensor TrainX => _trainX.Value;
    public Tensor TrainY => _trainY.Value;
    public Tensor TestX => _testX.Value;
    public Tensor TestY => _testY.Value;
    /// <summary>Validation images, or null without a validation set.</summary>
    public Tensor? ValidationX => _valX?.Value;
    /// <summary>Validation labels, or null without a validation set.</summary>
    public Tensor? ValidationY => _valY?.Value;

    public static implicit operator TrainingData(TorchTrainingData data) => data.Data;

    public void Dispose()
    {
        foreach (var t in new[] { _trainX, _trainY, _testX, _testY, _valX, _valY })
            if (t is not null && t.IsValueCreated) t.Value.Dispose();
    }
}
