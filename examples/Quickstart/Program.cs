// Quickstart: the whole pipeline on an embedded default, no downloads.
//   1. generate a small Tetris-Seed zoo (population-batched training of 400 MLPs),
//   2. load it as an IDataView and split it by model,
//   3. probe model characteristics from the weights alone with stock ML.NET trainers,
//      comparing the two baselines of the paper: W (raw weights) and s(W) (weight statistics).
// Usage: dotnet run -c Release --project examples/Quickstart [-- --models N --epochs N --out DIR]
using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using WeightSpace.MLNet.IO;
using WeightSpace.MLNet.Layout;
using WeightSpace.MLNet.MLNet;
using WeightSpace.MLNet.Zoo;
using WeightSpace.ZooGen.Generation;
using WeightSpace.ZooGen.Recipes;

int models = 400, epochs = 30;
string outDir = "quickstart-out";
for (int i = 0; i + 1 < args.Length; i += 2)
{
    switch (args[i])
    {
        case "--models": models = int.Parse(args[i + 1]); break;
        case "--epochs": epochs = int.Parse(args[i + 1]); break;
        case "--out": outDir = args[i + 1]; break;
        default: Console.Error.WriteLine($"unknown option {args[i]}; options: --models N --epochs N --out DIR"); return 2;
    }
}

// 1. The zoo: the tetris-seed preset scaled down; a checkpoint every second epoch.
var recipe = Presets.Get("tetris-seed");
recipe.Models = models;
recipe.Epochs = epochs;
recipe.Checkpoints = Enumerable.Range(1, epochs).Where(e => e % 2 == 0 || e == 1).ToList();
// The output folder must be new, empty or one the Quickstart made before: it never deletes or overwrites files it did not write.
OwnedFolder folder;
try { folder = OwnedFolder.Claim(outDir, "Quickstart"); }
catch (IOException e) { Console.Error.WriteLine("Quickstart: " + e.Message); return 2; }
string output = folder.PathOf("zoo");
Console.WriteLine($"Generating {models} Tetris MLPs × {epochs} epochs into {output} (reused when it is already there) ...");
var sw = Stopwatch.StartNew();
var bar = new ProgressBar(Console.Error);
GenerateResult result;
try { result = ZooGenerator.Generate(new GenerateOptions { Recipe = recipe, Output = output, Resume = true, Progress = bar }); }
catch (ArgumentException e) { Console.Error.WriteLine($"Quickstart: {e.Message} Use another --out folder for other --models/--epochs."); return 2; }
bar.Finish();
Console.WriteLine($"  {result.ModelsTrained} models trained, {result.ModelsSkipped} reused, {result.RowsWritten:N0} checkpoints written in {sw.Elapsed.TotalSeconds:F1} s");
var summary = ZooSummary.Compute(ZooDataset.Open(output));
Console.WriteLine($"  test accuracy at the last epoch: min {summary.LastEpochTestAccuracy.Min:F3}, mean {summary.LastEpochTestAccuracy.Mean:F3}, max {summary.LastEpochTestAccuracy.Max:F3}");

// 2. The zoo as an IDataView, split 70/30 by model so no network is on both sides.
var ml = new MLContext(seed: 1);
IDataView zoo = ml.Data.Cache(ml.Data.LoadZoo(output));
var split = ml.Data.TrainTestSplit(zoo, testFraction: 0.3, samplingKeyColumnName: ZooColumns.ModelId, seed: 1);
var layout = WeightLayout.TetrisMlp100;

// 3. Probes: a linear model (SDCA, L2-regularised least squares) and gradient-boosted trees (LightGBM).
var featurizers = new (string Name, Func<IEstimator<ITransformer>> Make)[]
{
    ("W", () => ml.Transforms.StandardizeWeightsPerLayer("Features", ZooColumns.Weights, layout)),
    ("s(W)", () => ml.Transforms.WeightStatistics("Raw", ZooColumns.Weights, layout).Append(ml.Transforms.NormalizeMeanVariance("Features", "Raw"))),
};
var targets = new[] { ZooColumns.TestAccuracy, ZooColumns.Epoch, ZooColumns.GeneralizationGap };
Console.WriteLine();
Console.WriteLine($"Test R² of probes on held-out models ({split.TestSet.GetColumn<int>(ZooColumns.ModelId).Distinct().Count()} models):");
Console.WriteLine($"{"features",-8} {"probe",-9} " + string.Join(" ", targets.Select(t => $"{t,18}")));
foreach (var (name, make) in featurizers)
{
    foreach (var probe in new[] { "linear", "lightgbm" })
    {
        var cells = new List<string>();
        foreach (var target in targets)
        {
            IEstimator<ITransformer> trainer = probe == "linear"
                ? ml.Regression.Trainers.Sdca(labelColumnName: target, featureColumnName: "Features", l2Regularization: 1e-4f, maximumNumberOfIterations: 50)
                : ml.Regression.Trainers.LightGbm(labelColumnName: target, featureColumnName: "Features", numberOfLeaves: 16, numberOfIterations: 200);
            var model = make().Append(trainer).Fit(split.TrainSet);
            var metrics = ml.Regression.Evaluate(model.Transform(split.TestSet), labelColumnName: target);
            cells.Add($"{metrics.RSquared,18:F3}");
        }
        Console.WriteLine($"{name,-8} {probe,-9} " + string.Join(" ", cells));
    }
}
Console.WriteLine();
Console.WriteLine($"Done in {sw.Elapsed.TotalSeconds:F1} s. Inspect the zoo with: dotnet run -c Release --project src/ZooGen -- info {output}");
return 0;
