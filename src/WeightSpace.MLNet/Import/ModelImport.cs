namespace WeightSpace.MLNet;

/// <summary>
/// Brings trained networks in as a zoo: PyTorch <c>state_dict</c> files (<c>torch.save</c>, zip format), safetensors and
/// ONNX models, named by a labels CSV, and the Model Zoo's raw folders become an ordinary checksummed zoo that everything
/// downstream reads.
/// </summary>
/// <example><code>
/// // labels.csv: file,model_id,epoch,test_acc,lr          (file relative to the CSV)
/// var zoo = ModelImport.FromCheckpoints("runs/labels.csv", "zoos/mine");
/// var view = mlContext.Data.LoadZoo("zoos/mine");
/// </code></example>
public static class ModelImport
{
    /// <summary>The zoo formats a folder can hold, as <see cref="Recognise"/> names them.</summary>
    public static IReadOnlyList<string> FolderFormats { get; } = new[] { "numpy", "small-cnn-zoo", "model-zoo" };

    /// <summary>
    /// What a folder holds: "numpy" (weights.npy + metrics.csv), "small-cnn-zoo" (the same with the Small CNN Zoo's
    /// layout.csv), "model-zoo" (Ray Tune trial folders with result.json), or null.
    /// </summary>
    public static string? Recognise(string folder)
    {
        if (!Directory.Exists(folder)) return null;
        if (File.Exists(Path.Combine(folder, NumpyZoo.WeightsFile))) return File.Exists(Path.Combine(folder, TensorFlowLayout.FileName)) ? "small-cnn-zoo" : "numpy";
        return Directory.GetDirectories(folder).Any(d => File.Exists(Path.Combine(d, "result.json"))) ? "model-zoo" : null;
    }

    /// <summary>
    /// Imports whatever zoo a folder holds (<see cref="Recognise"/>): the Model Zoo's trial folders
    /// (<see cref="FromModelZoo"/>), the Small CNN Zoo or NumPy exports (<see cref="NumpyZoo.Import"/>; NumPy needs
    /// <paramref name="layout"/>). Checkpoint files named by a CSV go through <see cref="FromCheckpoints"/>.
    /// </summary>
    /// <exception cref="ZooFormatException">The folder holds none of these.</exception>
    public static ZooDataset FromFolder(string folder, string output, WeightLayout? layout = null, string dataset = "imported", IProgress<(int Done, int Total)>? progress = null) =>
        Recognise(folder) switch
        {
            "model-zoo" => FromModelZoo(folder, output, layout, dataset, progress),
            "small-cnn-zoo" or "numpy" => NumpyZoo.Import(folder, output, layout, dataset),
            _ => throw new ZooFormatException(folder, $"holds no zoo this library reads: {NumpyZoo.WeightsFile} + {NumpyZoo.MetricsFile} (NumPy; with layout.csv the Small CNN Zoo), " +
                "or Ray Tune trial folders with result.json (the Model Zoo); for checkpoint files, list them in a CSV and use FromCheckpoints."),
        };

