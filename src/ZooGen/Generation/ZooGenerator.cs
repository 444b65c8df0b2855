using System.Diagnostics;
using WeightSpace.MLNet.Layout;
using WeightSpace.MLNet.Zoo;
using WeightSpace.ZooGen.Data;
using WeightSpace.ZooGen.Recipes;
using WeightSpace.ZooGen.Training;

namespace WeightSpace.ZooGen.Generation;

/// <summary>Settings of one generation run.</summary>
public sealed class GenerateOptions
{
    /// <summary>What to generate.</summary>
    public required Recipe Recipe { get; init; }
    /// <summary>Zoo directory.</summary>
    public required string Output { get; init; }
    /// <summary>Overrides the data set's default location.</summary>
    public string? DataDirectory { get; init; }
    /// <summary>Continue a zoo in Output: only models not yet on disk are trained.</summary>
    public bool Resume { get; init; }
    /// <summary>This run's part (0-based) when the models are split into ShardCount parts.</summary>
    public int ShardIndex { get; init; }
    /// <summary>Number of parts (1 = the whole zoo).</summary>
    public int ShardCount { get; init; } = 1;
    /// <summary>Models trained together before their rows are written (MLP zoos); a crash loses at most one population.</summary>
    public int PopulationSize { get; init; } = 500;
    /// <summary>Models trained at once, one per core (CNN zoos); 0 = all cores.</summary>
    public int Workers { get; init; }
    /// <summary>Receives progress (model-epochs done).</summary>
    public IProgress<GenerationProgress>? Progress { get; init; }
}

/// <summary>Progress of a run.</summary>
public readonly record struct GenerationProgress(long ModelEpochsDone, long ModelEpochsTotal, int ModelsDone, int ModelsTotal, TimeSpan Elapsed);

/// <summary>What a run did.</summary>
public sealed record GenerateResult(int ModelsTrained, int ModelsSkipped, long RowsWritten, TimeSpan Elapsed, bool Cancelled);

/// <summary>
/// Trains the models of a recipe and writes their checkpoints into a zoo. MLP zoos train as populations, one
/// model per SIMD lane on all cores (<see cref="LanePopulationTrainer"/>); CNN zoos train one model per core. A model's rows are written only when
/// all its checkpoints exist, and shards are completed often, so a killed run loses at most the models in
/// flight; <see cref="GenerateOptions.Resume"/> then trains only what is missing.
/// </summary>
public static class ZooGenerator
{
    /// <summary>Hyperparameter columns of every generated zoo.</summary>
    public static readonly ZooColumn[] Columns =
    {
        new(ZooColumns.Hyper.LearningRate, ZooColumnType.Single), new(ZooColumns.Hyper.WeightDecay, ZooColumnType.Single),
        new(ZooColumns.Hyper.Dropout, ZooColumnType.Single), new(ZooColumns.Hyper.TrainFraction, ZooColumnType.Single),
        new(ZooColumns.Hyper.BatchSize, ZooColumnType.Single), new(ZooColumns.Hyper.Activation, ZooColumnType.Text),
        new(ZooColumns.Hyper.Init, ZooColumnType.Text), new(ZooColumns.Hyper.Optimizer, ZooColumnType.Text),
    };

    /// <summary>Generator name and version written into manifests.</summary>
    public static string GeneratorName => "zoogen " + typeof(ZooGenerator).Assembly.GetName().Version;

    /// <summary>The models of part <paramref name="index"/> of <paramref name="count"/> (model id mod count).</summary>
    public static IReadOnlyList<ModelSpec> Partition(IReadOnlyList<ModelSpec> models, int index, int count)
    {
        if (count <= 0 || index < 0 || index >= count) throw new ArgumentException($"shard {index}/{count} is invalid: need 0 ≤ i < n.");
        return models.Where(m => m.ModelId % count == index).ToList();
    }

