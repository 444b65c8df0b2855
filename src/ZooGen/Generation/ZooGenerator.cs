using System.Diagnostics;
using WeightSpace.MLNet;
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
    /// <summary>
    /// Models trained together before their rows are written; a crash loses at most one population. 0 = automatic:
    /// 500 for MLP zoos, and for CNN zoos one lane group per core (<see cref="DefaultPopulationSize"/>).
    /// </summary>
    public int PopulationSize { get; init; }
    /// <summary>Cores used (lane groups trained at once); 0 = all cores.</summary>
    public int Workers { get; init; }

    /// <summary>The automatic population size: 500 MLPs (seconds of work), or one group of SIMD lanes per core for CNNs.</summary>
    public static int DefaultPopulationSize(WeightLayout layout, int workers) =>
        layout.IsFullyConnected ? 500 : LanePopulationTrainer.Lanes * (workers > 0 ? workers : Environment.ProcessorCount);
    /// <summary>Receives progress (model-epochs done).</summary>
    public IProgress<GenerationProgress>? Progress { get; init; }
}

/// <summary>
/// Progress of a run. <see cref="SamplesDone"/> / <see cref="SamplesTotal"/> count training samples (a model-epoch weighs
/// its training-set size, TrainFraction × images); <see cref="WorkDone"/> / <see cref="WorkTotal"/> count forward passes of
/// one image by lane group — training (a sample costs three) and the evaluation of every checkpoint on all train, test
/// and validation images — the measure the fraction done and the ETA follow. In a hyperparameter zoo a model with train
/// fraction 1 trains ten times as long as one with 0.1 but both evaluate every image, and populations are packed by train
/// fraction: counting models put the ETA of a 400-model CNN-4970 zoo at 4 minutes when it took 14, counting samples that of
/// a 1,000-model one at 3 h 37 min when it took 35 (docs/zoos.md).
/// </summary>
public readonly record struct GenerationProgress(long ModelEpochsDone, long ModelEpochsTotal, int ModelsDone, int ModelsTotal, TimeSpan Elapsed,
    long SamplesDone = 0, long SamplesTotal = 0, long WorkDone = 0, long WorkTotal = 0)
{
    /// <summary>The fraction of the work done: by work when known, else by training samples, else by model-epochs.</summary>
    public double Fraction => WorkTotal > 0 ? (double)WorkDone / WorkTotal
        : SamplesTotal > 0 ? (double)SamplesDone / SamplesTotal
        : ModelEpochsTotal > 0 ? (double)ModelEpochsDone / ModelEpochsTotal : 1;
}

/// <summary>What a run did.</summary>
public sealed record GenerateResult(int ModelsTrained, int ModelsSkipped, long RowsWritten, TimeSpan Elapsed, bool Cancelled);

