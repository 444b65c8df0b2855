using System.Text.Json.Nodes;
using WeightSpace.MLNet;

namespace WeightSpace.ZooGen.Generation;

/// <summary>What <c>zoogen info</c> prints: sizes, label ranges and the last epoch's accuracy distribution.</summary>
public sealed class ZooSummary
{
    /// <summary>Rows.</summary>
    public long Rows { get; private init; }
    /// <summary>Distinct models.</summary>
    public int Models { get; private init; }
    /// <summary>Parameters per model.</summary>
    public int Parameters { get; private init; }
    /// <summary>Saved epochs.</summary>
    public int[] Epochs { get; private init; } = Array.Empty<int>();
    /// <summary>min/mean/max of every numeric label over all rows.</summary>
    public Dictionary<string, (double Min, double Mean, double Max)> Ranges { get; } = new();
    /// <summary>Rows whose label is missing (NaN), by column; a column missing everywhere has no range.</summary>
    public Dictionary<string, long> Missing { get; } = new();
    /// <summary>min/mean/max of TestAccuracy at each model's last saved epoch.</summary>
    public (double Min, double Mean, double Max) LastEpochTestAccuracy { get; private init; }
    /// <summary>Standard deviation of the generalisation gap over all checkpoints.</summary>
    public double GapStd { get; private init; }
    /// <summary>Fraction of models whose gap at their last saved epoch exceeds the gap at their first.</summary>
    public double GapRisingFraction { get; private init; }
    /// <summary>Counts of last-epoch test accuracy in ten bins [0, 0.1), …, [0.9, 1].</summary>
    public int[] Histogram { get; } = new int[10];
    /// <summary>The manifest.</summary>
    public required ZooManifest Manifest { get; init; }
    /// <summary>Models the recipe plans for this zoo (its part only, for a part), or null when the manifest has no zoogen recipe.</summary>
    public int? PlannedModels
    {
        get
        {
            if (Manifest.Recipe["models"] is not JsonValue v || !v.TryGetValue(out int models)) return null;
            if (Manifest.Part is null) return models;
            var p = Manifest.Part.Split('/');
            int i = int.Parse(p[0]), n = int.Parse(p[1]);
            return Enumerable.Range(0, models).Count(id => id % n == i);
        }
    }

    /// <summary>Scans a zoo once (labels only are kept).</summary>
    public static ZooSummary Compute(ZooDataset zoo)
    {
        var sums = new Dictionary<string, (double Min, double Sum, double Max)>();
        var last = new Dictionary<int, (int Epoch, float Acc)>();
        var gapEnds = new Dictionary<int, (int FirstEpoch, float First, int LastEpoch, float Last)>();
        double gapSum = 0, gapSumSq = 0;
        long gapRows = 0;
        var epochs = new SortedSet<int>();
        long rows = 0;
        var missing = new Dictionary<string, long>();
        void Add(string k, double v)
        {
            if (double.IsNaN(v)) { missing[k] = missing.GetValueOrDefault(k) + 1; return; } // missing labels are counted, not averaged
            var (mn, s, mx) = sums.TryGetValue(k, out var t) ? t : (double.MaxValue, 0, double.MinValue);
            sums[k] = (Math.Min(mn, v), s + v, Math.Max(mx, v));
        }
        foreach (var r in zoo.Records())
        {
            rows++;
            epochs.Add(r.Epoch);
            Add(ZooColumns.TrainAccuracy, r.TrainAccuracy); Add(ZooColumns.TestAccuracy, r.TestAccuracy);
            Add(ZooColumns.TrainLoss, r.TrainLoss); Add(ZooColumns.TestLoss, r.TestLoss); Add(ZooColumns.GeneralizationGap, r.GeneralizationGap);
            foreach (var (k, v) in r.Numeric) Add(k, v);
            foreach (var k in ZooColumns.OptionalMetrics) if (r.Metric(k) is var v && !float.IsNaN(v)) Add(k, v);
            if (!last.TryGetValue(r.ModelId, out var l) || r.Epoch >= l.Epoch) last[r.ModelId] = (r.Epoch, r.TestAccuracy);
            if (!float.IsNaN(r.GeneralizationGap)) { gapRows++; gapSum += r.GeneralizationGap; gapSumSq += (double)r.GeneralizationGap * r.GeneralizationGap; }
            var g = gapEnds.TryGetValue(r.ModelId, out var ge) ? ge : (int.MaxValue, 0f, int.MinValue, 0f);
            if (r.Epoch < g.Item1) g = (r.Epoch, r.GeneralizationGap, g.Item3, g.Item4);
            if (r.Epoch > g.Item3) g = (g.Item1, g.Item2, r.Epoch, r.GeneralizationGap);
            gapEnds[r.ModelId] = g;
        }
        var accs = last.Values.Select(v => (double)v.Acc).Where(a => !double.IsNaN(a)).ToList();
        var summary = new ZooSummary
        {
            Manifest = zoo.Manifest, Rows = rows, Models = last.Count, Parameters = zoo.Layout.ParameterCount, Epochs = epochs.ToArray(),
            LastEpochTestAccuracy = accs.Count == 0 ? (double.NaN, double.NaN, double.NaN) : (accs.Min(), accs.Average(), accs.Max()),
            GapStd = gapRows == 0 ? double.NaN : Math.Sqrt(Math.Max(0, gapSumSq / gapRows - gapSum / gapRows * (gapSum / gapRows))),
            GapRisingFraction = gapEnds.Count == 0 ? double.NaN : gapEnds.Values.Count(g => g.Last > g.First) / (double)gapEnds.Count,
        };
        foreach (var (k, (mn, s, mx)) in sums) summary.Ranges[k] = (mn, s / (rows - missing.GetValueOrDefault(k)), mx);
        foreach (var (k, n) in missing) summary.Missing[k] = n;
        foreach (var a in accs) summary.Histogram[Math.Clamp((int)(a * 10), 0, 9)]++;
        return summary;
    }

