namespace WeightSpace.MLNet;

/// <summary>
/// Per-neuron statistics: for every neuron token of the layout (a unit's or kernel's incoming weights, then its bias — the
/// tokens of <see cref="WeightTokenizer"/>), the three values the encoder is given with
/// <see cref="WeightEmbeddingOptions.TokenStatistics"/>: the mean, the log mean square and the log max |w| of the token
/// (log of the value + 1e-6). A baseline of its own, so a comparison shows what a hyper-representation adds beyond the
/// statistics it is fed (digits MLP zoo: 26 tokens, 78 features). Unlike s(W) it is per unit, in the layout's unit order,
/// so it is not invariant to a permutation of hidden units.
/// </summary>
/// <example><code>
/// var stats = new NeuronStatisticsFeaturizer(WeightLayout.TetrisMlp100);   // 9 tokens → 27 features
/// float[] features = new float[stats.FeatureCount];
/// stats.Compute(weights, features);
/// </code></example>
public sealed class NeuronStatisticsFeaturizer
{
    private readonly WeightTokenizer _tokens;

    /// <summary>Statistics per neuron token (the encoder's token statistics).</summary>
    public const int StatisticsPerToken = TokenEmbedding.StatisticsPerToken;

    /// <summary>Creates the featurizer for a layout.</summary>
    public NeuronStatisticsFeaturizer(WeightLayout layout)
    {
        Layout = layout ?? throw new ArgumentNullException(nameof(layout));
        _tokens = new WeightTokenizer(layout, TokenEncoding.Neuron);
    }

    /// <summary>The layout.</summary>
    public WeightLayout Layout { get; }
    /// <summary>Length of the feature vector: tokens × 3.</summary>
    public int FeatureCount => _tokens.TokenCount * StatisticsPerToken;

    /// <summary>Feature names, e.g. "fc1.3.mean", "fc1.3.logMeanSquare", "fc1.3.logMaxAbs".</summary>
    public IReadOnlyList<string> FeatureNames =>
        _tokens.Groups.SelectMany(g => Enumerable.Range(0, g.Count).SelectMany(u => new[] { "mean", "logMeanSquare", "logMaxAbs" }.Select(s => $"{g.Name}.{u}.{s}"))).ToArray();

    /// <summary>Computes the features of one weight vector.</summary>
    /// <exception cref="ArgumentException">The vector or the destination has the wrong length.</exception>
    public void Compute(ReadOnlySpan<float> weights, Span<float> features)
    {
        Layout.CheckVector(weights.Length);
        if (features.Length != FeatureCount) throw new ArgumentException($"Neuron statistics of layout '{Layout.Name}' have {FeatureCount} features, the destination {features.Length}.");
        int f = 0;
        foreach (var group in _tokens.Groups)
        {
            var indices = group.Indices;
            for (int u = 0; u < group.Count; u++)
            {
                double sum = 0, squares = 0, max = 0;
                for (int i = u * group.Size; i < (u + 1) * group.Size; i++)
                {
                    double w = weights[indices[i]];
                    sum += w;
                    squares += w * w;
                    max = Math.Max(max, Math.Abs(w));
                }
                features[f++] = (float)(sum / group.Size);
                features[f++] = (float)Math.Log(squares / group.Size + 1e-6);
                features[f++] = (float)Math.Log(max + 1e-6);
            }
        }
    }
}
