namespace WeightSpace.ZooGen.Training;

/// <summary>
/// The state of one model at one saved epoch: weights and the metrics on the full train and test sets, and on the
/// validation set when one is held out (NaN otherwise).
/// </summary>
public sealed record Checkpoint(ModelSpec Model, int Epoch, float[] Weights, float TrainAccuracy, float TestAccuracy, float TrainLoss, float TestLoss,
    float ValidationAccuracy = float.NaN, float ValidationLoss = float.NaN);
