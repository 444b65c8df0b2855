using System.Text.RegularExpressions;
using Xunit;

namespace WeightSpace.MLNet.Tests.Docs;

/// <summary>
/// A number passed where TorchSharp wants a Scalar becomes a native object whose finaliser a GC can run while the native
/// op still reads it: an intermittent "INTERNAL ASSERT FAILED … Scalar" that kills a long training run (TorchScalars).
/// The race cannot be provoked on demand, so this test keeps the calls that make such temporaries out of the library's
/// sources: <c>square()</c> (TorchSharp's is <c>pow(2)</c>), <c>pow(…)</c>, and element-wise ops or comparisons whose
/// argument is a numeric literal. Held scalars (<c>TorchScalars</c>, <c>using var s = x.ToScalar()</c>) are the way.
/// </summary>
public class ScalarRuleTests
{
    private static readonly Regex Temporary = new(
        @"\.(square|pow)\(|\.(mul|div|add|sub|gt|lt|ge|le|eq|ne|clamp|clamp_min|clamp_max|masked_fill|fill_|mul_|div_|add_|sub_)\(\s*[-+]?\d",
        RegexOptions.Compiled);

    [Fact]
    public void TheLibraryPassesNoTemporaryScalarToTorchSharp()
    {
        var dir = Path.Combine(RepoRoot.Path, "src", "WeightSpace.MLNet");
        var files = Directory.GetFiles(dir, "*.cs", SearchOption.AllDirectories).Where(p => !p.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}")).ToList();
        Assert.True(files.Count > 20, $"found only {files.Count} sources under {dir}");
        var violations = new List<string>();
        foreach (var file in files)
        {
            var lines = File.ReadAllLines(file);
            for (int i = 0; i < lines.Length; i++)
            {
                var code = Regex.Replace(lines[i], @"//.*", "");
                if (Temporary.IsMatch(code)) violations.Add($"{Path.GetRelativePath(dir, file)}:{i + 1}: {lines[i].Trim()}");
            }
        }
        Assert.Empty(violations);
    }

    [Theory]
    [InlineData("double sse = d.square().sum().item<double>();")]
    [InlineData("var s = where(std.gt(0), std, one);")]
    [InlineData("x = x.mul(0.5);")]
    [InlineData("x.pow(exponent)")]
    public void TheRuleRecognisesTheCallsItForbids(string line) => Assert.Matches(Temporary, line);

    [Theory]
    [InlineData("var sse = d.mul(d).sum();")]
    [InlineData("var s = where(std.gt(Zero), std, one);")]
    [InlineData("x.add(b, One)")]
    public void TheRuleLetsHeldScalarsAndTensorsThrough(string line) => Assert.DoesNotMatch(Temporary, line);
}
