using WeightSpace.ZooGen.Generation;
using WeightSpace.ZooGen.Recipes;

namespace WeightSpace.MLNet.Tests.Representation;

/// <summary>A real Tetris zoo (40 models × 6 checkpoints), generated once for the representation tests.</summary>
public sealed class SmallZoo : IDisposable
{
    private readonly TempDir _dir = new();

    public SmallZoo()
    {
        var recipe = Presets.Get("tetris-seed");
        recipe.Models = 40;
        recipe.Epochs = 10;
        recipe.Checkpoints = new() { 0, 1, 2, 4, 7, 10 };
        ZooGenerator.Generate(new GenerateOptions { Recipe = recipe, Output = _dir.Sub("zoo") });
        Path = _dir.Sub("zoo");
    }

    public string Path { get; }

    /// <summary>A small, fast configuration for tests.</summary>
    public static WeightEmbeddingOptions Tiny => WeightEmbeddingOptions.CpuDefault with
    {
        ModelDim = 16, Heads = 2, FeedForwardDim = 32, LatentDim = 8, ProjectionHead = new[] { 8, 4 }, BatchSize = 32, Epochs = 3, ProbeTrainingRows = 200,
    };

    public void Dispose() => _dir.Dispose();
}
