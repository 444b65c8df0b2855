using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text;

namespace WeightSpace.MLNet;

/// <summary>
/// The shard file format, a raw little-endian block format chosen over ML.NET's .idv because it reads at memory speed
/// with no decoding (docs/design.md has the measurement). Version 2 (written now):
/// <code>
/// header  : "WSZSHRD\0" | int32 version | int32 P | int32 singles S | int32 texts T | int32 chunkRows
///           | int32 shard index | uint64 zoo id | int64 first row | 12 bytes 0 | uint32 XxHash32 of the 60 bytes before  (64 bytes)
/// chunk*  : int32 rows | int32 textBytes | float32[rows·P] weights | int32[rows·3] ModelId,Epoch,Seed
///           | float32[rows·S] metrics then numeric hyperparameters | text (uint16 length + UTF-8 per row and column)
///           | uint64 XxHash3 of the chunk from 'rows' to the end of its text
/// </code>
/// A shard names itself: the zoo it belongs to, its place in the manifest and the row it starts at, so a shard that was
/// swapped, renamed or re-pointed is refused by name. Version 1 (a 32-byte header without identity) is still read.
/// The manifest holds each shard's row count, byte length, whole-file XxHash3 and model ids; every chunk is checked
/// while it streams, and every row's model id against the manifest, so a flipped byte is caught before its rows are served.
/// </summary>
internal static class ShardFormat
{
    public static ReadOnlySpan<byte> Magic => "WSZSHRD\0"u8;
    public const int Version = 2;
    public const int HeaderBytes = 64;
    public const int V1HeaderBytes = 32;
    public const int IntColumns = 3;
    public const int TargetChunkBytes = 4 << 20;

    public static int ChunkRowsFor(int parameterCount) => Math.Clamp(TargetChunkBytes / (parameterCount * 4 + 64), 1, 65536);

    /// <summary>A version-2 header.</summary>
    public static byte[] Header(int p, int singles, int texts, int chunkRows, ShardIdentity id)
    {
        var header = new byte[HeaderBytes];
        Magic.CopyTo(header);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(8), Version);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(12), p);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(16), singles);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(20), texts);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(24), chunkRows);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(28), id.Index);
        BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(32), id.ZooId);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(40), id.FirstRow);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(60), XxHash32.HashToUInt32(header.AsSpan(0, 60)));
        return header;
    }
}

/// <summary>What a version-2 shard says about itself: its zoo, its place in the manifest, its first row.</summary>
internal readonly record struct ShardIdentity(ulong ZooId, int Index, long FirstRow);

internal sealed class ShardWriter : IDisposable
{
    private readonly FileStream _stream;
    private readonly XxHash3 _fileHash = new();
    private readonly int _p, _s, _t, _chunkRows;
    private readonly float[] _weights;
    private readonly int[] _ints;
    private readonly float[] _singles;
    private readonly MemoryStream _text = new();
    private int _rows;
    private readonly SortedSet<int> _modelIds = new();

    public ShardWriter(string tempPath, int parameterCount, int singles, int texts, ShardIdentity identity)
    {
        _p = parameterCount; _s = singles; _t = texts;
        _chunkRows = ShardFormat.ChunkRowsFor(parameterCount);
        _weights = new float[_chunkRows * _p];
        _ints = new int[_chunkRows * ShardFormat.IntColumns];
        _singles = new float[_chunkRows * _s];
        _stream = new FileStream(tempPath, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        Emit(ShardFormat.Header(_p, _s, _t, _chunkRows, identity));
    }

    public long Rows { get; private set; }
    public long Bytes { get; private set; }
    public IReadOnlyCollection<int> ModelIds => _modelIds;

    public void Add(ReadOnlySpan<float> weights, int modelId, int epoch, int seed, ReadOnlySpan<float> singles, IReadOnlyList<string> texts)
    {
        weights.CopyTo(_weights.AsSpan(_rows * _p, _p));
        int io = _rows * ShardFormat.IntColumns;
        _ints[io] = modelId; _ints[io + 1] = epoch; _ints[io + 2] = seed;
        singles.CopyTo(_singles.AsSpan(_rows * _s, _s));
        Span<byte> len = stackalloc byte[2];
        foreach (var text in texts)
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            if (bytes.Length > ushort.MaxValue) throw new ArgumentException($"A text value of {bytes.Length} bytes is too long for a zoo column.");
            BinaryPrimitives.WriteUInt16LittleEndian(len, (ushort)bytes.Length);
            _text.Write(len);
            _text.Write(bytes);
        }
        _modelIds.Add(modelId);
        _rows++;
        Rows++;
        if (_rows == _chunkRows) FlushChunk();
    }

