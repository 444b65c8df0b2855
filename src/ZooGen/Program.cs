using System.Globalization;
using WeightSpace.MLNet;
using WeightSpace.ZooGen.Generation;
using WeightSpace.ZooGen.Recipes;

namespace WeightSpace.ZooGen;

/// <summary>The zoogen command line.</summary>
public static class Program
{
    private const string Usage = """
        zoogen — generate model zoos for weight-space learning

        usage:
          zoogen generate (--preset NAME | --recipe FILE.json|.yaml) --out DIR [options]
              --models N          number of models            --epochs N          epochs of training
              --checkpoints LIST  saved epochs, e.g. 0,1,5-10 or 'all' (0 = initialisation)
              --train-subset N    first N training images     --test-subset N     first N test images
              --validation N      hold N training images out as a validation set (seeded;
                                  adds ValidationAccuracy/ValidationLoss columns)
              --data DIR          data set location           --seed N            data / sampling seed
              --resume            continue DIR, training only missing models
              --shard i/n         train part i of n (model id mod n); join parts with 'zoogen merge'
              --population N      models trained together before they are written
                                  (default: 500 MLPs; CNNs: 8 per core, one SIMD lane each)
              --workers N         cores to use (default: all)
              --print-recipe      print the resolved recipe as JSON and exit
          zoogen info DIR [--json]       rows, models, label ranges, accuracy histogram
          zoogen merge --out DIR PART... [--allow-partial]
                                          join zoos generated with --shard (all parts, unless --allow-partial)
          zoogen verify DIR               check every shard against the manifest's checksums
          zoogen export DIR --out DIR2    weights.npy + metrics.csv for Python
          zoogen import --labels FILE.csv --out ZOO [--layout NAME] [--dataset NAME] [--format F]
                                          PyTorch state_dict (torch.save), safetensors or ONNX files named by the
                                          CSV's file column (with model and epoch columns) into a zoo; the
                                          layout is inferred from the first file unless given (e.g. mlp-64-16-10)
          zoogen import DIR --out ZOO [--layout NAME] [--dataset NAME] [--format F]
                                          a Model Zoo folder (Ray Tune trials: result.json, checkpoint_<e>), or
                                          weights.npy + metrics.csv(.gz) (one row per checkpoint) into a zoo;
                                          PyTorch order with --layout, or the Small CNN Zoo's TensorFlow order
                                          by its layout.csv; prints where each metrics.csv column goes.
                                          F (recognised when not given): checkpoints, numpy, small-cnn-zoo, model-zoo
          zoogen presets                  list the presets
        """;

