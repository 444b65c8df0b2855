using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using WeightSpace.MLNet;
using WeightSpace.ZooGen.Training;

namespace WeightSpace.ZooGen.Recipes;

/// <summary>The hyperparameter values a zoo draws from.</summary>
public sealed class HyperGrid
{
    /// <summary>Activations.</summary>
    public List<string> Activation { get; set; } = new() { "tanh" };
    /// <summary>Initialisations.</summary>
    public List<string> Init { get; set; } = new() { "kaiming_uniform" };
    /// <summary>Optimisers.</summary>
    public List<string> Optimizer { get; set; } = new() { "adam" };
    /// <summary>Learning rates.</summary>
    public List<double> LearningRate { get; set; } = new() { 1e-3 };
    /// <summary>Weight decays.</summary>
    public List<double> WeightDecay { get; set; } = new() { 0 };
    /// <summary>Dropout probabilities.</summary>
    public List<double> Dropout { get; set; } = new() { 0 };
    /// <summary>Batch sizes.</summary>
    public List<int> BatchSize { get; set; } = new() { 32 };
    /// <summary>Train fractions.</summary>
    public List<double> TrainFraction { get; set; } = new() { 1.0 };

    /// <summary>Number of distinct configurations.</summary>
    [JsonIgnore] public long Size => (long)Activation.Count * Init.Count * Optimizer.Count * LearningRate.Count * WeightDecay.Count * Dropout.Count * BatchSize.Count * TrainFraction.Count;
}

/// <summary>How models are drawn from the grid.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<SamplingMode>))]
public enum SamplingMode
{
    /// <summary>Every configuration of the grid × SeedsPerConfig seeds (fixed seeds 1..k), truncated to Models after a seeded shuffle.</summary>
    Grid,
    /// <summary>Each model draws every hyperparameter uniformly from its list (Unterthiner et al.'s random search).</summary>
    Random,
}

/// <summary>
/// A complete, reproducible description of a zoo: data set, architecture, grid, sizes and checkpoints.
/// Presets are recipes; a JSON file with the same fields is a custom recipe.
/// </summary>
public sealed class Recipe
{
    /// <summary>Preset name or "custom".</summary>
    public string Name { get; set; } = "custom";
    /// <summary>tetris, mnist, mnist-digits, fashion-mnist or cifar10.</summary>
    public string Dataset { get; set; } = "tetris";
    /// <summary>tetris-mlp-100, cnn-2464 or cnn-4970.</summary>
    public string Architecture { get; set; } = "tetris-mlp-100";
    /// <summary>Number of models.</summary>
    public int Models { get; set; } = 100;
    /// <summary>Epochs of training.</summary>
    public int Epochs { get; set; } = 10;
    /// <summary>Saved epochs (0 = initialisation).</summary>
    public List<int> Checkpoints { get; set; } = new();
    /// <summary>Grid or random sampling.</summary>
    public SamplingMode Sampling { get; set; } = SamplingMode.Grid;
    /// <summary>Seeds per configuration (grid sampling).</summary>
    public int SeedsPerConfig { get; set; } = 1;
    /// <summary>The hyperparameter values.</summary>
    public HyperGrid Grid { get; set; } = new();
    /// <summary>Use only the first N training images (0 = all).</summary>
    public int TrainSubset { get; set; }
    /// <summary>Use only the first N test images (0 = all).</summary>
    public int TestSubset { get; set; }
    /// <summary>
    /// Training images held out as a validation set (0 = none): a seeded random subset of the training set (after
    /// TrainSubset), which no model trains on; each checkpoint then also gets ValidationAccuracy and ValidationLoss.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int ValidationSize { get; set; }
    /// <summary>
    /// Fraction of training labels replaced by a uniformly drawn class (seeded; the test and validation sets stay clean), so
    /// that models can memorise noise and generalise measurably worse the longer they train (0 = none).
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public double LabelNoise { get; set; }
    /// <summary>Seed of the data set (Tetris generation), the validation split and the model sampling.</summary>
    public int Seed { get; set; }
    /// <summary>Tetris pixel noise σ.</summary>
    public double TetrisNoise { get; set; } = Data.TetrisDataset.DefaultNoise;
    /// <summary>
    /// Size of the generated Tetris test set (0 = the default 1,000). A larger test set makes each checkpoint's test accuracy
    /// (and so its generalisation gap) a closer estimate of the model's expected accuracy, i.e. a less noisy label.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int TetrisTestImages { get; set; }
    /// <summary>Map pixels from [0, 1] to [-1, 1] (Unterthiner et al.).</summary>
    public bool ScaleToSymmetric { get; set; }

