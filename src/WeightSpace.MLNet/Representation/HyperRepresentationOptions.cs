
namespace WeightSpace.MLNet;

/// <summary>How a weight vector becomes a token sequence (METHOD §5).</summary>
public enum TokenEncoding
{
    /// <summary>One token per output neuron / conv kernel: its incoming weights plus its bias (the paper's best).</summary>
    Neuron,
    /// <summary>One token per scalar weight, embedded by a shared Linear(1 → d) (the paper's ablation; long sequences).</summary>
    Weight,
}

/// <summary>The autoencoder family.</summary>
public enum AutoencoderKind
{
    /// <summary>Transformer encoder and decoder over tokens (Att_N / Att_W in the paper).</summary>
    Transformer,
    /// <summary>The fully connected baseline: 10 hidden layers whose widths fall linearly to the latent (FF in the paper).</summary>
    FullyConnected,
}

/// <summary>The self-supervised task (the paper's four).</summary>
public enum RepresentationTask
{
    /// <summary>ED: reconstruction only (MSE).</summary>
    Reconstruction,
    /// <summary>E_c: contrast only (NT-Xent on the projection head).</summary>
    Contrast,
    /// <summary>E_cD: γ·NT-Xent + (1−γ)·MSE.</summary>
    ReconstructionAndContrast,
    /// <summary>E_c+D: γ·(positive-pair term only) + (1−γ)·MSE.</summary>
    ReconstructionAndPositiveContrast,
}

/// <summary>How weights are scaled before the autoencoder sees them (statistics from the training rows).</summary>
public enum WeightNormalization
{
    /// <summary>Raw weights (R21).</summary>
    None,
    /// <summary>Each layer's parameters minus the layer's mean, divided by its standard deviation (the authors' later work).</summary>
    PerLayer,
    /// <summary>Every parameter position standardised on its own (mean and std over the training rows).</summary>
    PerParameter,
}

/// <summary>Learning-rate schedule.</summary>
public enum LearningRateSchedule
{
    /// <summary>Fixed learning rate.</summary>
    Constant,
    /// <summary>ReduceLROnPlateau(factor 0.3, patience 10) on the epoch's training loss, as R21.</summary>
    ReduceOnPlateau,
    /// <summary>Linear warm-up over <see cref="WeightEmbeddingOptions.WarmupEpochs"/>, then cosine decay to 1 % over the remaining epochs.</summary>
    WarmupCosine,
}

/// <summary>
/// Everything that defines a hyper-representation and how it is trained: the architecture (METHOD §5), the task,
/// the augmentations, the optimiser and the validation protocol. Start from a preset — <see cref="CpuDefault"/>
/// (reaches the quality targets on a 2-core CPU in minutes) or <see cref="Paper(WeightLayout)"/> (the authors' configuration) —
/// and change what you need with <c>with</c>.
/// </summary>
/// <example><code>
/// var options = WeightEmbeddingOptions.CpuDefault with { Epochs = 40, Seed = 7 };
/// var paper = WeightEmbeddingOptions.Paper(WeightLayout.TetrisMlp100);
/// </code></example>
public sealed record WeightEmbeddingOptions
{
    // ---- architecture ----
    /// <summary>Transformer (default) or the fully connected baseline.</summary>
    public AutoencoderKind Kind { get; init; } = AutoencoderKind.Transformer;
    /// <summary>Neuron tokens (default) or weight tokens.</summary>
    public TokenEncoding Encoding { get; init; } = TokenEncoding.Neuron;
    /// <summary>Prepend a learned compression token whose output is the latent (default); without it the latent comes from the flattened sequence.</summary>
    public bool CompressionToken { get; init; } = true;
    /// <summary>
    /// Give the encoder each token's statistics as three more inputs: the mean, log mean square and log max |w| of its
    /// values (after normalisation). Off in <see cref="CpuDefault"/> and <see cref="Paper(WeightLayout)"/> (R21 embeds the values
    /// only), on in <see cref="CpuDefaultFor"/> a convolutional layout (docs/results.md, hyperparameter zoo). Encoder only: the
    /// decoder reconstructs the values as before. The fully connected autoencoder has no tokens and ignores it.
    /// </summary>
    public bool TokenStatistics { get; init; }
    /// <summary>Transformer blocks in the encoder and in the decoder (N).</summary>
    public int Blocks { get; init; } = 2;
    /// <summary>Token width d.</summary>
    public int ModelDim { get; init; } = 64;
    /// <summary>Attention heads.</summary>
    public int Heads { get; init; } = 4;
    /// <summary>Hidden width of each block's feed-forward network.</summary>
    public int FeedForwardDim { get; init; } = 128;
    /// <summary>Length of the embedding (the latent; tanh-bounded). The CPU default's 512 (the paper: 50 for Tetris) gives the linear probe more to work with (docs/results.md).</summary>
    public int LatentDim { get; init; } = 512;
    /// <summary>Dropout in the blocks (residual branches, feed-forward) and on attention probabilities (the paper: 0.1; the CPU default: 0, see docs/results.md).</summary>
    public double Dropout { get; init; }
    /// <summary>Widths of the projection head after the latent: hidden layers, then the output (Tetris: 50, 50, 50 → 20).</summary>
    public IReadOnlyList<int> ProjectionHead { get; init; } = new[] { 50, 50, 50, 20 };

