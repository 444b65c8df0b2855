// Quickstart: the whole method on an embedded default, no downloads.
//   1. generate a Tetris-Seed zoo whose generalisation gap is a real signal (the tetris-seed-gap preset: 2000 MLPs × 150
//      epochs, a checkpoint every 4th epoch; population training: seconds) or reuse it,
//   2. train the hyper-representation (E_cD; the library's default for the layout, 4 epochs) on the zoo's training models, or
//      reuse it; it embeds a model as the mean latent of 10 views (the weights and 9 neuron permutations of them, --views; 1 =
//      R21's protocol),
//   3. compare W and s(W) (linear and tree probes) and the embedding (the paper's linear probe) on held-out models (split
//      70/15/15 by model), next to the supervised predictor (WST) trained on each target,
//   4. print one table and write results.json, results.md and the plots into --out.
// Usage: dotnet run -c Release --project examples/Quickstart [-- --models N --epochs N --ae-epochs N --views N --out DIR]
//        ... -- --zoo DIR [--out DIR]   the same comparison on a zoo of your own (e.g. one made by zoogen import) instead of step 1
using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using WeightSpace.MLNet;
using WeightSpace.ZooGen.Generation;
using WeightSpace.ZooGen.Recipes;

// The zoo: the tetris-seed-gap preset, scaled with --models / --epochs, keeping its checkpoint spacing (every 4th epoch).
var recipe = Presets.Get("tetris-seed-gap");
int every = recipe.Checkpoints[1] - recipe.Checkpoints[0];
int models = recipe.Models, epochs = recipe.Epochs, aeEpochs = 4, views = 10, supervisedSteps = 1000;
string outDir = "quickstart-out";
string? ownZoo = null;
for (int i = 0; i < args.Length; i += 2)
{
    string? value = i + 1 < args.Length ? args[i + 1] : null;
    bool ok = args[i] switch
    {
        "--models" => int.TryParse(value, out models) && models >= 10,
        "--epochs" => int.TryParse(value, out epochs) && epochs >= 2 * every,
        "--ae-epochs" => int.TryParse(value, out aeEpochs) && aeEpochs >= 1,
        "--views" => int.TryParse(value, out views) && views >= 1,
        "--supervised-steps" => int.TryParse(value, out supervisedSteps) && supervisedSteps >= 0,
        "--out" => (outDir = value ?? "") != "",
        "--zoo" => (ownZoo = value ?? "") != "",
        _ => false,
    };
    if (!ok)
    {
        Console.Error.WriteLine($"Quickstart: bad option '{args[i]} {value}'. Options: --models N (≥ 10) --epochs N (≥ {2 * every}) --ae-epochs N (≥ 1) --views N (≥ 1) --supervised-steps N (0 = no supervised row) --out DIR --zoo DIR");
        return 2;
    }
}

// The output folder must be new, empty or one the Quickstart made before: it never deletes or overwrites files it did not write.
OwnedFolder folder;
try { folder = OwnedFolder.Claim(outDir, "Quickstart"); }
catch (IOException e) { Console.Error.WriteLine("Quickstart: " + e.Message); return 2; }
using var held = folder; // held until the program ends: a second run on this folder is refused, naming this one
var clock = Stopwatch.StartNew();

// 1. The zoo: the embedded default, reused when it is already there, or the user's own (--zoo).
string zooDir, zooName;
if (ownZoo is null)
{
    recipe.Models = models;
    recipe.Epochs = epochs;
    recipe.Checkpoints = Enumerable.Range(1, epochs / every).Select(k => every * k).ToList();
    zooDir = folder.PathOf($"zoo-gap-{models}x{epochs}");
    zooName = $"gap-{models}x{epochs}";
    Console.WriteLine($"1. Tetris-Seed zoo (tetris-seed-gap): {models} MLPs × {epochs} epochs, {recipe.Checkpoints.Count} checkpoints each, in {zooDir}");
    var bar = new ProgressBar(Console.Error);
    var generated = ZooGenerator.Generate(new GenerateOptions { Recipe = recipe, Output = zooDir, Resume = true, Progress = bar });
    bar.Finish();
    Console.WriteLine($"   {generated.ModelsTrained} models trained, {generated.ModelsSkipped} reused ({clock.Elapsed.TotalSeconds:F0} s)");
}
else
{
    ZooDataset own;
    try { own = ZooDataset.Open(zooDir = ownZoo); }
    catch (Exception e) when (e is IOException or InvalidDataException) { Console.Error.WriteLine("Quickstart: " + e.Message); return 2; }
    Console.WriteLine($"1. Your zoo {zooDir}: {own.ModelIds.Count:N0} models, {own.RowCount:N0} checkpoints, {own.Layout}");
    zooName = "zoo-" + own.Manifest.ZooId;
}

