using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace WeightSpace.MLNet;

/// <summary>
/// Adds the hyper-representation of each row's weights: a <c>Vector&lt;Single, LatentDim&gt;</c> column computed lazily by
/// the trained encoder in batches. Created by <c>mlContext.Transforms.WeightEmbedding(...)</c>'s <c>Fit</c>, or loaded with
/// <see cref="Load(MLContext, string)"/>. Dispose it to free the native model.
/// </summary>
/// <example><code>
/// var embedding = ml.Transforms.WeightEmbedding("Embedding").Fit(split.TrainSet);
/// embedding.Save("embedding.wsemb");
/// var again = WeightEmbeddingTransformer.Load(ml, "embedding.wsemb");
/// </code></example>
public sealed class WeightEmbeddingTransformer : WeightVectorTransformer, IDisposable
{
    private readonly bool _ownsRepresentation;

    internal WeightEmbeddingTransformer(string output, string input, HyperRepresentation representation, bool ownsRepresentation = true)
        : base(output, input, representation.Layout, representation.LatentDim)
    {
        Representation = representation;
        _ownsRepresentation = ownsRepresentation;
    }

    /// <summary>The trained hyper-representation (encoder, decoder, options, learning curve).</summary>
    public HyperRepresentation Representation { get; }

    internal override VectorColumnMapper CreateMapper() => new Mapper(Representation);

    private sealed class Mapper(HyperRepresentation representation) : VectorColumnMapper
    {
        public override int BatchSize => representation.Options.InferenceBatchSize;
        public override void Map(ReadOnlySpan<float> input, Span<float> output, long rowKey) => MapBatch(input, 1, output, rowKey);
        public override void MapBatch(ReadOnlySpan<float> input, int rows, Span<float> output, long firstRowKey) =>
            representation.Embed(input, rows).CopyTo(output);
    }

    internal override string Kind => nameof(WeightEmbeddingTransformer);

    /// <summary>Loads a transformer saved with <see cref="WeightVectorTransformer.Save(string)"/> (or a bare <see cref="HyperRepresentation"/> file).</summary>
    /// <exception cref="InvalidDataException">Missing, truncated or corrupt file, or a file of another kind; the message names it.</exception>
    public static new WeightEmbeddingTransformer Load(MLContext ml, string path) =>
        WeightVectorTransformer.Load(ml, path) as WeightEmbeddingTransformer ?? throw new InvalidDataException($"{path}: holds another kind of transformer, not a WeightEmbedding.");

    /// <summary>Frees the native model (unless the transformer was made around a representation its caller keeps).</summary>
    public void Dispose()
    {
        if (_ownsRepresentation) Representation.Dispose();
    }
}

/// <summary>
/// Estimator of <see cref="WeightEmbeddingTransformer"/>: <see cref="Fit"/> trains a hyper-representation on the input view's
/// weights (holding out <see cref="WeightEmbeddingOptions.ValidationFraction"/> of the models by <c>ModelId</c> for validation),
/// or wraps a saved one. Reports through ML.NET's channels and an optional <see cref="IProgress{T}"/>.
/// </summary>
public sealed class WeightEmbeddingEstimator : IEstimator<WeightEmbeddingTransformer>
{
    private readonly IHostEnvironment _env;
    private readonly WeightLayout? _layout;
    private readonly string? _pretrained;
    private readonly IProgress<TrainingReport>? _progress;
    private readonly CancellationToken _cancel;

    internal WeightEmbeddingEstimator(IHostEnvironment env, string output, string input, WeightLayout? layout, WeightEmbeddingOptions? options, string? pretrained,
        IProgress<TrainingReport>? progress, CancellationToken cancel)
    {
        if (string.IsNullOrWhiteSpace(output)) throw new ArgumentException("The output column needs a name.", nameof(output));
        if (string.IsNullOrWhiteSpace(input)) throw new ArgumentException("The input column needs a name.", nameof(input));
        options?.Validate();
        if (pretrained is not null && !File.Exists(pretrained)) throw new FileNotFoundException($"Pretrained WeightEmbedding '{pretrained}' not found.", pretrained);
        _env = env;
        OutputColumnName = output;
        InputColumnName = input;
        _layout = layout;
        Options = options;
        _pretrained = pretrained;
        _progress = progress;
        _cancel = cancel;
    }

