namespace AutoSpIR.Dialects.Dist;

/// <summary>
/// The group of ranks a collective works over, as its <c>{mesh = @mesh, axes = ["sp"]}</c>
/// attributes name it: the ranks that share every mesh coordinate except those of
/// <c>axes</c>. G (<see cref="Size"/>) is the product of those axes' sizes; a rank's position
/// in its group is its row-major index over <c>axes</c> in the order listed
/// (<see cref="DeviceMesh.GroupPosition"/>).
/// </summary>
public sealed class Group
{
    private Group(DeviceMesh mesh, string[] axes)
    {
        Mesh = mesh;
        Axes = axes;
        Size = mesh.GroupSize(axes);
    }

    public DeviceMesh Mesh { get; }
    public IReadOnlyList<string> Axes { get; }
    /// <summary>G: the number of ranks in each group.</summary>
    public long Size { get; }

    /// <summary>The position of <paramref name="rank"/> in its group, 0..G-1.</summary>
    public long PositionOf(long rank) => Mesh.GroupPosition(rank, Axes);

    /// <summary>The ranks of <paramref name="rank"/>'s group, indexed by position.</summary>
    public long[] RanksOf(long rank) => Mesh.GroupRanks(rank, Axes);

    /// <summary>The group over <paramref name="axes"/> of <paramref name="mesh"/>; throws <see cref="ArgumentException"/> when an axis is unknown or repeated, or none is given.</summary>
    public static Group Get(DeviceMesh mesh, IReadOnlyList<string> axes)
    {
        if (axes.Count == 0) throw new ArgumentException("a group needs at least one axis");
        if (axes.Distinct(StringComparer.Ordinal).Count() != axes.Count) throw new ArgumentException($"axes {DistVerify.AxesText(axes)} repeat an axis");
        foreach (var a in axes)
            if (!mesh.HasAxis(a)) throw new ArgumentException($"\"{a}\" is not an axis of mesh '@{mesh.Name}'");
        return new Group(mesh, axes.ToArray());
    }

    /// <summary>The group of a collective, or null when its mesh or axes do not resolve (unverified IR).</summary>
    public static Group? Of(Operation op)
    {
        if (DeviceMesh.Of(op) is not { } mesh || ReadAxes(op.GetAttr("axes"), out _) is not { } axes) return null;
        return axes.All(mesh.HasAxis) ? new Group(mesh, axes) : null;
    }

    /// <summary>The group of a verified collective; throws <see cref="InvalidOperationException"/> when it does not resolve.</summary>
    public static Group Require(Operation op) =>
        Of(op) ?? throw new InvalidOperationException($"'{op.Name}' op: its mesh and axes do not resolve to a group (verify the IR first)");

    /// <summary>The attribute specs every collective declares.</summary>
    public static readonly AttrSpec MeshSpec = new("mesh", AttrKind.Symbol, Required: true, Doc: "the dist.mesh the group lives on");
    public static readonly AttrSpec AxesSpec = new("axes", AttrKind.Array, Required: true, Doc: "the mesh axes spanning the group, in position order");

    /// <summary>
    /// Checks <c>mesh</c> and <c>axes</c>: the mesh resolves, the axes are non-empty, unique
    /// strings naming axes of the mesh. Reports through <paramref name="s"/> and returns false on error.
    /// </summary>
    public static bool Verify(Operation op, OpState s, out Group group)
    {
        group = null!;
        if (ReadAxes(s.Attr("axes"), out var why) is not { } axes) return s.Error(why);
        if (s.Attr("mesh") is not SymbolRefAttr meshRef) return s.Error($"attribute 'mesh' must be a symbol reference, but got {s.Attr("mesh")}");
        if (!DistVerify.ResolveMesh(op, s, meshRef.Name, out var mesh)) return false;
        foreach (var a in axes)
            if (!mesh.HasAxis(a))
                return s.Error($"axis \"{a}\" is not an axis of mesh '@{mesh.Name}' (its axes: {DistVerify.AxesText(mesh.Axes)})");
        group = new Group(mesh, axes);
        return true;
    }

    /// <summary>The <c>axes</c> attribute as names, or null with the reason.</summary>
    private static string[]? ReadAxes(Attribute? attr, out string why)
    {
        why = "";
        if (attr is not ArrayAttr arr)
        {
            why = attr is null ? "requires attribute 'axes'" : $"attribute 'axes' must be an array of axis names, but got {attr}";
            return null;
        }
        if (arr.Count == 0)
        {
            why = "attribute 'axes' must name at least one mesh axis";
            return null;
        }
        var axes = new string[arr.Count];
        for (int i = 0; i < axes.Length; i++)
        {
            if (arr[i] is not StringAttr { Value.Length: > 0 } str)
            {
                why = $"'axes' entry #{i} must be a non-empty string (an axis name), but got {arr[i]}";
                return null;
            }
            if (Array.IndexOf(axes, str.Value, 0, i) >= 0)
            {
                why = $"'axes' names axis \"{str.Value}\" twice";
                return null;
            }
            axes[i] = str.Value;
        }
        return axes;
    }

