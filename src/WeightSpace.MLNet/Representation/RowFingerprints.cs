using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;

namespace WeightSpace.MLNet;

/// <summary>
/// The rows a hyper-representation saw in training (its training and validation rows), kept as sorted distinct 64-bit
/// hashes (XxHash3) of each weight vector's bytes: 8 bytes per row, enough to tell later whether a row it is asked to embed
/// for a test was among them (a leak that makes probe results optimistic), without keeping the weights.
/// </summary>
internal sealed class RowFingerprints
{
    private readonly ulong[] _sorted;

    private RowFingerprints(ulong[] sorted) => _sorted = sorted;

    /// <summary>Distinct rows recorded.</summary>
    public int Count => _sorted.Length;

    /// <summary>The fingerprint of one weight vector.</summary>
    public static ulong Of(ReadOnlySpan<float> row) => XxHash3.HashToUInt64(MemoryMarshal.AsBytes(row));

    /// <summary>The fingerprints of every row of each part (rows × <paramref name="parameters"/>, row-major).</summary>
    public static RowFingerprints From(int parameters, params RepresentationData?[] parts)
    {
        var all = new List<ulong>();
        foreach (var part in parts)
        {
            if (part is null) continue;
            for (int r = 0; r < part.Rows; r++) all.Add(Of(part.Weights.AsSpan(r * parameters, parameters)));
        }
        return new RowFingerprints(all.Distinct().Order().ToArray());
    }

    /// <summary>Whether a row with this fingerprint was recorded.</summary>
    public bool Contains(ulong fingerprint) => Array.BinarySearch(_sorted, fingerprint) >= 0;

    /// <summary>Little-endian uint64 values, ascending.</summary>
    public byte[] ToBytes()
    {
        var bytes = new byte[_sorted.Length * sizeof(ulong)];
        for (int i = 0; i < _sorted.Length; i++) BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(i * sizeof(ulong)), _sorted[i]);
        return bytes;
    }

    /// <summary>Reads <see cref="ToBytes"/>; throws <see cref="InvalidDataException"/> when the bytes cannot be such a list.</summary>
    public static RowFingerprints FromBytes(byte[] bytes, string name)
    {
        if (bytes.Length % sizeof(ulong) != 0) throw new InvalidDataException($"{name}: the record of training rows is truncated ({bytes.Length} bytes).");
        var sorted = new ulong[bytes.Length / sizeof(ulong)];
        for (int i = 0; i < sorted.Length; i++)
        {
            sorted[i] = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(i * sizeof(ulong)));
            if (i > 0 && sorted[i] <= sorted[i - 1]) throw new InvalidDataException($"{name}: the record of training rows is corrupt (not ascending at entry {i}).");
        }
        return new RowFingerprints(sorted);
    }
}