    /// <summary>
    /// The layout of a state_dict and its weights as one vector in that layout's order. Each module with a 2-D
    /// <c>weight</c> is a linear layer, with a 4-D one a convolution, each with its <c>bias</c> when there is one; modules
    /// come in the file's order (a torch file's is the model's; safetensors' is by module path). The layout is the
    /// built-in one whose layers have these shapes, else for linear layers <see cref="WeightLayout.Mlp(IReadOnlyList{int}, bool)"/>,
    /// else a layout named "imported-…" from the modules' names. With <paramref name="layout"/> the shapes must be that
    /// layout's, layer by layer.
    /// </summary>
    /// <exception cref="InvalidDataException">A layer the method cannot express (BatchNorm, embeddings, attention …) or a
    /// tensor that fits no layer, layers that do not chain, shapes other than <paramref name="layout"/>'s, or NaN/∞ values —
    /// each named with <paramref name="source"/> and the key.</exception>
    public static (WeightLayout Layout, float[] Weights) Flatten(IReadOnlyList<NamedTensor> tensors, string source, WeightLayout? layout = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (tensors.Count == 0) throw new InvalidDataException($"{source}: the state_dict holds no tensors.");
        foreach (var t in tensors)
        {
            int bad = Array.FindIndex(t.Values, v => !float.IsFinite(v));
            if (bad >= 0) throw new InvalidDataException($"{source}: '{t.Name}' holds {t.Values[bad]} at position {bad}; a zoo holds finite weights only (did the model diverge?).");
        }
        var modules = new List<(string Name, NamedTensor Weight, NamedTensor? Bias, float[]? BatchNorm)>();
        var byName = tensors.ToDictionary(t => t.Name);
        static string ModuleOf(string name) => name.LastIndexOf('.') is var dot and >= 0 ? name[..dot] : "";
        static string ParamOf(string name) => name[(name.LastIndexOf('.') + 1)..];
        NamedTensor? Param(string module, string param) => byName.GetValueOrDefault(module.Length == 0 ? param : module + "." + param);
        var seen = new HashSet<string>();
        foreach (var t in tensors)
        {
            string module = ModuleOf(t.Name), param = ParamOf(t.Name);
            if (!seen.Add(module)) continue; // each module once, at its first tensor
            if (Param(module, "running_mean") is { } mean)
            {
                // A batch norm: it belongs to the layer before it, whose units it normalises (γ, β, μ, σ² per unit).
                var variance = Param(module, "running_var") ?? throw new InvalidDataException($"{source}: '{mean.Name}' has no running_var beside it.");
                int n = mean.Values.Length;
                if (modules.Count == 0) throw new InvalidDataException($"{source}: batch norm '{module}' comes before any linear or convolutional layer.");
                var previous = modules[^1];
                if (previous.Weight.Shape[0] != n || previous.BatchNorm is not null)
                    throw new InvalidDataException($"{source}: batch norm '{module}' normalises {n} channels, but the layer before it, '{previous.Name}', has {previous.Weight.Shape[0]} units{(previous.BatchNorm is null ? "" : " and a batch norm already")}.");
                var gamma = Param(module, "weight")?.Values ?? Enumerable.Repeat(1f, n).ToArray(); // affine=False: γ = 1, β = 0
                var beta = Param(module, "bias")?.Values ?? new float[n];
                if (gamma.Length != n || beta.Length != n || variance.Values.Length != n)
                    throw new InvalidDataException($"{source}: the tensors of batch norm '{module}' do not all have {n} values.");
                modules[^1] = previous with { BatchNorm = gamma.Concat(beta).Concat(mean.Values).Concat(variance.Values).ToArray() };
                continue;
            }
            var weight = Param(module, "weight");
            if (weight is null)
                throw new InvalidDataException($"{source}: '{t.Name}' is not a weight, bias or batch-norm value of a layer; only linear and convolutional layers " +
                    "(with batch norms) are supported (no embeddings, attention or custom parameters yet).");
            if (tensors.FirstOrDefault(x => ModuleOf(x.Name) == module && ParamOf(x.Name) is not ("weight" or "bias")) is { } other)
                throw new InvalidDataException($"{source}: '{other.Name}' is not a parameter of a linear or convolutional layer; not supported.");
            if (weight.Shape.Length is not (2 or 4))
                throw new InvalidDataException($"{source}: '{weight.Name}' has shape [{string.Join(", ", weight.Shape)}]; a linear weight is 2-D and a convolution's 4-D" +
                    (weight.Shape.Length == 1 ? " (a 1-D weight without running statistics is a normalisation layer such as LayerNorm, which is not supported)." : "."));
            var bias = Param(module, "bias");
            if (bias is not null && (bias.Shape.Length != 1 || bias.Shape[0] != weight.Shape[0]))
                throw new InvalidDataException($"{source}: '{bias.Name}' has shape [{string.Join(", ", bias.Shape)}], not [{weight.Shape[0]}] as its weight's units.");
            modules.Add((module, weight, bias, null));
        }
        var specs = new List<LayerSpec>();
        foreach (var (name, weight, bias, batchNorm) in modules)
        {
            var s = weight.Shape;
            string layerName = name.Length == 0 ? $"layer{specs.Count + 1}" : name;
            specs.Add(s.Length == 2
                ? new LayerSpec(layerName, LayerKind.Linear, checked((int)s[1]), checked((int)s[0]), HasBias: bias is not null, BatchNorm: batchNorm is not null)
                : new LayerSpec(layerName, LayerKind.Conv2d, checked((int)s[1]), checked((int)s[0]), checked((int)s[2]), checked((int)s[3]), bias is not null, batchNorm is not null));
        }
        WeightLayout inferred;
        try
        {
            inferred = layout ?? WeightLayout.BuiltIn.Values.FirstOrDefault(b => LayerSpec.SameShapes(b.Layers, specs))
                ?? (specs.All(l => l.Kind == LayerKind.Linear && !l.BatchNorm) && specs.All(l => l.HasBias == specs[0].HasBias) && Chains(specs)
                    ? WeightLayout.Mlp(specs.Select(l => l.InFeatures).Append(specs[^1].OutFeatures).ToArray(), specs[0].HasBias)
                    : new WeightLayout($"imported-{string.Join("-", specs.Select(l => l.OutFeatures))}", specs));
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{source}: the layers do not chain in the file's order ({e.Message}); give the layout explicitly.", e);
        }
        if (!LayerSpec.SameShapes(inferred.Layers, specs))
        {
            int at = Enumerable.Range(0, Math.Min(specs.Count, inferred.Layers.Count)).FirstOrDefault(i => !inferred.Layers[i].SameShapeAs(specs[i]), Math.Min(specs.Count, inferred.Layers.Count));
            string found = at < specs.Count ? $"'{modules[at].Name}' is {Describe(specs[at])}" : $"the file ends after {specs.Count} layers";
            string wanted = at < inferred.Layers.Count ? $"layer {at + 1} of '{inferred.Name}' is {Describe(inferred.Layers[at])}" : $"'{inferred.Name}' has {inferred.Layers.Count} layers";
            throw new InvalidDataException($"{source}: not the architecture '{inferred.Name}': {found}, but {wanted}.");
        }
        var vector = new float[inferred.ParameterCount];
        for (int l = 0; l < modules.Count; l++)
        {
            modules[l].Weight.Values.CopyTo(vector, inferred.WeightOffset(l)); // row-major [out, in(, kh, kw)]: the layout's out-major order
            modules[l].Bias?.Values.CopyTo(vector, inferred.BiasOffset(l));
            modules[l].BatchNorm?.CopyTo(vector, inferred.BatchNormOffset(l));
        }
        return (inferred, vector);
    }