double zooSeconds = clock.Elapsed.TotalSeconds;
var ml = new MLContext(seed: 1);
var zoo = ml.Data.LoadZoo(zooDir);
var layout = WeightLayoutAnnotation.Get(zoo.Schema[ZooColumns.Weights])!;
string[] targets = { ZooColumns.Epoch, ZooColumns.TestAccuracy, ZooColumns.GeneralizationGap };
// The supervised predictor (WST: the encoder + a head over its embedding, trained on each target) adds its row.
var supervised = supervisedSteps == 0 ? Array.Empty<SupervisedPredictor>()
    : new[] { SupervisedPredictor.WeightSpaceTransformer("WST", new WeightSpacePredictorOptions { Steps = supervisedSteps }) };
var comparison = new ProbeComparison(ml)
{
    Probes = new[] { ProbeKind.Linear, ProbeKind.FastTree, ProbeKind.LightGbm }, Supervised = supervised,
    Progress = new ProgressLines(Console.Error, "   "),
};
var (train, validation, testView) = comparison.Parts(zoo);

// 2. The hyper-representation (E_cD: the library's default for the layout, with fewer epochs), trained on the training models,
//    or reused (the file name carries what changes the trained model, so an older configuration's file is not taken).
var options = WeightEmbeddingOptions.CpuDefaultFor(layout) with
{
    Epochs = aeEpochs, EmbeddingViews = views, ValidationLabels = new[] { ZooColumns.TestAccuracy, ZooColumns.Epoch },
};
string embeddingPath = folder.PathOf($"embedding-{zooName}-d{options.ModelDim}{(options.TokenStatistics ? "-ts" : "")}-{aeEpochs}-v{views}.wsemb");
HyperRepresentation? representation = null;
if (File.Exists(embeddingPath))
{
    representation = HyperRepresentation.Load(embeddingPath);
    // Reused only when it provably never saw a test model (the split could differ, e.g. after a change of the zoo).
    string? stale = comparison.LeakedTestRows(zoo, representation) switch
    {
        < 0 => "it has no record of its training rows (saved by an older version)",
        > 0 and var n => $"it was trained on {n} rows of this split's test models",
        _ => null,
    };
    if (stale is null) Console.WriteLine($"2. Hyper-representation reused from {embeddingPath} (delete it to train again)");
    else
    {
        Console.WriteLine($"2. Not reusing {embeddingPath}: {stale}; training again.");
        representation.Dispose();
        representation = null;
    }
}
bool trained = representation is null;
if (representation is null)
{
    Console.WriteLine($"2. Training the hyper-representation (E_cD, {options.Blocks} blocks, d = {options.ModelDim}, latent {options.LatentDim}{(options.TokenStatistics ? ", token statistics" : "")}) for {aeEpochs} epochs; {views} view(s) per embedding ...");
    string[] labels = options.ValidationLabels.ToArray();
    representation = HyperRepresentation.Train(layout, RepresentationData.FromDataView(train, layout, labels), RepresentationData.FromDataView(validation, layout, labels),
        options, new TrainingProgressBar(Console.Error));
    representation.Save(embeddingPath);
    Console.WriteLine($"   {representation.History.Count} epochs, saved to {embeddingPath} ({clock.Elapsed.TotalSeconds:F0} s)");
}

double representationSeconds = clock.Elapsed.TotalSeconds - zooSeconds;
// 3. The comparison on the held-out test models.
Console.WriteLine($"3. Probing W, s(W) and E_cD on the test models{(supervised.Length > 0 ? $", training WST on each target ({supervisedSteps} steps)" : "")} ...");
var comparisonClock = Stopwatch.StartNew();
// The embedding gets the paper's linear probe only: trees on its 512 values cost most of the probing time (docs/benchmarks.md).
var results = comparison.Run(zoo, new[] { Featurizer.W(layout), Featurizer.Statistics(layout), Featurizer.Embedding("E_cD", representation).WithProbes(ProbeKind.Linear) }, targets);

