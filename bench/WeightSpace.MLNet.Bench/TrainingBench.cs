using System.Diagnostics;
using WeightSpace.ZooGen.Data;
using WeightSpace.ZooGen.Generation;
using WeightSpace.ZooGen.Recipes;
using WeightSpace.ZooGen.Training;

namespace WeightSpace.MLNet.Bench;

/// <summary>Zoo training throughput: lane populations (and the earlier alternatives) vs the plain one-model-at-a-time TorchSharp loop.</summary>
internal static class TrainingBench
{
    /// <param name="trainImages">Training images per model (the preset's 300 when 0; 2000 = the Tetris-Seed-2000 zoo docs/benchmarks.md was first measured on).</param>
    public static void Tetris(int models, int epochs, int baselineModels, int trainImages = 0)
    {
        var recipe = Presets.Get("tetris-seed");
        if (trainImages > 0) recipe.TrainSubset = trainImages;
        Console.WriteLine($"training images per model: {(recipe.TrainSubset > 0 ? recipe.TrainSubset : 2000)}");
        recipe.Models = models;
        recipe.Epochs = epochs;
        recipe.Checkpoints = Enumerable.Range(1, epochs).ToList();
        // A fresh folder of the benchmark's own: it deletes only what it created.
        var dir = Path.Combine(Path.GetTempPath(), "wsml-bench-tetris-" + Guid.NewGuid().ToString("N")[..8]);
        var sw = Stopwatch.StartNew();
        var result = ZooGenerator.Generate(new GenerateOptions { Recipe = recipe, Output = dir, PopulationSize = 1000 });
        double ours = sw.Elapsed.TotalSeconds;
        Console.WriteLine($"tetris-seed {models} models × {epochs} epochs (every epoch saved and evaluated): {ours:F1} s end to end, {result.RowsWritten:N0} rows, {models * (double)epochs / ours:F0} model-epochs/s");

        // Baseline: the same recipe's first models, one at a time, stock TorchSharp module + torch.optim (same data, same checkpoints).
        using var data = new TorchTrainingData(ZooGenerator.LoadData(recipe, null));
        var specs = recipe.SampleModels().Take(baselineModels).ToList();
        sw.Restart();
        foreach (var m in specs)
            SingleModelTrainer.Train(recipe.Layout, m, data, epochs, recipe.Checkpoints.ToHashSet(), _ => { }, CancellationToken.None, stockOptimizer: true);
        double baseline = sw.Elapsed.TotalSeconds;
        double baseRate = baselineModels * (double)epochs / baseline;
        Console.WriteLine($"one-model-at-a-time loop, {baselineModels} models: {baseline:F1} s, {baseRate:F1} model-epochs/s");
        Console.WriteLine($"ratio (population / one-at-a-time, model-epochs/s): {models * (double)epochs / ours / baseRate:F0}x");

        // The first design, for comparison: the same models as one TorchSharp program of batched matmuls.
        var torchModels = recipe.SampleModels().Take(Math.Min(models, 200)).ToList();
        sw.Restart();
        new PopulationTrainer(recipe.Layout, torchModels, data).Train(epochs, recipe.Checkpoints.ToHashSet(), _ => { }, CancellationToken.None);
        double torchTime = sw.Elapsed.TotalSeconds;
        double torchRate = torchModels.Count * (double)epochs / torchTime;
        Console.WriteLine($"TorchSharp batched-matmul population, {torchModels.Count} models: {torchTime:F1} s, {torchRate:F0} model-epochs/s, {torchRate / baseRate:F0}x the loop");
        Directory.Delete(dir, true);
    }

