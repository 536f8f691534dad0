using System.Text;

namespace AutoSpIR.Dialects.Dist;

/// <summary>
/// <c>#dist.sharding&lt;@mesh, [{}, {"sp"}, {}]&gt;</c>: how a value of the global view is laid
/// out over a device mesh, written as a tensor type's encoding:
/// <c>tensor&lt;1x8192x4096xbf16, #dist.sharding&lt;@mesh, [{}, {"sp"}, {}]&gt;&gt;</c>.
/// <para>
/// Body syntax (whitespace is free; the printer writes exactly this canonical form):
/// <code>
/// sharding ::= '&lt;' symbol ',' '[' (dim (',' dim)*)? ']' (',' 'partial' '=' '[' axis (',' axis)* ']')? '&gt;'
/// dim      ::= '{' (axis (',' axis)*)? '}'
/// axis     ::= string            (a non-empty mesh axis name, quoted: "sp")
/// </code>
/// One <c>dim</c> entry per tensor dimension: the mesh axes that dimension is split over,
/// major to minor; <c>{}</c> = not split. A dimension of global size n split over axes with
/// sizes k_1..k_m is cut into K = k_1*...*k_m blocks of one size c = ceil(n/K): it is PADDED
/// at the end to K*c, block j holds the global positions [j*c, (j+1)*c), and the positions
/// &gt;= n are padding (none when K divides n). The rank with coordinates c_1..c_m on those axes
/// holds block <c>c_1*k_2*...*k_m + ... + c_m</c> (row-major over the axes as listed). A rank
/// holds the same data as every rank that differs from it only on axes the sharding does not use.
/// </para>
/// <para>
/// Every shard has the same local size c, so one SPMD program has one local type. A split
/// dimension needs n &gt;= 1 (then c &gt;= 1); a shard may be all padding: 3 over 4 gives c = 1
/// and shard 3 holds only padding, 12 over 8 gives c = 2 and shards 6 and 7 do.
/// <see cref="SplitOf"/> gives a dimension's <see cref="DimSplit"/> (shard count, local size,
/// padded size, whether it is padded, the real positions of each shard).
/// </para>
/// <para>
/// Padding says where, not what: whoever cuts a global value into shards chooses what the
/// padding holds (the runtime's <c>Sharding.Slice</c> takes a pad value; autosp-run the
/// argument's <c>aspir.pad_value</c>, e.g. -100 for labels), and whoever puts shards back
/// together drops it. A padded sharding is therefore meaningful only where the program using it
/// is pad-safe: the padding never changes a real position's value (pointwise ops; causal
/// attention, whose real queries never see the keys padded at the end; a loss over labels padded
/// with its ignore_index) and no reduction mixes it into a real result. The partitioner checks
/// that; this attribute and the dist verifiers do not.
/// </para>
/// <para>
/// <c>partial = ["sp"]</c>: the value is the sum, over the ranks of each group spanned by the
/// listed axes, of what each rank holds (a per-rank partial sum still to be reduced; gradients
/// of replicated weights, per-shard loss sums). The partial axes are a set: they are kept
/// sorted (ordinal), so <c>["sp", "dp"]</c> and <c>["dp", "sp"]</c> are the same attribute and
/// print as <c>["dp", "sp"]</c>. When present it names at least one axis.
/// </para>
/// <para>
/// No axis appears twice, neither within one dimension, nor in two dimensions, nor in a
/// dimension and <c>partial</c>. Whether the mesh exists, the axes are its axes, the entry
/// count equals the tensor's rank and every split static size is at least 1 is checked where a mesh is in sight:
/// by the verifiers of the dist ops that carry the type (<see cref="DistVerify.CheckType"/>).
/// </para>
/// <para>Attributes are interned: create them with <see cref="Get"/>, <see cref="Replicated"/> or <see cref="Parse"/>.</para>
/// </summary>
public sealed class ShardingAttr : Attribute
{
    /// <summary>The attribute's name after '#'.</summary>
    public const string AttrName = "dist.sharding";

    private readonly string[][] _dims;
    private readonly string[] _partial;

    private ShardingAttr(string mesh, string[][] dims, string[] partial)
    {
        Mesh = mesh;
        _dims = dims;
        _partial = partial;
    }

