using WeightSpace.ZooGen.Data;
using WeightSpace.ZooGen.Generation;
using WeightSpace.ZooGen.Recipes;
using Xunit;

namespace WeightSpace.MLNet.Tests.ZooGen;

public class ZooGeneratorTests
{
    private static Recipe SmallTetris(int models = 12, int epochs = 3)
    {
        var r = Presets.Get("tetris-seed");
        r.Models = models;
        r.Epochs = epochs;
        r.Checkpoints = new() { 0, 1, epochs };
        return r;
    }

    private static List<ZooRecord> Sorted(string dir) =>
        ZooDataset.Open(dir).Records().OrderBy(r => r.ModelId).ThenBy(r => r.Epoch).ToList();

    internal static void AssertSameRecords(List<ZooRecord> a, List<ZooRecord> b)
    {
        Assert.Equal(a.Count, b.Count);
        for (int i = 0; i < a.Count; i++)
        {
            Assert.Equal(a[i].ModelId, b[i].ModelId);
            Assert.Equal(a[i].Epoch, b[i].Epoch);
            Assert.Equal(a[i].Weights, b[i].Weights);
            Assert.Equal(a[i].TestAccuracy, b[i].TestAccuracy);
            Assert.Equal(a[i].TrainLoss, b[i].TrainLoss);
        }
    }

    [Fact]
    public void GeneratedZooHasEveryCheckpointAndLabel()
    {
        using var tmp = new TempDir();
        var result = ZooGenerator.Generate(new GenerateOptions { Recipe = SmallTetris(), Output = tmp.Sub("zoo") });
        Assert.Equal(12, result.ModelsTrained);
        var records = Sorted(tmp.Sub("zoo"));
        Assert.Equal(36, records.Count);
        Assert.Equal(new[] { 0, 1, 3 }, records.Where(r => r.ModelId == 5).Select(r => r.Epoch));
        Assert.All(records, r => Assert.Equal(r.TrainAccuracy - r.TestAccuracy, r.GeneralizationGap, 5));
        Assert.All(records, r => Assert.Equal("tanh", r.Text["Activation"]));
        Assert.All(records, r => Assert.InRange(r.TestAccuracy, 0f, 1f));
        Assert.Equal(12, records.Select(r => r.Seed).Distinct().Count());
        // Training changes the weights.
        Assert.NotEqual(records[0].Weights, records[2].Weights);
    }

    [Fact]
    public void TheTetrisTestSetSizeIsARecipeFieldThatDefaultsTo1000AndIsValidated()
    {
        var recipe = SmallTetris(models: 2, epochs: 1);
        recipe.TestSubset = 0;
        Assert.Equal(TetrisDataset.DefaultTestImages, ZooGenerator.LoadData(recipe, null).Test.Count);
        Assert.False(recipe.ToJsonObject().ContainsKey("tetrisTestImages")); // the default is not written: old manifests stay as they were
        recipe.TetrisTestImages = 4000;
        var test = ZooGenerator.LoadData(recipe, null).Test;
        Assert.Equal(4000, test.Count);
        Assert.Equal(new[] { 1000, 1000, 1000, 1000 }, test.Labels.GroupBy(l => l).OrderBy(g => g.Key).Select(g => g.Count())); // class balanced
        Assert.Equal(4000, (int)recipe.ToJsonObject()["tetrisTestImages"]!);
        recipe.TetrisTestImages = -1;
        Assert.Contains("tetrisTestImages", Assert.Throws<ArgumentException>(() => recipe.Validate()).Message);
    }

