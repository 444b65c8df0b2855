using System.Numerics.Tensors;

namespace WeightSpace.MLNet;

/// <summary>Which per-tensor statistics make up s(W).</summary>
public enum StatisticsVariant
{
    /// <summary>Hyper-representation paper (R21): mean, variance, percentiles 1/25/50/75/99.</summary>
    R21,
    /// <summary>Unterthiner et al. 2020: mean, standard deviation, percentiles 0/25/50/75/100.</summary>
    Unterthiner,
}

/// <summary>
/// The s(W) baseline: 7 statistics per parameter tensor, in layout order — R21: each layer's kernel only (the
/// authors' <c>LayerQuintiles(use_bias=False)</c>); Unterthiner: each kernel, then its bias when it has one. Variance and standard deviation are population (ddof = 0) and percentiles
/// interpolate linearly, as numpy's defaults.
/// </summary>
/// <example><code>
/// var stats = new WeightStatisticsFeaturizer(WeightLayout.Cnn2464, StatisticsVariant.R21);
/// float[] features = new float[stats.FeatureCount];   // 70 = 10 tensors × 7
/// stats.Compute(weights, features);
/// </code></example>
public sealed class WeightStatisticsFeaturizer
{
    private static readonly double[] R21Percents = { 1, 25, 50, 75, 99 };
    private static readonly double[] UnterthinerPercents = { 0, 25, 50, 75, 100 };
    private readonly (int Offset, int Length, string Name)[] _tensors;
    private readonly double[] _percents;

    /// <summary>Statistics per tensor.</summary>
    public const int StatisticsPerTensor = 7;

    /// <summary>Creates the featurizer for a layout.</summary>
    public WeightStatisticsFeaturizer(WeightLayout layout, StatisticsVariant variant = StatisticsVariant.R21)
    {
        Layout = layout ?? throw new ArgumentNullException(nameof(layout));
        Variant = variant;
        _percents = variant == StatisticsVariant.R21 ? R21Percents : UnterthinerPercents;
        var tensors = new List<(int, int, string)>();
        for (int l = 0; l < layout.Layers.Count; l++)
        {
            tensors.Add((layout.WeightOffset(l), layout.Layers[l].WeightCount, layout.Layers[l].Name + ".weight"));
            // R21 (LayerQuintiles(use_bias=False)) describes kernels only; Unterthiner et al. describe kernels and biases.
            if (layout.Layers[l].HasBias && variant == StatisticsVariant.Unterthiner)
                tensors.Add((layout.BiasOffset(l), layout.Layers[l].BiasCount, layout.Layers[l].Name + ".bias"));
        }
        _tensors = tensors.ToArray();
        MaxTensor = _tensors.Max(t => t.Length);
    }

    /// <summary>The layout.</summary>
    public WeightLayout Layout { get; }
    /// <summary>The statistics variant.</summary>
    public StatisticsVariant Variant { get; }
    /// <summary>Length of the feature vector.</summary>
    public int FeatureCount => _tensors.Length * StatisticsPerTensor;
    internal int MaxTensor { get; }

    /// <summary>Feature names, e.g. "conv1.weight.mean", "conv1.weight.p25".</summary>
    public IReadOnlyList<string> FeatureNames =>
        _tensors.SelectMany(t => new[] { "mean", Variant == StatisticsVariant.R21 ? "var" : "std" }
            .Concat(_percents.Select(p => "p" + p)).Select(s => t.Name + "." + s)).ToArray();

    /// <summary>Computes the features of one weight vector.</summary>
    public void Compute(ReadOnlySpan<float> weights, Span<float> features) => Compute(weights, features, new float[MaxTensor]);

    /// <summary>Computes the features with a caller-provided scratch buffer (at least the largest tensor).</summary>
    public void Compute(ReadOnlySpan<float> weights, Span<float> features, Span<float> scratch)
    {
        Layout.CheckVector(weights.Length);
        if (features.Length != FeatureCount) throw new ArgumentException($"s(W) of layout '{Layout.Name}' has {FeatureCount} features, the destination {features.Length}.");
        Span<float> q = stackalloc float[5];
        for (int t = 0; t < _tensors.Length; t++)
        {
            var (offset, length, _) = _tensors[t];
            var x = weights.Slice(offset, length);
            float mean = TensorPrimitives.Sum(x) / length;
            var centered = scratch[..length];
            TensorPrimitives.Subtract(x, mean, centered);
            double variance = TensorPrimitives.SumOfSquares(centered) / (double)length;
            Quantiles.Compute(x, _percents, q, scratch);
            var f = features.Slice(t * StatisticsPerTensor, StatisticsPerTensor);
            f[0] = (float)mean;
            f[1] = (float)(Variant == StatisticsVariant.R21 ? variance : Math.Sqrt(variance));
            q.CopyTo(f[2..]);
        }
    }
}
