using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;
using static WeightSpace.MLNet.TorchScalars;

namespace WeightSpace.MLNet;

/// <summary>
/// The training loop of METHOD §5: two augmented views per row, the task's loss, AdamW with a schedule, validation on
/// held-out models every epoch (reconstruction R² and ridge probes), the best state kept, early stopping, a time budget
/// and cancellation. Every step's tensors live in one dispose scope; the next batch's views are augmented on another
/// thread while the current step runs.
/// </summary>
internal sealed class RepresentationTrainer
{
    private readonly WeightLayout _layout;
    private readonly WeightEmbeddingOptions _o;
    private readonly int _p;

    public RepresentationTrainer(WeightLayout layout, WeightEmbeddingOptions options)
    {
        _layout = layout;
        _o = options;
        _p = layout.ParameterCount;
    }

    public HyperRepresentation Train(RepresentationData train, RepresentationData? validation, IProgress<TrainingReport>? progress, CancellationToken cancel)
    {
        _o.Validate();
        train.Check(_p, "training");
        validation?.Check(_p, "validation");
        if (train.Rows < 2) throw new ArgumentException($"A hyper-representation needs at least 2 training rows, not {train.Rows}.");
        foreach (var label in _o.ValidationLabels)
        {
            if (!train.Labels.ContainsKey(label)) throw new ArgumentException($"Validation label '{label}' is missing from the training rows.");
            if (validation is not null && !validation.Labels.ContainsKey(label)) throw new ArgumentException($"Validation label '{label}' is missing from the validation rows.");
        }
        using var threads = ThreadSetting.Apply(_o.Threads);
        random.manual_seed(_o.Seed);

        var normalizer = WeightNormalizer.Fit(_layout, train.Weights, train.Rows, _o.Normalization);
        var x = (float[])train.Weights.Clone();
        normalizer.Apply(x);
        var model = WeightAutoencoder.Create(_layout, _o);
        var head = _o.UsesContrast ? new ProjectionHead(_o.LatentDim, _o.ProjectionHead) : null;
        var parameters = model.parameters().Concat(head?.parameters() ?? Enumerable.Empty<TorchSharp.Modules.Parameter>()).ToList();
        using var optimizer = new AdamW(parameters, _o.WeightDecay);
        var augmenter = new WeightAugmenter(_layout, CloneAugmentation(_o.Augmentation, _o.Seed));
        var probe = validation is null ? null : new ValidationProbe(_layout, _o, normalizer, train, validation);

        int batch = Math.Min(_o.BatchSize, train.Rows);
        int steps = train.Rows / batch;                                   // drop-last, as R21
        long totalSteps = (long)steps * _o.Epochs;
        using var inverseTemperature = (1.0 / _o.Temperature).ToScalar();
        using var gamma = _o.Gamma.ToScalar();
        using var oneMinusGamma = (1 - _o.Gamma).ToScalar();
        var schedule = new Schedule(_o, steps);

        var history = new List<TrainingReport>();
        List<Tensor>? best = null;
        double bestScore = double.NegativeInfinity;
        int sinceBest = 0;
        var clock = Stopwatch.StartNew();
        long samples = 0;
        var lastReport = Stopwatch.StartNew();

        for (int epoch = 1; epoch <= _o.Epochs; epoch++)
        {
            model.train();
            head?.train();
            var order = Enumerable.Range(0, train.Rows).ToArray();
            Rng.For(_o.Seed, 0xE90C, epoch).Shuffle(order);
            double lossSum = 0, mseSum = 0, contrastSum = 0;
            var views = Task.Run(() => MakeViews(augmenter, x, order, 0, batch, epoch, train.Rows));
            int step = 0;
            for (; step < steps; step++)
            {
                cancel.ThrowIfCancellationRequested();
                var (a, b) = views.Result;
                if (step + 1 < steps) { int next = step + 1; views = Task.Run(() => MakeViews(augmenter, x, order, next, batch, epoch, train.Rows)); }
                double lr = schedule.LearningRate(epoch, step, clock.Elapsed);
                using (var scope = NewDisposeScope())
                {
                    var input = cat(new[] { tensor(a, new long[] { batch, _p }), tensor(b, new long[] { batch, _p }) }, 0); // [2B, P]
                    var latent = model.Encode(input);
                    Tensor loss;
                    Tensor? mse = null, contrast = null;
                    if (_o.UsesReconstruction) mse = nn.functional.mse_loss(model.Decode(latent), input, nn.Reduction.Mean);
                    if (_o.UsesContrast)
                    {
                        var projected = head!.call(latent);
                        var (pa, pb) = (projected.narrow(0, 0, batch), projected.narrow(0, batch, batch));
                        contrast = _o.Task == RepresentationTask.ReconstructionAndPositiveContrast
                            ? ContrastiveLosses.PositiveOnly(pa, pb)
                            : ContrastiveLosses.NtXent(pa, pb, inverseTemperature);
                    }
                    loss = (mse, contrast) switch
                    {
                        ({ } m, null) => m,
                        (null, { } c) => c,
                        ({ } m, { } c) => c.mul(gamma).add(m, oneMinusGamma),
                        _ => throw new InvalidOperationException("A task needs a loss."),
                    };
                    optimizer.ZeroGrad();
                    loss.backward();
                    optimizer.Step(lr);
                    double lv = loss.item<float>();
                    if (!double.IsFinite(lv))
                        throw new InvalidOperationException($"The training loss became {lv} at epoch {epoch}, step {step + 1}: lower LearningRate (now {lr:G3}) or use a normalisation.");
                    lossSum += lv;
                    if (mse is not null) mseSum += mse.item<float>();
                    if (contrast is not null) contrastSum += contrast.item<float>();
                }
                samples += 2L * batch;
                if (progress is not null && lastReport.ElapsedMilliseconds > 1000 && step + 1 < steps)
                {
                    lastReport.Restart();
                    progress.Report(Report(epoch, step + 1, steps, lossSum, mseSum, contrastSum, lr, samples, clock.Elapsed, totalSteps) with { });
                }
                if (_o.TimeBudget is { } budget && clock.Elapsed >= budget) { step++; break; }
            }

            var report = Report(epoch, step, steps, lossSum, mseSum, contrastSum, schedule.LastRate, samples, clock.Elapsed, totalSteps) with { EpochEnd = true };
            if (probe is not null)
            {
                model.eval();
                var (reconstruction, probes) = probe.Evaluate(model);
                report = report with { ValidationReconstructionR2 = reconstruction, ValidationProbeR2 = probes };
            }
            double score = probe is null ? -report.Loss
                : report.ValidationProbeR2.Count > 0 ? report.ValidationProbeR2.Values.Average()
                : _o.UsesReconstruction ? report.ValidationReconstructionR2 : -report.Loss;
            bool improved = probe is null || score > bestScore;
            report = report with { Score = score, IsBest = improved && probe is not null };
            if (improved)
            {
                bestScore = score;
                sinceBest = 0;
                if (probe is not null)
                {
                    if (best is not null) foreach (var t in best) t.Dispose();
                    best = model.parameters().Select(p => p.detach().clone()).ToList();
                }
            }
            else sinceBest++;
            schedule.EndEpoch(report.Loss);
            history.Add(report);
            progress?.Report(report);
            bool outOfTime = _o.TimeBudget is { } limit && clock.Elapsed >= limit;
            if (outOfTime || (_o.EarlyStoppingPatience > 0 && sinceBest >= _o.EarlyStoppingPatience)) break;
        }

        if (best is not null)
        {
            using var noGrad = no_grad();
            foreach (var (p, saved) in model.parameters().Zip(best)) { p.copy_(saved); saved.Dispose(); }
        }
        head?.Dispose();
        model.eval();
        return new HyperRepresentation(_layout, _o, normalizer, model, history, RowFingerprints.From(_p, train, validation));
    }

