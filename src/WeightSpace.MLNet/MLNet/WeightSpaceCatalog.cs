using Microsoft.ML;

namespace WeightSpace.MLNet;

/// <summary>
/// The <c>mlContext.Transforms.*</c> entry points of WeightSpace.MLNet. Non-finite weights (NaN, ∞) are an error naming the
/// row and position by default; <see cref="NonFiniteWeights.ReplaceWithZero"/> imputes zeros, and
/// <c>mlContext.Data.FilterNonFiniteWeights(view)</c> drops such rows before the transforms see them.
/// </summary>
public static class WeightSpaceCatalog
{
    /// <summary>
    /// Adds <paramref name="outputColumnName"/>: an augmented copy of the weight column (permutation of hidden units,
    /// erasing, noise), seeded and deterministic per row position.
    /// </summary>
    /// <example><code>
    /// var pipeline = ml.Transforms.AugmentWeights("Augmented", "Weights", WeightLayout.TetrisMlp100,
    ///     new AugmentationOptions { Seed = 7, NoiseSigma = 0.05 });
    /// </code></example>
    public static AugmentWeightsEstimator AugmentWeights(this TransformsCatalog catalog, string outputColumnName, string inputColumnName,
        WeightLayout layout, AugmentationOptions? options = null, NonFiniteWeights nonFinite = NonFiniteWeights.Error)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new AugmentWeightsEstimator(outputColumnName, inputColumnName, layout, options ?? new AugmentationOptions()) { NonFinite = nonFinite };
    }

    /// <summary>
    /// Adds the s(W) baseline features: 7 statistics of every parameter tensor (R21: mean, variance, percentiles
    /// 1/25/50/75/99; Unterthiner: mean, std, percentiles 0/25/50/75/100).
    /// </summary>
    /// <example><code>
    /// var probe = ml.Transforms.WeightStatistics("Features", "Weights", WeightLayout.Cnn2464)
    ///     .Append(ml.Regression.Trainers.LightGbm("TestAccuracy", "Features"));
    /// </code></example>
    public static WeightStatisticsEstimator WeightStatistics(this TransformsCatalog catalog, string outputColumnName, string inputColumnName,
        WeightLayout layout, StatisticsVariant variant = StatisticsVariant.R21, NonFiniteWeights nonFinite = NonFiniteWeights.Error)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new WeightStatisticsEstimator(outputColumnName, inputColumnName, layout, variant) { NonFinite = nonFinite };
    }

    /// <summary>
    /// Adds per-neuron statistics: the mean, log mean square and log max |w| of every neuron token (a unit's incoming
    /// weights and bias) — what the encoder is given with <see cref="WeightEmbeddingOptions.TokenStatistics"/>, as a baseline
    /// of its own.
    /// </summary>
    /// <example><code>
    /// var probe = ml.Transforms.NeuronStatistics("Features", "Weights", layout)
    ///     .Append(ml.Regression.Trainers.WeightSpaceRidge("TestAccuracy", "Features"));
    /// </code></example>
    public static NeuronStatisticsEstimator NeuronStatistics(this TransformsCatalog catalog, string outputColumnName, string inputColumnName,
        WeightLayout layout, NonFiniteWeights nonFinite = NonFiniteWeights.Error)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new NeuronStatisticsEstimator(outputColumnName, inputColumnName, layout) { NonFinite = nonFinite };
    }

    /// <summary>The W baseline standardised per layer (μ_l, σ_l fitted over the training rows).</summary>
    /// <example><code>
    /// var w = ml.Transforms.StandardizeWeightsPerLayer("Features", "Weights", WeightLayout.TetrisMlp100);
    /// </code></example>
    public static StandardizeWeightsEstimator StandardizeWeightsPerLayer(this TransformsCatalog catalog, string outputColumnName, string inputColumnName,
        WeightLayout layout, NonFiniteWeights nonFinite = NonFiniteWeights.Error)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new StandardizeWeightsEstimator(outputColumnName, inputColumnName, layout) { NonFinite = nonFinite };
    }

    /// <summary>
    /// Adds <paramref name="outputColumnName"/>: the hyper-representation of each row's weights (a Vector&lt;Single, LatentDim&gt;).
    /// <c>Fit</c> trains the autoencoder on the input view — holding out <see cref="WeightEmbeddingOptions.ValidationFraction"/>
    /// of the models by <c>ModelId</c> for validation — or, with <paramref name="pretrained"/>, wraps a saved one without training.
    /// The layout comes from the column's annotation (<c>LoadZoo</c> adds it).
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">The embedding column to add.</param>
    /// <param name="inputColumnName">The weight column (default "Weights").</param>
    /// <param name="options">Architecture and training (default <see cref="WeightEmbeddingOptions.CpuDefaultFor"/> the column's layout).</param>
    /// <param name="pretrained">A file saved by <see cref="WeightVectorTransformer.Save(string)"/> or <see cref="HyperRepresentation.Save(string)"/>: no training.</param>
    /// <param name="progress">Receives progress during training (e.g. a <see cref="TrainingProgressBar"/>).</param>
    /// <param name="cancellationToken">Stops training.</param>
    /// <param name="nonFinite">What a NaN or ∞ in the weight column does (default: an error naming the row and position).</param>
    /// <example><code>
    /// var ml = new MLContext(seed: 1);
    /// var zoo = ml.Data.LoadZoo("zoos/tetris-seed");
    /// var split = ml.Data.TrainTestSplit(zoo, 0.3, samplingKeyColumnName: "ModelId");
    /// var probe = ml.Transforms.WeightEmbedding("Embedding")
    ///     .Append(ml.Regression.Trainers.LightGbm("TestAccuracy", "Embedding"));
    /// var model = probe.Fit(split.TrainSet);
    /// </code></example>
    public static WeightEmbeddingEstimator WeightEmbedding(this TransformsCatalog catalog, string outputColumnName, string inputColumnName = ZooColumns.Weights,
        WeightEmbeddingOptions? options = null, string? pretrained = null, IProgress<TrainingReport>? progress = null, CancellationToken cancellationToken = default,
        NonFiniteWeights nonFinite = NonFiniteWeights.Error) =>
        new(Environment(catalog), outputColumnName, inputColumnName, null, options, pretrained, progress, cancellationToken) { NonFinite = nonFinite };

    /// <summary>As the other overload, for views whose weight column carries no layout annotation.</summary>
    public static WeightEmbeddingEstimator WeightEmbedding(this TransformsCatalog catalog, string outputColumnName, string inputColumnName, WeightLayout layout,
        WeightEmbeddingOptions? options = null, string? pretrained = null, IProgress<TrainingReport>? progress = null, CancellationToken cancellationToken = default,
        NonFiniteWeights nonFinite = NonFiniteWeights.Error)
    {
        ArgumentNullException.ThrowIfNull(layout);
        return new(Environment(catalog), outputColumnName, inputColumnName, layout, options, pretrained, progress, cancellationToken) { NonFinite = nonFinite };
    }

    /// <summary>
    /// The paper's linear probe (METHOD §6): closed-form ridge regression in float64 with λ chosen from the paper's grid on
    /// held-out models (or <see cref="RidgeProbeOptions.ValidationSet"/>). Gives a stock ML.NET linear model.
    /// </summary>
    /// <example><code>
    /// var probe = ml.Transforms.WeightEmbedding("Embedding")
    ///     .Append(ml.Regression.Trainers.WeightSpaceRidge("TestAccuracy", "Embedding"));
    /// </code></example>
    public static RidgeProbeTrainer WeightSpaceRidge(this RegressionCatalog.RegressionTrainers catalog, string labelColumnName = "Label",
        string featureColumnName = "Features", RidgeProbeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var o = (options ?? new RidgeProbeOptions()) with { LabelColumnName = labelColumnName, FeatureColumnName = featureColumnName };
        return new RidgeProbeTrainer(HostOf(catalog), o);
    }

    /// <summary>
    /// The supervised weight-space predictor for a numeric label (e.g. test accuracy, epoch): the hyper-representation's encoder
    /// with a head over its latent (and s(W) when asked), trained on the label with neuron-permutation augmentation, early stopping on
    /// held-out models and predictions averaged over permuted views (<see cref="WeightSpacePredictor"/>). Adds a Single
    /// <c>Score</c> column; <c>ml.Regression.Evaluate</c> scores it.
    /// </summary>
    /// <param name="catalog">The regression trainers.</param>
    /// <param name="labelColumnName">The Single label column.</param>
    /// <param name="weightsColumnName">The weight column (its layout from the column's annotation, as <c>LoadZoo</c> adds it).</param>
    /// <param name="options">Architecture and training (default <see cref="WeightSpacePredictorOptions"/>).</param>
    /// <param name="validationSet">Rows of held-out models for early stopping (default: held out of the training view by ModelId).</param>
    /// <param name="pretrained">A saved hyper-representation to fine-tune (default: a fresh encoder).</param>
    /// <param name="progress">Receives a report at each validation.</param>
    /// <param name="cancellationToken">Stops training.</param>
    /// <example><code>
    /// var model = ml.Regression.Trainers.WeightSpaceTransformer("TestAccuracy").Fit(train);
    /// var metrics = ml.Regression.Evaluate(model.Transform(test), "TestAccuracy");
    /// </code></example>
    public static WeightSpacePredictorTrainer WeightSpaceTransformer(this RegressionCatalog.RegressionTrainers catalog, string labelColumnName = "Label",
        string weightsColumnName = ZooColumns.Weights, WeightSpacePredictorOptions? options = null, IDataView? validationSet = null, string? pretrained = null,
        IProgress<TrainingReport>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new WeightSpacePredictorTrainer(HostOf(catalog), classifier: false, labelColumnName, weightsColumnName, null, options, validationSet, pretrained, progress, cancellationToken);
    }

    /// <summary>
    /// The supervised weight-space predictor for a categorical label (e.g. activation, optimiser): as the regression twin, with
    /// cross-entropy. The label is a key column (<c>ml.Transforms.Conversion.MapValueToKey</c>); adds <c>Score</c> (one
    /// probability per category) and <c>PredictedLabel</c>; <c>ml.MulticlassClassification.Evaluate</c> scores it.
    /// </summary>
    /// <example><code>
    /// var pipeline = ml.Transforms.Conversion.MapValueToKey("Label", "Activation")
    ///     .Append(ml.MulticlassClassification.Trainers.WeightSpaceTransformer("Label"));
    /// </code></example>
    public static WeightSpacePredictorTrainer WeightSpaceTransformer(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, string labelColumnName = "Label",
        string weightsColumnName = ZooColumns.Weights, WeightSpacePredictorOptions? options = null, IDataView? validationSet = null, string? pretrained = null,
        IProgress<TrainingReport>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new WeightSpacePredictorTrainer(HostOf(catalog), classifier: true, labelColumnName, weightsColumnName, null, options, validationSet, pretrained, progress, cancellationToken);
    }

    private static Microsoft.ML.Runtime.IHostEnvironment HostOf(object catalog)
    {
        // TrainCatalogBase.CatalogInstantiatorBase keeps the environment in a private field, as TransformsCatalog does.
        for (var t = catalog.GetType(); t is not null; t = t.BaseType)
            foreach (var f in t.GetFields(System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance))
                if (typeof(Microsoft.ML.Runtime.IHostEnvironment).IsAssignableFrom(f.FieldType) && f.GetValue(catalog) is Microsoft.ML.Runtime.IHostEnvironment env)
                    return env;
        return new MLContext();
    }

    /// <summary>
    /// The MLContext behind a catalog, for its log and progress channels and GPU settings. ML.NET keeps it in a private field;
    /// when that cannot be read, a fresh context is used (messages then go to nobody).
    /// </summary>
    private static Microsoft.ML.Runtime.IHostEnvironment Environment(TransformsCatalog catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return HostOf(catalog);
    }
}