    // ---- task ----
    /// <summary>The self-supervised task (default E_cD).</summary>
    public RepresentationTask Task { get; init; } = RepresentationTask.ReconstructionAndContrast;
    /// <summary>γ: weight of the contrastive term (Tetris 0.5).</summary>
    public double Gamma { get; init; } = 0.5;
    /// <summary>τ of NT-Xent.</summary>
    public double Temperature { get; init; } = 0.1;
    /// <summary>Weight scaling before the autoencoder (default none: on Tetris MLPs per-layer scaling reconstructs better but probes accuracy slightly worse, docs/results.md; <see cref="CpuDefaultFor"/> scales per layer for convolutional layouts).</summary>
    public WeightNormalization Normalization { get; init; } = WeightNormalization.None;
    /// <summary>
    /// The two views' augmentation (order: permutation → noise → erasing). CPU default: a permutation drawn from a pool of
    /// 120, no noise, no erasing (R21's headline runs also erase with p = 0.5; within a CPU budget erasing cost probe
    /// quality, docs/results.md).
    /// </summary>
    public AugmentationOptions Augmentation { get; init; } = new() { Permutation = PermutationMode.Pool, PermutationPoolSize = 120, NoiseSigma = 0, EraseProbability = 0 };

    // ---- optimisation ----
    /// <summary>Epochs (passes over the training rows; one step = <see cref="BatchSize"/> rows × two views). CPU default 30: about 9 minutes for a paper-scale Tetris zoo on a 2-core machine (docs/benchmarks.md).</summary>
    public int Epochs { get; init; } = 30;
    /// <summary>
    /// Rows per step (drop-last). 0 (the CPU default): follows the training rows — a twentieth of them, at least 32 and at
    /// most 500 (<see cref="AutoBatchSize"/>) — so a zoo of a hundred models gets as many optimiser steps per epoch as a large
    /// one instead of two; from 10,000 training rows on it is 500, as before.
    /// </summary>
    public int BatchSize { get; init; }

    /// <summary>The batch <see cref="BatchSize"/> 0 gives for this many training rows: rows / 20, clamped to [32, 500].</summary>
    public static int AutoBatchSize(int rows) => Math.Clamp(rows / 20, 32, 500);