    /// <summary>Machine-readable form (rows, models, parameters, testAccuracy at the last epoch, …).</summary>
    public JsonObject ToJson()
    {
        JsonObject Range((double Min, double Mean, double Max) r) => new() { ["min"] = r.Min, ["mean"] = r.Mean, ["max"] = r.Max };
        var ranges = new JsonObject();
        foreach (var (k, r) in Ranges) ranges[k] = Range(r);
        return new JsonObject
        {
            ["rows"] = Rows, ["models"] = Models, ["parameters"] = Parameters,
            ["layout"] = Manifest.Layout.Name, ["dataset"] = Manifest.Dataset, ["recipe"] = Manifest.Recipe["name"]?.DeepClone(),
            ["part"] = Manifest.Part, ["shards"] = Manifest.Shards.Count, ["partial"] = Manifest.Partial, ["plannedModels"] = PlannedModels,
            ["mergedParts"] = Manifest.MergedParts is null ? null : new System.Text.Json.Nodes.JsonArray(Manifest.MergedParts.Select(p => (System.Text.Json.Nodes.JsonNode?)p).ToArray()),
            ["epochs"] = new JsonArray(Epochs.Select(e => (JsonNode)e).ToArray()),
            ["testAccuracyLastEpoch"] = Range(LastEpochTestAccuracy),
            ["testAccuracyHistogram"] = new JsonArray(Histogram.Select(h => (JsonNode)h).ToArray()),
            ["generalizationGapStd"] = GapStd, ["generalizationGapRisingFraction"] = GapRisingFraction,
            ["labels"] = ranges,
        };
    }

    /// <summary>Human-readable form.</summary>
    public string ToText()
    {
        var sb = new System.Text.StringBuilder();
        sb.AppendLine($"zoo        {Manifest.Recipe["name"]} on {Manifest.Dataset}, layout {Manifest.Layout}{(Manifest.Part is null ? "" : ", part " + Manifest.Part)}");
        sb.AppendLine($"rows       {Rows:N0} ({Models:N0} models, {Manifest.Shards.Count} shard{(Manifest.Shards.Count == 1 ? "" : "s")})");
        if (PlannedModels is { } planned && planned > Models && Manifest.MergedParts is null)
            sb.AppendLine($"INCOMPLETE {Models:N0} of the recipe's {planned:N0} models are present; continue with zoogen generate ... --resume");
        if (Manifest.Partial) sb.AppendLine($"PARTIAL    merged from parts {string.Join(", ", Manifest.MergedParts ?? new())} only: models of the missing parts are absent");
        sb.AppendLine($"epochs     {(Epochs.Length == 0 ? "-" : Epochs.Length > 12 ? $"{Epochs.Length} checkpoints, {Epochs[0]}..{Epochs[^1]}" : string.Join(",", Epochs))}");
        foreach (var (k, r) in Ranges) sb.AppendLine($"{k,-18} min {r.Min,9:G4}  mean {r.Mean,9:G4}  max {r.Max,9:G4}" + (Missing.TryGetValue(k, out var m) ? $"  ({m:N0} rows missing)" : ""));
        foreach (var (k, m) in Missing.Where(kv => !Ranges.ContainsKey(kv.Key))) sb.AppendLine($"{k,-18} missing in all {m:N0} rows");
        sb.AppendLine($"generalisation gap: std {GapStd:F3} over all checkpoints; rises from first to last checkpoint in {GapRisingFraction:P0} of models");
        sb.AppendLine($"test accuracy at each model's last epoch: min {LastEpochTestAccuracy.Min:F3} mean {LastEpochTestAccuracy.Mean:F3} max {LastEpochTestAccuracy.Max:F3}");
        int peak = Math.Max(1, Histogram.Max());
        for (int i = 0; i < 10; i++)
            sb.AppendLine($"  [{i / 10.0:F1}, {(i + 1) / 10.0:F1}{(i == 9 ? "]" : ")")} {new string('#', (int)Math.Ceiling(40.0 * Histogram[i] / peak)),-40} {Histogram[i]}");
        return sb.ToString();
    }
}
