
namespace WeightSpace.MLNet;

/// <summary>
/// A precomputed pool of random permutations (as in the hyper-representation code: e.g. 120 = 5! for
/// Tetris training, 25,000 for CNN zoos), drawn from one per augmented view.
/// </summary>
public sealed class PermutationPool
{
    private readonly Permutation[] _pool;

    /// <summary>Builds <paramref name="size"/> permutations from <paramref name="seed"/>.</summary>
    public PermutationPool(WeightLayout layout, int size, long seed)
    {
        if (size <= 0) throw new ArgumentOutOfRangeException(nameof(size), size, "A permutation pool needs at least one permutation.");
        var rng = Rng.For(seed, 0x504F4F4C);
        _pool = new Permutation[size];
        for (int i = 0; i < size; i++) _pool[i] = Permutation.Random(layout, ref rng);
    }

    /// <summary>Number of permutations in the pool.</summary>
    public int Count => _pool.Length;

    /// <summary>Permutation number <paramref name="index"/>.</summary>
    public Permutation this[int index] => _pool[index];

    internal Permutation Draw(ref Rng rng) => _pool[rng.NextInt(_pool.Length)];
}
