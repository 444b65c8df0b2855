
namespace WeightSpace.MLNet;

/// <summary>
/// A permutation of the units (neurons / conv kernels) of every hidden layer of a <see cref="WeightLayout"/>.
/// Permuting the rows and biases of layer l together with the matching input blocks of layer l+1 leaves
/// the network's function (and its gradients, mapped the same way) unchanged. The output layer is
/// never permuted: its units are the classes.
/// </summary>
/// <example><code>
/// var p = Permutation.Random(WeightLayout.Cnn2464, seed: 7);
/// var permuted = new float[2464];
/// p.Apply(weights, permuted);          // same function as weights
/// p.Inverse().Apply(permuted, back);   // back == weights
/// </code></example>
public sealed class Permutation
{
    private readonly int[][] _perms; // one per hidden layer: new unit i takes old unit _perms[l][i]

    /// <summary>Creates a permutation from one array per hidden layer (Layers.Count − 1 arrays).</summary>
    /// <exception cref="ArgumentException">Wrong number of arrays (e.g. one for the output layer), or an array that is not a permutation.</exception>
    public Permutation(WeightLayout layout, IReadOnlyList<int[]> hiddenLayerPermutations)
    {
        Layout = layout ?? throw new ArgumentNullException(nameof(layout));
        int hidden = layout.Layers.Count - 1;
        if (hiddenLayerPermutations.Count > hidden)
            throw new ArgumentException($"Layout '{layout.Name}' has {hidden} hidden layers; the output layer '{layout.Layers[^1].Name}' is never permuted (its units are the classes).");
        if (hiddenLayerPermutations.Count < hidden)
            throw new ArgumentException($"Layout '{layout.Name}' needs {hidden} permutations (one per hidden layer), got {hiddenLayerPermutations.Count}.");
        _perms = new int[hidden][];
        for (int l = 0; l < hidden; l++)
        {
            var p = hiddenLayerPermutations[l];
            int n = layout.Layers[l].OutFeatures;
            if (p.Length != n) throw new ArgumentException($"Layer '{layout.Layers[l].Name}' has {n} units; its permutation has {p.Length} entries.");
            var seen = new bool[n];
            foreach (var v in p)
            {
                if ((uint)v >= (uint)n || seen[v]) throw new ArgumentException($"The array for layer '{layout.Layers[l].Name}' is not a permutation of 0..{n - 1}.");
                seen[v] = true;
            }
            _perms[l] = (int[])p.Clone();
        }
    }

    private Permutation(WeightLayout layout, int[][] perms, bool _) { Layout = layout; _perms = perms; }

    /// <summary>The layout permuted.</summary>
    public WeightLayout Layout { get; }

    /// <summary>The permutation of hidden layer <paramref name="layer"/>: new unit i is old unit [i].</summary>
    public IReadOnlyList<int> ForLayer(int layer) => _perms[layer];

    /// <summary>The identity.</summary>
    public static Permutation Identity(WeightLayout layout) =>
        new(layout, Enumerable.Range(0, layout.Layers.Count - 1).Select(l => Enumerable.Range(0, layout.Layers[l].OutFeatures).ToArray()).ToArray(), true);

    /// <summary>A uniformly random permutation of every hidden layer, fixed by <paramref name="seed"/>.</summary>
    public static Permutation Random(WeightLayout layout, long seed)
    {
        var rng = Rng.For(seed, 0x5045524D);
        return Random(layout, ref rng);
    }

    internal static Permutation Random(WeightLayout layout, ref Rng rng)
    {
        var perms = new int[layout.Layers.Count - 1][];
        for (int l = 0; l < perms.Length; l++)
        {
            perms[l] = Enumerable.Range(0, layout.Layers[l].OutFeatures).ToArray();
            rng.Shuffle(perms[l]);
        }
        return new Permutation(layout, perms, true);
    }

    /// <summary>
    /// The permutation that sorts every hidden layer's units by the L2 norm of their incoming weights,
    /// largest first (ties by index). Applying it gives a canonical form: all permuted copies of a
    /// network map to the same vector.
    /// </summary>
    public static Permutation Canonical(WeightLayout layout, ReadOnlySpan<float> weights)
    {
        layout.CheckVector(weights.Length);
        var perms = new int[layout.Layers.Count - 1][];
        for (int l = 0; l < perms.Length; l++)
        {
            var spec = layout.Layers[l];
            var norms = new double[spec.OutFeatures];
            var w = layout.LayerWeights(weights, l);
            for (int u = 0; u < spec.OutFeatures; u++)
            {
                double s = 0;
                foreach (var v in w.Slice(u * spec.FanIn, spec.FanIn)) s += (double)v * v;
                norms[u] = s;
            }
            perms[l] = Enumerable.Range(0, spec.OutFeatures).OrderByDescending(u => norms[u]).ThenBy(u => u).ToArray();
        }
        return new Permutation(layout, perms, true);
    }

    /// <summary>The inverse permutation.</summary>
    public Permutation Inverse()
    {
        var inv = new int[_perms.Length][];
        for (int l = 0; l < _perms.Length; l++)
        {
            inv[l] = new int[_perms[l].Length];
            for (int i = 0; i < _perms[l].Length; i++) inv[l][_perms[l][i]] = i;
        }
        return new Permutation(Layout, inv, true);
    }

    /// <summary>Writes the permuted network into <paramref name="destination"/> (must not overlap <paramref name="source"/>).</summary>
    public void Apply(ReadOnlySpan<float> source, Span<float> destination)
    {
        Layout.CheckVector(source.Length, "source vector");
        Layout.CheckVector(destination.Length, "destination vector");
        var layers = Layout.Layers;
        for (int l = 0; l < layers.Count; l++)
        {
            var spec = layers[l];
            int[]? rows = l < _perms.Length ? _perms[l] : null;
            int[]? cols = l > 0 ? _perms[l - 1] : null;
            int block = Layout.InputBlockSize(l);
            var src = Layout.LayerWeights(source, l);
            var dst = destination.Slice(Layout.WeightOffset(l), spec.WeightCount);
            int fanIn = spec.FanIn;
            for (int i = 0; i < spec.OutFeatures; i++)
            {
                var srcRow = src.Slice((rows is null ? i : rows[i]) * fanIn, fanIn);
                var dstRow = dst.Slice(i * fanIn, fanIn);
                if (cols is null) { srcRow.CopyTo(dstRow); continue; }
                for (int j = 0; j < cols.Length; j++)
                    srcRow.Slice(cols[j] * block, block).CopyTo(dstRow.Slice(j * block, block));
            }
            if (spec.HasBias)
            {
                var sb = Layout.LayerBiases(source, l);
                var db = destination.Slice(Layout.BiasOffset(l), spec.BiasCount);
                for (int i = 0; i < spec.OutFeatures; i++) db[i] = sb[rows is null ? i : rows[i]];
            }
            if (spec.BatchNorm) // γ, β, μ, σ² move with their unit
                for (int k = 0; k < LayerSpec.BatchNormValues; k++)
                {
                    int at = Layout.BatchNormOffset(l) + k * spec.OutFeatures;
                    for (int i = 0; i < spec.OutFeatures; i++) destination[at + i] = source[at + (rows is null ? i : rows[i])];
                }
        }
    }

    /// <summary>Returns the permuted copy of <paramref name="weights"/>.</summary>
    public float[] Apply(ReadOnlySpan<float> weights)
    {
        var dst = new float[weights.Length];
        Apply(weights, dst);
        return dst;
    }
}
