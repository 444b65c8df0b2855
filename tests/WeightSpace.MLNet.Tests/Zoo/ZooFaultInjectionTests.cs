using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML;
using WeightSpace.ZooGen.Generation;
using WeightSpace.ZooGen.Recipes;
using Xunit;

namespace WeightSpace.MLNet.Tests.Zoo;

/// <summary>
/// Every fault of the integrity review (issue "Zoo integrity and a safe command line"), injected into real files, each
/// asserting the named error. Process faults (a second writer, kill -9) are in ZooGenProcessTests.
/// </summary>
public class ZooFaultInjectionTests
{
    private static string Manifest(string dir) => Path.Combine(dir, ZooManifest.FileName);

    /// <summary>Four models × three epochs in two shards of equal size.</summary>
    private static string TwoShardZoo(TempDir tmp)
    {
        var dir = tmp.Sub("zoo");
        ZooTestData.Write(dir, WeightLayout.TetrisMlp100, models: 4, epochs: 3, rowsPerShard: 6);
        Assert.Equal(2, ZooDataset.Open(dir).Manifest.Shards.Count);
        return dir;
    }

    private static void Edit(string dir, Action<JsonNode> edit)
    {
        var node = JsonNode.Parse(File.ReadAllText(Manifest(dir)))!;
        edit(node);
        File.WriteAllText(Manifest(dir), node.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>An edit that also recomputes the manifest's checksum, as a determined hand (or a buggy tool) would.</summary>
    private static void EditAndReseal(string dir, Action<JsonNode> edit)
    {
        Edit(dir, edit);
        var m = JsonSerializer.Deserialize<ZooManifest>(File.ReadAllText(Manifest(dir)), ZooManifest.JsonOptions)!;
        m.Save(dir);
    }

    public static IEnumerable<object[]> ManifestEdits => new[]
    {
        new object[] { "a model id", (Action<JsonNode>)(n => n["shards"]![0]!["modelIds"]![0] = 77) },
        new object[] { "a shard's row count", (Action<JsonNode>)(n => n["shards"]![0]!["rows"] = 5) },
        new object[] { "a shard file name", (Action<JsonNode>)(n => n["shards"]![1]!["file"] = "shard-00000.wsz") },
        new object[] { "the layout", (Action<JsonNode>)(n => n["layout"]!["name"] = "tetris-other") },
        new object[] { "the data set", (Action<JsonNode>)(n => n["dataset"] = "mnist") },
        new object[] { "a column name", (Action<JsonNode>)(n => n["columns"]![0]!["name"] = "Momentum") },
        new object[] { "a recipe value", (Action<JsonNode>)(n => n["recipe"]!["lr"] = 0.5) },
        new object[] { "a shard checksum", (Action<JsonNode>)(n => n["shards"]![0]!["checksum"] = "0123456789abcdef") },
    };

    [Theory]
    [MemberData(nameof(ManifestEdits))]
    public void AnEditedManifestIsRefusedByEveryReaderAndWriterNamingTheManifest(string what, Action<JsonNode> edit)
    {
        using var tmp = new TempDir();
        var dir = TwoShardZoo(tmp);
        Edit(dir, edit);
        foreach (Action open in new Action[] { () => ZooDataset.Open(dir), () => new MLContext().Data.LoadZoo(dir), () => ZooWriter.Append(dir).Dispose() })
        {
            var e = Assert.Throws<ZooFormatException>(open);
            Assert.Contains("zoo.json", e.Message);
            Assert.Contains("edited or damaged", e.Message);
        }
        Assert.True(true, what);
    }

    [Fact]
    public void AModelIdEditedPastTheChecksumIsCaughtByTheShardsRows()
    {
        using var tmp = new TempDir();
        var dir = TwoShardZoo(tmp);
        EditAndReseal(dir, n => n["shards"]![0]!["modelIds"]![0] = 77);
        var zoo = ZooDataset.Open(dir);
        var e = Assert.Throws<ZooFormatException>(() => zoo.Records().ToList());
        Assert.Contains("shard-00000.wsz", e.Message);
        Assert.Contains("model 0", e.Message);
        Assert.Contains("does not list", e.Message);
        Assert.Contains("does not list", Assert.Throws<ZooFormatException>(() => zoo.Verify()).Message);
        // A resume would otherwise retrain model 0 and append it a second time; the writer's checks stop at the rows too.
    }

    [Fact]
    public void ARowCountEditedPastTheChecksumIsNamed()
    {
        using var tmp = new TempDir();
        var dir = TwoShardZoo(tmp);
        EditAndReseal(dir, n => n["shards"]![0]!["rows"] = 5);
        var zoo = ZooDataset.Open(dir);
        Assert.Contains("rows", Assert.Throws<ZooFormatException>(() => zoo.Verify()).Message);
        Assert.Throws<ZooFormatException>(() => zoo.Records().ToList());
        var e = Assert.Throws<ZooFormatException>(() => new MLContext().Data.LoadZoo(dir).Preview(20));
        Assert.Contains("shard-0000", e.Message);
    }

    [Fact]
    public void AShardFileNameRepointedPastTheChecksumIsNamed()
    {
        using var tmp = new TempDir();
        var dir = TwoShardZoo(tmp);
        EditAndReseal(dir, n => n["shards"]![1]!["file"] = "shard-00000.wsz");
        var e = Assert.Throws<ZooFormatException>(() => ZooDataset.Open(dir));
        Assert.Contains("listed twice", e.Message);
        // Pointing at a renamed copy instead: the copy says it is shard 0, the manifest lists it as shard 1.
        File.Copy(Path.Combine(dir, "shard-00000.wsz"), Path.Combine(dir, "copy.wsz"));
        EditAndReseal(dir, n => n["shards"]![1]!["file"] = "copy.wsz");
        var zoo = ZooDataset.Open(dir);
        var r = Assert.Throws<ZooFormatException>(() => zoo.Records().ToList());
        Assert.Contains("copy.wsz", r.Message);
        Assert.Contains("lists it as shard 1", r.Message);
    }

    [Fact]
    public void TwoShardsOfEqualSizeSwappedOnDiskAreNamedBeforeARowIsServed()
    {
        using var tmp = new TempDir();
        var dir = TwoShardZoo(tmp);
        string a = Path.Combine(dir, "shard-00000.wsz"), b = Path.Combine(dir, "shard-00001.wsz");
        Assert.Equal(new FileInfo(a).Length, new FileInfo(b).Length);
        File.Move(a, a + ".x");
        File.Move(b, a);
        File.Move(a + ".x", b);
        var view = new MLContext().Data.LoadZoo(dir);
        var e = Assert.Throws<ZooFormatException>(() => view.Preview(1));
        Assert.Contains("shard-00000.wsz", e.Message);
        Assert.Contains("swapped", e.Message);
        Assert.Contains("swapped", Assert.Throws<ZooFormatException>(() => ZooDataset.Open(dir).Verify()).Message);
    }

    [Fact]
    public void AShardOfAnotherZooIsNamed()
    {
        using var tmp = new TempDir();
        var dir = TwoShardZoo(tmp);
        ZooTestData.Write(tmp.Sub("other"), WeightLayout.TetrisMlp100, models: 4, epochs: 3, rowsPerShard: 6);
        File.Copy(Path.Combine(tmp.Sub("other"), "shard-00000.wsz"), Path.Combine(dir, "shard-00000.wsz"), overwrite: true);
        var e = Assert.Throws<ZooFormatException>(() => ZooDataset.Open(dir).Records().ToList());
        Assert.Contains("another zoo", e.Message);
    }

    [Fact]
    public void AnEditedChecksumBlamesTheManifestNotTheIntactShard()
    {
        using var tmp = new TempDir();
        var dir = TwoShardZoo(tmp);
        Edit(dir, n => n["shards"]![0]!["checksum"] = "0123456789abcdef");
        var e = Assert.Throws<ZooFormatException>(() => ZooDataset.Open(dir).Verify());
        Assert.StartsWith(Manifest(dir), e.Message);
        Assert.DoesNotContain("shard-00000.wsz:", e.Message);
    }

    [Fact]
    public void TheKnownShardFaultsStayNamed()
    {
        using var tmp = new TempDir();
        var dir = TwoShardZoo(tmp);
        var shard = Path.Combine(dir, "shard-00001.wsz");
        var bytes = File.ReadAllBytes(shard);
        File.WriteAllBytes(shard, bytes[..^10]);
        Assert.Contains("truncated", Assert.Throws<ZooFormatException>(() => ZooDataset.Open(dir)).Message);
        var flipped = (byte[])bytes.Clone();
        flipped[ShardFormat.HeaderBytes + 40] ^= 1;
        File.WriteAllBytes(shard, flipped);
        Assert.Contains("checksum mismatch", Assert.Throws<ZooFormatException>(() => ZooDataset.Open(dir).Records().ToList()).Message);
        var header = (byte[])bytes.Clone();
        header[30] ^= 1; // the shard index inside the header: the header's own checksum catches it
        File.WriteAllBytes(shard, header);
        Assert.Contains("header is corrupt", Assert.Throws<ZooFormatException>(() => ZooDataset.Open(dir).Records().ToList()).Message);
        File.Delete(shard);
        Assert.Contains("missing", Assert.Throws<ZooFormatException>(() => ZooDataset.Open(dir)).Message);
        File.WriteAllBytes(shard, Array.Empty<byte>());
        Assert.Contains("truncated", Assert.Throws<ZooFormatException>(() => ZooDataset.Open(dir)).Message);
    }

    [Fact]
    public void ASecondWriterIsRefusedNamingTheHolderAndTouchesNothing()
    {
        using var tmp = new TempDir();
        var dir = TwoShardZoo(tmp);
        using var holder = ZooWriter.Append(dir);
        holder.Write(ZooTestData.Record(WeightLayout.TetrisMlp100, 9, 0));
        holder.Write(ZooTestData.Record(WeightLayout.TetrisMlp100, 10, 0)); // model 9 closed: an open temp shard of the running job
        var temp = Directory.GetFiles(dir, "*.tmp-*").Single();
        var e = Assert.Throws<IOException>(() => ZooWriter.Append(dir));
        Assert.Contains($"pid {Environment.ProcessId}", e.Message);
        Assert.Throws<IOException>(() => ZooWriter.Create(dir, WeightLayout.TetrisMlp100, "x"));
        var recipe = Presets.Get("tetris-seed");
        recipe.Models = 2; recipe.Epochs = 1; recipe.Checkpoints = new() { 1 };
        Assert.Throws<IOException>(() => ZooGenerator.Generate(new GenerateOptions { Recipe = recipe, Output = dir, Resume = true }));
        Assert.True(File.Exists(temp)); // the running job's temp shard survives the refused writers
        holder.Dispose();
        Assert.Equal(14, ZooDataset.Open(dir).RowCount); // 12 + the holder's two rows
    }

    private static string Part(TempDir tmp, int i, int n, int models = 8)
    {
        var recipe = Presets.Get("tetris-seed");
        recipe.Models = models; recipe.Epochs = 2; recipe.Checkpoints = new() { 1, 2 };
        var dir = tmp.Sub($"part{i}");
        ZooGenerator.Generate(new GenerateOptions { Recipe = recipe, Output = dir, ShardIndex = i, ShardCount = n });
        return dir;
    }

    [Fact]
    public void AMergeOfSomePartsIsRefusedUnlessAllowedAndThenSaysItIsPartial()
    {
        using var tmp = new TempDir();
        var parts = Enumerable.Range(0, 4).Select(i => Part(tmp, i, 4)).ToList();
        var e = Assert.Throws<ZooFormatException>(() => ZooMerge.Merge(tmp.Sub("m"), parts.Take(3).ToList()));
        Assert.Contains("3/4", e.Message);
        Assert.Contains("--allow-partial", e.Message);
        Assert.False(File.Exists(Path.Combine(tmp.Sub("m"), ZooManifest.FileName)));
        var partial = ZooMerge.Merge(tmp.Sub("m"), parts.Take(3).ToList(), allowPartial: true);
        Assert.True(partial.Manifest.Partial);
        Assert.Equal(new[] { "0/4", "1/4", "2/4" }, partial.Manifest.MergedParts);
        Assert.Contains("PARTIAL", ZooSummary.Compute(partial).ToText());
        var whole = ZooMerge.Merge(tmp.Sub("w"), parts);
        Assert.False(whole.Manifest.Partial);
        Assert.Equal(8, whole.ModelIds.Count);
        whole.Verify(); // every shard was re-headed for its new zoo
        Assert.Contains("given twice", Assert.Throws<ZooFormatException>(() => ZooMerge.Merge(tmp.Sub("d"), new[] { parts[0], parts[0], parts[1], parts[2] })).Message);
        Assert.Contains("into one of its inputs", Assert.Throws<ArgumentException>(() => ZooMerge.Merge(parts[0], new[] { parts[0], parts[1] })).Message);
    }

    [Fact]
    public void AnInterruptedMergeIsRefusedByReadersAndFinishedByRunningItAgain()
    {
        using var tmp = new TempDir();
        var parts = Enumerable.Range(0, 2).Select(i => Part(tmp, i, 2)).ToList();
        var first = ZooDataset.Open(parts[0]);
        // The state a merge killed after its first shard leaves behind.
        using (var w = ZooWriter.Create(tmp.Sub("m"), first.Manifest))
        {
            w.SetMergeState(new() { "0/2", "1/2" }, partial: false, inProgress: true);
            w.CopyShard(Path.Combine(parts[0], first.Manifest.Shards[0].File), first.Manifest.Shards[0]);
        }
        Assert.Contains("unfinished merge", Assert.Throws<ZooFormatException>(() => ZooDataset.Open(tmp.Sub("m"))).Message);
        Assert.Throws<ZooFormatException>(() => new MLContext().Data.LoadZoo(tmp.Sub("m")));
        Assert.Contains("other inputs", Assert.Throws<IOException>(() => ZooMerge.Merge(tmp.Sub("m"), new[] { parts[1], parts[0] })).Message);
        var merged = ZooMerge.Merge(tmp.Sub("m"), parts);
        var direct = ZooMerge.Merge(tmp.Sub("direct"), parts);
        Assert.Equal(direct.RowCount, merged.RowCount);
        Assert.Equal(direct.Records().Select(r => (r.ModelId, r.Epoch, r.Weights[7])), merged.Records().Select(r => (r.ModelId, r.Epoch, r.Weights[7])));
        Assert.Throws<IOException>(() => ZooMerge.Merge(tmp.Sub("m"), parts)); // finished: never merged into twice
    }
}
