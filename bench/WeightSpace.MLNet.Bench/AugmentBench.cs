using System.Diagnostics;

namespace WeightSpace.MLNet.Bench;

/// <summary>Augmentation and s(W) throughput on one core.</summary>
internal static class AugmentBench
{
    public static void Run(int rows)
    {
        foreach (var layout in new[] { WeightLayout.TetrisMlp100, WeightLayout.Cnn2464 })
        {
            var rng = new Random(2);
            var src = Enumerable.Range(0, 256).Select(_ => Enumerable.Range(0, layout.ParameterCount).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray()).ToArray();
            var dst = new float[layout.ParameterCount];
            var aug = new WeightAugmenter(layout, new AugmentationOptions { Seed = 1 }); // permutation + erasing + noise
            int n = layout == WeightLayout.Cnn2464 ? rows / 4 : rows;
            for (int i = 0; i < 1000; i++) aug.Augment(src[i % 256], dst, i); // warm up
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < n; i++) aug.Augment(src[i % 256], dst, i);
            double augRate = n / sw.Elapsed.TotalSeconds;
            sw.Restart();
            for (int i = 0; i < n; i++) src[i % 256].AsSpan().CopyTo(dst);
            double copyRate = n / sw.Elapsed.TotalSeconds;
            Console.WriteLine($"augment {layout.Name,-15} {augRate,12:N0} rows/s (one core)   plain copy {copyRate,14:N0} rows/s   augment costs {copyRate / augRate:F1}x a copy");

            var stats = new WeightStatisticsFeaturizer(layout);
            var features = new float[stats.FeatureCount];
            var scratch = new float[layout.ParameterCount];
            sw.Restart();
            for (int i = 0; i < n; i++) stats.Compute(src[i % 256], features, scratch);
            double statsRate = n / sw.Elapsed.TotalSeconds;
            // Baseline: the same statistics with a full sort per tensor (the straightforward way).
            sw.Restart();
            int m = n / 4;
            for (int i = 0; i < m; i++) SortBaseline(layout, src[i % 256], features);
            double sortRate = m / sw.Elapsed.TotalSeconds;
            Console.WriteLine($"s(W)    {layout.Name,-15} {statsRate,12:N0} rows/s (one core)   sort-based {sortRate,14:N0} rows/s   ratio {statsRate / sortRate:F1}x");
            // All cores, as ML.NET's parallel cursors or Parallel.For over a zoo would run it.
            int cores = Environment.ProcessorCount;
            sw.Restart();
            Parallel.For(0, cores, c =>
            {
                var f = new float[stats.FeatureCount];
                var sc = new float[layout.ParameterCount];
                for (int i = c; i < n; i += cores) stats.Compute(src[i % 256], f, sc);
            });
            Console.WriteLine($"s(W)    {layout.Name,-15} {n / sw.Elapsed.TotalSeconds,12:N0} rows/s ({cores} cores)");
        }
    }

    private static void SortBaseline(WeightLayout layout, float[] w, float[] features)
    {
        int f = 0;
        for (int l = 0; l < layout.Layers.Count; l++)
        {
            foreach (var (offset, len) in new[] { (layout.WeightOffset(l), layout.Layers[l].WeightCount), (layout.BiasOffset(l), layout.Layers[l].BiasCount) })
            {
                if (len == 0) continue;
                var s = w.AsSpan(offset, len).ToArray();
                double mean = s.Average(v => (double)v);
                features[f++] = (float)mean;
                features[f++] = (float)s.Average(v => (v - mean) * (v - mean));
                Array.Sort(s);
                foreach (var q in new[] { 1.0, 25, 50, 75, 99 })
                {
                    double pos = q / 100 * (len - 1);
                    int lo = (int)pos, hi = Math.Min(lo + 1, len - 1);
                    features[f++] = (float)(s[lo] + (s[hi] - s[lo]) * (pos - lo));
                }
            }
        }
    }
}