    private TrainingReport Report(int epoch, int step, int steps, double loss, double mse, double contrast, double lr, long samples, TimeSpan elapsed, long totalSteps)
    {
        int n = Math.Max(1, step);
        long done = (long)(epoch - 1) * steps + step;
        double perStep = done > 0 ? elapsed.TotalSeconds / done : 0;
        double remaining = perStep * (totalSteps - done);
        if (_o.TimeBudget is { } budget) remaining = Math.Min(remaining, Math.Max(0, (budget - elapsed).TotalSeconds));
        return new TrainingReport
        {
            Epoch = epoch, Epochs = _o.Epochs, Step = step, StepsPerEpoch = steps,
            Loss = loss / n,
            ReconstructionLoss = _o.UsesReconstruction ? mse / n : double.NaN,
            ContrastLoss = _o.UsesContrast ? contrast / n : double.NaN,
            LearningRate = lr,
            SamplesPerSecond = elapsed.TotalSeconds > 0 ? samples / elapsed.TotalSeconds : 0,
            Elapsed = elapsed,
            Remaining = TimeSpan.FromSeconds(remaining),
        };
    }

    /// <summary>Two augmented views of the batch's rows; row keys differ per epoch so every epoch sees fresh augmentations.</summary>
    private (float[] A, float[] B) MakeViews(WeightAugmenter augmenter, float[] x, int[] order, int step, int batch, int epoch, int rows)
    {
        var a = new float[batch * _p];
        var b = new float[batch * _p];
        for (int i = 0; i < batch; i++)
        {
            int row = order[step * batch + i];
            long key = (long)epoch * rows + row;
            var source = x.AsSpan(row * _p, _p);
            augmenter.Augment(source, a.AsSpan(i * _p, _p), key, view: 0);
            augmenter.Augment(source, b.AsSpan(i * _p, _p), key, view: 1);
        }
        return (a, b);
    }