/// <summary>
/// Trains the models of a recipe and writes their checkpoints into a zoo. Models train as populations, one model
/// per SIMD lane, groups of lanes on all cores (<see cref="LanePopulationTrainer"/>). A model's rows are written
/// only when all its checkpoints exist, and a shard is completed after each population, so a killed run loses at
/// most the population in flight; <see cref="GenerateOptions.Resume"/> then trains only what is missing.
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
        var split = DatasetCatalog.Load(recipe.Dataset, dataDirectory, recipe.Seed, recipe.TetrisNoise, recipe.TetrisTestImages);
        var train = recipe.TrainSubset > 0 ? split.Train.Take(recipe.TrainSubset) : split.Train;
        var test = recipe.TestSubset > 0 ? split.Test.Take(recipe.TestSubset) : split.Test;
        ImageDataset? validation = null;
        if (recipe.ValidationSize > 0)
        {
            if (recipe.ValidationSize >= train.Count)
                throw new ArgumentException($"validation size {recipe.ValidationSize} leaves no training images: the training set has {train.Count}.");
            var order = Enumerable.Range(0, train.Count).ToArray();
            Rng.For(recipe.Seed, 0x7A11D).Shuffle(order);
            var held = order[..recipe.ValidationSize]; Array.Sort(held);
            var kept = order[recipe.ValidationSize..]; Array.Sort(kept);
            validation = train.Subset(held, train.Name + "-validation");
            train = train.Subset(kept);
        }
        if (recipe.LabelNoise > 0) train = train.WithLabelNoise(recipe.LabelNoise, recipe.Seed);
        if (recipe.ScaleToSymmetric) { train = train.Affine(2, -1); test = test.Affine(2, -1); validation = validation?.Affine(2, -1); }
        var layout = recipe.Layout;
        // The data-fit check is the architecture's own shape calculation (NetworkArchitecture.Shapes).
        var architecture = NetworkArchitecture.For(layout);
        string data = $"{train.Channels}x{train.Height}x{train.Width}, {train.Classes} classes";
        try { architecture.Shapes(train.Channels, train.Height, train.Width); }
        catch (ArgumentException e) { throw new ArgumentException($"architecture '{layout.Name}' does not fit data set '{recipe.Dataset}' ({data}): {e.Message}", e); }
        if (train.Classes != architecture.Classes)
            throw new ArgumentException($"architecture '{layout.Name}' does not fit data set '{recipe.Dataset}' ({data}): it has {architecture.Classes} outputs.");
        return new DataSplit(train, test, validation);
    }

    /// <summary>The columns of a zoo generated from <paramref name="recipe"/>: <see cref="Columns"/>, plus the validation metrics when it holds out a validation set.</summary>
    public static ZooColumn[] ColumnsFor(Recipe recipe) => recipe.ValidationSize > 0
        ? Columns.Append(new(ZooColumns.ValidationAccuracy, ZooColumnType.Single)).Append(new(ZooColumns.ValidationLoss, ZooColumnType.Single)).ToArray()
        : Columns;

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
            writer = ZooWriter.Append(options.Output); // takes the folder's lock first: a second writer fails here, touching nothing
            var m = writer.Manifest;
            if (m.TrainMetricsCaveat() is { } caveat)
            {
                writer.Dispose();
                throw new ArgumentException($"{options.Output} was {caveat}. Resuming would mix the two in one zoo; generate it again into a new folder.");
            }
            var differences = RecipeDifferences(m.Recipe, recipeJson);
            if (m.Part != part) differences.Insert(0, $"shard: the zoo is {m.Part ?? "whole"}, this run {part ?? "whole"}");
            if (differences.Count > 0)
            {
                writer.Dispose();
                throw new ArgumentException($"{options.Output} was generated with other settings; resume with the same options. Differences: {string.Join("; ", differences)}.");
            }
        }
        else
        {
            writer = ZooWriter.Create(options.Output, layout, recipe.Dataset, ColumnsFor(recipe), recipeJson, GeneratorName, part);
        }

        var done = writer.CompletedModelIds.ToHashSet();
        var todo = mine.Where(m => !done.Contains(m.ModelId)).ToList();
        var checkpoints = recipe.Checkpoints.ToHashSet();
        var sw = Stopwatch.StartNew();
        long total = (long)todo.Count * recipe.Epochs, progressDone = 0;
        var data = new TrainingData(split);
        int trainImages = split.Train.Labels.Length;
        long samplesTotal = todo.Sum(m => (long)TrainingData.SubsetSize(m, trainImages)) * recipe.Epochs, samplesDone = 0;
        int populationSize = options.PopulationSize > 0 ? options.PopulationSize : GenerateOptions.DefaultPopulationSize(layout, options.Workers);
        var populations = Populations(todo, populationSize);
        long workTotal = populations.Sum(p => LanePopulationTrainer.Work(p, recipe.Epochs, checkpoints, split)), workDone = 0;
        int modelsDone = 0;
        long rows = 0;
        bool cancelled = false;
        void Progress(long modelEpochs, long samples, long work, int models)
        {
            Interlocked.Add(ref progressDone, modelEpochs);
            Interlocked.Add(ref samplesDone, samples);
            Interlocked.Add(ref workDone, work);
            Interlocked.Add(ref modelsDone, models);
            options.Progress?.Report(new GenerationProgress(Interlocked.Read(ref progressDone), total, modelsDone, todo.Count, sw.Elapsed,
                Interlocked.Read(ref samplesDone), samplesTotal, Interlocked.Read(ref workDone), workTotal));
        }

        void WriteModel(IEnumerable<ZooRecord> checkpoints)
        {
            // All or nothing: a model whose training diverged (NaN weights) is refused whole, never half-committed.
            // Validation metrics are NaN without a validation set, and written only where the zoo declares them.
            var ordered = checkpoints.OrderBy(c => c.Epoch).ToList();
            writer.WriteModel(ordered);
            rows += ordered.Count;
        }

        try
        {
            RunPopulations(layout, populations, data, recipe.Epochs, checkpoints, options.Workers, writer, WriteModel, Progress, cancel);
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
        int trained = writer.CompletedModelIds.Count(id => !done.Contains(id));
        return new GenerateResult(trained, mine.Count - todo.Count, rows, sw.Elapsed, cancelled);
    }

    /// <summary>Each recipe field whose value differs, as "field: zoo value → this run's value" (nested fields dotted).</summary>
    internal static List<string> RecipeDifferences(System.Text.Json.Nodes.JsonObject zoo, System.Text.Json.Nodes.JsonObject run)
    {
        var list = new List<string>();
        void Compare(System.Text.Json.Nodes.JsonNode? a, System.Text.Json.Nodes.JsonNode? b, string path)
        {
            if (a is System.Text.Json.Nodes.JsonObject oa && b is System.Text.Json.Nodes.JsonObject ob)
            {
                foreach (var key in oa.Select(kv => kv.Key).Union(ob.Select(kv => kv.Key)))
                    Compare(oa[key], ob[key], path.Length == 0 ? key : path + "." + key);
                return;
            }
            if (!System.Text.Json.Nodes.JsonNode.DeepEquals(a, b))
                list.Add($"{path}: {a?.ToJsonString() ?? "(none)"} → {b?.ToJsonString() ?? "(none)"}");
        }
        Compare(zoo, run, "");
        return list;
    }

    /// <summary>
    /// Lane groups of compatible models, packed into populations of up to <paramref name="populationSize"/> models (whole
    /// groups), so that groups of different activations or optimisers share the cores when each has few models.
    /// </summary>
    private static List<List<ModelSpec>> Populations(List<ModelSpec> todo, int populationSize)
    {
        var populations = new List<List<ModelSpec>>();
        foreach (var laneGroup in LanePopulationTrainer.LaneGroups(todo, populationSize))
        {
            if (populations.Count == 0 || populations[^1].Count + laneGroup.Length > populationSize) populations.Add(new List<ModelSpec>());
            populations[^1].AddRange(laneGroup);
        }
        return populations;
    }

    private static void RunPopulations(WeightLayout layout, List<List<ModelSpec>> populations, TrainingData data, int epochs, ISet<int> checkpoints, int workers,
        ZooWriter writer, Action<IEnumerable<ZooRecord>> writeModel, Action<long, long, long, int> progress, CancellationToken cancel)
    {
        foreach (var population in populations)
        {
            var results = population.ToDictionary(m => m.ModelId, _ => new List<ZooRecord>());
            new LanePopulationTrainer(layout, population, data).Train(epochs, checkpoints,
                cps => { foreach (var c in cps) results[c.ModelId].Add(c); }, cancel, (n, samples, work) => progress(n, samples, work, 0), workers);
            foreach (var m in population.OrderBy(m => m.ModelId)) writeModel(results[m.ModelId]);
            writer.CompleteShard();
            progress(0, 0, 0, population.Count);
        }
    }
}
