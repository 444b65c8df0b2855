using WeightSpace.MLNet.Tests.Zoo;
using Xunit;

namespace WeightSpace.MLNet.Tests.IO;

public class OwnedFolderTests
{
    [Fact]
    public void ANonEmptyForeignFolderIsRefusedAndLeftUntouched()
    {
        using var tmp = new TempDir();
        var dir = tmp.Sub("mine");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "thesis.tex"), "years of work");
        var e = Assert.Throws<IOException>(() => OwnedFolder.Claim(dir, "Quickstart"));
        Assert.Contains("already holds files", e.Message);
        Assert.Equal(new[] { "thesis.tex" }, Directory.GetFileSystemEntries(dir).Select(Path.GetFileName));
        Assert.Equal("years of work", File.ReadAllText(Path.Combine(dir, "thesis.tex")));
    }

    [Fact]
    public void ANewOrEmptyFolderIsMarkedAndCanBeClaimedAgain()
    {
        using var tmp = new TempDir();
        var fresh = OwnedFolder.Claim(tmp.Sub("new/deep"), "test");
        Assert.True(File.Exists(fresh.PathOf(OwnedFolder.MarkerFile)));
        File.WriteAllText(fresh.PathOf("results.md"), "x");
        fresh.Dispose();
        using (var again = OwnedFolder.Claim(tmp.Sub("new/deep"), "test")) Assert.Equal(fresh.Path, again.Path); // ours: may write again
        Directory.CreateDirectory(tmp.Sub("empty"));
        using (var empty = OwnedFolder.Claim(tmp.Sub("empty"), "test")) Assert.True(File.Exists(empty.PathOf(OwnedFolder.MarkerFile)));
        File.WriteAllText(tmp.Sub("a-file"), "");
        Assert.Throws<IOException>(() => OwnedFolder.Claim(tmp.Sub("a-file"), "test"));
    }

    [Fact]
    public void ExportRefusesAForeignFolderInsteadOfOverwritingItsFiles()
    {
        using var tmp = new TempDir();
        var zoo = ZooTestData.Write(tmp.Sub("zoo"), WeightSpace.MLNet.WeightLayout.TetrisMlp100, models: 2, epochs: 2);
        var foreign = tmp.Sub("foreign");
        Directory.CreateDirectory(foreign);
        File.WriteAllText(Path.Combine(foreign, NumpyZoo.WeightsFile), "not ours");
        Assert.Throws<IOException>(() => NumpyZoo.Export(zoo, foreign));
        Assert.Equal("not ours", File.ReadAllText(Path.Combine(foreign, NumpyZoo.WeightsFile)));
    }
}

public class QuickstartSafetyTests
{
    [Fact]
    public void TheQuickstartRefusesAFolderWithSomeoneElsesFilesAndDeletesNothing()
    {
        using var tmp = new TempDir();
        var dir = tmp.Sub("results");
        Directory.CreateDirectory(Path.Combine(dir, "mine"));
        File.WriteAllText(Path.Combine(dir, "mine", "notes.txt"), "keep me");
        var entry = System.Reflection.Assembly.Load("Quickstart").EntryPoint!;
        var previous = Console.Error;
        var error = new StringWriter();
        Console.SetError(error);
        int code;
        try { code = (int)entry.Invoke(null, new object[] { new[] { "--out", dir } })!; }
        finally { Console.SetError(previous); }
        Assert.Equal(2, code);
        Assert.Contains("already holds files", error.ToString());
        Assert.Equal("keep me", File.ReadAllText(Path.Combine(dir, "mine", "notes.txt")));
        Assert.Single(Directory.GetFileSystemEntries(dir));
    }
}