    /// <summary>
    /// The interned sharding of a rank-<c>dimAxes.Count</c> tensor over mesh <paramref name="mesh"/>
    /// (symbol name without '@'). Throws <see cref="ArgumentException"/> when an axis name is empty
    /// or repeated, or <paramref name="partial"/> is given but empty.
    /// </summary>
    public static ShardingAttr Get(Context ctx, string mesh, IEnumerable<IEnumerable<string>> dimAxes, IEnumerable<string>? partial = null)
    {
        var dims = dimAxes.Select(d => d.ToArray()).ToArray();
        var p = partial?.ToArray();
        if (Validate(mesh, dims, p) is { } error) throw new ArgumentException(error);
        return Create(ctx, mesh, dims, p ?? Array.Empty<string>());
    }

    /// <summary>The fully replicated sharding of a rank-<paramref name="rank"/> tensor: <c>&lt;@mesh, [{}, {}]&gt;</c>.</summary>
    public static ShardingAttr Replicated(Context ctx, string mesh, int rank) =>
        Get(ctx, mesh, Enumerable.Repeat(Array.Empty<string>(), rank));

    /// <summary>The sharding encoding of <paramref name="type"/>, or null when it is not a tensor with one.</summary>
    public static ShardingAttr? Of(Type type) => (type as TensorType)?.Encoding as ShardingAttr;

    private static ShardingAttr Create(Context ctx, string mesh, string[][] dims, string[] partial)
    {
        var sorted = partial.ToArray();
        Array.Sort(sorted, StringComparer.Ordinal);
        return ctx.Intern(new ShardingAttr(mesh, dims, sorted));
    }

