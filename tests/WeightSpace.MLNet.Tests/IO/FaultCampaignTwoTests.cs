using System.IO.Compression;
using System.Runtime.InteropServices;
using Microsoft.ML;
using Microsoft.ML.Data;
using WeightSpace.MLNet.Tests.Representation;
using WeightSpace.MLNet.Tests.Zoo;
using WeightSpace.MLNet.Tests.ZooGen;
using WeightSpace.ZooGen.Generation;
using WeightSpace.ZooGen.Recipes;
using Xunit;

namespace WeightSpace.MLNet.Tests.IO;

/// <summary>
/// The second fault campaign (docs/design.md, "Fault campaigns"): each row of its table, with real files and, where it is
/// about processes, real zoogen processes. Every test asserts the named error and that no user file is gone.
/// </summary>
public class FaultCampaignTwoTests : IClassFixture<SmallZoo>
{
    private readonly SmallZoo _zoo;
    public FaultCampaignTwoTests(SmallZoo zoo) => _zoo = zoo;

    private static string UsersFolder(TempDir tmp)
    {
        var dir = tmp.Sub("users-folder");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "thesis.tmp-1"), "years of work");
        File.WriteAllText(Path.Combine(dir, "notes.txt"), "keep me");
        return dir;
    }

    private static void AssertUntouched(string dir)
    {
        Assert.Equal(new[] { "notes.txt", "thesis.tmp-1" }, Directory.GetFileSystemEntries(dir).Select(Path.GetFileName).Order());
        Assert.Equal("years of work", File.ReadAllText(Path.Combine(dir, "thesis.tmp-1")));
        Assert.Equal("keep me", File.ReadAllText(Path.Combine(dir, "notes.txt")));
    }

    private static Recipe TinyTetris(int models = 3)
    {
        var recipe = Presets.Get("tetris-seed");
        recipe.Models = models; recipe.Epochs = 2; recipe.Checkpoints = new() { 0, 1, 2 };
        return recipe;
    }

    [Fact]
    public void GenerateMergeAndImportRefuseAFolderHoldingAUsersFilesAndDeleteNothing()
    {
        using var tmp = new TempDir();
        var dir = UsersFolder(tmp);
        var e = Assert.Throws<IOException>(() => ZooGenerator.Generate(new GenerateOptions { Recipe = TinyTetris(), Output = dir }));
        Assert.Contains("already holds files that no WeightSpace.MLNet tool wrote", e.Message);
        AssertUntouched(dir);

        var part = tmp.Sub("part");
        ZooGenerator.Generate(new GenerateOptions { Recipe = TinyTetris(), Output = part });
        Assert.Throws<IOException>(() => ZooMerge.Merge(dir, new[] { part }));
        AssertUntouched(dir);

        NumpyZoo.Export(ZooDataset.Open(part), tmp.Sub("npy"));
        Assert.Throws<IOException>(() => NumpyZoo.Import(tmp.Sub("npy"), dir, WeightLayout.TetrisMlp100, "tetris"));
        AssertUntouched(dir);

        // The same through the zoogen command line, as an operator runs it: exit 2, the message, the files.
        using var process = ZooGenProcessTests.Zoogen("generate", "--preset", "tetris-seed", "--models", "2", "--epochs", "1", "--out", dir);
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.Equal(2, process.ExitCode);
        Assert.Contains("already holds files", error);
        AssertUntouched(dir);
    }

    [Fact]
    public void EveryByteOfASavedHyperRepresentationIsCoveredByItsChecksum()
    {
        using var rep = TinyRepresentation(60, out var weights, out int rows);
        var saved = new MemoryStream();
        rep.Save(saved);
        var bytes = saved.ToArray();
        using (var intact = HyperRepresentation.Load(new MemoryStream(bytes), "intact.wsemb"))
            Assert.Equal(rep.Embed(weights, rows), intact.Embed(weights, rows));
        AssertEveryFlipIsNamed(bytes, damaged => HyperRepresentation.Load(new MemoryStream(damaged), "rep.wsemb").Dispose(), "rep.wsemb");
    }

    [Fact]
    public void EveryByteOfASavedPipelineIsCoveredByItsChecksum()
    {
        var ml = new MLContext(1);
        var zoo = ml.Data.LoadZoo(_zoo.Path);
        var model = ml.Transforms.WeightStatistics("Stats", ZooColumns.Weights, WeightLayout.TetrisMlp100)
            .Append(ml.Transforms.NormalizeMeanVariance("Features", "Stats"))
            .Append(ml.Regression.Trainers.Sdca(ZooColumns.TestAccuracy, "Features", maximumNumberOfIterations: 5)).Fit(zoo);
        using var tmp = new TempDir();
        var path = tmp.Sub("probe.wsmodel");
        ml.Model.SaveWeightSpace(model, zoo.Schema, path);
        var bytes = File.ReadAllBytes(path);
        var damagedPath = tmp.Sub("damaged.wsmodel");
        AssertEveryFlipIsNamed(bytes, damaged =>
        {
            File.WriteAllBytes(damagedPath, damaged);
            ml.Model.LoadWeightSpace(damagedPath, out _);
        }, damagedPath);
        // The intact file still loads and predicts as before.
        var loaded = ml.Model.LoadWeightSpace(path, out _);
        Assert.Equal(model.Transform(zoo).GetColumn<float>("Score").Take(20), loaded.Transform(zoo).GetColumn<float>("Score").Take(20));
    }

    [Fact]
    public void AFileSavedBeforeTheSealStillLoads()
    {
        using var rep = TinyRepresentation(40, out var weights, out int rows);
        var saved = new MemoryStream();
        rep.Save(saved);
        // Rewrite it as an earlier version wrote it: the same entries, no comment (so no seal).
        var legacy = new MemoryStream();
        using (var source = new ZipArchive(new MemoryStream(saved.ToArray()), ZipArchiveMode.Read))
        using (var target = new ZipArchive(legacy, ZipArchiveMode.Create, leaveOpen: true))
            foreach (var entry in source.Entries)
            {
                using var from = entry.Open();
                using var to = target.CreateEntry(entry.FullName).Open();
                from.CopyTo(to);
            }
        Assert.NotEqual(saved.ToArray()[^30..], legacy.ToArray()[^30..]);
        using var loaded = HyperRepresentation.Load(new MemoryStream(legacy.ToArray()), "legacy.wsemb");
        Assert.Equal(rep.Embed(weights, rows), loaded.Embed(weights, rows));
    }

    /// <summary>A hyper-representation trained for one epoch on the first <paramref name="count"/> rows of the small zoo.</summary>
    private HyperRepresentation TinyRepresentation(int count, out float[] weights, out int rows)
    {
        var records = ZooDataset.Open(_zoo.Path).Records().Take(count).ToList();
        weights = records.SelectMany(r => r.Weights).ToArray();
        rows = records.Count;
        return HyperRepresentation.Train(WeightLayout.TetrisMlp100, new RepresentationData(weights, rows, new Dictionary<string, float[]>()), null,
            SmallZoo.Tiny with { Epochs = 1 });
    }

    /// <summary>Flips one bit in every byte (a dense, evenly spread sample for large files) and expects the damage named each time.</summary>
    private static void AssertEveryFlipIsNamed(byte[] bytes, Action<byte[]> load, string name)
    {
        int stride = Math.Max(1, bytes.Length / 40_000);
        int tried = 0;
        for (int i = 0; i < bytes.Length; i += stride)
        {
            var damaged = (byte[])bytes.Clone();
            damaged[i] ^= (byte)(1 << (i % 8));
            var e = Assert.Throws<InvalidDataException>(() => load(damaged));
            Assert.True(e.Message.StartsWith(name, StringComparison.Ordinal) && e.Message.Contains("damaged"), $"byte {i} of {bytes.Length}: {e.Message}");
            tried++;
        }
        Assert.True(tried >= Math.Min(bytes.Length, 40_000), $"{tried} flips tried");
    }

    [Fact]
    public void ANaNLabelOnATestModelIsNamedInsteadOfHangingTheComparison()
    {
        using var tmp = new TempDir();
        var dir = tmp.Sub("zoo");
        using (var w = ZooWriter.Create(dir, WeightLayout.TetrisMlp100, "synthetic", ZooTestData.Hyper))
            for (int m = 0; m < 20; m++)
                for (int epoch = 0; epoch < 3; epoch++)
                {
                    var r = ZooTestData.Record(WeightLayout.TetrisMlp100, m, epoch);
                    r.TestAccuracy = m == 13 && epoch == 1 ? float.NaN : 0.1f + 0.01f * m + 0.02f * epoch;
                    w.Write(r);
                }
        var ml = new MLContext(1);
        var comparison = new ProbeComparison(ml) { Probes = new[] { ProbeKind.Linear } };
        var run = Task.Run(() => comparison.Run(ml.Data.LoadZoo(dir), new[] { Featurizer.Statistics(WeightLayout.TetrisMlp100) }, new[] { ZooColumns.TestAccuracy }));
        Assert.True(Task.WhenAny(run, Task.Delay(TimeSpan.FromMinutes(2))).Result == run, "the comparison did not return within two minutes");
        var e = Assert.IsType<ArgumentException>(run.Exception!.InnerException);
        Assert.Contains("'TestAccuracy'", e.Message);
        Assert.Contains("model 13, epoch 1", e.Message);
        // The metrics themselves refuse a NaN (a loop on NaN == NaN never ends), naming the row.
        var tau = Assert.Throws<ArgumentException>(() => ProbeMetrics.KendallTau(new[] { 1.0, double.NaN, 3.0 }, new[] { 1.0, 2.0, 3.0 }));
        Assert.Contains("row 1", tau.Message);
        Assert.Throws<ArgumentException>(() => ProbeMetrics.RSquared(new[] { 1.0, 2.0, 3.0 }, new[] { 1.0, 2.0, double.PositiveInfinity }));
    }

    [Fact]
    public void ADivergingModelIsNeverCommittedInPartAndResumeTrainsItAgain()
    {
        using var tmp = new TempDir();
        var dir = tmp.Sub("zoo");
        var recipe = TinyTetris(models: 4);
        recipe.Epochs = 3; recipe.Checkpoints = new() { 0, 1, 2, 3 };
        recipe.Grid.Optimizer = new() { "sgd" };
        recipe.Grid.LearningRate = new() { 1e-2, 1e38 }; // every other model diverges
        for (int attempt = 0; attempt < 2; attempt++)
        {
            var e = Assert.Throws<ArgumentException>(() => ZooGenerator.Generate(new GenerateOptions { Recipe = recipe, Output = dir, Resume = attempt > 0 }));
            Assert.Contains("diverge", e.Message);
            var zoo = ZooDataset.Open(dir);
            var rows = zoo.Records().GroupBy(r => r.ModelId).ToDictionary(g => g.Key, g => g.Count());
            Assert.All(rows, kv => Assert.Equal(4, kv.Value)); // whole models only
            Assert.All(zoo.Records(), r => Assert.Equal(1e-2f, r.Numeric[ZooColumns.Hyper.LearningRate]));
            zoo.Verify();
        }
    }

    [Fact]
    public void ARefusedRecordDropsItsWholeModelAndNoOther()
    {
        using var tmp = new TempDir();
        var layout = WeightLayout.TetrisMlp100;
        using (var w = ZooWriter.Create(tmp.Sub("zoo"), layout, "synthetic", ZooTestData.Hyper))
        {
            w.Write(ZooTestData.Record(layout, 0, 0));
            w.Write(ZooTestData.Record(layout, 0, 1));
            w.Write(ZooTestData.Record(layout, 1, 0)); // model 1's first checkpoint is fine ...
            var bad = ZooTestData.Record(layout, 1, 1);
            bad.Weights[3] = float.NaN;
            Assert.Throws<ArgumentException>(() => w.Write(bad)); // ... its second is not: all of model 1 goes
            w.Write(ZooTestData.Record(layout, 1, 2)); // a later checkpoint of the refused model is dropped too
            w.Write(ZooTestData.Record(layout, 2, 0)); // the next model is written as usual
            w.Write(ZooTestData.Record(layout, 2, 1));
        }
        var rows = ZooDataset.Open(tmp.Sub("zoo")).Records().Select(r => (r.ModelId, r.Epoch)).ToList();
        Assert.Equal(new[] { (0, 0), (0, 1), (2, 0), (2, 1) }, rows);
    }

    [Fact]
    public void AnImportThatHitsInfinityLeavesNoZoo()
    {
        using var tmp = new TempDir();
        var source = ZooTestData.Write(tmp.Sub("zoo"), WeightLayout.TetrisMlp100, models: 30, epochs: 3);
        NumpyZoo.Export(source, tmp.Sub("npy"));
        var npy = Path.Combine(tmp.Sub("npy"), NumpyZoo.WeightsFile);
        var bytes = File.ReadAllBytes(npy);
        int header = bytes.Length - 90 * WeightLayout.TetrisMlp100.ParameterCount * 4;
        MemoryMarshal.Cast<byte, float>(bytes.AsSpan(header))[81 * WeightLayout.TetrisMlp100.ParameterCount + 7] = float.PositiveInfinity;
        File.WriteAllBytes(npy, bytes);
        var e = Assert.Throws<ArgumentException>(() => NumpyZoo.Import(tmp.Sub("npy"), tmp.Sub("imported"), WeightLayout.TetrisMlp100, "synthetic"));
        Assert.Contains("finite weights only", e.Message);
        Assert.False(Directory.Exists(tmp.Sub("imported")), "a failed import left a folder behind");
    }

    [Fact]
    public void IdsEpochsAndSeedsImportAsIntegersNotThroughFloat32()
    {
        using var tmp = new TempDir();
        var src = NumpyImportTests.Folder(tmp, "ModelId,Epoch,Seed,TestAccuracy\n16777216,1,2147483001,0.5\n16777217,1,2147483002,0.6\n16777219,16777217,7,0.7\n", 3);
        var zoo = NumpyZoo.Import(src, tmp.Sub("zoo"), WeightLayout.TetrisMlp100, "synthetic");
        var rows = zoo.Records().OrderBy(r => r.ModelId).ToList();
        Assert.Equal(new[] { 16777216, 16777217, 16777219 }, rows.Select(r => r.ModelId));
        Assert.Equal(new[] { 2147483001, 2147483002, 7 }, rows.Select(r => r.Seed));
        Assert.Equal(16777217, rows[2].Epoch);
        // (an epoch of 1.5 is refused by name: NumpyImportTests)
    }

    [Fact]
    public void AbsurdModelCountsAreRefusedWithTheLimitBeforeAnythingIsWritten()
    {
        using var tmp = new TempDir();
        foreach (var models in new[] { "99999999", "2147483647" })
        {
            var dir = tmp.Sub("zoo-" + models);
            using var process = ZooGenProcessTests.Zoogen("generate", "--preset", "tetris-seed", "--models", models, "--out", dir);
            string error = process.StandardError.ReadToEnd();
            Assert.True(process.WaitForExit(60_000), "zoogen did not return within a minute");
            Assert.Equal(2, process.ExitCode);
            Assert.Contains("models must be ≤ 1,000,000", error);
            Assert.Contains("GiB", error);
            Assert.False(Directory.Exists(dir), "a refused run left a folder");
        }
        var recipe = TinyTetris();
        recipe.Epochs = 10_000_000;
        Assert.Contains("epochs must be ≤", Assert.Throws<ArgumentException>(recipe.Validate).Message);
        recipe = TinyTetris();
        recipe.Grid.LearningRate = Enumerable.Range(1, 4000).Select(i => i * 1e-6).ToList();
        recipe.Grid.WeightDecay = Enumerable.Range(0, 4000).Select(i => i * 1e-6).ToList();
        Assert.Contains("configurations", Assert.Throws<ArgumentException>(recipe.Validate).Message);
    }

    [Fact]
    public void AShardReplacedByASymlinkToAnIntactCopyIsReadThroughTheLink()
    {
        using var tmp = new TempDir();
        var zoo = ZooTestData.Write(tmp.Sub("zoo"), WeightLayout.TetrisMlp100, models: 4, epochs: 2);
        var before = zoo.Records().Select(r => r.Weights.Sum()).ToArray();
        var shard = Path.Combine(tmp.Sub("zoo"), zoo.Manifest.Shards[0].File);
        File.Copy(shard, tmp.Sub("copy.wsz"));
        File.Delete(shard);
        File.CreateSymbolicLink(shard, tmp.Sub("copy.wsz"));
        var again = ZooDataset.Open(tmp.Sub("zoo"));
        Assert.Equal(before, again.Records().Select(r => r.Weights.Sum()));
        again.Verify();
        using (ZooWriter.Append(tmp.Sub("zoo"))) { } // a resume accepts it too
        // A dangling link is named, not measured as a short file.
        File.Delete(tmp.Sub("copy.wsz"));
        var e = Assert.ThrowsAny<Exception>(() => ZooDataset.Open(tmp.Sub("zoo")));
        Assert.Contains(zoo.Manifest.Shards[0].File, e.Message);
    }

    [Fact]
    public void ASecondClaimOfAnOutputFolderIsRefusedNamingTheHolder()
    {
        using var tmp = new TempDir();
        var dir = tmp.Sub("out");
        using (var first = OwnedFolder.Claim(dir, "Quickstart"))
        {
            File.WriteAllText(first.PathOf("results.md"), "first run");
            var e = Assert.Throws<IOException>(() => OwnedFolder.Claim(dir, "Quickstart"));
            Assert.Contains($"held by pid {Environment.ProcessId}", e.Message);
            Assert.Equal("first run", File.ReadAllText(first.PathOf("results.md")));
        }
        using (OwnedFolder.Claim(dir, "Quickstart")) { } // released: the next run may write again
    }

    [Fact]
    public void TwoQuickstartProcessesOnOneNewFolder_TheSecondIsRefusedNamingTheFirst()
    {
        using var tmp = new TempDir();
        var dir = tmp.Sub("out");
        System.Diagnostics.Process Quickstart()
        {
            var psi = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Quickstart.dll"));
            foreach (var a in new[] { "--models", "2000", "--epochs", "150", "--out", dir }) psi.ArgumentList.Add(a);
            return System.Diagnostics.Process.Start(psi)!;
        }
        using var first = Quickstart();
        try
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (!File.Exists(Path.Combine(dir, OwnedFolder.MarkerFile)) && !first.HasExited && clock.Elapsed < TimeSpan.FromSeconds(60)) Thread.Sleep(50);
            Thread.Sleep(200); // the marker is written right after the lock is taken
            Assert.False(first.HasExited, "the first Quickstart ended before the second started");
            using var second = Quickstart();
            string error = second.StandardError.ReadToEnd();
            Assert.True(second.WaitForExit(60_000));
            Assert.Equal(2, second.ExitCode);
            Assert.Contains($"is held by pid {first.Id}", error);
            Assert.DoesNotContain("   at ", error); // a message, not a stack trace
        }
        finally
        {
            first.Kill(entireProcessTree: true);
            first.WaitForExit();
        }
    }

    [Fact]
    public void AMistypedProbeNamesTheOptionAndTheValidValues()
    {
        var entry = System.Reflection.Assembly.Load("PaperTables").EntryPoint!;
        var previous = Console.Error;
        var error = new StringWriter();
        Console.SetError(error);
        int code;
        try { code = (int)entry.Invoke(null, new object[] { new[] { "hyp", "--zoo", _zoo.Path, "--probes", "Linaer" } })!; }
        finally { Console.SetError(previous); }
        Assert.Equal(2, code);
        Assert.Contains("--probes: 'Linaer' is not a probe", error.ToString());
        Assert.Contains("linear", error.ToString());
        Assert.Contains("lightgbm", error.ToString());
    }

    [Fact]
    public void AFailedExportLeavesNoTemporaryFiles()
    {
        using var tmp = new TempDir();
        var zoo = ZooTestData.Write(tmp.Sub("zoo"), WeightLayout.TetrisMlp100, models: 40, epochs: 3, rowsPerShard: 20);
        // Damage the last shard so that reading fails midway through the export (as a full disk fails a write).
        var last = Path.Combine(tmp.Sub("zoo"), zoo.Manifest.Shards[^1].File);
        var bytes = File.ReadAllBytes(last);
        bytes[^100] ^= 0xFF;
        File.WriteAllBytes(last, bytes);
        Assert.ThrowsAny<Exception>(() => NumpyZoo.Export(ZooDataset.Open(tmp.Sub("zoo")), tmp.Sub("out")));
        Assert.Empty(Directory.GetFiles(tmp.Sub("out"), "*.tmp-*"));
        Assert.False(File.Exists(Path.Combine(tmp.Sub("out"), NumpyZoo.WeightsFile)));
    }
}
