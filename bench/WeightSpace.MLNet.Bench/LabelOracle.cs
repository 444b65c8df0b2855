namespace WeightSpace.MLNet.Bench;

/// <summary>
/// How much of a zoo's test accuracy and generalisation gap the epoch alone explains: R² of the per-epoch mean over all
/// rows (a ceiling for any probe that only reads "how far trained"), and R² of per-epoch mean plus a per-model offset
/// (what a probe could reach that also reads the model's own, constant tendency). No training, only the zoo's labels.
/// </summary>
internal static class LabelOracle
{
    public static void Run(string[] args)
    {
        string dir = args.Length > 2 && args[1] == "--zoo" ? args[2] : "zoos/tetris-seed";
        var zoo = ZooDataset.Open(dir);
        var rows = zoo.Records().Select(r => (r.ModelId, r.Epoch, Acc: (double)r.TestAccuracy, Gap: (double)r.Metric(ZooColumns.GeneralizationGap))).ToList();
        Console.WriteLine($"zoo {zoo.Directory}: {rows.Count:N0} rows, {rows.Select(r => r.ModelId).Distinct().Count():N0} models, {rows.Select(r => r.Epoch).Distinct().Count()} checkpoints");
        Console.WriteLine($"{"label",-18} {"epoch-mean R²",14} {"+ model offset R²",18} {"mean at first / middle / last checkpoint",42}");
        foreach (var (name, y) in new[] { ("TestAccuracy", rows.Select(r => r.Acc).ToArray()), ("GeneralizationGap", rows.Select(r => r.Gap).ToArray()) })
        {
            var byEpoch = rows.Select((r, i) => (r.Epoch, Y: y[i])).GroupBy(t => t.Epoch).ToDictionary(g => g.Key, g => g.Average(t => t.Y));
            var epochFit = rows.Select(r => byEpoch[r.Epoch]).ToArray();
            var offset = rows.Select((r, i) => (r.ModelId, Residual: y[i] - epochFit[i])).GroupBy(t => t.ModelId).ToDictionary(g => g.Key, g => g.Average(t => t.Residual));
            var withOffset = rows.Select((r, i) => epochFit[i] + offset[r.ModelId]).ToArray();
            var epochs = byEpoch.Keys.Order().ToArray();
            Console.WriteLine($"{name,-18} {ProbeMetrics.RSquared(y, epochFit),14:F3} {ProbeMetrics.RSquared(y, withOffset),18:F3} " +
                $"{$"{byEpoch[epochs[0]]:F3} / {byEpoch[epochs[epochs.Length / 2]]:F3} / {byEpoch[epochs[^1]]:F3}",42}");
        }
    }
}
