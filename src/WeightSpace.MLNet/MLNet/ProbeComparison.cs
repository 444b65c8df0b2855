using System.Globalization;
using Microsoft.Data.Analysis;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace WeightSpace.MLNet;

/// <summary>The probe families of the comparison: linear (the paper's ridge / linear classifier) and stock non-linear ones.</summary>
public enum ProbeKind
{
    /// <summary>Closed-form ridge (λ on validation) for numeric targets; L-BFGS maximum entropy for categorical ones (see <see cref="ProbeComparison.ClassifierL2Grid"/>).</summary>
    Linear,
    /// <summary>ML.NET's SDCA (features standardised first).</summary>
    Sdca,
    /// <summary>ML.NET's FastTree (numeric targets; one-versus-all for categorical).</summary>
    FastTree,
    /// <summary>ML.NET's LightGBM.</summary>
    LightGbm,
}

/// <summary>One cell of a comparison: a featurizer × probe × target on the test part, with Kendall's τ where the target is numeric.</summary>
/// <param name="Featurizer">"W", "s(W)", "E_cD", …</param>
/// <param name="Probe">"linear", "SDCA", "FastTree", "LightGbm".</param>
/// <param name="Target">The label column.</param>
/// <param name="Metric">"R2" (numeric targets) or "Accuracy" (categorical).</param>
/// <param name="Value">The metric on the test rows (the mean over folds for cross-validation).</param>
/// <param name="KendallTau">Kendall's τ-b between predictions and truth (NaN for categorical targets).</param>
/// <param name="ValueStd">Standard deviation over folds (0 for a single split).</param>
public sealed record ProbeResult(string Featurizer, string Probe, string Target, string Metric, double Value, double KendallTau, double ValueStd = 0)
{
    /// <summary>The test rows' true values (numeric targets of a single split; for plots).</summary>
    public IReadOnlyList<double>? Truth { get; init; }
    /// <summary>The probe's predictions for those rows.</summary>
    public IReadOnlyList<double>? Predicted { get; init; }
    /// <summary>Wall-clock seconds the probe took to fit and score (features already computed; summed over folds).</summary>
    public double Seconds { get; init; }
}

/// <summary>
/// Turns weights into probe features, fitted on the training part of a split (its validation part may guide it): W, s(W),
/// or a hyper-representation (trained on the part, or already trained).
/// </summary>
public sealed class Featurizer
{
    private readonly Func<FitContext, ITransformer> _fit;

    /// <summary>What a featurizer is fitted with: the split's training and validation parts, the column to add, the comparison's numeric targets.</summary>
    internal sealed record FitContext(MLContext Ml, IDataView Train, IDataView Validation, string Column, IReadOnlyList<string> NumericTargets);

    private Featurizer(string name, Func<FitContext, ITransformer> fit, IReadOnlyList<ProbeKind>? probes = null) { Name = name; _fit = fit; Probes = probes; }

    /// <summary>The name in result tables.</summary>
    public string Name { get; }

    /// <summary>The probes this featurizer is scored with; null (the default): the comparison's <see cref="ProbeComparison.Probes"/>.</summary>
    public IReadOnlyList<ProbeKind>? Probes { get; }

    /// <summary>
    /// This featurizer scored with these probes only, whatever the comparison's <see cref="ProbeComparison.Probes"/> — e.g. an
    /// embedding with the linear probe of the paper's protocol while W and s(W) also get trees (the Quickstart: trees on a
    /// 512-wide embedding cost most of the probing time and were never its best probe; docs/benchmarks.md).
    /// </summary>
    /// <exception cref="ArgumentException">No probe, or one named twice.</exception>
    public Featurizer WithProbes(params ProbeKind[] probes)
    {
        ArgumentNullException.ThrowIfNull(probes);
        if (probes.Length == 0 || probes.Distinct().Count() != probes.Length)
            throw new ArgumentException($"Featurizer '{Name}' needs at least one probe, each named once (given: {string.Join(", ", probes)}).", nameof(probes));
        return new(Name, _fit, probes.ToArray());
    }

    /// <summary>Fits on the training part (the validation part may guide it); the transformer adds the context's column.</summary>
    internal ITransformer Fit(FitContext context) => _fit(context);

    /// <summary>W: the raw weights, standardised per layer.</summary>
    public static Featurizer W(WeightLayout layout, string name = "W") =>
        new(name, c => c.Ml.Transforms.StandardizeWeightsPerLayer(c.Column, ZooColumns.Weights, layout).Fit(c.Train));

    /// <summary>s(W): per-tensor statistics (R21: kernel weights only; Unterthiner: kernels and biases).</summary>
    public static Featurizer Statistics(WeightLayout layout, StatisticsVariant variant = StatisticsVariant.R21, string? name = null) =>
        new(name ?? (variant == StatisticsVariant.R21 ? "s(W)" : "s(W) Unterthiner"),
            c => c.Ml.Transforms.WeightStatistics(c.Column, ZooColumns.Weights, layout, variant).Fit(c.Train));

    /// <summary>
    /// Per-neuron statistics (<see cref="NeuronStatisticsFeaturizer"/>): the three values per neuron token a hyper-representation
    /// with <see cref="WeightEmbeddingOptions.TokenStatistics"/> is fed, so the comparison shows what the learned part adds.
    /// </summary>
    public static Featurizer NeuronStatistics(WeightLayout layout, string name = "s(neurons)") =>
        new(name, c => c.Ml.Transforms.NeuronStatistics(c.Column, ZooColumns.Weights, layout).Fit(c.Train));

