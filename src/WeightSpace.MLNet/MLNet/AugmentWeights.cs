using Microsoft.ML;

namespace WeightSpace.MLNet;

/// <summary>Adds an augmented copy of a weight column (permutation, erasing, noise), deterministic per row position and seed.</summary>
public sealed class AugmentWeightsTransformer : WeightVectorTransformer
{
    internal AugmentWeightsTransformer(string output, string input, WeightLayout layout, AugmentationOptions options)
        : base(output, input, layout, layout.ParameterCount)
    {
        Augmenter = new WeightAugmenter(layout, options);
    }

    /// <summary>The augmenter applied to each row.</summary>
    public WeightAugmenter Augmenter { get; }

    internal override string Kind => nameof(AugmentWeightsTransformer);

    internal override VectorColumnMapper CreateMapper() => new Mapper(Augmenter);

    private sealed class Mapper(WeightAugmenter augmenter) : VectorColumnMapper
    {
        public override void Map(ReadOnlySpan<float> input, Span<float> output, long rowKey) => augmenter.Augment(input, output, rowKey);
    }
}

/// <summary>Estimator of <see cref="AugmentWeightsTransformer"/> (nothing to learn).</summary>
public sealed class AugmentWeightsEstimator : WeightVectorEstimator<AugmentWeightsTransformer>
{
    private readonly AugmentationOptions _options;

    internal AugmentWeightsEstimator(string output, string input, WeightLayout layout, AugmentationOptions options) : base(output, input, layout)
    {
        _options = options;
        _ = new WeightAugmenter(layout, options); // validate now, not at Fit
    }

    private protected override AugmentWeightsTransformer FitCore(IDataView input) => new(OutputColumnName, InputColumnName, Layout, _options);
}