    /// <summary>The rows per step for this many training rows (never more than the rows).</summary>
    internal int BatchFor(int rows) => Math.Max(1, Math.Min(BatchSize > 0 ? BatchSize : AutoBatchSize(rows), rows));
    /// <summary>Peak learning rate of AdamW.</summary>
    public double LearningRate { get; init; } = 3e-3;
    /// <summary>Decoupled weight decay of AdamW (R21 uses Adam with 1e-9).</summary>
    public double WeightDecay { get; init; } = 1e-9;
    /// <summary>Learning-rate schedule.</summary>
    public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.WarmupCosine;
    /// <summary>Warm-up epochs of <see cref="LearningRateSchedule.WarmupCosine"/>.</summary>
    public double WarmupEpochs { get; init; } = 1;
    /// <summary>Stop when the validation score has not improved for this many epochs (0 = never stop early).</summary>
    public int EarlyStoppingPatience { get; init; }
    /// <summary>Stop after this much training time and keep the best state (null = no limit).</summary>
    public TimeSpan? TimeBudget { get; init; }
    /// <summary>
    /// Training runs that race before one is kept (1 = a single run, the default). With K &gt; 1 the trainer starts K runs with
    /// seeds <see cref="Seed"/>, <see cref="Seed"/> + 1, …, <see cref="Seed"/> + K − 1, trains each for
    /// <see cref="CandidateFraction"/> of the run, keeps the one with the best validation score and continues it to the end
    /// (its learning-rate schedule unbroken); the others are discarded. The winner is the run its seed alone would have given
    /// (bit for bit with <see cref="Epochs"/> when the training rows number at most <see cref="ProbeTrainingRows"/>; beyond that
    /// every candidate is scored on the first seed's subset of probe rows, so the state kept can differ; with
    /// <see cref="TimeBudget"/> the budget covers the whole race). On a CNN zoo the
    /// probe quality of one run varied with its seed more than between configurations (docs/results.md), and the validation
    /// probe ranked the seeds early. Needs validation rows. Costs 1 + (K − 1) × <see cref="CandidateFraction"/> runs.
    /// </summary>
    public int Candidates { get; init; } = 1;
    /// <summary>The share of the run (of <see cref="Epochs"/>, rounded up, or of the winner's share of <see cref="TimeBudget"/>) each candidate trains before the race is decided.</summary>
    public double CandidateFraction { get; init; } = 0.25;

    // ---- validation ----
    /// <summary>Fraction of models held out for validation when the data has a ModelId column (0 = none).</summary>
    public double ValidationFraction { get; init; } = 0.15;
    /// <summary>Label columns probed with ridge regression on the validation models each epoch; their mean R² picks the best state.</summary>
    public IReadOnlyList<string> ValidationLabels { get; init; } = Array.Empty<string>();
    /// <summary>Training rows (at most) embedded to fit the validation probe each epoch.</summary>
    public int ProbeTrainingRows { get; init; } = 10_000;

    // ---- machine ----
    /// <summary>Seed of initialisation, data order, augmentation and dropout: same seed, same embedding.</summary>
    public int Seed { get; init; } = 1;
    /// <summary>libtorch intra-op threads (0 = all cores).</summary>
    public int Threads { get; init; }
    /// <summary>Rows per inference batch when embedding.</summary>
    public int InferenceBatchSize { get; init; } = 2048;

    // ---- embedding ----
    /// <summary>
    /// Views of each model whose latents an embedding averages: the weights as given plus up to <c>EmbeddingViews − 1</c>
    /// distinct neuron permutations (a fixed set from <see cref="Seed"/>; all of them when the layout has fewer, e.g. the
    /// 120 of a Tetris MLP). Permuted networks compute the same function, so the mean is closer to invariant to the order
    /// of the neurons and less noisy; 1 = the un-augmented weights only (R21's protocol, the <see cref="Paper(WeightLayout)"/> preset).
    /// Costs one encoder pass per view; training (and its validation probe) is unaffected, and a trained representation can
    /// embed with another count (<see cref="HyperRepresentation.Embed(System.ReadOnlySpan{float}, int, int)"/>).
    /// </summary>
    public int EmbeddingViews { get; init; } = 1;

    /// <summary>
    /// The CPU default: a small transformer (N = 2, d = 64, 4 heads, d_ff 128) with a wide latent (512), no dropout, permutation
    /// without erasing, no weight normalisation, AdamW 3e-3 with warm-up + cosine, a batch that follows the rows (500 from
    /// 10,000 training rows on), 30 epochs (docs/results.md).
    /// </summary>
    public static WeightEmbeddingOptions CpuDefault { get; } = new();