    /// <summary>
    /// A hyper-representation trained on each split's training part, validated on its validation part. When the options name
    /// no <see cref="WeightEmbeddingOptions.ValidationLabels"/>, the comparison's numeric targets are used: the state kept is
    /// the one whose embedding predicts the labels being probed best on the validation models.
    /// </summary>
    public static Featurizer Embedding(string name, WeightLayout layout, WeightEmbeddingOptions options, IProgress<TrainingReport>? progress = null, CancellationToken cancel = default) =>
        new(name, c =>
        {
            var o = options.ValidationLabels.Count == 0 && c.NumericTargets.Count > 0 ? options with { ValidationLabels = c.NumericTargets } : options;
            var labels = o.ValidationLabels;
            var representation = HyperRepresentation.Train(layout, RepresentationData.FromDataView(c.Train, layout, labels), RepresentationData.FromDataView(c.Validation, layout, labels), o, progress, cancel);
            return new WeightEmbeddingTransformer(c.Column, ZooColumns.Weights, representation);
        });

    /// <summary>
    /// An already trained hyper-representation (e.g. loaded from a file), used as it is; the caller keeps (and disposes) it. The
    /// comparison refuses it when it was trained or validated on test rows of the split (see
    /// <see cref="HyperRepresentation.WereTrainingRows"/>): train it on <see cref="ProbeComparison.Parts"/>' training part.
    /// </summary>
    public static Featurizer Embedding(string name, HyperRepresentation trained) =>
        new(name, c => new WeightEmbeddingTransformer(c.Column, ZooColumns.Weights, trained, ownsRepresentation: false));

    /// <summary>
    /// Several already trained hyper-representations as one featurizer: a model's features are their embeddings side by side
    /// (an ensemble, e.g. one configuration trained with several seeds, whose probe quality varies with the seed; docs/results.md).
    /// All must be for one layout; the caller keeps (and disposes) them, and the comparison refuses any of them that was trained
    /// or validated on a test row of the split.
    /// </summary>
    /// <exception cref="ArgumentException">The list is empty, holds null, or mixes layouts.</exception>
    public static Featurizer Embedding(string name, IReadOnlyList<HyperRepresentation> trained)
    {
        ArgumentNullException.ThrowIfNull(trained);
        if (trained.Count == 0 || trained.Any(t => t is null)) throw new ArgumentException($"The ensemble '{name}' needs at least one hyper-representation and no null.", nameof(trained));
        var layouts = trained.Select(t => t.Layout).Distinct().ToList();
        if (layouts.Count > 1) throw new ArgumentException($"The hyper-representations of '{name}' are for different layouts ({string.Join(", ", layouts)}); an ensemble needs one.", nameof(trained));
        return trained.Count == 1 ? Embedding(name, trained[0]) : Combine(name, trained.Select((t, i) => Embedding($"{name}.{i}", t)).ToArray());
    }

    /// <summary>
    /// Several featurizers as one: a model's features are theirs side by side (e.g. a hyper-representation next to s(W), so a
    /// probe can use what each adds). Each part is fitted on the same training (and validation) rows as it would be alone.
    /// </summary>
    /// <exception cref="ArgumentException">Fewer than two parts, or a null.</exception>
    /// <example><code>
    /// var both = Featurizer.Combine("E_cD + s(W)", Featurizer.Embedding("E_cD", layout, options), Featurizer.Statistics(layout));
    /// </code></example>
    public static Featurizer Combine(string name, params Featurizer[] parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        if (parts.Length < 2 || parts.Any(p => p is null)) throw new ArgumentException($"The combination '{name}' needs at least two featurizers and no null.", nameof(parts));
        return new(name, c =>
        {
            var fitted = new List<ITransformer>();
            var columns = new string[parts.Length];
            var schema = c.Train;
            try
            {
                for (int i = 0; i < parts.Length; i++)
                {
                    columns[i] = $"{c.Column}.{i}";
                    fitted.Add(parts[i].Fit(c with { Column = columns[i] }));   // each part sees the rows as it would alone
                    schema = fitted[^1].Transform(schema);                      // lazy: only the schema is needed to fit the concatenation
                }
                fitted.Add(c.Ml.Transforms.Concatenate(c.Column, columns).Fit(schema));
                return new TransformerChain<ITransformer>(fitted.ToArray());
            }
            catch
            {
                foreach (var f in fitted) (f as IDisposable)?.Dispose();
                throw;
            }
        });
    }

    /// <summary>The parts of a <see cref="Combine"/>d featurizer's fitted chain, for the leak check (their hyper-representations).</summary>
    internal static IEnumerable<ITransformer> Parts(ITransformer fitted) =>
        fitted is TransformerChain<ITransformer> chain ? chain.SelectMany(Parts) : new[] { fitted };
}

