using System.Runtime.InteropServices;

namespace AutoSpIR.IR;

/// <summary>
/// Owns the interned types and attributes and the registry of dialects and ops.
/// One Context serves one compilation; it is not thread-safe for creation.
/// </summary>
public sealed class Context
{
    private readonly Dictionary<string, ScalarType> _scalars = new();
    private readonly Dictionary<TensorKey, TensorType> _tensors = new();
    private readonly Dictionary<FunctionType, FunctionType> _functions = new(FunctionTypeComparer.Instance);
    private readonly Dictionary<(string, string), OpaqueType> _opaqueTypes = new();
    private readonly Dictionary<Attribute, Attribute> _attrs = new();
    private readonly Dictionary<string, Dialect> _dialects = new();
    private readonly Dictionary<string, OpDef> _ops = new();

    public Context()
    {
        foreach (var (kind, name, bits) in new[]
                 {
                     (ScalarKind.F64, "f64", 64), (ScalarKind.F32, "f32", 32), (ScalarKind.BF16, "bf16", 16),
                     (ScalarKind.F16, "f16", 16), (ScalarKind.I64, "i64", 64), (ScalarKind.I32, "i32", 32),
                     (ScalarKind.I8, "i8", 8), (ScalarKind.I1, "i1", 1), (ScalarKind.Index, "index", 64),
                 })
            _scalars[name] = new ScalarType(kind, name, bits);
        Unit = Intern(new UnitAttr());
        True = Intern(new BoolAttr(true));
        False = Intern(new BoolAttr(false));
        EmptyDictionary = Intern(new DictionaryAttr(System.Array.Empty<KeyValuePair<string, Attribute>>()));
    }

    /// <summary>Accept ops of dialects that are not registered (kept generic, verified structurally only).</summary>
    public bool AllowUnregisteredDialects { get; set; }

    // ------------------------------------------------------------------ types

    public ScalarType F64 => _scalars["f64"];
    public ScalarType F32 => _scalars["f32"];
    public ScalarType BF16 => _scalars["bf16"];
    public ScalarType F16 => _scalars["f16"];
    public ScalarType I64 => _scalars["i64"];
    public ScalarType I32 => _scalars["i32"];
    public ScalarType I8 => _scalars["i8"];
    public ScalarType I1 => _scalars["i1"];
    public ScalarType Index => _scalars["index"];

    /// <summary>The scalar type named <paramref name="name"/> (f32, i64, ...), or null.</summary>
    public ScalarType? LookupScalar(string name) => _scalars.GetValueOrDefault(name);

