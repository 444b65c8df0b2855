using Microsoft.ML;

namespace WeightSpace.MLNet;

/// <summary>Adds the per-neuron statistics (<see cref="NeuronStatisticsFeaturizer"/>: 3 per neuron token) computed from a weight column.</summary>
public sealed class NeuronStatisticsTransformer : WeightVectorTransformer
{
    internal NeuronStatisticsTransformer(string output, string input, WeightLayout layout) : this(output, input, new NeuronStatisticsFeaturizer(layout)) { }

    private NeuronStatisticsTransformer(string output, string input, NeuronStatisticsFeaturizer featurizer)
        : base(output, input, featurizer.Layout, featurizer.FeatureCount) => Featurizer = featurizer;

    /// <summary>The featurizer (feature names).</summary>
    public NeuronStatisticsFeaturizer Featurizer { get; }

    internal override string Kind => nameof(NeuronStatisticsTransformer);

    internal override VectorColumnMapper CreateMapper() => new Mapper(Featurizer);

    private sealed class Mapper(NeuronStatisticsFeaturizer featurizer) : VectorColumnMapper
    {
        public override void Map(ReadOnlySpan<float> input, Span<float> output, long rowKey) => featurizer.Compute(input, output);
    }
}

/// <summary>Estimator of <see cref="NeuronStatisticsTransformer"/> (nothing to learn).</summary>
public sealed class NeuronStatisticsEstimator : WeightVectorEstimator<NeuronStatisticsTransformer>
{
    internal NeuronStatisticsEstimator(string output, string input, WeightLayout layout) : base(output, input, layout) { }

    private protected override NeuronStatisticsTransformer FitCore(IDataView input) => new(OutputColumnName, InputColumnName, Layout);
}