    /// <summary>
    /// One checkpoint file as a layout and a weight vector: an ONNX model (<c>.onnx</c>, <see cref="OnnxImport"/>) or a
    /// state_dict (<see cref="StateDictFile"/>, <see cref="Flatten"/>). With <paramref name="layout"/> its shapes must be that layout's.
    /// </summary>
    /// <exception cref="InvalidDataException">As <see cref="OnnxImport.Read"/> and <see cref="Flatten"/>.</exception>
    public static (WeightLayout Layout, float[] Weights) ReadCheckpoint(string path, WeightLayout? layout = null)
    {
        if (!OnnxImport.IsOnnx(path)) return Flatten(StateDictFile.Read(path), path, layout);
        var onnx = OnnxImport.Read(path);
        var found = onnx.Architecture.Layout;
        if (layout is not null && !LayerSpec.SameShapes(layout.Layers, found.Layers))
            throw new InvalidDataException($"{path}: not the architecture '{layout.Name}': the graph's layers make {found}.");
        return (layout ?? found, onnx.Weights);
    }

    private static bool Chains(List<LayerSpec> specs) => specs.Zip(specs.Skip(1)).All(p => p.First.OutFeatures == p.Second.InFeatures);


    private static string Describe(LayerSpec l) =>
        (l.Kind == LayerKind.Linear ? $"linear {l.InFeatures}→{l.OutFeatures}" : $"conv {l.InFeatures}→{l.OutFeatures} {l.KernelHeight}×{l.KernelWidth}") + (l.HasBias ? "" : " without bias") + (l.BatchNorm ? " with batch norm" : "");

