using WeightSpace.ZooGen.Data;

namespace WeightSpace.ZooGen.Training;

/// <summary>
/// 28×28 one-channel images for the CNN references: Tetris shapes (seed 5) upscaled 7× with seeded pixel noise of ±0.1 —
/// the real-format input of CNN-2464 that PermutationEquivalenceTests train on and bench conv-check replays.
/// </summary>
internal static class Shapes28
{
    public static ImageDataset Generate(int count = 256)
    {
        var tetris = TetrisDataset.Generate(count, seed: 5);
        var px = new float[tetris.Count * 784];
        var rng = new Random(3);
        for (int i = 0; i < tetris.Count; i++)
            for (int y = 0; y < 28; y++)
                for (int x = 0; x < 28; x++)
                    px[i * 784 + y * 28 + x] = tetris.Pixels[i * 16 + y / 7 * 4 + x / 7] + (float)(rng.NextDouble() * 0.2 - 0.1);
        return new ImageDataset("shapes28", px, tetris.Labels, 1, 28, 28, 10);
    }
}
