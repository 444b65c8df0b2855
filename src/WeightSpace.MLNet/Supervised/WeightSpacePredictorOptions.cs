namespace WeightSpace.MLNet;

/// <summary>
/// How a <see cref="WeightSpacePredictor"/> is built and trained. The encoder is a hyper-representation's (architecture in
/// <see cref="Encoder"/>); the rest is the head, the optimisation (a budget of optimiser steps, so a small zoo is trained as
/// long as a large one), early stopping on validation models and test-time averaging.
/// </summary>
/// <example><code>
/// var options = new WeightSpacePredictorOptions { Steps = 2000, TestViews = 4 };
/// </code></example>
public sealed record WeightSpacePredictorOptions
{
    /// <summary>
    /// The encoder's architecture (transformer width, blocks, token statistics, weight normalisation, latent width). Null: the
    /// layout's <see cref="WeightEmbeddingOptions.CpuDefaultFor"/> with token statistics, per-layer normalisation and a
    /// 128-wide latent. Ignored when fine-tuning a trained hyper-representation (its own architecture is used).
    /// </summary>
    public WeightEmbeddingOptions? Encoder { get; init; }
    /// <summary>
    /// Feed the head the model's s(W) (mean, std, min/quartiles/max of each kernel and bias, standardised) next to the latent.
    /// Default off: on both foreign zoos of docs/results.md (section 5, three seeds) the head without it was as good or better
    /// on every target and steadier (digits MLPs: accuracy 0.934 ± 0.005 against 0.881 ± 0.097, epoch 0.434 against 0.387) —
    /// the encoder's token statistics already carry the scales, and the head overfits the extra inputs.
    /// </summary>
    public bool Statistics { get; init; }
    /// <summary>Hidden width of the head: [latent (‖ s(W))] → Linear → ReLU → Linear → output.</summary>
    public int HeadWidth { get; init; } = 128;
    /// <summary>Rows per optimiser step (at most the training rows).</summary>
    public int BatchSize { get; init; } = 64;
    /// <summary>Optimiser steps in all; epochs follow the number of rows (capped by <see cref="MaxEpochs"/>).</summary>
    public int Steps { get; init; } = 3000;
    /// <summary>At most this many passes over the training rows (for tiny zoos).</summary>
    public int MaxEpochs { get; init; } = 300;
    /// <summary>Peak learning rate of AdamW (linear warm-up over 5 % of the steps, then cosine decay to 1 %).</summary>
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>Decoupled weight decay of AdamW.</summary>
    public double WeightDecay { get; init; } = 1e-2;
    /// <summary>Validation every this many steps (0: once per epoch, at most every 200 steps).</summary>
    public int EvaluateEvery { get; init; }
    /// <summary>Stop when the validation score has not improved for this many evaluations (0 = never stop early).</summary>
    public int EarlyStoppingPatience { get; init; } = 30;
    /// <summary>Stop after this much training time and keep the best state (default 15 minutes; null = no limit).</summary>
    public TimeSpan? TimeBudget { get; init; } = TimeSpan.FromMinutes(15);
    /// <summary>Fraction of models held out for early stopping by the ML.NET trainers when no validation view is given.</summary>
    public double ValidationFraction { get; init; } = 0.15;
    /// <summary>
    /// Views a prediction averages: the weights as given and up to <c>TestViews − 1</c> neuron permutations of them (a fixed
    /// set from <see cref="Seed"/>). Permuted networks compute the same function, so the average is closer to invariant.
    /// </summary>
    public int TestViews { get; init; } = 8;
    /// <summary>Seed of initialisation, data order and permutations: same seed, same predictor.</summary>
    public int Seed { get; init; } = 1;
    /// <summary>libtorch intra-op threads (0 = all cores).</summary>
    public int Threads { get; init; }
    /// <summary>Rows per inference batch.</summary>
    public int InferenceBatchSize { get; init; } = 1024;

    /// <summary>The encoder options used for a layout when none are given.</summary>
    public static WeightEmbeddingOptions DefaultEncoder(WeightLayout layout) =>
        WeightEmbeddingOptions.CpuDefaultFor(layout) with { TokenStatistics = true, Normalization = WeightNormalization.PerLayer, LatentDim = 128 };

    /// <summary>Checks every value; throws naming the first one out of its domain.</summary>
    public void Validate()
    {
        static void Positive(int v, string name) { if (v <= 0) throw new ArgumentOutOfRangeException(name, v, $"{name} must be positive."); }
        Positive(HeadWidth, nameof(HeadWidth)); Positive(BatchSize, nameof(BatchSize)); Positive(Steps, nameof(Steps)); Positive(MaxEpochs, nameof(MaxEpochs));
        Positive(TestViews, nameof(TestViews)); Positive(InferenceBatchSize, nameof(InferenceBatchSize));
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "LearningRate must be positive.");
        if (!(WeightDecay >= 0) || double.IsInfinity(WeightDecay)) throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "WeightDecay must be ≥ 0.");
        if (EvaluateEvery < 0) throw new ArgumentOutOfRangeException(nameof(EvaluateEvery), EvaluateEvery, "EvaluateEvery must be ≥ 0 (0 = once per epoch).");
        if (EarlyStoppingPatience < 0) throw new ArgumentOutOfRangeException(nameof(EarlyStoppingPatience), EarlyStoppingPatience, "EarlyStoppingPatience must be ≥ 0.");
        if (ValidationFraction is < 0 or >= 1 || double.IsNaN(ValidationFraction)) throw new ArgumentOutOfRangeException(nameof(ValidationFraction), ValidationFraction, "ValidationFraction must lie in [0, 1).");
        if (Threads < 0) throw new ArgumentOutOfRangeException(nameof(Threads), Threads, "Threads must be ≥ 0 (0 = all cores).");
        if (TimeBudget is { } t && t <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(TimeBudget), t, "TimeBudget must be positive (or null for no limit).");
        Encoder?.Validate();
    }
}
