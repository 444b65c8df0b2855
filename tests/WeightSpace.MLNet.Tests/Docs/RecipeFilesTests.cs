using WeightSpace.ZooGen.Recipes;
using Xunit;

namespace WeightSpace.MLNet.Tests.Docs;

/// <summary>The recipe files that docs/ tells users to run load and validate with today's zoogen.</summary>
public class RecipeFilesTests
{
    [Fact]
    public void EveryRecipeInTheDocsLoadsAndValidates()
    {
        var root = RepoRoot.Path;
        var files = Directory.GetFiles(Path.Combine(root, "docs", "recipes"), "*.json");
        Assert.True(files.Length >= 2, $"expected the documented recipes, found {files.Length}");
        foreach (var file in files)
        {
            var recipe = Recipe.Load(file);
            recipe.Validate();
            Assert.Equal(Path.GetFileNameWithoutExtension(file), recipe.Name);
            Assert.Contains($"docs/recipes/{Path.GetFileName(file)}", string.Concat(Directory.GetFiles(Path.Combine(root, "docs"), "*.md").Select(File.ReadAllText)));
        }
    }

    [Fact]
    public void TheTetrisSeedGapPresetIsItsRecipeFileWithTwoThousandModelsAndEveryFourthCheckpoint()
    {
        // docs/ measured the preset's zoo as `zoogen generate --recipe docs/recipes/tetris-seed-gap.json --models 2000
        // --checkpoints 4,8,…,148`; the Quickstart generates it from the preset, so the two must not drift apart.
        var file = Recipe.Load(Path.Combine(RepoRoot.Path, "docs", "recipes", "tetris-seed-gap.json"));
        file.Models = 2000;
        file.Checkpoints = Enumerable.Range(1, 37).Select(k => 4 * k).ToList();
        var preset = Presets.Get("tetris-seed-gap");
        Assert.Equal(file.ToJsonObject().ToJsonString(), preset.ToJsonObject().ToJsonString());
        Assert.Equal(74_000, preset.Models * preset.Checkpoints.Count);
    }
}
