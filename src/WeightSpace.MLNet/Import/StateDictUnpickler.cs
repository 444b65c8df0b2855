using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace WeightSpace.MLNet;

/// <summary>The values a state_dict pickle holds, as <see cref="StateDictUnpickler"/> builds them.</summary>
internal static class Pickled
{
    /// <summary>A class or function named by the pickle (GLOBAL): "module name".</summary>
    public sealed record Global(string Module, string Name)
    {
        public override string ToString() => $"{Module}.{Name}";
    }

    /// <summary>A dict or OrderedDict, its items in insertion order.</summary>
    public sealed class Dict
    {
        public List<(object? Key, object? Value)> Items { get; } = new();

        public void Set(object? key, object? value)
        {
            int i = Items.FindIndex(kv => Equals(kv.Key, key));
            if (i >= 0) Items[i] = (key, value); else Items.Add((key, value));
        }
    }

    /// <summary>A storage of a torch.save zip: its element type and raw bytes (data/KEY).</summary>
    public sealed record Storage(string Type, byte[] Bytes, long Count);

    /// <summary>A tensor: a view (offset, shape, strides in elements) of a storage.</summary>
    public sealed record Tensor(Storage Storage, long Offset, long[] Shape, long[] Stride)
    {
        public float[] ToFloats(string what)
        {
            long count = Shape.Aggregate(1L, (a, b) => checked(a * b));
            var values = new float[count];
            var index = new long[Shape.Length];
            for (long i = 0; i < count; i++)
            {
                long at = Offset;
                for (int d = 0; d < Shape.Length; d++) at += index[d] * Stride[d];
                if (at < 0 || at >= Storage.Count) throw new InvalidDataException($"{what}: element {i} lies outside its storage of {Storage.Count} values.");
                values[i] = Element(at, what);
                for (int d = Shape.Length - 1; d >= 0; d--)
                {
                    if (++index[d] < Shape[d]) break;
                    index[d] = 0;
                }
            }
            return values;
        }

        private float Element(long at, string what)
        {
            var b = Storage.Bytes.AsSpan();
            int i = checked((int)at);
            return Storage.Type switch
            {
                "FloatStorage" => BinaryPrimitives.ReadSingleLittleEndian(b[(i * 4)..]),
                "DoubleStorage" => (float)BinaryPrimitives.ReadDoubleLittleEndian(b[(i * 8)..]),
                "HalfStorage" => (float)BinaryPrimitives.ReadHalfLittleEndian(b[(i * 2)..]),
                "BFloat16Storage" => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(b[(i * 2)..]) << 16),
                "LongStorage" => BinaryPrimitives.ReadInt64LittleEndian(b[(i * 8)..]),
                "IntStorage" => BinaryPrimitives.ReadInt32LittleEndian(b[(i * 4)..]),
                "ShortStorage" => BinaryPrimitives.ReadInt16LittleEndian(b[(i * 2)..]),
                "CharStorage" => (sbyte)b[i],
                "ByteStorage" or "BoolStorage" => b[i],
                _ => throw new InvalidDataException($"{what}: storage type {Storage.Type} is not supported."),
            };
        }
    }

    public static string Describe(object? value) => value switch
    {
        null => "None",
        string => "string",
        Dict => "dict",
        Tensor => "tensor",
        Global g => $"{g} object",
        object[] => "tuple",
        List<object?> => "list",
        _ => value.GetType().Name,
    };
}

/// <summary>
/// A pickle reader for what <c>torch.save(state_dict)</c> writes (protocols 2–5): dicts and OrderedDicts, tuples, lists,
/// strings, numbers, booleans, None, and tensors rebuilt from the archive's storages by <c>torch._utils._rebuild_tensor_v2</c>
/// (or <c>_rebuild_tensor</c>, <c>_rebuild_parameter</c>). Any other class is refused by name — a pickle of a whole model
/// would run its class's code in Python; here it is an error that says to save the state_dict.
/// </summary>
internal sealed class StateDictUnpickler
{
    private static readonly object Mark = new();
    private readonly byte[] _data;
    private readonly string _path;
    private readonly Func<string, byte[]> _storage;
    private readonly List<object?> _stack = new();
    private readonly Dictionary<long, object?> _memo = new();
    private readonly Dictionary<string, Pickled.Storage> _storages = new();
    private int _pos;

    public StateDictUnpickler(byte[] data, string path, Func<string, byte[]> storage) { _data = data; _path = path; _storage = storage; }

