using System.Globalization;
using Microsoft.ML;

namespace WeightSpace.MLNet.Bench;

/// <summary>
/// The foreign-zoo comparison: every featurizer of the library (W, s(W) both variants, per-neuron statistics, the default
/// hyper-representation, it combined with s(W)) × linear and tree probes, and the supervised predictor, over several seeds
/// (each seed: its own split by model and its own training seeds). Prints test R² and Kendall's τ as mean ± std over seeds;
/// "trees" is the better of FastTree and LightGBM within each seed.
/// </summary>
internal static class ForeignBench
{
    public static void Run(string[] args)
    {
        var a = BenchArgs.Pairs(args);
        string S(string k, string d) => a.TryGetValue(k, out var v) ? v : d;
        var seeds = S("seeds", "1,2,3").Split(',').Select(int.Parse).ToArray();
        var wanted = S("featurizers", "W,sW,sWU,neurons,ecd,ecd+sW").Split(',', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        var targets = S("targets", "TestAccuracy,Epoch,GeneralizationGap").Split(',');
        int steps = int.Parse(S("steps", "3000"), CultureInfo.InvariantCulture);
        bool supervised = S("supervised", "1") == "1";
        var ml = new MLContext(seed: 1);
        var zoo = ml.Data.LoadZoo(S("zoo", "zoos/tetris-seed"));
        var layout = WeightLayoutAnnotation.Get(zoo.Schema[ZooColumns.Weights])!;
        Console.WriteLine($"zoo {S("zoo", "")}: {layout}; seeds {string.Join(",", seeds)}; targets {string.Join(",", targets)}");
        var all = new List<(int Seed, ProbeResult R)>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        foreach (int seed in seeds)
        {
            var embedding = WeightEmbeddingOptions.CpuDefaultFor(layout) with { Seed = seed };
            int I(string k, int d) => a.TryGetValue(k, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : d;
            embedding = embedding with
            {
                TokenStatistics = S("tstats", embedding.TokenStatistics ? "1" : "0") == "1", BatchSize = I("batch", embedding.BatchSize),
                EmbeddingViews = I("views", embedding.EmbeddingViews), Epochs = I("epochs", embedding.Epochs), ModelDim = I("dim", embedding.ModelDim),
                FeedForwardDim = I("ff", embedding.FeedForwardDim), Normalization = Enum.Parse<WeightNormalization>(S("norm", embedding.Normalization.ToString()), true),
                ValidationLabels = a.TryGetValue("labels", out var labels) ? labels.Split(',', StringSplitOptions.RemoveEmptyEntries) : embedding.ValidationLabels,
            };
            if (seed == seeds[0]) Console.WriteLine($"embedding options: {embedding}");
            var featurizers = new List<Featurizer>();
            if (wanted.Contains("W")) featurizers.Add(Featurizer.W(layout));
            if (wanted.Contains("sW")) featurizers.Add(Featurizer.Statistics(layout));
            if (wanted.Contains("sWU")) featurizers.Add(Featurizer.Statistics(layout, StatisticsVariant.Unterthiner));
            if (wanted.Contains("neurons")) featurizers.Add(Featurizer.NeuronStatistics(layout));
            if (wanted.Contains("ecd")) featurizers.Add(Featurizer.Embedding("E_cD", layout, embedding));
            if (wanted.Contains("ecd+sW")) featurizers.Add(Featurizer.Combine("E_cD + s(W)", Featurizer.Embedding("E_cD", layout, embedding), Featurizer.Statistics(layout)));
            var comparison = new ProbeComparison(ml)
            {
                Seed = seed, Probes = new[] { ProbeKind.Linear, ProbeKind.FastTree, ProbeKind.LightGbm },
                Supervised = supervised ? new[] { SupervisedPredictor.WeightSpaceTransformer("WST", new WeightSpacePredictorOptions
                {
                    Seed = seed, Steps = steps, EarlyStoppingPatience = int.Parse(S("patience", "30"), CultureInfo.InvariantCulture),
                    LearningRate = double.Parse(S("lr", "1e-3"), CultureInfo.InvariantCulture), WeightDecay = double.Parse(S("wd", "1e-2"), CultureInfo.InvariantCulture),
                    Statistics = a.TryGetValue("stats", out var stats) ? stats == "1" : new WeightSpacePredictorOptions().Statistics,
                }) } : Array.Empty<SupervisedPredictor>(),
                Progress = new Progress<string>(line => Console.WriteLine($"[seed {seed}, {clock.Elapsed.TotalSeconds:F0} s] {line}")),
            };
            foreach (var r in comparison.Run(zoo, featurizers, targets)) all.Add((seed, r));
            foreach (var (name, seconds) in comparison.FeaturizerSeconds) Console.WriteLine($"[seed {seed}] featurizer {name}: {seconds:F1} s");
        }
        // Per seed, "trees" is the better tree probe; then mean ± std over seeds.
        var cells = all.Select(x => (x.Seed, x.R.Featurizer, Probe: x.R.Probe is "FastTree" or "LightGbm" ? "trees" : x.R.Probe, x.R.Target, x.R.Value, x.R.KendallTau, x.R.Seconds))
            .GroupBy(c => (c.Seed, c.Featurizer, c.Probe, c.Target))
            .Select(g => g.MaxBy(c => c.Value))
            .GroupBy(c => (c.Featurizer, c.Probe))
            .ToList();
        Console.WriteLine();
        Console.WriteLine("| featurizer | probe | " + string.Join(" | ", targets.Select(t => $"{t} R² | {t} τ")) + " | seconds |");
        Console.WriteLine("|---|---|" + string.Concat(targets.Select(_ => "---:|---:|")) + "---:|");
        foreach (var row in cells)
        {
            string Cell(string target, bool tau)
            {
                var v = row.Where(c => c.Target == target).Select(c => tau ? c.KendallTau : c.Value).ToArray();
                if (v.Length == 0 || v.All(double.IsNaN)) return "";
                double mean = v.Average(), sd = v.Length > 1 ? Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Length - 1)) : 0;
                return $"{mean:F3} ± {sd:F3}";
            }
            Console.WriteLine($"| {row.Key.Featurizer} | {row.Key.Probe} | " + string.Join(" | ", targets.Select(t => $"{Cell(t, false)} | {Cell(t, true)}")) +
                              $" | {row.Sum(c => c.Seconds) / seeds.Length:F0} |");
        }
        Console.WriteLine($"total {clock.Elapsed.TotalSeconds:F0} s");
    }
}
