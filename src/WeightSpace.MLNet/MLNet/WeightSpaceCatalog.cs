using Microsoft.ML;
using WeightSpace.MLNet.Augmentation;
using WeightSpace.MLNet.Layout;
using WeightSpace.MLNet.Probing;

namespace WeightSpace.MLNet.MLNet;

/// <summary>The <c>mlContext.Transforms.*</c> entry points of WeightSpace.MLNet.</summary>
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
        WeightLayout layout, AugmentationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new AugmentWeightsEstimator(outputColumnName, inputColumnName, layout, options ?? new AugmentationOptions());
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
        WeightLayout layout, StatisticsVariant variant = StatisticsVariant.R21)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new WeightStatisticsEstimator(outputColumnName, inputColumnName, layout, variant);
    }

    /// <summary>The W baseline standardised per layer (μ_l, σ_l fitted over the training rows).</summary>
    /// <example><code>
    /// var w = ml.Transforms.StandardizeWeightsPerLayer("Features", "Weights", WeightLayout.TetrisMlp100);
    /// </code></example>
    public static StandardizeWeightsEstimator StandardizeWeightsPerLayer(this TransformsCatalog catalog, string outputColumnName, string inputColumnName,
        WeightLayout layout)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new StandardizeWeightsEstimator(outputColumnName, inputColumnName, layout);
    }
}