    /// <summary>
    /// Imports the checkpoints a labels CSV names into a new zoo. The CSV has a column naming each checkpoint file
    /// (<c>file</c>, <c>path</c> or <c>checkpoint</c>, relative to the CSV), a model column and an epoch column; the rest map
    /// as for <see cref="NumpyZoo.Import"/> (metrics and known hyperparameters by alias, every other column under its own
    /// name). Each file is a state_dict (<see cref="StateDictFile"/>) or an ONNX model (<see cref="OnnxImport"/>); all must have the layout of the first (or
    /// <paramref name="layout"/>). Checkpoints of one model share its id, so splits keep a model on one side.
    /// </summary>
    /// <param name="labelsCsv">The labels table.</param>
    /// <param name="output">A new or empty folder (or one a tool of this library marked) for the zoo.</param>
    /// <param name="layout">The expected layout; null infers it from the first file.</param>
    /// <param name="dataset">The data set the models were trained on (recorded in the zoo).</param>
    /// <param name="progress">Receives (files done, files in all) as the import goes.</param>
    /// <exception cref="ZooFormatException">A required column missing, a file the CSV names that does not exist, a cell
    /// that is no number.</exception>
    /// <exception cref="InvalidDataException">A file that is no state_dict, of another architecture, or with NaN/∞ values
    /// (named). A failed import leaves no zoo behind.</exception>
    public static ZooDataset FromCheckpoints(string labelsCsv, string output, WeightLayout? layout = null, string dataset = "imported", IProgress<(int Done, int Total)>? progress = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(labelsCsv);
        if (!File.Exists(labelsCsv)) throw new ZooFormatException(labelsCsv, "labels file not found.");
        var lines = File.ReadAllLines(labelsCsv).Where(l => l.Length > 0).ToList();
        if (lines.Count < 2) throw new ZooFormatException(labelsCsv, "the labels file has no rows.");
        var header = NumpyZoo.SplitCsv(lines[0]);
        var rows = lines.Skip(1).Select(NumpyZoo.SplitCsv).ToList();
        for (int r = 0; r < rows.Count; r++)
            if (rows[r].Count != header.Count) throw new ZooFormatException(labelsCsv, $"row {r + 2} has {rows[r].Count} cells, the header {header.Count}.");
        var plan = LabelColumns.Plan(header, rows, labelsCsv, fileColumn: true);
        string root = Path.GetDirectoryName(Path.GetFullPath(labelsCsv))!;
        var files = rows.Select((r, i) =>
        {
            var f = Path.Combine(root, r[plan.File].Trim());
            return File.Exists(f) ? f : throw new ZooFormatException(labelsCsv, $"row {i + 2}: the file '{r[plan.File]}' does not exist (paths are relative to the CSV).");
        }).ToList();
        return ImportTable(header, rows, plan, files, labelsCsv, output, layout, dataset, progress);
    }

