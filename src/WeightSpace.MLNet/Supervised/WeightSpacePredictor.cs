using System.Diagnostics;
using System.IO.Compression;
using System.IO.Hashing;
using System.Text.Json;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace WeightSpace.MLNet;

/// <summary>
/// The network of a <see cref="WeightSpacePredictor"/>: the autoencoder's encoder (its decoder is kept only so a fine-tuned
/// file has the shape of its source and is never trained), then head(latent [‖ s(W)]) = Linear → ReLU → Linear.
/// </summary>
internal sealed class PredictorNetwork : Module<Tensor, Tensor?, Tensor>
{
    private readonly WeightAutoencoder autoencoder;
    private readonly Sequential head;

    public PredictorNetwork(WeightAutoencoder autoencoder, int latent, int statistics, int width, int outputs) : base(nameof(PredictorNetwork))
    {
        this.autoencoder = autoencoder;
        head = Sequential(Linear(latent + statistics, width), ReLU(), Linear(width, outputs));
        RegisterComponents();
    }

    /// <summary>The parameters a forward pass uses (the encoder's and the head's, not the unused decoder's).</summary>
    /// <summary>The autoencoder whose encoder it uses.</summary>
    public WeightAutoencoder Autoencoder => autoencoder;

    public IEnumerable<Parameter> Trained() => named_parameters().Where(p => !TransformerAutoencoder.IsDecoderPart(p.name, nameof(autoencoder) + ".")).Select(p => p.parameter);

    public override Tensor forward(Tensor weights, Tensor? statistics)
    {
        var latent = autoencoder.Encode(weights);
        return head.call(statistics is null ? latent : cat(new[] { latent, statistics }, 1));
    }

    /// <summary>The network as it is now computed in C# (<see cref="AutoencoderInference"/> and the head), or null for an encoder it does not cover.</summary>
    public Inference? ForInference()
    {
        if (!CpuKernels.Enabled || autoencoder is not TransformerAutoencoder transformer) return null;
        var encoder = new AutoencoderInference(this, transformer, nameof(autoencoder) + ".");
        int input = (int)head.children().OfType<Linear>().First().weight!.shape[1], width = (int)head.children().OfType<Linear>().First().weight!.shape[0];
        int outputs = (int)head.children().OfType<Linear>().Last().weight!.shape[0];
        var layout = new GradientLayout();
        return new Inference(encoder, new CpuLinear(encoder.Parameters, "head.0", layout, input, width), new CpuLinear(encoder.Parameters, "head.2", layout, width, outputs));
    }

    /// <summary>Forward passes in C#: the encoder's latents, then head = Linear → ReLU → Linear over [latent ‖ statistics].</summary>
    internal sealed unsafe class Inference(AutoencoderInference encoder, CpuLinear hidden, CpuLinear output)
    {
        /// <summary>Outputs (rows × outputs) of <paramref name="rows"/> rows of normalised weights and their standardised statistics (rows × s, or empty).</summary>
        public float[] Run(ReadOnlySpan<float> weights, ReadOnlySpan<float> statistics, int rows, int threads)
        {
            int l = encoder.LatentDim, s = statistics.Length / Math.Max(1, rows), k = l + s;
            var latent = new float[rows * l];
            encoder.Encode(weights, rows, latent, threads);
            var input = new Pinned((long)Pad.Rows(rows) * Pad.Width(k));
            var h = new Pinned((long)Pad.Rows(rows) * hidden.OutPadded);
            var y = new Pinned((long)Pad.Rows(rows) * output.OutPadded);
            int ks = Pad.Width(k);
            for (int r = 0; r < rows; r++)
            {
                latent.AsSpan(r * l, l).CopyTo(input.Span.Slice(r * ks, l));
                statistics.Slice(r * s, s).CopyTo(input.Span.Slice(r * ks + l, s));
            }
            hidden.Forward(input.P, ks, rows, h.P, hidden.OutPadded, LinearOutput.Relu);
            output.Forward(h.P, hidden.OutPadded, rows, y.P, output.OutPadded, LinearOutput.Store);
            var result = new float[rows * output.Out];
            for (int r = 0; r < rows; r++) y.Span.Slice(r * output.OutPadded, output.Out).CopyTo(result.AsSpan(r * output.Out));
            return result;
        }
    }
}