    private static AugmentationOptions CloneAugmentation(AugmentationOptions o, int seed) => new()
    {
        Permutation = o.Permutation, PermutationPoolSize = o.PermutationPoolSize, EraseProbability = o.EraseProbability,
        EraseMinFraction = o.EraseMinFraction, EraseMaxFraction = o.EraseMaxFraction, NoiseSigma = o.NoiseSigma, Noise = o.Noise,
        Seed = o.Seed * 1_000_003L + seed,
    };

    /// <summary>The learning-rate schedule; with a time budget, warm-up + cosine follows whichever of steps or time is further along.</summary>
    private sealed class Schedule(WeightEmbeddingOptions o, int stepsPerEpoch)
    {
        private double _plateauRate = o.LearningRate, _bestLoss = double.PositiveInfinity;
        private int _badEpochs;
        public double LastRate { get; private set; } = o.LearningRate;

        public double LearningRate(int epoch, int step, TimeSpan elapsed)
        {
            double total = (double)o.Epochs * stepsPerEpoch;
            double t = (epoch - 1) * (double)stepsPerEpoch + step;
            double fraction = t / total;
            if (o.TimeBudget is { } budget) fraction = Math.Max(fraction, elapsed / budget);
            LastRate = o.Schedule switch
            {
                LearningRateSchedule.Constant => o.LearningRate,
                LearningRateSchedule.ReduceOnPlateau => _plateauRate,
                _ => WarmupCosine(fraction * total, o.WarmupEpochs * stepsPerEpoch, total),
            };
            return LastRate;
        }

        private double WarmupCosine(double t, double warmup, double total)
        {
            if (t < warmup) return o.LearningRate * (t + 1) / (warmup + 1);
            double progress = Math.Clamp((t - warmup) / Math.Max(1, total - warmup), 0, 1);
            return o.LearningRate * (0.01 + 0.99 * 0.5 * (1 + Math.Cos(Math.PI * progress)));
        }

        /// <summary>ReduceLROnPlateau(factor 0.3, patience 10) on the epoch's training loss.</summary>
        public void EndEpoch(double loss)
        {
            if (o.Schedule != LearningRateSchedule.ReduceOnPlateau) return;
            if (loss < _bestLoss * (1 - 1e-4)) { _bestLoss = loss; _badEpochs = 0; return; }
            if (++_badEpochs > 10) { _plateauRate *= 0.3; _badEpochs = 0; }
        }
    }
}

