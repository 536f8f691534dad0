namespace AutoSpIR.Dialects.Dist;

/// <summary>
/// A device mesh as a <c>dist.mesh</c> op declares it: named axes with sizes, and the rank
/// arithmetic that the verifier, the partitioner and the runtime share (so they agree on which
/// rank holds which shard and which ranks form a group).
/// <para>
/// Ranks are laid out row-major over the axes in declaration order: with axes a_0..a_{n-1} of
/// sizes s_0..s_{n-1}, the rank at coordinates (c_0, ..., c_{n-1}) is
/// <c>sum_i c_i * prod_{j>i} s_j</c>; for <c>["dp"=2, "sp"=4]</c>, rank = dp*4 + sp.
/// </para>
/// <para>
/// A group named by a list of axes (<c>axes = ["sp"]</c>) holds the ranks that share every
/// coordinate except those of the listed axes; its size G is the product of their sizes; a
/// rank's position in it is its row-major index over the listed axes in the order listed
/// (<c>["sp", "dp"]</c> orders the group differently from <c>["dp", "sp"]</c>).
/// </para>
/// </summary>
public sealed class DeviceMesh
{
    private readonly string[] _axes;
    private readonly long[] _shape;
    private readonly Dictionary<string, long> _sizes;

    /// <summary>A mesh; throws <see cref="ArgumentException"/> with <see cref="Validate"/>'s message when invalid.</summary>
    public DeviceMesh(string name, IReadOnlyList<string> axes, IReadOnlyList<long> shape)
    {
        if (Validate(axes, shape, out long ranks) is { } error) throw new ArgumentException(error);
        Name = name;
        _axes = axes.ToArray();
        _shape = shape.ToArray();
        NumRanks = ranks;
        _sizes = new Dictionary<string, long>(StringComparer.Ordinal);
        for (int i = 0; i < _axes.Length; i++) _sizes[_axes[i]] = _shape[i];
    }

    /// <summary>The symbol name, without '@'.</summary>
    public string Name { get; }
    public IReadOnlyList<string> Axes => _axes;
    public IReadOnlyList<long> Shape => _shape;
    /// <summary>The size of each axis by name.</summary>
    public IReadOnlyDictionary<string, long> AxisSizes => _sizes;
    /// <summary>The product of the axis sizes.</summary>
    public long NumRanks { get; }

    public bool HasAxis(string axis) => _sizes.ContainsKey(axis);

    /// <summary>The index of <paramref name="axis"/> in declaration order, or -1.</summary>
    public int AxisIndex(string axis) => Array.IndexOf(_axes, axis);

    /// <summary>The size of <paramref name="axis"/>; throws <see cref="ArgumentException"/> when it is not an axis of the mesh.</summary>
    public long SizeOf(string axis) =>
        _sizes.TryGetValue(axis, out var n) ? n : throw new ArgumentException($"\"{axis}\" is not an axis of mesh '@{Name}'");

    /// <summary>Why axes and sizes do not make a mesh (null when they do); <paramref name="ranks"/> is their product.</summary>
    public static string? Validate(IReadOnlyList<string> axes, IReadOnlyList<long> shape, out long ranks)
    {
        ranks = 0;
        if (axes.Count == 0) return "a mesh needs at least one axis";
        if (axes.Count != shape.Count)
            return $"has {axes.Count} axis name{(axes.Count == 1 ? "" : "s")} but {shape.Count} size{(shape.Count == 1 ? "" : "s")}";
        var seen = new HashSet<string>(StringComparer.Ordinal);
        long product = 1;
        for (int i = 0; i < axes.Count; i++)
        {
            if (axes[i].Length == 0) return $"axis #{i} has an empty name";
            if (!seen.Add(axes[i])) return $"axis \"{axes[i]}\" is declared twice";
            if (shape[i] < 1) return $"axis \"{axes[i]}\" has size {shape[i]}; sizes must be at least 1";
            if (product > long.MaxValue / shape[i]) return "has more ranks than a 64-bit integer counts";
            product *= shape[i];
        }
        ranks = product;
        return null;
    }

    // ------------------------------------------------------------------ ranks

    /// <summary>The coordinates of <paramref name="rank"/>, one per axis in declaration order.</summary>
    public long[] Coordinates(long rank)
    {
        CheckRank(rank);
        var c = new long[_axes.Length];
        for (int i = _axes.Length - 1; i >= 0; i--)
        {
            c[i] = rank % _shape[i];
            rank /= _shape[i];
        }
        return c;
    }

    /// <summary>The rank at <paramref name="coordinates"/> (one per axis, in declaration order).</summary>
    public long RankOf(ReadOnlySpan<long> coordinates)
    {
        if (coordinates.Length != _axes.Length)
            throw new ArgumentException($"mesh '@{Name}' has {_axes.Length} axes, but {coordinates.Length} coordinates were given");
        long rank = 0;
        for (int i = 0; i < _axes.Length; i++)
        {
            if (coordinates[i] < 0 || coordinates[i] >= _shape[i])
                throw new ArgumentOutOfRangeException(nameof(coordinates), $"coordinate {coordinates[i]} is outside axis \"{_axes[i]}\" of size {_shape[i]}");
            rank = rank * _shape[i] + coordinates[i];
        }
        return rank;
    }

