// PaperTables: the poster's tables on our zoos, one command each; every table is printed as Markdown and written to --out.
//   architecture --zoo DIR            Tetris-Seed: FC AE, weight tokens ± compression token, neuron tokens ± compression token
//   augmentation --zoo DIR            Tetris-Seed: augmentations (−, P, E, N and combinations) × tasks (E_c, ED, E_cD, E_c+D)
//   hyp --zoo DIR                     a hyperparameter zoo: W / s(W) / E_cD × epoch, accuracy, gap and the hyperparameters
//   ood --zoo A --zoo B [--zoo C ...]  Kendall's τ of probes fitted on one zoo and applied to the others
// Options: --budget SECONDS per hyper-representation (default 180) or --epochs N (a fixed length: reproducible run to run,
//          unlike a time budget, whose epochs depend on the machine's speed), --out DIR (default ./paper-tables), --probes linear[,LightGbm,...],
//          --norm None|PerLayer|PerParameter, --lr RATE and --batch N (default: the library's CPU default for the zoo's layout,
//          WeightEmbeddingOptions.CpuDefaultFor: per-layer normalisation for CNNs, none for MLPs; a batch that follows the rows),
//          --views K: embed every model as the mean of K views (the weights and K − 1 neuron permutations; default 1 = R21;
//          with --load it sets how the loaded representations embed),
//          --token-stats on|off: each neuron token's statistics as extra encoder inputs (default: on, as CpuDefaultFor)
// --classifier-l2 LIST (e.g. 1e-4,1e-3,...,1e3): the linear classifier of categorical targets picks its L2 penalty from LIST on
//          the validation models (default: ML.NET's fixed defaults; ProbeComparison.ClassifierL2Grid)
// hyp only: --save FILE keeps the trained hyper-representation, --load FILE probes a saved one instead of training (it must
//          have been trained on this zoo's training models, split as PaperTables splits: ModelSplit seed 1, 70/15/15);
//          --load FILE,FILE,... probes several as one ensemble, E_cD ×K: their embeddings side by side (e.g. K seeds);
//          --ensemble K trains K representations with seeds S, S + 1, ... (--seed S, default 1) and probes them as E_cD ×K
using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using WeightSpace.MLNet;