    public TensorType Tensor(ReadOnlySpan<long> shape, ScalarType element, Attribute? encoding = null)
    {
        var key = new TensorKey(shape.ToArray(), element, encoding);
        ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_tensors, key, out bool exists);
        if (!exists) slot = new TensorType(key.Shape, element, encoding);
        return slot!;
    }

    public TensorType Tensor(ScalarType element, params long[] shape) => Tensor(shape, element);

    /// <summary>The same shape and element type with another encoding (null drops it).</summary>
    public TensorType WithEncoding(TensorType t, Attribute? encoding) => Tensor(t.Shape, t.Element, encoding);

    public FunctionType Function(IReadOnlyList<Type> inputs, IReadOnlyList<Type> results)
    {
        var probe = new FunctionType(inputs.ToArray(), results.ToArray());
        if (_functions.TryGetValue(probe, out var existing)) return existing;
        _functions[probe] = probe;
        return probe;
    }

    public OpaqueType Opaque(string name, string body)
    {
        if (!_opaqueTypes.TryGetValue((name, body), out var t))
            _opaqueTypes[(name, body)] = t = new OpaqueType(name, body);
        return t;
    }

    // ------------------------------------------------------------------ attributes

    public UnitAttr Unit { get; }
    public BoolAttr True { get; }
    public BoolAttr False { get; }
    public DictionaryAttr EmptyDictionary { get; }

    /// <summary>The interned attribute equal to <paramref name="attr"/> (dialects intern their own attribute classes here).</summary>
    public T Intern<T>(T attr) where T : Attribute
    {
        ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_attrs, attr, out bool exists);
        if (!exists) slot = attr;
        return (T)slot!;
    }

    public BoolAttr Bool(bool v) => v ? True : False;
    public IntegerAttr Integer(long v, ScalarType? type = null) => Intern(new IntegerAttr(v, type ?? I64));
    public FloatAttr Float(double v, ScalarType? type = null) => Intern(new FloatAttr(RoundTo(v, type ?? F64), type ?? F64));
    public StringAttr String(string v) => Intern(new StringAttr(v));
    public SymbolRefAttr Symbol(string name) => Intern(new SymbolRefAttr(name));
    public TypeAttr TypeAttr(Type t) => Intern(new TypeAttr(t));
    public ArrayAttr Array(params Attribute[] elements) => Intern(new ArrayAttr(elements));
    public ArrayAttr IntArray(IEnumerable<long> values) => Array(values.Select(v => (Attribute)Integer(v)).ToArray());
    public OpaqueAttr OpaqueAttr(string name, string body) => Intern(new OpaqueAttr(name, body));

    /// <summary>A dictionary of the given entries; a later duplicate key replaces an earlier one.</summary>
    public DictionaryAttr Dictionary(IEnumerable<KeyValuePair<string, Attribute>> entries)
    {
        var map = new SortedDictionary<string, Attribute>(StringComparer.Ordinal);
        foreach (var e in entries) map[e.Key] = e.Value;
        if (map.Count == 0) return EmptyDictionary;
        return Intern(new DictionaryAttr(map.ToArray()));
    }

    public DenseElementsAttr DenseFloats(TensorType type, double[] values)
    {
        for (int i = 0; i < values.Length; i++) values[i] = RoundTo(values[i], type.Element);
        return Intern(new DenseElementsAttr(type, values, null));
    }

    public DenseElementsAttr DenseInts(TensorType type, long[] values) => Intern(new DenseElementsAttr(type, null, values));

    public DenseElementsAttr Splat(TensorType type, double value) =>
        type.Element.IsFloat ? DenseFloats(type, new[] { value }) : DenseInts(type, new[] { (long)value });

    /// <summary>
    /// Rounds a double once, to nearest with ties to even, to a float element type (f32, bf16,
    /// f16); the one rounding every part of AutoSpIR uses (constants, the interpreter).
    /// </summary>
    public static double RoundTo(double v, ScalarType? type) => type?.Kind switch
    {
        ScalarKind.F32 => (float)v,
        ScalarKind.F16 => (double)(Half)ToOddFloat(v),
        ScalarKind.BF16 => BFloat16FromFloat(ToOddFloat(v)),
        _ => v,
    };

    /// <summary>
    /// <paramref name="v"/> rounded to a float "to odd": exact when representable, otherwise the
    /// float toward zero with its last bit set. Rounding that to nearest in a format at least 2
    /// bits narrower (bf16, f16) equals rounding <paramref name="v"/> once: no double rounding.
    /// </summary>
    private static float ToOddFloat(double v)
    {
        float f = (float)v;
        if (double.IsNaN(v) || double.IsInfinity(v) || (double)f == v) return f;
        uint bits = BitConverter.SingleToUInt32Bits(f);
        if (Math.Abs((double)f) > Math.Abs(v)) bits -= 1;   // one step toward zero (from inf: the largest float)
        return BitConverter.UInt32BitsToSingle(bits | 1);
    }

    private static float BFloat16FromFloat(float f)
    {
        if (float.IsNaN(f)) return float.NaN;
        uint bits = BitConverter.SingleToUInt32Bits(f);
        bits = (bits + 0x7FFFu + ((bits >> 16) & 1)) & 0xFFFF0000u;   // round to nearest even
        return BitConverter.UInt32BitsToSingle(bits);
    }

    // ------------------------------------------------------------------ registry

    public void Register(Dialect dialect)
    {
        if (_dialects.ContainsKey(dialect.Name)) return;
        _dialects[dialect.Name] = dialect;
        foreach (var op in dialect.Ops) _ops[op.Name] = op;
    }

    public IReadOnlyCollection<Dialect> Dialects => _dialects.Values;
    public Dialect? LookupDialect(string name) => _dialects.GetValueOrDefault(name);
    public OpDef? LookupOp(string name) => _ops.GetValueOrDefault(name);

    // ------------------------------------------------------------------ keys

    private readonly struct TensorKey : IEquatable<TensorKey>
    {
        public TensorKey(long[] shape, ScalarType element, Attribute? encoding)
        {
            Shape = shape;
            Element = element;
            Encoding = encoding;
        }

        public long[] Shape { get; }
        public ScalarType Element { get; }
        public Attribute? Encoding { get; }

        public bool Equals(TensorKey o) =>
            ReferenceEquals(Element, o.Element) && ReferenceEquals(Encoding, o.Encoding) && Shape.AsSpan().SequenceEqual(o.Shape);
        public override bool Equals(object? obj) => obj is TensorKey k && Equals(k);
        public override int GetHashCode()
        {
            var h = new HashCode();
            h.Add(Element);
            h.Add(Encoding);
            foreach (var d in Shape) h.Add(d);
            return h.ToHashCode();
        }
    }

    private sealed class FunctionTypeComparer : IEqualityComparer<FunctionType>
    {
        public static readonly FunctionTypeComparer Instance = new();
        public bool Equals(FunctionType? a, FunctionType? b) =>
            a!.Inputs.SequenceEqual(b!.Inputs) && a.Results.SequenceEqual(b.Results);
        public int GetHashCode(FunctionType f)
        {
            var h = new HashCode();
            foreach (var t in f.Inputs) h.Add(t);
            h.Add(-1);
            foreach (var t in f.Results) h.Add(t);
            return h.ToHashCode();
        }
    }
}