    // ------------------------------------------------------------------ groups

    /// <summary>G: the product of the sizes of <paramref name="axes"/> (each must be an axis of the mesh).</summary>
    public long GroupSize(IReadOnlyList<string> axes)
    {
        long g = 1;
        foreach (var a in axes) g *= SizeOf(a);
        return g;
    }

    /// <summary>The position of <paramref name="rank"/> in its group over <paramref name="axes"/>: its row-major index over those axes, in the order listed.</summary>
    public long GroupPosition(long rank, IReadOnlyList<string> axes)
    {
        var c = Coordinates(rank);
        long p = 0;
        foreach (var a in axes)
        {
            int i = AxisIndex(a);
            if (i < 0) throw new ArgumentException($"\"{a}\" is not an axis of mesh '@{Name}'");
            p = p * _shape[i] + c[i];
        }
        return p;
    }

    /// <summary>The ranks of <paramref name="rank"/>'s group over <paramref name="axes"/>, indexed by group position.</summary>
    public long[] GroupRanks(long rank, IReadOnlyList<string> axes)
    {
        var c = Coordinates(rank);
        var idx = axes.Select(a => AxisIndex(a) is var i and >= 0 ? i : throw new ArgumentException($"\"{a}\" is not an axis of mesh '@{Name}'")).ToArray();
        var ranks = new long[GroupSize(axes)];
        for (long p = 0; p < ranks.Length; p++)
        {
            long q = p;
            for (int k = idx.Length - 1; k >= 0; k--)
            {
                c[idx[k]] = q % _shape[idx[k]];
                q /= _shape[idx[k]];
            }
            ranks[p] = RankOf(c);
        }
        return ranks;
    }

    private void CheckRank(long rank)
    {
        if (rank < 0 || rank >= NumRanks)
            throw new ArgumentOutOfRangeException(nameof(rank), $"rank {rank} is outside mesh '@{Name}' of {NumRanks} ranks");
    }

    public override string ToString() =>
        $"@{Name} [{string.Join(", ", _axes.Select((a, i) => $"\"{a}\"={_shape[i]}"))}]";

    // ------------------------------------------------------------------ from the IR

    /// <summary>
    /// The op defining symbol <paramref name="name"/> in the symbol table nearest to
    /// <paramref name="from"/> (the closest enclosing op with the SymbolTable trait, usually the
    /// module), whatever its kind; null when there is none.
    /// </summary>
    public static Operation? FindSymbol(Operation from, string name)
    {
        var table = from.ParentOp;
        while (table is not null && !table.HasTrait(OpTraits.SymbolTable)) table = table.ParentOp;
        if (table is null || table.NumRegions == 0) return null;
        foreach (var op in table.Region(0).Ops)
            if (op.HasTrait(OpTraits.Symbol) && op.GetAttr("sym_name") is StringAttr s && s.Value == name) return op;
        return null;
    }

    /// <summary>The mesh <c>@name</c> as seen from <paramref name="from"/>; null when missing or invalid (the verifier says why).</summary>
    public static DeviceMesh? Lookup(Operation from, string name) =>
        FindSymbol(from, name) is { } op && TryRead(op, out var mesh, out _) ? mesh : null;

    /// <summary>The mesh a collective names in its <c>mesh</c> attribute; null when missing or invalid.</summary>
    public static DeviceMesh? Of(Operation op) =>
        op.GetAttr("mesh") is SymbolRefAttr s ? Lookup(op, s.Name) : null;

    /// <summary>Reads a <c>dist.mesh</c> op; false with the reason when it is not one or is malformed.</summary>
    public static bool TryRead(Operation meshOp, out DeviceMesh? mesh, out string error)
    {
        mesh = null;
        error = "";
        if (meshOp.Name != Mesh.Def.Name)
        {
            error = $"is a '{meshOp.Name}', not a '{Mesh.Def.Name}'";
            return false;
        }
        if (meshOp.GetAttr("sym_name") is not StringAttr name)
        {
            error = "requires attribute 'sym_name'";
            return false;
        }
        if (meshOp.GetAttr("axes") is not ArrayAttr axesAttr)
        {
            error = "requires attribute 'axes' (an array of axis names)";
            return false;
        }
        var axes = new string[axesAttr.Count];
        for (int i = 0; i < axes.Length; i++)
        {
            if (axesAttr[i] is not StringAttr s)
            {
                error = $"'axes' entry #{i} must be a string, but got {axesAttr[i]}";
                return false;
            }
            axes[i] = s.Value;
        }
        if ((meshOp.GetAttr("shape") as ArrayAttr)?.AsInts() is not { } shape)
        {
            error = "requires attribute 'shape' (an array of axis sizes)";
            return false;
        }
        if (Validate(axes, shape, out _) is { } why)
        {
            error = why;
            return false;
        }
        mesh = new DeviceMesh(name.Value, axes, shape);
        return true;
    }
}