const string Usage = "usage: PaperTables architecture|augmentation|hyp|ood --zoo DIR [--zoo DIR ...] [--budget SECONDS | --epochs N] [--out DIR] [--probes linear,LightGbm] [--norm None|PerLayer|PerParameter] [--lr RATE] [--batch N] [--views K] [--seed N] [--candidates K] [--token-stats on|off] [--classifier-l2 LIST] [hyp: --save FILE | --load FILE[,FILE...] | --ensemble K]";
if (args.Length == 0 || args[0] is not ("architecture" or "augmentation" or "hyp" or "ood"))
{
    Console.Error.WriteLine(Usage);
    return 2;
}
var zoos = new List<string>();
int budget = 180, epochs = 0;
string outDir = "paper-tables";
var probes = new List<ProbeKind> { ProbeKind.Linear };
var cpu = WeightEmbeddingOptions.CpuDefault;
bool normGiven = false, tokenStatsGiven = false;
string? saveTo = null, loadFrom = null;
int? viewsGiven = null; // --views: with --load, how the loaded representations embed
int ensemble = 1;
double[]? classifierGrid = null;
var trainingOptions = new List<string>(); // what a loaded representation cannot honour
for (int i = 1; i < args.Length; i += 2)
{
    string? v = i + 1 < args.Length ? args[i + 1] : null;
    if (args[i] is "--budget" or "--epochs" or "--norm" or "--lr" or "--batch" or "--seed" or "--candidates" or "--token-stats" or "--ensemble") trainingOptions.Add(args[i]);
    switch (args[i])
    {
        case "--zoo" when v is not null: zoos.Add(v); break;
        case "--budget" when int.TryParse(v, out var b) && b > 0: budget = b; break;
        case "--epochs" when int.TryParse(v, out var e) && e > 0: epochs = e; break;
        case "--out" when v is not null: outDir = v; break;
        case "--probes" when v is not null:
            probes = new List<ProbeKind>();
            foreach (var name in v.Split(',', StringSplitOptions.TrimEntries))
            {
                if (!Enum.TryParse<ProbeKind>(name, ignoreCase: true, out var kind) || !Enum.IsDefined(kind) || int.TryParse(name, out _))
                {
                    Console.Error.WriteLine($"PaperTables: --probes: '{name}' is not a probe; the probes are {string.Join(", ", Enum.GetNames<ProbeKind>().Select(n => n.ToLowerInvariant()))}.");
                    return 2;
                }
                probes.Add(kind);
            }
            break;
        case "--norm" when Enum.TryParse<WeightNormalization>(v, ignoreCase: true, out var norm) && Enum.IsDefined(norm): cpu = cpu with { Normalization = norm }; normGiven = true; break;
        case "--lr" when double.TryParse(v, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var lr) && lr > 0 && double.IsFinite(lr):
            cpu = cpu with { LearningRate = lr }; break;
        case "--views" when int.TryParse(v, out var views) && views >= 1: cpu = cpu with { EmbeddingViews = views }; viewsGiven = views; break;
        case "--batch" when int.TryParse(v, out var batch) && batch >= 2: cpu = cpu with { BatchSize = batch }; break;
        case "--seed" when int.TryParse(v, out var seed): cpu = cpu with { Seed = seed }; break;
        case "--candidates" when int.TryParse(v, out var k) && k >= 1: cpu = cpu with { Candidates = k }; break;
        case "--token-stats" when v is "on" or "off": cpu = cpu with { TokenStatistics = v == "on" }; tokenStatsGiven = true; break;
        case "--classifier-l2" when v is not null && TryParseList(v, out var grid): classifierGrid = grid; break;
        case "--save" when v is not null && args[0] == "hyp": saveTo = v; break;
        case "--load" when v is not null && args[0] == "hyp": loadFrom = v; break;
        case "--ensemble" when int.TryParse(v, out var members) && members >= 1 && args[0] == "hyp": ensemble = members; break;
        default: Console.Error.WriteLine($"PaperTables: bad option '{args[i]} {v}' (an unknown option, a missing value, or a value outside its range).\n{Usage}"); return 2;
    }
}
if (zoos.Count == 0 || (args[0] == "ood" && zoos.Count < 2)) { Console.Error.WriteLine("PaperTables: give --zoo DIR (ood: at least two)."); return 2; }
foreach (var dir in zoos) // a zoo whose train metrics mean something else than the labels say gets a note (e.g. a zoogen 0.1 hyperparameter zoo)
{
    try { if (ZooDataset.Open(dir).Manifest.TrainMetricsCaveat() is { } caveat) Console.Error.WriteLine($"PaperTables: note: {dir} was {caveat}."); }
    catch (Exception e) when (e is ZooFormatException or IOException) { Console.Error.WriteLine("PaperTables: " + e.Message); return 2; }
}
if (saveTo is not null && ensemble > 1) { Console.Error.WriteLine("PaperTables: --save keeps one representation; with --ensemble K train each member with --seed S --save FILE and probe them with --load A,B,C."); return 2; }
if (saveTo is not null && loadFrom is not null) { Console.Error.WriteLine("PaperTables: --save and --load exclude each other (a loaded representation is already saved)."); return 2; }
if (loadFrom is not null && trainingOptions.Count > 0)
{
    Console.Error.WriteLine($"PaperTables: training options ({string.Join(", ", trainingOptions)}) do not apply to --load: it probes the saved representation as it was trained (only --views may change how it embeds).");
    return 2;
}
if (saveTo is not null)
{
    // Checked before hours of training: the file is written only at the end.
    string? problem = File.Exists(saveTo) || Directory.Exists(saveTo) ? "the file exists; choose a new name (nothing is overwritten)"
        : Path.GetDirectoryName(Path.GetFullPath(saveTo)) is { } saveDir && !Directory.Exists(saveDir) ? $"no such folder {saveDir}" : null;
    if (problem is not null) { Console.Error.WriteLine($"PaperTables: --save {saveTo}: {problem}."); return 2; }
}
// Without --norm, the library's default for the zoos' layout (per-layer normalisation for CNNs, none for Tetris MLPs).
WeightLayout firstLayout;
try { firstLayout = ZooDataset.Open(zoos[0]).Layout; }
catch (Exception e) when (e is ZooFormatException or IOException) { Console.Error.WriteLine("PaperTables: " + e.Message); return 2; }
var layoutDefault = WeightEmbeddingOptions.CpuDefaultFor(firstLayout);
if (!normGiven) cpu = cpu with { Normalization = layoutDefault.Normalization };
if (!tokenStatsGiven) cpu = cpu with { TokenStatistics = layoutDefault.TokenStatistics };
// --load FILE[,FILE...]: one saved representation, or several probed as one ensemble (their embeddings side by side).
var loaded = new List<(string File, HyperRepresentation Representation)>();
foreach (var file in loadFrom?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? Array.Empty<string>())
{
    try { loaded.Add((file, HyperRepresentation.Load(file, embeddingViews: viewsGiven))); }
    catch (Exception e) when (e is InvalidDataException or IOException) { Console.Error.WriteLine("PaperTables: " + e.Message); return 2; }
    if (!loaded[^1].Representation.Layout.Equals(firstLayout))
    {
        Console.Error.WriteLine($"PaperTables: {file} was trained on {loaded[^1].Representation.Layout}, but {zoos[0]} holds {firstLayout}.");
        return 2;
    }
}
OwnedFolder folder;
try { folder = OwnedFolder.Claim(outDir, "PaperTables"); }
catch (IOException e) { Console.Error.WriteLine("PaperTables: " + e.Message); return 2; }
using var held = folder; // held until the program ends: a second run on this folder is refused, naming this one

