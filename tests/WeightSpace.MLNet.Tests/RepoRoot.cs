namespace WeightSpace.MLNet.Tests;

/// <summary>The repository checkout the tests run from (the folder above the test binaries holding README.md and src/).</summary>
public static class RepoRoot
{
    public static string Path { get; } = Find();

    private static string Find()
    {
        for (var dir = AppContext.BaseDirectory; dir is not null; dir = System.IO.Path.GetDirectoryName(dir))
            if (File.Exists(System.IO.Path.Combine(dir, "README.md")) && Directory.Exists(System.IO.Path.Combine(dir, "src"))) return dir;
        throw new DirectoryNotFoundException($"no folder above {AppContext.BaseDirectory} holds README.md and src/: the tests read the repository's sources and docs.");
    }
}