/// <summary>
/// A supervised weight-space predictor in a comparison: trained on each target of each split's training part (early stopping
/// on its validation part) and scored on the test part, next to the featurizer × probe cells (probe name "supervised").
/// </summary>
/// <example><code>
/// var comparison = new ProbeComparison(ml) { Supervised = new[] { SupervisedPredictor.WeightSpaceTransformer() } };
/// </code></example>
public sealed class SupervisedPredictor
{
    private SupervisedPredictor(string name, WeightSpacePredictorOptions? options, HyperRepresentation? pretrained) { Name = name; Options = options; Pretrained = pretrained; }

    /// <summary>The name in result tables.</summary>
    public string Name { get; }
    /// <summary>The predictor's options (null: the defaults).</summary>
    public WeightSpacePredictorOptions? Options { get; }
    /// <summary>A hyper-representation whose encoder is fine-tuned (null: a fresh encoder); the caller keeps it, and the comparison refuses it when it saw test rows.</summary>
    public HyperRepresentation? Pretrained { get; }
    /// <summary>Receives a report at each validation.</summary>
    public IProgress<TrainingReport>? Progress { get; init; }

    /// <summary>The library's <see cref="WeightSpacePredictor"/>, from scratch or fine-tuning <paramref name="pretrained"/>.</summary>
    public static SupervisedPredictor WeightSpaceTransformer(string name = "WST", WeightSpacePredictorOptions? options = null, HyperRepresentation? pretrained = null) =>
        new(name, options, pretrained);
}

/// <summary>
/// The probe protocol of METHOD §6 and the comparison across probes: split a zoo by model (70/15/15 by default, or k folds),
/// fit each featurizer on the training part, fit each probe on its features (λ and model selection on the validation part),
/// and score the test part: R² and Kendall's τ for numeric targets, accuracy for categorical ones. Results come as records,
/// a <see cref="DataFrame"/> and Markdown. AutoML is not used (not served here, and it cannot group folds by model).
/// </summary>
/// <example><code>
/// var comparison = new ProbeComparison(ml);
/// var results = comparison.Run(ml.Data.LoadZoo("zoos/tetris-seed"),
///     new[] { Featurizer.W(layout), Featurizer.Statistics(layout) },
///     new[] { "TestAccuracy", "Epoch", "GeneralizationGap" });
/// Console.WriteLine(ProbeComparison.ToMarkdown(results));
/// </code></example>
public sealed class ProbeComparison
{
    internal const string FeatureColumn = "Features";
    private const string Scaled = "ScaledFeatures", LabelKey = "LabelKey";
    private readonly MLContext _ml;

    /// <summary>Wall-clock seconds each featurizer took in the runs so far: fitting it (a hyper-representation trains here) and computing the features of every part.</summary>
    public Dictionary<string, double> FeaturizerSeconds { get; } = new();

    /// <summary>Runs one cursor over every column of a cached view, so its cache is filled now.</summary>
    private static void Materialise(IDataView view)
    {
        using var cursor = view.GetRowCursor(view.Schema);
        while (cursor.MoveNext()) { }
    }

    /// <summary>A comparison that trains its probes with <paramref name="ml"/>.</summary>
    public ProbeComparison(MLContext ml) => _ml = ml ?? throw new ArgumentNullException(nameof(ml));

    /// <summary>Probes to run (default: all four).</summary>
    public IReadOnlyList<ProbeKind> Probes { get; init; } = Enum.GetValues<ProbeKind>();
    /// <summary>
    /// When set, the linear classifier (categorical targets) chooses its L2 penalty from these values by validation accuracy,
    /// as the ridge probe chooses λ, with no L1 penalty. Default null: ML.NET's L-BFGS maximum entropy with its default
    /// penalties (L1 1, L2 1), fixed as R21's classifier recipe is fixed — on the 400-model hyperparameter zoo of
    /// docs/results.md choosing on 60 validation models did not help (1e-4 … 1e3 in decades: W / s(W) / E_cD init accuracy
    /// 0.292 / 0.756 / 0.383 against 0.267 / 0.761 / 0.500 with the defaults).
    /// </summary>
    public IReadOnlyList<double>? ClassifierL2Grid
    {
        get => _classifierL2Grid;
        init => _classifierL2Grid = value is null ? null : value.Count > 0 && value.All(v => double.IsFinite(v) && v >= 0) ? value.ToArray()
            : throw new ArgumentException("The classifier's L2 grid needs at least one finite, non-negative value.", nameof(ClassifierL2Grid));
    }
    private readonly IReadOnlyList<double>? _classifierL2Grid;
    /// <summary>Seed of the split by model.</summary>
    public int Seed { get; init; } = 1;
    /// <summary>Supervised predictors trained per target next to the featurizers' probes (default none).</summary>
    public IReadOnlyList<SupervisedPredictor> Supervised { get; init; } = Array.Empty<SupervisedPredictor>();
    /// <summary>Receives one line per step.</summary>
    public IProgress<string>? Progress { get; init; }
    /// <summary>Stops between steps.</summary>
    public CancellationToken Cancellation { get; init; }

    /// <summary>One split by model into train / validation / test (fractions of models); results on the test part.</summary>
    public IReadOnlyList<ProbeResult> Run(IDataView zoo, IEnumerable<Featurizer> featurizers, IEnumerable<string> targets, double trainFraction = 0.7, double validationFraction = 0.15)
    {
        var t = CheckTargets(zoo, targets);
        var (train, validation, test) = Parts(zoo, trainFraction, validationFraction);
        return RunSplit(train, validation, test, featurizers.ToList(), t, "");
    }

