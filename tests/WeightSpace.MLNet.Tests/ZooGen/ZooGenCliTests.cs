using System.Text.Json.Nodes;
using WeightSpace.ZooGen;
using Xunit;

namespace WeightSpace.MLNet.Tests.ZooGen;

public class ZooGenCliTests
{
    private static (int Code, string Output) Run(params string[] args)
    {
        var previous = Console.Out;
        var writer = new StringWriter();
        Console.SetOut(writer);
        try { return (Program.Main(args), writer.ToString()); }
        finally { Console.SetOut(previous); }
    }

    [Fact]
    public void GenerateThenInfoJsonReportsSizesAndLastEpochAccuracy()
    {
        using var tmp = new TempDir();
        var (code, output) = Run("generate", "--preset", "tetris-seed", "--models", "9", "--epochs", "4", "--out", tmp.Sub("zoo"));
        Assert.Equal(0, code);
        Assert.Contains("9 models trained", output);
        Assert.Equal(36, ZooDataset.Open(tmp.Sub("zoo")).RowCount); // the preset saves every epoch: 1..4

        var (infoCode, json) = Run("info", tmp.Sub("zoo"), "--json");
        Assert.Equal(0, infoCode);
        var node = JsonNode.Parse(json)!;
        Assert.Equal(36, node["rows"]!.GetValue<long>());
        Assert.Equal(9, node["models"]!.GetValue<int>());
        Assert.Equal(100, node["parameters"]!.GetValue<int>());
        var acc = node["testAccuracyLastEpoch"]!;
        double min = acc["min"]!.GetValue<double>(), mean = acc["mean"]!.GetValue<double>(), max = acc["max"]!.GetValue<double>();
        Assert.InRange(min, 0, mean);
        Assert.InRange(max, mean, 1);
        Assert.Equal(9, node["testAccuracyHistogram"]!.AsArray().Sum(n => n!.GetValue<int>()));
    }

    [Fact]
    public void ShardMergeVerifyAndExportWorkFromTheCommandLine()
    {
        using var tmp = new TempDir();
        foreach (var part in new[] { "0/2", "1/2" })
            Assert.Equal(0, Run("generate", "--preset", "tetris-seed", "--models", "6", "--epochs", "2", "--shard", part, "--out", tmp.Sub("p" + part[0])).Code);
        Assert.Equal(0, Run("merge", "--out", tmp.Sub("all"), tmp.Sub("p0"), tmp.Sub("p1")).Code);
        Assert.Equal(6, ZooDataset.Open(tmp.Sub("all")).ModelIds.Count);
        var (verify, text) = Run("verify", tmp.Sub("all"));
        Assert.Equal(0, verify);
        Assert.Contains("12 rows", text);
        Assert.Equal(0, Run("export", tmp.Sub("all"), "--out", tmp.Sub("npy")).Code);
        Assert.True(File.Exists(tmp.Sub("npy/weights.npy")));
        Assert.Equal(2, Run("merge", "--out", tmp.Sub("again"), tmp.Sub("p0"), tmp.Sub("p0")).Code); // overlapping parts
    }

    [Fact]
    public void PresetsAreListed()
    {
        var (code, text) = Run("presets");
        Assert.Equal(0, code);
        foreach (var name in new[] { "tetris-seed", "tetris-seed-gap", "tetris-hyp", "mnist-seed", "fmnist-seed", "mnist-hyp", "fmnist-hyp", "fmnist-hyp-4970", "cifar10-hyp-4970" })
            Assert.Contains(name, text);
    }
}
