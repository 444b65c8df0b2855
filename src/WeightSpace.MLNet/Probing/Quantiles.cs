using System.Numerics.Tensors;

namespace WeightSpace.MLNet;

/// <summary>
/// Percentiles with linear interpolation, as numpy's default (<c>np.percentile(x, q)</c>, method "linear").
/// Small inputs are sorted; larger ones are bucketed: one pass counts values into equal-width buckets between
/// min and max, a second pass gathers only the buckets that hold a wanted rank, and those few are sorted.
/// Exact (ties and all), about three cheap passes instead of a full sort.
/// </summary>
internal static class Quantiles
{
    private const int SortBelow = 64;

    /// <summary>
    /// Computes the percentiles <paramref name="percents"/> (0..100, ascending) of <paramref name="values"/>;
    /// <paramref name="scratch"/> (at least values.Length) is overwritten.
    /// </summary>
    public static void Compute(ReadOnlySpan<float> values, ReadOnlySpan<double> percents, Span<float> results, Span<float> scratch)
    {
        int n = values.Length;
        if (n == 0) { results.Fill(float.NaN); return; }
        if (n < SortBelow) { SortAll(values, percents, results, scratch); return; }

        float min = TensorPrimitives.Min(values), max = TensorPrimitives.Max(values);
        if (min == max) { results[..percents.Length].Fill(min); return; }

        int buckets = Math.Clamp(n / 8, 16, 512);
        float scale = (float)(buckets / ((double)max - min));
        if (!float.IsFinite(scale)) { SortAll(values, percents, results, scratch); return; }
        Span<int> start = stackalloc int[buckets + 1];
        start.Clear();
        foreach (var v in values) start[Bucket(v, min, scale, buckets) + 1]++;
        for (int b = 0; b < buckets; b++) start[b + 1] += start[b];

        // Ranks needed: floor and floor+1 of every percentile position.
        Span<int> ranks = stackalloc int[percents.Length * 2];
        for (int i = 0; i < percents.Length; i++)
        {
            int lo = (int)Math.Floor(percents[i] / 100.0 * (n - 1));
            ranks[2 * i] = lo;
            ranks[2 * i + 1] = Math.Min(lo + 1, n - 1);
        }
        Span<bool> wanted = stackalloc bool[buckets];
        wanted.Clear();
        foreach (var r in ranks) wanted[BucketOfRank(start, r)] = true;

        // Gather the wanted buckets into scratch at their rank positions, then sort each.
        Span<int> fill = stackalloc int[buckets];
        start[..buckets].CopyTo(fill);
        foreach (var v in values)
        {
            int b = Bucket(v, min, scale, buckets);
            if (wanted[b]) scratch[fill[b]++] = v;
        }
        for (int b = 0; b < buckets; b++)
            if (wanted[b]) scratch[start[b]..start[b + 1]].Sort();
        for (int i = 0; i < percents.Length; i++)
            results[i] = Interpolate(scratch, percents[i], n);
    }

    private static void SortAll(ReadOnlySpan<float> values, ReadOnlySpan<double> percents, Span<float> results, Span<float> scratch)
    {
        var s = scratch[..values.Length];
        values.CopyTo(s);
        s.Sort();
        for (int i = 0; i < percents.Length; i++) results[i] = Interpolate(s, percents[i], values.Length);
    }

    /// <summary>Convenience overload that allocates its scratch.</summary>
    public static void Compute(ReadOnlySpan<float> values, ReadOnlySpan<double> percents, Span<float> results) =>
        Compute(values, percents, results, new float[values.Length]);

    private static int Bucket(float v, float min, float scale, int buckets) => Math.Min((int)((v - min) * scale), buckets - 1);

    private static int BucketOfRank(ReadOnlySpan<int> start, int rank)
    {
        int lo = 0, hi = start.Length - 2; // last b with start[b] <= rank
        while (lo < hi)
        {
            int mid = (lo + hi + 1) / 2;
            if (start[mid] <= rank) lo = mid; else hi = mid - 1;
        }
        return lo;
    }

    // ranked[r] holds the r-th smallest value for every rank r the percentile needs.
    private static float Interpolate(ReadOnlySpan<float> ranked, double percent, int n)
    {
        double pos = percent / 100.0 * (n - 1);
        int lo = (int)Math.Floor(pos);
        double a = ranked[lo];
        double b = lo + 1 < n ? ranked[lo + 1] : a;
        return (float)(a + (b - a) * (pos - lo));
    }
}
