using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace WeightSpace.MLNet;

/// <summary>One shard file of a zoo as listed in the manifest.</summary>
public sealed class ZooShardInfo
{
    /// <summary>File name inside the zoo directory.</summary>
    public string File { get; set; } = "";
    /// <summary>Rows (checkpoints) in the shard.</summary>
    public long Rows { get; set; }
    /// <summary>Exact file size in bytes (a shorter file is truncated).</summary>
    public long Bytes { get; set; }
    /// <summary>XxHash3 (64-bit) of the whole file, hex.</summary>
    public string Checksum { get; set; } = "";
    /// <summary>Distinct model ids in the shard, ascending.</summary>
    public int[] ModelIds { get; set; } = Array.Empty<int>();
}

/// <summary>
/// The manifest (<c>zoo.json</c>) of a zoo directory: format version, zoo id, layout, data set, the recipe
/// that produced it, hyperparameter columns and the shard list. Rewritten atomically after every shard, only by
/// <see cref="ZooWriter"/>. From format 2 it carries a checksum of its own content, so an edited or damaged manifest
/// is refused by name instead of serving wrong rows.
/// </summary>
public sealed class ZooManifest
{
    /// <summary>The on-disk format this library writes (it reads 1 and 2).</summary>
    public const int CurrentFormatVersion = 2;

    /// <summary>Name of the manifest file inside a zoo directory.</summary>
    public const string FileName = "zoo.json";

    /// <summary>Format version of this zoo.</summary>
    public int FormatVersion { get; set; } = CurrentFormatVersion;
    /// <summary>A random id given at creation; every shard of the zoo carries it (hex).</summary>
    public string ZooId { get; set; } = "";
    /// <summary>Program and version that wrote the zoo.</summary>
    public string Generator { get; set; } = "";
    /// <summary>Architecture of every model in the zoo.</summary>
    public WeightLayout Layout { get; set; } = WeightLayout.TetrisMlp100;
    /// <summary>Data set the models were trained on, e.g. "tetris", "fashion-mnist".</summary>
    public string Dataset { get; set; } = "";
    /// <summary>The recipe (preset and full hyperparameter grid) that produced the zoo; free-form JSON.</summary>
    public JsonObject Recipe { get; set; } = new();
    /// <summary>Which part of a partitioned run this zoo is (e.g. "0/4"), or null for a whole zoo. Not compared by merge.</summary>
    public string? Part { get; set; }
    /// <summary>For a merged zoo: the parts it was merged from (e.g. "0/4", "1/4"); null otherwise.</summary>
    public List<string>? MergedParts { get; set; }
    /// <summary>True when the zoo is known to lack models of its recipe (a merge of some of the parts, with --allow-partial).</summary>
    public bool Partial { get; set; }
    /// <summary>Set while a merge copies shards: an interrupted merge is refused by readers and finished by running the merge again.</summary>
    public bool MergeInProgress { get; set; }
    /// <summary>Hyperparameter columns beyond the standard ones.</summary>
    public List<ZooColumn> Columns { get; set; } = new();
    /// <summary>Complete shards, in order.</summary>
    public List<ZooShardInfo> Shards { get; set; } = new();
    /// <summary>XxHash3 (hex) of this manifest's JSON with this field empty; written by <see cref="Save"/>, checked by <see cref="Load"/>.</summary>
    public string? ManifestChecksum { get; set; }

    [JsonIgnore] internal ulong ZooIdValue => ulong.TryParse(ZooId, System.Globalization.NumberStyles.HexNumber, null, out var v) ? v : 0;

    /// <summary>Total rows over all shards.</summary>
    [JsonIgnore] public long RowCount => Shards.Sum(s => s.Rows);