var ml = new MLContext(seed: 1);
var clock = Stopwatch.StartNew();
var log = new ProgressLines(Console.Error, "  ");
var comparison = new ProbeComparison(ml) { Probes = probes, Progress = log, ClassifierL2Grid = classifierGrid };
cpu = epochs > 0 ? cpu with { TimeBudget = null, Epochs = epochs } : cpu with { TimeBudget = TimeSpan.FromSeconds(budget), Epochs = 1000 };
string length = epochs > 0 ? $"{epochs} epochs" : $"{budget} s";
string[] tetrisTargets = { ZooColumns.Epoch, ZooColumns.TestAccuracy, ZooColumns.GeneralizationGap };
string table;
try
{
    table = args[0] switch
    {
        "architecture" => Architecture(zoos[0]),
        "augmentation" => Augmentation(zoos[0]),
        "hyp" => Hyp(zoos[0]),
        _ => OutOfDistribution(zoos),
    };
}
catch (UsageException e) { Console.Error.WriteLine("PaperTables: " + e.Message); return 2; }
string command = "dotnet run -c Release --project examples/PaperTables -- " + string.Join(' ', args);
string text = $"{table}\nCommand: `{command}` ({clock.Elapsed.TotalMinutes:F1} min on this machine).\n";
folder.WriteText(args[0] + ".md", text);
Console.WriteLine(text);
return 0;

