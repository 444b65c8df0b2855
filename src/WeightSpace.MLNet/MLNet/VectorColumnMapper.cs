namespace WeightSpace.MLNet;

/// <summary>
/// Maps one float vector to another, row by row or a block of rows at a time. One instance per cursor or row (so it can
/// keep scratch buffers); the row key is the row's position, used for seeded randomness.
/// </summary>
internal abstract class VectorColumnMapper
{
    /// <summary>Rows the mapper wants at once; above 1 the cursor reads ahead and maps blocks (e.g. batched inference).</summary>
    public virtual int BatchSize => 1;

    public abstract void Map(ReadOnlySpan<float> input, Span<float> output, long rowKey);

    /// <summary>Maps <paramref name="rows"/> consecutive rows (row-major in and out); row r has key <paramref name="firstRowKey"/> + r.</summary>
    public virtual void MapBatch(ReadOnlySpan<float> input, int rows, Span<float> output, long firstRowKey)
    {
        int p = input.Length / rows, o = output.Length / rows;
        for (int r = 0; r < rows; r++) Map(input.Slice(r * p, p), output.Slice(r * o, o), firstRowKey + r);
    }
}
