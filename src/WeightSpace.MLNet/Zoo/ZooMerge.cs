namespace WeightSpace.MLNet.Zoo;

/// <summary>Joins zoos produced as separate parts (same layout, data set, recipe and columns) into one.</summary>
public static class ZooMerge
{
    /// <summary>
    /// Copies the shards of every input into a new zoo at <paramref name="output"/>, in input order.
    /// Inputs are verified first (checksums); a model id found in two inputs is refused.
    /// </summary>
    /// <exception cref="ZooFormatException">An input is unreadable, corrupt, or incompatible with the first.</exception>
    /// <exception cref="IOException"><paramref name="output"/> already holds a zoo.</exception>
    public static ZooDataset Merge(string output, IReadOnlyList<string> inputs)
    {
        if (inputs is null || inputs.Count == 0) throw new ArgumentException("Merge needs at least one input zoo.", nameof(inputs));
        if (File.Exists(Path.Combine(output, ZooManifest.FileName)))
            throw new IOException($"{output}: already holds a zoo; merge into a new directory.");
        var zoos = inputs.Select(ZooDataset.Open).ToList();
        var first = zoos[0].Manifest;
        var seen = new Dictionary<int, string>();
        for (int i = 0; i < zoos.Count; i++)
        {
            if (i > 0) first.EnsureCompatible(zoos[i].Manifest, inputs[i]);
            zoos[i].Verify();
            foreach (var id in zoos[i].ModelIds)
                if (!seen.TryAdd(id, inputs[i]))
                    throw new ZooFormatException(inputs[i], $"model {id} is also in {seen[id]}; the parts overlap.");
        }
        Directory.CreateDirectory(output);
        var merged = new ZooManifest
        {
            Layout = first.Layout, Dataset = first.Dataset, Recipe = (System.Text.Json.Nodes.JsonObject)first.Recipe.DeepClone(),
            Columns = first.Columns.ToList(), Generator = first.Generator,
        };
        foreach (var zoo in zoos)
        {
            foreach (var shard in zoo.Manifest.Shards)
            {
                var name = $"shard-{merged.Shards.Count:D5}.wsz";
                var dst = Path.Combine(output, name);
                var tmp = AtomicFile.TempPathFor(dst);
                File.Copy(Path.Combine(zoo.Directory, shard.File), tmp, overwrite: true);
                AtomicFile.Commit(tmp, dst);
                merged.Shards.Add(new ZooShardInfo { File = name, Rows = shard.Rows, Bytes = shard.Bytes, Checksum = shard.Checksum, ModelIds = shard.ModelIds });
            }
        }
        merged.Save(output);
        return ZooDataset.Open(output);
    }
}
