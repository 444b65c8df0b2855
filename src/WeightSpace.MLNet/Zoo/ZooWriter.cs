using System.IO.Hashing;
using System.Text.Json.Nodes;

namespace WeightSpace.MLNet;

/// <summary>
/// Appends checkpoints to a zoo directory, the only way a zoo changes. It holds the folder's lock (one writer at a time; a
/// second fails at once naming the holder). Rows go into a temporary shard file; <see cref="CompleteShard"/> (called
/// automatically every <see cref="RowsPerShard"/> rows and on <see cref="Dispose"/>) flushes it to disk, renames it into
/// place and then rewrites the manifest atomically. A crash therefore never leaves a shard that the manifest lists but
/// that is incomplete; at worst it loses the rows of the open shard. A model's rows reach the shard only when the model is
/// closed — by the first record of another model, <see cref="WriteModel"/>, <see cref="CompleteShard"/> or
/// <see cref="Dispose"/> — and a model one of whose records was refused (NaN weights, a missing column …) is dropped whole,
/// so the manifest never lists part of a model. Temporary files carry this process's id and a random part, and the writer
/// deletes only temporary files of its own naming scheme (<c>shard-NNNNN.wsz.tmp-…</c>, <c>zoo.json.tmp-…</c>), never
/// another file of the folder.
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
    private readonly ZooLock _lock;
    private readonly int _numericHyper, _textHyper;
    private readonly float[] _singles;
    private readonly int _hyperparameterColumns; // declared columns a record keeps in Numeric / Text (the rest are metric properties)
    private readonly string[] _texts;
    private ShardWriter? _shard;
    private string _shardTemp = "", _shardName = "";
    private int _lastModel;
    private bool _disposed;
    // The open model's rows, held until the model is closed; _refusedModel is a model one of whose records was refused
    // (its rows are dropped, and so are its later records).
    private readonly List<(float[] Weights, int ModelId, int Epoch, int Seed, float[] Singles, string[] Texts)> _pending = new();
    private int? _refusedModel;

    private ZooWriter(string dir, ZooManifest manifest, ZooLock @lock)
    {
        _dir = dir;
        _manifest = manifest;
        _lock = @lock;
        _numericHyper = manifest.Columns.Count(c => c.Type == ZooColumnType.Single);
        _textHyper = manifest.Columns.Count - _numericHyper;
        _hyperparameterColumns = manifest.Columns.Count(c => !ZooColumns.OptionalMetrics.Contains(c.Name));
        _singles = new float[ZooColumns.Metrics.Count + _numericHyper];
        _texts = new string[_textHyper];
        // Leftovers of a writer that died: only temporary files of our own naming scheme, and only under the lock.
        foreach (var stale in Directory.EnumerateFiles(dir, "*" + AtomicFile.TempMarker + "*"))
            if (IsOwnTemporary(Path.GetFileName(stale))) File.Delete(stale);
    }

    /// <summary>A file a zoo folder holds: the manifest, shards, the lock and writer files, and their temporaries.</summary>
    internal static bool IsZooFile(string name) =>
        name == ZooManifest.FileName || name == ZooLock.LockFile || name == ZooLock.OwnerFile || IsOwnTemporary(name)
        || System.Text.RegularExpressions.Regex.IsMatch(name, @"^shard-\d{5}\.wsz$") || (name.StartsWith(ZooLock.OwnerFile + AtomicFile.TempMarker, StringComparison.Ordinal));

    /// <summary>A temporary file a ZooWriter (or the manifest's atomic save) makes: shard-NNNNN.wsz.tmp-… or zoo.json.tmp-….</summary>
    internal static bool IsOwnTemporary(string name) =>
        System.Text.RegularExpressions.Regex.IsMatch(name, @"^(shard-\d{5}\.wsz|" + System.Text.RegularExpressions.Regex.Escape(ZooManifest.FileName) + ")" +
            System.Text.RegularExpressions.Regex.Escape(AtomicFile.TempMarker) + @"\d+(-[0-9a-f]{8})?$");

    /// <summary>Rows per shard file (default 50,000; a shard is completed at the first new model past it). Smaller shards lose less on a crash.</summary>
    public int RowsPerShard { get; set; } = 50_000;

    /// <summary>A copy of the manifest as it is on disk after the last completed shard.</summary>
    public ZooManifest Manifest => _manifest.Clone();

    /// <summary>Model ids of the completed shards.</summary>
    public IReadOnlySet<int> CompletedModelIds => _manifest.Shards.SelectMany(s => s.ModelIds).ToHashSet();

    /// <summary>Rows written so far, the open shard and the open model included.</summary>
    public long RowCount => _manifest.RowCount + (_shard?.Rows ?? 0) + _pending.Count;

    /// <summary>
    /// Starts a new zoo in <paramref name="directory"/> (created if needed; it must not hold a zoo already).
    /// <paramref name="part"/> marks one part of a partitioned run (e.g. "0/4").
    /// </summary>
    /// <exception cref="IOException">The folder holds a zoo already, or another writer holds it.</exception>
    public static ZooWriter Create(string directory, WeightLayout layout, string dataset, IEnumerable<ZooColumn>? hyperparameters = null,
        JsonObject? recipe = null, string? generator = null, string? part = null)
    {
        ArgumentNullException.ThrowIfNull(layout);
        var columns = (hyperparameters ?? Array.Empty<ZooColumn>()).ToList();
        // Storage order: numeric columns first, then text; the manifest keeps that order.
        columns = columns.Where(c => c.Type == ZooColumnType.Single).Concat(columns.Where(c => c.Type == ZooColumnType.Text)).ToList();
        var manifest = new ZooManifest
        {
            ZooId = NewZooId(),
            Layout = layout,
            Dataset = dataset,
            Columns = columns,
            Recipe = recipe ?? new JsonObject(),
            Part = part,
            Generator = generator ?? "WeightSpace.MLNet " + typeof(ZooWriter).Assembly.GetName().Version,
        };
        manifest.Validate(directory);
        // Only into a new or empty folder, one a tool of ours marked, or one holding a zoo's own files (refused below if a zoo).
        OwnedFolder.EnsureNotForeign(directory, IsZooFile);
        var @lock = ZooLock.Acquire(directory);
        try
        {
            if (File.Exists(Path.Combine(directory, ZooManifest.FileName)))
                throw new IOException($"{directory}: already holds a zoo; use ZooWriter.Append to add to it, or choose another directory.");
            manifest.Save(directory);
            return new ZooWriter(directory, manifest, @lock);
        }
        catch
        {
            @lock.Dispose();
            throw;
        }
    }

    internal static ZooWriter Create(string directory, ZooManifest template)
    {
        var w = Create(directory, template.Layout, template.Dataset, template.Columns, (JsonObject)template.Recipe.DeepClone(), template.Generator, template.Part);
        return w;
    }

    /// <summary>Opens an existing zoo to add shards to it (for resuming a long generation).</summary>
    /// <exception cref="IOException">Another writer holds the folder.</exception>
    /// <exception cref="ZooFormatException">No zoo there, a damaged manifest, or a zoo of format 1 (read-only).</exception>
    public static ZooWriter Append(string directory)
    {
        if (!Directory.Exists(directory)) throw new ZooFormatException(directory, "no such zoo directory.");
        var @lock = ZooLock.Acquire(directory);
        try
        {
            var manifest = ZooManifest.Load(directory);
            if (manifest.FormatVersion < 2)
                throw new ZooFormatException(Path.Combine(directory, ZooManifest.FileName),
                    "the zoo has format 1 (written by an older WeightSpace.MLNet) and can only be read; finish it with that version, or merge it into a new zoo (zoogen merge) and continue that.");
            // The manifest's model ids are what a resumed run skips: a shard that is gone or cut short would leave its
            // models neither in the zoo nor retrained, with the run reporting the zoo complete. Checking each listed
            // file's presence and size is cheap; the checksums are `zoogen verify`'s job.
            foreach (var shard in manifest.Shards)
            {
                var path = Path.Combine(directory, shard.File);
                if (!File.Exists(path))
                    throw new ZooFormatException(path, $"shard file listed in the manifest is missing, so its {shard.ModelIds.Length} models would be neither in the zoo nor retrained; restore the file, or generate into a new folder.");
                long length = FileLength.Of(path);
                if (length != shard.Bytes)
                    throw new ZooFormatException(path, $"shard is {length} bytes on disk, the manifest says {shard.Bytes} (truncated or replaced); restore the file, or generate into a new folder.");
            }
            return new ZooWriter(directory, manifest, @lock);
        }
        catch
        {
            @lock.Dispose();
            throw;
        }
    }

    private static string NewZooId()
    {
        Span<byte> bytes = stackalloc byte[8];
        do System.Security.Cryptography.RandomNumberGenerator.Fill(bytes); while (BitConverter.ToUInt64(bytes) == 0);
        return BitConverter.ToUInt64(bytes).ToString("x16");
    }

    private ShardIdentity NextIdentity() => new(_manifest.ZooIdValue, _manifest.Shards.Count, _manifest.RowCount);

    /// <summary>
    /// Adds one model's checkpoints, all or none: every record is checked before any is written, and the model is closed
    /// (its rows go into the open shard) at once.
    /// </summary>
    /// <exception cref="ArgumentException">Records of several models, or any of <see cref="Write"/>'s errors; nothing of the model is written.</exception>
    public void WriteModel(IEnumerable<ZooRecord> checkpoints)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(checkpoints);
        var list = checkpoints.ToList();
        if (list.Count == 0) return;
        if (list.Any(r => r is null || r.ModelId != list[0].ModelId))
            throw new ArgumentException($"WriteModel takes the checkpoints of one model; got model ids {string.Join(", ", list.Select(r => r?.ModelId.ToString() ?? "null").Distinct())}.");
        ClosePendingModel();
        foreach (var r in list) Write(r);
        ClosePendingModel();
    }

    /// <summary>
    /// Adds one checkpoint. Checkpoints of a model are written one after the other; the model is closed by the first record
    /// of another model, <see cref="CompleteShard"/> or <see cref="Dispose"/>. If a record is refused, the rest of its model
    /// is dropped (the model is not written at all).
    /// </summary>
    /// <exception cref="ArgumentException">Wrong weight count, NaN/Inf weights, a missing or unknown hyperparameter, a model already in the zoo.</exception>
    public void Write(ZooRecord record)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(record);
        if (_refusedModel is int refused && record.ModelId != refused) _refusedModel = null; // a refusal covers its own model only
        if (_pending.Count > 0 && record.ModelId != _pending[0].ModelId) ClosePendingModel();
        try { Check(record); }
        catch
        {
            _refusedModel = record.ModelId;
            _pending.Clear(); // the open model is this record's: none of it is written
            throw;
        }
        if (_refusedModel == record.ModelId) return; // the rest of a refused model
        _pending.Add((record.Weights.ToArray(), record.ModelId, record.Epoch, record.Seed, _singles.ToArray(), _texts.ToArray()));
    }

    /// <summary>Validates a record and fills <see cref="_singles"/> / <see cref="_texts"/> with its cells.</summary>
    private void Check(ZooRecord record)
    {
        var w = record.Weights;
        int p = _manifest.Layout.ParameterCount;
        string where = $"model {record.ModelId}, epoch {record.Epoch}";
        if (w.Length != p)
            throw new ArgumentException($"Column '{ZooColumns.Weights}' ({where}): {w.Length} values, but layout '{_manifest.Layout.Name}' has {p} parameters.");
        for (int i = 0; i < w.Length; i++)
            if (!float.IsFinite(w[i]))
                throw new ArgumentException($"Column '{ZooColumns.Weights}' ({where}): value {i} is {w[i]}; zoos hold finite weights only (did the model diverge?).");
        if (_manifest.Shards.Any(s => Array.BinarySearch(s.ModelIds, record.ModelId) >= 0))
            throw new ArgumentException($"Model {record.ModelId} ({where}) is already in the zoo; a model's checkpoints are written together, once.");
        for (int i = 0; i < ZooColumns.Metrics.Count; i++) _singles[i] = record.Metric(ZooColumns.Metrics[i]);
        int si = ZooColumns.Metrics.Count, ti = 0;
        foreach (var c in _manifest.Columns)
        {
            if (c.Type == ZooColumnType.Single)
            {
                // A validation metric the record lacks is NaN (missing, never invented); a missing hyperparameter is an error.
                if (!record.TryGetSingle(c.Name, out var v))
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
        if (record.Numeric.Keys.FirstOrDefault(ZooColumns.OptionalMetrics.Contains) is { } misplaced)
            throw new ArgumentException($"Column '{misplaced}' ({where}): a metric, set it as record.{misplaced}, not as a numeric hyperparameter.");
        if (record.Numeric.Count + record.Text.Count != _hyperparameterColumns)
        {
            var unknown = record.Numeric.Keys.Concat(record.Text.Keys).Except(_manifest.Columns.Select(c => c.Name)).FirstOrDefault();
            throw new ArgumentException($"Column '{unknown}' ({where}): not a column of this zoo (declared: {string.Join(", ", _manifest.Columns.Select(c => c.Name))}).");
        }
    }

    /// <summary>Moves the open model's rows into the open shard (a model's rows never straddle shards), or drops them if the model was refused.</summary>
    private void ClosePendingModel()
    {
        if (_pending.Count == 0) return;
        int modelId = _pending[0].ModelId;
        if (_shard is not null && _shard.Rows >= RowsPerShard && modelId != _lastModel) CompleteOpenShard();
        if (_shard is null)
        {
            _shardName = $"shard-{_manifest.Shards.Count:D5}.wsz";
            _shardTemp = AtomicFile.TempPathFor(Path.Combine(_dir, _shardName));
            _shard = new ShardWriter(_shardTemp, _manifest.Layout.ParameterCount, _singles.Length, _texts.Length, NextIdentity());
        }
        foreach (var row in _pending) _shard.Add(row.Weights, row.ModelId, row.Epoch, row.Seed, row.Singles, row.Texts);
        _lastModel = modelId;
        _pending.Clear();
    }

    /// <summary>Closes the open model, then finishes the open shard (if any): flush, rename into place, then update the manifest atomically.</summary>
    public void CompleteShard()
    {
        ClosePendingModel();
        CompleteOpenShard();
    }

    private void CompleteOpenShard()
    {
        if (_shard is null) return;
        var shard = _shard;
        _shard = null;
        string checksum = shard.Complete();
        AtomicFile.Commit(_shardTemp, Path.Combine(_dir, _shardName));
        _manifest.Shards.Add(new ZooShardInfo { File = _shardName, Rows = shard.Rows, Bytes = shard.Bytes, Checksum = checksum, ModelIds = shard.ModelIds.ToArray() });
        _manifest.Save(_dir);
    }

    /// <summary>
    /// Adds a complete shard of another zoo (same layout and columns; verified by the caller) as this zoo's next shard: its
    /// chunks are copied behind a new header that names this zoo, then committed like a written shard (for merges).
    /// </summary>
    internal void CopyShard(string sourcePath, ZooShardInfo info)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        CompleteShard();
        var name = $"shard-{_manifest.Shards.Count:D5}.wsz";
        var tmp = AtomicFile.TempPathFor(Path.Combine(_dir, name));
        int p = _manifest.Layout.ParameterCount;
        int singles = ZooColumns.Metrics.Count + _numericHyper;
        var hash = new XxHash3();
        long bytes = 0;
        using (var src = new FileStream(sourcePath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20))
        using (var dst = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        {
            var oldHeader = ShardReader.ReadHeader(src, sourcePath, out _);
            int chunkRows = System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(oldHeader.AsSpan(24));
            var header = ShardFormat.Header(p, singles, _textHyper, chunkRows, NextIdentity());
            dst.Write(header);
            hash.Append(header);
            bytes += header.Length;
            var buffer = new byte[1 << 20];
            int n;
            while ((n = src.Read(buffer)) > 0) { dst.Write(buffer, 0, n); hash.Append(buffer.AsSpan(0, n)); bytes += n; }
            dst.Flush(flushToDisk: true);
        }
        AtomicFile.Commit(tmp, Path.Combine(_dir, name));
        _manifest.Shards.Add(new ZooShardInfo { File = name, Rows = info.Rows, Bytes = bytes, Checksum = hash.GetCurrentHashAsUInt64().ToString("x16"), ModelIds = info.ModelIds.ToArray() });
        _manifest.Save(_dir);
    }

    /// <summary>Records how a merged zoo came about (parts, completeness) and whether the merge is still copying.</summary>
    internal void SetMergeState(List<string>? parts, bool partial, bool inProgress)
    {
        _manifest.MergedParts = parts;
        _manifest.Partial = partial;
        _manifest.MergeInProgress = inProgress;
        _manifest.Save(_dir);
    }

    /// <summary>Opens an unfinished merge to continue it (the lock is taken first).</summary>
    internal static ZooWriter ContinueMerge(string directory)
    {
        var @lock = ZooLock.Acquire(directory);
        try
        {
            var manifest = ZooManifest.Load(directory);
            if (!manifest.MergeInProgress) throw new IOException($"{directory}: already holds a zoo; merge into a new directory.");
            return new ZooWriter(directory, manifest, @lock);
        }
        catch
        {
            @lock.Dispose();
            throw;
        }
    }

    /// <summary>Shards completed so far.</summary>
    internal int ShardCount => _manifest.Shards.Count;

    /// <summary>Drops the open model's rows without writing them (for a caller whose model failed between its records).</summary>
    public void DiscardOpenModel()
    {
        _pending.Clear();
        _refusedModel = null;
    }

    /// <summary>Drops the open shard's rows (and the open model's) without writing them (for a run that was cancelled mid-model).</summary>
    public void DiscardOpenShard()
    {
        DiscardOpenModel();
        if (_shard is null) return;
        _shard.Dispose();
        _shard = null;
        File.Delete(_shardTemp);
    }

    /// <summary>
    /// Gives up a zoo this writer created: drops the open model and shard, deletes the shards and the manifest it wrote,
    /// releases the lock and removes the folder if that leaves it empty — for a job (an import) whose input turned out
    /// bad, so that nothing is left that looks like a complete zoo. Files it did not write are left alone.
    /// </summary>
    public void Abandon()
    {
        if (_disposed) return;
        DiscardOpenShard();
        foreach (var shard in _manifest.Shards) File.Delete(Path.Combine(_dir, shard.File));
        File.Delete(Path.Combine(_dir, ZooManifest.FileName));
        _disposed = true;
        _lock.Dispose();
        File.Delete(Path.Combine(_dir, ZooLock.LockFile));
        if (!Directory.EnumerateFileSystemEntries(_dir).Any()) Directory.Delete(_dir);
    }

    /// <summary>Closes the open model (unless one of its records was refused) and the open shard, and releases the folder.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        try { CompleteShard(); }
        finally
        {
            _disposed = true;
            _lock.Dispose();
        }
    }
}