    private void FlushChunk()
    {
        if (_rows == 0) return;
        var chunkHash = new XxHash3();
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteInt32LittleEndian(prefix, _rows);
        BinaryPrimitives.WriteInt32LittleEndian(prefix[4..], (int)_text.Length);
        Emit(prefix, chunkHash);
        Emit(MemoryMarshal.AsBytes(_weights.AsSpan(0, _rows * _p)), chunkHash);
        Emit(MemoryMarshal.AsBytes(_ints.AsSpan(0, _rows * ShardFormat.IntColumns)), chunkHash);
        Emit(MemoryMarshal.AsBytes(_singles.AsSpan(0, _rows * _s)), chunkHash);
        Emit(_text.GetBuffer().AsSpan(0, (int)_text.Length), chunkHash);
        Span<byte> sum = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(sum, chunkHash.GetCurrentHashAsUInt64());
        Emit(sum);
        _rows = 0;
        _text.SetLength(0);
    }

    private void Emit(ReadOnlySpan<byte> bytes, XxHash3? chunkHash = null)
    {
        _stream.Write(bytes);
        _fileHash.Append(bytes);
        chunkHash?.Append(bytes);
        Bytes += bytes.Length;
    }

    /// <summary>Writes the last chunk, flushes to disk and returns the whole-file checksum.</summary>
    public string Complete()
    {
        FlushChunk();
        _stream.Flush(flushToDisk: true);
        _stream.Dispose();
        return _fileHash.GetCurrentHashAsUInt64().ToString("x16");
    }

    public void Dispose() => _stream.Dispose();
}

/// <summary>Streams one shard chunk by chunk, checking every chunk's checksum.</summary>
internal sealed class ShardReader : IDisposable
{
    private readonly string _path;
    private readonly FileStream _stream;
    private readonly int _p, _s, _t, _chunkRows;
    private readonly long _expectedRows, _fileLength;
    private byte[] _buffer = Array.Empty<byte>();
    private readonly Dictionary<string, string> _intern = new();
    private readonly HashSet<int> _modelIds;
    private readonly HashSet<int> _seenModels = new();
    private long _rowsRead;

