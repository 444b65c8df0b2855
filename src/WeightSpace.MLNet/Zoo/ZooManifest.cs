using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using WeightSpace.MLNet.Layout;

namespace WeightSpace.MLNet.Zoo;

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
/// The manifest (<c>zoo.json</c>) of a zoo directory: format version, layout, data set, the recipe
/// that produced it, hyperparameter columns and the shard list. Rewritten atomically after every shard.
/// </summary>
public sealed class ZooManifest
{
    /// <summary>The on-disk format this library writes and reads.</summary>
    public const int CurrentFormatVersion = 1;

    /// <summary>Name of the manifest file inside a zoo directory.</summary>
    public const string FileName = "zoo.json";

    /// <summary>Format version of this zoo.</summary>
    public int FormatVersion { get; set; } = CurrentFormatVersion;
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
    /// <summary>Hyperparameter columns beyond the standard ones.</summary>
    public List<ZooColumn> Columns { get; set; } = new();
    /// <summary>Complete shards, in order.</summary>
    public List<ZooShardInfo> Shards { get; set; } = new();

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
        foreach (var s in Shards)
            if (s.Rows < 0 || s.Bytes < 0 || string.IsNullOrEmpty(s.File) || s.File.Contains('/') || s.File.Contains('\\'))
                throw new ZooFormatException(path, $"shard entry '{s.File}' is invalid.");
    }

    /// <summary>Writes the manifest atomically (temporary file, then rename).</summary>
    public void Save(string directory)
    {
        var path = System.IO.Path.Combine(directory, FileName);
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, JsonOptions));
    }

    /// <summary>Throws unless <paramref name="other"/> describes the same kind of zoo (layout, data set, recipe, columns).</summary>
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
    }
}