    [Fact]
    public void AValidationSetIsHeldOutOfTheTrainingImagesAndLabelsEveryCheckpoint()
    {
        var recipe = SmallTetris(models: 4, epochs: 2);
        recipe.TrainSubset = 0; // all 2,000 generated training images
        var plain = ZooGenerator.LoadData(recipe, null);
        recipe.ValidationSize = 300;
        var split = ZooGenerator.LoadData(recipe, null);
        Assert.Equal(300, split.Validation!.Count);
        Assert.Equal(plain.Train.Count - 300, split.Train.Count);
        Assert.Equal(plain.Test.Pixels, split.Test.Pixels);
        // Disjoint and together the whole training set: every training image is in exactly one of the two.
        static IEnumerable<string> Rows(ImageDataset d) => Enumerable.Range(0, d.Count).Select(i => string.Join(",", d.Pixels.Skip(i * d.ImageSize).Take(d.ImageSize)) + ":" + d.Labels[i]);
        Assert.Equal(Rows(plain.Train).Order(), Rows(split.Train).Concat(Rows(split.Validation)).Order());
        Assert.Equal(Rows(split.Validation), Rows(ZooGenerator.LoadData(recipe, null).Validation!)); // seeded
        recipe.Seed = 1;
        Assert.NotEqual(Rows(split.Validation), Rows(ZooGenerator.LoadData(recipe, null).Validation!));
        recipe.Seed = 0;

        using var tmp = new TempDir();
        ZooGenerator.Generate(new GenerateOptions { Recipe = recipe, Output = tmp.Sub("zoo") });
        var zoo = ZooDataset.Open(tmp.Sub("zoo"));
        Assert.Contains(zoo.Manifest.Columns, c => c.Name == ZooColumns.ValidationAccuracy);
        var records = zoo.Records().ToList();
        Assert.All(records, r => Assert.InRange(r.ValidationAccuracy, 0f, 1f));
        Assert.All(records, r => Assert.True(r.ValidationLoss > 0));
        // Held-out images behave like test images, not like the training images the model fitted.
        var last = records.Where(r => r.Epoch == 2).ToList();
        Assert.True(Math.Abs(last.Average(r => r.ValidationAccuracy) - last.Average(r => r.TestAccuracy)) < 0.1);

        recipe.ValidationSize = plain.Train.Count;
        Assert.Contains("leaves no training images", Assert.Throws<ArgumentException>(() => ZooGenerator.LoadData(recipe, null)).Message);
        Assert.DoesNotContain(ZooDataset.Open(tmp.Sub("zoo")).Manifest.Columns, c => c.Name == "x");
        var noValidation = tmp.Sub("plain");
        ZooGenerator.Generate(new GenerateOptions { Recipe = SmallTetris(models: 2, epochs: 1), Output = noValidation });
        Assert.DoesNotContain(ZooDataset.Open(noValidation).Manifest.Columns, c => c.Name == ZooColumns.ValidationAccuracy);
    }

    [Fact]
    public void CnnZoosTrainInLanesFromIdxFiles()
    {
        using var tmp = new TempDir();
        var data = tmp.Sub("fmnist");
        Directory.CreateDirectory(data);
        var train = PopulationTrainerTests.Bars(120, 11);
        var test = PopulationTrainerTests.Bars(40, 12);
        IdxReader.Write(train, Path.Combine(data, "train-images-idx3-ubyte"), Path.Combine(data, "train-labels-idx1-ubyte"));
        IdxReader.Write(test, Path.Combine(data, "t10k-images-idx3-ubyte"), Path.Combine(data, "t10k-labels-idx1-ubyte"));
        var recipe = Presets.Get("fmnist-seed");
        recipe.Models = 10;
        recipe.Epochs = 4;
        recipe.Checkpoints = new() { 0, 4 };
        recipe.Grid.LearningRate = new() { 3e-3 };
        var result = ZooGenerator.Generate(new GenerateOptions { Recipe = recipe, Output = tmp.Sub("zoo"), DataDirectory = data, PopulationSize = 9 });
        Assert.Equal(10, result.ModelsTrained);
        var records = Sorted(tmp.Sub("zoo"));
        Assert.Equal(20, records.Count);
        Assert.All(records, r => Assert.Equal(2464, r.Weights.Length));
        // The bars are easy: every model learns them (chance is 10 %).
        foreach (var r in records.Where(r => r.Epoch == 4))
        {
            var start = records.Single(s => s.ModelId == r.ModelId && s.Epoch == 0);
            Assert.True(r.TestAccuracy > 0.5, $"model {r.ModelId}: test accuracy {r.TestAccuracy}");
            Assert.True(r.TrainLoss < start.TrainLoss - 0.5, $"model {r.ModelId}: train loss {start.TrainLoss} -> {r.TrainLoss}");
        }
        Assert.Equal(2, ZooDataset.Open(tmp.Sub("zoo")).Manifest.Shards.Count); // populations of 9 and 1, each completed on its own
    }

    [Fact]
    public void TheSameCommandTwiceGivesTheSameZoo()
    {
        using var tmp = new TempDir();
        ZooGenerator.Generate(new GenerateOptions { Recipe = SmallTetris(), Output = tmp.Sub("a") });
        ZooGenerator.Generate(new GenerateOptions { Recipe = SmallTetris(), Output = tmp.Sub("b"), PopulationSize = 5 });
        AssertSameRecords(Sorted(tmp.Sub("a")), Sorted(tmp.Sub("b")));
    }