    /// <summary>
    /// The CPU default for a layout, what the library trains with when given no options: <see cref="CpuDefault"/> with
    /// <see cref="TokenStatistics"/> for every layout, and <see cref="WeightNormalization.PerLayer"/> for layouts with
    /// convolutions, whose layers' weight scales differ by fan-in. Token statistics are what transfers to zoos no one here
    /// made: on a zoo of 300 PyTorch MLPs trained on scikit-learn's digits (tools/foreign-zoos) the embedding's ridge probes
    /// went from 0.498 / 0.125 / 0.017 (test R² accuracy / epoch / gap) to 0.883 / 0.353 / 0.279 with them, against s(W)'s
    /// 0.572 / 0.158 / 0.029 (docs/results.md); on the 1,000-model CNN-4970 zoo they put the embedding ahead of s(W) on 4 to
    /// 7 of seven characteristics, and per-layer normalisation took it from 0.032 / 0.064 / 0.015 to 0.288 / 0.124 / 0.142
    /// on the 400-model one. The batch follows the training rows (<see cref="BatchSize"/> 0).
    /// </summary>
    public static WeightEmbeddingOptions CpuDefaultFor(WeightLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        return layout.IsFullyConnected ? CpuDefault with { TokenStatistics = true }
            : CpuDefault with { Normalization = WeightNormalization.PerLayer, TokenStatistics = true };
    }

    /// <summary>
    /// The authors' configuration for a layout (METHOD §5): Tetris, CNN-2464 (MNIST-Seed) or CNN-4970 zoos. For CNN-4970 the
    /// authors' γ depended on the data set; this gives CIFAR-10's 0.5 — <see cref="Paper(WeightLayout, string)"/> takes the data set.
    /// </summary>
    /// <exception cref="ArgumentException">A layout the authors had no configuration for (use <see cref="CpuDefaultFor"/>).</exception>
    public static WeightEmbeddingOptions Paper(WeightLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        if (!WeightLayout.BuiltIn.Values.Contains(layout))
            throw new ArgumentException($"The paper has a configuration for {string.Join(", ", WeightLayout.BuiltIn.Keys)} only, not for '{layout.Name}'; " +
                "use WeightEmbeddingOptions.CpuDefaultFor(layout), which holds for any layout.", nameof(layout));
        ArgumentNullException.ThrowIfNull(layout);
        var tetris = new WeightEmbeddingOptions
        {
            Blocks = 2, ModelDim = 256, Heads = 4, FeedForwardDim = 512, LatentDim = 50, Dropout = 0.1, ProjectionHead = new[] { 50, 50, 50, 20 },
            Gamma = 0.5, Normalization = WeightNormalization.None, LearningRate = 1e-4, WeightDecay = 1e-9,
            Schedule = LearningRateSchedule.ReduceOnPlateau, Epochs = 1000, BatchSize = 500,
            Augmentation = new AugmentationOptions { Permutation = PermutationMode.Pool, PermutationPoolSize = 120, NoiseSigma = 0, EraseProbability = 0.5 },
        };
        return layout.Name switch
        {
            "tetris-mlp-100" => tetris,
            "cnn-2464" => tetris with
            {
                ModelDim = 800, FeedForwardDim = 900, LatentDim = 700, ProjectionHead = new[] { 400, 400, 400, 50 }, Gamma = 0.1, Epochs = 500,
                Augmentation = new AugmentationOptions { Permutation = PermutationMode.Pool, PermutationPoolSize = 25_000, NoiseSigma = 0, EraseProbability = 0.5 },
            },
            "cnn-4970" => tetris with
            {
                Blocks = 4, ModelDim = 512, FeedForwardDim = 1000, LatentDim = 1200, ProjectionHead = new[] { 400, 400, 400, 50 }, Gamma = 0.5, Epochs = 250,
                Augmentation = new AugmentationOptions { Permutation = PermutationMode.Pool, PermutationPoolSize = 25_000, NoiseSigma = 0, EraseProbability = 0.5 },
            },
            _ => throw new ArgumentException($"No paper configuration for '{layout.Name}'.", nameof(layout)),
        };
    }