/// <summary>Each epoch's validation: reconstruction R² on the held-out models and ridge probes from training to validation embeddings.</summary>
internal sealed class ValidationProbe
{
    private readonly WeightEmbeddingOptions _o;
    private readonly WeightNormalizer _normalizer;
    private readonly RepresentationData _validation;
    private readonly float[] _probeRows;
    private readonly int _probeCount;
    private readonly Dictionary<string, float[]> _probeLabels = new();
    private readonly double _validationVariance;
    private readonly int _p;

    public ValidationProbe(WeightLayout layout, WeightEmbeddingOptions o, WeightNormalizer normalizer, RepresentationData train, RepresentationData validation)
    {
        _o = o;
        _normalizer = normalizer;
        _validation = validation;
        _p = layout.ParameterCount;
        // A seeded subset of training rows fits the probes.
        var rows = Enumerable.Range(0, train.Rows).ToArray();
        Rng.For(o.Seed, 0x9B0BE).Shuffle(rows);
        rows = rows.Take(Math.Min(o.ProbeTrainingRows, train.Rows)).Order().ToArray();
        _probeCount = rows.Length;
        _probeRows = new float[rows.Length * _p];
        for (int i = 0; i < rows.Length; i++) train.Weights.AsSpan(rows[i] * _p, _p).CopyTo(_probeRows.AsSpan(i * _p, _p));
        foreach (var label in o.ValidationLabels) _probeLabels[label] = rows.Select(r => train.Labels[label][r]).ToArray();
        // Reconstruction R² denominator: squared deviation from each position's validation mean.
        var mean = new double[_p];
        for (int r = 0; r < validation.Rows; r++) for (int i = 0; i < _p; i++) mean[i] += validation.Weights[r * _p + i];
        for (int i = 0; i < _p; i++) mean[i] /= Math.Max(1, validation.Rows);
        for (int r = 0; r < validation.Rows; r++) for (int i = 0; i < _p; i++) { double d = validation.Weights[r * _p + i] - mean[i]; _validationVariance += d * d; }
    }

    public (double Reconstruction, IReadOnlyDictionary<string, double> Probes) Evaluate(WeightAutoencoder model)
    {
        var probes = new Dictionary<string, double>();
        if (_validation.Rows == 0) return (double.NaN, probes);
        var (latent, reconstruction) = HyperRepresentation.Run(model, _normalizer, _validation.Weights, _validation.Rows, _o.LatentDim, _o.InferenceBatchSize, _o.UsesReconstruction);
        double r2 = double.NaN;
        if (reconstruction is not null && _validationVariance > 0)
        {
            double sse = 0;
            for (int i = 0; i < reconstruction.Length; i++) { double d = reconstruction[i] - _validation.Weights[i]; sse += d * d; }
            r2 = 1 - sse / _validationVariance;
        }
        if (_o.ValidationLabels.Count > 0)
        {
            var (trainLatent, _) = HyperRepresentation.Run(model, _normalizer, _probeRows, _probeCount, _o.LatentDim, _o.InferenceBatchSize, reconstruct: false);
            foreach (var label in _o.ValidationLabels)
            {
                var fit = RidgeRegression.Fit(trainLatent, _probeLabels[label], latent, _validation.Labels[label], _o.LatentDim);
                probes[label] = fit.ValidationR2;
            }
        }
        return (r2, probes);
    }
}

/// <summary>Sets libtorch's intra-op threads for a scope and restores them after.</summary>
internal readonly struct ThreadSetting : IDisposable
{
    private readonly int _previous;
    private ThreadSetting(int previous) => _previous = previous;

    public static ThreadSetting Apply(int threads)
    {
        int previous = get_num_threads();
        set_num_threads(threads > 0 ? threads : Environment.ProcessorCount);
        return new ThreadSetting(previous);
    }

    public void Dispose() => set_num_threads(_previous);
}