/// <summary>
/// A supervised weight-space predictor: the hyper-representation's transformer encoder over neuron tokens (fresh, or the
/// encoder of a trained <see cref="HyperRepresentation"/> to fine-tune) with a head over its latent (and the model's s(W) when <see cref="WeightSpacePredictorOptions.Statistics"/> is set),
/// trained on one label — a number (mean squared error on the standardised label) or a category (cross-entropy) — with a
/// fresh random permutation of the hidden neurons of every row at every step, the best state on validation models kept
/// (early stopping), and predictions averaged over <see cref="WeightSpacePredictorOptions.TestViews"/> permutations of each
/// model. Use it through <c>ml.Regression.Trainers.WeightSpaceTransformer</c> /
/// <c>ml.MulticlassClassification.Trainers.WeightSpaceTransformer</c>, or directly.
/// </summary>
/// <example><code>
/// using var predictor = WeightSpacePredictor.TrainRegression(layout, train, validation, "TestAccuracy");
/// float[] accuracy = predictor.Predict(testWeights, testRows);   // one value per row
/// predictor.Save("accuracy.wspred");
/// </code></example>
public sealed class WeightSpacePredictor : IDisposable
{
    /// <summary>Version of the saved format.</summary>
    public const int FormatVersion = 1;
    private const string ConfigEntry = "config.json", ModelEntry = "model.bin";
    private readonly PredictorNetwork _network;
    private readonly WeightNormalizer _normalizer;
    private readonly WeightStatisticsFeaturizer? _statistics;
    private readonly float[] _statisticsMean, _statisticsScale;
    private readonly double _targetMean, _targetScale;
    private readonly object _gate = new();
    private (int Views, IReadOnlyList<Permutation> Set)? _views;   // the permutations of the last view count predicted with
    private bool _disposed;

    private WeightSpacePredictor(WeightLayout layout, WeightEmbeddingOptions encoder, WeightSpacePredictorOptions options, string label, IReadOnlyList<string>? classes,
        PredictorNetwork network, WeightNormalizer normalizer, float[] statisticsMean, float[] statisticsScale, double targetMean, double targetScale, IReadOnlyList<TrainingReport> history)
    {
        Layout = layout;
        Encoder = encoder;
        Options = options;
        Label = label;
        Classes = classes;
        _network = network;
        _normalizer = normalizer;
        _statistics = options.Statistics ? new WeightStatisticsFeaturizer(layout, StatisticsVariant.Unterthiner) : null;
        _statisticsMean = statisticsMean;
        _statisticsScale = statisticsScale;
        _targetMean = targetMean;
        _targetScale = targetScale;
        History = history;
        _network.eval();
    }

    /// <summary>The weight layout it reads.</summary>
    public WeightLayout Layout { get; }
    /// <summary>The encoder's architecture.</summary>
    public WeightEmbeddingOptions Encoder { get; }
    /// <summary>The options it was trained with.</summary>
    public WeightSpacePredictorOptions Options { get; }
    /// <summary>The label it predicts.</summary>
    public string Label { get; }
    /// <summary>The categories, in output order (null for a numeric label).</summary>
    public IReadOnlyList<string>? Classes { get; }
    /// <summary>Whether it predicts categories.</summary>
    public bool IsClassifier => Classes is not null;
    /// <summary>Values per prediction: 1 for a number, one probability per category.</summary>
    public int Outputs => Classes?.Count ?? 1;
    /// <summary>One report per validation (score = R² or accuracy on the validation models).</summary>
    public IReadOnlyList<TrainingReport> History { get; }

