using System.IO.Hashing;

namespace WeightSpace.MLNet;

/// <summary>
/// Typed, ML.NET-free access to a zoo directory: manifest, layout, row count and a streaming
/// enumeration of records. For ML.NET use <c>mlContext.Data.LoadZoo(path)</c>.
/// </summary>
/// <example><code>
/// var zoo = ZooDataset.Open("zoos/tetris-seed");
/// foreach (var r in zoo.Records()) Console.WriteLine($"{r.ModelId} {r.Epoch} {r.TestAccuracy}");
/// </code></example>
public sealed class ZooDataset
{
    private ZooDataset(string directory, ZooManifest manifest)
    {
        Directory = directory;
        Manifest = manifest;
    }

    /// <summary>The zoo directory.</summary>
    public string Directory { get; }
    /// <summary>The manifest.</summary>
    public ZooManifest Manifest { get; }
    /// <summary>Architecture of the zoo's models.</summary>
    public WeightLayout Layout => Manifest.Layout;
    /// <summary>Number of checkpoints.</summary>
    public long RowCount => Manifest.RowCount;
    /// <summary>Distinct model ids over all shards.</summary>
    public IReadOnlyCollection<int> ModelIds => Manifest.Shards.SelectMany(s => s.ModelIds).ToHashSet();

    internal int SingleColumnCount => ZooColumns.Metrics.Count + Manifest.Columns.Count(c => c.Type == ZooColumnType.Single);
    internal int TextColumnCount => Manifest.Columns.Count(c => c.Type == ZooColumnType.Text);

    /// <summary>Opens a zoo: reads the manifest and checks that every shard is present and of the listed size.</summary>
    /// <exception cref="ZooFormatException">Missing/unknown manifest, missing or truncated shard.</exception>
    public static ZooDataset Open(string directory)
    {
        var manifest = ZooManifest.Load(directory);
        if (manifest.MergeInProgress)
            throw new ZooFormatException(Path.Combine(directory, ZooManifest.FileName),
                "the zoo is an unfinished merge (it was interrupted); run the same 'zoogen merge' again to finish it.");
        foreach (var s in manifest.Shards)
        {
            var path = Path.Combine(directory, s.File);
            if (!File.Exists(path)) throw new ZooFormatException(path, "shard file listed in the manifest is missing.");
            long len = FileLength.Of(path);
            if (len != s.Bytes) throw new ZooFormatException(path, len < s.Bytes
                ? $"shard is truncated: {len} bytes on disk, {s.Bytes} expected."
                : $"shard is longer than the manifest says ({len} bytes, {s.Bytes} expected).");
        }
        return new ZooDataset(directory, manifest);
    }

    internal ShardReader OpenShard(int index) =>
        new(Path.Combine(Directory, Manifest.Shards[index].File), Manifest.Shards[index], Layout.ParameterCount, SingleColumnCount, TextColumnCount, Identity(index));

    /// <summary>What shard <paramref name="index"/> must say about itself (format 2), or null for a format-1 zoo.</summary>
    private ShardIdentity? Identity(int index) => Manifest.FormatVersion >= 2
        ? new ShardIdentity(Manifest.ZooIdValue, index, Manifest.Shards.Take(index).Sum(s => s.Rows))
        : null;

    /// <summary>Streams every record (each with its own weight array).</summary>
    public IEnumerable<ZooRecord> Records()
    {
        int p = Layout.ParameterCount, s = SingleColumnCount, t = TextColumnCount;
        var columns = Manifest.Columns;
        for (int shard = 0; shard < Manifest.Shards.Count; shard++)
        {
            using var reader = OpenShard(shard);
            while (reader.ReadChunk(decodeText: true))
            {
                for (int row = 0; row < reader.Rows; row++)
                {
                    var ints = reader.Ints.Slice(row * ShardFormat.IntColumns, ShardFormat.IntColumns);
                    var singles = reader.Singles.Slice(row * s, s);
                    var r = new ZooRecord
                    {
                        Weights = reader.Weights.Slice(row * p, p).ToArray(),
                        ModelId = ints[0], Epoch = ints[1], Seed = ints[2],
                    };
                    for (int m = 0; m < ZooColumns.Metrics.Count; m++) r.SetMetric(ZooColumns.Metrics[m], singles[m]);
                    int si = ZooColumns.Metrics.Count, ti = 0;
                    foreach (var c in columns)
                    {
                        if (c.Type == ZooColumnType.Single) r.SetSingle(c.Name, singles[si++]);
                        else r.Text[c.Name] = reader.Texts[row * t + ti++];
                    }
                    yield return r;
                }
            }
        }
    }

    /// <summary>
    /// Checks the whole zoo against its manifest (whose own checksum <see cref="Open"/> checked): every shard file's
    /// checksum, its header (zoo, place, first row), every chunk's checksum, its row count, and every row's model id.
    /// Blames the file at fault: the manifest when its content is wrong, a shard when the shard is.
    /// </summary>
    /// <exception cref="ZooFormatException">The first problem found, naming the file.</exception>
    public void Verify()
    {
        for (int i = 0; i < Manifest.Shards.Count; i++)
        {
            var s = Manifest.Shards[i];
            var path = Path.Combine(Directory, s.File);
            using var reader = OpenShard(i); // size and header first: a swapped or re-pointed shard is named as such
            var hash = new XxHash3();
            using (var fs = File.OpenRead(path)) hash.Append(fs);
            var actual = hash.GetCurrentHashAsUInt64().ToString("x16");
            if (actual != s.Checksum) throw new ZooFormatException(path, $"checksum {actual} does not match the manifest's {s.Checksum}: the file is corrupt.");
            while (reader.ReadChunk(decodeText: true)) { }
        }
    }
}
