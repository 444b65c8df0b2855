using Microsoft.ML;

namespace WeightSpace.MLNet.Bench;

/// <summary>
/// The stock ML.NET pipeline as its users write it — features → NormalizeMeanVariance → SDCA — with the embedding
/// (<c>WeightEmbedding</c>, no options) and with s(W) as the features, on one split by model (30 % test), for each target
/// and several split seeds: does the library's default beat the baseline in the pipeline a user writes first?
/// </summary>
internal static class StockPipelineBench
{
    public static void Run(string[] args)
    {
        var a = BenchArgs.Pairs(args);
        string S(string k, string d) => a.TryGetValue(k, out var v) ? v : d;
        var seeds = S("seeds", "1,2,3").Split(',').Select(int.Parse).ToArray();
        var targets = S("targets", "Epoch,TestAccuracy").Split(',');
        var ml = new MLContext(seed: 1);
        var zoo = ml.Data.LoadZoo(S("zoo", "zoos/tetris-seed"));
        var layout = WeightLayoutAnnotation.Get(zoo.Schema[ZooColumns.Weights])!;
        Console.WriteLine($"zoo {S("zoo", "")}: {layout}, {zoo.GetRowCount()} rows; seeds {string.Join(",", seeds)}");
        var rows = new List<(string Features, string Target, double R2)>();
        foreach (int seed in seeds)
        {
            var split = ml.Data.TrainTestSplit(zoo, 0.3, samplingKeyColumnName: ZooColumns.ModelId, seed: seed);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            using var embedding = ml.Transforms.WeightEmbedding("F").Fit(split.TrainSet);   // no options: what a user gets
            double fit = clock.Elapsed.TotalSeconds;
            var statistics = ml.Transforms.WeightStatistics("F", ZooColumns.Weights, layout).Fit(split.TrainSet);
            foreach (var target in targets)
                foreach (var (name, features) in new (string, ITransformer)[] { ("WeightEmbedding", embedding), ("s(W)", statistics) })
                {
                    var probe = ml.Transforms.NormalizeMeanVariance("Scaled", "F").Append(ml.Regression.Trainers.Sdca(target, "Scaled"));
                    var train = ml.Data.Cache(features.Transform(split.TrainSet));
                    var model = probe.Fit(train);
                    double r2 = ml.Regression.Evaluate(model.Transform(features.Transform(split.TestSet)), target).RSquared;
                    rows.Add((name, target, r2));
                    Console.WriteLine($"seed {seed}: {name} → NormalizeMeanVariance → SDCA × {target}: R² {r2:F3}" + (name == "WeightEmbedding" ? $" (embedding trained in {fit:F0} s)" : ""));
                }
        }
        Console.WriteLine();
        Console.WriteLine("| features | " + string.Join(" | ", targets.Select(t => $"{t} R²")) + " |");
        Console.WriteLine("|---|" + string.Concat(targets.Select(_ => "---:|")));
        foreach (var g in rows.GroupBy(r => r.Features))
            Console.WriteLine($"| {g.Key} | " + string.Join(" | ", targets.Select(t =>
            {
                var v = g.Where(r => r.Target == t).Select(r => r.R2).ToArray();
                double m = v.Average(), sd = v.Length > 1 ? Math.Sqrt(v.Sum(x => (x - m) * (x - m)) / (v.Length - 1)) : 0;
                return $"{m:F3} ± {sd:F3}";
            })) + " |");
    }
}
