namespace WeightSpace.MLNet;

/// <summary>The metrics of the probe protocol (METHOD §6): R², accuracy and Kendall's τ-b.</summary>
public static class ProbeMetrics
{
    /// <summary>R² = 1 − Σ(y − ŷ)² / Σ(y − ȳ)² (NaN when y is constant).</summary>
    /// <exception cref="ArgumentException">Sizes differ, fewer than two rows, or a value that is NaN or infinite (named by row).</exception>
    public static double RSquared(IReadOnlyList<double> truth, IReadOnlyList<double> predicted)
    {
        Check(truth, predicted);
        double mean = truth.Average(), sse = 0, sst = 0;
        for (int i = 0; i < truth.Count; i++)
        {
            sse += (truth[i] - predicted[i]) * (truth[i] - predicted[i]);
            sst += (truth[i] - mean) * (truth[i] - mean);
        }
        return sst > 0 ? 1 - sse / sst : double.NaN;
    }

    /// <summary>
    /// Reconstruction R² of weight vectors (rows × <paramref name="parameters"/>, row-major): 1 − Σ(w − ŵ)² / Σ(w − w̄)², with w̄
    /// each parameter position's mean over these rows (METHOD §5).
    /// </summary>
    public static double ReconstructionR2(ReadOnlySpan<float> weights, ReadOnlySpan<float> reconstruction, int parameters)
    {
        if (weights.Length != reconstruction.Length || parameters <= 0 || weights.Length % parameters != 0)
            throw new ArgumentException($"{weights.Length} weights and {reconstruction.Length} reconstructed values do not make rows of {parameters}.");
        int rows = weights.Length / parameters;
        var mean = new double[parameters];
        for (int r = 0; r < rows; r++) for (int i = 0; i < parameters; i++) mean[i] += weights[r * parameters + i] / (double)rows;
        double sse = 0, sst = 0;
        for (int j = 0; j < weights.Length; j++)
        {
            double e = weights[j] - reconstruction[j], d = weights[j] - mean[j % parameters];
            sse += e * e;
            sst += d * d;
        }
        return sst > 0 ? 1 - sse / sst : double.NaN;
    }

    /// <summary>Fraction of equal labels.</summary>
    public static double Accuracy<T>(IReadOnlyList<T> truth, IReadOnlyList<T> predicted)
    {
        if (truth.Count != predicted.Count) throw new ArgumentException($"{truth.Count} true values but {predicted.Count} predictions.");
        if (truth.Count == 0) throw new ArgumentException("Accuracy of no rows is undefined.");
        var cmp = EqualityComparer<T>.Default;
        return truth.Where((t, i) => cmp.Equals(t, predicted[i])).Count() / (double)truth.Count;
    }

    /// <summary>
    /// Kendall's τ-b between two rankings, ties handled: (n_c − n_d) / √((n₀ − n₁)(n₀ − n₂)), where n₁ and n₂ count the pairs
    /// tied in x and in y. O(n log n) (Knight's algorithm): sort by (x, y), count discordant pairs by merge sort on y.
    /// NaN when either variable is constant.
    /// </summary>
    /// <exception cref="ArgumentException">Sizes differ, fewer than two rows, or a value that is NaN or infinite (named by row).</exception>
    public static double KendallTau(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        Check(x, y);
        int n = x.Count;
        var order = Enumerable.Range(0, n).OrderBy(i => x[i]).ThenBy(i => y[i]).ToArray();
        long n0 = (long)n * (n - 1) / 2;
        long tiesX = 0, tiesXY = 0;
        for (int i = 0; i < n;)
        {
            int j = i;
            while (j < n && x[order[j]] == x[order[i]]) j++;
            tiesX += (long)(j - i) * (j - i - 1) / 2;
            for (int k = i; k < j;)
            {
                int m = k;
                while (m < j && y[order[m]] == y[order[k]]) m++;
                tiesXY += (long)(m - k) * (m - k - 1) / 2;
                k = m;
            }
            i = j;
        }
        var ys = order.Select(i => y[i]).ToArray();
        long swaps = MergeCount(ys, new double[n], 0, n);           // discordant pairs (strict inversions in y)
        long tiesY = 0;
        for (int i = 0; i < n;)
        {
            int j = i;
            while (j < n && ys[j] == ys[i]) j++;                    // ys is sorted now
            tiesY += (long)(j - i) * (j - i - 1) / 2;
            i = j;
        }
        long concordantMinusDiscordant = n0 - tiesX - tiesY + tiesXY - 2 * swaps;
        double denominator = Math.Sqrt((double)(n0 - tiesX) * (n0 - tiesY));
        return denominator > 0 ? concordantMinusDiscordant / denominator : double.NaN;
    }

    /// <summary>Sorts a[lo..hi) ascending and returns the number of strict inversions.</summary>
    private static long MergeCount(double[] a, double[] buffer, int lo, int hi)
    {
        if (hi - lo < 2) return 0;
        int mid = (lo + hi) / 2;
        long count = MergeCount(a, buffer, lo, mid) + MergeCount(a, buffer, mid, hi);
        int i = lo, j = mid, k = lo;
        while (i < mid && j < hi)
        {
            if (a[i] <= a[j]) buffer[k++] = a[i++];
            else { count += mid - i; buffer[k++] = a[j++]; }
        }
        while (i < mid) buffer[k++] = a[i++];
        while (j < hi) buffer[k++] = a[j++];
        Array.Copy(buffer, lo, a, lo, hi - lo);
        return count;
    }

    /// <summary>Sizes agree, two rows at least, and every value finite: a NaN would make a sort or a tie loop undefined.</summary>
    private static void Check(IReadOnlyList<double> a, IReadOnlyList<double> b)
    {
        if (a.Count != b.Count) throw new ArgumentException($"{a.Count} true values but {b.Count} predictions.");
        if (a.Count < 2) throw new ArgumentException("A metric needs at least two rows.");
        for (int i = 0; i < a.Count; i++)
        {
            if (!double.IsFinite(a[i])) throw new ArgumentException($"The true value of row {i} is {a[i]}; metrics need finite values (drop or fix that row).");
            if (!double.IsFinite(b[i])) throw new ArgumentException($"The prediction for row {i} is {b[i]}; metrics need finite values (did the probe diverge?).");
        }
    }
}
