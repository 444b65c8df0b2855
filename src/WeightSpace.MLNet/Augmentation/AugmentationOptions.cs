namespace WeightSpace.MLNet;

/// <summary>How hidden units are permuted.</summary>
public enum PermutationMode
{
    /// <summary>No permutation.</summary>
    None,
    /// <summary>A fresh uniformly random permutation per view.</summary>
    Random,
    /// <summary>A permutation drawn from a precomputed pool of <see cref="AugmentationOptions.PermutationPoolSize"/>.</summary>
    Pool,
    /// <summary>The canonical form: units sorted by the norm of their incoming weights (deterministic, no randomness).</summary>
    Canonical,
}

/// <summary>Additive or multiplicative Gaussian noise.</summary>
public enum NoiseKind
{
    /// <summary>w + σ·ε.</summary>
    Additive,
    /// <summary>w · (1 + σ·ε).</summary>
    Multiplicative,
}

/// <summary>
/// Weight-space augmentation settings; defaults follow METHOD.md §4 (permutation, erasing with p = 0.5 of a
/// block of U(0.02, 0.33)·length, additive noise σ = 0.05).
/// </summary>
public sealed class AugmentationOptions
{
    /// <summary>Permutation of hidden units (default: random).</summary>
    public PermutationMode Permutation { get; set; } = PermutationMode.Random;
    /// <summary>Pool size for <see cref="PermutationMode.Pool"/> (default 120).</summary>
    public int PermutationPoolSize { get; set; } = 120;
    /// <summary>Probability of erasing one block (default 0.5; 0 disables).</summary>
    public double EraseProbability { get; set; } = 0.5;
    /// <summary>Smallest erased block, as a fraction of the vector (default 0.02).</summary>
    public double EraseMinFraction { get; set; } = 0.02;
    /// <summary>Largest erased block, as a fraction of the vector (default 0.33).</summary>
    public double EraseMaxFraction { get; set; } = 0.33;
    /// <summary>Noise standard deviation (default 0.05; 0 disables).</summary>
    public double NoiseSigma { get; set; } = 0.05;
    /// <summary>Additive (default) or multiplicative noise.</summary>
    public NoiseKind Noise { get; set; } = NoiseKind.Additive;
    /// <summary>Seed of every random choice.</summary>
    public long Seed { get; set; } = 1;

    internal void Validate()
    {
        if (EraseProbability is < 0 or > 1 || double.IsNaN(EraseProbability))
            throw new ArgumentOutOfRangeException(nameof(EraseProbability), EraseProbability, "A probability must lie in [0, 1].");
        if (EraseMinFraction < 0 || EraseMaxFraction > 1 || EraseMinFraction > EraseMaxFraction)
            throw new ArgumentOutOfRangeException(nameof(EraseMinFraction), $"Erase fractions must satisfy 0 ≤ min ≤ max ≤ 1 (got {EraseMinFraction}, {EraseMaxFraction}).");
        if (NoiseSigma < 0 || !double.IsFinite(NoiseSigma))
            throw new ArgumentOutOfRangeException(nameof(NoiseSigma), NoiseSigma, "Noise σ must be finite and ≥ 0.");
        if (Permutation == PermutationMode.Pool && PermutationPoolSize <= 0)
            throw new ArgumentOutOfRangeException(nameof(PermutationPoolSize), PermutationPoolSize, "A permutation pool needs at least one permutation.");
    }
}
