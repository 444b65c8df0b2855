using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using System.Text.Json;

namespace WeightSpace.MLNet;

/// <summary>One tensor of a saved <c>state_dict</c>: its key, shape and values as float32, in the file's order.</summary>
/// <param name="Name">The key, e.g. "fc1.weight" or "module_list.0.bias".</param>
/// <param name="Shape">The shape (empty for a scalar).</param>
/// <param name="Values">The values, row-major (C order), converted to float32.</param>
public sealed record NamedTensor(string Name, long[] Shape, float[] Values);

/// <summary>
/// Reads the tensors of a PyTorch <c>state_dict</c> without Python: the zip format <c>torch.save</c> writes since
/// PyTorch 1.6 (a pickle of an OrderedDict whose tensors live in <c>data/N</c> entries) and safetensors (an 8-byte header
/// length, a JSON header, raw little-endian data). The order of a torch file is the state_dict's own (module order);
/// safetensors stores keys sorted, so its tensors come in a module-path order (numeric parts compared as numbers).
/// </summary>
/// <remarks>
/// Why not TorchSharp.PyBridge (served, MIT): its unpickler returns a Hashtable, which loses the state_dict's key order —
/// the layer order a layout is inferred from — it reads a tensor's bytes with one <c>Stream.Read</c> call (a short read
/// leaves zeros), and it needs libtorch to hold the result. A state_dict pickle uses a small set of opcodes; the reader
/// below implements exactly those and refuses anything else by name (a whole pickled model, custom classes).
/// </remarks>
public static class StateDictFile
{
    /// <summary>Reads the tensors of a state_dict file (format recognised from its first bytes).</summary>
    /// <exception cref="InvalidDataException">Not a state_dict, the legacy (pre-1.6) torch format, a whole pickled model,
    /// an unsupported data type, or a damaged file; the message names the file and what to do.</exception>
    public static IReadOnlyList<NamedTensor> Read(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path)) throw new InvalidDataException($"{path}: no such file.");
        var bytes = File.ReadAllBytes(path);
        try
        {
            if (bytes.Length >= 4 && bytes[0] == 0x50 && bytes[1] == 0x4B && bytes[2] == 0x03 && bytes[3] == 0x04) return ReadTorchZip(bytes, path);
            if (bytes.Length >= 2 && bytes[0] == 0x80 && bytes[1] <= 5)
                throw new InvalidDataException($"{path}: a PyTorch file in the legacy format (before 1.6, or saved with _use_new_zipfile_serialization=False); " +
                    "load it in Python and save it again with torch.save(state_dict, path) (a current PyTorch writes the zip format).");
            if (bytes.Length >= 10 && bytes[8] == (byte)'{') return ReadSafetensors(bytes, path);
            throw new InvalidDataException($"{path}: neither a PyTorch state_dict (zip) nor a safetensors file.");
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{path}: the file is damaged or not a state_dict ({e.Message}).", e); // e.g. the zip's own errors
        }
        catch (Exception e) when (e is JsonException or ArgumentException or IndexOutOfRangeException or InvalidCastException or OverflowException
                                      or EndOfStreamException or KeyNotFoundException or InvalidOperationException or IOException or FormatException)
        {
            throw new InvalidDataException($"{path}: the file is damaged or not a state_dict ({e.Message}).", e);
        }
    }

    // ---------- safetensors ----------

    private static IReadOnlyList<NamedTensor> ReadSafetensors(byte[] bytes, string path)
    {
        long headerLength = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        if (headerLength <= 0 || 8 + headerLength > bytes.Length) throw new InvalidDataException($"{path}: safetensors header length {headerLength} does not fit the file ({bytes.Length} bytes).");
        using var json = JsonDocument.Parse(bytes.AsMemory(8, (int)headerLength));
        long dataStart = 8 + headerLength;
        var list = new List<NamedTensor>();
        foreach (var entry in json.RootElement.EnumerateObject())
        {
            if (entry.Name == "__metadata__") continue;
            string dtype = entry.Value.GetProperty("dtype").GetString() ?? "";
            var shape = entry.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
            var offsets = entry.Value.GetProperty("data_offsets").EnumerateArray().Select(d => d.GetInt64()).ToArray();
            if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] < offsets[0] || dataStart + offsets[1] > bytes.Length)
                throw new InvalidDataException($"{path}: tensor '{entry.Name}' has data offsets [{string.Join(", ", offsets)}] outside the file (truncated?).");
            long count = shape.Aggregate(1L, (a, b) => checked(a * b));
            var data = bytes.AsSpan((int)(dataStart + offsets[0]), (int)(offsets[1] - offsets[0]));
            list.Add(new NamedTensor(entry.Name, shape, Convert(data, dtype, count, $"{path}: tensor '{entry.Name}'")));
        }
        return list.OrderBy(t => t.Name, ModulePathComparer.Instance).ToList();
    }

    /// <summary>Orders keys as module paths: dot-separated parts, numeric parts (and numeric suffixes like fc10) by value.</summary>
    internal sealed class ModulePathComparer : IComparer<string>
    {
        public static readonly ModulePathComparer Instance = new();

        public int Compare(string? x, string? y)
        {
            var a = (x ?? "").Split('.');
            var b = (y ?? "").Split('.');
            for (int i = 0; i < Math.Min(a.Length, b.Length); i++)
            {
                int c = ComparePart(a[i], b[i]);
                if (c != 0) return c;
            }
            return a.Length.CompareTo(b.Length);
        }

        private static int ComparePart(string a, string b)
        {
            var (pa, na) = Split(a);
            var (pb, nb) = Split(b);
            int c = string.CompareOrdinal(pa, pb);
            if (c != 0) return c;
            c = na.CompareTo(nb);
            if (c != 0) return c;
            // The parameter itself: weight before bias, as PyTorch registers them.
            return Rank(a).CompareTo(Rank(b)) is var r && r != 0 ? r : string.CompareOrdinal(a, b);
        }

        private static int Rank(string part) => part switch { "weight" => 0, "bias" => 1, _ => 2 };

        private static (string Prefix, long Number) Split(string part)
        {
            int i = part.Length;
            while (i > 0 && char.IsAsciiDigit(part[i - 1])) i--;
            return i < part.Length && part.Length - i <= 18 ? (part[..i], long.Parse(part[i..], System.Globalization.CultureInfo.InvariantCulture)) : (part, -1);
        }
    }

    private static float[] Convert(ReadOnlySpan<byte> data, string dtype, long count, string what)
    {
        int size = dtype switch { "F32" => 4, "F64" => 8, "F16" => 2, "BF16" => 2, _ => 0 };
        if (size == 0) throw new InvalidDataException($"{what} has data type {dtype}; weights must be floating point (F32, F64, F16 or BF16).");
        if (data.Length != count * size) throw new InvalidDataException($"{what} has {data.Length} bytes for {count} values of {dtype}.");
        var values = new float[count];
        for (int i = 0; i < count; i++)
            values[i] = dtype switch
            {
                "F32" => BinaryPrimitives.ReadSingleLittleEndian(data[(i * 4)..]),
                "F64" => (float)BinaryPrimitives.ReadDoubleLittleEndian(data[(i * 8)..]),
                "F16" => (float)BinaryPrimitives.ReadHalfLittleEndian(data[(i * 2)..]),
                _ => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(data[(i * 2)..]) << 16),
            };
        return values;
    }

    // ---------- torch.save zip ----------

    /// <summary>An entry's bytes, checked against the CRC-32 the zip records for it (.NET's ZipArchive does not check it).</summary>
    private static byte[] Verified(ZipArchiveEntry entry, string path)
    {
        using var s = entry.Open();
        using var ms = new MemoryStream();
        s.CopyTo(ms);
        var bytes = ms.ToArray();
        if (bytes.Length != entry.Length || System.IO.Hashing.Crc32.HashToUInt32(bytes) != entry.Crc32)
            throw new InvalidDataException($"{path}: '{entry.FullName}' does not match its CRC-32 (or length); the file is damaged.");
        return bytes;
    }

    private static IReadOnlyList<NamedTensor> ReadTorchZip(byte[] bytes, string path)
    {
        using var zip = new ZipArchive(new MemoryStream(bytes), ZipArchiveMode.Read);
        var pkl = zip.Entries.FirstOrDefault(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal) || e.FullName == "data.pkl")
            ?? throw new InvalidDataException($"{path}: a zip without data.pkl; not a file torch.save wrote.");
        string prefix = pkl.FullName[..^"data.pkl".Length];
        byte[] ReadEntry(string name) =>
            Verified(zip.GetEntry(prefix + "data/" + name) ?? throw new InvalidDataException($"{path}: storage '{name}' is missing from the archive."), path);
        var root = new StateDictUnpickler(Verified(pkl, path), path, ReadEntry).Load();
        if (root is not Pickled.Dict dict)
            throw new InvalidDataException($"{path}: the pickle holds a {Pickled.Describe(root)}, not a state_dict (a mapping of names to tensors); save model.state_dict().");
        var list = new List<NamedTensor>();
        foreach (var (key, value) in dict.Items)
        {
            if (key is not string name) throw new InvalidDataException($"{path}: a state_dict key is a {Pickled.Describe(key)}, not a name.");
            if (value is not Pickled.Tensor t)
                throw new InvalidDataException($"{path}: '{name}' is a {Pickled.Describe(value)}, not a tensor; save model.state_dict() (a dict of tensors only).");
            list.Add(new NamedTensor(name, t.Shape, t.ToFloats($"{path}: tensor '{name}'")));
        }
        return list;
    }
}
