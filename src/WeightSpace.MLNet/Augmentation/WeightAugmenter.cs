
namespace WeightSpace.MLNet;

/// <summary>
/// Applies permutation, noise and erasing (in that order, as R21) to flat weight vectors. Every random choice comes from
/// (options.Seed, row key, view), so the same row and view always get the same augmentation.
/// Thread-safe: it holds no mutable state.
/// </summary>
/// <example><code>
/// var aug = new WeightAugmenter(WeightLayout.TetrisMlp100, new AugmentationOptions { Seed = 42 });
/// var (a, b) = aug.TwoViews(batch, rows: 32, firstRowKey: step * 32);   // two views for contrastive training
/// </code></example>
public sealed class WeightAugmenter
{
    private readonly PermutationPool? _pool;

    /// <summary>Creates an augmenter (validates the options).</summary>
    public WeightAugmenter(WeightLayout layout, AugmentationOptions? options = null)
    {
        Layout = layout ?? throw new ArgumentNullException(nameof(layout));
        Options = options ?? new AugmentationOptions();
        Options.Validate();
        if (Options.Permutation == PermutationMode.Pool) _pool = new PermutationPool(layout, Options.PermutationPoolSize, Options.Seed);
    }

    /// <summary>The layout augmented.</summary>
    public WeightLayout Layout { get; }
    /// <summary>The settings.</summary>
    public AugmentationOptions Options { get; }

    /// <summary>Augments one vector: view <paramref name="view"/> of row <paramref name="rowKey"/>.</summary>
    public void Augment(ReadOnlySpan<float> source, Span<float> destination, long rowKey, int view = 0)
    {
        var rng = Rng.For(Options.Seed, rowKey, view + 1);
        Augment(source, destination, ref rng);
    }

    internal void Augment(ReadOnlySpan<float> source, Span<float> destination, ref Rng rng)
    {
        Layout.CheckVector(source.Length);
        Layout.CheckVector(destination.Length, "destination vector");
        switch (Options.Permutation)
        {
            case PermutationMode.None: source.CopyTo(destination); break;
            case PermutationMode.Random: Permutation.Random(Layout, ref rng).Apply(source, destination); break;
            case PermutationMode.Pool: _pool!.Draw(ref rng).Apply(source, destination); break;
            case PermutationMode.Canonical: Permutation.Canonical(Layout, source).Apply(source, destination); break;
        }
        // R21's order: permutation → noise → erasing, so an erased block is exactly zero.
        if (Options.NoiseSigma > 0)
        {
            float sigma = (float)Options.NoiseSigma;
            if (Options.Noise == NoiseKind.Additive)
                for (int i = 0; i < destination.Length; i++) destination[i] += sigma * (float)rng.NextGaussian();
            else
                for (int i = 0; i < destination.Length; i++) destination[i] *= 1f + sigma * (float)rng.NextGaussian();
        }
        if (Options.EraseProbability > 0 && rng.NextDouble() < Options.EraseProbability)
        {
            double fraction = Options.EraseMinFraction + rng.NextDouble() * (Options.EraseMaxFraction - Options.EraseMinFraction);
            int length = Math.Min(destination.Length, (int)Math.Round(fraction * destination.Length));
            int start = rng.NextInt(destination.Length - length + 1);
            destination.Slice(start, length).Clear();
        }
    }

    /// <summary>
    /// Two independently augmented views of a batch (rows × P, row-major) for contrastive training.
    /// Row r of the batch uses row key <paramref name="firstRowKey"/> + r.
    /// </summary>
    public (float[] ViewA, float[] ViewB) TwoViews(ReadOnlySpan<float> batch, int rows, long firstRowKey)
    {
        int p = Layout.ParameterCount;
        if (batch.Length != (long)rows * p)
            throw new ArgumentException($"A batch of {rows} rows of layout '{Layout.Name}' has {rows * p} values, not {batch.Length}.");
        var a = new float[batch.Length];
        var b = new float[batch.Length];
        for (int r = 0; r < rows; r++)
        {
            Augment(batch.Slice(r * p, p), a.AsSpan(r * p, p), firstRowKey + r, view: 0);
            Augment(batch.Slice(r * p, p), b.AsSpan(r * p, p), firstRowKey + r, view: 1);
        }
        return (a, b);
    }

    /// <summary>
    /// Multiplies a set of vectors by <paramref name="copies"/> augmented copies each (copy c of row r is view c
    /// of row key r), in the order row 0 copy 0, row 0 copy 1, …
    /// </summary>
    public IEnumerable<float[]> Multiply(IEnumerable<float[]> vectors, int copies)
    {
        if (copies <= 0) throw new ArgumentOutOfRangeException(nameof(copies), copies, "Need at least one copy.");
        long row = 0;
        foreach (var v in vectors)
        {
            for (int c = 0; c < copies; c++)
            {
                var dst = new float[v.Length];
                Augment(v, dst, row, c);
                yield return dst;
            }
            row++;
        }
    }
}