    public ShardReader(string path, ZooShardInfo info, int parameterCount, int singles, int texts, ShardIdentity? expected)
    {
        _path = path;
        if (!File.Exists(path)) throw new ZooFormatException(path, "shard file listed in the manifest is missing.");
        _stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        try
        {
            _fileLength = _stream.Length;
            if (_fileLength < info.Bytes) throw new ZooFormatException(path, $"shard is truncated: {_fileLength} bytes on disk, {info.Bytes} expected.");
            if (_fileLength > info.Bytes) throw new ZooFormatException(path, $"shard is longer than the manifest says ({_fileLength} bytes, {info.Bytes} expected).");
            var header = ReadHeader(_stream, path, out int version);
            _p = BinaryPrimitives.ReadInt32LittleEndian(header[12..]);
            _s = BinaryPrimitives.ReadInt32LittleEndian(header[16..]);
            _t = BinaryPrimitives.ReadInt32LittleEndian(header[20..]);
            _chunkRows = BinaryPrimitives.ReadInt32LittleEndian(header[24..]);
            string? problem = _p != parameterCount ? $"shard holds {_p} weights per row, the layout has {parameterCount}."
                : _s != singles || _t != texts ? $"shard columns ({_s} numeric, {_t} text) do not match the manifest ({singles}, {texts})."
                : _chunkRows <= 0 ? "invalid chunk size in header." : null;
            if (problem is null && expected is { } id)
            {
                if (version < 2) problem = "a format-1 shard in a format-2 zoo: it does not belong to this manifest.";
                else
                {
                    var actual = new ShardIdentity(BinaryPrimitives.ReadUInt64LittleEndian(header[32..]), BinaryPrimitives.ReadInt32LittleEndian(header[28..]),
                        BinaryPrimitives.ReadInt64LittleEndian(header[40..]));
                    problem = actual.ZooId != id.ZooId ? $"the shard belongs to another zoo (zoo id {actual.ZooId:x16}, this manifest's is {id.ZooId:x16}); it was copied or moved here."
                        : actual.Index != id.Index ? $"the file is shard {actual.Index} of this zoo, but the manifest lists it as shard {id.Index}: shard files were swapped, renamed or re-pointed."
                        : actual.FirstRow != id.FirstRow ? $"the shard starts at row {actual.FirstRow}, but the manifest places it at row {id.FirstRow}: the manifest's row counts were edited."
                        : null;
                }
            }
            if (problem != null) throw new ZooFormatException(path, problem);
        }
        catch
        {
            _stream.Dispose();
            throw;
        }
        _expectedRows = info.Rows;
        _modelIds = info.ModelIds.ToHashSet();
        Texts = Array.Empty<string>();
    }

