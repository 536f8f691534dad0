using System.Globalization;
using System.Text;

namespace AutoSpIR.IR;

/// <summary>
/// An IR attribute: an immutable compile-time value. Attributes have value
/// equality and are interned by <see cref="Context"/>; create them through it.
/// </summary>
public abstract class Attribute : IEquatable<Attribute>
{
    public abstract void Print(StringBuilder sb);

    public override string ToString()
    {
        var sb = new StringBuilder();
        Print(sb);
        return sb.ToString();
    }

    public abstract bool Equals(Attribute? other);
    public sealed override bool Equals(object? obj) => obj is Attribute a && Equals(a);
    public abstract override int GetHashCode();

    /// <summary>Formats a double so that parsing the text gives the same value back.</summary>
    public static string FormatFloat(double v, ScalarType? type = null)
    {
        if (double.IsNaN(v)) return "nan";
        if (double.IsPositiveInfinity(v)) return "inf";
        if (double.IsNegativeInfinity(v)) return "-inf";
        string s = type is { Kind: ScalarKind.F32 or ScalarKind.BF16 or ScalarKind.F16 }
            ? ((float)v).ToString("R", CultureInfo.InvariantCulture)
            : v.ToString("R", CultureInfo.InvariantCulture);
        s = s.Replace('E', 'e');
        int e = s.IndexOf('e');
        if (e < 0) return s.Contains('.') ? s : s + ".0";
        var mantissa = s[..e];
        if (!mantissa.Contains('.')) mantissa += ".0";
        return mantissa + s[e..];
    }
}

/// <summary><c>42</c>, <c>42 : i32</c>. The type defaults to i64 and is then not printed.</summary>
public sealed class IntegerAttr : Attribute
{
    internal IntegerAttr(long value, ScalarType type) { Value = value; Type = type; }
    public long Value { get; }
    public ScalarType Type { get; }

    public override void Print(StringBuilder sb)
    {
        sb.Append(Value.ToString(CultureInfo.InvariantCulture));
        if (Type.Kind != ScalarKind.I64) sb.Append(" : ").Append(Type.Name);
    }
    public override bool Equals(Attribute? o) => o is IntegerAttr i && i.Value == Value && i.Type == Type;
    public override int GetHashCode() => HashCode.Combine(1, Value, Type);
}

/// <summary><c>1.0e-05</c>, <c>0.5 : f32</c>. The type defaults to f64 and is then not printed.</summary>
public sealed class FloatAttr : Attribute
{
    internal FloatAttr(double value, ScalarType type) { Value = value; Type = type; }
    public double Value { get; }
    public ScalarType Type { get; }

    public override void Print(StringBuilder sb)
    {
        sb.Append(FormatFloat(Value, Type));
        if (Type.Kind != ScalarKind.F64) sb.Append(" : ").Append(Type.Name);
    }
    // Bit patterns, not ==: 0.0 and -0.0 are different constants (1/x tells them apart).
    public override bool Equals(Attribute? o) =>
        o is FloatAttr f && BitConverter.DoubleToInt64Bits(f.Value) == BitConverter.DoubleToInt64Bits(Value) && f.Type == Type;
    public override int GetHashCode() => HashCode.Combine(2, BitConverter.DoubleToInt64Bits(Value), Type);
}

/// <summary><c>"text"</c>.</summary>
public sealed class StringAttr : Attribute
{
    internal StringAttr(string value) { Value = value; }
    public string Value { get; }

    public override void Print(StringBuilder sb) => PrintQuoted(sb, Value);
    public override bool Equals(Attribute? o) => o is StringAttr s && s.Value == Value;
    public override int GetHashCode() => HashCode.Combine(3, Value);

    /// <summary>
    /// Reads the text between the quotes of a string literal (the inverse of
    /// <see cref="PrintQuoted"/>): escapes \" \\ \n \t and \XX (two hex digits). Returns the
    /// string, or null with the offending escape in <paramref name="error"/> (the caller says where).
    /// </summary>
    public static string? Unescape(ReadOnlySpan<char> body, out string? error)
    {
        error = null;
        if (body.IndexOf('\\') < 0) return body.ToString();
        var sb = new StringBuilder(body.Length);
        for (int i = 0; i < body.Length; i++)
        {
            char c = body[i];
            if (c != '\\') { sb.Append(c); continue; }
            if (i + 1 >= body.Length) { error = "a lone '\\' at the end"; return null; }
            char e = body[++i];
            switch (e)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case '"': sb.Append('"'); break;
                case '\\': sb.Append('\\'); break;
                default:
                    if (i + 1 < body.Length && Uri.IsHexDigit(e) && Uri.IsHexDigit(body[i + 1]))
                    {
                        sb.Append((char)Convert.ToInt32(body.Slice(i, 2).ToString(), 16));
                        i++;
                    }
                    else
                    {
                        error = $"unknown escape '\\{e}'";
                        return null;
                    }
                    break;
            }
        }
        return sb.ToString();
    }

    /// <summary>Writes a string literal with \" \\ \n \t and \XX (hex) escapes.</summary>
    public static void PrintQuoted(StringBuilder sb, string value)
    {
        sb.Append('"');
        foreach (var c in value)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c < 0x20 || c == 0x7f) sb.Append('\\').Append(((int)c).ToString("X2"));
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }
}