    /// <summary>Trains on a numeric label of <paramref name="train"/>, stopping early on <paramref name="validation"/> (held-out models) when given.</summary>
    /// <exception cref="ArgumentException">Wrong sizes, non-finite weights or labels, a missing or constant label, a pretrained representation of another layout.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancel"/> was triggered.</exception>
    public static WeightSpacePredictor TrainRegression(WeightLayout layout, RepresentationData train, RepresentationData? validation, string label,
        WeightSpacePredictorOptions? options = null, HyperRepresentation? pretrained = null, IProgress<TrainingReport>? progress = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(train);
        float[] Labels(RepresentationData d, string what) => d.Labels.TryGetValue(label, out var v) ? v
            : throw new ArgumentException($"Label '{label}' is missing from the {what} rows; they have: {string.Join(", ", d.Labels.Keys)}.");
        return Train(layout, train.Weights, train.Rows, Labels(train, "training"), validation?.Weights, validation?.Rows ?? 0,
            validation is null ? null : Labels(validation, "validation"), label, null, options, pretrained, progress, cancel);
    }

    /// <summary>
    /// Trains on a categorical label: <paramref name="classes"/> holds each row's category as an index into
    /// <paramref name="classNames"/> (likewise <paramref name="validationClasses"/>).
    /// </summary>
    /// <exception cref="ArgumentException">Wrong sizes, non-finite weights, a category index out of range, fewer than two categories.</exception>
    public static WeightSpacePredictor TrainClassifier(WeightLayout layout, float[] weights, int rows, int[] classes, IReadOnlyList<string> classNames,
        float[]? validationWeights, int validationRows, int[]? validationClasses, string label = "Label", WeightSpacePredictorOptions? options = null,
        HyperRepresentation? pretrained = null, IProgress<TrainingReport>? progress = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(classes);
        ArgumentNullException.ThrowIfNull(classNames);
        if (classNames.Count < 2) throw new ArgumentException($"Label '{label}' has {classNames.Count} category: a classifier needs at least two.");
        foreach (var (set, what) in new[] { (classes, "training"), (validationClasses ?? Array.Empty<int>(), "validation") })
            if (set.FirstOrDefault(c => c < 0 || c >= classNames.Count, -1) is var bad && set.Any(c => c < 0 || c >= classNames.Count))
                throw new ArgumentException($"The {what} rows of label '{label}' hold category index {bad}; there are {classNames.Count} categories (0 … {classNames.Count - 1}).");
        return Train(layout, weights, rows, classes.Select(c => (float)c).ToArray(), validationWeights, validationRows, validationClasses?.Select(c => (float)c).ToArray(),
            label, classNames.ToArray(), options, pretrained, progress, cancel);
    }

