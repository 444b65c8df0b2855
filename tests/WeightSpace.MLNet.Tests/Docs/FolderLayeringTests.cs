using System.Text.RegularExpressions;
using Xunit;

namespace WeightSpace.MLNet.Tests.Docs;

/// <summary>
/// The library is one namespace, so the compiler does not keep its folders layered; this test does. Each folder may use
/// the types of the folders listed for it (each folder's README.md says the same), which keeps dependencies one-way:
/// Internal, Layout, IO → Zoo → Import; Zoo, Augmentation, Probing → Representation → Supervised → MLNet. zoogen's folders likewise:
/// Data → Training → Recipes → Generation → Program.cs.
/// </summary>
public class FolderLayeringTests
{
    private static readonly Dictionary<string, string[]> Library = new()
    {
        ["Internal"] = Array.Empty<string>(),
        ["Layout"] = Array.Empty<string>(),
        ["IO"] = Array.Empty<string>(),
        ["Zoo"] = new[] { "Layout", "IO", "Internal" },
        ["Import"] = new[] { "Layout", "IO", "Internal", "Zoo" },
        ["Augmentation"] = new[] { "Layout", "Internal" },
        ["Probing"] = new[] { "Layout", "Internal" },
        ["Representation"] = new[] { "Layout", "IO", "Internal", "Zoo", "Augmentation", "Probing" },
        ["Supervised"] = new[] { "Layout", "IO", "Internal", "Zoo", "Augmentation", "Probing", "Representation" },
        ["MLNet"] = new[] { "Layout", "IO", "Internal", "Zoo", "Augmentation", "Probing", "Representation", "Supervised" },
    };

    private static readonly Dictionary<string, string[]> ZooGen = new()
    {
        ["Data"] = Array.Empty<string>(),
        ["Training"] = new[] { "Data" },
        ["Recipes"] = new[] { "Data", "Training" },
        ["Generation"] = new[] { "Data", "Training", "Recipes" },
    };

    [Fact]
    public void LibraryFoldersDependOnlyOnTheFoldersBelowThem() => AssertLayered("WeightSpace.MLNet", Library);

    [Fact]
    public void ZooGenFoldersDependOnlyOnTheFoldersBelowThem() => AssertLayered("ZooGen", ZooGen);

    private static void AssertLayered(string project, Dictionary<string, string[]> allowed)
    {
        var dir = Path.Combine(RepoRoot.Path, "src", project);
        var folders = Directory.GetDirectories(dir).Where(d => Directory.GetFiles(d, "*.cs").Length > 0).Select(Path.GetFileName).Where(f => f is not ("bin" or "obj")).ToList();
        Assert.Equal(allowed.Keys.OrderBy(k => k), folders.OrderBy(f => f)); // a new folder needs its place in the table
        var declaration = new Regex(@"^(?:public |internal )?(?:(?:sealed|static|abstract|readonly|partial) )*(?:class|record struct|record|enum|struct|interface) (\w+)", RegexOptions.Multiline);
        var typeFolder = new Dictionary<string, string>();
        var sources = folders.ToDictionary(f => f!, f => Directory.GetFiles(Path.Combine(dir, f!), "*.cs")
            .Select(p => Regex.Replace(File.ReadAllText(p), @"//.*", "")).ToList());
        foreach (var (folder, texts) in sources)
            foreach (var text in texts)
                foreach (Match m in declaration.Matches(text)) typeFolder[m.Groups[1].Value] = folder;
        Assert.True(typeFolder.Count > 10, "no types found: the declaration pattern is out of date");
        var violations = new List<string>();
        foreach (var (folder, texts) in sources)
            foreach (var (type, owner) in typeFolder)
                if (owner != folder && !allowed[folder].Contains(owner) && texts.Any(t => Regex.IsMatch(t, $@"\b{type}\b")))
                    violations.Add($"{folder} uses {type} ({owner})");
        Assert.Empty(violations);
    }
}