    [Fact]
    public void ShardsMergedEqualTheSingleRunValueForValue()
    {
        using var tmp = new TempDir();
        ZooGenerator.Generate(new GenerateOptions { Recipe = SmallTetris(), Output = tmp.Sub("whole") });
        ZooGenerator.Generate(new GenerateOptions { Recipe = SmallTetris(), Output = tmp.Sub("p0"), ShardIndex = 0, ShardCount = 2 });
        ZooGenerator.Generate(new GenerateOptions { Recipe = SmallTetris(), Output = tmp.Sub("p1"), ShardIndex = 1, ShardCount = 2 });
        Assert.Equal("0/2", ZooDataset.Open(tmp.Sub("p0")).Manifest.Part);
        Assert.All(ZooDataset.Open(tmp.Sub("p1")).ModelIds, id => Assert.Equal(1, id % 2));
        ZooMerge.Merge(tmp.Sub("merged"), new[] { tmp.Sub("p0"), tmp.Sub("p1") });
        AssertSameRecords(Sorted(tmp.Sub("whole")), Sorted(tmp.Sub("merged")));
    }

    [Fact]
    public void ResumeAfterCancellationTrainsOnlyTheMissingModels()
    {
        using var tmp = new TempDir();
        using var cts = new CancellationTokenSource();
        var progress = new Progress(p => { if (p.ModelsDone >= 4) cts.Cancel(); });
        var first = ZooGenerator.Generate(new GenerateOptions { Recipe = SmallTetris(), Output = tmp.Sub("zoo"), PopulationSize = 4, Progress = progress }, cts.Token);
        Assert.True(first.Cancelled);
        int kept = ZooDataset.Open(tmp.Sub("zoo")).ModelIds.Count;
        Assert.InRange(kept, 4, 11);

        var again = Assert.Throws<IOException>(() => ZooGenerator.Generate(new GenerateOptions { Recipe = SmallTetris(), Output = tmp.Sub("zoo") }));
        Assert.Contains("--resume", again.Message);

        var second = ZooGenerator.Generate(new GenerateOptions { Recipe = SmallTetris(), Output = tmp.Sub("zoo"), Resume = true, PopulationSize = 4 });
        Assert.Equal(kept, second.ModelsSkipped);
        Assert.Equal(12 - kept, second.ModelsTrained);
        ZooGenerator.Generate(new GenerateOptions { Recipe = SmallTetris(), Output = tmp.Sub("fresh") });
        AssertSameRecords(Sorted(tmp.Sub("fresh")), Sorted(tmp.Sub("zoo")));
    }

    private sealed class Progress(Action<GenerationProgress> action) : IProgress<GenerationProgress>
    {
        public void Report(GenerationProgress value) => action(value);
    }

