using System.Diagnostics;
using System.Globalization;

namespace WeightSpace.MLNet.Bench;

/// <summary>
/// Trains a hyper-representation on a zoo split 70/15/15 by model and reports the paper's protocol: ridge probes (λ on
/// validation) from the embedding of the un-augmented test weights, next to s(W) on the same split, plus throughput.
/// </summary>
internal static class EmbedBench
{
    private static readonly string[] Targets = { ZooColumns.TestAccuracy, ZooColumns.Epoch, ZooColumns.GeneralizationGap };
    // Numeric hyperparameters reported (and usable as --labels) when the zoo varies them.
    private static readonly string[] Hyper = { ZooColumns.Hyper.LearningRate, ZooColumns.Hyper.WeightDecay, ZooColumns.Hyper.Dropout, ZooColumns.Hyper.TrainFraction };

    public static void Run(string[] args)
    {
        var a = BenchArgs.Pairs(args);
        string S(string k, string d) => a.TryGetValue(k, out var v) ? v : d;
        double D(string k, double d) => a.TryGetValue(k, out var v) ? double.Parse(v, CultureInfo.InvariantCulture) : d;
        int I(string k, int d) => a.TryGetValue(k, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : d;

        var zoo = ZooDataset.Open(S("zoo", "zoos/tetris-seed"));
        if (zoo.Manifest.TrainMetricsCaveat() is { } caveat) Console.WriteLine($"note: this zoo was {caveat}.");
        var split = ModelSplit.Create(zoo.ModelIds, seed: I("split-seed", 1));
        var (train, validation, test) = Load(zoo, split);
        var o = WeightEmbeddingOptions.CpuDefaultFor(zoo.Layout); // the library's default for the layout (token statistics; per-layer normalisation for CNNs)
        if (a.ContainsKey("paper")) o = WeightEmbeddingOptions.Paper(zoo.Layout, zoo.Manifest.Dataset);
        var aug = new AugmentationOptions
        {
            Permutation = Enum.Parse<PermutationMode>(S("perm", o.Augmentation.Permutation.ToString()), true),
            PermutationPoolSize = I("pool", o.Augmentation.PermutationPoolSize),
            EraseProbability = D("erase", o.Augmentation.EraseProbability), NoiseSigma = D("noise", o.Augmentation.NoiseSigma),
        };
        o = o with
        {
            Kind = Enum.Parse<AutoencoderKind>(S("kind", o.Kind.ToString()), true),
            Encoding = Enum.Parse<TokenEncoding>(S("encoding", o.Encoding.ToString()), true),
            CompressionToken = S("ctoken", o.CompressionToken ? "1" : "0") == "1",
            TokenStatistics = S("tstats", o.TokenStatistics ? "1" : "0") == "1",
            Blocks = I("blocks", o.Blocks), ModelDim = I("dim", o.ModelDim), Heads = I("heads", o.Heads), FeedForwardDim = I("ff", o.FeedForwardDim),
            LatentDim = I("latent", o.LatentDim), Dropout = D("dropout", o.Dropout),
            Task = Enum.Parse<RepresentationTask>(S("task", o.Task.ToString()), true), Gamma = D("gamma", o.Gamma),
            Normalization = Enum.Parse<WeightNormalization>(S("norm", o.Normalization.ToString()), true),
            Epochs = I("epochs", o.Epochs), BatchSize = I("batch", o.BatchSize), LearningRate = D("lr", o.LearningRate), WeightDecay = D("wd", o.WeightDecay),
            Schedule = Enum.Parse<LearningRateSchedule>(S("schedule", o.Schedule.ToString()), true), WarmupEpochs = D("warmup", o.WarmupEpochs),
            TimeBudget = a.ContainsKey("budget") ? TimeSpan.FromSeconds(D("budget", 0)) : o.TimeBudget,
            ValidationLabels = S("labels", "TestAccuracy,Epoch").Split(',', StringSplitOptions.RemoveEmptyEntries),
            Candidates = I("candidates", o.Candidates), CandidateFraction = D("candidate-fraction", o.CandidateFraction),
            Seed = I("seed", o.Seed), Threads = I("threads", o.Threads), Augmentation = aug, EmbeddingViews = I("views", o.EmbeddingViews),
        };
        Console.WriteLine($"zoo {zoo.Directory}: {zoo.Layout}, {train.Rows:N0} train / {validation.Rows:N0} validation / {test.Rows:N0} test rows");
        Console.WriteLine($"options: {o with { ValidationLabels = o.ValidationLabels }}".Replace("System.String[]", string.Join(",", o.ValidationLabels)));
        var sw = Stopwatch.StartNew();
        using var rep = a.TryGetValue("load", out var load) ? HyperRepresentation.Load(load)
            : HyperRepresentation.Train(zoo.Layout, train, validation, o, new TrainingProgressBar(Console.Out));
        double fit = sw.Elapsed.TotalSeconds;
        Console.WriteLine($"fit: {fit:F1} s ({rep.History.Count} epochs{(rep.Options.Candidates > 1 ? $"; the best of {rep.Options.Candidates} candidates: seed {rep.History[^1].Seed}" : "")})");
        if (a.TryGetValue("plot", out var plot)) ProbePlots.LearningCurves(plot, rep.History, $"{zoo.Manifest.Recipe["name"]}: hyper-representation training");
        if (a.TryGetValue("save", out var save)) rep.Save(save);

        sw.Restart();
        int views = I("views", rep.Options.EmbeddingViews);
        var embTrain = rep.Embed(train.Weights, train.Rows, views);
        var embVal = rep.Embed(validation.Weights, validation.Rows, views);
        var embTest = rep.Embed(test.Weights, test.Rows, views);
        double embedSeconds = sw.Elapsed.TotalSeconds;
        int embedded = train.Rows + validation.Rows + test.Rows;
        Console.WriteLine($"embedding ({views} view{(views == 1 ? "" : "s")} per row): {embedded / embedSeconds:N0} rows/s ({embedded:N0} rows in {embedSeconds:F2} s); " +
            $"mean |z| {embTest.Average(v => Math.Abs(v)):F3}, saturated (|z| > 0.99) {embTest.Count(v => Math.Abs(v) > 0.99) / (double)embTest.Length:P1}");
        var rec = rep.Reconstruct(test.Weights, test.Rows);
        Console.WriteLine($"test reconstruction R²: {ProbeMetrics.ReconstructionR2(test.Weights, rec, zoo.Layout.ParameterCount):F3}");

        var stats = new WeightStatisticsFeaturizer(zoo.Layout, StatisticsVariant.R21);
        float[] Stats(RepresentationData d)
        {
            var f = new float[d.Rows * stats.FeatureCount];
            var scratch = new float[stats.MaxTensor];
            for (int r = 0; r < d.Rows; r++) stats.Compute(d.Weights.AsSpan(r * zoo.Layout.ParameterCount, zoo.Layout.ParameterCount), f.AsSpan(r * stats.FeatureCount, stats.FeatureCount), scratch);
            return f;
        }
        var (sTrain, sVal, sTest) = (Stats(train), Stats(validation), Stats(test));
        // λ: the ridge penalty the validation models chose from the paper's grid (1e-5 … 1e3; an end of the grid means the grid
        // may be too short: --lambda-grid wide adds 3e3 … 1e6 to check).
        var grid = S("lambda-grid", "paper") switch
        {
            "paper" => RidgeRegression.PaperLambdas,
            "wide" => RidgeRegression.PaperLambdas.Concat(new[] { 3e3, 1e4, 3e4, 1e5, 3e5, 1e6 }).ToArray(),
            var g => throw new ArgumentException($"--lambda-grid: '{g}' is neither 'paper' nor 'wide'."),
        };
        Console.WriteLine($"{"target",-20} {"E (ridge)",10} {"s(W) (ridge)",13} {"λ E",8} {"λ s(W)",8}");
        foreach (var t in Targets.Concat(Hyper.Where(h => train.Labels.ContainsKey(h) && train.Labels[h].Distinct().Count() > 1)))
        {
            var (e, le) = TestR2(embTrain, embVal, embTest, rep.LatentDim, train, validation, test, t, grid);
            var (s, ls) = TestR2(sTrain, sVal, sTest, stats.FeatureCount, train, validation, test, t, grid);
            Console.WriteLine($"{t,-20} {e,10:F3} {s,13:F3} {le,8:G2} {ls,8:G2}");
        }
    }

    private static (double R2, double Lambda) TestR2(float[] xTrain, float[] xVal, float[] xTest, int k, RepresentationData train, RepresentationData val, RepresentationData test, string label,
        IReadOnlyList<double> lambdas)
    {
        var model = RidgeRegression.Fit(xTrain, train.Labels[label], xVal, val.Labels[label], k, lambdas: lambdas);
        var predicted = model.Predict(xTest, test.Rows);
        return (ProbeMetrics.RSquared(test.Labels[label].Select(v => (double)v).ToArray(), predicted), model.Lambda);
    }


    internal static (RepresentationData Train, RepresentationData Validation, RepresentationData Test) Load(ZooDataset zoo, ModelSplit split)
    {
        var labels = Targets.Concat(Hyper.Where(h => zoo.Manifest.Columns.Any(c => c.Name == h))).ToArray();
        var parts = new[] { SplitPart.Train, SplitPart.Validation, SplitPart.Test }.ToDictionary(p => p, _ => (W: new List<float>(), L: labels.ToDictionary(t => t, _ => new List<float>())));
        foreach (var r in zoo.Records())
        {
            var part = parts[split.PartOf(r.ModelId)];
            part.W.AddRange(r.Weights);
            part.L[ZooColumns.TestAccuracy].Add(r.TestAccuracy);
            part.L[ZooColumns.Epoch].Add(r.Epoch);
            part.L[ZooColumns.GeneralizationGap].Add(r.Metric(ZooColumns.GeneralizationGap));
            foreach (var h in labels.Skip(Targets.Length)) part.L[h].Add(r.Numeric[h]);
        }
        RepresentationData Make(SplitPart p) => new(parts[p].W.ToArray(), parts[p].L[ZooColumns.Epoch].Count, parts[p].L.ToDictionary(kv => kv.Key, kv => kv.Value.ToArray()));
        return (Make(SplitPart.Train), Make(SplitPart.Validation), Make(SplitPart.Test));
    }
}
