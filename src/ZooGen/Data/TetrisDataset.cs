using WeightSpace.MLNet;

namespace WeightSpace.ZooGen.Data;

/// <summary>
/// The Tetris data set (ours; the sources do not define it): 4×4 grey images of four tetromino classes —
/// I, O, T and S — in every rotation and every position that fits (I: 8 placements, O: 9, T: 24, S: 12),
/// each pixel 1 on the shape and 0 elsewhere, plus additive Gaussian noise N(0, σ²). Class balanced;
/// placements drawn uniformly; fully determined by the seed. Defaults: σ = 0.1, 2,000 train / 1,000 test.
/// </summary>
public static class TetrisDataset
{
    /// <summary>Class names in label order.</summary>
    public static readonly string[] ClassNames = { "I", "O", "T", "S" };

    /// <summary>Default pixel noise σ.</summary>
    public const double DefaultNoise = 0.1;

    /// <summary>Default test set size.</summary>
    public const int DefaultTestImages = 1000;

    private static readonly int[][][] Shapes =
    {
        new[] { new[] { 0, 0, 0, 1, 0, 2, 0, 3 } },                                   // I (rotations added below)
        new[] { new[] { 0, 0, 0, 1, 1, 0, 1, 1 } },                                   // O
        new[] { new[] { 0, 0, 0, 1, 0, 2, 1, 1 } },                                   // T
        new[] { new[] { 0, 1, 0, 2, 1, 0, 1, 1 } },                                   // S
    };

    /// <summary>Every placement (as 16-pixel masks) of each class.</summary>
    public static IReadOnlyList<IReadOnlyList<float[]>> Placements { get; } = BuildPlacements();

    private static IReadOnlyList<IReadOnlyList<float[]>> BuildPlacements()
    {
        var result = new List<IReadOnlyList<float[]>>();
        foreach (var shape in Shapes)
        {
            var masks = new List<float[]>();
            var seen = new HashSet<string>();
            var cells = shape[0];
            for (int rot = 0; rot < 4; rot++)
            {
                // rotate 90° rot times: (r, c) -> (c, -r)
                var pts = new List<(int R, int C)>();
                for (int i = 0; i < cells.Length; i += 2)
                {
                    int r = cells[i], c = cells[i + 1];
                    for (int k = 0; k < rot; k++) (r, c) = (c, -r);
                    pts.Add((r, c));
                }
                int minR = pts.Min(p => p.R), minC = pts.Min(p => p.C);
                pts = pts.Select(p => (p.R - minR, p.C - minC)).ToList();
                int h = pts.Max(p => p.R) + 1, w = pts.Max(p => p.C) + 1;
                for (int dr = 0; dr + h <= 4; dr++)
                    for (int dc = 0; dc + w <= 4; dc++)
                    {
                        var mask = new float[16];
                        foreach (var (r, c) in pts) mask[(r + dr) * 4 + c + dc] = 1f;
                        if (seen.Add(string.Join("", mask))) masks.Add(mask);
                    }
            }
            result.Add(masks);
        }
        return result;
    }

    /// <summary>Generates <paramref name="count"/> images (balanced classes, shuffled) from <paramref name="seed"/>.</summary>
    public static ImageDataset Generate(int count, long seed, double noise = DefaultNoise, string name = "tetris")
    {
        if (count <= 0) throw new ArgumentOutOfRangeException(nameof(count), count, "Need at least one image.");
        if (noise < 0 || !double.IsFinite(noise)) throw new ArgumentOutOfRangeException(nameof(noise), noise, "Noise σ must be ≥ 0.");
        var rng = Rng.For(seed, 0x7E7815);
        var labels = new int[count];
        for (int i = 0; i < count; i++) labels[i] = i % 4;
        rng.Shuffle(labels);
        var pixels = new float[count * 16];
        for (int i = 0; i < count; i++)
        {
            var masks = Placements[labels[i]];
            var mask = masks[rng.NextInt(masks.Count)];
            for (int p = 0; p < 16; p++) pixels[i * 16 + p] = mask[p] + (float)(noise * rng.NextGaussian());
        }
        return new ImageDataset(name, pixels, labels, 1, 4, 4, 4);
    }

    /// <summary>The default split: train and test drawn from independent streams of one seed.</summary>
    public static DataSplit Split(int train = 2000, int test = DefaultTestImages, long seed = 0, double noise = DefaultNoise) =>
        new(Generate(train, seed * 2 + 1, noise, "tetris-train"), Generate(test, seed * 2 + 2, noise, "tetris-test"));
}