    /// <summary>
    /// Imports a raw zoo of Schürholt et al.'s Model Zoos (ModelZoos/ModelZooDataset) as Ray Tune left it: one folder per
    /// model (trial) under <paramref name="root"/>, each with <c>checkpoint_&lt;e&gt;/checkpoints</c> (or
    /// <c>checkpoint_&lt;e:06d&gt;</c>; a state_dict of a <c>module_list</c>) and <c>result.json</c> (one JSON line per reported
    /// epoch with <c>test_acc</c>, <c>train_acc</c>, losses and a <c>config</c> block). A trial that wrote <c>checkpoint_0</c>
    /// reported its initial model first, so result line j is epoch j; otherwise line j is epoch j + 1 (as the dataset code
    /// reads it). The metrics and every scalar of the config block (<c>optim::lr</c> → LearningRate, <c>model::nlin</c> →
    /// Activation, <c>seed</c> → Seed, the rest under their own names) become columns; Ray's bookkeeping (timestamps,
    /// hosts, ids) does not. Trials are numbered by folder name.
    /// </summary>
    /// <exception cref="ZooFormatException">No trial folders, a trial without result.json or checkpoints, a malformed line.</exception>
    /// <exception cref="InvalidDataException">As <see cref="FromCheckpoints"/>. A failed import leaves no zoo behind.</exception>
    public static ZooDataset FromModelZoo(string root, string output, WeightLayout? layout = null, string dataset = "model-zoo", IProgress<(int Done, int Total)>? progress = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(root);
        if (!Directory.Exists(root)) throw new ZooFormatException(root, "no such folder.");
        var trials = Directory.GetDirectories(root).Where(d => File.Exists(Path.Combine(d, "result.json"))).Order(StringComparer.Ordinal).ToList();
        if (trials.Count == 0) throw new ZooFormatException(root, "no trial folders (folders with a result.json) inside.");
        string[] metricKeys = { "test_acc", "train_acc", "test_loss", "train_loss", "val_acc", "val_loss" };
        var rows = new List<Dictionary<string, string>>();
        var files = new List<string>();
        var configKeys = new List<string>();
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        for (int t = 0; t < trials.Count; t++)
        {
            var resultPath = Path.Combine(trials[t], "result.json");
            var results = File.ReadAllLines(resultPath).Where(l => l.Trim().Length > 0).Select((l, i) =>
            {
                try { return System.Text.Json.JsonDocument.Parse(l).RootElement; }
                catch (System.Text.Json.JsonException e) { throw new ZooFormatException(resultPath, $"line {i + 1} is not JSON ({e.Message})."); }
            }).ToList();
            var checkpoints = Directory.GetDirectories(trials[t], "checkpoint_*")
                .Select(d => (Dir: d, Ok: int.TryParse(Path.GetFileName(d)["checkpoint_".Length..], System.Globalization.NumberStyles.None, inv, out var e), Epoch: e))
                .Where(c => c.Ok && File.Exists(Path.Combine(c.Dir, "checkpoints"))).OrderBy(c => c.Epoch).ToList();
            if (checkpoints.Count == 0) throw new ZooFormatException(trials[t], "a trial without checkpoint_<epoch>/checkpoints files.");
            int offset = checkpoints[0].Epoch == 0 ? 0 : 1;
            foreach (var (dir, _, epoch) in checkpoints)
            {
                var row = new Dictionary<string, string> { ["file"] = Path.Combine(dir, "checkpoints"), ["model_id"] = t.ToString(inv), ["epoch"] = epoch.ToString(inv) };
                int line = epoch - offset;
                if (line >= 0 && line < results.Count)
                {
                    var r = results[line];
                    if (r.TryGetProperty("training_iteration", out var it) && it.TryGetInt32(out int iteration) && iteration != line + 1)
                        throw new ZooFormatException(resultPath, $"line {line + 1} says training_iteration {iteration}; the lines must be in order, one per reported epoch.");
                    foreach (var k in metricKeys)
                        if (r.TryGetProperty(k, out var v) && v.ValueKind == System.Text.Json.JsonValueKind.Number) row[k] = v.GetDouble().ToString("R", inv);
                    if (r.TryGetProperty("config", out var config) && config.ValueKind == System.Text.Json.JsonValueKind.Object)
                        foreach (var c in config.EnumerateObject())
                        {
                            string? cell = c.Value.ValueKind switch
                            {
                                System.Text.Json.JsonValueKind.Number => c.Value.GetDouble().ToString("R", inv),
                                System.Text.Json.JsonValueKind.String => c.Value.GetString(),
                                System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False => c.Value.GetRawText(),
                                _ => null, // lists and objects (layer widths, schedules) are not labels
                            };
                            if (cell is null) continue;
                            string key = "config." + c.Name;
                            if (!configKeys.Contains(key)) configKeys.Add(key);
                            row[key] = cell;
                        }
                }
                rows.Add(row);
                files.Add(row["file"]);
            }
        }
        var header = new List<string> { "file", "model_id", "epoch" };
        header.AddRange(metricKeys.Where(k => rows.Any(r => r.ContainsKey(k))));
        header.AddRange(configKeys);
        var table = rows.Select(r => header.Select(h => r.GetValueOrDefault(h, "")).ToList()).ToList();
        var plan = LabelColumns.Plan(header, table, Path.Combine(root, "result.json"), fileColumn: true);
        return ImportTable(header, table, plan, files, root, output, layout, dataset, progress);
    }

