using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace WeightSpace.MLNet;

/// <summary>
/// Exchange with the Python world in the layout Unterthiner et al. published their CNN zoos in:
/// <c>weights.npy</c> (float32, shape [rows, P], C order) and <c>metrics.csv</c> (one row per checkpoint).
/// Export writes our column names plus the published aliases; import accepts either.
/// </summary>
/// <example><code>
/// NumpyZoo.Export(ZooDataset.Open("zoo"), "zoo-npy");
/// // python: w = np.load("zoo-npy/weights.npy"); m = pandas.read_csv("zoo-npy/metrics.csv")
/// NumpyZoo.Import("zoo-npy", "zoo-again", WeightLayout.Cnn4970, "mnist");
/// </code></example>
public static class NumpyZoo
{
    /// <summary>Weights file name.</summary>
    public const string WeightsFile = "weights.npy";
    /// <summary>Labels file name.</summary>
    public const string MetricsFile = "metrics.csv";

    // Our column → the name used in the published metrics.csv of the Small CNN Zoo.
    private static readonly Dictionary<string, string> Published = new()
    {
        [ZooColumns.TrainAccuracy] = "train_accuracy",
        [ZooColumns.TestAccuracy] = "test_accuracy",
        [ZooColumns.TrainLoss] = "train_loss",
        [ZooColumns.TestLoss] = "test_loss",
        [ZooColumns.Epoch] = "epoch",
        [ZooColumns.Hyper.LearningRate] = "config.learning_rate",
        [ZooColumns.Hyper.WeightDecay] = "config.l2reg",
        [ZooColumns.Hyper.Dropout] = "config.dropout",
        [ZooColumns.Hyper.TrainFraction] = "config.train_fraction",
        [ZooColumns.Hyper.Optimizer] = "config.optimizer",
        [ZooColumns.Hyper.Activation] = "config.activation",
        [ZooColumns.Hyper.Init] = "config.w_init",
    };

