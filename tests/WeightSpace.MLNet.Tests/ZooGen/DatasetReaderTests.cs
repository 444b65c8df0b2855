using System.IO.Compression;
using WeightSpace.ZooGen.Data;
using Xunit;

namespace WeightSpace.MLNet.Tests.ZooGen;

public class DatasetReaderTests
{
    private static ImageDataset Small(int n, int h = 28, int w = 28)
    {
        var rng = new Random(n);
        return new ImageDataset("x", Enumerable.Range(0, n * h * w).Select(_ => (float)(rng.Next(256) / 255.0)).ToArray(),
            Enumerable.Range(0, n).Select(i => i % 10).ToArray(), 1, h, w, 10);
    }

    [Fact]
    public void IdxRoundTripsRawAndGzip()
    {
        using var tmp = new TempDir();
        var data = Small(5);
        IdxReader.Write(data, tmp.Sub("img"), tmp.Sub("lbl"));
        var back = IdxReader.Read(tmp.Sub("img"), tmp.Sub("lbl"), "t");
        Assert.Equal(data.Labels, back.Labels);
        Assert.Equal(data.Pixels, back.Pixels);
        foreach (var f in new[] { "img", "lbl" })
            using (var gz = new GZipStream(File.Create(tmp.Sub(f + ".gz")), CompressionLevel.Fastest)) gz.Write(File.ReadAllBytes(tmp.Sub(f)));
        Assert.Equal(data.Pixels, IdxReader.Read(tmp.Sub("img.gz"), tmp.Sub("lbl.gz"), "t").Pixels);
    }

    [Fact]
    public void CorruptIdxFilesAreNamed()
    {
        using var tmp = new TempDir();
        IdxReader.Write(Small(5), tmp.Sub("img"), tmp.Sub("lbl"));
        var bytes = File.ReadAllBytes(tmp.Sub("img"));
        File.WriteAllBytes(tmp.Sub("trunc"), bytes[..(bytes.Length - 10)]);
        var e = Assert.Throws<InvalidDataException>(() => IdxReader.Read(tmp.Sub("trunc"), tmp.Sub("lbl"), "t"));
        Assert.Contains("trunc", e.Message);
        Assert.Contains("truncated", e.Message);
        bytes[3] = 0x99;
        File.WriteAllBytes(tmp.Sub("magic"), bytes);
        Assert.Contains("magic", Assert.Throws<InvalidDataException>(() => IdxReader.Read(tmp.Sub("magic"), tmp.Sub("lbl"), "t")).Message);
        File.WriteAllBytes(tmp.Sub("bad.gz"), new byte[] { 1, 2, 3, 4 });
        Assert.Contains("bad.gz", Assert.Throws<InvalidDataException>(() => IdxReader.Read(tmp.Sub("bad.gz"), tmp.Sub("lbl"), "t")).Message);
    }

    [Fact]
    public void CifarBinaryIsReadAndConvertedToGrey()
    {
        using var tmp = new TempDir();
        var record = new byte[3073];
        record[0] = 7;
        for (int p = 0; p < 1024; p++) { record[1 + p] = 255; record[1 + 1024 + p] = 0; record[1 + 2048 + p] = 0; } // pure red
        File.WriteAllBytes(tmp.Sub("b.bin"), record.Concat(record).ToArray());
        var data = Cifar10Reader.ReadBatch(tmp.Sub("b.bin"), "c");
        Assert.Equal(2, data.Count);
        Assert.Equal(7, data.Labels[1]);
        Assert.Equal(0.299f, data.Pixels[5], 5);
        File.WriteAllBytes(tmp.Sub("t.bin"), record.Concat(record[..100]).ToArray());
        Assert.Contains("t.bin", Assert.Throws<InvalidDataException>(() => Cifar10Reader.ReadBatch(tmp.Sub("t.bin"), "c")).Message);
        record[0] = 12;
        File.WriteAllBytes(tmp.Sub("l.bin"), record);
        Assert.Contains("label 12", Assert.Throws<InvalidDataException>(() => Cifar10Reader.ReadBatch(tmp.Sub("l.bin"), "c")).Message);
    }

    [Fact]
    public void MnistJsonDigitsAreRead()
    {
        using var tmp = new TempDir();
        for (int d = 0; d < 10; d++)
            File.WriteAllText(tmp.Sub(d + ".json"), "{\"data\":[" + string.Join(",", Enumerable.Repeat(d / 10.0, 784 * 2)) + "]}");
        var data = MnistJsonReader.Read(tmp.Path);
        Assert.Equal(20, data.Count);
        Assert.Equal(9, data.Labels[19]);
        Assert.Equal(0.9f, data.Pixels[19 * 784], 5);
        File.WriteAllText(tmp.Sub("3.json"), "{\"data\":[1,2,3]}");
        Assert.Contains("3.json", Assert.Throws<InvalidDataException>(() => MnistJsonReader.Read(tmp.Path)).Message);
    }

    [Fact]
    public void TetrisIsDeterministicBalancedAndHasAllPlacements()
    {
        Assert.Equal(new[] { 8, 9, 24, 12 }, TetrisDataset.Placements.Select(p => p.Count));
        var a = TetrisDataset.Generate(400, seed: 3);
        var b = TetrisDataset.Generate(400, seed: 3);
        Assert.Equal(a.Pixels, b.Pixels);
        Assert.NotEqual(a.Pixels, TetrisDataset.Generate(400, seed: 4).Pixels);
        Assert.All(Enumerable.Range(0, 4), c => Assert.Equal(100, a.Labels.Count(l => l == c)));
        Assert.All(TetrisDataset.Placements.SelectMany(p => p), m => Assert.Equal(4, m.Sum()));
    }
}
