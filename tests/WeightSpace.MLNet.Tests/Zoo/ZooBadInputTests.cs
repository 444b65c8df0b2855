using System.Text.Json.Nodes;
using Xunit;

namespace WeightSpace.MLNet.Tests.Zoo;

public class ZooBadInputTests
{
    private static string ShardPath(string dir) => Path.Combine(dir, ZooDataset.Open(dir).Manifest.Shards[0].File);

    [Fact]
    public void TruncatedShardIsNamedAndLeftAlone()
    {
        using var tmp = new TempDir();
        ZooTestData.Write(tmp.Sub("zoo"), WeightLayout.TetrisMlp100, 4, 3);
        var shard = ShardPath(tmp.Sub("zoo"));
        var bytes = File.ReadAllBytes(shard);
        File.WriteAllBytes(shard, bytes[..(bytes.Length - 100)]);
        var e = Assert.Throws<ZooFormatException>(() => ZooDataset.Open(tmp.Sub("zoo")));
        Assert.Contains("shard-00000.wsz", e.Message);
        Assert.Contains("truncated", e.Message);
        Assert.Equal(bytes.Length - 100, new FileInfo(shard).Length);
    }

    [Fact]
    public void FlippedByteFailsTheChunkChecksumBeforeRowsAreServed()
    {
        using var tmp = new TempDir();
        ZooTestData.Write(tmp.Sub("zoo"), WeightLayout.TetrisMlp100, 4, 3);
        var shard = ShardPath(tmp.Sub("zoo"));
        var bytes = File.ReadAllBytes(shard);
        bytes[ShardFormat.HeaderBytes + 8 + 17] ^= 0x40; // inside the first chunk's weights
        File.WriteAllBytes(shard, bytes);
        var zoo = ZooDataset.Open(tmp.Sub("zoo"));
        var e = Assert.Throws<ZooFormatException>(() => zoo.Records().ToList());
        Assert.Contains("checksum", e.Message);
        Assert.Contains("shard-00000.wsz", e.Message);
        var v = Assert.Throws<ZooFormatException>(() => zoo.Verify());
        Assert.Contains("corrupt", v.Message);
    }

    [Fact]
    public void MissingManifestSaysSo()
    {
        using var tmp = new TempDir();
        var e = Assert.Throws<ZooFormatException>(() => ZooDataset.Open(tmp.Path));
        Assert.Contains("zoo.json", e.Message);
        Assert.Contains("missing", e.Message);
    }

    [Fact]
    public void NewerFormatVersionIsRefusedWithBothVersions()
    {
        using var tmp = new TempDir();
        ZooTestData.Write(tmp.Sub("zoo"), WeightLayout.TetrisMlp100, 1, 1);
        var path = Path.Combine(tmp.Sub("zoo"), "zoo.json");
        var node = JsonNode.Parse(File.ReadAllText(path))!;
        node["formatVersion"] = 7;
        File.WriteAllText(path, node.ToJsonString());
        var e = Assert.Throws<ZooFormatException>(() => ZooDataset.Open(tmp.Sub("zoo")));
        Assert.Contains("version 7", e.Message);
        Assert.Contains("zoo.json", e.Message);
    }

