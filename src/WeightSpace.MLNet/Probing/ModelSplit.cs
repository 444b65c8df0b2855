
namespace WeightSpace.MLNet;

/// <summary>
/// A split of a zoo's models into train / validation / test (METHOD §6: by model, so every checkpoint of one network lands in
/// one part; 70/15/15 by default). Seeded: the same ids and seed give the same split.
/// </summary>
/// <example><code>
/// var split = ModelSplit.Create(zoo.ModelIds, seed: 1);           // 70/15/15
/// bool inTest = split.PartOf(modelId) == SplitPart.Test;
/// </code></example>
public sealed class ModelSplit
{
    private readonly Dictionary<int, SplitPart> _part;

    private ModelSplit(Dictionary<int, SplitPart> part) => _part = part;

    /// <summary>Splits <paramref name="modelIds"/> (duplicates ignored) with the given fractions; test gets the rest.</summary>
    /// <exception cref="ArgumentException">Fractions outside [0, 1], or a split that leaves the training part empty.</exception>
    public static ModelSplit Create(IEnumerable<int> modelIds, int seed = 1, double trainFraction = 0.7, double validationFraction = 0.15)
    {
        if (trainFraction is <= 0 or > 1 || validationFraction < 0 || trainFraction + validationFraction > 1 + 1e-12)
            throw new ArgumentException($"Split fractions must satisfy 0 < train ≤ 1, 0 ≤ validation, train + validation ≤ 1 (got {trainFraction}, {validationFraction}).");
        var ids = modelIds.Distinct().Order().ToArray();
        if (ids.Length == 0) throw new ArgumentException("A model split needs at least one model.");
        Rng.For(seed, 0x5B117).Shuffle(ids);
        int train = Math.Max(1, (int)Math.Round(trainFraction * ids.Length));
        int validation = Math.Min(ids.Length - train, (int)Math.Round(validationFraction * ids.Length));
        var part = new Dictionary<int, SplitPart>(ids.Length);
        for (int i = 0; i < ids.Length; i++)
            part[ids[i]] = i < train ? SplitPart.Train : i < train + validation ? SplitPart.Validation : SplitPart.Test;
        return new ModelSplit(part);
    }

    /// <summary>The part a model belongs to.</summary>
    /// <exception cref="KeyNotFoundException">The model was not in the split.</exception>
    public SplitPart PartOf(int modelId) => _part.TryGetValue(modelId, out var p) ? p
        : throw new KeyNotFoundException($"Model {modelId} is not part of this split.");

    /// <summary>The models of one part, ascending.</summary>
    public IReadOnlyList<int> Models(SplitPart part) => _part.Where(kv => kv.Value == part).Select(kv => kv.Key).Order().ToArray();
}

/// <summary>A part of a <see cref="ModelSplit"/>.</summary>
public enum SplitPart
{
    /// <summary>Fits representations and probes.</summary>
    Train,
    /// <summary>Chooses λ, the best epoch, early stopping.</summary>
    Validation,
    /// <summary>Reported.</summary>
    Test,
}
