namespace WeightSpace.MLNet.Probing;

/// <summary>
/// Percentiles with linear interpolation, as numpy's default (<c>np.percentile(x, q)</c>, method "linear"),
/// computed by selection rather than a full sort: several order statistics are found by recursive
/// partitioning, O(n) on average.
/// </summary>
internal static class Quantiles
{
    /// <summary>
    /// Computes the percentiles <paramref name="percents"/> (0..100, ascending) of <paramref name="values"/>,
    /// which is reordered in place.
    /// </summary>
    public static void Compute(Span<float> values, ReadOnlySpan<double> percents, Span<float> results)
    {
        int n = values.Length;
        if (n == 0) { results.Fill(float.NaN); return; }
        Span<int> ks = stackalloc int[percents.Length * 2];
        int count = 0;
        for (int i = 0; i < percents.Length; i++)
        {
            double pos = percents[i] / 100.0 * (n - 1);
            int lo = (int)Math.Floor(pos);
            ks[count++] = lo;
            if (lo + 1 < n) ks[count++] = lo + 1;
        }
        ks = ks[..count];
        ks.Sort();
        MultiSelect(values, 0, n - 1, ks);
        for (int i = 0; i < percents.Length; i++)
        {
            double pos = percents[i] / 100.0 * (n - 1);
            int lo = (int)Math.Floor(pos);
            double frac = pos - lo;
            double a = values[lo];
            double b = lo + 1 < n ? values[lo + 1] : a;
            results[i] = (float)(a + (b - a) * frac);
        }
    }

    // Places the order statistics ks (ascending, within [left, right]) at their sorted positions.
    private static void MultiSelect(Span<float> a, int left, int right, ReadOnlySpan<int> ks)
    {
        while (ks.Length > 0 && left < right)
        {
            if (right - left < 24)
            {
                a.Slice(left, right - left + 1).Sort();
                return;
            }
            int mid = ks[ks.Length / 2];
            Select(a, left, right, mid);
            int split = ks.Length / 2;
            // Left part: indices < mid; right part: indices > mid. Recurse on the smaller, loop on the larger.
            var lower = ks[..split];
            var upper = ks[(split + 1)..];
            while (upper.Length > 0 && upper[0] == mid) upper = upper[1..];
            MultiSelect(a, left, mid - 1, lower);
            left = mid + 1;
            ks = upper;
        }
    }

    // Hoare-style quickselect with a median-of-three pivot: afterwards a[k] is the k-th smallest,
    // everything left of it is ≤, everything right is ≥.
    private static void Select(Span<float> a, int left, int right, int k)
    {
        while (right > left)
        {
            int m = left + (right - left) / 2;
            if (a[m] < a[left]) (a[m], a[left]) = (a[left], a[m]);
            if (a[right] < a[left]) (a[right], a[left]) = (a[left], a[right]);
            if (a[right] < a[m]) (a[right], a[m]) = (a[m], a[right]);
            float pivot = a[m];
            int i = left, j = right;
            while (i <= j)
            {
                while (a[i] < pivot) i++;
                while (a[j] > pivot) j--;
                if (i <= j) { (a[i], a[j]) = (a[j], a[i]); i++; j--; }
            }
            if (k <= j) right = j;
            else if (k >= i) left = i;
            else return;
        }
    }
}