// Tetris-Seed architecture ablation (poster: FF, Att_W+t, Att_N, Att_N+t): reconstruction R² and linear-probe R² per target.
string Architecture(string zooDir)
{
    var zoo = ml.Data.LoadZoo(zooDir);
    var layout = LayoutOf(zoo);
    var variants = new (string Name, WeightEmbeddingOptions Options)[]
    {
        ("FC AE", cpu with { Kind = AutoencoderKind.FullyConnected }),
        ("Att_W", cpu with { Encoding = TokenEncoding.Weight, CompressionToken = false, LatentDim = 50 }),
        ("Att_W+t", cpu with { Encoding = TokenEncoding.Weight, LatentDim = 50 }),
        ("Att_N", cpu with { CompressionToken = false }),
        ("Att_N+t", cpu),
    };
    var rows = new List<string> { "| | Rec. | " + string.Join(" | ", tetrisTargets) + " |", "|---|---:|" + string.Concat(tetrisTargets.Select(_ => "---:|")) };
    foreach (var (name, options) in variants)
    {
        var (rep, results) = TrainAndProbe(zoo, layout, name, options, tetrisTargets);
        var (_, _, test) = comparison.Parts(zoo);
        var data = RepresentationData.FromDataView(test, layout, Array.Empty<string>());
        double rec = WeightSpace.MLNet.ProbeMetrics.ReconstructionR2(data.Weights, rep.Reconstruct(data.Weights, data.Rows), layout.ParameterCount);
        rows.Add($"| {name} | {100 * rec:F1} | " + string.Join(" | ", tetrisTargets.Select(t => $"{100 * results.Single(r => r.Target == t && r.Probe == "linear").Value:F1}")) + " |");
        rep.Dispose();
    }
    return $"# Tetris-Seed: architecture ablation (R² × 100 on test models; linear probes)\n\nZoo: {zooDir}. Each hyper-representation trained for {length} (CPU default otherwise).\n\n" + string.Join("\n", rows) + "\n";
}

// Tetris-Seed augmentation ablation (poster: mean over tasks of the probes' R²).
string Augmentation(string zooDir)
{
    var zoo = ml.Data.LoadZoo(zooDir);
    var layout = LayoutOf(zoo);
    var augmentations = new (string Name, bool P, bool E, bool N)[]
    {
        ("-", false, false, false), ("P", true, false, false), ("E", false, true, false), ("N", false, false, true),
        ("P,E", true, true, false), ("P,N", true, false, true), ("E,N", false, true, true), ("P,E,N", true, true, true),
    };
    var tasks = new (string Name, RepresentationTask Task)[]
    {
        ("E_c", RepresentationTask.Contrast), ("ED", RepresentationTask.Reconstruction),
        ("E_cD", RepresentationTask.ReconstructionAndContrast), ("E_c+D", RepresentationTask.ReconstructionAndPositiveContrast),
    };
    var rows = new List<string> { "| | " + string.Join(" | ", augmentations.Select(a => a.Name)) + " |", "|---|" + string.Concat(augmentations.Select(_ => "---:|")) };
    foreach (var (taskName, task) in tasks)
    {
        var cells = new List<string>();
        foreach (var (augName, p, e, n) in augmentations)
        {
            var aug = new AugmentationOptions
            {
                Permutation = p ? PermutationMode.Pool : PermutationMode.None, PermutationPoolSize = 120,
                EraseProbability = e ? 0.5 : 0, NoiseSigma = n ? 0.05 : 0,
            };
            var (rep, results) = TrainAndProbe(zoo, layout, $"{taskName} {augName}", cpu with { Task = task, Augmentation = aug }, tetrisTargets);
            rep.Dispose();
            cells.Add($"{100 * results.Where(r => r.Probe == "linear").Average(r => r.Value):F1}");
        }
        rows.Add($"| {taskName} | " + string.Join(" | ", cells) + " |");
    }
    return $"# Tetris-Seed: augmentation ablation (mean test R² × 100 over epoch, accuracy and gap; linear probes)\n\nZoo: {zooDir}. P = permutation (pool of 120), " +
           $"E = erasing (p 0.5), N = noise (σ 0.05, in the units the autoencoder sees: {(cpu.Normalization == WeightNormalization.None ? "raw weights" : cpu.Normalization + " normalised")}). Each hyper-representation trained for {length}.\n\n" + string.Join("\n", rows) + "\n";
}

