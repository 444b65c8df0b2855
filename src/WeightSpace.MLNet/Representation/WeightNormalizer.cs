
namespace WeightSpace.MLNet;

/// <summary>
/// Scales weight vectors before the autoencoder: w' = (w − μ) / σ with μ, σ per layer or per parameter position, fitted on
/// training rows (σ = 1 where a position never varies). Per-layer statistics commute with permutation of units, so the
/// augmentations may run after it.
/// </summary>
internal sealed class WeightNormalizer
{
    private WeightNormalizer(WeightNormalization kind, float[] mean, float[] scale)
    {
        Kind = kind;
        Mean = mean;
        Scale = scale;
    }

    public WeightNormalization Kind { get; }
    /// <summary>μ per parameter position (expanded from per-layer values where needed).</summary>
    public float[] Mean { get; }
    /// <summary>σ per parameter position.</summary>
    public float[] Scale { get; }

    public static WeightNormalizer Identity(int parameters) =>
        new(WeightNormalization.None, new float[parameters], Enumerable.Repeat(1f, parameters).ToArray());

    public static WeightNormalizer Create(WeightNormalization kind, float[] mean, float[] scale)
    {
        if (mean.Length != scale.Length) throw new ArgumentException("Normaliser mean and scale differ in length.");
        return new WeightNormalizer(kind, mean, scale);
    }

    public static WeightNormalizer Fit(WeightLayout layout, ReadOnlySpan<float> rows, int count, WeightNormalization kind)
    {
        int p = layout.ParameterCount;
        if (kind == WeightNormalization.None || count == 0) return Identity(p);
        var sum = new double[p];
        var sumSq = new double[p];
        for (int r = 0; r < count; r++)
        {
            var row = rows.Slice(r * p, p);
            for (int i = 0; i < p; i++) { sum[i] += row[i]; sumSq[i] += (double)row[i] * row[i]; }
        }
        var mean = new float[p];
        var scale = new float[p];
        if (kind == WeightNormalization.PerParameter)
        {
            for (int i = 0; i < p; i++) Set(i, sum[i], sumSq[i], count);
        }
        else
        {
            for (int l = 0; l < layout.Layers.Count; l++)
            {
                double s = 0, s2 = 0;
                for (int i = layout.WeightOffset(l); i < layout.LayerEnd(l); i++) { s += sum[i]; s2 += sumSq[i]; }
                double n = (double)count * layout.Layers[l].ParameterCount;
                for (int i = layout.WeightOffset(l); i < layout.LayerEnd(l); i++) Set(i, s, s2, n);
            }
        }
        return new WeightNormalizer(kind, mean, scale);

        void Set(int i, double s, double s2, double n)
        {
            double m = s / n, variance = Math.Max(0, s2 / n - m * m);
            mean[i] = (float)m;
            scale[i] = variance > 1e-20 ? (float)Math.Sqrt(variance) : 1f;
        }
    }

    /// <summary>Normalises rows in place.</summary>
    public void Apply(Span<float> rows)
    {
        int p = Mean.Length;
        for (int r = 0; r < rows.Length / p; r++)
        {
            var row = rows.Slice(r * p, p);
            for (int i = 0; i < p; i++) row[i] = (row[i] - Mean[i]) / Scale[i];
        }
    }

    /// <summary>Maps normalised rows back to weights, in place.</summary>
    public void Invert(Span<float> rows)
    {
        int p = Mean.Length;
        for (int r = 0; r < rows.Length / p; r++)
        {
            var row = rows.Slice(r * p, p);
            for (int i = 0; i < p; i++) row[i] = row[i] * Scale[i] + Mean[i];
        }
    }
}