    /// <summary>
    /// The authors' configuration for a layout trained on a data set (a zoo's <c>Dataset</c>): as <see cref="Paper(WeightLayout)"/>,
    /// with the γ the authors used for CNN-4970 zoos of that data set (METHOD §5): 0.1 for MNIST, 0.85 for Fashion-MNIST and
    /// SVHN, 0.5 for CIFAR-10. Other layouts use one γ whatever the data set.
    /// </summary>
    /// <exception cref="ArgumentException">A CNN-4970 layout with a data set the authors did not train on.</exception>
    public static WeightEmbeddingOptions Paper(WeightLayout layout, string dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        var paper = Paper(layout);
        if (layout.Name != "cnn-4970") return paper;
        double gamma = dataset.ToLowerInvariant() switch
        {
            "mnist" or "mnist-digits" => 0.1,
            "fashion-mnist" or "svhn" => 0.85,
            "cifar10" => 0.5,
            _ => throw new ArgumentException($"The authors trained CNN-4970 hyper-representations on mnist, fashion-mnist, svhn and cifar10 zoos, not on '{dataset}': " +
                                             "choose γ yourself (Paper(layout) with { Gamma = … }).", nameof(dataset)),
        };
        return paper with { Gamma = gamma };
    }

    /// <summary>Checks every value; throws naming the first one out of its domain.</summary>
    public void Validate()
    {
        static void Positive(int v, string name) { if (v <= 0) throw new ArgumentOutOfRangeException(name, v, $"{name} must be positive."); }
        Positive(Blocks, nameof(Blocks)); Positive(ModelDim, nameof(ModelDim)); Positive(Heads, nameof(Heads));
        Positive(FeedForwardDim, nameof(FeedForwardDim)); Positive(LatentDim, nameof(LatentDim)); Positive(Epochs, nameof(Epochs));
        if (BatchSize < 0) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "BatchSize must be ≥ 0 (0 = follow the training rows).");
        Positive(InferenceBatchSize, nameof(InferenceBatchSize)); Positive(ProbeTrainingRows, nameof(ProbeTrainingRows));
        Positive(EmbeddingViews, nameof(EmbeddingViews)); Positive(Candidates, nameof(Candidates));
        if (!(CandidateFraction > 0 && CandidateFraction <= 1)) throw new ArgumentOutOfRangeException(nameof(CandidateFraction), CandidateFraction, "CandidateFraction must lie in (0, 1].");
        if (ModelDim % Heads != 0) throw new ArgumentOutOfRangeException(nameof(Heads), Heads, $"ModelDim {ModelDim} must be a multiple of Heads {Heads}.");
        if (Dropout is < 0 or >= 1 || double.IsNaN(Dropout)) throw new ArgumentOutOfRangeException(nameof(Dropout), Dropout, "Dropout must lie in [0, 1).");
        if (Gamma is < 0 or > 1 || double.IsNaN(Gamma)) throw new ArgumentOutOfRangeException(nameof(Gamma), Gamma, "Gamma must lie in [0, 1].");
        if (!(Temperature > 0)) throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "Temperature must be positive.");
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "LearningRate must be positive.");
        if (WeightDecay < 0 || double.IsNaN(WeightDecay)) throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "WeightDecay must be ≥ 0.");
        if (WarmupEpochs < 0 || double.IsNaN(WarmupEpochs)) throw new ArgumentOutOfRangeException(nameof(WarmupEpochs), WarmupEpochs, "WarmupEpochs must be ≥ 0.");
        if (EarlyStoppingPatience < 0) throw new ArgumentOutOfRangeException(nameof(EarlyStoppingPatience), EarlyStoppingPatience, "EarlyStoppingPatience must be ≥ 0.");
        if (ValidationFraction is < 0 or >= 1 || double.IsNaN(ValidationFraction)) throw new ArgumentOutOfRangeException(nameof(ValidationFraction), ValidationFraction, "ValidationFraction must lie in [0, 1).");
        if (Threads < 0) throw new ArgumentOutOfRangeException(nameof(Threads), Threads, "Threads must be ≥ 0 (0 = all cores).");
        if (ProjectionHead is null || ProjectionHead.Count == 0 || ProjectionHead.Any(w => w <= 0))
            throw new ArgumentOutOfRangeException(nameof(ProjectionHead), "The projection head needs at least one positive width.");
        ArgumentNullException.ThrowIfNull(Augmentation, nameof(Augmentation));
        Augmentation.Validate();
    }

    internal bool UsesContrast => Task != RepresentationTask.Reconstruction;
    internal bool UsesReconstruction => Task != RepresentationTask.Contrast;
}
