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
        int k = _o.Candidates;
        if (k > 1 && (validation is null || validation.Rows == 0))
            throw new ArgumentException($"Candidates = {k} chooses between training runs by their validation score, and there are no validation rows: " +
                                        "give validation rows (a ModelId column and ValidationFraction > 0) or set Candidates = 1.");
        using var threads = ThreadSetting.Apply(_o.Threads);

        var normalizer = WeightNormalizer.Fit(_layout, train.Weights, train.Rows, _o.Normalization);
        var x = (float[])train.Weights.Clone();
        normalizer.Apply(x);
        var probe = validation is null ? null : new ValidationProbe(_layout, _o, normalizer, train, validation);
        int batch = _o.BatchFor(train.Rows);
        int steps = train.Rows / batch;                                   // drop-last, as R21
        // A race trains each candidate for a share of the run, then the winner to the end; the time budget covers all of it.
        int raceEpochs = k == 1 ? _o.Epochs : Math.Min(_o.Epochs, (int)Math.Ceiling(_o.CandidateFraction * _o.Epochs));
        TimeSpan? runBudget = _o.TimeBudget is { } total ? total / (1 + (k - 1) * _o.CandidateFraction) : null;
        TimeSpan? raceBudget = k == 1 ? runBudget : runBudget * _o.CandidateFraction;
        var overall = new Overall { TotalSteps = (long)steps * ((long)raceEpochs * (k - 1) + _o.Epochs) };

        var runs = new List<Run>();
        try
        {
            for (int c = 0; c < k; c++)
            {
                var run = new Run(this, _o with { Seed = _o.Seed + c }, c + 1, x, train.Rows, batch, steps, probe, runBudget, overall);
                runs.Add(run);
                run.TrainUntil(raceEpochs, raceBudget, progress, cancel);
                if (k > 1) run.Pause();
            }
            var winner = runs.MaxBy(r => r.BestScore)!;                   // the first of equals
            foreach (var loser in runs.Where(r => r != winner)) loser.Dispose();
            runs.Clear();
            runs.Add(winner);
            if (k > 1) winner.Resume();
            winner.TrainUntil(_o.Epochs, runBudget, progress, cancel);
            var (model, history) = winner.Finish();
            runs.Clear();
            return new HyperRepresentation(_layout, _o, normalizer, model, history, RowFingerprints.From(_p, train, validation));
        }
        finally
        {
            foreach (var run in runs) run.Dispose();
        }
    }

    /// <summary>Steps and time over the whole training (all candidates), for the reports' ETA.</summary>
    private sealed class Overall
    {
        public long TotalSteps;
        public long DoneSteps;
        public readonly Stopwatch Clock = Stopwatch.StartNew();
    }

    /// <summary>
    /// One training run (a candidate): its model, projection head, optimiser, augmenter, schedule, learning curve, best state
    /// and clock, so that several can train in turn and the best continue where it stopped.
    /// </summary>
    private sealed class Run : IDisposable
    {
        private readonly RepresentationTrainer _t;
        private readonly WeightEmbeddingOptions _o;
        private readonly int _candidate, _rows, _batch, _steps;
        private readonly float[] _x;
        private readonly ValidationProbe? _probe;
        private readonly TimeSpan? _budget;
        private readonly Overall _overall;
        private readonly WeightAutoencoder _model;
        private readonly ProjectionHead? _head;
        private readonly AdamW _optimizer;
        private readonly CpuAutoencoderTraining? _cpu;   // the transformer's steps in C# (libtorch for the projection head)
        private readonly WeightAugmenter _augmenter;
        private readonly Schedule _schedule;
        private readonly Scalar _inverseTemperature, _gamma, _oneMinusGamma;
        private readonly List<TrainingReport> _history = new();
        private readonly Stopwatch _clock = new();
        private List<Tensor>? _best;
        private Tensor? _rngState;
        private int _epoch, _sinceBest;
        private long _samples;
        private bool _stopped, _handedOver;

        public Run(RepresentationTrainer trainer, WeightEmbeddingOptions options, int candidate, float[] x, int rows, int batch, int steps, ValidationProbe? probe,
            TimeSpan? budget, Overall overall)
        {
            _t = trainer;
            _o = options;
            _candidate = candidate;
            _x = x;
            _rows = rows;
            _batch = batch;
            _steps = steps;
            _probe = probe;
            _budget = budget;
            _overall = overall;
            random.manual_seed(_o.Seed);
            _model = WeightAutoencoder.Create(trainer._layout, _o);
            _head = _o.UsesContrast ? new ProjectionHead(_o.LatentDim, _o.ProjectionHead) : null;
            if (CpuAutoencoderTraining.Supports(_model, _o))
                _cpu = new CpuAutoencoderTraining((TransformerAutoencoder)_model, _o, _head, 2 * batch, _o.Threads > 0 ? _o.Threads : Environment.ProcessorCount);
            // libtorch's optimiser takes what libtorch trains: everything, the projection head of a positive-only task, or nothing.
            var modelParameters = _cpu is null ? _model.parameters() : Enumerable.Empty<TorchSharp.Modules.Parameter>();
            var headParameters = _head is null || _cpu?.OwnsContrast == true ? Enumerable.Empty<TorchSharp.Modules.Parameter>() : _head.parameters();
            var parameters = modelParameters.Concat(headParameters).ToList();
            _optimizer = new AdamW(parameters, _o.WeightDecay);
            _augmenter = new WeightAugmenter(trainer._layout, CloneAugmentation(_o.Augmentation, _o.Seed));
            _schedule = new Schedule(_o, steps);
            _inverseTemperature = (1.0 / _o.Temperature).ToScalar();
            _gamma = _o.Gamma.ToScalar();
            _oneMinusGamma = (1 - _o.Gamma).ToScalar();
        }

        /// <summary>The best validation score so far (the state that is kept).</summary>
        public double BestScore { get; private set; } = double.NegativeInfinity;

        /// <summary>Keeps libtorch's random state (dropout) while other candidates train.</summary>
        public void Pause() { _rngState?.Dispose(); _rngState = random.get_rng_state(); }

        /// <summary>Restores the random state <see cref="Pause"/> kept, so the run continues as if it had never stopped.</summary>
        public void Resume() { if (_rngState is not null) random.set_rng_state(_rngState); }

        /// <summary>Trains up to epoch <paramref name="lastEpoch"/> or until its own training time reaches <paramref name="timeLimit"/>.</summary>
        public void TrainUntil(int lastEpoch, TimeSpan? timeLimit, IProgress<TrainingReport>? progress, CancellationToken cancel)
        {
            _clock.Start();
            try
            {
                while (!_stopped && _epoch < lastEpoch)
                {
                    if (timeLimit is { } limit && _clock.Elapsed >= limit) break;
                    TrainEpoch(++_epoch, timeLimit, progress, cancel);
                }
            }
            finally { _clock.Stop(); }
        }

        private void TrainEpoch(int epoch, TimeSpan? timeLimit, IProgress<TrainingReport>? progress, CancellationToken cancel)
        {
            _model.train();
            _head?.train();
            var order = Enumerable.Range(0, _rows).ToArray();
            Rng.For(_o.Seed, 0xE90C, epoch).Shuffle(order);
            double lossSum = 0, mseSum = 0, contrastSum = 0;
            int batch = _batch, steps = _steps, p = _t._p;
            var views = Task.Run(() => _t.MakeViews(_augmenter, _x, order, 0, batch, epoch, _rows));
            var lastReport = Stopwatch.StartNew();
            int step = 0;
            for (; step < steps; step++)
            {
                cancel.ThrowIfCancellationRequested();
                var (a, b) = views.Result;
                if (step + 1 < steps) { int next = step + 1; views = Task.Run(() => _t.MakeViews(_augmenter, _x, order, next, batch, epoch, _rows)); }
                double lr = _schedule.LearningRate(epoch, step, _clock.Elapsed, _budget);
                var (lv, mv, cv) = _cpu is null ? TorchStep(a, b, batch, p, lr) : CpuStep(a, b, batch, lr);
                if (!double.IsFinite(lv))
                    throw new InvalidOperationException($"The training loss became {lv} at epoch {epoch}, step {step + 1}{SeedNote}: lower LearningRate (now {lr:G3}) or use a normalisation.");
                lossSum += lv;
                if (_o.UsesReconstruction) mseSum += mv;
                if (_o.UsesContrast) contrastSum += cv;
                _samples += 2L * batch;
                _overall.DoneSteps++;
                if (progress is not null && lastReport.ElapsedMilliseconds > 1000 && step + 1 < steps)
                {
                    lastReport.Restart();
                    progress.Report(Report(epoch, step + 1, lossSum, mseSum, contrastSum, lr));
                }
                if (timeLimit is { } limit && _clock.Elapsed >= limit) { step++; break; }
            }

            var report = Report(epoch, step, lossSum, mseSum, contrastSum, _schedule.LastRate) with { EpochEnd = true };
            _cpu?.CopyToModel();
            if (_probe is not null)
            {
                _model.eval();
                var (reconstruction, probes) = _probe.Evaluate(_model);
                report = report with { ValidationReconstructionR2 = reconstruction, ValidationProbeR2 = probes };
            }
            double score = _probe is null ? -report.Loss
                : report.ValidationProbeR2.Count > 0 ? report.ValidationProbeR2.Values.Average()
                : _o.UsesReconstruction ? report.ValidationReconstructionR2 : -report.Loss;
            bool improved = _probe is null || score > BestScore;
            report = report with { Score = score, IsBest = improved && _probe is not null };
            if (improved)
            {
                BestScore = score;
                _sinceBest = 0;
                if (_probe is not null)
                {
                    if (_best is not null) foreach (var t in _best) t.Dispose();
                    _best = _model.parameters().Select(q => q.detach().clone()).ToList();
                }
            }
            else _sinceBest++;
            _schedule.EndEpoch(report.Loss);
            _history.Add(report);
            progress?.Report(report);
            if (_o.EarlyStoppingPatience > 0 && _sinceBest >= _o.EarlyStoppingPatience) _stopped = true;
        }

        /// <summary>One step of libtorch's autograd over the whole model: (loss, reconstruction term, contrastive term).</summary>
        private (double Loss, double Mse, double Contrast) TorchStep(float[] a, float[] b, int batch, int p, double lr)
        {
            using var scope = NewDisposeScope();
            var input = cat(new[] { tensor(a, new long[] { batch, p }), tensor(b, new long[] { batch, p }) }, 0); // [2B, P]
            var latent = _model.Encode(input);
            Tensor? mse = _o.UsesReconstruction ? nn.functional.mse_loss(_model.Decode(latent), input, nn.Reduction.Mean) : null;
            Tensor? contrast = _o.UsesContrast ? Contrast(latent, batch) : null;
            var loss = (mse, contrast) switch
            {
                ({ } m, null) => m,
                (null, { } c) => c,
                ({ } m, { } c) => c.mul(_gamma).add(m, _oneMinusGamma),
                _ => throw new InvalidOperationException("A task needs a loss."),
            };
            _optimizer.ZeroGrad();
            loss.backward();
            _optimizer.Step(lr);
            return (loss.item<float>(), mse?.item<float>() ?? double.NaN, contrast?.item<float>() ?? double.NaN);
        }

        /// <summary>One step of the transformer in C# (<see cref="CpuAutoencoderTraining"/>), the projection head's in libtorch.</summary>
        private (double Loss, double Mse, double Contrast) CpuStep(float[] a, float[] b, int batch, double lr)
        {
            bool torchContrast = _o.UsesContrast && !_cpu!.OwnsContrast;
            if (torchContrast) _optimizer.ZeroGrad();
            var (mse, contrast) = _cpu!.Backward(a, b, batch, torchContrast ? z => Contrast(z, batch) : null);
            if (torchContrast) _optimizer.Step(lr);
            _cpu.Step(lr);
            double loss = (_o.UsesReconstruction, _o.UsesContrast) switch
            {
                (true, true) => _o.Gamma * contrast + (1 - _o.Gamma) * mse,
                (true, false) => mse,
                _ => contrast,
            };
            return (loss, mse, contrast);
        }

        /// <summary>The contrastive term of the task over the projections of the batch's two views.</summary>
        private Tensor Contrast(Tensor latent, int batch)
        {
            var projected = _head!.call(latent);
            var (pa, pb) = (projected.narrow(0, 0, batch), projected.narrow(0, batch, batch));
            return _o.Task == RepresentationTask.ReconstructionAndPositiveContrast
                ? ContrastiveLosses.PositiveOnly(pa, pb)
                : ContrastiveLosses.NtXent(pa, pb, _inverseTemperature);
        }

        private string SeedNote => _t._o.Candidates > 1 ? $" of candidate {_candidate} (seed {_o.Seed})" : "";

        private TrainingReport Report(int epoch, int step, double loss, double mse, double contrast, double lr)
        {
            int n = Math.Max(1, step);
            var elapsed = _overall.Clock.Elapsed;
            long done = _overall.DoneSteps;
            double perStep = done > 0 ? elapsed.TotalSeconds / done : 0;
            double remaining = perStep * Math.Max(0, _overall.TotalSteps - done);
            double fraction = (double)done / Math.Max(1, _overall.TotalSteps);
            if (_t._o.TimeBudget is { } budget)
            {
                remaining = Math.Min(remaining, Math.Max(0, (budget - elapsed).TotalSeconds));
                fraction = Math.Max(fraction, elapsed / budget);
            }
            return new TrainingReport
            {
                Epoch = epoch, Epochs = _o.Epochs, Step = step, StepsPerEpoch = _steps,
                Loss = loss / n,
                ReconstructionLoss = _o.UsesReconstruction ? mse / n : double.NaN,
                ContrastLoss = _o.UsesContrast ? contrast / n : double.NaN,
                LearningRate = lr,
                SamplesPerSecond = _clock.Elapsed.TotalSeconds > 0 ? _samples / _clock.Elapsed.TotalSeconds : 0,
                Elapsed = elapsed,
                Remaining = TimeSpan.FromSeconds(remaining),
                Fraction = Math.Min(1, fraction),
                Seed = _o.Seed,
                Candidate = _candidate,
                Candidates = _t._o.Candidates,
            };
        }

        /// <summary>Restores the best state and hands the model and learning curve over (the run no longer owns the model).</summary>
        public (WeightAutoencoder Model, IReadOnlyList<TrainingReport> History) Finish()
        {
            if (_best is not null)
            {
                using var noGrad = no_grad();
                foreach (var (q, saved) in _model.parameters().Zip(_best)) q.copy_(saved);
            }
            _model.eval();
            _handedOver = true;
            Dispose();
            return (_model, _history);
        }

        public void Dispose()
        {
            if (_best is not null) { foreach (var t in _best) t.Dispose(); _best = null; }
            _rngState?.Dispose();
            _rngState = null;
            _head?.Dispose();
            _optimizer.Dispose();
            _inverseTemperature.Dispose();
            _gamma.Dispose();
            _oneMinusGamma.Dispose();
            if (!_handedOver) _model.Dispose();
        }
    }

    /// <summary>
    /// Warm-up + cosine at step <paramref name="t"/> of <paramref name="total"/>: linear to <paramref name="peak"/> over
    /// <paramref name="warmup"/> steps, then cosine decay to 1 % of it (the autoencoder's schedule and the supervised predictor's).
    /// </summary>
    internal static double WarmupCosine(double peak, double t, double warmup, double total)
    {
        if (t < warmup) return peak * (t + 1) / (warmup + 1);
        double progress = Math.Clamp((t - warmup) / Math.Max(1, total - warmup), 0, 1);
        return peak * (0.01 + 0.99 * 0.5 * (1 + Math.Cos(Math.PI * progress)));
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

    /// <summary>The learning-rate schedule; with a time budget (the run's share of it), warm-up + cosine follows whichever of steps or time is further along.</summary>
    private sealed class Schedule(WeightEmbeddingOptions o, int stepsPerEpoch)
    {
        private double _plateauRate = o.LearningRate, _bestLoss = double.PositiveInfinity;
        private int _badEpochs;
        public double LastRate { get; private set; } = o.LearningRate;

        public double LearningRate(int epoch, int step, TimeSpan elapsed, TimeSpan? budget)
        {
            double total = (double)o.Epochs * stepsPerEpoch;
            double t = (epoch - 1) * (double)stepsPerEpoch + step;
            double fraction = t / total;
            if (budget is { } b) fraction = Math.Max(fraction, elapsed / b);
            LastRate = o.Schedule switch
            {
                LearningRateSchedule.Constant => o.LearningRate,
                LearningRateSchedule.ReduceOnPlateau => _plateauRate,
                _ => WarmupCosine(o.LearningRate, fraction * total, o.WarmupEpochs * stepsPerEpoch, total),
            };
            return LastRate;
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
