using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace WeightSpace.MLNet.Tests.Foundation;

public class TorchSharpTests
{
    [Fact]
    public void ForwardAndBackwardOfASmallNetworkGiveKnownValues()
    {
        var x = tensor(new float[] { 1f, 2f }, new long[] { 1, 2 });
        var w = tensor(new float[] { 0.5f, -1f, 2f, 0.25f }, new long[] { 2, 2 }, requires_grad: true);
        var y = nn.functional.relu(x.matmul(w.t())).sum();
        y.backward();
        Assert.Equal(2.5f, y.item<float>(), 5);
        // relu(x·w₀) = relu(−1.5) = 0 passes no gradient; relu(x·w₁) = 2.5 passes x.
        Assert.Equal(new[] { 0f, 0f, 1f, 2f }, w.grad!.data<float>().ToArray());
    }

    [Fact]
    public void AnOptimizerStepOnALinearModuleMovesItsWeightsDownTheGradient()
    {
        using var linear = nn.Linear(2, 1, hasBias: false);
        using (no_grad()) linear.weight!.copy_(tensor(new float[] { 1f, -1f }, new long[] { 1, 2 }));
        var sgd = optim.SGD(linear.parameters(), 0.5);
        var x = tensor(new float[] { 2f, 3f }, new long[] { 1, 2 });
        var loss = linear.call(x).pow(2).sum(); // (2 − 3)² = 1, d/dw = 2·(−1)·x = [−4, −6]
        Assert.Equal(1f, loss.item<float>(), 5);
        loss.backward();
        sgd.step();
        Assert.Equal(new[] { 3f, 2f }, linear.weight!.data<float>().ToArray()); // w − 0.5·[−4, −6]
    }
}

/// <summary>
/// The load-time Debian 12 patch (Internal/TorchSharpNatives.cs) on a folder laid out like an app's output that was built
/// without this repository's targets: it holds TorchSharp's native library exactly as the NuGet package ships it.
/// </summary>
public class TorchSharpNativesTests
{
    private static string ShippedNativeLibrary()
    {
        var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var version = typeof(torch).Assembly.GetName().Version!;
        var path = Path.Combine(cache, "torchsharp", $"{version.Major}.{version.Minor}.{version.Build}", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.True(File.Exists(path), $"TorchSharp's native library as shipped was expected at {path} (the NuGet cache)");
        return path;
    }

    [Fact]
    public void AnAppFolderWithTheShippedNativeLibraryIsPatchedOnceWhenThisMachineNeedsItAndTheCacheIsLeftAlone()
    {
        if (!OperatingSystem.IsLinux()) return; // the patch is for Linux's dynamic loader; elsewhere PrepareFolder says so
        var shipped = ShippedNativeLibrary();
        var before = File.ReadAllBytes(shipped);
        Assert.True(GlibcxxRequirement.Weaken((byte[])before.Clone(), GlibcxxRequirement.Version) == true, "the shipped library no longer has the strong requirement");
        using var tmp = new TempDir();
        var native = Path.Combine(tmp.Path, "runtimes", "linux-x64", "native");
        Directory.CreateDirectory(native);
        File.Copy(shipped, Path.Combine(native, "libLibTorchSharp.so"));

        var outcome = TorchSharpNatives.PrepareFolder(tmp.Path);
        var after = File.ReadAllBytes(Path.Combine(native, "libLibTorchSharp.so"));
        if (GlibcxxRequirement.SystemLibstdcxxHas(GlibcxxRequirement.Version))
        {
            Assert.Contains("libstdc++ provides", outcome);
            Assert.Equal(before, after); // left as shipped
        }
        else
        {
            Assert.Contains("patched", outcome);
            Assert.Equal(before.Length, after.Length);
            Assert.Equal(1, before.Zip(after).Count(p => p.First != p.Second)); // one flag byte differs, nothing else
            Assert.Null(GlibcxxRequirement.Weaken(new byte[] { 0x7f, (byte)'E', (byte)'L', (byte)'F', 2, 1 }.Concat(new byte[58]).ToArray(), GlibcxxRequirement.Version));
            Assert.False(GlibcxxRequirement.Weaken(after, GlibcxxRequirement.Version)); // already weak
            Assert.Contains("nothing to do", TorchSharpNatives.PrepareFolder(tmp.Path)); // idempotent
        }
        Assert.Equal(before, File.ReadAllBytes(shipped)); // the NuGet cache's copy is never touched
        Assert.Empty(Directory.GetFiles(native, "*.tmp-*"));
        // This test process went through the same initializer when the library loaded.
        Assert.DoesNotContain("failed", TorchSharpNatives.Outcome);
        Assert.NotEqual("not run", TorchSharpNatives.Outcome);
    }
}