    private static WeightSpacePredictor Train(WeightLayout layout, float[] weights, int rows, float[] targets, float[]? validationWeights, int validationRows,
        float[]? validationTargets, string label, IReadOnlyList<string>? classes, WeightSpacePredictorOptions? options, HyperRepresentation? pretrained,
        IProgress<TrainingReport>? progress, CancellationToken cancel)
    {
        ArgumentNullException.ThrowIfNull(layout);
        var o = options ?? new WeightSpacePredictorOptions();
        o.Validate();
        if (pretrained is not null && !pretrained.Layout.Equals(layout))
            throw new ArgumentException($"The hyper-representation to fine-tune encodes {pretrained.Layout}, but the rows hold {layout}.", nameof(pretrained));
        int p = layout.ParameterCount;
        if ((validationWeights is null) != (validationTargets is null))
            throw new ArgumentException("Validation rows need both their weights and their labels (or neither).");
        new RepresentationData(weights, rows, new Dictionary<string, float[]> { [label] = targets }).Check(p, "training");
        if (validationWeights is not null) new RepresentationData(validationWeights, validationRows, new Dictionary<string, float[]> { [label] = validationTargets! }).Check(p, "validation");
        if (rows < 2) throw new ArgumentException($"A weight-space predictor needs at least 2 training rows, not {rows}.");
        if (Array.FindIndex(targets, v => !float.IsFinite(v)) is var nan and >= 0) throw new ArgumentException($"Label '{label}' holds {targets[nan]} at training row {nan}; labels must be finite.");
        if (validationTargets is not null && Array.FindIndex(validationTargets, v => !float.IsFinite(v)) is var vnan and >= 0)
            throw new ArgumentException($"Label '{label}' holds {validationTargets[vnan]} at validation row {vnan}; labels must be finite.");
        if (classes is null && targets.All(v => v == targets[0])) throw new ArgumentException($"Label '{label}' is constant ({targets[0]}) on the training rows: there is nothing to predict.");
        var encoder = pretrained?.Options ?? o.Encoder ?? WeightSpacePredictorOptions.DefaultEncoder(layout);
        encoder.Validate();
        using var threads = ThreadSetting.Apply(o.Threads);

        var normalizer = pretrained?.Normalizer ?? WeightNormalizer.Fit(layout, weights, rows, encoder.Normalization);
        var statistics = o.Statistics ? new WeightStatisticsFeaturizer(layout, StatisticsVariant.Unterthiner) : null;
        var trainStatistics = Statistics(statistics, weights, rows);
        var (statisticsMean, statisticsScale) = Standardisation(trainStatistics, rows, statistics?.FeatureCount ?? 0);
        Standardise(trainStatistics, statisticsMean, statisticsScale);
        double targetMean = 0, targetScale = 1;
        if (classes is null)
        {
            targetMean = targets.Average(v => (double)v);
            targetScale = Math.Sqrt(targets.Average(v => (v - targetMean) * (v - targetMean)));
        }

        random.manual_seed(o.Seed);
        var autoencoder = WeightAutoencoder.Create(layout, encoder);
        if (pretrained is not null) pretrained.CopyModelTo(autoencoder);
        var network = new PredictorNetwork(autoencoder, encoder.LatentDim, statistics?.FeatureCount ?? 0, o.HeadWidth, classes?.Count ?? 1);
        var predictor = new WeightSpacePredictor(layout, encoder, o, label, classes, network, normalizer, statisticsMean, statisticsScale, targetMean, targetScale, new List<TrainingReport>());
        try
        {
            var history = (List<TrainingReport>)predictor.History;
            new Loop(predictor, weights, rows, targets, trainStatistics, validationWeights, validationRows, validationTargets, history).Run(progress, cancel);
            return predictor;
        }
        catch
        {
            predictor.Dispose();
            throw;
        }
    }

