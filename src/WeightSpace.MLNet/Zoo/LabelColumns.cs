using System.Globalization;

namespace WeightSpace.MLNet;

/// <summary>
/// How the columns of a labels table (a <c>metrics.csv</c>, or the CSV that names checkpoint files) map to a zoo's
/// columns — the one place every importer takes its column rules from: names matched without regard to case, <c>_</c>,
/// <c>.</c>, <c>-</c>, <c>:</c> or a <c>config.</c> prefix; model and epoch required; metrics and known hyperparameters by
/// their aliases; every other column kept under its own name (numeric when every cell is a number, else text).
/// </summary>
internal static class LabelColumns
{
    /// <summary>A label cell as a number; an empty cell is missing (NaN).</summary>
    /// <exception cref="ZooFormatException">Neither empty nor a number; names the row (1-based, the header being row 1) and column.</exception>
    public static float Number(string cell, int row, string column, string path) =>
        cell.Trim().Length == 0 ? float.NaN : float.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v
            : throw new ZooFormatException(path, $"row {row}, column '{column}': '{cell}' is not a number.");

    /// <summary>An id, epoch or seed cell as an integer, parsed as one (through float32, ids above 2^24 would merge silently).</summary>
    /// <exception cref="ZooFormatException">Not a whole number in the 32-bit range; names the row and column.</exception>
    public static int Integer(string cell, int row, string column, string path)
    {
        var text = cell.Trim();
        if (int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n)) return n;
        if (decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && d == decimal.Truncate(d) && d >= int.MinValue && d <= int.MaxValue) return (int)d;
        throw new ZooFormatException(path, $"row {row}, column '{column}': '{text}' is not a whole number in the 32-bit range (ids, epochs and seeds are integers).");
    }

    /// <summary>The normalised form of a column name: lower case, a leading "config." dropped, no _ . - : or spaces.</summary>
    internal static string Normalise(string name)
    {
        var n = name.Trim().ToLowerInvariant();
        if (n.StartsWith("config.", StringComparison.Ordinal)) n = n["config.".Length..];
        return new string(n.Where(c => c is not ('_' or '.' or '-' or ':' or ' ')).ToArray());
    }

    // Our columns and the names they go by (normalised): the Small CNN Zoo's, Ray Tune's (ModelZoos) and common Python ones.
    private static readonly (string Column, string[] Names)[] MetricNames =
    {
        (ZooColumns.TrainAccuracy, new[] { "trainaccuracy", "trainacc" }),
        (ZooColumns.TestAccuracy, new[] { "testaccuracy", "testacc" }),
        (ZooColumns.TrainLoss, new[] { "trainloss" }),
        (ZooColumns.TestLoss, new[] { "testloss" }),
        (ZooColumns.GeneralizationGap, new[] { "generalizationgap", "generalisationgap", "gap", "ggap" }),
        (ZooColumns.ValidationAccuracy, new[] { "validationaccuracy", "valaccuracy", "valacc" }),
        (ZooColumns.ValidationLoss, new[] { "validationloss", "valloss" }),
    };

    private static readonly (string Column, ZooColumnType Type, string[] Names)[] HyperNames =
    {
        (ZooColumns.Hyper.LearningRate, ZooColumnType.Single, new[] { "learningrate", "lr", "optimlr" }),
        (ZooColumns.Hyper.WeightDecay, ZooColumnType.Single, new[] { "weightdecay", "wd", "l2reg", "optimwd" }),
        (ZooColumns.Hyper.Dropout, ZooColumnType.Single, new[] { "dropout", "modeldropout" }),
        (ZooColumns.Hyper.TrainFraction, ZooColumnType.Single, new[] { "trainfraction" }),
        (ZooColumns.Hyper.BatchSize, ZooColumnType.Single, new[] { "batchsize", "trainingbatchsize" }),
        (ZooColumns.Hyper.Activation, ZooColumnType.Text, new[] { "activation", "nlin", "modelnlin" }),
        (ZooColumns.Hyper.Init, ZooColumnType.Text, new[] { "init", "winit", "modelinit", "modelinittype", "inittype", "initialization" }),
        (ZooColumns.Hyper.Optimizer, ZooColumnType.Text, new[] { "optimizer", "optimtype", "optim", "optimoptimizer" }),
    };

    /// <summary>Where the columns go: indices of the model, model-name, epoch, seed and file columns (−1 when absent), the metrics and the other columns.</summary>
    public sealed record ColumnPlan(int ModelId, int ModelDir, int Epoch, int Seed, int File, List<(string Metric, int Index)> Metrics, List<(ZooColumn Column, int Index)> Columns);

    /// <summary>
    /// Plans a labels table: a model column and an epoch column are required, and with <paramref name="fileColumn"/> a
    /// column naming each row's checkpoint file (file, path or checkpoint); the rest as <see cref="NumpyZoo.Import"/> says.
    /// </summary>
    /// <exception cref="ZooFormatException">A required column missing, two columns for one target, a nameless column or
    /// one named like a zoo column it is not.</exception>
    public static ColumnPlan Plan(List<string> header, List<List<string>> rows, string path, bool fileColumn = false)
    {
        string metricsPath = path;
        var norm = header.Select(Normalise).ToList();
        var taken = new Dictionary<int, string>();
        int Find(string target, params string[] names)
        {
            var hits = Enumerable.Range(0, header.Count).Where(i => names.Contains(norm[i])).ToList();
            if (hits.Count > 1)
                throw new ZooFormatException(metricsPath, $"columns {string.Join(" and ", hits.Select(i => $"'{header[i]}'"))} both name {target}; keep one.");
            if (hits.Count == 1) taken[hits[0]] = target;
            return hits.Count == 1 ? hits[0] : -1;
        }
        int file = fileColumn ? Find("the checkpoint file", "file", "path", "checkpoint", "filename") : -1;
        if (fileColumn && file < 0)
            throw new ZooFormatException(metricsPath, $"no column names each row's checkpoint file (file, path or checkpoint, relative to the CSV; the header is {string.Join(", ", header)}).");
        int modelId = Find(ZooColumns.ModelId, "modelid", "model");
        int modelDir = modelId >= 0 ? -1 : Find(ZooColumns.ModelId, "modeldir");
        if (modelId >= 0 && !rows.All(r => long.TryParse(r[modelId].Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out _)))
            (modelDir, modelId) = (modelId, -1); // model names, not numbers: one id per distinct name, as for modeldir
        if (modelId < 0 && modelDir < 0)
            throw new ZooFormatException(metricsPath, $"no column names each row's model (ModelId, model_id, model or modeldir; the header is {string.Join(", ", header)}). " +
                "Checkpoints of one model must share it, so that splits keep a model's checkpoints on one side.");
        int epoch = Find(ZooColumns.Epoch, "epoch", "step", "trainingiteration");
        if (epoch < 0)
            throw new ZooFormatException(metricsPath, $"no column gives each row's epoch (epoch, step or training_iteration; the header is {string.Join(", ", header)}).");
        int seed = Find(ZooColumns.Seed, "seed", "randomseed");
        var metrics = MetricNames.Select(m => (m.Column, Index: Find(m.Column, m.Names))).Where(m => m.Index >= 0).ToList();
        var columns = new List<(ZooColumn Column, int Index)>();
        foreach (var m in metrics.Where(m => ZooColumns.OptionalMetrics.Contains(m.Column)))
            columns.Add((new ZooColumn(m.Column, ZooColumnType.Single), m.Index)); // validation metrics are declared columns
        metrics.RemoveAll(m => ZooColumns.OptionalMetrics.Contains(m.Column));
        foreach (var (name, type, names) in HyperNames)
            if (Find(name, names) is var i and >= 0) columns.Add((new ZooColumn(name, type), i));
        var reserved = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { ZooColumns.Weights, ZooColumns.ModelId, ZooColumns.Epoch, ZooColumns.Seed };
        foreach (var c in ZooColumns.Metrics.Concat(ZooColumns.OptionalMetrics).Concat(HyperNames.Select(h => h.Column))) reserved.Add(c);
        for (int i = 0; i < header.Count; i++)
        {
            if (taken.ContainsKey(i)) continue;
            var name = header[i].Trim();
            if (name.Length == 0) throw new ZooFormatException(metricsPath, $"column {i + 1} has no name.");
            if (reserved.Contains(name)) throw new ZooFormatException(metricsPath, $"column '{header[i]}' has the name of a zoo column it is not; rename it.");
            bool numeric = rows.All(r => r[i].Trim().Length == 0 || float.TryParse(r[i], NumberStyles.Float, CultureInfo.InvariantCulture, out _));
            columns.Add((new ZooColumn(name, numeric ? ZooColumnType.Single : ZooColumnType.Text), i));
        }
        return new ColumnPlan(modelId, modelDir, epoch, seed, file, metrics, columns);
    }

}
