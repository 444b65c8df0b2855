namespace WeightSpace.ZooGen.Training;

/// <summary>The state of one model at one saved epoch: weights and the metrics on the full train and test sets.</summary>
public sealed record Checkpoint(ModelSpec Model, int Epoch, float[] Weights, float TrainAccuracy, float TestAccuracy, float TrainLoss, float TestLoss);