    // Unknown fields (at any depth) are errors that name the field: a typo must not fall back to a default silently.
    internal static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase, ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true, UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow };

    /// <summary>The architecture's layout.</summary>
    [JsonIgnore] public WeightLayout Layout => WeightLayout.BuiltIn.TryGetValue(Architecture, out var l) ? l
        : throw new ArgumentException($"architecture '{Architecture}' is not one of {string.Join(", ", WeightLayout.BuiltIn.Keys)}.");

    /// <summary>Validates every value and names the first one outside its domain.</summary>
    public void Validate()
    {
        _ = Layout;
        if (!Data.DatasetCatalog.Names.Contains(Dataset)) throw new ArgumentException($"dataset '{Dataset}' is not one of {string.Join(", ", Data.DatasetCatalog.Names)}.");
        if (Models <= 0) throw new ArgumentException($"models must be > 0 (got {Models}).");
        if (Epochs <= 0) throw new ArgumentException($"epochs must be > 0 (got {Epochs}).");
        if (SeedsPerConfig <= 0) throw new ArgumentException($"seedsPerConfig must be > 0 (got {SeedsPerConfig}).");
        // Limits before anything is allocated or written: the model list, the grid and the zoo itself must fit a machine.
        if (Models > MaxModels)
            throw new ArgumentException($"models must be ≤ {MaxModels:N0} (got {Models:N0}): {Estimate(Models)}; split a larger zoo into parts (--shard i/n) and merge them.");
        if (Epochs > MaxEpochs) throw new ArgumentException($"epochs must be ≤ {MaxEpochs:N0} (got {Epochs:N0}).");
        if (Checkpoints.Count > MaxEpochs + 1) throw new ArgumentException($"at most {MaxEpochs + 1:N0} checkpoint epochs (got {Checkpoints.Count:N0}).");
        if (Sampling != SamplingMode.Random && Grid.Size > MaxGridConfigurations / SeedsPerConfig)
            throw new ArgumentException($"the grid has {Grid.Size:N0} configurations × {SeedsPerConfig} seeds, more than the {MaxGridConfigurations:N0} a grid search lists " +
                $"(~{Grid.Size * SeedsPerConfig * 200.0 / (1L << 30):N1} GiB of model specs); use random sampling (\"sampling\": \"random\") for a grid this large.");
        if (TrainSubset < 0 || TestSubset < 0) throw new ArgumentException("train/test subsets must be ≥ 0.");
        if (ValidationSize < 0) throw new ArgumentException($"validation size must be ≥ 0 (got {ValidationSize}).");
        if (LabelNoise is < 0 or > 1 || double.IsNaN(LabelNoise)) throw new ArgumentException($"labelNoise must lie in [0, 1] (got {LabelNoise}).");
        if (TetrisTestImages < 0) throw new ArgumentException($"tetrisTestImages must be ≥ 0 (got {TetrisTestImages}).");
        if (TetrisNoise < 0 || !double.IsFinite(TetrisNoise)) throw new ArgumentException($"tetrisNoise must be finite and ≥ 0 (got {TetrisNoise}).");
        if (Checkpoints.Count == 0) throw new ArgumentException("at least one checkpoint epoch is needed.");
        foreach (var c in Checkpoints)
            if (c < 0 || c > Epochs) throw new ArgumentException($"checkpoint epoch {c} is outside 0..{Epochs}.");
        if (Grid.Size == 0) throw new ArgumentException("every hyperparameter of the grid needs at least one value.");
        // Every activation, init and optimizer name parses (an unknown one is an error listing the valid ones).
        foreach (var a in Grid.Activation) Hyperparameters.ParseActivation(a);
        foreach (var i in Grid.Init) Hyperparameters.ParseInit(i);
        foreach (var o in Grid.Optimizer) Hyperparameters.ParseOptimizer(o);
        foreach (var v in Grid.LearningRate) new ModelSpec { LearningRate = v }.Validate();
        foreach (var v in Grid.WeightDecay) new ModelSpec { WeightDecay = v }.Validate();
        foreach (var v in Grid.Dropout) new ModelSpec { Dropout = v }.Validate();
        foreach (var v in Grid.BatchSize) new ModelSpec { BatchSize = v }.Validate();
        foreach (var v in Grid.TrainFraction) new ModelSpec { TrainFraction = v }.Validate();
    }

    /// <summary>The most models one recipe may ask for (larger zoos: several parts, then <c>zoogen merge</c>).</summary>
    public const int MaxModels = 1_000_000;
    /// <summary>The most epochs one recipe may ask for.</summary>
    public const int MaxEpochs = 100_000;
    /// <summary>The most configurations × seeds a grid search lists in memory.</summary>
    public const long MaxGridConfigurations = 10_000_000;

    /// <summary>What <paramref name="models"/> models of this recipe would take: weights on disk and the model list in memory.</summary>
    private string Estimate(long models)
    {
        long parameters = WeightLayout.BuiltIn.TryGetValue(Architecture, out var layout) ? layout.ParameterCount : 0;
        double weights = (double)models * Math.Max(1, Checkpoints.Count) * parameters * 4;
        return $"{models:N0} models × {Math.Max(1, Checkpoints.Count)} checkpoints × {parameters:N0} parameters would be {weights / (1L << 30):N1} GiB of weights, " +
               $"and their list alone ~{models * 200.0 / (1L << 30):N1} GiB of memory";
    }

    /// <summary>The models of the zoo, in id order; deterministic.</summary>
    public IReadOnlyList<ModelSpec> SampleModels()
    {
        var g = Grid;
        // The grid's names, parsed once (an unknown name is an error that lists the valid ones).
        var activations = g.Activation.Select(Hyperparameters.ParseActivation).ToList();
        var inits = g.Init.Select(Hyperparameters.ParseInit).ToList();
        var optimizers = g.Optimizer.Select(Hyperparameters.ParseOptimizer).ToList();
        var list = new List<ModelSpec>(Models);
        if (Sampling == SamplingMode.Random)
        {
            var rng = Rng.For(Seed, 0x5A3D);
            for (int id = 0; id < Models; id++)
                list.Add(new ModelSpec
                {
                    ModelId = id, Seed = id + 1,
                    Activation = activations[rng.NextInt(activations.Count)], Init = inits[rng.NextInt(inits.Count)],
                    Optimizer = optimizers[rng.NextInt(optimizers.Count)], LearningRate = g.LearningRate[rng.NextInt(g.LearningRate.Count)],
                    WeightDecay = g.WeightDecay[rng.NextInt(g.WeightDecay.Count)], Dropout = g.Dropout[rng.NextInt(g.Dropout.Count)],
                    BatchSize = g.BatchSize[rng.NextInt(g.BatchSize.Count)], TrainFraction = g.TrainFraction[rng.NextInt(g.TrainFraction.Count)],
                });
            return list;
        }
        var configs = (from a in activations from i in inits from o in optimizers from lr in g.LearningRate
                       from wd in g.WeightDecay from d in g.Dropout from b in g.BatchSize from f in g.TrainFraction
                       from s in Enumerable.Range(1, SeedsPerConfig)
                       select new ModelSpec { Seed = s, Activation = a, Init = i, Optimizer = o, LearningRate = lr, WeightDecay = wd, Dropout = d, BatchSize = b, TrainFraction = f }).ToArray();
        if (configs.Length > Models)
        {
            // A seeded shuffle before truncation keeps a truncated grid balanced.
            var order = Enumerable.Range(0, configs.Length).ToArray();
            var rng = Rng.For(Seed, 0x6121D);
            rng.Shuffle(order);
            configs = order.Take(Models).Order().Select(i => configs[i]).ToArray();
        }
        for (int id = 0; id < Models; id++)
        {
            var c = configs[id % configs.Length];
            // Seed-only zoos (one configuration) get seeds 1..Models; grids repeat configurations with their seeds.
            list.Add(c with { ModelId = id, Seed = configs.Length == 1 ? id + 1 : c.Seed + (id / configs.Length) * SeedsPerConfig });
        }
        return list;
    }

    /// <summary>The recipe as JSON (stored in the zoo manifest).</summary>
    public JsonObject ToJsonObject() => JsonSerializer.SerializeToNode(this, Json)!.AsObject();

    /// <summary>Reads a recipe file: JSON, or YAML for <c>.yaml</c> / <c>.yml</c> (same field names).</summary>
    /// <exception cref="ArgumentException">Unreadable file, unknown field or a value of the wrong type; names the file.</exception>
    public static Recipe Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"recipe file '{path}' not found.", path);
        var text = File.ReadAllText(path);
        bool yaml = path.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".yml", StringComparison.OrdinalIgnoreCase);
        try
        {
            var recipe = yaml
                ? new YamlDotNet.Serialization.DeserializerBuilder()
                    .WithNamingConvention(YamlDotNet.Serialization.NamingConventions.CamelCaseNamingConvention.Instance)
                    .Build().Deserialize<Recipe>(text)
                : JsonSerializer.Deserialize<Recipe>(text, Json);
            return recipe ?? throw new ArgumentException($"{path}: empty recipe.");
        }
        catch (JsonException e) { throw new ArgumentException($"{path}: not a valid recipe ({e.Message}).", e); }
        catch (YamlDotNet.Core.YamlException e) { throw new ArgumentException($"{path}: not a valid recipe ({e.Message}{(e.InnerException is null ? "" : ": " + e.InnerException.Message)}).", e); }
    }

    /// <summary>A deep copy.</summary>
    public Recipe Clone() => JsonSerializer.Deserialize<Recipe>(JsonSerializer.Serialize(this, Json), Json)!;
}