    /// <summary>Why the parts do not make a sharding (null when they do).</summary>
    private static string? Validate(string mesh, string[][] dims, string[]? partial)
    {
        if (mesh.Length == 0) return "the mesh symbol name is empty";
        var where = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int d = 0; d < dims.Length; d++)
            foreach (var a in dims[d])
            {
                if (a.Length == 0) return $"dimension {d} names an empty axis";
                var here = $"dimension {d}";
                if (where.TryGetValue(a, out var before))
                    return before == here ? $"axis \"{a}\" appears twice in dimension {d}" : $"axis \"{a}\" is used by both {before} and dimension {d}";
                where[a] = here;
            }
        if (partial is null) return null;
        if (partial.Length == 0) return "'partial' must name at least one axis (omit it when the value is not partial)";
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var a in partial)
        {
            if (a.Length == 0) return "'partial' names an empty axis";
            if (!seen.Add(a)) return $"axis \"{a}\" appears twice in 'partial'";
            if (where.TryGetValue(a, out var before)) return $"axis \"{a}\" is both in {before} and in 'partial'";
        }
        return null;
    }

    // ------------------------------------------------------------------ accessors

    /// <summary>The mesh symbol name, without '@'.</summary>
    public string Mesh { get; }

    /// <summary>The number of dimension entries (the rank of the tensors it may describe).</summary>
    public int Rank => _dims.Length;

    /// <summary>Per tensor dimension, the mesh axes it is split over, major to minor (empty: not split).</summary>
    public IReadOnlyList<IReadOnlyList<string>> DimAxes => _dims;

    /// <summary>The axes dimension <paramref name="dim"/> is split over, major to minor.</summary>
    public IReadOnlyList<string> AxesOf(int dim) => _dims[dim];

    /// <summary>The axes over which the value is a partial sum, sorted; empty when it is not partial.</summary>
    public IReadOnlyList<string> PartialAxes => _partial;

    public bool IsPartial => _partial.Length > 0;

    /// <summary>True when dimension <paramref name="dim"/> is split over at least one axis.</summary>
    public bool IsSplit(int dim) => _dims[dim].Length > 0;

    /// <summary>Every rank holds the whole value: no dimension is split and it is not partial.</summary>
    public bool IsReplicated => _partial.Length == 0 && _dims.All(d => d.Length == 0);

    /// <summary>The dimension split over <paramref name="axis"/>, or -1 (also when the axis is only partial).</summary>
    public int DimOfAxis(string axis)
    {
        for (int d = 0; d < _dims.Length; d++)
            if (Array.IndexOf(_dims[d], axis) >= 0) return d;
        return -1;
    }

    /// <summary>Every axis the sharding uses: the dimensions' in order, then the partial ones.</summary>
    public IEnumerable<string> UsedAxes => _dims.SelectMany(d => d).Concat(_partial);

    // ------------------------------------------------------------------ shapes

    /// <summary>
    /// The shape one rank holds of a value of global shape <paramref name="globalShape"/>: a split
    /// dimension of size n over axes of sizes k_1..k_m becomes c = ceil(n / K), K = k_1*...*k_m
    /// (padded at the end when K does not divide n); a dynamic size stays dynamic. Throws
    /// <see cref="ArgumentException"/> when the rank differs, an axis is not in
    /// <paramref name="meshAxisSizes"/>, or a split static size is 0.
    /// </summary>
    public long[] LocalShape(ReadOnlySpan<long> globalShape, IReadOnlyDictionary<string, long> meshAxisSizes) =>
        TryLocalShape(globalShape, meshAxisSizes, out var local, out var error) ? local : throw new ArgumentException(error);

    /// <summary><see cref="LocalShape(ReadOnlySpan{long}, IReadOnlyDictionary{string, long})"/> on a resolved mesh.</summary>
    public long[] LocalShape(ReadOnlySpan<long> globalShape, DeviceMesh mesh) => LocalShape(globalShape, mesh.AxisSizes);

    /// <summary>The local shape, or false with a message saying what is wrong.</summary>
    public bool TryLocalShape(ReadOnlySpan<long> globalShape, IReadOnlyDictionary<string, long> meshAxisSizes, out long[] local, out string error)
    {
        local = globalShape.ToArray();
        error = "";
        if (globalShape.Length != _dims.Length)
        {
            error = $"the sharding has {_dims.Length} dimension entr{(_dims.Length == 1 ? "y" : "ies")}, but the tensor has rank {globalShape.Length}";
            return false;
        }
        foreach (var a in _partial)
            if (!meshAxisSizes.ContainsKey(a))
            {
                error = $"partial axis \"{a}\" is not an axis of mesh '@{Mesh}'";
                return false;
            }
        for (int d = 0; d < _dims.Length; d++)
        {
            if (globalShape[d] == TensorType.Dynamic)
            {
                if (!TryShardCount(d, meshAxisSizes, out _, out error)) return false;
                continue;
            }
            if (!TrySplitOf(d, globalShape[d], meshAxisSizes, out var split, out error)) return false;
            local[d] = split.LocalSize;
        }
        return true;
    }

    /// <summary>
    /// True when a value of global shape <paramref name="globalShape"/> has padding under this
    /// sharding: some split static dimension's shard count does not divide its size. Throws like
    /// <see cref="LocalShape(ReadOnlySpan{long}, IReadOnlyDictionary{string, long})"/>.
    /// </summary>
    public bool IsPadded(ReadOnlySpan<long> globalShape, IReadOnlyDictionary<string, long> meshAxisSizes)
    {
        LocalShape(globalShape, meshAxisSizes);
        for (int d = 0; d < _dims.Length; d++)
            if (globalShape[d] != TensorType.Dynamic && SplitOf(d, globalShape[d], meshAxisSizes).IsPadded) return true;
        return false;
    }

    /// <summary>
    /// How dimension <paramref name="dim"/> of static size <paramref name="globalSize"/> is cut:
    /// its shard count K, local size c = ceil(n / K) and padded size K*c. Throws
    /// <see cref="ArgumentException"/> when an axis is not in <paramref name="meshAxisSizes"/>, the
    /// size is dynamic or negative, or it is 0 and split (K &gt; 1).
    /// </summary>
    public DimSplit SplitOf(int dim, long globalSize, IReadOnlyDictionary<string, long> meshAxisSizes) =>
        TrySplitOf(dim, globalSize, meshAxisSizes, out var split, out var error) ? split : throw new ArgumentException(error);

    /// <summary><see cref="SplitOf"/>, or false with a message saying what is wrong.</summary>
    public bool TrySplitOf(int dim, long globalSize, IReadOnlyDictionary<string, long> meshAxisSizes, out DimSplit split, out string error)
    {
        split = default;
        if (dim < 0 || dim >= _dims.Length) throw new ArgumentOutOfRangeException(nameof(dim), dim, $"the sharding has {_dims.Length} dimension entries");
        if (!TryShardCount(dim, meshAxisSizes, out long k, out error)) return false;
        if (globalSize == TensorType.Dynamic || globalSize < 0)
        {
            error = $"dimension {dim} has {(globalSize == TensorType.Dynamic ? "a dynamic size" : $"size {globalSize}")}; only a static size splits into shards";
            return false;
        }
        if (globalSize == 0 && k > 1)
        {
            error = $"dimension {dim} has size 0, but a dimension split into the {k} shards of {AxesText(_dims[dim])} needs at least 1 element";
            return false;
        }
        long c = k == 1 ? globalSize : globalSize / k + (globalSize % k != 0 ? 1 : 0);
        if (c > long.MaxValue / k)
        {
            error = $"dimension {dim} of size {globalSize}, padded to a multiple of its {k} shards, overflows a 64-bit size";
            return false;
        }
        split = new DimSplit(globalSize, k, c);
        return true;
    }

    /// <summary>The number of blocks dimension <paramref name="dim"/> is cut into: the product of its axes' sizes (1 when not split).</summary>
    public long ShardCount(int dim, IReadOnlyDictionary<string, long> meshAxisSizes) =>
        TryShardCount(dim, meshAxisSizes, out long k, out var error) ? k : throw new ArgumentException(error);

    private bool TryShardCount(int dim, IReadOnlyDictionary<string, long> meshAxisSizes, out long count, out string error)
    {
        count = 1;
        error = "";
        foreach (var a in _dims[dim])
        {
            if (!meshAxisSizes.TryGetValue(a, out long k))
            {
                error = $"axis \"{a}\" of dimension {dim} is not an axis of mesh '@{Mesh}'";
                return false;
            }
            if (k < 1 || count > long.MaxValue / k)
            {
                error = $"dimension {dim} is split into more blocks than a 64-bit integer counts";
                return false;
            }
            count *= k;
        }
        return true;
    }

    /// <summary>
    /// The PADDED global shape of a local shape: each split size times its shard count. It inverts
    /// <see cref="LocalShape(ReadOnlySpan{long}, IReadOnlyDictionary{string, long})"/> where no
    /// dimension is padded; a padded dimension's real size n is any of K*(c-1)+1 .. K*c, which the
    /// local shape does not tell (autosp-run takes it from <c>aspir.global_shape</c>).
    /// </summary>
    public long[] GlobalShape(ReadOnlySpan<long> localShape, IReadOnlyDictionary<string, long> meshAxisSizes)
    {
        if (localShape.Length != _dims.Length)
            throw new ArgumentException($"the sharding has {_dims.Length} dimension entries, but the shape has rank {localShape.Length}");
        var global = localShape.ToArray();
        for (int d = 0; d < global.Length; d++)
            if (global[d] != TensorType.Dynamic) global[d] = checked(global[d] * ShardCount(d, meshAxisSizes));
        return global;
    }

    private static string AxesText(IEnumerable<string> axes)
    {
        var sb = new StringBuilder("{");
        PrintAxes(sb, axes);
        return sb.Append('}').ToString();
    }

    // ------------------------------------------------------------------ printing and equality

    public override void Print(StringBuilder sb)
    {
        sb.Append('#').Append(AttrName).Append('<');
        SymbolRefAttr.PrintSymbol(sb, Mesh);
        sb.Append(", [");
        for (int d = 0; d < _dims.Length; d++)
        {
            if (d > 0) sb.Append(", ");
            sb.Append('{');
            PrintAxes(sb, _dims[d]);
            sb.Append('}');
        }
        sb.Append(']');
        if (_partial.Length > 0)
        {
            sb.Append(", partial = [");
            PrintAxes(sb, _partial);
            sb.Append(']');
        }
        sb.Append('>');
    }

    private static void PrintAxes(StringBuilder sb, IEnumerable<string> axes)
    {
        bool first = true;
        foreach (var a in axes)
        {
            if (!first) sb.Append(", ");
            first = false;
            StringAttr.PrintQuoted(sb, a);
        }
    }

    public override bool Equals(Attribute? other)
    {
        if (other is not ShardingAttr o || o.Mesh != Mesh || o._dims.Length != _dims.Length) return false;
        for (int d = 0; d < _dims.Length; d++)
            if (!o._dims[d].AsSpan().SequenceEqual(_dims[d])) return false;
        return o._partial.AsSpan().SequenceEqual(_partial);
    }

    public override int GetHashCode()
    {
        var h = new HashCode();
        h.Add(0x5AD);
        h.Add(Mesh);
        foreach (var d in _dims)
        {
            h.Add(d.Length);
            foreach (var a in d) h.Add(a);
        }
        h.Add(-1);
        foreach (var a in _partial) h.Add(a);
        return h.ToHashCode();
    }

    // ------------------------------------------------------------------ parsing

    /// <summary>
    /// Reads the body of <c>#dist.sharding&lt;...&gt;</c> (from '&lt;' to '&gt;' inclusive, as the
    /// parser hands it over) into the interned attribute, or returns an error message.
    /// </summary>
    public static (ShardingAttr? Attribute, string? Error) Parse(Context ctx, string body)
    {
        try
        {
            var r = new BodyReader(body);
            if (r.AtEnd) throw r.Error("expects a body: #dist.sharding<@mesh, [{}, {\"sp\"}]>");
            r.Expect('<', "at the start of the body");
            var mesh = r.Symbol("the mesh symbol (@mesh) after '<'");
            r.Expect(',', "after the mesh symbol");
            r.Expect('[', "opening the list of per-dimension axes");
            var dims = new List<string[]>();
            if (!r.TryTake(']'))
            {
                do
                {
                    var what = $"dimension {dims.Count}";
                    r.Expect('{', $"opening the axes of {what} (write {{}} for a dimension that is not split)");
                    dims.Add(r.AxisList('}', what));
                }
                while (r.TryTake(','));
                r.Expect(']', "closing the list of per-dimension axes");
            }
            string[]? partial = null;
            if (r.TryTake(','))
            {
                var key = r.Identifier("'partial' after ','");
                if (key != "partial") throw r.Error($"unknown parameter '{key}'; the only one is 'partial = [\"axis\", ...]'");
                r.Expect('=', "after 'partial'");
                r.Expect('[', "opening the list of partial axes");
                partial = r.AxisList(']', "'partial'");
            }
            r.Expect('>', "closing the body");
            if (!r.AtEnd) throw r.Error($"unexpected {r.Describe()} after the closing '>'");
            if (Validate(mesh, dims.ToArray(), partial) is { } error) return (null, Message(error));
            return (Create(ctx, mesh, dims.ToArray(), partial ?? Array.Empty<string>()), null);
        }
        catch (FormatException e)
        {
            return (null, e.Message);
        }
    }

    private static string Message(string error) => $"invalid #{AttrName}: {error}";

    /// <summary>A tokenizer over a sharding body: punctuation, @symbols, "strings" and bare words.</summary>
    private sealed class BodyReader(string text)
    {
        private int _pos;

        public bool AtEnd
        {
            get
            {
                SkipSpace();
                return _pos >= text.Length;
            }
        }

        private void SkipSpace()
        {
            while (_pos < text.Length && char.IsWhiteSpace(text[_pos])) _pos++;
        }

        public FormatException Error(string message) => new(Message(message));

        /// <summary>The next token as diagnostics show it.</summary>
        public string Describe()
        {
            SkipSpace();
            if (_pos >= text.Length) return "the end of the body";
            int end = _pos;
            if (text[_pos] is '<' or '>' or '[' or ']' or '{' or '}' or ',' or '=') end++;
            else
                while (end < text.Length && !char.IsWhiteSpace(text[end]) && text[end] is not ('<' or '>' or '[' or ']' or '{' or '}' or ',' or '='))
                    end++;
            return $"'{text[_pos..end]}'";
        }

        public bool TryTake(char c)
        {
            SkipSpace();
            if (_pos < text.Length && text[_pos] == c)
            {
                _pos++;
                return true;
            }
            return false;
        }

        public void Expect(char c, string where)
        {
            if (!TryTake(c)) throw Error($"expected '{c}' {where}, found {Describe()}");
        }

        /// <summary>@name or @"quoted name".</summary>
        public string Symbol(string what)
        {
            SkipSpace();
            if (_pos >= text.Length || text[_pos] != '@') throw Error($"expected {what}, found {Describe()}");
            _pos++;
            if (_pos < text.Length && text[_pos] == '"') return QuotedString();
            int start = _pos;
            while (_pos < text.Length && (char.IsAsciiLetterOrDigit(text[_pos]) || text[_pos] is '_' or '$' or '.' or '-')) _pos++;
            if (_pos == start) throw Error($"expected {what}, found '@' without a name");
            return text[start.._pos];
        }

        public string Identifier(string what)
        {
            SkipSpace();
            int start = _pos;
            while (_pos < text.Length && (char.IsAsciiLetterOrDigit(text[_pos]) || text[_pos] is '_' or '$' or '.')) _pos++;
            if (_pos == start) throw Error($"expected {what}, found {Describe()}");
            return text[start.._pos];
        }

        /// <summary>Quoted axis names separated by commas, up to and including <paramref name="close"/>.</summary>
        public string[] AxisList(char close, string what)
        {
            var axes = new List<string>();
            if (TryTake(close)) return axes.ToArray();
            do
            {
                SkipSpace();
                if (_pos >= text.Length || text[_pos] != '"')
                {
                    var found = Describe();
                    var bare = found.Length > 2 && (char.IsAsciiLetter(found[1]) || found[1] == '_');
                    throw Error($"expected an axis name (a string) in {what}, found {found}"
                                + (bare ? $"; axis names are quoted: \"{found[1..^1]}\"" : ""));
                }
                axes.Add(QuotedString());
            }
            while (TryTake(','));
            if (!TryTake(close)) throw Error($"expected ',' or '{close}' after an axis name in {what}, found {Describe()}");
            return axes.ToArray();
        }

        /// <summary>A string literal at the cursor, with the lexer's escapes (<see cref="StringAttr.Unescape"/>).</summary>
        private string QuotedString()
        {
            int start = ++_pos;   // after the opening quote
            while (_pos < text.Length && text[_pos] != '"') _pos += text[_pos] == '\\' ? 2 : 1;
            if (_pos >= text.Length) throw Error("unterminated string");
            var value = StringAttr.Unescape(text.AsSpan(start, _pos - start), out var error);
            _pos++;   // the closing quote
            return value ?? throw Error($"{error} in an axis name");
        }
    }
}