    /// <summary>
    /// The parts <see cref="Run"/> uses for these fractions (same seed, same models): train a hyper-representation on the
    /// training part yourself, then pass it with <see cref="Featurizer.Embedding(string, HyperRepresentation)"/>.
    /// </summary>
    public (IDataView Train, IDataView Validation, IDataView Test) Parts(IDataView zoo, double trainFraction = 0.7, double validationFraction = 0.15)
    {
        var split = ModelSplit.Create(ModelIds(zoo), Seed, trainFraction, validationFraction);
        // Without a test fraction (e.g. 85/15 for out-of-distribution probing) the test part is legitimately empty.
        bool testWanted = trainFraction + validationFraction < 1 - 1e-9;
        return (Part(zoo, split, SplitPart.Train), Part(zoo, split, SplitPart.Validation), Part(zoo, split, SplitPart.Test, required: testWanted));
    }

    /// <summary>The results as <c>results.json</c>: an array of {featurizer, probe, target, metric, value, kendall_tau} (τ null where undefined).</summary>
    public static string ToJson(IEnumerable<ProbeResult> results)
    {
        static System.Text.Json.Nodes.JsonNode? Number(double v) => double.IsFinite(v) ? System.Text.Json.Nodes.JsonValue.Create(Math.Round(v, 6)) : null;
        var array = new System.Text.Json.Nodes.JsonArray(results.Select(r => (System.Text.Json.Nodes.JsonNode)new System.Text.Json.Nodes.JsonObject
        {
            ["featurizer"] = r.Featurizer, ["probe"] = r.Probe, ["target"] = r.Target, ["metric"] = r.Metric,
            ["value"] = Number(r.Value), ["kendall_tau"] = Number(r.KendallTau),
        }).ToArray());
        return array.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>
    /// k-fold cross-validation grouped by model: fold f is the test part, fold f+1 the validation part, the rest trains.
    /// Values are means over folds with their standard deviation.
    /// </summary>
    public IReadOnlyList<ProbeResult> RunCrossValidated(IDataView zoo, IEnumerable<Featurizer> featurizers, IEnumerable<string> targets, int folds = 5)
    {
        if (folds < 3) throw new ArgumentOutOfRangeException(nameof(folds), folds, "Cross-validation with a validation fold needs at least 3 folds.");
        var ids = ModelIds(zoo).Distinct().Order().ToArray();
        if (ids.Length < folds) throw new ArgumentException($"{ids.Length} models cannot be split into {folds} folds.");
        Rng.For(Seed, 0xC5F0).Shuffle(ids);
        var fold = ids.Select((id, i) => (id, f: i % folds)).ToDictionary(p => p.id, p => p.f);
        var list = featurizers.ToList();
        var t = CheckTargets(zoo, targets);
        var all = new List<ProbeResult>();
        for (int f = 0; f < folds; f++)
        {
            Cancellation.ThrowIfCancellationRequested();
            int v = (f + 1) % folds;
            IDataView Where(Func<int, bool> keep) => _ml.Data.Cache(ModelRowFilter.Create(zoo, ids.Where(id => keep(fold[id]))));
            all.AddRange(RunSplit(Where(g => g != f && g != v), Where(g => g == v), Where(g => g == f), list, t, $"fold {f + 1}/{folds}: "));
        }
        return all.GroupBy(r => (r.Featurizer, r.Probe, r.Target, r.Metric)).Select(g =>
        {
            var values = g.Select(r => r.Value).ToArray();
            double mean = values.Average();
            double std = Math.Sqrt(values.Sum(x => (x - mean) * (x - mean)) / Math.Max(1, values.Length - 1));
            return new ProbeResult(g.Key.Featurizer, g.Key.Probe, g.Key.Target, g.Key.Metric, mean, g.Average(r => r.KendallTau), std) { Seconds = g.Sum(r => r.Seconds) };
        }).ToList();
    }

    /// <summary>
    /// Out of distribution (METHOD §6): featurizers and probes are fitted on zoo A (85 % of its models train, 15 % validate) and
    /// scored on every row of zoo B; report Kendall's τ (and R²).
    /// </summary>
    /// <exception cref="ArgumentException">The zoos hold different layouts.</exception>
    public IReadOnlyList<ProbeResult> RunOutOfDistribution(IDataView zooA, IDataView zooB, IEnumerable<Featurizer> featurizers, IEnumerable<string> targets,
        string nameA = "zoo A", string nameB = "zoo B")
    {
        var layoutA = WeightLayoutAnnotation.Get(zooA.Schema[ZooColumns.Weights]);
        var layoutB = WeightLayoutAnnotation.Get(zooB.Schema[ZooColumns.Weights]);
        if (layoutA is null || layoutB is null || !layoutA.Equals(layoutB))
            throw new ArgumentException($"Out-of-distribution probing needs one architecture: {nameA} holds {layoutA?.ToString() ?? "no layout"}, {nameB} holds {layoutB?.ToString() ?? "no layout"}.");
        var t = CheckTargets(zooA, targets);
        CheckTargets(zooB, t);
        var (train, validation, _) = Parts(zooA, 0.85, 0.15);
        return RunSplit(train, validation, _ml.Data.Cache(zooB), featurizers.ToList(), t, $"{nameA} → {nameB}: ");
    }

    private IReadOnlyList<ProbeResult> RunSplit(IDataView train, IDataView validation, IDataView test, List<Featurizer> featurizers, List<string> targets, string prefix)
    {
        var results = new List<ProbeResult>();
        int step = 0, steps = featurizers.Sum(f => (f.Probes ?? Probes).Count) * targets.Count;
        foreach (var featurizer in featurizers)
        {
            Cancellation.ThrowIfCancellationRequested();
            Progress?.Report($"{prefix}fitting featurizer {featurizer.Name} ...");
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var numeric = targets.Where(t => train.Schema[t].Type == NumberDataViewType.Single).ToList();
            var f = featurizer.Fit(new Featurizer.FitContext(_ml, train, validation, FeatureColumn, numeric));
            foreach (var embedding in Featurizer.Parts(f).OfType<WeightEmbeddingTransformer>())
                CheckNoTestRowWasTrainedOn(featurizer.Name, embedding.Representation, train, validation, test, prefix);
            var (ft, fv, fs) = (_ml.Data.Cache(f.Transform(train)), _ml.Data.Cache(f.Transform(validation)), _ml.Data.Cache(f.Transform(test)));
            foreach (var view in new[] { ft, fv, fs }) Materialise(view); // the features of every part, computed once, here: timed apart from the probes
            FeaturizerSeconds[featurizer.Name] = FeaturizerSeconds.GetValueOrDefault(featurizer.Name) + clock.Elapsed.TotalSeconds;
            Progress?.Report($"{prefix}featurizer {featurizer.Name}: {clock.Elapsed.TotalSeconds:F1} s (fit and features of every part)");
            foreach (var target in targets)
            {
                bool categorical = train.Schema[target].Type is TextDataViewType;
                foreach (var probe in featurizer.Probes ?? Probes)
                {
                    Cancellation.ThrowIfCancellationRequested();
                    step++;
                    clock.Restart();
                    var result = categorical ? Classify(ft, fv, fs, featurizer.Name, probe, target) : Regress(ft, fv, fs, featurizer.Name, probe, target);
                    result = result with { Seconds = clock.Elapsed.TotalSeconds };
                    results.Add(result);
                    Progress?.Report($"{prefix}[{step}/{steps}] {featurizer.Name} × {ProbeName(probe)} × {target}: {result.Metric} {result.Value:F3}" +
                                     (double.IsNaN(result.KendallTau) ? "" : $", τ {result.KendallTau:F3}") + $" ({result.Seconds:F1} s)");
                }
            }
            (f as IDisposable)?.Dispose();
        }
        // The parts in memory once, with every numeric target, for every supervised predictor and target.
        (WeightLayout, RepresentationData, RepresentationData, RepresentationData)? parts = Supervised.Count == 0 ? null : SupervisedParts(train, validation, test, targets);
        foreach (var supervised in Supervised)
            foreach (var target in targets)
            {
                Cancellation.ThrowIfCancellationRequested();
                if (supervised.Pretrained is { } pretrained) CheckNoTestRowWasTrainedOn(supervised.Name, pretrained, train, validation, test, prefix);
                Progress?.Report($"{prefix}training {supervised.Name} on {target} ...");
                var clock = System.Diagnostics.Stopwatch.StartNew();
                var result = RunSupervised(supervised, parts!.Value, train, validation, test, target);
                result = result with { Seconds = clock.Elapsed.TotalSeconds };
                results.Add(result);
                Progress?.Report($"{prefix}{supervised.Name} × {target}: {result.Metric} {result.Value:F3}" +
                                 (double.IsNaN(result.KendallTau) ? "" : $", τ {result.KendallTau:F3}") + $" ({result.Seconds:F1} s)");
            }
        return results;
    }

    /// <summary>The split's parts as arrays (weights and every numeric target), read once for all supervised predictors.</summary>
    private static (WeightLayout Layout, RepresentationData Train, RepresentationData Validation, RepresentationData Test) SupervisedParts(
        IDataView train, IDataView validation, IDataView test, List<string> targets)
    {
        var layout = WeightLayoutAnnotation.Get(train.Schema[ZooColumns.Weights])
            ?? throw new ArgumentException($"Supervised predictors need the layout of the '{ZooColumns.Weights}' column (load the zoo with LoadZoo).");
        var numeric = targets.Where(t => train.Schema[t].Type == NumberDataViewType.Single).ToList();
        return (layout, RepresentationData.FromDataView(train, layout, numeric), RepresentationData.FromDataView(validation, layout, numeric),
            RepresentationData.FromDataView(test, layout, numeric));
    }

    /// <summary>Trains a supervised predictor on one target of the training part (stopping early on the validation part) and scores the test part.</summary>
    private static ProbeResult RunSupervised(SupervisedPredictor supervised, (WeightLayout Layout, RepresentationData Train, RepresentationData Validation, RepresentationData Test) parts,
        IDataView train, IDataView validation, IDataView test, string target)
    {
        var layout = parts.Layout;
        const string probe = "supervised";
        if (train.Schema[target].Type is TextDataViewType)
        {
            string[] Categories(IDataView v) => v.GetColumn<ReadOnlyMemory<char>>(target).Select(c => c.ToString()).ToArray();
            var (tc, vc, sc) = (Categories(train), Categories(validation), Categories(test));
            var classes = tc.Distinct().Order(StringComparer.Ordinal).ToArray();
            var index = classes.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i);
            var (tw, vw, sw) = (parts.Train, parts.Validation, parts.Test);
            // validation rows of a category the training part lacks cannot be predicted right; they are left out of early stopping
            var vKeep = Enumerable.Range(0, vw.Rows).Where(r => index.ContainsKey(vc[r])).ToArray();
            int p = layout.ParameterCount;
            var vx = new float[vKeep.Length * p];
            for (int i = 0; i < vKeep.Length; i++) vw.Weights.AsSpan(vKeep[i] * p, p).CopyTo(vx.AsSpan(i * p, p));
            using var classifier = WeightSpacePredictor.TrainClassifier(layout, tw.Weights, tw.Rows, tc.Select(c => index[c]).ToArray(), classes,
                vx, vKeep.Length, vKeep.Select(r => index[vc[r]]).ToArray(), target, supervised.Options, supervised.Pretrained, supervised.Progress);
            var probabilities = classifier.Predict(sw.Weights, sw.Rows);
            int right = Enumerable.Range(0, sw.Rows).Count(r => classes[WeightSpacePredictor.ArgMax(probabilities.AsSpan(r * classes.Length, classes.Length))] == sc[r]);
            return new ProbeResult(supervised.Name, probe, target, "Accuracy", (double)right / Math.Max(1, sw.Rows), double.NaN);
        }
        using var predictor = WeightSpacePredictor.TrainRegression(layout, parts.Train, parts.Validation, target, supervised.Options, supervised.Pretrained, supervised.Progress);
        var testData = parts.Test;
        var truth = testData.Labels[target].Select(v => (double)v).ToArray();
        var predicted = predictor.Predict(testData.Weights, testData.Rows).Select(v => (double)v).ToArray();
        return new ProbeResult(supervised.Name, probe, target, "R2", ProbeMetrics.RSquared(truth, predicted), ProbeMetrics.KendallTau(truth, predicted))
        {
            Truth = truth, Predicted = predicted,
        };
    }