/// <summary><c>true</c> / <c>false</c>.</summary>
public sealed class BoolAttr : Attribute
{
    internal BoolAttr(bool value) { Value = value; }
    public bool Value { get; }
    public override void Print(StringBuilder sb) => sb.Append(Value ? "true" : "false");
    public override bool Equals(Attribute? o) => o is BoolAttr b && b.Value == Value;
    public override int GetHashCode() => HashCode.Combine(4, Value);
}

/// <summary>A flag: present or absent. In a dictionary it prints as the key alone.</summary>
public sealed class UnitAttr : Attribute
{
    internal UnitAttr() { }
    public override void Print(StringBuilder sb) => sb.Append("unit");
    public override bool Equals(Attribute? o) => o is UnitAttr;
    public override int GetHashCode() => 5;
}

/// <summary><c>[a, b, c]</c>.</summary>
public sealed class ArrayAttr : Attribute
{
    internal ArrayAttr(Attribute[] elements) { _elements = elements; }
    private readonly Attribute[] _elements;
    public IReadOnlyList<Attribute> Elements => _elements;
    public int Count => _elements.Length;
    public Attribute this[int i] => _elements[i];

    public override void Print(StringBuilder sb)
    {
        sb.Append('[');
        for (int i = 0; i < _elements.Length; i++)
        {
            if (i > 0) sb.Append(", ");
            _elements[i].Print(sb);
        }
        sb.Append(']');
    }
    public override bool Equals(Attribute? o) =>
        o is ArrayAttr a && a._elements.Length == _elements.Length && a._elements.AsSpan().SequenceEqual(_elements);
    public override int GetHashCode()
    {
        var h = new HashCode();
        h.Add(6);
        foreach (var e in _elements) h.Add(e);
        return h.ToHashCode();
    }

    /// <summary>The elements as integers, or null when one is not an <see cref="IntegerAttr"/>.</summary>
    public long[]? AsInts()
    {
        var r = new long[_elements.Length];
        for (int i = 0; i < r.Length; i++)
        {
            if (_elements[i] is not IntegerAttr ia) return null;
            r[i] = ia.Value;
        }
        return r;
    }
}

/// <summary><c>{a = 1, flag}</c>: entries sorted by key, keys unique.</summary>
public sealed class DictionaryAttr : Attribute
{
    internal DictionaryAttr(KeyValuePair<string, Attribute>[] sortedEntries) { _entries = sortedEntries; }
    private readonly KeyValuePair<string, Attribute>[] _entries;

    public IReadOnlyList<KeyValuePair<string, Attribute>> Entries => _entries;
    public int Count => _entries.Length;

    public Attribute? Get(string key)
    {
        // Dictionaries are small; a linear scan beats hashing here.
        foreach (var e in _entries)
            if (e.Key == key) return e.Value;
        return null;
    }

    public override void Print(StringBuilder sb)
    {
        sb.Append('{');
        for (int i = 0; i < _entries.Length; i++)
        {
            if (i > 0) sb.Append(", ");
            PrintKey(sb, _entries[i].Key);
            if (_entries[i].Value is not UnitAttr)
            {
                sb.Append(" = ");
                _entries[i].Value.Print(sb);
            }
        }
        sb.Append('}');
    }

    /// <summary>A key prints bare when it is an identifier, quoted otherwise.</summary>
    public static void PrintKey(StringBuilder sb, string key)
    {
        if (IsBareIdentifier(key) && !IsKeyword(key)) sb.Append(key);
        else StringAttr.PrintQuoted(sb, key);
    }

    public static bool IsBareIdentifier(string s)
    {
        if (s.Length == 0 || !(char.IsAsciiLetter(s[0]) || s[0] == '_')) return false;
        foreach (var c in s)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '$' or '.')) return false;
        return true;
    }

    /// <summary>Words the lexer reads as something other than an identifier.</summary>
    public static bool IsKeyword(string s) => s is "func.func" or "func.return" or "func.call" or "inf" or "nan";

    public override bool Equals(Attribute? o)
    {
        if (o is not DictionaryAttr d || d._entries.Length != _entries.Length) return false;
        for (int i = 0; i < _entries.Length; i++)
            if (d._entries[i].Key != _entries[i].Key || !ReferenceEquals(d._entries[i].Value, _entries[i].Value)) return false;
        return true;
    }
    public override int GetHashCode()
    {
        var h = new HashCode();
        h.Add(7);
        foreach (var e in _entries) { h.Add(e.Key); h.Add(e.Value); }
        return h.ToHashCode();
    }
}

/// <summary>A type used as an attribute value, e.g. <c>function_type = (f32) -> f32</c>.</summary>
public sealed class TypeAttr : Attribute
{
    internal TypeAttr(Type value) { Value = value; }
    public Type Value { get; }
    public override void Print(StringBuilder sb) => Value.Print(sb);
    public override bool Equals(Attribute? o) => o is TypeAttr t && ReferenceEquals(t.Value, Value);
    public override int GetHashCode() => HashCode.Combine(8, Value);
}