    /// <summary>Reads and checks a shard's header (either version); the stream is left at the first chunk.</summary>
    internal static byte[] ReadHeader(Stream stream, string path, out int version)
    {
        var header = new byte[ShardFormat.HeaderBytes];
        if (stream.ReadAtLeast(header.AsSpan(0, ShardFormat.V1HeaderBytes), ShardFormat.V1HeaderBytes, throwOnEndOfStream: false) != ShardFormat.V1HeaderBytes
            || !header.AsSpan(0, 8).SequenceEqual(ShardFormat.Magic))
            throw new ZooFormatException(path, "not a zoo shard (bad magic bytes).");
        version = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(8));
        if (version == 1) return header;
        if (version != ShardFormat.Version) throw new ZooFormatException(path, $"shard format version {version}, this library reads 1 and {ShardFormat.Version}.");
        int rest = ShardFormat.HeaderBytes - ShardFormat.V1HeaderBytes;
        if (stream.ReadAtLeast(header.AsSpan(ShardFormat.V1HeaderBytes, rest), rest, throwOnEndOfStream: false) != rest)
            throw new ZooFormatException(path, "the shard header is truncated.");
        if (BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(60)) != XxHash32.HashToUInt32(header.AsSpan(0, 60)))
            throw new ZooFormatException(path, "the shard header is corrupt (checksum mismatch).");
        return header;
    }

    public int Rows { get; private set; }
    public ReadOnlySpan<float> Weights => MemoryMarshal.Cast<byte, float>(_buffer.AsSpan(8, Rows * _p * 4));
    public ReadOnlySpan<int> Ints => MemoryMarshal.Cast<byte, int>(_buffer.AsSpan(8 + Rows * _p * 4, Rows * ShardFormat.IntColumns * 4));
    public ReadOnlySpan<float> Singles => MemoryMarshal.Cast<byte, float>(_buffer.AsSpan(8 + Rows * (_p + ShardFormat.IntColumns) * 4, Rows * _s * 4));
    public string[] Texts { get; private set; }

    /// <summary>Reads the next chunk; false at the end of the shard.</summary>
    public bool ReadChunk(bool decodeText)
    {
        Rows = 0;
        if (_stream.Position == _fileLength)
        {
            if (_rowsRead != _expectedRows) throw new ZooFormatException(_path, $"shard holds {_rowsRead} rows, the manifest says {_expectedRows}.");
            if (_seenModels.Count != _modelIds.Count)
                throw new ZooFormatException(_path, $"the manifest lists model {_modelIds.Except(_seenModels).First()} in this shard, but the shard holds no row of it: the manifest was edited.");
            return false;
        }
        Span<byte> prefix = stackalloc byte[8];
        ReadExactly(prefix);
        int rows = BinaryPrimitives.ReadInt32LittleEndian(prefix);
        int textBytes = BinaryPrimitives.ReadInt32LittleEndian(prefix[4..]);
        if (rows <= 0 || rows > _chunkRows || textBytes < 0)
            throw new ZooFormatException(_path, $"corrupt chunk header at byte {_stream.Position - 8} (rows {rows}, text bytes {textBytes}).");
        long fixedBytes = (long)rows * (_p + ShardFormat.IntColumns + _s) * 4;
        long bodyBytes = 8 + fixedBytes + textBytes;
        if (_stream.Position - 8 + bodyBytes + 8 > _fileLength)
            throw new ZooFormatException(_path, $"corrupt or truncated chunk at byte {_stream.Position - 8}: it claims {bodyBytes} bytes, past the end of the file.");
        if (_buffer.Length < bodyBytes + 8)
        {
            // Pooled: a cursor that walks many shards reuses one buffer, so a scan's memory does not grow with the zoo.
            if (_buffer.Length > 0) System.Buffers.ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = System.Buffers.ArrayPool<byte>.Shared.Rent((int)(bodyBytes + 8));
        }
        prefix.CopyTo(_buffer);
        ReadExactly(_buffer.AsSpan(8, (int)(bodyBytes - 8 + 8)));
        ulong stored = BinaryPrimitives.ReadUInt64LittleEndian(_buffer.AsSpan((int)bodyBytes, 8));
        ulong actual = XxHash3.HashToUInt64(_buffer.AsSpan(0, (int)bodyBytes));
        if (stored != actual)
            throw new ZooFormatException(_path, $"checksum mismatch in the chunk of rows {_rowsRead}..{_rowsRead + rows - 1}: the file is corrupt.");
        Rows = rows;
        var ints = Ints;
        for (int r = 0; r < rows; r++)
        {
            int id = ints[r * ShardFormat.IntColumns];
            if (_seenModels.Add(id) && !_modelIds.Contains(id))
                throw new ZooFormatException(_path, $"row {_rowsRead + r} belongs to model {id}, which the manifest does not list in this shard: the manifest was edited.");
        }
        _rowsRead += rows;
        if (_rowsRead > _expectedRows) throw new ZooFormatException(_path, $"shard holds more rows than the {_expectedRows} the manifest says.");
        if (decodeText && _t > 0) DecodeText(_buffer.AsSpan((int)(8 + fixedBytes), textBytes));
        return true;
    }

    private void DecodeText(ReadOnlySpan<byte> text)
    {
        if (Texts.Length < Rows * _t) Texts = new string[_chunkRows * _t];
        int pos = 0;
        for (int i = 0; i < Rows * _t; i++)
        {
            if (pos + 2 > text.Length) throw new ZooFormatException(_path, "corrupt text block.");
            int len = BinaryPrimitives.ReadUInt16LittleEndian(text[pos..]);
            pos += 2;
            if (pos + len > text.Length) throw new ZooFormatException(_path, "corrupt text block.");
            var s = Encoding.UTF8.GetString(text.Slice(pos, len));
            pos += len;
            if (!_intern.TryGetValue(s, out var interned)) { interned = s; if (_intern.Count < 4096) _intern[s] = s; }
            Texts[i] = interned;
        }
    }

    private void ReadExactly(Span<byte> dst)
    {
        int n = _stream.ReadAtLeast(dst, dst.Length, throwOnEndOfStream: false);
        if (n != dst.Length) throw new ZooFormatException(_path, $"unexpected end of file at byte {_stream.Position}: the shard is truncated.");
    }

    public void Dispose()
    {
        _stream.Dispose();
        if (_buffer.Length > 0) System.Buffers.ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = Array.Empty<byte>();
    }
}
