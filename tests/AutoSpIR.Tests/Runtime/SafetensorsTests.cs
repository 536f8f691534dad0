using System.Buffers.Binary;
using System.Text;
using AutoSpIR.Runtime;

namespace AutoSpIR.Tests.Runtime;

/// <summary>The safetensors reader and writer: round trips, the exact layout, and every kind of malformed file.</summary>
public sealed class SafetensorsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("autospir-st-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    public static TheoryData<string, string> Dtypes() => new()
    {
        { "f64", "F64" }, { "f32", "F32" }, { "bf16", "BF16" }, { "f16", "F16" },
        { "i64", "I64" }, { "i32", "I32" }, { "i8", "I8" }, { "i1", "BOOL" },
    };

    [Theory]
    [MemberData(nameof(Dtypes))]
    public void RoundTripEveryDtype(string elem, string dtype)
    {
        var t = elem == "i1" ? RT.Random($"2x3x{elem}", 5, 0, 2) : RT.Random($"2x3x{elem}", 5, -100, 100);
        var scalar = RT.Random(elem, 6, 0, 1);
        var empty = RT.Of($"0x4x{elem}");
        var path = PathOf($"rt-{elem}.safetensors");
        SafetensorsFile.Write(path, new[] { ("w", t), ("a.scalar", scalar), ("empty", empty) });
        var f = SafetensorsFile.Read(path);
        Assert.Equal(3, f.Count);
        Assert.Equal(dtype, f["w"].Dtype);
        Assert.Equal(new long[] { 2, 3 }, f["w"].Shape);
        var back = f.Load("w", t.Type);
        Assert.Equal(t.ToDoubles(), back.ToDoubles());
        Assert.Equal(scalar.ToDoubles(), f.Load("a.scalar", scalar.Type).ToDoubles());
        Assert.Empty(f.Load("empty", empty.Type).ToDoubles());
    }

    [Fact]
    public void ExactBytesOfASmallFile()
    {
        var path = PathOf("exact.safetensors");
        SafetensorsFile.Write(path, new[] { ("b", RT.Of("2xbf16", 1, -2)), ("a", RT.Of("1xi32", 7)) },
            new Dictionary<string, string> { ["format"] = "pt" });
        var bytes = File.ReadAllBytes(path);
        long n = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        Assert.Equal(0, n % 8);
        var header = Encoding.UTF8.GetString(bytes, 8, (int)n);
        // Names sorted, compact JSON, padded with spaces; a (4 bytes) then b (4 bytes).
        Assert.Equal("{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[4,8]}}",
            header.TrimEnd(' '));
        Assert.Equal(8 + n + 8, bytes.Length);
        Assert.Equal(new byte[] { 7, 0, 0, 0, 0x80, 0x3F, 0x00, 0xC0 }, bytes[(int)(8 + n)..]);
        Assert.Equal("pt", SafetensorsFile.Read(path).Metadata["format"]);
        Assert.Single(Directory.GetFiles(_dir));   // no temporary file left behind
    }

    [Fact]
    public void WriteReplacesAnExistingFileAtomically()
    {
        var path = PathOf("replace.safetensors");
        File.WriteAllText(path, "old contents");
        SafetensorsFile.Write(path, new[] { ("x", RT.Of("2xf32", 1, 2)) });
        Assert.Equal(new[] { 1.0, 2 }, SafetensorsFile.Read(path).Load("x", RT.T("2xf32")).ToDoubles());
        Assert.Single(Directory.GetFiles(_dir));
        Assert.Throws<ArgumentException>(() => SafetensorsFile.Write(path, new[] { ("x", RT.Of("1xf32", 1)), ("x", RT.Of("1xf32", 2)) }));
        Assert.Equal(new[] { 1.0, 2 }, SafetensorsFile.Read(path).Load("x", RT.T("2xf32")).ToDoubles());
    }

    [Fact]
    public void ConversionErrorsSayWhatDiffers()
    {
        var path = PathOf("W.safetensors");
        SafetensorsFile.Write(path, new[] { ("x", RT.Random("2x3xf32", 1)) });
        var f = SafetensorsFile.Read(path);
        var e1 = Assert.Throws<SafetensorsException>(() => f.Load("x", RT.T("3x2xf32")));
        Assert.Equal($"tensor 'x' in {path} has shape [2, 3], but the program expects [3, 2]", e1.Problem);
        var e2 = Assert.Throws<SafetensorsException>(() => f.Load("x", RT.T("2x3xbf16")));
        Assert.Equal($"tensor 'x' in {path} has dtype F32, but the program expects bf16 (BF16)", e2.Problem);
        var e3 = Assert.Throws<SafetensorsException>(() => f.Load("y", RT.T("2x3xf32")));
        Assert.Equal("has no tensor 'y' (it holds 'x')", e3.Problem);
        Assert.StartsWith(path + ": ", e3.Message);
    }

    // ------------------------------------------------------------------ malformed files

    private static byte[] Make(string header, int dataBytes, bool pad = true)
    {
        var h = Encoding.UTF8.GetBytes(header);
        int padded = pad ? (h.Length + 7) / 8 * 8 : h.Length;
        var bytes = new byte[8 + padded + dataBytes];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, padded);
        h.CopyTo(bytes, 8);
        for (int i = h.Length; i < padded; i++) bytes[8 + i] = (byte)' ';
        return bytes;
    }

    private const string Good = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[8,16]}}";

    public static TheoryData<string, string> Malformed() => new()
    {
        { "too-short", "too short for the 8-byte header length" },
        { "header-beyond-file", "but only 20 bytes follow it" },
        { "bad-json", "the header is not valid JSON" },
        { "bad-utf8", "the header is not valid JSON" },
        { "not-an-object", "the header must be a JSON object, but is an array" },
        { "offsets-out-of-range", "beyond the 16 data bytes after the header" },
        { "overlap", "overlaps tensor 'a'" },
        { "gap", "the data has a gap: bytes 8..12 belong to no tensor" },
        { "trailing", "the tensors cover 16 data bytes, but 24 follow the header" },
        { "unknown-dtype", "tensor 'a' has the unknown or unsupported dtype 'F8_E4M3'" },
        { "size-mismatch", "tensor 'a' has 8 bytes of data (data_offsets [0, 8]), but shape [3] of F32 needs 12" },
        { "truncated", "beyond the 12 data bytes after the header (truncated file?)" },
        { "negative-shape", "'shape' entry #0 must be an integer >= 0, but is -2" },
        { "end-before-begin", "the end is before the begin" },
        { "missing-field", "tensor 'a' has no 'data_offsets'" },
        { "duplicate-name", "the header names 'a' twice" },
        { "bad-metadata", "'__metadata__' entry 'n' must be a string, but is a number" },
        { "three-offsets", "'data_offsets' must hold 2 numbers [begin, end], but holds 3" },
        { "huge-shape", "too large to address" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void MalformedInputIsASafetensorsException(string kind, string expected)
    {
        byte[] bytes = kind switch
        {
            "too-short" => new byte[] { 1, 2, 3 },
            "header-beyond-file" => BitConverter.GetBytes(1000L).Concat(new byte[20]).ToArray(),
            "bad-json" => Make("{\"a\": {\"dtype\": \"F32\",", 0),
            "bad-utf8" => Make("{\"\u00e9\":1}", 0).Select(b => b == 0xC3 ? (byte)0xFF : b).ToArray(),
            "not-an-object" => Make("[1, 2]", 0),
            "offsets-out-of-range" => Make(Good.Replace("[8,16]", "[8,24]"), 16),
            "overlap" => Make(Good.Replace("[8,16]", "[4,12]"), 16),
            "gap" => Make("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}}", 16),
            "trailing" => Make(Good, 24),
            "unknown-dtype" => Make(Good.Replace("\"F32\"", "\"F8_E4M3\""), 16),
            "size-mismatch" => Make(Good.Replace("[2]", "[3]"), 16),
            "truncated" => Make(Good, 16)[..^4],
            "negative-shape" => Make(Good.Replace("[2]", "[-2]"), 16),
            "end-before-begin" => Make(Good.Replace("[8,16]", "[16,8]"), 16),
            "missing-field" => Make(Good.Replace(",\"data_offsets\":[0,8]", ""), 16),
            "duplicate-name" => Make(Good.Replace("\"b\":", "\"a\":"), 16),
            "bad-metadata" => Make("{\"__metadata__\":{\"n\":1}}", 0),
            "three-offsets" => Make(Good.Replace("[0,8]", "[0,4,8]"), 16),
            "huge-shape" => Make(Good.Replace("[2]", "[4611686018427387904, 4]"), 16),
            _ => throw new ArgumentException(kind),
        };
        var path = PathOf(kind + ".safetensors");
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<SafetensorsException>(() => SafetensorsFile.Read(path));
        Assert.StartsWith(path + ": ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void GoodHeaderOfTheMalformedCasesReads()
    {
        var path = PathOf("good.safetensors");
        var bytes = Make(Good, 16);
        BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(bytes.Length - 16), 1.5f);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(bytes.Length - 8), -3);
        File.WriteAllBytes(path, bytes);
        var f = SafetensorsFile.Read(path);
        Assert.Equal(new[] { 1.5, 0 }, f.Load("a", RT.T("2xf32")).ToDoubles());
        Assert.Equal(new long[] { -3 }, f.Load("b", RT.T("1xi64")).Ints);
        // An unpadded header is accepted too (the reference writer pads; readers do not require it).
        File.WriteAllBytes(path, Make(Good, 16, pad: false));
        Assert.Equal(2, SafetensorsFile.Read(path).Count);
    }

    [Fact]
    public void MissingFileIsASafetensorsException()
    {
        var path = PathOf("none.safetensors");
        var e = Assert.Throws<SafetensorsException>(() => SafetensorsFile.Read(path));
        Assert.Contains("cannot read the file", e.Message);
    }
}
