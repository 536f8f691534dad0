using System.Buffers.Binary;
using System.Collections;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.Json;

namespace AutoSpIR.Runtime;

/// <summary>A malformed safetensors file, or one that does not hold what the program expects.</summary>
public sealed class SafetensorsException(string path, string message) : Exception($"{path}: {message}")
{
    /// <summary>The file, as the caller named it.</summary>
    public string Path { get; } = path;
    /// <summary>What is wrong, without the file name.</summary>
    public string Problem { get; } = message;
}

/// <summary>One tensor of a safetensors file: its dtype name (F32, BF16, ...), shape and raw little-endian bytes.</summary>
public readonly record struct SafetensorsTensor(string Dtype, long[] Shape, byte[] Data);

/// <summary>
/// The Hugging Face safetensors format: an 8-byte little-endian header length N, N bytes of
/// JSON (<c>{"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, "__metadata__": {"k": "v"}}</c>,
/// padded with spaces), then the data; offsets are relative to the first byte after the header,
/// tensors are row-major little-endian. Reading validates as the reference implementation does
/// (the tensors' byte ranges must tile the data exactly, without gaps or overlaps); anything
/// malformed is a <see cref="SafetensorsException"/> naming the file and the problem.
/// <para>Dtypes: F64, F32, BF16, F16, I64, I32, I8 and BOOL, which map to f64, f32, bf16, f16,
/// i64 (and index), i32, i8 and i1.</para>
/// </summary>
public sealed class SafetensorsFile : IReadOnlyDictionary<string, SafetensorsTensor>
{
    private readonly Dictionary<string, SafetensorsTensor> _tensors;

    private SafetensorsFile(string path, Dictionary<string, SafetensorsTensor> tensors, Dictionary<string, string> metadata)
    {
        Path = path;
        _tensors = tensors;
        Metadata = metadata;
    }

    /// <summary>The file as it was named when read.</summary>
    public string Path { get; }

    /// <summary>The <c>__metadata__</c> entries (empty when there are none).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    // ------------------------------------------------------------------ dtypes

    /// <summary>Bytes per element of a dtype name, or 0 when the name is not supported.</summary>
    public static int DtypeSize(string dtype) => dtype switch
    {
        "F64" or "I64" => 8,
        "F32" or "I32" => 4,
        "BF16" or "F16" => 2,
        "I8" or "BOOL" => 1,
        _ => 0,
    };

    /// <summary>The dtype that stores an element type.</summary>
    public static string DtypeOf(ScalarType t) => t.Kind switch
    {
        ScalarKind.F64 => "F64",
        ScalarKind.F32 => "F32",
        ScalarKind.BF16 => "BF16",
        ScalarKind.F16 => "F16",
        ScalarKind.I64 or ScalarKind.Index => "I64",
        ScalarKind.I32 => "I32",
        ScalarKind.I8 => "I8",
        ScalarKind.I1 => "BOOL",
        _ => throw new ArgumentException($"no safetensors dtype for {t}"),
    };

    // ------------------------------------------------------------------ reading