    /// <summary>The import both tables share: rows of labels, each naming a state_dict file, into a new zoo, model by model.</summary>
    private static ZooDataset ImportTable(List<string> header, List<List<string>> rows, LabelColumns.ColumnPlan plan, List<string> files, string source,
        string output, WeightLayout? layout, string dataset, IProgress<(int Done, int Total)>? progress)
    {
        var names = new Dictionary<string, int>();
        int Int(int row, int i) => LabelColumns.Integer(rows[row][i], row + 2, header[i], source);
        float Num(int row, int i) => LabelColumns.Number(rows[row][i], row + 2, header[i], source);
        var ids = rows.Select((_, r) => plan.ModelId >= 0 ? Int(r, plan.ModelId) : NumpyZoo.GetOrAdd(names, rows[r][plan.ModelDir])).ToArray();
        var epochs = rows.Select((_, r) => Int(r, plan.Epoch)).ToArray();
        var duplicate = Enumerable.Range(0, rows.Count).GroupBy(r => (ids[r], epochs[r])).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new ZooFormatException(source, $"rows {string.Join(" and ", duplicate.Select(r => r + 2))} are both model {duplicate.Key.Item1}, epoch {duplicate.Key.Item2}.");
        // The first file fixes the layout (unless given); the zoo is written model by model, checkpoints in epoch order.
        var first = ReadCheckpoint(files[0], layout);
        var zooLayout = first.Layout;
        var writer = ZooWriter.Create(output, zooLayout, dataset, plan.Columns.Select(c => c.Column), generator: "ModelImport");
        try
        {
            int done = 0;
            foreach (var model in Enumerable.Range(0, rows.Count).GroupBy(r => ids[r]).OrderBy(g => g.Key))
            {
                var records = new List<ZooRecord>();
                foreach (int r in model.OrderBy(r => epochs[r]))
                {
                    var (fileLayout, weights) = r == 0 ? first : ReadCheckpoint(files[r], zooLayout);
                    var record = new ZooRecord { Weights = weights, ModelId = ids[r], Epoch = epochs[r], Seed = plan.Seed >= 0 ? Int(r, plan.Seed) : 0 };
                    foreach (var metric in ZooColumns.Metrics) record.SetMetric(metric, float.NaN); // a metric the CSV lacks is missing, never 0
                    foreach (var (metric, index) in plan.Metrics) record.SetMetric(metric, Num(r, index));
                    foreach (var (column, index) in plan.Columns)
                        if (column.Type == ZooColumnType.Single) record.SetSingle(column.Name, Num(r, index)); else record.Text[column.Name] = rows[r][index];
                    records.Add(record);
                    progress?.Report((++done, rows.Count));
                }
                writer.WriteModel(records);
            }
            writer.Dispose();
        }
        catch
        {
            writer.Abandon(); // no zoo is left that could pass for the whole import
            throw;
        }
        return ZooDataset.Open(output);
    }
}
