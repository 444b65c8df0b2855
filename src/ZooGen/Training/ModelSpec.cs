using WeightSpace.MLNet;

namespace WeightSpace.ZooGen.Training;

/// <summary>Everything that defines one model of a zoo: its id, seed and hyperparameters.</summary>
public sealed record ModelSpec
{
    /// <summary>Model id (unique in the zoo).</summary>
    public int ModelId { get; init; }
    /// <summary>Seed of the initialisation, data order and dropout masks.</summary>
    public int Seed { get; init; }
    /// <summary>Hidden-layer activation.</summary>
    public Activation Activation { get; init; } = Activation.Tanh;
    /// <summary>Weight initialisation.</summary>
    public Init Init { get; init; } = Init.KaimingUniform;
    /// <summary>Optimiser.</summary>
    public Optimizer Optimizer { get; init; } = Optimizer.Adam;
    /// <summary>Learning rate.</summary>
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>L2 weight decay (added to the gradient, as torch's weight_decay).</summary>
    public double WeightDecay { get; init; }
    /// <summary>Dropout probability after hidden activations.</summary>
    public double Dropout { get; init; }
    /// <summary>Mini-batch size.</summary>
    public int BatchSize { get; init; } = 32;
    /// <summary>Fraction of the training set this model trains on (a seeded subset).</summary>
    public double TrainFraction { get; init; } = 1.0;

    /// <summary>
    /// The zoo record of this model at one saved epoch — the one checkpoint record, written as it is by the library's
    /// ZooWriter: weights, the metrics on the full train and test sets (and on the validation set when one is held out;
    /// NaN otherwise) and the model's hyperparameters. The generalisation gap is left to the record's one definition.
    /// </summary>
    public ZooRecord Checkpoint(int epoch, float[] weights, float trainAccuracy, float testAccuracy, float trainLoss, float testLoss,
        float validationAccuracy = float.NaN, float validationLoss = float.NaN)
    {
        var r = new ZooRecord
        {
            Weights = weights, ModelId = ModelId, Epoch = epoch, Seed = Seed,
            TrainAccuracy = trainAccuracy, TestAccuracy = testAccuracy, TrainLoss = trainLoss, TestLoss = testLoss,
            ValidationAccuracy = validationAccuracy, ValidationLoss = validationLoss,
        };
        r.Numeric[ZooColumns.Hyper.LearningRate] = (float)LearningRate;
        r.Numeric[ZooColumns.Hyper.WeightDecay] = (float)WeightDecay;
        r.Numeric[ZooColumns.Hyper.Dropout] = (float)Dropout;
        r.Numeric[ZooColumns.Hyper.TrainFraction] = (float)TrainFraction;
        r.Numeric[ZooColumns.Hyper.BatchSize] = BatchSize;
        r.Text[ZooColumns.Hyper.Activation] = Activation.Name();
        r.Text[ZooColumns.Hyper.Init] = Init.Name();
        r.Text[ZooColumns.Hyper.Optimizer] = Optimizer.Name();
        return r;
    }

    /// <summary>Throws an error naming the first value outside its domain.</summary>
    public void Validate()
    {
        static void Check(bool ok, string what) { if (!ok) throw new ArgumentException(what); }
        Check(Enum.IsDefined(Activation), $"activation {(int)Activation} is not defined.");
        Check(Enum.IsDefined(Init), $"init {(int)Init} is not defined.");
        Check(Enum.IsDefined(Optimizer), $"optimizer {(int)Optimizer} is not defined.");
        Check(LearningRate > 0 && double.IsFinite(LearningRate), $"learning rate {LearningRate} must be > 0.");
        Check(WeightDecay >= 0 && double.IsFinite(WeightDecay), $"weight decay {WeightDecay} must be ≥ 0.");
        Check(Dropout >= 0 && Dropout < 1, $"dropout {Dropout} must lie in [0, 1).");
        Check(BatchSize > 0, $"batch size {BatchSize} must be > 0.");
        Check(TrainFraction > 0 && TrainFraction <= 1, $"train fraction {TrainFraction} must lie in (0, 1].");
    }
}