    /// <summary>Loads the recipe's data with its subsets and scaling, checking it fits the architecture.</summary>
    public static DataSplit LoadData(Recipe recipe, string? dataDirectory)
    {
        var split = DatasetCatalog.Load(recipe.Dataset, dataDirectory, recipe.Seed, recipe.TetrisNoise);
        var train = recipe.TrainSubset > 0 ? split.Train.Take(recipe.TrainSubset) : split.Train;
        var test = recipe.TestSubset > 0 ? split.Test.Take(recipe.TestSubset) : split.Test;
        if (recipe.ScaleToSymmetric) { train = train.Affine(2, -1); test = test.Affine(2, -1); }
        var layout = recipe.Layout;
        bool fits = recipe.Architecture switch
        {
            "tetris-mlp-100" => train.ImageSize == 16 && train.Classes == 4,
            "cnn-2464" => train.Height == 28 && train.Width == 28 && train.Channels == 1 && train.Classes == 10,
            _ => train.Channels == 1 && train.Height >= 15 && train.Width >= 15 && train.Classes == 10,
        };
        if (!fits)
            throw new ArgumentException($"architecture '{layout.Name}' does not fit data set '{recipe.Dataset}' ({train.Channels}x{train.Height}x{train.Width}, {train.Classes} classes).");
        return new DataSplit(train, test);
    }

    /// <summary>Runs the generation; returns when done or cancelled (completed models are kept either way).</summary>
    public static GenerateResult Generate(GenerateOptions options, CancellationToken cancel = default)
    {
        var recipe = options.Recipe;
        recipe.Validate();
        var layout = recipe.Layout;
        var mine = Partition(recipe.SampleModels(), options.ShardIndex, options.ShardCount);
        string? part = options.ShardCount > 1 ? $"{options.ShardIndex}/{options.ShardCount}" : null;
        var recipeJson = recipe.ToJsonObject();

        var split = LoadData(recipe, options.DataDirectory); // before touching the output: a missing data set writes nothing
        ZooWriter writer;
        if (File.Exists(Path.Combine(options.Output, ZooManifest.FileName)))
        {
            if (!options.Resume) throw new IOException($"{options.Output} already holds a zoo; pass --resume to continue it, or choose another --out.");
            writer = ZooWriter.Append(options.Output);
            var m = writer.Manifest;
            if (!System.Text.Json.Nodes.JsonNode.DeepEquals(m.Recipe, recipeJson) || m.Part != part)
            {
                writer.Dispose();
                throw new ArgumentException($"{options.Output} was generated with another recipe or part ({m.Part ?? "whole"}); resume with the same options.");
            }
        }
        else
        {
            writer = ZooWriter.Create(options.Output, layout, recipe.Dataset, Columns, recipeJson, GeneratorName);
            writer.Manifest.Part = part;
            writer.Manifest.Save(options.Output);
        }

        var done = writer.Manifest.Shards.SelectMany(s => s.ModelIds).ToHashSet();
        var todo = mine.Where(m => !done.Contains(m.ModelId)).ToList();
        var checkpoints = recipe.Checkpoints.ToHashSet();
        var sw = Stopwatch.StartNew();
        long total = (long)todo.Count * recipe.Epochs, progressDone = 0;
        int modelsDone = 0;
        long rows = 0;
        bool cancelled = false;
        void Progress(long modelEpochs, int models)
        {
            Interlocked.Add(ref progressDone, modelEpochs);
            Interlocked.Add(ref modelsDone, models);
            options.Progress?.Report(new GenerationProgress(Interlocked.Read(ref progressDone), total, modelsDone, todo.Count, sw.Elapsed));
        }

        void WriteModel(ModelSpec model, IEnumerable<Checkpoint> cps)
        {
            foreach (var c in cps.OrderBy(c => c.Epoch))
            {
                var r = new ZooRecord
                {
                    Weights = c.Weights, ModelId = model.ModelId, Epoch = c.Epoch, Seed = model.Seed,
                    TrainAccuracy = c.TrainAccuracy, TestAccuracy = c.TestAccuracy, TrainLoss = c.TrainLoss, TestLoss = c.TestLoss,
                    GeneralizationGap = c.TrainAccuracy - c.TestAccuracy,
                };
                r.Numeric[ZooColumns.Hyper.LearningRate] = (float)model.LearningRate;
                r.Numeric[ZooColumns.Hyper.WeightDecay] = (float)model.WeightDecay;
                r.Numeric[ZooColumns.Hyper.Dropout] = (float)model.Dropout;
                r.Numeric[ZooColumns.Hyper.TrainFraction] = (float)model.TrainFraction;
                r.Numeric[ZooColumns.Hyper.BatchSize] = model.BatchSize;
                r.Text[ZooColumns.Hyper.Activation] = model.Activation;
                r.Text[ZooColumns.Hyper.Init] = model.Init;
                r.Text[ZooColumns.Hyper.Optimizer] = model.Optimizer;
                writer.Write(r);
                rows++;
            }
        }

        using var data = new TrainingData(split);
        try
        {
            if (PopulationTrainer.Supports(layout))
                RunPopulations(layout, todo, data, recipe.Epochs, checkpoints, Math.Max(1, options.PopulationSize), writer, WriteModel, Progress, cancel);
            else
                RunPerModel(layout, todo, data, recipe.Epochs, checkpoints, options.Workers <= 0 ? Environment.ProcessorCount : options.Workers, writer, WriteModel, Progress, cancel);
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            cancelled = true;
        }
        catch (AggregateException e) when (cancel.IsCancellationRequested && e.Flatten().InnerExceptions.All(x => x is OperationCanceledException))
        {
            cancelled = true;
        }
        finally
        {
            writer.Dispose(); // completes the shard of fully written models
        }
        int trained = writer.Manifest.Shards.SelectMany(s => s.ModelIds).Count(id => !done.Contains(id));
        return new GenerateResult(trained, mine.Count - todo.Count, rows, sw.Elapsed, cancelled);
    }

