namespace WeightSpace.MLNet.MLNet;

/// <summary>
/// Maps one float vector to another, row by row. One instance per cursor or row (so it can keep
/// scratch buffers); the row key is the row's position, used for seeded randomness.
/// </summary>
internal abstract class VectorColumnMapper
{
    public abstract void Map(ReadOnlySpan<float> input, Span<float> output, long rowKey);
}