    /// <summary>Refuses a hyper-representation that was trained or validated on test rows of this split (see <see cref="LeakedTestRows(IDataView, HyperRepresentation, double, double)"/>).</summary>
    private void CheckNoTestRowWasTrainedOn(string name, HyperRepresentation representation, IDataView train, IDataView validation, IDataView test, string prefix)
    {
        int leaked = LeakedTestRows(representation, train, validation, test, out int testRows);
        if (leaked < 0)
            Progress?.Report($"{prefix}note: {name}'s hyper-representation has no record of its training rows (saved by an older version); whether test models were among them cannot be checked.");
        else if (leaked > 0)
            throw new ArgumentException($"Featurizer '{name}': {leaked} of the {testRows} test rows were among the rows its hyper-representation was trained or " +
                "validated on (it was trained on another split, on all of the zoo, or is reused across cross-validation folds), so its probe results would be " +
                "optimistic. Train it on this comparison's training part (ProbeComparison.Parts) or let the comparison train it (Featurizer.Embedding(name, layout, options)).");
    }

    /// <summary>
    /// How many test rows of <see cref="Run"/>'s split (these fractions, this <see cref="Seed"/>) <paramref name="representation"/>
    /// was trained or validated on — optimistic probe results; <see cref="Run"/> refuses such a representation. A test row
    /// counts only when its weights are nowhere in the split's training and validation parts, so zoos whose models share
    /// identical rows (one initialisation under different hyperparameters) are not refused for that. −1: the representation
    /// has no record of its training rows (<see cref="HyperRepresentation.RecordsTrainingRows"/>).
    /// </summary>
    public int LeakedTestRows(IDataView zoo, HyperRepresentation representation, double trainFraction = 0.7, double validationFraction = 0.15)
    {
        ArgumentNullException.ThrowIfNull(representation);
        if (zoo.Schema.GetColumnOrNull(ZooColumns.Weights) is { } column && WeightLayoutAnnotation.Get(column) is { } layout && !layout.Equals(representation.Layout))
            throw new ArgumentException($"The zoo holds {layout}, but the hyper-representation encodes {representation.Layout}.");
        var (train, validation, test) = Parts(zoo, trainFraction, validationFraction);
        return LeakedTestRows(representation, train, validation, test, out _);
    }