    /// <summary>The training loop: permuted batches, AdamW with warm-up + cosine, validation every few steps, the best state kept.</summary>
    private sealed class Loop(WeightSpacePredictor m, float[] x, int rows, float[] y, float[] statistics, float[]? vx, int vrows, float[]? vy, List<TrainingReport> history)
    {
        public void Run(IProgress<TrainingReport>? progress, CancellationToken cancel)
        {
            var o = m.Options;
            int p = m.Layout.ParameterCount, s = m._statistics?.FeatureCount ?? 0;
            int batch = Math.Min(o.BatchSize, rows), stepsPerEpoch = Math.Max(1, rows / batch);
            int epochs = (int)Math.Clamp((long)Math.Ceiling(o.Steps / (double)stepsPerEpoch), 1, o.MaxEpochs);
            long total = (long)epochs * stepsPerEpoch;
            int every = o.EvaluateEvery > 0 ? o.EvaluateEvery : Math.Min(stepsPerEpoch, 200);
            bool validating = vx is not null && vrows > 0;
            // The transformer's steps run in C# (CpuPredictorTraining); libtorch's autograd for other encoders.
            var cpu = CpuPredictorTraining.Supports(m._network.Autoencoder)
                ? new CpuPredictorTraining(m._network, (TransformerAutoencoder)m._network.Autoencoder, s, m.Outputs, m.IsClassifier, o.HeadWidth, batch, o.WeightDecay,
                    o.Threads > 0 ? o.Threads : Environment.ProcessorCount)
                : null;
            using var optimizer = new AdamW(cpu is null ? m._network.Trained().ToList() : new List<Parameter>(), o.WeightDecay);
            var augmenter = new WeightAugmenter(m.Layout, new AugmentationOptions { Permutation = PermutationMode.Random, NoiseSigma = 0, EraseProbability = 0, Seed = o.Seed });
            var clock = Stopwatch.StartNew();
            List<Tensor>? best = null;
            double bestScore = double.NegativeInfinity, lossSum = 0;
            int sinceBest = 0, lossSteps = 0;
            long step = 0;
            var xb = new float[batch * p];
            var sb = new float[batch * Math.Max(1, s)];
            var yb = new float[batch];
            bool stop = false;
            try
            {
                for (int epoch = 1; epoch <= epochs && !stop; epoch++)
                {
                    var order = Enumerable.Range(0, rows).ToArray();
                    Rng.For(o.Seed, 0x5E9D, epoch).Shuffle(order);
                    for (int k = 0; k < stepsPerEpoch && !stop; k++)
                    {
                        cancel.ThrowIfCancellationRequested();
                        for (int i = 0; i < batch; i++)
                        {
                            int r = order[k * batch + i];
                            augmenter.Augment(x.AsSpan(r * p, p), xb.AsSpan(i * p, p), (long)epoch * rows + r);
                            if (s > 0) statistics.AsSpan(r * s, s).CopyTo(sb.AsSpan(i * s, s));
                            yb[i] = m.IsClassifier ? y[r] : (float)((y[r] - m._targetMean) / m._targetScale);
                        }
                        m._normalizer.Apply(xb);
                        double lr = RepresentationTrainer.WarmupCosine(o.LearningRate, step, Math.Max(1, 0.05 * total), total);
                        double lv = cpu is not null ? CpuStep(cpu, xb, sb, yb, batch, s, lr) : TorchStep(optimizer, xb, sb, yb, batch, p, s, lr);
                        if (!double.IsFinite(lv))
                            throw new InvalidOperationException($"The training loss of '{m.Label}' became {lv} at epoch {epoch}, step {k + 1}: lower LearningRate (now {lr:G3}).");
                        lossSum += lv;
                        lossSteps++;
                        step++;
                        bool last = step == total, outOfTime = o.TimeBudget is { } budget && clock.Elapsed >= budget;
                        if (step % every != 0 && !last && !outOfTime) continue;
                        cpu?.CopyToModel();
                        double score = validating ? m.Score(vx!, vrows, vy!, views: 1) : -lossSum / Math.Max(1, lossSteps);
                        bool improved = score > bestScore;
                        if (improved)
                        {
                            bestScore = score;
                            sinceBest = 0;
                            if (validating)
                            {
                                if (best is not null) foreach (var t in best) t.Dispose();
                                best = m._network.parameters().Select(q => q.detach().clone()).ToList();
                            }
                        }
                        else sinceBest++;
                        var report = new TrainingReport
                        {
                            Epoch = epoch, Epochs = epochs, Step = k + 1, StepsPerEpoch = stepsPerEpoch, EpochEnd = k + 1 == stepsPerEpoch,
                            Loss = lossSum / Math.Max(1, lossSteps), LearningRate = lr, Score = score, IsBest = improved && validating,
                            ValidationProbeR2 = validating ? new Dictionary<string, double> { [m.Label] = score } : new Dictionary<string, double>(),
                            SamplesPerSecond = step * batch / Math.Max(1e-9, clock.Elapsed.TotalSeconds), Elapsed = clock.Elapsed,
                            Remaining = TimeSpan.FromSeconds(clock.Elapsed.TotalSeconds / step * (total - step)), Fraction = (double)step / total, Seed = o.Seed,
                            Candidate = 1, Candidates = 1,
                        };
                        history.Add(report);
                        progress?.Report(report);
                        lossSum = 0;
                        lossSteps = 0;
                        stop = outOfTime || (validating && o.EarlyStoppingPatience > 0 && sinceBest >= o.EarlyStoppingPatience);
                    }
                }
                if (best is not null)
                {
                    using var noGrad = no_grad();
                    foreach (var (q, saved) in m._network.parameters().Zip(best)) q.copy_(saved);
                }
                m._network.eval();
            }
            finally
            {
                if (best is not null) foreach (var t in best) t.Dispose();
            }
        }

        private static double CpuStep(CpuPredictorTraining cpu, float[] xb, float[] sb, float[] yb, int batch, int s, double lr)
        {
            double loss = cpu.Backward(xb, sb.AsSpan(0, batch * s), yb, batch);
            cpu.Step(lr);
            return loss;
        }