    /// <summary>Reads and validates a whole file.</summary>
    public static SafetensorsFile Read(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new SafetensorsException(path, $"cannot read the file: {e.Message}");
        }
        return Parse(bytes, path);
    }

    /// <summary>Parses the bytes of a file; <paramref name="path"/> names it in errors.</summary>
    public static SafetensorsFile Parse(byte[] bytes, string path)
    {
        SafetensorsException Bad(string what) => new(path, what);
        if (bytes.Length < 8)
            throw Bad($"the file is {bytes.Length} bytes long, too short for the 8-byte header length (truncated file?)");
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (n > (ulong)(bytes.Length - 8))
            throw Bad($"the header length is {n} bytes, but only {bytes.Length - 8} bytes follow it (truncated file or not a safetensors file)");
        int headerLen = (int)n;
        int dataStart = 8 + headerLen;
        long dataLen = bytes.Length - dataStart;

        JsonDocument doc;
        try
        {
            var text = new UTF8Encoding(false, true).GetString(bytes, 8, headerLen);
            doc = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (Exception e) when (e is JsonException or DecoderFallbackException or ArgumentException)
        {
            throw Bad($"the header is not valid JSON: {e.Message}");
        }
        using var _ = doc;
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
            throw Bad($"the header must be a JSON object, but is {Kind(doc.RootElement)}");

        var tensors = new Dictionary<string, SafetensorsTensor>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var ranges = new List<(long Begin, long End, string Name)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var prop in doc.RootElement.EnumerateObject())
        {
            if (!seen.Add(prop.Name)) throw Bad($"the header names '{prop.Name}' twice");
            if (prop.Name == "__metadata__")
            {
                if (prop.Value.ValueKind != JsonValueKind.Object)
                    throw Bad($"'__metadata__' must be an object of strings, but is {Kind(prop.Value)}");
                foreach (var m in prop.Value.EnumerateObject())
                {
                    if (m.Value.ValueKind != JsonValueKind.String)
                        throw Bad($"'__metadata__' entry '{m.Name}' must be a string, but is {Kind(m.Value)}");
                    metadata[m.Name] = m.Value.GetString()!;
                }
                continue;
            }
            var (dtype, shape, begin, end) = Entry(prop, Bad);
            if (begin > end) throw Bad($"tensor '{prop.Name}' has data_offsets [{begin}, {end}]: the end is before the begin");
            if (end > dataLen)
                throw Bad($"tensor '{prop.Name}' has data_offsets [{begin}, {end}], beyond the {dataLen} data bytes after the header (truncated file?)");
            long count;
            try
            {
                count = 1;
                foreach (var d in shape) count = checked(count * d);
                count = checked(count * DtypeSize(dtype));
            }
            catch (OverflowException)
            {
                throw Bad($"tensor '{prop.Name}' has shape {ShapeText(shape)}, too large to address");
            }
            if (end - begin != count)
                throw Bad($"tensor '{prop.Name}' has {end - begin} bytes of data (data_offsets [{begin}, {end}]), but shape {ShapeText(shape)} of {dtype} needs {count}");
            ranges.Add((begin, end, prop.Name));
            tensors[prop.Name] = new SafetensorsTensor(dtype, shape, bytes.AsSpan(dataStart + (int)begin, (int)(end - begin)).ToArray());
        }

        // The byte ranges must tile [0, dataLen) exactly, as the reference implementation requires.
        ranges.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        long expectBegin = 0;
        string? prev = null;
        foreach (var (begin, end, name) in ranges)
        {
            if (begin < expectBegin)
                throw Bad($"tensor '{name}' (bytes {begin}..{end}) overlaps tensor '{prev}' (which ends at {expectBegin})");
            if (begin > expectBegin)
                throw Bad($"the data has a gap: bytes {expectBegin}..{begin} belong to no tensor (before '{name}')");
            expectBegin = end;
            prev = name;
        }
        if (expectBegin != dataLen)
            throw Bad($"the tensors cover {expectBegin} data bytes, but {dataLen} follow the header (trailing bytes or a wrong header)");
        return new SafetensorsFile(path, tensors, metadata);
    }

    private static (string Dtype, long[] Shape, long Begin, long End) Entry(JsonProperty prop, Func<string, SafetensorsException> bad)
    {
        string name = prop.Name;
        var e = prop.Value;
        if (e.ValueKind != JsonValueKind.Object) throw bad($"tensor '{name}' must be described by an object, but is {Kind(e)}");
        string? dtype = null;
        long[]? shape = null, offsets = null;
        foreach (var f in e.EnumerateObject())
        {
            switch (f.Name)
            {
                case "dtype":
                    if (f.Value.ValueKind != JsonValueKind.String) throw bad($"tensor '{name}': 'dtype' must be a string, but is {Kind(f.Value)}");
                    dtype = f.Value.GetString()!;
                    break;
                case "shape":
                    shape = Longs(f.Value, name, "shape", bad);
                    break;
                case "data_offsets":
                    offsets = Longs(f.Value, name, "data_offsets", bad);
                    break;
                default:
                    throw bad($"tensor '{name}' has an unknown field '{f.Name}' (expected dtype, shape, data_offsets)");
            }
        }
        if (dtype is null) throw bad($"tensor '{name}' has no 'dtype'");
        if (shape is null) throw bad($"tensor '{name}' has no 'shape'");
        if (offsets is null) throw bad($"tensor '{name}' has no 'data_offsets'");
        if (DtypeSize(dtype) == 0)
            throw bad($"tensor '{name}' has the unknown or unsupported dtype '{dtype}' (supported: F64, F32, BF16, F16, I64, I32, I8, BOOL)");
        if (offsets.Length != 2) throw bad($"tensor '{name}': 'data_offsets' must hold 2 numbers [begin, end], but holds {offsets.Length}");
        return (dtype, shape, offsets[0], offsets[1]);
    }

    private static long[] Longs(JsonElement a, string name, string field, Func<string, SafetensorsException> bad)
    {
        if (a.ValueKind != JsonValueKind.Array) throw bad($"tensor '{name}': '{field}' must be an array of integers, but is {Kind(a)}");
        var r = new long[a.GetArrayLength()];
        int i = 0;
        foreach (var x in a.EnumerateArray())
        {
            if (x.ValueKind != JsonValueKind.Number || !x.TryGetInt64(out r[i]) || r[i] < 0)
                throw bad($"tensor '{name}': '{field}' entry #{i} must be an integer >= 0, but is {x.GetRawText()}");
            i++;
        }
        return r;
    }

    private static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => e.ValueKind.ToString(),
    };

    private static string ShapeText(ReadOnlySpan<long> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";

    // ------------------------------------------------------------------ conversion

    /// <summary>
    /// Tensor <paramref name="name"/> as a host tensor of <paramref name="type"/>; a
    /// <see cref="SafetensorsException"/> when it is missing or its dtype or shape differ.
    /// </summary>
    public HostTensor Load(string name, TensorType type)
    {
        if (!_tensors.TryGetValue(name, out var t))
        {
            var names = _tensors.Keys.Order(StringComparer.Ordinal).Take(10).ToList();
            throw new SafetensorsException(Path, $"has no tensor '{name}' (it holds {(_tensors.Count == 0 ? "none" : string.Join(", ", names.Select(x => $"'{x}'")) + (_tensors.Count > 10 ? ", ..." : ""))})");
        }
        return ToHostTensor(t, type, name, Path);
    }

    /// <summary>Converts one stored tensor to <paramref name="type"/>, checking its dtype and shape.</summary>
    public static HostTensor ToHostTensor(SafetensorsTensor t, TensorType type, string name, string path)
    {
        if (!type.IsStatic) throw new ArgumentException($"cannot load into the dynamic type {type}");
        string want = DtypeOf(type.Element);
        if (t.Dtype != want)
            throw new SafetensorsException(path, $"tensor '{name}' in {path} has dtype {t.Dtype}, but the program expects {type.Element} ({want})");
        if (!t.Shape.AsSpan().SequenceEqual(type.Shape))
            throw new SafetensorsException(path, $"tensor '{name}' in {path} has shape {ShapeText(t.Shape)}, but the program expects {ShapeText(type.Shape)}");
        long n = type.NumElements;
        if (t.Data.LongLength != n * DtypeSize(t.Dtype))
            throw new SafetensorsException(path, $"tensor '{name}' in {path} has {t.Data.LongLength} bytes, but {type} needs {n * DtypeSize(t.Dtype)}");
        var r = new HostTensor(type);
        var d = t.Data.AsSpan();
        switch (t.Dtype)
        {
            case "F64":
                for (int i = 0; i < n; i++) r.F64![i] = BinaryPrimitives.ReadDoubleLittleEndian(d[(8 * i)..]);
                break;
            case "F32":
                for (int i = 0; i < n; i++) r.F32![i] = BinaryPrimitives.ReadSingleLittleEndian(d[(4 * i)..]);
                break;
            case "BF16":
                for (int i = 0; i < n; i++) r.F32![i] = BitConverter.UInt32BitsToSingle((uint)BinaryPrimitives.ReadUInt16LittleEndian(d[(2 * i)..]) << 16);
                break;
            case "F16":
                for (int i = 0; i < n; i++) r.F32![i] = (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(d[(2 * i)..]));
                break;
            case "I64":
                for (int i = 0; i < n; i++) r.Ints![i] = BinaryPrimitives.ReadInt64LittleEndian(d[(8 * i)..]);
                break;
            case "I32":
                for (int i = 0; i < n; i++) r.Ints![i] = BinaryPrimitives.ReadInt32LittleEndian(d[(4 * i)..]);
                break;
            case "I8":
                for (int i = 0; i < n; i++) r.Ints![i] = (sbyte)d[i];
                break;
            case "BOOL":
                for (int i = 0; i < n; i++)
                {
                    if (d[i] > 1) throw new SafetensorsException(path, $"tensor '{name}' in {path} holds the byte {d[i]} at element {i}, which is not a BOOL (0 or 1)");
                    r.Ints![i] = d[i];
                }
                break;
        }
        return r;
    }

    /// <summary>The little-endian bytes of a host tensor in its element type's dtype (bf16/f16 rounded to the type).</summary>
    public static byte[] ToBytes(HostTensor t)
    {
        var kind = t.Type.Element.Kind;
        string dtype = DtypeOf(t.Type.Element);
        long n = t.Count;
        var bytes = new byte[n * DtypeSize(dtype)];
        var d = bytes.AsSpan();
        for (int i = 0; i < n; i++)
        {
            switch (kind)
            {
                case ScalarKind.F64: BinaryPrimitives.WriteDoubleLittleEndian(d[(8 * i)..], t.F64![i]); break;
                case ScalarKind.F32: BinaryPrimitives.WriteSingleLittleEndian(d[(4 * i)..], t.F32![i]); break;
                case ScalarKind.BF16:
                    BinaryPrimitives.WriteUInt16LittleEndian(d[(2 * i)..], (ushort)(BitConverter.SingleToUInt32Bits(Numerics.RoundFloat(t.F32![i], kind)) >> 16));
                    break;
                case ScalarKind.F16: BinaryPrimitives.WriteUInt16LittleEndian(d[(2 * i)..], BitConverter.HalfToUInt16Bits((Half)t.F32![i])); break;
                case ScalarKind.I64 or ScalarKind.Index: BinaryPrimitives.WriteInt64LittleEndian(d[(8 * i)..], t.Ints![i]); break;
                case ScalarKind.I32: BinaryPrimitives.WriteInt32LittleEndian(d[(4 * i)..], (int)InRange(t, i, int.MinValue, int.MaxValue)); break;
                case ScalarKind.I8: d[i] = (byte)(sbyte)InRange(t, i, sbyte.MinValue, sbyte.MaxValue); break;
                case ScalarKind.I1: d[i] = t.Ints![i] != 0 ? (byte)1 : (byte)0; break;
            }
        }
        return bytes;
    }

    private static long InRange(HostTensor t, int i, long min, long max)
    {
        long v = t.Ints![i];
        if (v < min || v > max) throw new ArgumentException($"element {i} of a {t.Type} tensor is {v}, outside the range of {t.Type.Element}");
        return v;
    }

    // ------------------------------------------------------------------ writing

    /// <summary>
    /// Writes tensors (dtype from each element type) to <paramref name="path"/> atomically: a
    /// temporary file in the same folder, flushed, then renamed over the target. Tensors are laid
    /// out in ordinal name order; the JSON header is padded with spaces to a multiple of 8 bytes.
    /// </summary>
    public static void Write(string path, IEnumerable<(string Name, HostTensor T)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, t) in list)
        {
            if (name is null || t is null) throw new ArgumentException("a tensor or its name is null");
            if (name == "__metadata__") throw new ArgumentException("'__metadata__' is reserved and cannot name a tensor");
            if (!names.Add(name)) throw new ArgumentException($"two tensors are named '{name}'");
        }
        list.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        var data = list.Select(x => ToBytes(x.T)).ToList();

        var json = new MemoryStream();
        using (var w = new Utf8JsonWriter(json, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject("__metadata__");
                foreach (var kv in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) w.WriteString(kv.Key, kv.Value);
                w.WriteEndObject();
            }
            long offset = 0;
            for (int i = 0; i < list.Count; i++)
            {
                w.WriteStartObject(list[i].Name);
                w.WriteString("dtype", DtypeOf(list[i].T.Type.Element));
                w.WriteStartArray("shape");
                foreach (var d in list[i].T.Type.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + data[i].LongLength);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += data[i].LongLength;
            }
            w.WriteEndObject();
        }
        var header = json.ToArray();
        int pad = (8 - header.Length % 8) % 8;

        var full = System.IO.Path.GetFullPath(path);
        var dir = System.IO.Path.GetDirectoryName(full)!;
        var temp = System.IO.Path.Combine(dir, $".{System.IO.Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var f = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
            {
                Span<byte> len = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)(header.Length + pad));
                f.Write(len);
                f.Write(header);
                for (int i = 0; i < pad; i++) f.WriteByte((byte)' ');
                foreach (var d in data) f.Write(d);
                f.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { }
            throw;
        }
    }

    // ------------------------------------------------------------------ dictionary

    public SafetensorsTensor this[string key] => _tensors[key];
    public IEnumerable<string> Keys => _tensors.Keys;
    public IEnumerable<SafetensorsTensor> Values => _tensors.Values;
    public int Count => _tensors.Count;
    public bool ContainsKey(string key) => _tensors.ContainsKey(key);
    public bool TryGetValue(string key, [MaybeNullWhen(false)] out SafetensorsTensor value) => _tensors.TryGetValue(key, out value);
    public IEnumerator<KeyValuePair<string, SafetensorsTensor>> GetEnumerator() => _tensors.GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