    public static void Cnn(int models, int images)
    {
        var recipe = Presets.Get("fmnist-seed");
        recipe.Models = models;
        recipe.Epochs = 1;
        recipe.Checkpoints = new() { 1 };
        recipe.TrainSubset = images;
        recipe.TestSubset = 1000;
        using var data = new TorchTrainingData(ZooGenerator.LoadData(recipe, null));
        var specs = recipe.SampleModels();
        var checkpoints = new HashSet<int>();
        // CNN-2464 training FLOPs per image ≈ 3 × forward; forward MACs: conv1 24·24·8·25 + conv2 8·8·6·200 + conv3 3·3·4·24 + fc 720 + 200.
        double flopsPerImage = 3 * 2.0 * (24 * 24 * 8 * 25 + 8 * 8 * 6 * 200 + 3 * 3 * 4 * 24 + 720 + 200);
        double totalFlops = flopsPerImage * images * models;

        int threads = TorchSharp.torch.get_num_threads();
        int workers = Environment.ProcessorCount;
        // Warm-up, not timed: libtorch's first calls and the JIT's tiering of the lane kernels (the first second or so of
        // a process runs them unoptimised), so the figures are steady-state ones, as in a long zoo run.
        var few = new TorchTrainingData(new DataSplit(data.Split.Train.Take(64), data.Split.Test.Take(64)));
        SingleModelTrainer.Train(recipe.Layout, specs[0], few, 1, checkpoints, _ => { }, CancellationToken.None, stockOptimizer: true);
        for (int i = 0; i < 3; i++) new LanePopulationTrainer(recipe.Layout, specs.Take(LanePopulationTrainer.Lanes).ToArray(), few).Train(1, checkpoints, _ => { }, CancellationToken.None);
        few.Dispose();

        var sw = Stopwatch.StartNew();
        foreach (var m in specs) SingleModelTrainer.Train(recipe.Layout, m, data, 1, checkpoints, _ => { }, CancellationToken.None, stockOptimizer: true);
        double baseline = sw.Elapsed.TotalSeconds;
        Console.WriteLine($"cnn-2464 fmnist, {models} models × {images} images, batch {specs[0].BatchSize}:");
        Console.WriteLine($"  one-model-at-a-time loop ({threads} intra-op threads): {baseline:F2} s = {baseline / models * 1000:F0} ms per model-pass, {totalFlops / baseline / 1e9:F2} GFLOP/s");

        TorchSharp.torch.set_num_threads(1);
        sw.Restart();
        Parallel.ForEach(specs, new ParallelOptions { MaxDegreeOfParallelism = workers }, m =>
            SingleModelTrainer.Train(recipe.Layout, m, data, 1, checkpoints, _ => { }, CancellationToken.None));
        double ours = sw.Elapsed.TotalSeconds;
        TorchSharp.torch.set_num_threads(threads);
        Console.WriteLine($"  one model per core ({workers} workers × 1 thread): {ours:F2} s = {ours / models * 1000:F0} ms per model-pass, {totalFlops / ours / 1e9:F2} GFLOP/s");
        Console.WriteLine($"  ratio (one model per core / one-at-a-time): {baseline / ours:F2}x");

        sw.Restart();
        new LanePopulationTrainer(recipe.Layout, specs, data).Train(1, checkpoints, _ => { }, CancellationToken.None);
        double lanes = sw.Elapsed.TotalSeconds;
        Console.WriteLine($"  lane population ({LanePopulationTrainer.Lanes} models per SIMD lane group, groups on {workers} cores), as zoogen runs CNN zoos: {lanes:F2} s = {lanes / models * 1000:F0} ms per model-pass, {totalFlops / lanes / 1e9:F2} GFLOP/s");
        Console.WriteLine($"  ratio (lanes / one-at-a-time): {baseline / lanes:F2}x");

        // One lane group alone (the last population of a zoo, or fewer groups than cores): its steps' shares on one core vs all.
        var group = specs.Take(LanePopulationTrainer.Lanes).ToArray();
        double groupFlops = flopsPerImage * images * group.Length;
        var alone = new double[2];
        foreach (var (w, slot) in new[] { (1, 0), (workers, 1) })
        {
            sw.Restart();
            new LanePopulationTrainer(recipe.Layout, group, data).Train(1, checkpoints, _ => { }, CancellationToken.None, workers: w);
            alone[slot] = sw.Elapsed.TotalSeconds;
            Console.WriteLine($"  one lane group of {group.Length} models on {w} core(s): {alone[slot]:F2} s, {groupFlops / alone[slot] / 1e9:F2} GFLOP/s");
        }
        Console.WriteLine($"  ratio (one group on {workers} cores / on 1): {alone[0] / alone[1]:F2}x");
    }
}