        private double TorchStep(AdamW optimizer, float[] xb, float[] sb, float[] yb, int batch, int p, int s, double lr)
        {
            m._network.train();
            using var scope = NewDisposeScope();
            var output = m._network.call(tensor(xb, new long[] { batch, p }), s > 0 ? tensor(sb, new long[] { batch, s }) : null);
            var loss = m.IsClassifier
                ? functional.cross_entropy(output, tensor(yb.Select(v => (long)v).ToArray()))
                : functional.mse_loss(output.squeeze(1), tensor(yb), Reduction.Mean);
            optimizer.ZeroGrad();
            loss.backward();
            optimizer.Step(lr);
            return loss.item<float>();
        }
    }

    /// <summary>R² (numbers) or accuracy (categories) of the predictions for these rows.</summary>
    private double Score(float[] weights, int rows, float[] targets, int views)
    {
        var predicted = Predict(weights, rows, views);
        if (IsClassifier)
        {
            int right = 0;
            for (int r = 0; r < rows; r++)
                if (ArgMax(predicted.AsSpan(r * Outputs, Outputs)) == (int)targets[r]) right++;
            return (double)right / rows;
        }
        return ProbeMetrics.RSquared(targets.Select(v => (double)v).ToArray(), predicted.Select(v => (double)v).ToArray());
    }

    private static void SoftMax(Span<float> values) => System.Numerics.Tensors.TensorPrimitives.SoftMax(values, values);