// The hyperparameter-zoo table: W / s(W) / E_cD over every characteristic the zoo varies.
string Hyp(string zooDir)
{
    var zoo = ml.Data.LoadZoo(zooDir);
    var layout = LayoutOf(zoo);
    var candidates = new[] { ZooColumns.Epoch, ZooColumns.TestAccuracy, ZooColumns.GeneralizationGap, ZooColumns.Hyper.LearningRate, ZooColumns.Hyper.WeightDecay,
        ZooColumns.Hyper.Dropout, ZooColumns.Hyper.TrainFraction, ZooColumns.Hyper.Activation, ZooColumns.Hyper.Init, ZooColumns.Hyper.Optimizer };
    var targets = candidates.Where(t => Varies(zoo, t)).ToArray();
    foreach (var (file, representation) in loaded)
    {
        // Probing test models the representation was trained on would report optimistic numbers: refuse before any probe runs.
        int leaked = comparison.LeakedTestRows(zoo, representation);
        if (leaked > 0)
            throw new UsageException($"{file} was trained or validated on {leaked} rows of this zoo's test models (another split or zoo): train it with hyp --save on this zoo.");
    }
    var reps = loaded.Count > 0 ? loaded.Select(l => l.Representation).ToList() : new List<HyperRepresentation>();
    for (int member = 0; loaded.Count == 0 && member < ensemble; member++) reps.Add(Train(cpu.Seed + member));
    try
    {
        if (saveTo is not null) { reps[0].Save(saveTo); Console.Error.WriteLine($"  saved the hyper-representation to {saveTo}"); }
        string name = reps.Count == 1 ? "E_cD" : $"E_cD ×{reps.Count}";
        var results = comparison.Run(zoo, new[] { Featurizer.W(layout), Featurizer.Statistics(layout), Featurizer.Embedding(name, reps) }, targets);
        string Describe(HyperRepresentation rep)
        {
            var o = rep.Options;
            return $"normalisation {o.Normalization}, token statistics {(o.TokenStatistics ? "on" : "off")}, batch {(o.BatchSize > 0 ? o.BatchSize.ToString() : "auto")}, lr {o.LearningRate:G3}, seed {o.Seed}" +
                   $"{(o.Candidates > 1 ? $", the best of {o.Candidates} candidates by validation: seed {rep.History[^1].Seed}" : "")}, {o.EmbeddingViews} view(s) per embedding";
        }
        string trained = loaded.Count == 0 && reps.Count == 1 ? $"E_cD trained for {length} ({Describe(reps[0])})"
            : loaded.Count == 0 ? $"{name}: the embeddings of {reps.Count} representations side by side, each trained for {length} (" + string.Join("; ", reps.Select(Describe)) + ")"
            : loaded.Count == 1 ? $"E_cD loaded from {loaded[0].File} ({reps[0].History.Count} epochs; {Describe(reps[0])})"
            : $"{name}: the embeddings of {loaded.Count} representations side by side, " + string.Join("; ", loaded.Select(l => $"{l.File} ({l.Representation.History.Count} epochs; {Describe(l.Representation)})"));
        return $"# Hyperparameter zoo: W / s(W) / E_cD (test R² for numeric, accuracy for categorical targets)\n\nZoo: {zooDir} ({layout}); constant columns skipped. " +
               $"{trained}.\n\n" + ProbeComparison.ToMarkdown(results) + "\n";
    }
    finally { foreach (var rep in reps) rep.Dispose(); }

    HyperRepresentation Train(int seed)
    {
        var (train, validation, _) = comparison.Parts(zoo);
        var options = cpu with { Seed = seed, ValidationLabels = new[] { ZooColumns.TestAccuracy, ZooColumns.Epoch } };
        return HyperRepresentation.Train(layout, RepresentationData.FromDataView(train, layout, options.ValidationLabels),
            RepresentationData.FromDataView(validation, layout, options.ValidationLabels), options, new TrainingProgressBar(Console.Error));
    }
}