    /// <summary>
    /// Writes <c>weights.npy</c> and <c>metrics.csv</c> into <paramref name="directory"/> (each atomically). The folder must be
    /// new, empty, or one a WeightSpace.MLNet tool wrote before (<see cref="OwnedFolder"/>): files of others are never overwritten.
    /// </summary>
    /// <exception cref="IOException">The folder holds files no WeightSpace.MLNet tool wrote.</exception>
    public static void Export(ZooDataset zoo, string directory)
    {
        using var folder = OwnedFolder.Claim(directory, "zoogen export");
        int p = zoo.Layout.ParameterCount;
        var weightsPath = Path.Combine(directory, WeightsFile);
        var metricsPath = Path.Combine(directory, MetricsFile);
        var wTmp = AtomicFile.TempPathFor(weightsPath);
        var mTmp = AtomicFile.TempPathFor(metricsPath);
        var hyper = zoo.Manifest.Columns;
        try
        {
        using (var ws = new FileStream(wTmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        using (var ms = new StreamWriter(mTmp, false, new UTF8Encoding(false)))
        {
            WriteNpyHeader(ws, "<f4", zoo.RowCount, p);
            var header = new List<string> { ZooColumns.ModelId, ZooColumns.Epoch, ZooColumns.Seed };
            header.AddRange(ZooColumns.Metrics);
            header.AddRange(hyper.Select(c => c.Name));
            ms.WriteLine(string.Join(",", header.Select(h => Published.GetValueOrDefault(h, h))));
            var inv = CultureInfo.InvariantCulture;
            foreach (var r in zoo.Records())
            {
                ws.Write(MemoryMarshal.AsBytes(r.Weights.AsSpan()));
                var cells = new List<string> { r.ModelId.ToString(inv), r.Epoch.ToString(inv), r.Seed.ToString(inv) };
                for (int m = 0; m < ZooColumns.Metrics.Count; m++) cells.Add(r.Metric(ZooColumns.Metrics[m]).ToString("R", inv));
                foreach (var c in hyper)
                    cells.Add(c.Type != ZooColumnType.Single ? Csv(r.Text[c.Name])
                        : (r.TryGetSingle(c.Name, out var v) ? v : float.NaN).ToString("R", inv));
                ms.WriteLine(string.Join(",", cells));
            }
            ws.Flush(flushToDisk: true);
        }
        AtomicFile.Commit(wTmp, weightsPath);
        AtomicFile.Commit(mTmp, metricsPath);
        }
        finally
        {
            // A failed export (a full disk …) leaves its temporary files nowhere: they are this call's own names.
            File.Delete(wTmp);
            File.Delete(mTmp);
        }
    }

    /// <summary>
    /// Reads <c>weights.npy</c> (float32 or float64, [rows, P]) and <c>metrics.csv</c> (or <c>metrics.csv.gz</c>; one row per
    /// weight row) from
    /// <paramref name="directory"/> into a new zoo. Column names are matched without regard to case, <c>_</c>, <c>.</c>, <c>-</c>,
    /// <c>:</c> or a <c>config.</c> prefix, so our names, the Small CNN Zoo's and the ones a Python user picks all work:
    /// the model (<c>ModelId</c>, <c>model_id</c>, <c>model</c>, or a text <c>modeldir</c> whose distinct values become ids)
    /// and the epoch (<c>epoch</c>, <c>step</c>, <c>training_iteration</c>) are required; <c>seed</c>, the metrics
    /// (<c>test_acc</c>, <c>train_accuracy</c>, <c>test_loss</c>, <c>gap</c>, <c>val_acc</c> …) and the known hyperparameters
    /// (<c>lr</c>, <c>weight_decay</c>/<c>l2reg</c>, <c>dropout</c>, <c>train_fraction</c>, <c>batch_size</c>,
    /// <c>activation</c>/<c>nlin</c>, <c>init</c>/<c>w_init</c>, <c>optimizer</c>) go to their columns, and <b>every other
    /// column</b> is kept under its own name: numeric when every cell is a number (an empty cell is missing, NaN), otherwise
    /// text (a categorical hyperparameter). Nothing is dropped; <see cref="ImportColumns"/> shows where each column goes.
    /// With a <c>layout.csv</c> beside them — Unterthiner et al.'s Small CNN Zoo — each variable's columns are taken from it
    /// and transposed from TensorFlow order (kernels [kh, kw, in, out], dense [in, out]) to the layout's, and the layout is
    /// inferred (CNN-4970 for that zoo); without one, <paramref name="layout"/> names the order of the columns.
    /// </summary>
    /// <remarks>
    /// <paramref name="output"/> must be new, empty or marked by a tool of this library; ModelId, Epoch and Seed are parsed as
    /// integers. If any row is refused (a malformed cell, NaN or ∞ weights), the zoo begun in <paramref name="output"/> is
    /// removed again: a failed import leaves no zoo behind.
    /// </remarks>
    /// <exception cref="ZooFormatException">Malformed .npy, a width that is not the layout's, row counts that disagree, no
    /// model or epoch column, two columns for one target, an id that is no integer, a cell that is no number.</exception>
    /// <exception cref="ArgumentException">Non-finite weights (named by model and epoch).</exception>
    /// <exception cref="IOException">The output folder holds files no WeightSpace.MLNet tool wrote.</exception>
    public static ZooDataset Import(string directory, string output, WeightLayout? layout, string dataset)
    {
        var weightsPath = Path.Combine(directory, WeightsFile);
        if (!File.Exists(weightsPath)) throw new ZooFormatException(weightsPath, "weights file not found.");
        var (metricsPath, lines) = ReadMetrics(directory);
        if (lines.Count == 0) throw new ZooFormatException(metricsPath, "empty metrics file.");
        var header = SplitCsv(lines[0]);
        var rowsOfCells = lines.Skip(1).Select(SplitCsv).ToList();
        for (int r = 0; r < rowsOfCells.Count; r++)
            if (rowsOfCells[r].Count != header.Count)
                throw new ZooFormatException(metricsPath, $"row {r + 2} has {rowsOfCells[r].Count} cells, the header {header.Count}.");

        using var npy = File.OpenRead(weightsPath);
        var (dtype, rows, cols) = ReadNpyHeader(npy, weightsPath);
        // Unterthiner et al.'s Small CNN Zoo places each variable by layout.csv, in TensorFlow order: transposed on the way in.
        var tf = TensorFlowLayout.Read(Path.Combine(directory, TensorFlowLayout.FileName), cols, layout);
        layout = tf?.Layout ?? layout ?? throw new ArgumentException($"{directory}: no layout.csv, so the layout must be given (a built-in one, or mlp-IN-...-OUT).", nameof(layout));
        if (cols != layout.ParameterCount)
            throw new ZooFormatException(weightsPath, $"weights have {cols} columns, but layout '{layout.Name}' has {layout.ParameterCount} parameters.");
        long dataStart = npy.Position, rowBytes = cols * (dtype == "<f8" ? 8L : 4L);
        long expected = dataStart + rows * rowBytes;
        if (npy.Length < expected) throw new ZooFormatException(weightsPath, $"truncated: {npy.Length} bytes, {expected} expected.");
        if (rows != rowsOfCells.Count)
            throw new ZooFormatException(metricsPath, $"{rowsOfCells.Count} label rows for {rows} weight rows.");
        var plan = LabelColumns.Plan(header, rowsOfCells, metricsPath);
        int Int(int row, int i) => LabelColumns.Integer(rowsOfCells[row][i], row + 2, header[i], metricsPath);
        float Num(int row, int i) => LabelColumns.Number(rowsOfCells[row][i], row + 2, header[i], metricsPath);
        var names = new Dictionary<string, int>();
        var ids = Enumerable.Range(0, (int)rows).Select(r => plan.ModelId >= 0 ? Int(r, plan.ModelId) : GetOrAdd(names, rowsOfCells[r][plan.ModelDir])).ToArray();
        var epochs = Enumerable.Range(0, (int)rows).Select(r => Int(r, plan.Epoch)).ToArray();
        var twice = Enumerable.Range(0, (int)rows).GroupBy(r => (ids[r], epochs[r])).FirstOrDefault(g => g.Count() > 1);
        if (twice is not null)
            throw new ZooFormatException(metricsPath, $"rows {string.Join(" and ", twice.Select(r => r + 2))} are both model {twice.Key.Item1}, epoch {twice.Key.Item2}.");

        var raw = new byte[rowBytes];
        var writer = ZooWriter.Create(output, layout, dataset, plan.Columns.Select(c => c.Column), generator: "NumpyZoo.Import");
        try
        {
            // Model by model, checkpoints in epoch order, whatever order the file's rows are in (each row read by its offset).
            foreach (var model in Enumerable.Range(0, (int)rows).GroupBy(r => ids[r]).OrderBy(g => g.Key))
            {
                var records = new List<ZooRecord>();
                foreach (int row in model.OrderBy(r => epochs[r]))
                {
                    npy.Position = dataStart + row * rowBytes;
                    npy.ReadExactly(raw);
                    var w = new float[cols];
                    if (dtype == "<f4") MemoryMarshal.Cast<byte, float>(raw).CopyTo(w);
                    else { var d = MemoryMarshal.Cast<byte, double>(raw); for (int j = 0; j < cols; j++) w[j] = (float)d[j]; }
                    var r = new ZooRecord { Weights = tf is null ? w : tf.ToLayoutOrder(w), ModelId = ids[row], Epoch = epochs[row], Seed = plan.Seed >= 0 ? Int(row, plan.Seed) : 0 };
                    foreach (var metric in ZooColumns.Metrics) r.SetMetric(metric, float.NaN); // a metric the CSV lacks is missing, never 0
                    foreach (var (metric, index) in plan.Metrics) r.SetMetric(metric, Num(row, index));
                    foreach (var (column, index) in plan.Columns)
                        if (column.Type == ZooColumnType.Single) r.SetSingle(column.Name, Num(row, index)); else r.Text[column.Name] = rowsOfCells[row][index];
                    records.Add(r);
                }
                writer.WriteModel(records);
            }
            writer.Dispose();
        }
        catch
        {
            // Bad input (∞ weights, a cell that is no number …): no zoo is left that could pass for the whole import.
            writer.Abandon();
            throw;
        }
        return ZooDataset.Open(output);
    }

    /// <summary>metrics.csv, or the Small CNN Zoo's metrics.csv.gz, as lines.</summary>
    private static (string Path, List<string> Lines) ReadMetrics(string directory)
    {
        var plain = Path.Combine(directory, MetricsFile);
        if (File.Exists(plain)) return (plain, File.ReadAllLines(plain).Where(l => l.Length > 0).ToList());
        var gz = plain + ".gz";
        if (!File.Exists(gz)) throw new ZooFormatException(plain, "metrics file not found (nor metrics.csv.gz).");
        try
        {
            using var reader = new StreamReader(new System.IO.Compression.GZipStream(File.OpenRead(gz), System.IO.Compression.CompressionMode.Decompress));
            var lines = new List<string>();
            while (reader.ReadLine() is { } line) if (line.Length > 0) lines.Add(line);
            return (gz, lines);
        }
        catch (InvalidDataException e) { throw new ZooFormatException(gz, $"not a readable gzip file ({e.Message})."); }
    }

    /// <summary>
    /// Where each column of a <c>metrics.csv</c> header goes on import, as "header → column (type)" lines — what
    /// <see cref="Import"/> will do, for a look before importing (and for <c>zoogen</c> to print).
    /// </summary>
    public static IReadOnlyList<string> ImportColumns(string directory)
    {
        var (metricsPath, lines) = ReadMetrics(directory);
        if (lines.Count == 0) throw new ZooFormatException(metricsPath, "empty metrics file.");
        var header = SplitCsv(lines[0]);
        var plan = LabelColumns.Plan(header, lines.Skip(1).Select(SplitCsv).ToList(), metricsPath);
        var list = new List<string>();
        for (int i = 0; i < header.Count; i++)
        {
            string? to = i == plan.ModelId ? $"{ZooColumns.ModelId} (integer)" : i == plan.ModelDir ? $"{ZooColumns.ModelId} (one id per distinct value)"
                : i == plan.Epoch ? $"{ZooColumns.Epoch} (integer)" : i == plan.Seed ? $"{ZooColumns.Seed} (integer)"
                : plan.Metrics.Where(m => m.Index == i).Select(m => $"{m.Metric} (metric)").FirstOrDefault()
                ?? plan.Columns.Where(c => c.Index == i).Select(c => $"{c.Column.Name} ({(c.Column.Type == ZooColumnType.Single ? "numeric" : "text")})").FirstOrDefault();
            list.Add($"{header[i]} → {to}");
        }
        return list;
    }

    internal static int GetOrAdd(Dictionary<string, int> ids, string key)
    {
        if (!ids.TryGetValue(key, out var id)) ids[key] = id = ids.Count;
        return id;
    }

    internal static void WriteNpyHeader(Stream s, string dtype, long rows, long cols)
    {
        var dict = $"{{'descr': '{dtype}', 'fortran_order': False, 'shape': ({rows}, {cols}), }}";
        int unpadded = 10 + dict.Length + 1;
        int total = (unpadded + 63) / 64 * 64;
        dict = dict.PadRight(total - 10 - 1) + "\n";
        s.Write(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0 });
        Span<byte> len = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(len, (ushort)dict.Length);
        s.Write(len);
        s.Write(Encoding.ASCII.GetBytes(dict));
    }

    internal static (string Dtype, long Rows, long Cols) ReadNpyHeader(Stream s, string path)
    {
        var magic = new byte[8];
        if (s.ReadAtLeast(magic, 8, false) != 8 || magic[0] != 0x93 || Encoding.ASCII.GetString(magic, 1, 5) != "NUMPY")
            throw new ZooFormatException(path, "not a .npy file (bad magic).");
        int headerLen;
        if (magic[6] == 1) { var b = new byte[2]; s.ReadExactly(b); headerLen = BinaryPrimitives.ReadUInt16LittleEndian(b); }
        else if (magic[6] is 2 or 3) { var b = new byte[4]; s.ReadExactly(b); headerLen = checked((int)BinaryPrimitives.ReadUInt32LittleEndian(b)); }
        else throw new ZooFormatException(path, $".npy version {magic[6]} is not supported.");
        var hb = new byte[headerLen];
        if (s.ReadAtLeast(hb, headerLen, false) != headerLen) throw new ZooFormatException(path, "truncated .npy header.");
        var header = Encoding.ASCII.GetString(hb);
        var descr = Regex.Match(header, @"'descr':\s*'([^']+)'");
        var fortran = Regex.Match(header, @"'fortran_order':\s*(True|False)");
        var shape = Regex.Match(header, @"'shape':\s*\((\d+),\s*(\d+)\s*,?\)");
        if (!descr.Success || !shape.Success) throw new ZooFormatException(path, $"unreadable .npy header '{header.Trim()}'; a 2-D array [rows, parameters] is expected.");
        if (fortran.Success && fortran.Groups[1].Value == "True") throw new ZooFormatException(path, "Fortran-ordered arrays are not supported; save with np.ascontiguousarray.");
        var dtype = descr.Groups[1].Value;
        if (dtype != "<f4" && dtype != "<f8") throw new ZooFormatException(path, $"dtype '{dtype}' is not supported (float32 or float64, little-endian).");
        return (dtype, long.Parse(shape.Groups[1].Value, CultureInfo.InvariantCulture), long.Parse(shape.Groups[2].Value, CultureInfo.InvariantCulture));
    }

    private static string Csv(string s) => s.IndexOfAny(new[] { ',', '"', '\n' }) >= 0 ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;

    internal static List<string> SplitCsv(string line)
    {
        var cells = new List<string>();
        var sb = new StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"') { sb.Append('"'); i++; }
                else if (c == '"') quoted = false;
                else sb.Append(c);
            }
            else if (c == '"') quoted = true;
            else if (c == ',') { cells.Add(sb.ToString()); sb.Clear(); }
            else sb.Append(c);
        }
        cells.Add(sb.ToString());
        return cells;
    }
}
