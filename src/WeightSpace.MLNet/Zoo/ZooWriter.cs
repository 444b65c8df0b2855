using System.Text.Json.Nodes;
using WeightSpace.MLNet.Layout;

namespace WeightSpace.MLNet.Zoo;

/// <summary>
/// Appends checkpoints to a zoo directory. Rows go into a temporary shard file; <see cref="CompleteShard"/>
/// (called automatically every <see cref="RowsPerShard"/> rows and on <see cref="Dispose"/>) flushes it to disk,
/// renames it into place and then rewrites the manifest atomically. A crash therefore never leaves a
/// shard that the manifest lists but that is incomplete; at worst it loses the rows of the open shard.
/// </summary>
/// <example><code>
/// using (var writer = ZooWriter.Create("zoo", WeightLayout.TetrisMlp100, "tetris",
///            new[] { new ZooColumn("LearningRate", ZooColumnType.Single) }))
/// {
///     writer.Write(record);
/// }
/// var view = mlContext.Data.LoadZoo("zoo");
/// </code></example>
public sealed class ZooWriter : IDisposable
{
    private readonly string _dir;
    private readonly ZooManifest _manifest;
    private readonly int _numericHyper, _textHyper;
    private readonly float[] _singles;
    private readonly string[] _texts;
    private ShardWriter? _shard;
    private string _shardTemp = "", _shardName = "";
    private bool _disposed;

    private ZooWriter(string dir, ZooManifest manifest)
    {
        _dir = dir;
        _manifest = manifest;
        _numericHyper = manifest.Columns.Count(c => c.Type == ZooColumnType.Single);
        _textHyper = manifest.Columns.Count - _numericHyper;
        _singles = new float[ZooColumns.Metrics.Count + _numericHyper];
        _texts = new string[_textHyper];
        foreach (var stale in Directory.EnumerateFiles(dir, "*.tmp-*")) File.Delete(stale);
    }

    /// <summary>Rows per shard file (default 50,000). Smaller shards lose less on a crash.</summary>
    public int RowsPerShard { get; set; } = 50_000;

    /// <summary>The manifest as it is on disk after the last completed shard.</summary>
    public ZooManifest Manifest => _manifest;

    /// <summary>Rows written so far, the open shard included.</summary>
    public long RowCount => _manifest.RowCount + (_shard?.Rows ?? 0);

    /// <summary>Starts a new zoo in <paramref name="directory"/> (created if needed; it must not hold a zoo already).</summary>
    public static ZooWriter Create(string directory, WeightLayout layout, string dataset, IEnumerable<ZooColumn>? hyperparameters = null,
        JsonObject? recipe = null, string? generator = null)
    {
        ArgumentNullException.ThrowIfNull(layout);
        Directory.CreateDirectory(directory);
        if (File.Exists(Path.Combine(directory, ZooManifest.FileName)))
            throw new IOException($"{directory}: already holds a zoo; use ZooWriter.Append to add to it, or choose another directory.");
        var columns = (hyperparameters ?? Array.Empty<ZooColumn>()).ToList();
        // Storage order: numeric columns first, then text; the manifest keeps that order.
        columns = columns.Where(c => c.Type == ZooColumnType.Single).Concat(columns.Where(c => c.Type == ZooColumnType.Text)).ToList();
        var manifest = new ZooManifest
        {
            Layout = layout,
            Dataset = dataset,
            Columns = columns,
            Recipe = recipe ?? new JsonObject(),
            Generator = generator ?? "WeightSpace.MLNet " + typeof(ZooWriter).Assembly.GetName().Version,
        };
        manifest.Validate(directory);
        manifest.Save(directory);
        return new ZooWriter(directory, manifest);
    }

    /// <summary>Opens an existing zoo to add shards to it (for resuming a long generation).</summary>
    public static ZooWriter Append(string directory) => new(directory, ZooManifest.Load(directory));

    /// <summary>Adds one checkpoint.</summary>
    /// <exception cref="ArgumentException">Wrong weight count, NaN/Inf weights, a missing or unknown hyperparameter.</exception>
    public void Write(ZooRecord record)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(record);
        var w = record.Weights;
        int p = _manifest.Layout.ParameterCount;
        string where = $"model {record.ModelId}, epoch {record.Epoch}";
        if (w.Length != p)
            throw new ArgumentException($"Column '{ZooColumns.Weights}' ({where}): {w.Length} values, but layout '{_manifest.Layout.Name}' has {p} parameters.");
        for (int i = 0; i < w.Length; i++)
            if (!float.IsFinite(w[i]))
                throw new ArgumentException($"Column '{ZooColumns.Weights}' ({where}): value {i} is {w[i]}; zoos hold finite weights only (did the model diverge?).");
        for (int i = 0; i < ZooColumns.Metrics.Count; i++) _singles[i] = record.Metric(i);
        int si = ZooColumns.Metrics.Count, ti = 0;
        foreach (var c in _manifest.Columns)
        {
            if (c.Type == ZooColumnType.Single)
            {
                if (!record.Numeric.TryGetValue(c.Name, out var v))
                    throw new ArgumentException($"Column '{c.Name}' ({where}): the record has no value for this numeric hyperparameter.");
                _singles[si++] = v;
            }
            else
            {
                if (!record.Text.TryGetValue(c.Name, out var s) || s is null)
                    throw new ArgumentException($"Column '{c.Name}' ({where}): the record has no value for this text hyperparameter.");
                _texts[ti++] = s;
            }
        }
        if (record.Numeric.Count + record.Text.Count != _manifest.Columns.Count)
        {
            var unknown = record.Numeric.Keys.Concat(record.Text.Keys).Except(_manifest.Columns.Select(c => c.Name)).FirstOrDefault();
            throw new ArgumentException($"Column '{unknown}' ({where}): not a column of this zoo (declared: {string.Join(", ", _manifest.Columns.Select(c => c.Name))}).");
        }
        if (_shard is null)
        {
            _shardName = $"shard-{_manifest.Shards.Count:D5}.wsz";
            _shardTemp = AtomicFile.TempPathFor(Path.Combine(_dir, _shardName));
            _shard = new ShardWriter(_shardTemp, p, _singles.Length, _texts.Length);
        }
        _shard.Add(w, record.ModelId, record.Epoch, record.Seed, _singles, _texts);
        if (_shard.Rows >= RowsPerShard) CompleteShard();
    }

    /// <summary>Finishes the open shard (if any): flush, rename into place, then update the manifest atomically.</summary>
    public void CompleteShard()
    {
        if (_shard is null) return;
        var shard = _shard;
        _shard = null;
        string checksum = shard.Complete();
        AtomicFile.Commit(_shardTemp, Path.Combine(_dir, _shardName));
        _manifest.Shards.Add(new ZooShardInfo { File = _shardName, Rows = shard.Rows, Bytes = shard.Bytes, Checksum = checksum, ModelIds = shard.ModelIds.ToArray() });
        _manifest.Save(_dir);
    }

    /// <summary>Drops the open shard's rows without writing them (for a run that was cancelled mid-model).</summary>
    public void DiscardOpenShard()
    {
        if (_shard is null) return;
        _shard.Dispose();
        _shard = null;
        File.Delete(_shardTemp);
    }

    /// <summary>Completes the open shard.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        CompleteShard();
        _disposed = true;
    }
}