    /// <summary>Entry point; returns the process exit code.</summary>
    public static int Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help") { Console.WriteLine(Usage); return args.Length == 0 ? 2 : 0; }
        try
        {
            return args[0] switch
            {
                "generate" => Generate(args[1..]),
                "info" => Info(args[1..]),
                "merge" => Merge(args[1..]),
                "verify" => Verify(args[1..]),
                "export" => Export(args[1..]),
                "import" => Import(args[1..]),
                "presets" => ListPresets(),
                _ => Fail($"unknown command '{args[0]}'; commands: generate, info, merge, verify, export, import, presets."),
            };
        }
        catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or FormatException or UnauthorizedAccessException)
        {
            return Fail(e.Message);
        }
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine("zoogen: " + message);
        return 2;
    }

    private static int ListPresets()
    {
        foreach (var (name, (description, _)) in Presets.All) Console.WriteLine($"{name,-18} {description}");
        return 0;
    }

    /// <summary>
    /// Parses --name value pairs and bare flags against the command's known options; an unknown option is an error that
    /// names it (and the nearest known one), so a typo never silently falls back to a default.
    /// </summary>
    private static (Dictionary<string, string?> Options, List<string> Positional) Parse(string command, string[] args, string[] valued, params string[] flags)
    {
        var options = new Dictionary<string, string?>();
        var positional = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--")) { positional.Add(args[i]); continue; }
            var name = args[i][2..];
            if (options.ContainsKey(name)) throw new ArgumentException($"option --{name} is given twice.");
            if (flags.Contains(name)) { options[name] = null; continue; }
            if (!valued.Contains(name))
            {
                var known = valued.Concat(flags).ToArray();
                var nearest = known.OrderBy(k => Distance(k, name)).FirstOrDefault();
                string hint = nearest is not null && Distance(nearest, name) <= 2 ? $" Did you mean --{nearest}?" : "";
                throw new ArgumentException($"unknown option --{name} for '{command}'.{hint} Options: {string.Join(", ", known.Select(k => "--" + k))}.");
            }
            if (i + 1 >= args.Length || args[i + 1].StartsWith("--")) throw new ArgumentException($"option --{name} needs a value.");
            options[name] = args[++i];
        }
        return (options, positional);
    }

    /// <summary>Levenshtein distance, for "did you mean".</summary>
    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
        return d[a.Length, b.Length];
    }

    /// <summary>An output folder argument: not empty, not a file, not the root or the current folder itself.</summary>
    private static string OutputFolder(string? path, string option = "--out")
    {
        if (string.IsNullOrWhiteSpace(path)) throw new ArgumentException($"{option} needs a folder name.");
        var full = Path.GetFullPath(path).TrimEnd(Path.DirectorySeparatorChar);
        if (full.Length == 0 || full == Path.GetPathRoot(full)?.TrimEnd(Path.DirectorySeparatorChar) || full == Path.GetFullPath(".").TrimEnd(Path.DirectorySeparatorChar))
            throw new ArgumentException($"{option} '{path}' is the file system root or the current folder; give a folder of its own.");
        if (File.Exists(path)) throw new ArgumentException($"{option} '{path}' is a file; give a folder.");
        return path;
    }

    private static void NoPositional(string command, List<string> positional)
    {
        if (positional.Count > 0) throw new ArgumentException($"'{command}' takes no argument '{positional[0]}' (options start with --).");
    }

    private static int PositiveInt(Dictionary<string, string?> o, string name, int fallback, bool allowZero = false)
    {
        if (!o.TryGetValue(name, out var v)) return fallback;
        if (!int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) || n < 0 || (n == 0 && !allowZero))
            throw new ArgumentException($"--{name} must be a {(allowZero ? "non-negative" : "positive")} integer, not '{v}'.");
        return n;
    }

    internal static List<int> ParseCheckpoints(string spec, int epochs)
    {
        if (spec == "all") return Enumerable.Range(0, epochs + 1).ToList();
        var list = new SortedSet<int>();
        foreach (var part in spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var bounds = part.Split('-');
            if (bounds.Length > 2 || !bounds.All(b => int.TryParse(b, NumberStyles.Integer, CultureInfo.InvariantCulture, out _)))
                throw new ArgumentException($"--checkpoints: '{part}' is not an epoch or a range a-b.");
            int lo = int.Parse(bounds[0], CultureInfo.InvariantCulture), hi = int.Parse(bounds[^1], CultureInfo.InvariantCulture);
            if (lo > hi) throw new ArgumentException($"--checkpoints: '{part}' is a reversed range; write {hi}-{lo}.");
            if (lo < 0 || hi > epochs) throw new ArgumentException($"--checkpoints: '{part}' is outside 0..{epochs}.");
            for (int e = lo; e <= hi; e++) list.Add(e);
        }
        return list.ToList();
    }

    private static int Generate(string[] args)
    {
        var (o, pos) = Parse("generate", args, new[] { "preset", "recipe", "out", "models", "epochs", "checkpoints", "train-subset", "test-subset", "validation", "data", "seed", "shard", "population", "workers" },
            "resume", "print-recipe");
        NoPositional("generate", pos);
        if (o.ContainsKey("preset") && o.ContainsKey("recipe")) throw new ArgumentException("give --preset or --recipe, not both.");
        Recipe recipe = o.TryGetValue("recipe", out var file) ? Recipe.Load(file!)
            : o.TryGetValue("preset", out var preset) ? Presets.Get(preset!)
            : throw new ArgumentException($"generate needs --preset NAME or --recipe FILE; presets: {string.Join(", ", Presets.All.Keys)}.");
        int oldEpochs = recipe.Epochs;
        recipe.Models = PositiveInt(o, "models", recipe.Models);
        recipe.Epochs = PositiveInt(o, "epochs", recipe.Epochs);
        recipe.TrainSubset = PositiveInt(o, "train-subset", recipe.TrainSubset);
        recipe.TestSubset = PositiveInt(o, "test-subset", recipe.TestSubset);
        recipe.ValidationSize = PositiveInt(o, "validation", recipe.ValidationSize, allowZero: true);
        recipe.Seed = PositiveInt(o, "seed", recipe.Seed, allowZero: true);
        if (o.TryGetValue("checkpoints", out var cps)) recipe.Checkpoints = ParseCheckpoints(cps!, recipe.Epochs);
        else if (recipe.Epochs != oldEpochs)
        {
            // Scale the preset's checkpoints to the new length: keep those that fit, and always the last epoch.
            var kept = recipe.Checkpoints.Where(c => c <= recipe.Epochs).ToHashSet();
            if (recipe.Checkpoints.Count >= oldEpochs) kept.UnionWith(Enumerable.Range(recipe.Checkpoints.Min(), recipe.Epochs - recipe.Checkpoints.Min() + 1));
            kept.Add(recipe.Epochs);
            recipe.Checkpoints = kept.Order().ToList();
        }
        recipe.Validate();
        if (o.ContainsKey("print-recipe")) { Console.WriteLine(recipe.ToJsonObject().ToJsonString(Recipe.Json)); return 0; }
        if (!o.TryGetValue("out", out var output)) throw new ArgumentException("generate needs --out DIR.");
        output = OutputFolder(output);
        int shardIndex = 0, shardCount = 1;
        if (o.TryGetValue("shard", out var shard))
        {
            var p = shard!.Split('/');
            if (p.Length != 2 || !int.TryParse(p[0], out shardIndex) || !int.TryParse(p[1], out shardCount) || shardCount <= 0 || shardIndex < 0 || shardIndex >= shardCount)
                throw new ArgumentException($"--shard must be i/n with 0 ≤ i < n, not '{shard}'.");
        }

        using var cts = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            Console.Error.WriteLine("\nzoogen: stopping after the models in flight are dropped; completed models are kept (continue with --resume).");
            cts.Cancel();
        };
        var bar = new ProgressBar(Console.Error);
        var result = ZooGenerator.Generate(new GenerateOptions
        {
            Recipe = recipe, Output = output!, DataDirectory = o.GetValueOrDefault("data"), Resume = o.ContainsKey("resume"),
            ShardIndex = shardIndex, ShardCount = shardCount,
            PopulationSize = PositiveInt(o, "population", 0, allowZero: true), Workers = PositiveInt(o, "workers", 0, allowZero: true),
            Progress = bar,
        }, cts.Token);
        bar.Finish();
        Console.WriteLine($"{(result.Cancelled ? "stopped" : "done")}: {result.ModelsTrained} models trained, {result.ModelsSkipped} already present, {result.RowsWritten:N0} rows written to {output} in {result.Elapsed.TotalSeconds:F1} s.");
        return result.Cancelled ? 130 : 0;
    }

    private static int Info(string[] args)
    {
        var (o, pos) = Parse("info", args, Array.Empty<string>(), "json");
        if (pos.Count != 1) throw new ArgumentException("info needs one zoo directory.");
        var zoo = ZooDataset.Open(pos[0]);
        var summary = ZooSummary.Compute(zoo);
        Console.WriteLine(o.ContainsKey("json") ? summary.ToJson().ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) : summary.ToText());
        if (zoo.Manifest.TrainMetricsCaveat() is { } caveat) Console.Error.WriteLine($"zoogen: note: this zoo was {caveat}.");
        return 0;
    }

    private static int Merge(string[] args)
    {
        var (o, pos) = Parse("merge", args, new[] { "out" }, "allow-partial");
        if (!o.TryGetValue("out", out var output)) throw new ArgumentException("merge needs --out DIR.");
        if (pos.Count == 0) throw new ArgumentException("merge needs the zoo directories to join.");
        var merged = ZooMerge.Merge(OutputFolder(output), pos, o.ContainsKey("allow-partial"));
        Console.WriteLine($"merged {pos.Count} parts: {merged.RowCount:N0} rows, {merged.ModelIds.Count:N0} models in {output}" +
            (merged.Manifest.Partial ? " — PARTIAL: parts are missing (see zoogen info)." : "."));
        return 0;
    }

    private static int Verify(string[] args)
    {
        var (_, pos) = Parse("verify", args, Array.Empty<string>());
        if (pos.Count != 1) throw new ArgumentException("verify needs one zoo directory.");
        var zoo = ZooDataset.Open(pos[0]);
        zoo.Verify();
        Console.WriteLine($"ok: {zoo.Manifest.Shards.Count} shards, {zoo.RowCount:N0} rows match their checksums.");
        return 0;
    }

    private static int Import(string[] args)
    {
        var (o, pos) = Parse("import", args, new[] { "out", "layout", "dataset", "labels", "format" });
        if (!o.TryGetValue("out", out var output)) throw new ArgumentException("import needs --out DIR for the new zoo.");
        // The format is recognised from the files; --format states it, and is checked against what is there.
        string found = o.ContainsKey("labels") ? "checkpoints" : (pos.Count == 1 ? ModelImport.Recognise(pos[0]) : null) ?? "unknown";
        if (o.TryGetValue("format", out var format))
        {
            var formats = ModelImport.FolderFormats.Prepend("checkpoints").ToArray();
            if (!formats.Contains(format)) throw new ArgumentException($"--format: '{format}' is not one of {string.Join(", ", formats)} (checkpoints = PyTorch, safetensors or ONNX files named by --labels).");
            if (format != found) throw new ArgumentException($"--format {format}, but {(pos.Count == 1 ? pos[0] : "the arguments")} {(found == "unknown" ? "hold no importable zoo" : $"look like {found}")}; " +
                "checkpoints need --labels FILE.csv, numpy a folder with weights.npy and metrics.csv, small-cnn-zoo also layout.csv, model-zoo a folder of Ray Tune trials.");
        }
        WeightLayout? Layout(string name)
        {
            try { return WeightLayout.Parse(name); }
            catch (ArgumentException e) { throw new ArgumentException("--layout: " + e.Message, e); }
        }
        if (o.TryGetValue("labels", out var labels))
        {
            if (pos.Count != 0) throw new ArgumentException("import --labels takes no folder: the CSV names the checkpoint files.");
            var given = o.TryGetValue("layout", out var name) ? Layout(name!) : null;
            output = OutputFolder(output);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var imported = ModelImport.FromCheckpoints(labels!, output, given, o.GetValueOrDefault("dataset") ?? "imported", new ImportProgress());
            Console.WriteLine($"imported {imported.RowCount:N0} checkpoints of {imported.ModelIds.Count:N0} models ({imported.Layout}) into {output} in {clock.Elapsed.TotalSeconds:F1} s.");
            return 0;
        }
        if (pos.Count != 1)
            throw new ArgumentException($"import needs a folder with {NumpyZoo.WeightsFile} and {NumpyZoo.MetricsFile}, a Model Zoo folder of trials, or --labels FILE.csv.");
        if (found == "model-zoo")
        {
            // Schürholt et al.'s Model Zoo as Ray Tune left it: trial folders with result.json and checkpoint_<e>/checkpoints.
            var given = o.TryGetValue("layout", out var zooLayout) ? Layout(zooLayout!) : null;
            output = OutputFolder(output);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var trials = ModelImport.FromModelZoo(pos[0], output, given, o.GetValueOrDefault("dataset") ?? "model-zoo", new ImportProgress());
            Console.WriteLine($"imported {trials.RowCount:N0} checkpoints of {trials.ModelIds.Count:N0} trials ({trials.Layout}) from the Model Zoo folder {pos[0]} into {output} in {clock.Elapsed.TotalSeconds:F1} s.");
            return 0;
        }
        if (found == "unknown") throw new ArgumentException($"{pos[0]}: holds no zoo zoogen reads (weights.npy + metrics.csv, the Small CNN Zoo, or Model Zoo trial folders); for checkpoint files use --labels FILE.csv.");
        bool tensorFlow = found == "small-cnn-zoo";
        if (!o.TryGetValue("layout", out var layoutName) && !tensorFlow)
            throw new ArgumentException($"import of {pos[0]} needs --layout NAME ({string.Join(", ", WeightLayout.BuiltIn.Keys)}, or mlp-IN-...-OUT): it has no layout.csv to take it from.");
        var layout = layoutName is null ? null : Layout(layoutName);
        output = OutputFolder(output);
        Console.WriteLine($"{Path.Combine(pos[0], NumpyZoo.MetricsFile)}:");
        foreach (var line in NumpyZoo.ImportColumns(pos[0])) Console.WriteLine("  " + line);
        var zoo = NumpyZoo.Import(pos[0], output, layout, o.GetValueOrDefault("dataset") ?? "imported");
        Console.WriteLine($"imported {zoo.RowCount:N0} rows of {zoo.ModelIds.Count:N0} models ({zoo.Layout.Name}{(tensorFlow ? ", from TensorFlow order by layout.csv" : "")}) into {output}.");
        return 0;
    }

    /// <summary>Checkpoints imported so far, on standard error, on the reporting thread (one line a 500, then the total).</summary>
    private sealed class ImportProgress : IProgress<(int Done, int Total)>
    {
        public void Report((int Done, int Total) p)
        {
            if (p.Done % 500 == 0 || p.Done == p.Total) Console.Error.WriteLine($"  {p.Done:N0} / {p.Total:N0} checkpoints read");
        }
    }

    private static int Export(string[] args)
    {
        var (o, pos) = Parse("export", args, new[] { "out" });
        if (pos.Count != 1 || !o.TryGetValue("out", out var output)) throw new ArgumentException("export needs a zoo directory and --out DIR.");
        output = OutputFolder(output);
        NumpyZoo.Export(ZooDataset.Open(pos[0]), output!);
        Console.WriteLine($"wrote {Path.Combine(output!, NumpyZoo.WeightsFile)} and {Path.Combine(output!, NumpyZoo.MetricsFile)}.");
        return 0;
    }
}