/// <summary>
/// How one dimension of a <see cref="ShardingAttr"/> is cut (<see cref="ShardingAttr.SplitOf"/>):
/// a global size n over K shards of <see cref="LocalSize"/> c = ceil(n / K) positions each, shard
/// j holding the global positions [j*c, (j+1)*c); the dimension is padded at the end to
/// <see cref="PaddedSize"/> K*c, and positions &gt;= n are padding. K = 1 (not split): c = n, no padding.
/// </summary>
public readonly record struct DimSplit(long GlobalSize, long Shards, long LocalSize)
{
    /// <summary>K*c: the size with the padding (at most n + K - 1; fits a long, <see cref="ShardingAttr.SplitOf"/> checks).</summary>
    public long PaddedSize => Shards * LocalSize;

    /// <summary>True when K does not divide n: the last K*c - n positions are padding.</summary>
    public bool IsPadded => PaddedSize != GlobalSize;

    /// <summary>The number of padding positions, K*c - n.</summary>
    public long Padding => PaddedSize - GlobalSize;

    /// <summary>The first global position of shard <paramref name="shard"/>: j*c.</summary>
    public long StartOf(long shard) => shard * LocalSize;

    /// <summary>How many of shard <paramref name="shard"/>'s c positions are real (below n): min(c, max(0, n - j*c)).</summary>
    public long RealCountOf(long shard) => Math.Clamp(GlobalSize - shard * LocalSize, 0, LocalSize);
}
