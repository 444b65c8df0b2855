using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace WeightSpace.MLNet;

/// <summary>
/// A fitted <see cref="WeightSpacePredictor"/> in a pipeline: adds <c>Score</c> — the predicted value (Single) of a regression,
/// or one probability per category (a vector) of a classifier, then also <c>PredictedLabel</c> (a key over the categories) —
/// so <c>ml.Regression.Evaluate</c> and <c>ml.MulticlassClassification.Evaluate</c> score it like a stock trainer's output.
/// Saved and loaded like the library's other transformers (<see cref="WeightVectorTransformer.Save(string)"/>).
/// </summary>
public sealed class WeightSpacePredictionTransformer : WeightVectorTransformer, IDisposable
{
    internal WeightSpacePredictionTransformer(string input, WeightSpacePredictor predictor, string scoreColumnName = "Score", string predictedLabelColumnName = "PredictedLabel")
        : base(scoreColumnName, input, predictor.Layout, predictor.Outputs)
    {
        Predictor = predictor;
        PredictedLabelColumnName = predictedLabelColumnName;
    }

    /// <summary>The trained predictor.</summary>
    public WeightSpacePredictor Predictor { get; }
    /// <summary>The key column of a classifier's most probable category.</summary>
    public string PredictedLabelColumnName { get; }

    private protected override bool ScalarOutput => !Predictor.IsClassifier;
    private protected override (string Name, IReadOnlyList<string> Classes)? PredictedLabel => Predictor.Classes is { } c ? (PredictedLabelColumnName, c) : null;

    internal override string Kind => nameof(WeightSpacePredictionTransformer);

    internal override VectorColumnMapper CreateMapper() => new Mapper(Predictor);

    private sealed class Mapper(WeightSpacePredictor predictor) : VectorColumnMapper
    {
        public override int BatchSize => predictor.Options.InferenceBatchSize;
        public override void Map(ReadOnlySpan<float> input, Span<float> output, long rowKey) => MapBatch(input, 1, output, rowKey);
        public override void MapBatch(ReadOnlySpan<float> input, int rows, Span<float> output, long firstRowKey) => predictor.Predict(input, rows).CopyTo(output);
    }

    /// <summary>Frees the native model.</summary>
    public void Dispose() => Predictor.Dispose();
}

/// <summary>
/// Trains a <see cref="WeightSpacePredictor"/> on a label of the input view: a Single column (regression) or a key column
/// (classification; map text categories with <c>ml.Transforms.Conversion.MapValueToKey</c> first, as for ML.NET's own
/// multiclass trainers). Validation models for early stopping come from <see cref="ValidationSet"/>, or
/// <see cref="WeightSpacePredictorOptions.ValidationFraction"/> of the models (by <c>ModelId</c>) are held out.
/// </summary>
public sealed class WeightSpacePredictorTrainer : IEstimator<WeightSpacePredictionTransformer>
{
    private readonly IHostEnvironment _env;
    private readonly bool _classifier;
    private readonly WeightLayout? _layout;
    private readonly IProgress<TrainingReport>? _progress;
    private readonly CancellationToken _cancel;

    internal WeightSpacePredictorTrainer(IHostEnvironment env, bool classifier, string label, string weights, WeightLayout? layout, WeightSpacePredictorOptions? options,
        IDataView? validationSet, string? pretrained, IProgress<TrainingReport>? progress, CancellationToken cancel)
    {
        if (string.IsNullOrWhiteSpace(label)) throw new ArgumentException("The label column needs a name.", nameof(label));
        if (string.IsNullOrWhiteSpace(weights)) throw new ArgumentException("The weight column needs a name.", nameof(weights));
        Options = options ?? new WeightSpacePredictorOptions();
        Options.Validate();
        if (pretrained is not null && !File.Exists(pretrained)) throw new FileNotFoundException($"The hyper-representation to fine-tune, '{pretrained}', was not found.", pretrained);
        _env = env;
        _classifier = classifier;
        LabelColumnName = label;
        WeightsColumnName = weights;
        _layout = layout;
        ValidationSet = validationSet;
        Pretrained = pretrained;
        _progress = progress;
        _cancel = cancel;
    }

