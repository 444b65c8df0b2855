namespace WeightSpace.MLNet;

/// <summary>Joins zoos produced as separate parts (same layout, data set, recipe and columns) into one.</summary>
public static class ZooMerge
{
    /// <summary>
    /// Copies the shards of every input into a new zoo at <paramref name="output"/>, in input order, through a
    /// <see cref="ZooWriter"/> (so the output is locked while it is written and every shard names its new zoo). Inputs are
    /// verified first; a model id found in two inputs is refused. Parts of a partitioned run (<c>zoogen generate --shard i/n</c>)
    /// must all be there unless <paramref name="allowPartial"/>; a partial merge says so in its manifest. An interrupted merge
    /// leaves a zoo that readers refuse; running the same merge again finishes it.
    /// </summary>
    /// <exception cref="ZooFormatException">An input is unreadable, corrupt, incompatible with the first, or parts are missing.</exception>
    /// <exception cref="IOException"><paramref name="output"/> already holds a (finished) zoo or is being written.</exception>
    public static ZooDataset Merge(string output, IReadOnlyList<string> inputs, bool allowPartial = false)
    {
        if (inputs is null || inputs.Count == 0) throw new ArgumentException("Merge needs at least one input zoo.", nameof(inputs));
        var full = Path.GetFullPath(output).TrimEnd(Path.DirectorySeparatorChar);
        foreach (var input in inputs)
            if (Path.GetFullPath(input).TrimEnd(Path.DirectorySeparatorChar) == full) throw new ArgumentException($"{input}: a merge cannot write into one of its inputs.");
        var zoos = inputs.Select(ZooDataset.Open).ToList();
        var first = zoos[0].Manifest;
        for (int i = 1; i < zoos.Count; i++) first.EnsureCompatible(zoos[i].Manifest, inputs[i]);
        var (parts, partial) = CheckParts(zoos, inputs, allowPartial);
        var seen = new Dictionary<int, string>();
        for (int i = 0; i < zoos.Count; i++)
        {
            zoos[i].Verify();
            foreach (var id in zoos[i].ModelIds)
                if (!seen.TryAdd(id, inputs[i]))
                    throw new ZooFormatException(inputs[i], $"model {id} is also in {seen[id]}; the parts overlap.");
        }
        var template = first.Clone();
        template.Part = null;
        var sources = zoos.SelectMany(z => z.Manifest.Shards.Select(s => (z.Directory, Shard: s))).ToList();
        bool exists = File.Exists(Path.Combine(output, ZooManifest.FileName));
        using (var writer = exists ? ZooWriter.ContinueMerge(output) : ZooWriter.Create(output, template))
        {
            // A merge marks itself unfinished until its last shard is in; run again, it continues where it stopped.
            var done = writer.Manifest;
            if (exists)
            {
                done.EnsureCompatible(template, output);
                if (done.Shards.Count > sources.Count || done.Shards.Where((s, i) => s.Rows != sources[i].Shard.Rows || !s.ModelIds.SequenceEqual(sources[i].Shard.ModelIds)).Any())
                    throw new IOException($"{output}: holds an unfinished merge of other inputs; give the same inputs in the same order, or merge into a new directory.");
            }
            else writer.SetMergeState(parts, partial, inProgress: true);
            for (int i = writer.ShardCount; i < sources.Count; i++)
                writer.CopyShard(Path.Combine(sources[i].Directory, sources[i].Shard.File), sources[i].Shard);
            writer.SetMergeState(parts, partial || zoos.Any(z => z.Manifest.Partial), inProgress: false);
        }
        return ZooDataset.Open(output);
    }

    /// <summary>Parts of one partitioned run must all be present (each once), unless a partial merge is allowed.</summary>
    private static (List<string>? Parts, bool Partial) CheckParts(List<ZooDataset> zoos, IReadOnlyList<string> inputs, bool allowPartial)
    {
        var parts = zoos.Select(z => z.Manifest.Part).ToList();
        if (parts.All(p => p is null)) return (null, false);
        if (parts.Any(p => p is null))
            throw new ZooFormatException(inputs[parts.IndexOf(null)], "is a whole zoo, the others are parts of a partitioned run; merge parts of one run only.");
        var parsed = parts.Select(p => p!.Split('/')).Select(a => (Index: int.Parse(a[0]), Count: int.Parse(a[1]))).ToList();
        int n = parsed[0].Count;
        for (int i = 0; i < parsed.Count; i++)
            if (parsed[i].Count != n) throw new ZooFormatException(inputs[i], $"is part {parts[i]}, but {inputs[0]} is part {parts[0]}: they come from runs split differently.");
        var dup = parsed.GroupBy(p => p.Index).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new ZooFormatException(inputs[parsed.FindLastIndex(p => p.Index == dup.Key)], $"part {dup.Key}/{n} is given twice.");
        var missing = Enumerable.Range(0, n).Except(parsed.Select(p => p.Index)).ToList();
        if (missing.Count > 0 && !allowPartial)
            throw new ZooFormatException(inputs[0], $"parts {string.Join(", ", missing.Select(m => $"{m}/{n}"))} are missing; the merged zoo would lack their models. " +
                "Generate them (zoogen generate --shard i/n) or merge with --allow-partial (the zoo is then marked partial).");
        return (parts.Select(p => p!).Order().ToList(), missing.Count > 0);
    }
}