    private static int LeakedTestRows(HyperRepresentation representation, IDataView train, IDataView validation, IDataView test, out int testRowCount)
    {
        testRowCount = 0;
        if (!representation.RecordsTrainingRows) return -1;
        var testRows = test.GetColumn<float[]>(ZooColumns.Weights).Select(r => RowFingerprints.Of(r)).ToArray();
        testRowCount = testRows.Length;
        var seen = testRows.Where(representation.WasTrainingRow).ToList();
        if (seen.Count == 0) return 0;
        var thisSplit = train.GetColumn<float[]>(ZooColumns.Weights).Concat(validation.GetColumn<float[]>(ZooColumns.Weights))
            .Select(r => RowFingerprints.Of(r)).ToHashSet();
        return seen.Count(f => !thisSplit.Contains(f));
    }

    private ProbeResult Regress(IDataView train, IDataView validation, IDataView test, string featurizer, ProbeKind probe, string target)
    {
        IEstimator<ITransformer> estimator = probe switch
        {
            ProbeKind.Linear => _ml.Regression.Trainers.WeightSpaceRidge(target, FeatureColumn, new RidgeProbeOptions { ValidationSet = validation }),
            ProbeKind.Sdca => _ml.Transforms.NormalizeMeanVariance(Scaled, FeatureColumn).Append(_ml.Regression.Trainers.Sdca(target, Scaled, maximumNumberOfIterations: 50)),
            ProbeKind.FastTree => _ml.Regression.Trainers.FastTree(target, FeatureColumn, numberOfLeaves: 16, numberOfTrees: 200),
            _ => _ml.Regression.Trainers.LightGbm(target, FeatureColumn, numberOfLeaves: 16, numberOfIterations: 200),
        };
        var scored = estimator.Fit(train).Transform(test);
        var truth = scored.GetColumn<float>(target).Select(v => (double)v).ToArray();
        var predicted = scored.GetColumn<float>("Score").Select(v => (double)v).ToArray();
        return new ProbeResult(featurizer, ProbeName(probe), target, "R2", ProbeMetrics.RSquared(truth, predicted), ProbeMetrics.KendallTau(truth, predicted))
        {
            Truth = truth, Predicted = predicted,
        };
    }