    [Fact]
    public void WrongVectorLengthAndNonFiniteWeightsAreRefusedOnWriteWithoutDamage()
    {
        using var tmp = new TempDir();
        ZooTestData.Write(tmp.Sub("zoo"), WeightLayout.TetrisMlp100, 2, 2);
        var before = File.ReadAllText(Path.Combine(tmp.Sub("zoo"), "zoo.json"));
        using (var w = ZooWriter.Append(tmp.Sub("zoo")))
        {
            var shortRecord = ZooTestData.Record(WeightLayout.TetrisMlp100, 9, 0);
            shortRecord.Weights = new float[99];
            var e1 = Assert.Throws<ArgumentException>(() => w.Write(shortRecord));
            Assert.Contains("'Weights'", e1.Message);
            Assert.Contains("99", e1.Message);
            Assert.Contains("100", e1.Message);

            var nan = ZooTestData.Record(WeightLayout.TetrisMlp100, 9, 1);
            nan.Weights[42] = float.NaN;
            var e2 = Assert.Throws<ArgumentException>(() => w.Write(nan));
            Assert.Contains("value 42", e2.Message);

            var inf = ZooTestData.Record(WeightLayout.TetrisMlp100, 9, 2);
            inf.Weights[0] = float.PositiveInfinity;
            Assert.Throws<ArgumentException>(() => w.Write(inf));

            var missing = ZooTestData.Record(WeightLayout.TetrisMlp100, 9, 3);
            missing.Text.Clear();
            var e3 = Assert.Throws<ArgumentException>(() => w.Write(missing));
            Assert.Contains("'Activation'", e3.Message);
        }
        Assert.Equal(before, File.ReadAllText(Path.Combine(tmp.Sub("zoo"), "zoo.json")));
        Assert.Equal(4, ZooDataset.Open(tmp.Sub("zoo")).Records().Count());
    }

    [Fact]
    public void AnOpenShardThatNeverCompletedIsInvisibleAndCleanedUpByTheNextWriter()
    {
        using var tmp = new TempDir();
        ZooTestData.Write(tmp.Sub("zoo"), WeightLayout.TetrisMlp100, 2, 2);
        using (var w = ZooWriter.Append(tmp.Sub("zoo")))
        {
            w.Write(ZooTestData.Record(WeightLayout.TetrisMlp100, 7, 0));
            Assert.Empty(Directory.GetFiles(tmp.Sub("zoo"), "*.tmp-*")); // the open model is held until it is closed
            w.Write(ZooTestData.Record(WeightLayout.TetrisMlp100, 8, 0)); // model 7 closed: into the open shard
            Assert.Single(Directory.GetFiles(tmp.Sub("zoo"), "*.tmp-*"));
            Assert.Equal(4, ZooDataset.Open(tmp.Sub("zoo")).RowCount); // readers never see the open shard
            // A crash here would leave the temp file behind (the kill -9 tests do it for real); plant such leftovers, of
            // this version's naming and the earlier one's, next to a user's file whose name merely looks temporary.
            File.WriteAllBytes(Path.Combine(tmp.Sub("zoo"), "shard-00001.wsz.tmp-999999-0123abcd"), new byte[1000]);
            File.WriteAllBytes(Path.Combine(tmp.Sub("zoo"), "shard-00002.wsz.tmp-999999"), new byte[1000]);
            File.WriteAllText(Path.Combine(tmp.Sub("zoo"), "thesis.tmp-1"), "years of work");
            w.DiscardOpenShard();
        }
        using (ZooWriter.Append(tmp.Sub("zoo"))) { } // the next writer holds the lock, so it may clean up its own kind of leftovers
        Assert.Equal(new[] { "thesis.tmp-1" }, Directory.GetFiles(tmp.Sub("zoo"), "*.tmp-*").Select(Path.GetFileName));
        Assert.Equal("years of work", File.ReadAllText(Path.Combine(tmp.Sub("zoo"), "thesis.tmp-1")));
        Assert.Equal(4, ZooDataset.Open(tmp.Sub("zoo")).RowCount);
    }

    [Fact]
    public void CorruptNpyIsRefused()
    {
        using var tmp = new TempDir();
        Directory.CreateDirectory(tmp.Sub("npy"));
        File.WriteAllBytes(tmp.Sub("npy/weights.npy"), new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 });
        File.WriteAllText(tmp.Sub("npy/metrics.csv"), "test_accuracy\n0.5\n");
        var e = Assert.Throws<ZooFormatException>(() => NumpyZoo.Import(tmp.Sub("npy"), tmp.Sub("out"), WeightLayout.TetrisMlp100, "x"));
        Assert.Contains("weights.npy", e.Message);
    }
}