    public override string ToString() => $"{DistVerify.AxesText(Axes)} of {Mesh}";
}

/// <summary>Checks the dist ops share: meshes, sharded types, local operands, declared results.</summary>
public static class DistVerify
{
    /// <summary>Resolves mesh <c>@name</c> from <paramref name="op"/>, or reports why it does not resolve.</summary>
    public static bool ResolveMesh(Operation op, OpState s, string name, out DeviceMesh mesh)
    {
        mesh = null!;
        var sym = DeviceMesh.FindSymbol(op, name);
        if (sym is null)
            return s.Error($"mesh '@{name}' is not defined: no 'dist.mesh @{name}' in the enclosing module");
        if (!DeviceMesh.TryRead(sym, out var m, out var error))
            return s.Error(sym.Name == Mesh.Def.Name
                ? $"mesh '@{name}' is not a valid dist.mesh: {error}"
                : $"symbol '@{name}' {error}");
        mesh = m!;
        return true;
    }

    /// <summary>
    /// Checks the encoding of <paramref name="t"/> (<paramref name="what"/> names the value) from
    /// <paramref name="op"/>: absent, or a <see cref="ShardingAttr"/> with one entry per dimension
    /// whose mesh resolves, whose axes are the mesh's, and whose split static sizes are at least 1.
    /// A size its shard count does not divide is fine: it is padded (<see cref="ShardingAttr"/>);
    /// whether the program is pad-safe is the partitioner's question, not the verifier's.
    /// </summary>
    public static bool CheckType(Operation op, OpState s, TensorType t, string what)
    {
        if (t.Encoding is null) return true;
        if (t.Encoding is not ShardingAttr sh)
            return s.Error($"{what} has the encoding {t.Encoding}; a dist op accepts a #dist.sharding or none");
        if (sh.Rank != t.Rank)
            return s.Error($"{what} has rank {t.Rank}, but its sharding has {sh.Rank} dimension entr{(sh.Rank == 1 ? "y" : "ies")}");
        if (!ResolveMesh(op, s, sh.Mesh, out var mesh)) return false;
        foreach (var a in sh.UsedAxes)
            if (!mesh.HasAxis(a))
                return s.Error($"{what}: axis \"{a}\" of its sharding is not an axis of mesh '@{mesh.Name}' (its axes: {AxesText(mesh.Axes)})");
        if (!sh.TryLocalShape(t.Shape, mesh.AxisSizes, out _, out var error))
            return s.Error($"{what} ({t}): {error}");
        return true;
    }

    /// <summary>Operand #i as a tensor of the local (per-rank) view: any tensor without a #dist.sharding encoding.</summary>
    public static bool RequireLocalTensor(OpState s, int i, out TensorType t)
    {
        if (!s.RequireTensor(i, out t)) return false;
        if (t.Encoding is not ShardingAttr) return true;
        return s.Error($"operand #{i} ('{s.OperandName(i)}') has a #dist.sharding encoding, but collectives work on per-rank (local) values; "
                       + "in the global view use dist.reshard");
    }

    /// <summary>Fails unless the op's single result has type <paramref name="expected"/> (for ops whose shape rule needs the mesh).</summary>
    public static bool RequireResult(Operation op, OpState s, Type expected)
    {
        if (ReferenceEquals(op.Result(0).Type, expected)) return true;
        return s.Error($"result #0 has type {op.Result(0).Type}, but the operands imply {expected}");
    }

    /// <summary><paramref name="n"/> * <paramref name="g"/> for a size (dynamic stays dynamic), or false when it overflows.</summary>
    public static bool TryScale(long n, long g, out long product)
    {
        product = n;
        if (n == TensorType.Dynamic) return true;
        if (g != 0 && n > long.MaxValue / g) return false;
        product = n * g;
        return true;
    }

    /// <summary>Axis names as text: <c>["dp", "sp"]</c>.</summary>
    public static string AxesText(IEnumerable<string> axes) => "[" + string.Join(", ", axes.Select(a => $"\"{a}\"")) + "]";

    /// <summary>The bytes of a tensor type for the CommBytes formulas (0 when a size is dynamic).</summary>
    internal static long BytesOf(Type t) => Math.Max(0, (t as TensorType)?.ByteSize ?? 0);

    /// <summary><paramref name="value"/> as a long, saturating (the formulas multiply before dividing).</summary>
    internal static long Saturate(Int128 value) => value > long.MaxValue ? long.MaxValue : (long)value;
}