    [Fact]
    public void ProgressWeighsTrainingAndEvaluationSoTheEtaFollowsTheWork()
    {
        using var tmp = new TempDir();
        var recipe = SmallTetris(models: 8, epochs: 2);
        recipe.Grid.TrainFraction = new() { 0.25, 1.0 };
        var reports = new List<GenerationProgress>();
        ZooGenerator.Generate(new GenerateOptions { Recipe = recipe, Output = tmp.Sub("zoo"), PopulationSize = 4, Progress = new Progress(p => { lock (reports) reports.Add(p); }) });

        var zoo = ZooDataset.Open(tmp.Sub("zoo"));
        var fraction = zoo.Records().GroupBy(r => r.ModelId).ToDictionary(g => g.Key, g => g.First().Numeric[ZooColumns.Hyper.TrainFraction]);
        Assert.Contains(0.25f, fraction.Values);
        Assert.Contains(1f, fraction.Values);
        long Samples(IEnumerable<int> models) => models.Sum(m => (long)Math.Round(fraction[m] * 300)) * 2; // tetris-seed: 300 images, 2 epochs
        long expected = Samples(fraction.Keys);
        Assert.All(reports, p => Assert.Equal(expected, p.SamplesTotal));
        Assert.Equal(expected, reports[^1].SamplesDone);
        Assert.Equal(1.0, reports[^1].Fraction);
        Assert.True(reports.Zip(reports.Skip(1)).All(w => w.Second.SamplesDone >= w.First.SamplesDone));
        // Each population is one shard (one lane group of 4 here) and they train one after another: when a population's models
        // are reported done, the samples done are exactly those of the shards so far, whatever their mix of train fractions.
        // The work (what the fraction follows) weighs each group's training by its longest lane (2 epochs × 3 passes a
        // sample) and adds one pass over every image (E of them) at each of the 3 checkpoints; E follows from the total.
        var shards = zoo.Manifest.Shards;
        Assert.Equal(2, shards.Count);
        long Training(IEnumerable<int> models) => 2 * 3 * models.Max(m => (long)Math.Round(fraction[m] * 300));
        long evaluations = reports[^1].WorkTotal - shards.Sum(s => Training(s.ModelIds));
        Assert.Equal(0, evaluations % (3 * shards.Count));
        long images = evaluations / (3 * shards.Count);
        Assert.True(images > 300, $"{images} images evaluated per checkpoint; the training set alone has 300");
        var doneAfterShard = new List<int>();
        long workAfterShard = 0;
        foreach (var shard in shards)
        {
            doneAfterShard.AddRange(shard.ModelIds);
            workAfterShard += Training(shard.ModelIds) + 3 * images;
            var report = reports.First(p => p.ModelsDone == doneAfterShard.Count);
            Assert.Equal(Samples(doneAfterShard), report.SamplesDone);
            Assert.Equal(workAfterShard, report.WorkDone);
            Assert.Equal((double)workAfterShard / report.WorkTotal, report.Fraction, 12);
        }
        Assert.Equal(reports[^1].WorkTotal, reports[^1].WorkDone);
        Assert.True(reports.Zip(reports.Skip(1)).All(w => w.Second.WorkDone >= w.First.WorkDone));
        Assert.Contains(reports, p => Math.Abs(p.Fraction - (double)p.ModelEpochsDone / p.ModelEpochsTotal) > 0.05); // the weighting shows
        Assert.Contains(reports, p => Math.Abs(p.Fraction - (double)p.SamplesDone / p.SamplesTotal) > 0.05);        // so do the evaluations
    }

    [Fact]
    public void ResumeRefusesAZooWhoseShardIsGoneOrCutShortInsteadOfCallingItComplete()
    {
        // Found on a 400-model zoo: with a listed shard deleted, --resume skipped that shard's models (the manifest names
        // them as done) and reported "0 models trained, 400 already present" while the zoo could no longer be read.
        using var tmp = new TempDir();
        var dir = tmp.Sub("zoo");
        ZooGenerator.Generate(new GenerateOptions { Recipe = SmallTetris(), Output = dir, PopulationSize = 4 });
        var manifest = File.ReadAllText(Path.Combine(dir, ZooManifest.FileName));
        var shards = ZooDataset.Open(dir).Manifest.Shards;
        Assert.True(shards.Count >= 2);
        var last = Path.Combine(dir, shards[^1].File);
        var bytes = File.ReadAllBytes(last);

        File.Delete(last);
        var gone = Assert.Throws<ZooFormatException>(() => ZooGenerator.Generate(new GenerateOptions { Recipe = SmallTetris(), Output = dir, Resume = true, PopulationSize = 4 }));
        Assert.Contains(shards[^1].File, gone.Message);
        Assert.Contains("missing", gone.Message);
        Assert.Contains($"its {shards[^1].ModelIds.Length} models", gone.Message);

        File.WriteAllBytes(last, bytes[..^7]);
        var cut = Assert.Throws<ZooFormatException>(() => ZooWriter.Append(dir));
        Assert.Contains(shards[^1].File, cut.Message);
        Assert.Contains($"{bytes.Length - 7} bytes on disk, the manifest says {bytes.Length}", cut.Message);

        Assert.Equal(manifest, File.ReadAllText(Path.Combine(dir, ZooManifest.FileName))); // refused before writing anything
        File.WriteAllBytes(last, bytes);
        var resumed = ZooGenerator.Generate(new GenerateOptions { Recipe = SmallTetris(), Output = dir, Resume = true, PopulationSize = 4 });
        Assert.Equal(12, resumed.ModelsSkipped); // the restored file: complete, readable, nothing retrained
        Assert.Equal(12 * 3, ZooDataset.Open(dir).Records().Count());
    }

    [Fact]
    public void ResumeWithAnotherRecipeIsRefused()
    {
        using var tmp = new TempDir();
        ZooGenerator.Generate(new GenerateOptions { Recipe = SmallTetris(), Output = tmp.Sub("zoo") });
        var e = Assert.Throws<ArgumentException>(() => ZooGenerator.Generate(new GenerateOptions { Recipe = SmallTetris(models: 13), Output = tmp.Sub("zoo"), Resume = true }));
        Assert.Contains("other settings", e.Message);
        Assert.Contains("models: 12 → 13", e.Message);
    }

