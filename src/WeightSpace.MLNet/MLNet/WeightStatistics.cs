using Microsoft.ML;

namespace WeightSpace.MLNet;

/// <summary>Adds the s(W) feature vector (7 statistics per parameter tensor) computed from a weight column.</summary>
public sealed class WeightStatisticsTransformer : WeightVectorTransformer
{
    internal WeightStatisticsTransformer(string output, string input, WeightLayout layout, StatisticsVariant variant)
        : this(output, input, new WeightStatisticsFeaturizer(layout, variant)) { }

    private WeightStatisticsTransformer(string output, string input, WeightStatisticsFeaturizer featurizer)
        : base(output, input, featurizer.Layout, featurizer.FeatureCount)
    {
        Featurizer = featurizer;
    }

    /// <summary>The featurizer (feature names, variant).</summary>
    public WeightStatisticsFeaturizer Featurizer { get; }

    internal override string Kind => nameof(WeightStatisticsTransformer);

    internal override VectorColumnMapper CreateMapper() => new Mapper(Featurizer);

    private sealed class Mapper(WeightStatisticsFeaturizer featurizer) : VectorColumnMapper
    {
        private readonly float[] _scratch = new float[featurizer.MaxTensor];
        public override void Map(ReadOnlySpan<float> input, Span<float> output, long rowKey) => featurizer.Compute(input, output, _scratch);
    }
}

/// <summary>Estimator of <see cref="WeightStatisticsTransformer"/> (nothing to learn).</summary>
public sealed class WeightStatisticsEstimator : WeightVectorEstimator<WeightStatisticsTransformer>
{
    private readonly StatisticsVariant _variant;

    internal WeightStatisticsEstimator(string output, string input, WeightLayout layout, StatisticsVariant variant) : base(output, input, layout) => _variant = variant;

    private protected override WeightStatisticsTransformer FitCore(IDataView input) => new(OutputColumnName, InputColumnName, Layout, _variant);
}