/// <summary><c>@name</c>: a reference to a symbol (a function, a mesh).</summary>
public sealed class SymbolRefAttr : Attribute
{
    internal SymbolRefAttr(string name) { Name = name; }
    public string Name { get; }
    public override void Print(StringBuilder sb) => PrintSymbol(sb, Name);
    public override bool Equals(Attribute? o) => o is SymbolRefAttr s && s.Name == Name;
    public override int GetHashCode() => HashCode.Combine(9, Name);

    public static void PrintSymbol(StringBuilder sb, string name)
    {
        sb.Append('@');
        if (IsSuffixIdentifier(name)) sb.Append(name);
        else StringAttr.PrintQuoted(sb, name);
    }

    /// <summary>Names that may follow a sigil unquoted: digits, or a letter/_$.- then letters, digits, _$.-</summary>
    public static bool IsSuffixIdentifier(string s)
    {
        if (s.Length == 0) return false;
        if (char.IsAsciiDigit(s[0])) return s.All(char.IsAsciiDigit);
        if (!(char.IsAsciiLetter(s[0]) || s[0] is '_' or '$' or '.' or '-')) return false;
        foreach (var c in s)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '$' or '.' or '-')) return false;
        return true;
    }
}

/// <summary>
/// <c>dense&lt;[1.0, 2.0]&gt; : tensor&lt;2xf32&gt;</c>: the elements of a constant tensor,
/// row-major, stored as doubles (floats rounded to the element type) or longs.
/// A single value is a splat.
/// </summary>
public sealed class DenseElementsAttr : Attribute
{
    internal DenseElementsAttr(TensorType type, double[]? floats, long[]? ints)
    {
        Type = type;
        _floats = floats;
        _ints = ints;
    }

    private readonly double[]? _floats;
    private readonly long[]? _ints;

    public TensorType Type { get; }
    public bool IsSplat => Count == 1;
    public int Count => _floats?.Length ?? _ints!.Length;
    public ReadOnlySpan<double> Floats => _floats;
    public ReadOnlySpan<long> Ints => _ints;

    /// <summary>Element <paramref name="i"/> of the full tensor, as a double.</summary>
    public double GetDouble(long i)
    {
        long k = IsSplat ? 0 : i;
        return _floats is not null ? _floats[k] : _ints![k];
    }

    public override void Print(StringBuilder sb)
    {
        sb.Append("dense<");
        if (IsSplat) PrintElement(sb, 0);
        else PrintNested(sb, 0, 0);
        sb.Append("> : ");
        Type.Print(sb);
    }

    /// <summary>The text between dense&lt; and &gt;, without the type.</summary>
    public void PrintLiteral(StringBuilder sb)
    {
        if (IsSplat) PrintElement(sb, 0);
        else PrintNested(sb, 0, 0);
    }

    private long PrintNested(StringBuilder sb, int dim, long offset)
    {
        if (dim == Type.Rank)
        {
            PrintElement(sb, offset);
            return offset + 1;
        }
        sb.Append('[');
        for (long i = 0; i < Type.Dim(dim); i++)
        {
            if (i > 0) sb.Append(", ");
            offset = PrintNested(sb, dim + 1, offset);
        }
        sb.Append(']');
        return offset;
    }

    private void PrintElement(StringBuilder sb, long i)
    {
        if (_floats is not null) sb.Append(FormatFloat(_floats[i], Type.Element));
        else if (Type.Element.Kind == ScalarKind.I1) sb.Append(_ints![i] != 0 ? "true" : "false");
        else sb.Append(_ints![i].ToString(CultureInfo.InvariantCulture));
    }

    public override bool Equals(Attribute? o) =>
        o is DenseElementsAttr d && ReferenceEquals(d.Type, Type)
        && (_floats is not null
            ? d._floats is not null && System.Runtime.InteropServices.MemoryMarshal.AsBytes(d._floats.AsSpan())
                  .SequenceEqual(System.Runtime.InteropServices.MemoryMarshal.AsBytes(_floats.AsSpan()))   // bits: -0.0 != 0.0
            : d._ints is not null && d._ints.AsSpan().SequenceEqual(_ints!));

    public override int GetHashCode()
    {
        var h = new HashCode();
        h.Add(10);
        h.Add(Type);
        if (_floats is not null) foreach (var f in _floats) h.Add(BitConverter.DoubleToInt64Bits(f));
        else foreach (var v in _ints!) h.Add(v);
        return h.ToHashCode();
    }
}

/// <summary><c>#dialect.name&lt;body&gt;</c>: a dialect attribute kept as its text.</summary>
public sealed class OpaqueAttr : Attribute
{
    internal OpaqueAttr(string name, string body) { Name = name; Body = body; }
    public string Name { get; }
    public string Body { get; }
    public override void Print(StringBuilder sb) => sb.Append('#').Append(Name).Append(Body);
    public override bool Equals(Attribute? o) => o is OpaqueAttr a && a.Name == Name && a.Body == Body;
    public override int GetHashCode() => HashCode.Combine(11, Name, Body);
}