    public object? Load()
    {
        while (true)
        {
            if (_pos >= _data.Length) throw new InvalidDataException($"{_path}: the pickle ends without STOP (truncated).");
            byte op = _data[_pos++];
            switch (op)
            {
                case 0x80: _pos++; break;                                  // PROTO
                case 0x95: _pos += 8; break;                               // FRAME
                case (byte)'.': return Pop();                              // STOP
                case (byte)'(': _stack.Add(Mark); break;                   // MARK
                case (byte)'N': _stack.Add(null); break;
                case 0x88: _stack.Add(true); break;                        // NEWTRUE
                case 0x89: _stack.Add(false); break;                       // NEWFALSE
                case (byte)'K': _stack.Add((long)_data[_pos++]); break;    // BININT1
                case (byte)'M': _stack.Add((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(2))); break;
                case (byte)'J': _stack.Add((long)BinaryPrimitives.ReadInt32LittleEndian(Take(4))); break;
                case 0x8a:                                                 // LONG1
                {
                    int n = _data[_pos++];
                    var v = new BigInteger(Take(n), isUnsigned: false, isBigEndian: false);
                    _stack.Add(v >= long.MinValue && v <= long.MaxValue ? (long)v : throw new InvalidDataException($"{_path}: an integer of {n} bytes is too large."));
                    break;
                }
                case (byte)'G': _stack.Add(BinaryPrimitives.ReadDoubleBigEndian(Take(8))); break; // BINFLOAT
                case (byte)'X': _stack.Add(Utf8(checked((int)BinaryPrimitives.ReadUInt32LittleEndian(Take(4))))); break; // BINUNICODE
                case 0x8c: _stack.Add(Utf8(_data[_pos++])); break;        // SHORT_BINUNICODE
                case 0x8d: _stack.Add(Utf8(checked((int)BinaryPrimitives.ReadUInt64LittleEndian(Take(8))))); break; // BINUNICODE8
                case (byte)'U': _stack.Add(Latin1(_data[_pos++])); break;  // SHORT_BINSTRING
                case (byte)'T': _stack.Add(Latin1(checked((int)BinaryPrimitives.ReadUInt32LittleEndian(Take(4))))); break; // BINSTRING
                case (byte)')': _stack.Add(Array.Empty<object?>()); break; // EMPTY_TUPLE
                case 0x85: _stack.Add(new[] { Pop() }); break;             // TUPLE1
                case 0x86: { var b = Pop(); var a = Pop(); _stack.Add(new[] { a, b }); break; }
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); _stack.Add(new[] { a, b, c }); break; }
                case (byte)'t': _stack.Add(PopToMark().ToArray()); break;  // TUPLE
                case (byte)']': _stack.Add(new List<object?>()); break;    // EMPTY_LIST
                case (byte)'l': _stack.Add(PopToMark()); break;            // LIST
                case (byte)'a': { var v = Pop(); AsList(Peek()).Add(v); break; }
                case (byte)'e': { var items = PopToMark(); AsList(Peek()).AddRange(items); break; }
                case (byte)'}': _stack.Add(new Pickled.Dict()); break;     // EMPTY_DICT
                case (byte)'d':                                            // DICT
                {
                    var items = PopToMark();
                    var d = new Pickled.Dict();
                    for (int i = 0; i + 1 < items.Count; i += 2) d.Set(items[i], items[i + 1]);
                    _stack.Add(d);
                    break;
                }
                case (byte)'s': { var v = Pop(); var k = Pop(); AsDict(Peek()).Set(k, v); break; }
                case (byte)'u':                                            // SETITEMS
                {
                    var items = PopToMark();
                    var d = AsDict(Peek());
                    for (int i = 0; i + 1 < items.Count; i += 2) d.Set(items[i], items[i + 1]);
                    break;
                }
                case (byte)'q': _memo[_data[_pos++]] = Peek(); break;      // BINPUT
                case (byte)'r': _memo[BinaryPrimitives.ReadUInt32LittleEndian(Take(4))] = Peek(); break;
                case 0x94: _memo[_memo.Count] = Peek(); break;             // MEMOIZE
                case (byte)'h': _stack.Add(Memo(_data[_pos++])); break;    // BINGET
                case (byte)'j': _stack.Add(Memo(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))); break;
                case (byte)'0': Pop(); break;                              // POP
                case (byte)'1': PopToMark(); break;                        // POP_MARK
                case (byte)'2': _stack.Add(Peek()); break;                 // DUP
                case (byte)'c':                                            // GLOBAL
                {
                    string module = Line(), name = Line();
                    _stack.Add(new Pickled.Global(module, name));
                    break;
                }
                case 0x93: { var name = Pop() as string; var module = Pop() as string; _stack.Add(new Pickled.Global(module ?? "?", name ?? "?")); break; }
                case (byte)'Q': _stack.Add(PersistentLoad(Pop())); break;  // BINPERSID
                case (byte)'R': { var args = Pop() as object?[]; var f = Pop(); _stack.Add(Reduce(f, args ?? Array.Empty<object?>())); break; }
                case (byte)'b': Pop(); break;                              // BUILD: an OrderedDict's _metadata; nothing a weight needs
                case 0x81:                                                 // NEWOBJ: cls.__new__(cls, *args) — an instance of a class
                case 0x92:                                                 // NEWOBJ_EX
                {
                    if (op == 0x92) Pop();
                    Pop();
                    var cls = Pop();
                    _stack.Add(Reduce(cls, Array.Empty<object?>()));
                    break;
                }
                default:
                    throw new InvalidDataException($"{_path}: pickle opcode 0x{op:x2} at byte {_pos - 1} is not one a state_dict uses; save model.state_dict() with torch.save.");
            }
        }
    }

    private object? Reduce(object? function, object?[] args)
    {
        if (function is not Pickled.Global g) throw new InvalidDataException($"{_path}: the pickle calls a {Pickled.Describe(function)}; not a state_dict.");
        switch (g.Module, g.Name)
        {
            case ("collections", "OrderedDict"):
            case ("builtins", "dict"):
                return new Pickled.Dict();
            case ("torch._utils", "_rebuild_tensor_v2"):
            case ("torch._utils", "_rebuild_tensor"):
            {
                if (args.Length < 4 || args[0] is not Pickled.Storage storage) throw new InvalidDataException($"{_path}: a tensor without its storage.");
                return new Pickled.Tensor(storage, (long)args[1]!, Longs(args[2]), Longs(args[3]));
            }
            case ("torch._utils", "_rebuild_parameter"):
            case ("torch._utils", "_rebuild_parameter_with_state"):
                return args.Length > 0 && args[0] is Pickled.Tensor t ? t : throw new InvalidDataException($"{_path}: a parameter without its tensor.");
            default:
                throw new InvalidDataException($"{_path}: the file holds a pickled {g} object, not a state_dict (a dict of names to tensors). " +
                    "Save the weights with torch.save(model.state_dict(), path); a whole pickled model needs its Python class to load.");
        }
    }

    private Pickled.Storage PersistentLoad(object? pid)
    {
        if (pid is not object?[] { Length: >= 5 } t || t[0] as string != "storage" || t[1] is not Pickled.Global type || t[2] is not string key)
            throw new InvalidDataException($"{_path}: a persistent id that is not a torch storage.");
        if (_storages.TryGetValue(key, out var known)) return known;
        long count = t[4] is long n ? n : throw new InvalidDataException($"{_path}: storage '{key}' has no element count.");
        string typeName = type.Name == "UntypedStorage" || type.Name == "TypedStorage" ? "ByteStorage" : type.Name;
        int size = typeName switch
        {
            "FloatStorage" or "IntStorage" => 4, "DoubleStorage" or "LongStorage" => 8,
            "HalfStorage" or "BFloat16Storage" or "ShortStorage" => 2, "CharStorage" or "ByteStorage" or "BoolStorage" => 1,
            _ => throw new InvalidDataException($"{_path}: storage type {type} is not supported (weights are float32, float64, float16 or bfloat16)."),
        };
        var bytes = _storage(key);
        if (bytes.Length < count * size) throw new InvalidDataException($"{_path}: storage '{key}' has {bytes.Length} bytes for {count} values of {typeName} (truncated).");
        return _storages[key] = new Pickled.Storage(typeName, bytes, count);
    }

    private static long[] Longs(object? tuple) =>
        tuple is object?[] items ? items.Select(i => i is long v ? v : throw new InvalidDataException("a tensor size or stride that is not an integer.")).ToArray()
            : throw new InvalidDataException("a tensor size or stride that is not a tuple.");

    private ReadOnlySpan<byte> Take(int n)
    {
        if (n < 0 || _pos + n > _data.Length) throw new InvalidDataException($"{_path}: the pickle is truncated.");
        var span = _data.AsSpan(_pos, n);
        _pos += n;
        return span;
    }

    private string Utf8(int n) => Encoding.UTF8.GetString(Take(n));
    private string Latin1(int n) => Encoding.Latin1.GetString(Take(n));

    private string Line()
    {
        int end = Array.IndexOf(_data, (byte)'\n', _pos);
        if (end < 0) throw new InvalidDataException($"{_path}: the pickle is truncated.");
        var s = Encoding.ASCII.GetString(_data, _pos, end - _pos);
        _pos = end + 1;
        return s;
    }

    private object? Memo(long key) => _memo.TryGetValue(key, out var v) ? v : throw new InvalidDataException($"{_path}: the pickle refers to memo {key}, which it never stored.");

    private object? Pop()
    {
        if (_stack.Count == 0 || ReferenceEquals(_stack[^1], Mark)) throw new InvalidDataException($"{_path}: the pickle's stack underflows (damaged file).");
        var v = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return v;
    }

    private object? Peek() => _stack.Count > 0 ? _stack[^1] : throw new InvalidDataException($"{_path}: the pickle's stack underflows (damaged file).");

    private List<object?> PopToMark()
    {
        int mark = _stack.FindLastIndex(o => ReferenceEquals(o, Mark));
        if (mark < 0) throw new InvalidDataException($"{_path}: the pickle has no MARK where one is needed (damaged file).");
        var items = _stack.GetRange(mark + 1, _stack.Count - mark - 1);
        _stack.RemoveRange(mark, _stack.Count - mark);
        return items;
    }

    private List<object?> AsList(object? o) => o as List<object?> ?? throw new InvalidDataException($"{_path}: APPEND to a {Pickled.Describe(o)}.");
    private Pickled.Dict AsDict(object? o) => o as Pickled.Dict ?? throw new InvalidDataException($"{_path}: SETITEM on a {Pickled.Describe(o)}.");
}