// 4. One table: the linear probes of the paper, and the best non-linear probe per target.
Console.WriteLine();
Console.WriteLine($"Test R² on held-out models (linear = closed-form ridge, λ on validation models):");
Console.WriteLine($"{"target",-18} {"W",8} {"s(W)",8} {"E_cD",8} {(supervised.Length > 0 ? $"{"WST",8} " : "")}  best non-linear probe");
foreach (var target in targets)
{
    double Linear(string f) => results.Single(r => r.Featurizer == f && r.Probe == "linear" && r.Target == target).Value;
    string wst = supervised.Length > 0 ? $"{results.Single(r => r.Probe == "supervised" && r.Target == target).Value,8:F3} " : "";
    var best = results.Where(r => r.Target == target && r.Probe is not ("linear" or "supervised")).MaxBy(r => r.Value)!;
    Console.WriteLine($"{target,-18} {Linear("W"),8:F3} {Linear("s(W)"),8:F3} {Linear("E_cD"),8:F3} {wst}  {best.Value:F3} ({best.Featurizer} + {best.Probe})");
}

// Where the time went (docs/benchmarks.md keeps a measured breakdown).
double comparisonSeconds = comparisonClock.Elapsed.TotalSeconds;
Console.WriteLine();
Console.WriteLine($"Time: zoo {zooSeconds:F0} s, hyper-representation {representationSeconds:F0} s ({(trained ? $"{representation.History.Count} epochs" : "reused")}), comparison {comparisonSeconds:F0} s —");
Console.WriteLine("      features: " + string.Join(", ", comparison.FeaturizerSeconds.Select(kv => $"{kv.Key} {kv.Value:F1} s")) +
                  (comparison.FeaturizerSeconds.ContainsKey("E_cD") ? $" ({views} view{(views == 1 ? "" : "s")} a row)" : "") + "; probes: " +
                  string.Join(", ", results.GroupBy(r => r.Probe).Select(g => $"{g.Key} {g.Sum(r => r.Seconds):F1} s")));

folder.WriteText("results.json", ProbeComparison.ToJson(results));
folder.WriteText("results.md",
    (ownZoo is null ? $"# Quickstart results\n\nTetris-Seed (tetris-seed-gap), {models} models × {epochs} epochs ({recipe.Checkpoints.Count} checkpoints each)"
                    : $"# Quickstart results\n\nThe zoo {ownZoo} ({layout})") + ", split 70/15/15 by model; test R² (bold: best per target).\n\n" +
    ProbeComparison.ToMarkdown(results) + "\n" +
    $"Command: `dotnet run -c Release --project examples/Quickstart -- {(ownZoo is null ? $"--models {models} --epochs {epochs}" : $"--zoo {ownZoo}")} --ae-epochs {aeEpochs} --views {views} --supervised-steps {supervisedSteps}`\n");
var accuracy = results.Where(r => r.Target == ZooColumns.TestAccuracy && r.Probe == "linear")
    .Select(r => (r.Featurizer, r.Truth!, r.Predicted!)).ToList();
ProbePlots.PredictedVsTrue(folder.PathOf("test-accuracy.png"), ZooColumns.TestAccuracy, accuracy);
var testData = RepresentationData.FromDataView(testView, layout, new[] { ZooColumns.Epoch, ZooColumns.TestAccuracy });
var embedding = representation.Embed(testData.Weights, testData.Rows);
ProbePlots.EmbeddingPca(folder.PathOf("embedding-epoch.png"), embedding, representation.LatentDim,
    testData.Labels[ZooColumns.Epoch].Select(v => (double)v).ToArray(), "epoch", "E_cD embedding of the test models (PCA)");
ProbePlots.EmbeddingPca(folder.PathOf("embedding-accuracy.png"), embedding, representation.LatentDim,
    testData.Labels[ZooColumns.TestAccuracy].Select(v => (double)v).ToArray(), "test accuracy", "E_cD embedding of the test models (PCA)");
if (representation.History.Count > 0) ProbePlots.LearningCurves(folder.PathOf("learning-curves.png"), representation.History);
representation.Dispose();
Console.WriteLine();
Console.WriteLine($"Wrote results.json, results.md and 4 plots to {folder.Path} in {clock.Elapsed.TotalSeconds.ToString("F0", CultureInfo.InvariantCulture)} s.");
return 0;
