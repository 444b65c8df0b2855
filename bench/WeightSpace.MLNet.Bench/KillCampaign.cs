using System.Diagnostics;

namespace WeightSpace.MLNet.Bench;

/// <summary>
/// Crash safety, measured: runs zoogen generate and zoogen merge as real processes, kills them with SIGKILL at random moments
/// N times each (continuing with --resume / the same merge after every kill), and compares the final zoos row by row with
/// runs that were never interrupted. Prints kills, rows lost, rows duplicated and rows that differ.
/// </summary>
internal static class KillCampaign
{
    private static readonly string Zoogen = Path.Combine(AppContext.BaseDirectory, "zoogen.dll");

    public static void Run(int kills, int seed)
    {
        var rng = new Random(seed);
        var root = Path.Combine(Path.GetTempPath(), "wsml-kill-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(root);
        try
        {
            string[] gen = { "generate", "--preset", "tetris-seed", "--models", "2000", "--epochs", "40", "--population", "100" };
            double genSeconds = Exec(gen.Concat(new[] { "--out", Path.Combine(root, "reference") }).ToArray());
            var (genKills, genRuns) = Campaign(gen.Concat(new[] { "--out", Path.Combine(root, "killed") }).ToArray(), "--resume", kills, rng, Path.Combine(root, "killed"), genSeconds);
            Report("generate", genKills, genRuns, Path.Combine(root, "reference"), Path.Combine(root, "killed"));

            var parts = new List<string>();
            for (int i = 0; i < 4; i++)
            {
                var p = Path.Combine(root, $"part{i}");
                Exec(gen.Concat(new[] { "--shard", $"{i}/4", "--out", p }).ToArray());
                parts.Add(p);
            }
            double mergeSeconds = Exec(new[] { "merge", "--out", Path.Combine(root, "merged-reference") }.Concat(parts).ToArray());
            var merge = new[] { "merge", "--out", Path.Combine(root, "merged-killed") }.Concat(parts).ToArray();
            var (mergeKills, mergeRuns) = Campaign(merge, null, kills, rng, Path.Combine(root, "merged-killed"), mergeSeconds);
            Report("merge", mergeKills, mergeRuns, Path.Combine(root, "merged-reference"), Path.Combine(root, "merged-killed"));
        }
        finally { Directory.Delete(root, recursive: true); }
    }

    /// <summary>
    /// Starts the command and kills it after a random delay, uniform over the uninterrupted run's duration, each time
    /// continuing; after the last kill the run finishes. Prints when each kill landed.
    /// </summary>
    private static (int Kills, int Runs) Campaign(string[] args, string? resumeFlag, int kills, Random rng, string dir, double typical)
    {
        int done = 0, runs = 0;
        while (true)
        {
            var runArgs = runs > 0 && resumeFlag is not null ? args.Append(resumeFlag).ToArray() : args;
            using var p = Start(runArgs);
            runs++;
            var clock = Stopwatch.StartNew();
            bool killNow = done < kills;
            int delayMs = killNow ? (int)(rng.NextDouble() * typical * 1000) : int.MaxValue;
            while (!p.HasExited && clock.ElapsedMilliseconds < delayMs) Thread.Sleep(5);
            if (!p.HasExited)
            {
                p.Kill(entireProcessTree: true);
                p.WaitForExit();
                done++;
                Console.WriteLine($"  kill {done} at {delayMs / 1000.0:F2} s of a {typical:F1} s run: {ShardsOf(dir)} shards on disk");
                continue;
            }
            p.WaitForExit();
            if (p.ExitCode != 0) throw new InvalidOperationException($"zoogen {string.Join(' ', runArgs)} failed with {p.ExitCode}: {p.StandardError.ReadToEnd()}");
            if (done >= kills) return (done, runs);
            // Finished before the kill (a resumed run is shorter): start over in a fresh folder so every kill lands inside a run.
            Directory.Delete(dir, recursive: true);
        }
    }

    private static string ShardsOf(string dir)
    {
        try { return ZooManifest.Load(dir).Shards.Count.ToString(); }
        catch (Exception e) when (e is ZooFormatException or IOException) { return "0 (no manifest yet)"; }
    }

    private static void Report(string what, int kills, int runs, string reference, string killed)
    {
        var expected = ZooDataset.Open(reference).Records().ToDictionary(r => (r.ModelId, r.Epoch));
        var zoo = ZooDataset.Open(killed);
        zoo.Verify();
        int duplicated = 0, differing = 0, seen = 0;
        var keys = new HashSet<(int, int)>();
        foreach (var r in zoo.Records())
        {
            if (!keys.Add((r.ModelId, r.Epoch))) { duplicated++; continue; }
            seen++;
            if (!expected.TryGetValue((r.ModelId, r.Epoch), out var e) || !e.Weights.AsSpan().SequenceEqual(r.Weights) || e.TestAccuracy != r.TestAccuracy) differing++;
        }
        int lost = expected.Count - seen;
        Console.WriteLine($"{what,-8}: {kills} SIGKILLs over {runs} runs; final zoo {seen:N0} rows (reference {expected.Count:N0}): lost {lost}, duplicated {duplicated}, " +
                          $"differing {differing}; verify ok; temp files left {Directory.GetFiles(killed, "*.tmp-*").Length}");
    }

    private static Process Start(string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Zoogen);
        foreach (var a in args) psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        return p;
    }

    private static double Exec(string[] args)
    {
        var clock = Stopwatch.StartNew();
        using var p = Start(args);
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"zoogen {string.Join(' ', args)} failed: {p.StandardError.ReadToEnd()}");
        return clock.Elapsed.TotalSeconds;
    }
}
