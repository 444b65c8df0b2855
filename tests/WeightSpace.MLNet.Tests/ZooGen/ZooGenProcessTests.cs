using System.Diagnostics;
using WeightSpace.ZooGen.Generation;
using WeightSpace.ZooGen.Recipes;
using Xunit;

namespace WeightSpace.MLNet.Tests.ZooGen;

/// <summary>Faults that are about processes, with real zoogen processes: a second writer, and kill -9 then --resume.</summary>
public class ZooGenProcessTests
{
    internal static Process Zoogen(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "zoogen.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        return Process.Start(psi)!;
    }

    internal static int ShardsOnDisk(string dir)
    {
        try { return ZooManifest.Load(dir).Shards.Count; }
        catch (ZooFormatException) { return 0; }
        catch (IOException) { return 0; }
    }

    [Fact]
    public void ASecondWriterProcessIsRefusedAndAKilledRunResumesToTheSameRows()
    {
        using var tmp = new TempDir();
        var dir = tmp.Sub("zoo");
        string[] args = { "generate", "--preset", "tetris-seed", "--models", "1500", "--epochs", "30", "--population", "100", "--out", dir };
        using var first = Zoogen(args);
        var clock = Stopwatch.StartNew();
        while (ShardsOnDisk(dir) < 2 && !first.HasExited && clock.Elapsed < TimeSpan.FromSeconds(120)) Thread.Sleep(50);
        Assert.False(first.HasExited, "the first run ended before the test could interfere; make it longer");

        using (var second = Zoogen(args.Append("--resume").ToArray()))
        {
            string error = second.StandardError.ReadToEnd();
            second.WaitForExit();
            Assert.Equal(2, second.ExitCode);
            Assert.Contains($"pid {first.Id}", error);
        }
        Assert.False(first.HasExited);
        first.Kill(entireProcessTree: true); // SIGKILL: no cleanup runs
        first.WaitForExit();
        int shardsAtKill = ShardsOnDisk(dir);
        Assert.InRange(shardsAtKill, 2, 14);

        using (var resume = Zoogen(args.Append("--resume").ToArray()))
        {
            resume.StandardOutput.ReadToEnd();
            resume.WaitForExit();
            Assert.Equal(0, resume.ExitCode);
        }
        Assert.Empty(Directory.GetFiles(dir, "*.tmp-*"));
        var zoo = ZooDataset.Open(dir);
        zoo.Verify();

        var recipe = Presets.Get("tetris-seed");
        recipe.Models = 1500; recipe.Epochs = 30; recipe.Checkpoints = recipe.Checkpoints.Where(c => c <= 30).ToList();
        ZooGenerator.Generate(new GenerateOptions { Recipe = recipe, Output = tmp.Sub("reference") });
        var expected = ZooDataset.Open(tmp.Sub("reference")).Records().OrderBy(r => r.ModelId).ThenBy(r => r.Epoch).ToList();
        var actual = zoo.Records().OrderBy(r => r.ModelId).ThenBy(r => r.Epoch).ToList();
        ZooGeneratorTests.AssertSameRecords(expected, actual); // no row lost, none twice, every value equal
    }
}
