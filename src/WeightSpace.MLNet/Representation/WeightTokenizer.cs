
namespace WeightSpace.MLNet;

/// <summary>One group of equally sized tokens embedded by one Linear(size → d): a layer's neurons, or all scalars.</summary>
/// <param name="Name">The layer's name, or "weights" for weight encoding.</param>
/// <param name="Count">Tokens in the group.</param>
/// <param name="Size">Values per token.</param>
/// <param name="Indices">Count × Size positions in the flat weight vector, token after token.</param>
public sealed record TokenGroup(string Name, int Count, int Size, int[] Indices);

/// <summary>
/// Cuts a flat weight vector into tokens and puts tokens back (METHOD §5). Neuron encoding: one token per output
/// neuron / conv kernel of every layer holding its incoming weights and then its bias (Tetris: 5 tokens of 16 and 4 of
/// 5; CNN-2464: 48 tokens; CNN-4970: 50). Weight encoding: one token per scalar. The token order is the layout's
/// (layer after layer, unit after unit), and every parameter sits in exactly one token, so split and scatter are
/// inverse permutations of the vector.
/// </summary>
/// <example><code>
/// var tok = new WeightTokenizer(WeightLayout.TetrisMlp100, TokenEncoding.Neuron);   // 9 tokens
/// float[] tokens = tok.Split(weights);        // token order
/// float[] back = tok.Scatter(tokens);         // == weights
/// </code></example>
public sealed class WeightTokenizer
{
    /// <summary>Builds the token map of a layout.</summary>
    public WeightTokenizer(WeightLayout layout, TokenEncoding encoding)
    {
        Layout = layout ?? throw new ArgumentNullException(nameof(layout));
        Encoding = encoding;
        var groups = new List<TokenGroup>();
        if (encoding == TokenEncoding.Weight)
        {
            groups.Add(new TokenGroup("weights", layout.ParameterCount, 1, Enumerable.Range(0, layout.ParameterCount).ToArray()));
        }
        else
        {
            for (int l = 0; l < layout.Layers.Count; l++)
            {
                var spec = layout.Layers[l];
                var idx = new int[spec.OutFeatures * spec.TokenSize];
                for (int u = 0; u < spec.OutFeatures; u++)
                {
                    int t = u * spec.TokenSize;
                    for (int i = 0; i < spec.FanIn; i++) idx[t + i] = layout.WeightOffset(l) + u * spec.FanIn + i;
                    if (spec.HasBias) idx[t + spec.FanIn] = layout.BiasOffset(l) + u;
                    for (int k = 0; k < (spec.BatchNorm ? LayerSpec.BatchNormValues : 0); k++)
                        idx[t + spec.FanIn + (spec.HasBias ? 1 : 0) + k] = layout.BatchNormOffset(l) + k * spec.OutFeatures + u;
                }
                groups.Add(new TokenGroup(spec.Name, spec.OutFeatures, spec.TokenSize, idx));
            }
        }
        Groups = groups;
        SplitOrder = groups.SelectMany(g => g.Indices).ToArray();
        ScatterOrder = new int[SplitOrder.Length];
        for (int i = 0; i < SplitOrder.Length; i++) ScatterOrder[SplitOrder[i]] = i;
    }

    /// <summary>The layout tokenised.</summary>
    public WeightLayout Layout { get; }
    /// <summary>Neuron or weight tokens.</summary>
    public TokenEncoding Encoding { get; }
    /// <summary>The token groups in sequence order.</summary>
    public IReadOnlyList<TokenGroup> Groups { get; }
    /// <summary>Tokens in the sequence (without a compression token).</summary>
    public int TokenCount => Groups.Sum(g => g.Count);
    /// <summary>Position in the weight vector of the i-th value of the concatenated tokens.</summary>
    internal int[] SplitOrder { get; }
    /// <summary>Position in the concatenated tokens of the i-th weight (the inverse of <see cref="SplitOrder"/>).</summary>
    internal int[] ScatterOrder { get; }

    /// <summary>The concatenated tokens of a weight vector (token after token, group after group).</summary>
    public float[] Split(ReadOnlySpan<float> weights)
    {
        Layout.CheckVector(weights.Length);
        var tokens = new float[SplitOrder.Length];
        for (int i = 0; i < tokens.Length; i++) tokens[i] = weights[SplitOrder[i]];
        return tokens;
    }

    /// <summary>The weight vector of concatenated tokens (the inverse of <see cref="Split"/>).</summary>
    public float[] Scatter(ReadOnlySpan<float> tokens)
    {
        if (tokens.Length != ScatterOrder.Length)
            throw new ArgumentException($"The tokens hold {tokens.Length} values, but layout '{Layout.Name}' has {ScatterOrder.Length} parameters.");
        var weights = new float[ScatterOrder.Length];
        for (int i = 0; i < weights.Length; i++) weights[i] = tokens[ScatterOrder[i]];
        return weights;
    }
}