    /// <summary>The label column.</summary>
    public string LabelColumnName { get; }
    /// <summary>The weight column.</summary>
    public string WeightsColumnName { get; }
    /// <summary>The options.</summary>
    public WeightSpacePredictorOptions Options { get; }
    /// <summary>Rows of held-out models for early stopping (null: held out of the training view).</summary>
    public IDataView? ValidationSet { get; }
    /// <summary>A saved hyper-representation (.wsemb or a WeightEmbedding transformer file) whose encoder is fine-tuned (null: a fresh encoder).</summary>
    public string? Pretrained { get; }

    /// <inheritdoc />
    public WeightSpacePredictionTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var layout = WeightLayoutAnnotation.Resolve(input.Schema, WeightsColumnName, _layout);
        WeightLayoutAnnotation.CheckColumn(input.Schema, WeightsColumnName, layout);
        var classes = _classifier ? Categories(input.Schema) : null;
        var (x, y, models, rows) = Read(input, layout, "training", classes?.Count);
        float[]? vx = null, vy = null;
        int vrows = 0;
        if (ValidationSet is { } given)
        {
            WeightLayoutAnnotation.CheckColumn(given.Schema, WeightsColumnName, layout);
            if (_classifier && !Categories(given.Schema).SequenceEqual(classes!))
                throw new ArgumentException($"The validation view's '{LabelColumnName}' has other categories than the training view's: map both with one MapValueToKey transformer.");
            (vx, vy, _, vrows) = Read(given, layout, "validation", classes?.Count);
        }
        else if (Options.ValidationFraction > 0 && models is not null && models.Distinct().Count() >= 3)
        {
            var split = ModelSplit.Create(models, Options.Seed, 1 - Options.ValidationFraction, Options.ValidationFraction);
            (x, y, rows, vx, vy, vrows) = Divide(x, y, rows, layout.ParameterCount, r => split.PartOf(models[r]) == SplitPart.Validation);
        }
        var host = _env.Register("WeightSpaceTransformer");
        using var ch = host.Start("Training");
        ch.Info(MessageSensitivity.None, $"WeightSpaceTransformer: training on {rows:N0} rows ({layout}) for '{LabelColumnName}', validating on {vrows:N0} rows of held-out models.");
        using var pretrained = Pretrained is null ? null : WeightEmbeddingTransformer.Load(WeightEmbeddingEstimator.MLContextFor(_env), Pretrained).Representation;
        var predictor = _classifier
            ? WeightSpacePredictor.TrainClassifier(layout, x, rows, y.Select(v => (int)v).ToArray(), classes!, vx, vrows, vy?.Select(v => (int)v).ToArray(), LabelColumnName, Options, pretrained, _progress, _cancel)
            : WeightSpacePredictor.TrainRegression(layout, new RepresentationData(x, rows, new Dictionary<string, float[]> { [LabelColumnName] = y }),
                vx is null ? null : new RepresentationData(vx, vrows, new Dictionary<string, float[]> { [LabelColumnName] = vy! }), LabelColumnName, Options, pretrained, _progress, _cancel);
        return new WeightSpacePredictionTransformer(WeightsColumnName, predictor);
    }

    /// <summary>The categories of a key label column (its key values, or "1", "2", … without them).</summary>
    private IReadOnlyList<string> Categories(DataViewSchema schema)
    {
        var c = schema.GetColumnOrNull(LabelColumnName)
            ?? throw new ArgumentOutOfRangeException(nameof(schema), $"Label column '{LabelColumnName}' not found; the data has: {string.Join(", ", schema.Select(x => x.Name))}.");
        if (c.Type is not KeyDataViewType key)
            throw new ArgumentOutOfRangeException(nameof(schema), $"Label column '{LabelColumnName}' is {c.Type}; the multiclass WeightSpaceTransformer needs a key column: " +
                $"map the categories first (ml.Transforms.Conversion.MapValueToKey(\"{LabelColumnName}\", \"YourTextColumn\")).");
        int count = checked((int)key.Count);
        if (c.Annotations.Schema.GetColumnOrNull("KeyValues") is { } kv && kv.Type is VectorDataViewType { ItemType: TextDataViewType })
        {
            VBuffer<ReadOnlyMemory<char>> names = default;
            c.GetKeyValues(ref names);
            return names.DenseValues().Select(n => n.ToString()).ToArray();
        }
        return Enumerable.Range(1, count).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
    }

    private static (float[], float[], int, float[], float[], int) Divide(float[] x, float[] y, int rows, int p, Func<int, bool> held)
    {
        var keep = Enumerable.Range(0, rows).Where(r => !held(r)).ToArray();
        var out_ = Enumerable.Range(0, rows).Where(held).ToArray();
        float[] Rows(int[] idx) { var w = new float[idx.Length * p]; for (int i = 0; i < idx.Length; i++) x.AsSpan(idx[i] * p, p).CopyTo(w.AsSpan(i * p, p)); return w; }
        return (Rows(keep), keep.Select(r => y[r]).ToArray(), keep.Length, Rows(out_), out_.Select(r => y[r]).ToArray(), out_.Length);
    }

    /// <summary>Weights, labels (a class index for a classifier) and model ids when present; errors name the column and row.</summary>
    private (float[] X, float[] Y, int[]? Models, int Rows) Read(IDataView data, WeightLayout layout, string what, int? classes)
    {
        int p = layout.ParameterCount;
        var w = data.Schema[WeightsColumnName];
        var l = data.Schema.GetColumnOrNull(LabelColumnName)
            ?? throw new ArgumentOutOfRangeException(nameof(data), $"Label column '{LabelColumnName}' not found in the {what} data; it has: {string.Join(", ", data.Schema.Select(c => c.Name))}.");
        if (classes is null && l.Type != NumberDataViewType.Single)
            throw new ArgumentOutOfRangeException(nameof(data), $"Label column '{LabelColumnName}' is {l.Type}; the regression WeightSpaceTransformer predicts a Single column " +
                "(for categories use ml.MulticlassClassification.Trainers.WeightSpaceTransformer).");
        var m = data.Schema.GetColumnOrNull(ZooColumns.ModelId);
        if (m is { } mc && mc.Type != NumberDataViewType.Int32) m = null;
        var xs = new List<float>();
        var ys = new List<float>();
        var ms = new List<int>();
        var needed = new List<DataViewSchema.Column> { w, l };
        if (m is { } m1) needed.Add(m1);
        using (var cursor = data.GetRowCursor(needed))
        {
            var wg = cursor.GetGetter<VBuffer<float>>(w);
            var fg = classes is null ? cursor.GetGetter<float>(l) : null;
            var kg = classes is null ? null : cursor.GetGetter<uint>(l);
            var mg = m is { } m2 ? cursor.GetGetter<int>(m2) : null;
            VBuffer<float> buffer = default;
            var dense = new float[p];
            while (cursor.MoveNext())
            {
                _cancel.ThrowIfCancellationRequested();
                wg(ref buffer);
                if (buffer.Length != p) throw new InvalidOperationException($"Row {cursor.Position} of column '{WeightsColumnName}' has {buffer.Length} values; layout '{layout.Name}' needs {p}.");
                buffer.CopyTo(dense);
                int bad = Array.FindIndex(dense, v => !float.IsFinite(v));
                if (bad >= 0)
                    throw new InvalidOperationException($"Row {cursor.Position} of column '{WeightsColumnName}' holds {dense[bad]} at position {bad}: the weights must be finite. " +
                        "Drop such rows first (mlContext.Data.FilterNonFiniteWeights).");
                float label = 0;
                if (fg is not null) fg(ref label);
                else
                {
                    uint key = 0;
                    kg!(ref key);
                    if (key == 0) throw new ArgumentException($"Label column '{LabelColumnName}' is missing (key 0) at row {cursor.Position} of the {what} data.");
                    label = key - 1;
                }
                if (!float.IsFinite(label)) throw new ArgumentException($"Label column '{LabelColumnName}' holds {label} at row {cursor.Position} of the {what} data (missing label?).");
                xs.AddRange(dense);
                ys.Add(label);
                int model = 0;
                mg?.Invoke(ref model);
                ms.Add(model);
            }
        }
        if (ys.Count == 0) throw new ArgumentException($"The {what} data is empty: a WeightSpaceTransformer needs rows.");
        return (xs.ToArray(), ys.ToArray(), m is null ? null : ms.ToArray(), ys.Count);
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema) => _classifier
        ? ShapeContext.MulticlassClassification.Trainers.SdcaMaximumEntropy(LabelColumnName, WeightsColumnName).GetOutputSchema(inputSchema)
        : ShapeContext.Regression.Trainers.Sdca(LabelColumnName, WeightsColumnName).GetOutputSchema(inputSchema);

    private static readonly MLContext ShapeContext = new();
}