    private static void RunPopulations(WeightLayout layout, List<ModelSpec> todo, TrainingData data, int epochs, ISet<int> checkpoints, int populationSize,
        ZooWriter writer, Action<ModelSpec, IEnumerable<Checkpoint>> writeModel, Action<long, int> progress, CancellationToken cancel)
    {
        var groups = todo.GroupBy(m => (m.Activation, m.Optimizer, m.BatchSize, m.TrainFraction));
        foreach (var group in groups)
        {
            foreach (var population in group.Chunk(populationSize))
            {
                var results = population.ToDictionary(m => m.ModelId, _ => new List<Checkpoint>());
                new LanePopulationTrainer(layout, population, data).Train(epochs, checkpoints,
                    cps => { foreach (var c in cps) results[c.Model.ModelId].Add(c); }, cancel, n => progress(n, 0));
                foreach (var m in population.OrderBy(m => m.ModelId)) writeModel(m, results[m.ModelId]);
                writer.CompleteShard();
                progress(0, population.Length);
            }
        }
    }

    private static void RunPerModel(WeightLayout layout, List<ModelSpec> todo, TrainingData data, int epochs, ISet<int> checkpoints, int workers,
        ZooWriter writer, Action<ModelSpec, IEnumerable<Checkpoint>> writeModel, Action<long, int> progress, CancellationToken cancel)
    {
        // Small convolutions do not scale across cores inside one op (PERF-NOTES): one model per core, one thread each.
        int previousThreads = TorchSharp.torch.get_num_threads();
        if (workers > 1) TorchSharp.torch.set_num_threads(1);
        var finished = new SortedDictionary<int, (ModelSpec Model, List<Checkpoint> Checkpoints)>();
        var order = todo.Select(m => m.ModelId).ToList();
        int nextToWrite = 0;
        var gate = new object();
        var lastComplete = Stopwatch.StartNew();
        try
        {
            Parallel.ForEach(todo, new ParallelOptions { MaxDegreeOfParallelism = workers, CancellationToken = cancel }, model =>
            {
                var cps = new List<Checkpoint>();
                SingleModelTrainer.Train(layout, model, data, epochs, checkpoints, cps.Add, cancel, _ => progress(1, 0));
                lock (gate)
                {
                    finished[model.ModelId] = (model, cps);
                    // Write in model-id order, so the zoo is the same whatever the timing.
                    while (nextToWrite < order.Count && finished.Remove(order[nextToWrite], out var f))
                    {
                        writeModel(f.Model, f.Checkpoints);
                        nextToWrite++;
                    }
                    if (lastComplete.Elapsed > TimeSpan.FromSeconds(30)) { writer.CompleteShard(); lastComplete.Restart(); }
                }
                progress(0, 1);
            });
        }
        finally
        {
            if (workers > 1) TorchSharp.torch.set_num_threads(previousThreads);
        }
    }
}