    internal static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
    };

    /// <summary>Reads and validates the manifest of <paramref name="directory"/>.</summary>
    /// <exception cref="ZooFormatException">Missing, unreadable or of a newer format.</exception>
    public static ZooManifest Load(string directory)
    {
        var path = System.IO.Path.Combine(directory, FileName);
        if (!Directory.Exists(directory)) throw new ZooFormatException(directory, "no such zoo directory.");
        if (!System.IO.File.Exists(path)) throw new ZooFormatException(path, $"the zoo manifest is missing (is '{directory}' a zoo written by ZooWriter or zoogen?).");
        ZooManifest? m;
        try
        {
            var node = JsonNode.Parse(System.IO.File.ReadAllText(path));
            int version = node?["formatVersion"]?.GetValue<int>() ?? throw new ZooFormatException(path, "the manifest has no formatVersion.");
            if (version > CurrentFormatVersion)
                throw new ZooFormatException(path, $"the zoo has format version {version}, newer than the {CurrentFormatVersion} this library reads; update WeightSpace.MLNet.");
            if (version < 1) throw new ZooFormatException(path, $"invalid format version {version}.");
            m = node.Deserialize<ZooManifest>(JsonOptions);
        }
        catch (ZooFormatException) { throw; }
        catch (Exception e) when (e is JsonException or InvalidOperationException or ArgumentException or FormatException)
        {
            throw new ZooFormatException(path, "the manifest is not valid zoo JSON: " + e.Message, e);
        }
        if (m is null) throw new ZooFormatException(path, "the manifest is empty.");
        if (m.FormatVersion >= 2)
        {
            if (string.IsNullOrEmpty(m.ManifestChecksum)) throw new ZooFormatException(path, "the manifest has no checksum: it was edited or damaged.");
            if (m.ContentChecksum() != m.ManifestChecksum)
                throw new ZooFormatException(path, "the manifest's checksum does not match its content: zoo.json was edited or damaged (row counts, model ids, " +
                    "shard names, layout or recipe can no longer be trusted). Restore it from a copy or regenerate the zoo.");
            if (m.ZooIdValue == 0) throw new ZooFormatException(path, "the manifest has no valid zoo id.");
        }
        m.Validate(path);
        return m;
    }

    internal void Validate(string path)
    {
        var names = new HashSet<string>(StringComparer.Ordinal) { ZooColumns.Weights, ZooColumns.ModelId, ZooColumns.Epoch, ZooColumns.Seed };
        foreach (var metric in ZooColumns.Metrics) names.Add(metric);
        foreach (var c in Columns)
            if (string.IsNullOrWhiteSpace(c.Name) || !names.Add(c.Name))
                throw new ZooFormatException(path, $"column '{c.Name}' is empty or defined twice.");
        var files = new HashSet<string>(StringComparer.Ordinal);
        var models = new Dictionary<int, string>();
        foreach (var s in Shards)
        {
            if (s.Rows < 0 || s.Bytes < 0 || string.IsNullOrEmpty(s.File) || s.File.Contains('/') || s.File.Contains('\\') || s.File.StartsWith('.'))
                throw new ZooFormatException(path, $"shard entry '{s.File}' is invalid.");
            if (!files.Add(s.File)) throw new ZooFormatException(path, $"shard file '{s.File}' is listed twice.");
            foreach (var id in s.ModelIds)
                if (!models.TryAdd(id, s.File)) throw new ZooFormatException(path, $"model {id} is listed in both '{models[id]}' and '{s.File}'.");
        }
    }

    /// <summary>XxHash3 of the manifest's JSON without its checksum (the same bytes <see cref="Save"/> hashed).</summary>
    internal string ContentChecksum()
    {
        var stored = ManifestChecksum;
        ManifestChecksum = null;
        try { return System.IO.Hashing.XxHash3.HashToUInt64(JsonSerializer.SerializeToUtf8Bytes(this, JsonOptions)).ToString("x16"); }
        finally { ManifestChecksum = stored; }
    }

    /// <summary>Writes the manifest atomically (temporary file, then rename), with its checksum. Only <see cref="ZooWriter"/> calls it.</summary>
    internal void Save(string directory)
    {
        FormatVersion = CurrentFormatVersion;
        ManifestChecksum = ContentChecksum();
        var path = System.IO.Path.Combine(directory, FileName);
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, JsonOptions));
    }

    /// <summary>A deep copy (callers get copies; the writer keeps the live manifest).</summary>
    public ZooManifest Clone() => JsonSerializer.Deserialize<ZooManifest>(JsonSerializer.SerializeToUtf8Bytes(this, JsonOptions), JsonOptions)!;

    /// <summary>
    /// The first zoogen that records a model's train accuracy and loss (and so the gap) on its own training subset; earlier
    /// ones measured them on the whole training set, which for a train fraction below 1 is mostly images the model never saw.
    /// </summary>
    public static Version OwnSubsetTrainMetricsSince { get; } = new(0, 2);

    /// <summary>
    /// Why this zoo's train metrics (<see cref="ZooColumns.TrainAccuracy"/>, <see cref="ZooColumns.TrainLoss"/>,
    /// <see cref="ZooColumns.GeneralizationGap"/>) mean something else than their documentation says — written by a zoogen
    /// before <see cref="OwnSubsetTrainMetricsSince"/> with models trained on part of the data — or null when they do not.
    /// </summary>
    public string? TrainMetricsCaveat()
    {
        const string prefix = "zoogen ";
        if (!Generator.StartsWith(prefix, StringComparison.Ordinal)
            || !Version.TryParse(Generator[prefix.Length..], out var version) || version >= OwnSubsetTrainMetricsSince)
            return null;
        var fractions = Recipe["grid"]?["trainFraction"]?.AsArray().Select(n => n?.GetValue<double>() ?? 1) ?? Enumerable.Empty<double>();
        if (!fractions.Any(f => f < 1)) return null;
        return $"written by {Generator}, which measured train accuracy, train loss and the generalisation gap of models with a " +
            "train fraction below 1 on the whole training set (mostly images such a model never saw); zoogen " +
            $"{OwnSubsetTrainMetricsSince} and later measure them on each model's own training subset";
    }

    /// <summary>Throws unless <paramref name="other"/> describes the same kind of zoo (layout, data set, recipe, columns) written by the same generator.</summary>
    public void EnsureCompatible(ZooManifest other, string otherPath)
    {
        if (!Layout.Equals(other.Layout))
            throw new ZooFormatException(otherPath, $"layout {other.Layout} differs from {Layout}; only zoos of one architecture can be merged.");
        if (Dataset != other.Dataset)
            throw new ZooFormatException(otherPath, $"data set '{other.Dataset}' differs from '{Dataset}'.");
        if (!Columns.SequenceEqual(other.Columns))
            throw new ZooFormatException(otherPath, "hyperparameter columns differ: " + string.Join(",", other.Columns.Select(c => c.Name)) + " vs " + string.Join(",", Columns.Select(c => c.Name)) + ".");
        if (!JsonNode.DeepEquals(Recipe, other.Recipe))
            throw new ZooFormatException(otherPath, "the recipe differs; only parts of one recipe can be merged.");
        if (Generator != other.Generator)
            throw new ZooFormatException(otherPath, $"was written by {other.Generator}, the others by {Generator}; versions may record their labels differently, so only parts written by one can be merged.");
    }
}
