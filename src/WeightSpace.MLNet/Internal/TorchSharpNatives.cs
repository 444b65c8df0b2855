using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace WeightSpace.MLNet;

/// <summary>
/// Makes TorchSharp's native library loadable on stock Debian 12 for every app that uses this library, however it was
/// built. The build fix (build/WeakenTorchSharpGlibcxx.targets) reaches this repository's projects and package consumers
/// (buildTransitive), but not an app that references the library's project from outside the repository: its output gets
/// TorchSharp's unpatched libLibTorchSharp.so, and the first torch call throws "GLIBCXX_3.4.32 not found". So when this
/// assembly loads — before any of its code can touch torch — it applies the same patch (build/WeakenGlibcxxRequirement.cs,
/// compiled in) to the copy beside the app, if that copy still has the requirement and the machine's libstdc++ lacks
/// it. Nothing happens elsewhere (not Linux, a new libstdc++, an already patched or absent copy); a copy that cannot be
/// patched (a read-only folder) is reported on standard error with the way out, and nothing is thrown here.
/// </summary>
internal static class TorchSharpNatives
{
    /// <summary>The result of the check, for tests and diagnostics: what was found and done.</summary>
    internal static string Outcome { get; private set; } = "not run";

#pragma warning disable CA2255 // a module initializer in a library: the patch must precede TorchSharp's first load, which any of our types may trigger
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Prepare()
    {
        try
        {
            Outcome = PrepareFolder(AppContext.BaseDirectory);
        }
        catch (Exception e)
        {
            Outcome = "failed: " + e.Message;
        }
    }

    /// <summary>Patches the TorchSharp native library copies under <paramref name="baseDirectory"/> when this machine needs it.</summary>
    internal static string PrepareFolder(string baseDirectory)
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux)) return "not Linux";
        string rid = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? "linux-arm64" : "linux-x64";
        var candidates = new[]
        {
            Path.Combine(baseDirectory, "runtimes", rid, "native", "libLibTorchSharp.so"),
            Path.Combine(baseDirectory, "libLibTorchSharp.so"),
            Path.Combine(baseDirectory, "cpu", "libLibTorchSharp.so"),
        }.Where(File.Exists).ToList();
        if (candidates.Count == 0) return "no TorchSharp native library beside the app";
        bool? systemHasIt = null;
        var done = new List<string>();
        foreach (var path in candidates)
        {
            var bytes = File.ReadAllBytes(path);
            if (GlibcxxRequirement.Weaken(bytes, GlibcxxRequirement.Version) != true) { done.Add(path + ": nothing to do"); continue; }
            systemHasIt ??= GlibcxxRequirement.SystemLibstdcxxHas(GlibcxxRequirement.Version);
            if (systemHasIt == true) return "libstdc++ provides " + GlibcxxRequirement.Version;
            try
            {
                GlibcxxRequirement.WeakenFile(path);
                done.Add(path + ": patched");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"WeightSpace.MLNet: {path} needs {GlibcxxRequirement.Version}, which this machine's libstdc++ lacks, and could not " +
                    $"be patched ({e.Message}); TorchSharp will fail to load. Build the app with the WeightSpace.MLNet package (its build targets patch " +
                    "the copy), or make the folder writable once.");
                done.Add(path + ": could not patch");
            }
        }
        return string.Join("; ", done);
    }
}