    private ProbeResult Classify(IDataView train, IDataView validation, IDataView test, string featurizer, ProbeKind probe, string target)
    {
        var key = _ml.Transforms.Conversion.MapValueToKey(LabelKey, target).Fit(train);
        var keyedTrain = key.Transform(train);
        ITransformer model = probe switch
        {
            ProbeKind.Linear => LinearClassifier(keyedTrain, key.Transform(validation)),
            ProbeKind.Sdca => _ml.Transforms.NormalizeMeanVariance(Scaled, FeatureColumn).Append(_ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(LabelKey, Scaled, maximumNumberOfIterations: 50)).Fit(keyedTrain),
            ProbeKind.FastTree => _ml.MulticlassClassification.Trainers.OneVersusAll(_ml.BinaryClassification.Trainers.FastTree(LabelKey, FeatureColumn, numberOfLeaves: 16, numberOfTrees: 100), LabelKey).Fit(keyedTrain),
            _ => _ml.MulticlassClassification.Trainers.LightGbm(LabelKey, FeatureColumn, numberOfLeaves: 16, numberOfIterations: 200).Fit(keyedTrain),
        };
        var metrics = _ml.MulticlassClassification.Evaluate(model.Transform(key.Transform(test)), LabelKey);
        return new ProbeResult(featurizer, ProbeName(probe), target, "Accuracy", metrics.MicroAccuracy, double.NaN);
    }

    /// <summary>
    /// The linear classifier of the protocol: features standardised on the training rows, then L-BFGS maximum entropy, with
    /// ML.NET's default penalties or (when <see cref="ClassifierL2Grid"/> is set) an L2 penalty chosen on the validation rows
    /// (ties go to the stronger penalty).
    /// </summary>
    private ITransformer LinearClassifier(IDataView train, IDataView validation)
    {
        var scale = _ml.Transforms.NormalizeMeanVariance(Scaled, FeatureColumn).Fit(train);
        var scaledTrain = _ml.Data.Cache(scale.Transform(train));
        if (ClassifierL2Grid is not { } grid) return scale.Append(_ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(LabelKey, Scaled).Fit(scaledTrain));
        var scaledValidation = scale.Transform(validation);
        ITransformer? best = null;
        double bestAccuracy = double.NegativeInfinity;
        foreach (double l2 in grid.OrderByDescending(v => v))
        {
            var model = _ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(new Microsoft.ML.Trainers.LbfgsMaximumEntropyMulticlassTrainer.Options
            {
                LabelColumnName = LabelKey, FeatureColumnName = Scaled, L1Regularization = 0, L2Regularization = (float)l2,
            }).Fit(scaledTrain);
            double accuracy = grid.Count == 1 ? 0 : _ml.MulticlassClassification.Evaluate(model.Transform(scaledValidation), LabelKey).MicroAccuracy;
            if (best is null || accuracy > bestAccuracy) (best, bestAccuracy) = (model, accuracy);
        }
        return scale.Append(best!);
    }

    /// <summary>The probe's name in tables.</summary>
    public static string ProbeName(ProbeKind probe) => probe switch
    {
        ProbeKind.Linear => "linear", ProbeKind.Sdca => "SDCA", ProbeKind.FastTree => "FastTree", _ => "LightGbm",
    };

    private IDataView Part(IDataView zoo, ModelSplit split, SplitPart part, bool required = true)
    {
        var models = split.Models(part);
        if (models.Count == 0 && required) throw new ArgumentException($"The {part.ToString().ToLowerInvariant()} part of the split is empty: the zoo has too few models for these fractions.");
        return _ml.Data.Cache(ModelRowFilter.Create(zoo, models));
    }

    private static IEnumerable<int> ModelIds(IDataView zoo)
    {
        if (zoo.Schema.GetColumnOrNull(ZooColumns.ModelId) is not { } c || c.Type != NumberDataViewType.Int32)
            throw new ArgumentException($"The probe protocol splits by model: the data needs an Int32 '{ZooColumns.ModelId}' column.");
        return zoo.GetColumn<int>(ZooColumns.ModelId).ToArray();
    }