// Out of distribution: fit on one zoo, Kendall's τ on each other (and on its own test models, the diagonal).
string OutOfDistribution(List<string> dirs)
{
    var views = dirs.Select(d => ml.Data.LoadZoo(d)).ToList();
    var layout = LayoutOf(views[0]);
    var lines = new List<string> { "| fitted on ↓ / applied to → | " + string.Join(" | ", dirs.SelectMany(d => new[] { $"{Path.GetFileName(d)} W", "s(W)", "E_cD" })) + " |",
        "|---|" + string.Concat(dirs.SelectMany(_ => new[] { "---:|", "---:|", "---:|" })) };
    for (int a = 0; a < views.Count; a++)
    {
        // The representation trains on the 70 % training models of zoo A, so the diagonal's test models stay unseen.
        var (train, validation, _) = comparison.Parts(views[a]);
        var options = cpu with { ValidationLabels = new[] { ZooColumns.TestAccuracy } };
        using var rep = HyperRepresentation.Train(layout, RepresentationData.FromDataView(train, layout, options.ValidationLabels), RepresentationData.FromDataView(validation, layout, options.ValidationLabels), options);
        var featurizers = new[] { Featurizer.W(layout), Featurizer.Statistics(layout), Featurizer.Embedding("E_cD", rep) };
        var cells = new List<string>();
        for (int b = 0; b < views.Count; b++)
        {
            var results = a == b
                ? comparison.Run(views[a], featurizers, new[] { ZooColumns.TestAccuracy })
                : comparison.RunOutOfDistribution(views[a], views[b], featurizers, new[] { ZooColumns.TestAccuracy }, dirs[a], dirs[b]);
            cells.AddRange(new[] { "W", "s(W)", "E_cD" }.Select(f => results.Single(r => r.Featurizer == f && r.Probe == "linear").KendallTau.ToString("F2")));
        }
        lines.Add($"| {Path.GetFileName(dirs[a])} | " + string.Join(" | ", cells) + " |");
    }
    return $"# Out of distribution: Kendall's τ of test-accuracy predictions (linear probes)\n\nRows: the zoo representation and probe were fitted on; " +
           $"columns: the zoo they were applied to (the diagonal: its own test models). E_cD trained for {length} per zoo.\n\n" + string.Join("\n", lines) + "\n";
}

(HyperRepresentation, IReadOnlyList<ProbeResult>) TrainAndProbe(IDataView zoo, WeightLayout layout, string name, WeightEmbeddingOptions options, string[] targets)
{
    Console.Error.WriteLine($"{name}: training for {(epochs > 0 ? length : "up to " + length)} ...");
    var (train, validation, _) = comparison.Parts(zoo);
    var labels = new[] { ZooColumns.TestAccuracy, ZooColumns.Epoch };
    var rep = HyperRepresentation.Train(layout, RepresentationData.FromDataView(train, layout, labels), RepresentationData.FromDataView(validation, layout, labels),
        options with { ValidationLabels = labels });
    return (rep, comparison.Run(zoo, new[] { Featurizer.Embedding(name, rep) }, targets));
}

static bool TryParseList(string text, out double[] values)
{
    values = text.Split(',').Select(t => double.TryParse(t, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var x) ? x : double.NaN).ToArray();
    return values.All(x => double.IsFinite(x) && x >= 0);
}

static WeightLayout LayoutOf(IDataView zoo) => WeightLayoutAnnotation.Get(zoo.Schema[ZooColumns.Weights]) ?? throw new InvalidOperationException("The zoo's weight column has no layout.");

static bool Varies(IDataView zoo, string column) => zoo.Schema.GetColumnOrNull(column) is { } c &&
    (c.Type is TextDataViewType
        ? zoo.GetColumn<ReadOnlyMemory<char>>(column).Select(v => v.ToString()).Distinct().Take(2).Count() > 1
        : zoo.GetColumn<float>(column).Distinct().Take(2).Count() > 1);

/// <summary>A problem with what the command was given, found while it runs: one line, exit code 2.</summary>
sealed class UsageException(string message) : Exception(message);