    internal static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }

    /// <summary>Predicts <paramref name="rows"/> weight vectors (row-major): one value per row, or one probability per category and row.</summary>
    /// <exception cref="ArgumentException">The vectors do not have the layout's length, or hold NaN/∞.</exception>
    public float[] Predict(ReadOnlySpan<float> weights, int rows) => Predict(weights, rows, Options.TestViews);

    /// <summary>Predicts with an explicit number of views (1 = the weights as given; see <see cref="WeightSpacePredictorOptions.TestViews"/>).</summary>
    public float[] Predict(ReadOnlySpan<float> weights, int rows, int views)
    {
        int p = Layout.ParameterCount, s = _statistics?.FeatureCount ?? 0, outputs = Outputs;
        if (rows < 0 || weights.Length != (long)rows * p)
            throw new ArgumentException($"{rows} rows of layout '{Layout.Name}' need {(long)rows * p} values ({p} per row), not {weights.Length}.");
        for (int i = 0; i < weights.Length; i++)
            if (!float.IsFinite(weights[i])) throw new ArgumentException($"Row {i / p} holds {weights[i]} at position {i % p}: a weight-space predictor reads finite weights only.");
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (views < 1) throw new ArgumentOutOfRangeException(nameof(views), views, "A prediction averages at least one view (the weights as given).");
            if (_views?.Views != views) _views = (views, HyperRepresentation.EmbeddingPermutations(Layout, views, Options.Seed));
            var permutations = _views.Value.Set;
            var sum = new float[(long)rows * outputs];
            var inference = _network.ForInference();
            // The C# network takes chunks of up to 4 M values; libtorch (an encoder it does not cover) its inference batches.
            int batch = inference is null ? Options.InferenceBatchSize : Math.Max(Options.InferenceBatchSize, (1 << 22) / p);
            int threads = Options.Threads > 0 ? Options.Threads : Environment.ProcessorCount;
            var xb = new float[Math.Min(rows, batch) * p];
            using var noGrad = no_grad();
            _network.eval();
            for (int start = 0; start < rows; start += batch)
            {
                int n = Math.Min(batch, rows - start);
                var chunk = weights.Slice(start * p, n * p);
                var stats = Statistics(_statistics, chunk, n);
                Standardise(stats, _statisticsMean, _statisticsScale);
                for (int v = 0; v <= permutations.Count; v++)
                {
                    if (v == 0) chunk.CopyTo(xb);
                    else for (int r = 0; r < n; r++) permutations[v - 1].Apply(chunk.Slice(r * p, p), xb.AsSpan(r * p, p));
                    _normalizer.Apply(xb.AsSpan(0, n * p));
                    float[] values;
                    if (inference is not null) values = inference.Run(xb.AsSpan(0, n * p), stats, n, threads);
                    else
                    {
                        using var scope = NewDisposeScope();
                        values = _network.call(tensor(xb.AsSpan(0, n * p).ToArray(), new long[] { n, p }), s > 0 ? tensor(stats, new long[] { n, s }) : null).data<float>().ToArray();
                    }
                    if (IsClassifier) for (int r = 0; r < n; r++) SoftMax(values.AsSpan(r * outputs, outputs));
                    var target = sum.AsSpan(start * outputs, n * outputs);
                    for (int i = 0; i < values.Length; i++) target[i] += values[i];
                }
            }
            float scale = 1f / (permutations.Count + 1);
            for (int i = 0; i < sum.Length; i++)
                sum[i] = IsClassifier ? sum[i] * scale : (float)(sum[i] * scale * _targetScale + _targetMean);
            return sum;
        }
    }

    private static float[] Statistics(WeightStatisticsFeaturizer? featurizer, ReadOnlySpan<float> weights, int rows)
    {
        if (featurizer is null) return Array.Empty<float>();
        int p = featurizer.Layout.ParameterCount, s = featurizer.FeatureCount;
        var features = new float[rows * s];
        var scratch = new float[featurizer.MaxTensor];
        for (int r = 0; r < rows; r++) featurizer.Compute(weights.Slice(r * p, p), features.AsSpan(r * s, s), scratch);
        return features;
    }

    private static (float[] Mean, float[] Scale) Standardisation(float[] features, int rows, int count)
    {
        var mean = new float[count];
        var scale = new float[count];
        for (int j = 0; j < count; j++)
        {
            double m = 0, v = 0;
            for (int r = 0; r < rows; r++) m += features[r * count + j];
            m /= rows;
            for (int r = 0; r < rows; r++) { double d = features[r * count + j] - m; v += d * d; }
            double sd = Math.Sqrt(v / rows);
            mean[j] = (float)m;
            scale[j] = sd > 1e-6 * Math.Max(1, Math.Abs(m)) ? (float)sd : 1f;   // a constant statistic stays 0
        }
        return (mean, scale);
    }

    private static void Standardise(float[] features, float[] mean, float[] scale)
    {
        int count = mean.Length;
        if (count == 0) return;
        for (int i = 0; i < features.Length; i++) features[i] = (features[i] - mean[i % count]) / scale[i % count];
    }

    // ---------------- saving ----------------

    private sealed record SavedConfig(int FormatVersion, string Kind, WeightLayout Layout, WeightEmbeddingOptions Encoder, WeightSpacePredictorOptions Options,
        string Label, IReadOnlyList<string>? Classes, WeightNormalization Normalization, float[] NormalizerMean, float[] NormalizerScale,
        float[] StatisticsMean, float[] StatisticsScale, double TargetMean, double TargetScale, string ModelChecksum, IReadOnlyList<TrainingReport> History);

    /// <summary>Saves to a file, atomically: a zip of config.json and model.bin, sealed by a checksum of every byte that <see cref="Load(string)"/> checks first.</summary>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        AtomicFile.Write(path, Save);
    }

    /// <summary>Saves to a stream (see <see cref="Save(string)"/>).</summary>
    public void Save(Stream stream)
    {
        byte[] modelBytes;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            modelBytes = ModuleBytes.Of(_network);
        }
        var config = new SavedConfig(FormatVersion, nameof(WeightSpacePredictor), Layout, Encoder, Options, Label, Classes, _normalizer.Kind, _normalizer.Mean, _normalizer.Scale,
            _statisticsMean, _statisticsScale, _targetMean, _targetScale, XxHash3.HashToUInt64(modelBytes).ToString("x16"), History);
        SealedZip.Write(stream, zip =>
        {
            using (var entry = zip.CreateEntry(ConfigEntry).Open()) JsonSerializer.Serialize(entry, config, HyperRepresentation.Json);
            using (var entry = zip.CreateEntry(ModelEntry, CompressionLevel.NoCompression).Open()) entry.Write(modelBytes);
        });
    }

    /// <summary>Loads a saved predictor.</summary>
    /// <exception cref="InvalidDataException">The file is missing, truncated, corrupt, of a newer format, or not a predictor; the message names the file.</exception>
    public static WeightSpacePredictor Load(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path)) throw new InvalidDataException($"{path}: no such weight-space predictor file.");
        using var fs = File.OpenRead(path);
        return Load(fs, path);
    }

    /// <summary>Loads from a stream; <paramref name="name"/> names it in errors.</summary>
    public static WeightSpacePredictor Load(Stream stream, string name = "stream")
    {
        var (c, modelBytes) = SealedZip.Read(stream, name, "weight-space predictor", zip =>
        {
            var configEntry = zip.GetEntry(ConfigEntry) ?? throw new InvalidDataException($"{name}: not a weight-space predictor file ({ConfigEntry} is missing).");
            SavedConfig? config;
            using (var s = configEntry.Open())
            {
                var node = System.Text.Json.Nodes.JsonNode.Parse(s) ?? throw new InvalidDataException($"{name}: {ConfigEntry} is empty.");
                if (node["kind"]?.GetValue<string>() != nameof(WeightSpacePredictor))
                    throw new InvalidDataException($"{name}: not a weight-space predictor file (kind '{node["kind"]}'); a hyper-representation loads with HyperRepresentation.Load.");
                int version = node["formatVersion"]?.GetValue<int>() ?? throw new InvalidDataException($"{name}: {ConfigEntry} has no formatVersion.");
                if (version > FormatVersion) throw new InvalidDataException($"{name}: format version {version} is newer than the {FormatVersion} this library reads; update WeightSpace.MLNet.");
                config = node.Deserialize<SavedConfig>(HyperRepresentation.Json);
            }
            return (config, ModuleBytes.ReadEntry(zip.GetEntry(ModelEntry) ?? throw new InvalidDataException($"{name}: the file holds no model ({ModelEntry} is missing).")));
        });
        if (c?.Layout is null || c.Encoder is null || c.Options is null || c.Label is null || c.StatisticsMean is null || c.StatisticsScale is null)
            throw new InvalidDataException($"{name}: {ConfigEntry} is incomplete.");
        if (XxHash3.HashToUInt64(modelBytes).ToString("x16") != c.ModelChecksum) throw new InvalidDataException($"{name}: the model's checksum does not match; the file is corrupt.");
        if (c.NormalizerMean.Length != c.Layout.ParameterCount || c.NormalizerScale.Length != c.Layout.ParameterCount)
            throw new InvalidDataException($"{name}: the normaliser does not match layout '{c.Layout.Name}'.");
        int statistics = c.Options.Statistics ? new WeightStatisticsFeaturizer(c.Layout, StatisticsVariant.Unterthiner).FeatureCount : 0;
        if (c.StatisticsMean.Length != statistics || c.StatisticsScale.Length != statistics)
            throw new InvalidDataException($"{name}: {c.StatisticsMean.Length} standardised statistics saved, layout '{c.Layout.Name}' has {statistics}.");
        var network = new PredictorNetwork(WeightAutoencoder.Create(c.Layout, c.Encoder), c.Encoder.LatentDim, statistics, c.Options.HeadWidth, c.Classes?.Count ?? 1);
        try
        {
            ModuleBytes.Into(network, modelBytes);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            network.Dispose();
            throw new InvalidDataException($"{name}: the model weights do not fit the saved configuration ({e.Message}).", e);
        }
        return new WeightSpacePredictor(c.Layout, c.Encoder, c.Options, c.Label, c.Classes, network, WeightNormalizer.Create(c.Normalization, c.NormalizerMean, c.NormalizerScale),
            c.StatisticsMean, c.StatisticsScale, c.TargetMean, c.TargetScale, c.History ?? Array.Empty<TrainingReport>());
    }

    /// <summary>Frees the native model.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            _network.Dispose();
        }
    }
}
