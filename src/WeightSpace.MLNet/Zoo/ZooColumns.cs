using System.Text.Json.Serialization;

namespace WeightSpace.MLNet;

/// <summary>Storage type of a zoo label column.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ZooColumnType>))]
public enum ZooColumnType
{
    /// <summary>32-bit float (numeric labels and hyperparameters).</summary>
    Single,
    /// <summary>Text (categorical hyperparameters such as Activation).</summary>
    Text,
}

/// <summary>A hyperparameter column of a zoo.</summary>
/// <param name="Name">Column name, e.g. "LearningRate".</param>
/// <param name="Type">Single or Text.</param>
public sealed record ZooColumn(string Name, ZooColumnType Type);

/// <summary>Names of the columns every zoo has, as they appear in <c>LoadZoo</c>'s schema.</summary>
public static class ZooColumns
{
    /// <summary>The flat weight vector, Vector&lt;Single, P&gt;.</summary>
    public const string Weights = "Weights";
    /// <summary>Model identifier (Int32): all checkpoints of one trained network share it. Use it as the sampling key of splits.</summary>
    public const string ModelId = "ModelId";
    /// <summary>Training epoch of the checkpoint (Single in the data view so it is a ready regression label; 0 = initialisation).</summary>
    public const string Epoch = "Epoch";
    /// <summary>Training seed of the model (Int32).</summary>
    public const string Seed = "Seed";
    /// <summary>Accuracy on the training set, in [0, 1].</summary>
    public const string TrainAccuracy = "TrainAccuracy";
    /// <summary>Accuracy on the test set, in [0, 1].</summary>
    public const string TestAccuracy = "TestAccuracy";
    /// <summary>Mean cross-entropy on the training set.</summary>
    public const string TrainLoss = "TrainLoss";
    /// <summary>Mean cross-entropy on the test set.</summary>
    public const string TestLoss = "TestLoss";
    /// <summary>TrainAccuracy − TestAccuracy.</summary>
    public const string GeneralizationGap = "GeneralizationGap";

    /// <summary>Accuracy on a validation set held out of the training images (an optional Single column: zoogen writes it when a recipe sets a validation size).</summary>
    public const string ValidationAccuracy = "ValidationAccuracy";
    /// <summary>Mean cross-entropy on the validation set (optional Single column, as <see cref="ValidationAccuracy"/>).</summary>
    public const string ValidationLoss = "ValidationLoss";

    /// <summary>The numeric label columns stored for every checkpoint, in storage order.</summary>
    public static IReadOnlyList<string> Metrics { get; } = new[] { TrainAccuracy, TestAccuracy, TrainLoss, TestLoss, GeneralizationGap };

    /// <summary>
    /// Label columns a zoo may declare (as Single columns after the hyperparameters) that are metrics of the checkpoint,
    /// not hyperparameters: on a <see cref="ZooRecord"/> they are properties (<see cref="ZooRecord.ValidationAccuracy"/>, …).
    /// </summary>
    public static IReadOnlyList<string> OptionalMetrics { get; } = new[] { ValidationAccuracy, ValidationLoss };

    /// <summary>Usual hyperparameter columns (a zoo declares the ones it has).</summary>
    public static class Hyper
    {
        /// <summary>Learning rate (Single).</summary>
        public const string LearningRate = "LearningRate";
        /// <summary>L2 weight decay (Single).</summary>
        public const string WeightDecay = "WeightDecay";
        /// <summary>Dropout probability (Single).</summary>
        public const string Dropout = "Dropout";
        /// <summary>Fraction of the training set used (Single).</summary>
        public const string TrainFraction = "TrainFraction";
        /// <summary>Mini-batch size (Single).</summary>
        public const string BatchSize = "BatchSize";
        /// <summary>Activation function (Text).</summary>
        public const string Activation = "Activation";
        /// <summary>Initialisation scheme (Text).</summary>
        public const string Init = "Init";
        /// <summary>Optimiser (Text).</summary>
        public const string Optimizer = "Optimizer";
    }
}