    /// <summary>Marks a zoo as written by another generator (as a zoo of an earlier zoogen reads).</summary>
    private static void WrittenBy(string dir, string generator)
    {
        var m = ZooManifest.Load(dir);
        m.Generator = generator;
        m.Save(dir);
    }

    [Fact]
    public void AZooOfAnEarlierZoogenWhoseTrainMetricsMeantTheWholeSetIsNotResumedOrMergedWithThisOnes()
    {
        using var tmp = new TempDir();
        Recipe Partial(int models = 6)
        {
            var r = SmallTetris(models);
            r.Grid.TrainFraction = new() { 0.5, 1.0 };
            return r;
        }
        using var cts = new CancellationTokenSource();
        var progress = new Progress(p => { if (p.ModelsDone >= 2) cts.Cancel(); });
        ZooGenerator.Generate(new GenerateOptions { Recipe = Partial(), Output = tmp.Sub("old"), PopulationSize = 2, Progress = progress }, cts.Token);
        WrittenBy(tmp.Sub("old"), "zoogen 0.1.0.0");
        var before = Sorted(tmp.Sub("old"));
        var e = Assert.Throws<ArgumentException>(() => ZooGenerator.Generate(new GenerateOptions { Recipe = Partial(), Output = tmp.Sub("old"), Resume = true }));
        Assert.Contains("zoogen 0.1.0.0", e.Message);
        Assert.Contains("train fraction below 1", e.Message);
        Assert.Contains("new folder", e.Message);
        AssertSameRecords(before, Sorted(tmp.Sub("old"))); // untouched
        Assert.Contains("whole training set", ZooDataset.Open(tmp.Sub("old")).Manifest.TrainMetricsCaveat()); // what library users, PaperTables and the bench read

        // With every model on the whole set the two definitions agree: such a zoo resumes.
        ZooGenerator.Generate(new GenerateOptions { Recipe = SmallTetris(6), Output = tmp.Sub("full") });
        WrittenBy(tmp.Sub("full"), "zoogen 0.1.0.0");
        Assert.Null(ZooDataset.Open(tmp.Sub("full")).Manifest.TrainMetricsCaveat());
        Assert.Equal(6, ZooGenerator.Generate(new GenerateOptions { Recipe = SmallTetris(6), Output = tmp.Sub("full"), Resume = true }).ModelsSkipped);

        // Parts of one run written by two versions are not merged.
        ZooGenerator.Generate(new GenerateOptions { Recipe = Partial(), Output = tmp.Sub("p0"), ShardIndex = 0, ShardCount = 2 });
        ZooGenerator.Generate(new GenerateOptions { Recipe = Partial(), Output = tmp.Sub("p1"), ShardIndex = 1, ShardCount = 2 });
        WrittenBy(tmp.Sub("p1"), "zoogen 0.1.0.0");
        var m = Assert.Throws<ZooFormatException>(() => ZooMerge.Merge(tmp.Sub("merged"), new[] { tmp.Sub("p0"), tmp.Sub("p1") }));
        Assert.Contains("zoogen 0.1.0.0", m.Message);
        Assert.False(Directory.Exists(tmp.Sub("merged")) && Directory.EnumerateFiles(tmp.Sub("merged")).Any());
    }

    [Fact]
    public void GridSamplingCoversTheGridAndRandomSamplingIsSeeded()
    {
        var hyp = Presets.Get("mnist-hyp");
        var models = hyp.SampleModels();
        Assert.Equal(2560, models.Count);
        Assert.Equal(256, models.Select(m => (m.Activation, m.Init, m.Optimizer, m.LearningRate, m.WeightDecay, m.Dropout)).Distinct().Count());
        Assert.Equal(Enumerable.Range(1, 10), models.Select(m => m.Seed).Distinct().Order());
        var tetrisHyp = Presets.Get("tetris-hyp");
        Assert.Equal(2900 * 75, tetrisHyp.Models * tetrisHyp.Checkpoints.Count);
        var u = Presets.Get("cifar10-hyp-4970");
        Assert.Equal(u.SampleModels().Select(m => m.LearningRate), u.SampleModels().Select(m => m.LearningRate));
        Assert.True(u.SampleModels().Take(200).Select(m => m.TrainFraction).Distinct().Count() == 4);
    }
}
