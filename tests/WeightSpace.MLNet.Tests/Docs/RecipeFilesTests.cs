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
}