    private static List<string> CheckTargets(IDataView zoo, IEnumerable<string> targets)
    {
        var list = targets.ToList();
        if (list.Count == 0) throw new ArgumentException("Name at least one target column.");
        foreach (var t in list)
        {
            var c = zoo.Schema.GetColumnOrNull(t)
                ?? throw new ArgumentException($"Target column '{t}' not found; the zoo has: {string.Join(", ", zoo.Schema.Select(x => x.Name))}.");
            if (c.Type != NumberDataViewType.Single && c.Type is not TextDataViewType)
                throw new ArgumentException($"Target column '{t}' is {c.Type}; targets are Single (regression) or Text (classification).");
            if (c.Type == NumberDataViewType.Single)
            {
                CheckFinite(zoo, t);
                var values = zoo.GetColumn<float>(t).Distinct().Take(2).Count();
                if (values < 2) throw new ArgumentException($"Target column '{t}' is constant (or empty): there is nothing to predict.");
            }
            else if (zoo.GetColumn<ReadOnlyMemory<char>>(t).Select(v => v.ToString()).Distinct().Take(2).Count() < 2)
                throw new ArgumentException($"Target column '{t}' has a single category: there is nothing to predict.");
        }
        return list;
    }

    /// <summary>A NaN or infinite label is named with its row (model id and epoch where the zoo has them) before anything is fitted.</summary>
    private static void CheckFinite(IDataView zoo, string target)
    {
        var values = zoo.GetColumn<float>(target).ToArray();
        int bad = Array.FindIndex(values, v => !float.IsFinite(v));
        if (bad < 0) return;
        int count = values.Count(v => !float.IsFinite(v));
        string where = $"row {bad}";
        if (zoo.Schema.GetColumnOrNull(ZooColumns.ModelId) is { Type: var idType } && idType == NumberDataViewType.Int32
            && zoo.Schema.GetColumnOrNull(ZooColumns.Epoch) is { Type: var epochType } && epochType == NumberDataViewType.Single)
            where += $" (model {zoo.GetColumn<int>(ZooColumns.ModelId).ElementAt(bad)}, epoch {zoo.GetColumn<float>(ZooColumns.Epoch).ElementAt(bad)})";
        throw new ArgumentException($"Target column '{target}' holds {values[bad]} at {where}, {count} non-finite value(s) in all; " +
            "probes and metrics need finite labels: fix those rows, or leave them out of the zoo (e.g. ml.Data.FilterRowsByMissingValues).");
    }

    /// <summary>The results as a data frame (featurizer, probe, target, metric, value, value_std, kendall_tau, rank within the target).</summary>
    public static DataFrame ToDataFrame(IEnumerable<ProbeResult> results)
    {
        var list = results.ToList();
        var rank = list.GroupBy(r => r.Target).SelectMany(g => g.OrderByDescending(r => r.Value).Select((r, i) => (r, i + 1))).ToDictionary(p => p.r, p => p.Item2);
        return new DataFrame(
            new StringDataFrameColumn("featurizer", list.Select(r => r.Featurizer)),
            new StringDataFrameColumn("probe", list.Select(r => r.Probe)),
            new StringDataFrameColumn("target", list.Select(r => r.Target)),
            new StringDataFrameColumn("metric", list.Select(r => r.Metric)),
            new DoubleDataFrameColumn("value", list.Select(r => r.Value)),
            new DoubleDataFrameColumn("value_std", list.Select(r => r.ValueStd)),
            new DoubleDataFrameColumn("kendall_tau", list.Select(r => r.KendallTau)),
            new Int32DataFrameColumn("rank", list.Select(r => rank[r])));
    }

    /// <summary>A Markdown table: one row per target, one column per featurizer × probe (value; ± std for cross-validation).</summary>
    public static string ToMarkdown(IEnumerable<ProbeResult> results, int decimals = 3)
    {
        var list = results.ToList();
        var columns = list.Select(r => (r.Featurizer, r.Probe)).Distinct().ToList();
        var sb = new System.Text.StringBuilder();
        sb.AppendLine("| target | " + string.Join(" | ", columns.Select(c => $"{c.Featurizer} {c.Probe}")) + " |");
        sb.AppendLine("|---|" + string.Concat(columns.Select(_ => "---:|")));
        foreach (var target in list.Select(r => r.Target).Distinct())
        {
            var row = columns.Select(c =>
            {
                var r = list.FirstOrDefault(x => x.Target == target && x.Featurizer == c.Featurizer && x.Probe == c.Probe);
                if (r is null) return "";
                string v = r.Value.ToString("F" + decimals, CultureInfo.InvariantCulture);
                double best = list.Where(x => x.Target == target).Max(x => x.Value);
                if (r.ValueStd > 0) v += " ± " + r.ValueStd.ToString("F" + decimals, CultureInfo.InvariantCulture);
                return r.Value == best ? $"**{v}**" : v;
            });
            string metric = list.First(x => x.Target == target).Metric == "R2" ? "R²" : "acc.";
            sb.AppendLine($"| {target} ({metric}) | " + string.Join(" | ", row) + " |");
        }
        return sb.ToString();
    }
}
