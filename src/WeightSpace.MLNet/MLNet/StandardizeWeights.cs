using Microsoft.ML;
using Microsoft.ML.Data;

namespace WeightSpace.MLNet;

/// <summary>
/// The W baseline, standardised per layer: every parameter of layer l becomes (w − μ_l) / σ_l, with μ_l and
/// σ_l the mean and standard deviation of all of layer l's parameters over the training rows (fitted).
/// Unlike a per-feature normaliser it keeps the relative scale of weights within a layer.
/// </summary>
public sealed class StandardizeWeightsTransformer : WeightVectorTransformer
{
    internal StandardizeWeightsTransformer(string output, string input, WeightLayout layout, double[] means, double[] stds)
        : base(output, input, layout, layout.ParameterCount)
    {
        LayerMeans = means;
        LayerStandardDeviations = stds;
    }

    /// <summary>Fitted mean of each layer's parameters.</summary>
    public IReadOnlyList<double> LayerMeans { get; }
    /// <summary>Fitted standard deviation of each layer's parameters (1 where it was 0).</summary>
    public IReadOnlyList<double> LayerStandardDeviations { get; }

    internal override string Kind => nameof(StandardizeWeightsTransformer);

    internal override VectorColumnMapper CreateMapper() => new Mapper(this);

    private sealed class Mapper(StandardizeWeightsTransformer t) : VectorColumnMapper
    {
        public override void Map(ReadOnlySpan<float> input, Span<float> output, long rowKey)
        {
            for (int l = 0; l < t.Layout.Layers.Count; l++)
            {
                float mean = (float)t.LayerMeans[l], inv = (float)(1.0 / t.LayerStandardDeviations[l]);
                for (int i = t.Layout.WeightOffset(l); i < t.Layout.LayerEnd(l); i++) output[i] = (input[i] - mean) * inv;
            }
        }
    }
}

/// <summary>Estimator of <see cref="StandardizeWeightsTransformer"/>: one pass over the data to fit μ_l and σ_l.</summary>
public sealed class StandardizeWeightsEstimator : WeightVectorEstimator<StandardizeWeightsTransformer>
{
    internal StandardizeWeightsEstimator(string output, string input, WeightLayout layout) : base(output, input, layout) { }

    private protected override StandardizeWeightsTransformer FitCore(IDataView input)
    {
        int layers = Layout.Layers.Count;
        var sum = new double[layers];
        var sumSq = new double[layers];
        long rows = 0;
        var col = input.Schema[InputColumnName];
        using (var cursor = input.GetRowCursor(new[] { col }))
        {
            var getter = cursor.GetGetter<VBuffer<float>>(col);
            var buffer = default(VBuffer<float>);
            var dense = new float[Layout.ParameterCount];
            while (cursor.MoveNext())
            {
                getter(ref buffer);
                if (buffer.Length != dense.Length)
                    throw new InvalidOperationException($"Row {cursor.Position} of column '{InputColumnName}' has {buffer.Length} values; layout '{Layout.Name}' needs {dense.Length}.");
                buffer.CopyTo(dense);
                for (int i = 0; i < dense.Length; i++)
                {
                    if (float.IsFinite(dense[i])) continue;
                    if (NonFinite == NonFiniteWeights.Error)
                        throw new InvalidOperationException($"Row {cursor.Position} of column '{InputColumnName}' holds {dense[i]} at position {i}: the weights must be finite. " +
                            "Drop such rows first (mlContext.Data.FilterNonFiniteWeights) or create the transform with NonFiniteWeights.ReplaceWithZero.");
                    dense[i] = 0;
                }
                for (int l = 0; l < layers; l++)
                    for (int i = Layout.WeightOffset(l); i < Layout.LayerEnd(l); i++) { sum[l] += dense[i]; sumSq[l] += (double)dense[i] * dense[i]; }
                rows++;
            }
        }
        if (rows == 0) throw new InvalidOperationException($"Cannot fit the per-layer standardisation of column '{InputColumnName}' on an empty data view.");
        var means = new double[layers];
        var stds = new double[layers];
        for (int l = 0; l < layers; l++)
        {
            double n = (double)rows * Layout.Layers[l].ParameterCount;
            means[l] = sum[l] / n;
            double variance = Math.Max(0, sumSq[l] / n - means[l] * means[l]);
            stds[l] = variance > 0 ? Math.Sqrt(variance) : 1.0;
        }
        return new StandardizeWeightsTransformer(OutputColumnName, InputColumnName, Layout, means, stds) { NonFinite = NonFinite };
    }
}