    /// <summary>Name of the added column.</summary>
    public string OutputColumnName { get; }
    /// <summary>Name of the weight column read.</summary>
    public string InputColumnName { get; }
    /// <summary>The training options; null: <see cref="WeightEmbeddingOptions.CpuDefaultFor"/> the input column's layout, resolved at <see cref="Fit"/>.</summary>
    public WeightEmbeddingOptions? Options { get; }
    /// <summary>What a NaN or ∞ in the input column does.</summary>
    public NonFiniteWeights NonFinite { get; init; } = NonFiniteWeights.Error;

    /// <inheritdoc />
    public WeightEmbeddingTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var layout = WeightLayoutAnnotation.Resolve(input.Schema, InputColumnName, _layout);
        WeightLayoutAnnotation.CheckColumn(input.Schema, InputColumnName, layout);
        if (_pretrained is not null)
        {
            var loaded = WeightEmbeddingTransformer.Load(MLContextFor(_env), _pretrained).Representation;
            if (!loaded.Layout.Equals(layout))
            {
                loaded.Dispose();
                throw new ArgumentException($"The pretrained WeightEmbedding '{_pretrained}' encodes layout {loaded.Layout}, but column '{InputColumnName}' holds {layout}.");
            }
            return new WeightEmbeddingTransformer(OutputColumnName, InputColumnName, loaded) { NonFinite = NonFinite };
        }
        GpuCheck(_env);
        var host = _env.Register("WeightEmbedding");
        using var ch = host.Start("Training");
        var options = Options ?? WeightEmbeddingOptions.CpuDefaultFor(layout);
        var (train, validation) = ReadRows(input, layout, options);
        ch.Info(MessageSensitivity.None, $"WeightEmbedding: training on {train.Rows:N0} rows ({layout}), validating on {validation?.Rows ?? 0:N0} rows of held-out models.");
        using var pch = host.StartProgressChannel("WeightEmbedding training");
        TrainingReport? last = null;
        pch.SetHeader(new ProgressHeader(new[] { "loss", "validation score" }, new[] { "epochs" }), e =>
        {
            if (last is null) return;
            e.SetProgress(0, last.Epoch - 1 + (double)last.Step / Math.Max(1, last.StepsPerEpoch), last.Epochs);
            e.SetMetric(0, last.Loss);
            e.SetMetric(1, last.Score);
        });
        var progress = new Progress(r =>
        {
            last = r;
            if (r.EpochEnd) { ch.Info(MessageSensitivity.None, r.ToString()); pch.Checkpoint(r.Loss, r.Score, r.Epoch); }
            _progress?.Report(r);
        });
        var representation = HyperRepresentation.Train(layout, train, validation, options, progress, _cancel);
        return new WeightEmbeddingTransformer(OutputColumnName, InputColumnName, representation) { NonFinite = NonFinite };
    }

    private sealed class Progress(Action<TrainingReport> report) : IProgress<TrainingReport>
    {
        public void Report(TrainingReport value) => report(value);
    }

    /// <summary>Reads the weight column (and ModelId and the validation labels when present) into memory, holding out validation models.</summary>
    private (RepresentationData Train, RepresentationData? Validation) ReadRows(IDataView input, WeightLayout layout, WeightEmbeddingOptions options)
    {
        int p = layout.ParameterCount;
        var weightsCol = input.Schema[InputColumnName];
        var modelCol = input.Schema.GetColumnOrNull(ZooColumns.ModelId);
        if (modelCol is { } mc && mc.Type != NumberDataViewType.Int32) modelCol = null;
        var labelCols = new List<DataViewSchema.Column>();
        foreach (var name in options.ValidationLabels)
        {
            var c = input.Schema.GetColumnOrNull(name)
                ?? throw new ArgumentOutOfRangeException(nameof(input), $"Validation label '{name}' not found; the data has: {string.Join(", ", input.Schema.Select(c => c.Name))}.");
            if (c.Type != NumberDataViewType.Single) throw new ArgumentOutOfRangeException(nameof(input), $"Validation label '{name}' must be a Single column, but is {c.Type}.");
            labelCols.Add(c);
        }
        var weights = new List<float>();
        var models = new List<int>();
        var labels = labelCols.Select(_ => new List<float>()).ToArray();
        var needed = new List<DataViewSchema.Column> { weightsCol };
        if (modelCol is { } m) needed.Add(m);
        needed.AddRange(labelCols);
        using (var cursor = input.GetRowCursor(needed))
        {
            var wg = cursor.GetGetter<VBuffer<float>>(weightsCol);
            var mg = modelCol is { } m2 ? cursor.GetGetter<int>(m2) : null;
            var lg = labelCols.Select(c => cursor.GetGetter<float>(c)).ToArray();
            var buffer = default(VBuffer<float>);
            var dense = new float[p];
            while (cursor.MoveNext())
            {
                _cancel.ThrowIfCancellationRequested();
                wg(ref buffer);
                if (buffer.Length != p) throw new InvalidOperationException($"Row {cursor.Position} of column '{InputColumnName}' has {buffer.Length} values; layout '{layout.Name}' needs {p}.");
                buffer.CopyTo(dense);
                for (int i = 0; i < p; i++)
                {
                    if (float.IsFinite(dense[i])) continue;
                    if (NonFinite == NonFiniteWeights.Error)
                        throw new InvalidOperationException($"Row {cursor.Position} of column '{InputColumnName}' holds {dense[i]} at position {i}: the weights must be finite. " +
                            "Drop such rows first (mlContext.Data.FilterNonFiniteWeights) or set NonFiniteWeights.ReplaceWithZero.");
                    dense[i] = 0;
                }
                weights.AddRange(dense);
                int model = 0;
                mg?.Invoke(ref model);
                models.Add(model);
                for (int l = 0; l < lg.Length; l++) { float v = 0; lg[l](ref v); labels[l].Add(v); }
            }
        }
        int rows = models.Count;
        if (rows == 0) throw new InvalidOperationException($"Cannot train a WeightEmbedding on an empty data view (column '{InputColumnName}').");
        var all = weights.ToArray();
        bool validate = modelCol is not null && options.ValidationFraction > 0 && models.Distinct().Count() >= 3;
        if (!validate)
        {
            if (options.ValidationLabels.Count > 0)
                throw new ArgumentException("Validation labels need held-out models: the data needs an Int32 'ModelId' column with at least 3 models and ValidationFraction > 0.");
            return (new RepresentationData(all, rows), null);
        }
        var split = ModelSplit.Create(models, options.Seed, 1 - options.ValidationFraction, options.ValidationFraction);
        RepresentationData Part(SplitPart part)
        {
            var idx = Enumerable.Range(0, rows).Where(r => split.PartOf(models[r]) == part).ToArray();
            var w = new float[idx.Length * p];
            for (int i = 0; i < idx.Length; i++) all.AsSpan(idx[i] * p, p).CopyTo(w.AsSpan(i * p, p));
            var l = new Dictionary<string, float[]>();
            for (int c = 0; c < labelCols.Count; c++) l[labelCols[c].Name] = idx.Select(r => labels[c][r]).ToArray();
            return new RepresentationData(w, idx.Length, l);
        }
        var validation = Part(SplitPart.Validation);
        return (Part(SplitPart.Train), validation.Rows > 0 ? validation : null);
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema) =>
        WeightVectorShapes.Vector(OutputColumnName, InputColumnName, inputSchema);

    /// <summary>ml.GpuDeviceId / ml.FallbackToCpu, honoured as Microsoft.ML.TorchSharp does; this version trains on the CPU.</summary>
    private static void GpuCheck(IHostEnvironment env)
    {
        var gpu = Setting<int?>(env, "GpuDeviceId");
        if (gpu is not null && Setting<bool?>(env, "FallbackToCpu") == false)
            throw new InvalidOperationException($"MLContext.GpuDeviceId is {gpu} and FallbackToCpu is false, but WeightEmbedding trains on the CPU in this version " +
                "(TorchSharp's CUDA package is not used); set mlContext.FallbackToCpu = true.");
    }

    /// <summary>
    /// An MLContext setting as its environment holds it (MLContext forwards GpuDeviceId / FallbackToCpu to an internal
    /// interface of its environment, which third parties cannot name): read by reflection, null when absent.
    /// </summary>
    private static T? Setting<T>(IHostEnvironment env, string name)
    {
        if (env is MLContext ml) return (T?)(object?)(name == "GpuDeviceId" ? ml.GpuDeviceId : ml.FallbackToCpu);
        const System.Reflection.BindingFlags flags = System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic;
        for (var type = env.GetType(); type is not null; type = type.BaseType)
            foreach (var property in type.GetProperties(flags))
                if ((property.Name == name || property.Name.EndsWith("." + name, StringComparison.Ordinal)) && property.GetIndexParameters().Length == 0)
                    return property.GetValue(env) is { } value ? (T)value : default;
        return default;
    }

    internal static MLContext MLContextFor(IHostEnvironment env) => env as MLContext ?? new MLContext();
}
