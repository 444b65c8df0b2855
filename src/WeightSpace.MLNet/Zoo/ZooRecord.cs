namespace WeightSpace.MLNet;

/// <summary>One checkpoint of one model: its flat weight vector and its labels.</summary>
/// <example><code>
/// var r = new ZooRecord { Weights = w, ModelId = 7, Epoch = 3, Seed = 7, TrainAccuracy = 0.9f, TestAccuracy = 0.85f };
/// r.Numeric["LearningRate"] = 1e-3f;
/// r.Text["Activation"] = "tanh";
/// </code></example>
public sealed class ZooRecord
{
    /// <summary>The flat weight vector (layout order).</summary>
    public float[] Weights { get; set; } = Array.Empty<float>();
    /// <summary>Model identifier; all checkpoints of a model share it.</summary>
    public int ModelId { get; set; }
    /// <summary>Epoch of the checkpoint (0 = initialisation).</summary>
    public int Epoch { get; set; }
    /// <summary>Training seed.</summary>
    public int Seed { get; set; }
    /// <summary>Training-set accuracy.</summary>
    public float TrainAccuracy { get; set; }
    /// <summary>Test-set accuracy.</summary>
    public float TestAccuracy { get; set; }
    /// <summary>Training-set loss.</summary>
    public float TrainLoss { get; set; }
    /// <summary>Test-set loss.</summary>
    public float TestLoss { get; set; }
    /// <summary>Train accuracy − test accuracy (set it, or leave NaN to have the writer compute it).</summary>
    public float GeneralizationGap { get; set; } = float.NaN;
    /// <summary>Accuracy on the held-out validation set, for zoos that declare <see cref="ZooColumns.ValidationAccuracy"/> (NaN otherwise).</summary>
    public float ValidationAccuracy { get; set; } = float.NaN;
    /// <summary>Mean cross-entropy on the held-out validation set, for zoos that declare <see cref="ZooColumns.ValidationLoss"/> (NaN otherwise).</summary>
    public float ValidationLoss { get; set; } = float.NaN;
    /// <summary>Numeric hyperparameters by column name.</summary>
    public Dictionary<string, float> Numeric { get; init; } = new();
    /// <summary>Categorical hyperparameters by column name.</summary>
    public Dictionary<string, string> Text { get; init; } = new();

    /// <summary>
    /// The value of a metric column (one of <see cref="ZooColumns.Metrics"/> or <see cref="ZooColumns.OptionalMetrics"/>, by name). The generalisation gap is
    /// computed here, and only here, when it was left NaN: train accuracy − test accuracy.
    /// </summary>
    public float Metric(string column) => column switch
    {
        ZooColumns.TrainAccuracy => TrainAccuracy,
        ZooColumns.TestAccuracy => TestAccuracy,
        ZooColumns.TrainLoss => TrainLoss,
        ZooColumns.TestLoss => TestLoss,
        ZooColumns.GeneralizationGap => float.IsNaN(GeneralizationGap) ? TrainAccuracy - TestAccuracy : GeneralizationGap,
        ZooColumns.ValidationAccuracy => ValidationAccuracy,
        ZooColumns.ValidationLoss => ValidationLoss,
        _ => throw new ArgumentOutOfRangeException(nameof(column), column, "not a metric column"),
    };

    private static readonly HashSet<string> MetricColumns = ZooColumns.Metrics.Concat(ZooColumns.OptionalMetrics).ToHashSet();

    /// <summary>
    /// The value of a Single column of the zoo, wherever the record keeps it: a metric property, or a numeric
    /// hyperparameter (false when the record has none). The one place that decides which.
    /// </summary>
    internal bool TryGetSingle(string column, out float value)
    {
        if (MetricColumns.Contains(column)) { value = Metric(column); return true; }
        return Numeric.TryGetValue(column, out value);
    }

    /// <summary>Sets a Single column of the zoo where the record keeps it (see <see cref="TryGetSingle"/>).</summary>
    internal void SetSingle(string column, float value)
    {
        if (MetricColumns.Contains(column)) SetMetric(column, value);
        else Numeric[column] = value;
    }

    /// <summary>Sets a metric column (one of <see cref="ZooColumns.Metrics"/> or <see cref="ZooColumns.OptionalMetrics"/>, by name).</summary>
    internal void SetMetric(string column, float value)
    {
        switch (column)
        {
            case ZooColumns.TrainAccuracy: TrainAccuracy = value; break;
            case ZooColumns.TestAccuracy: TestAccuracy = value; break;
            case ZooColumns.TrainLoss: TrainLoss = value; break;
            case ZooColumns.TestLoss: TestLoss = value; break;
            case ZooColumns.GeneralizationGap: GeneralizationGap = value; break;
            case ZooColumns.ValidationAccuracy: ValidationAccuracy = value; break;
            case ZooColumns.ValidationLoss: ValidationLoss = value; break;
            default: throw new ArgumentOutOfRangeException(nameof(column), column, "not a metric column");
        }
    }
}
