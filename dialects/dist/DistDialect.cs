namespace AutoSpIR.Dialects.Dist;

/// <summary>
/// The <c>dist</c> dialect: device meshes, shardings, and the communication between ranks.
/// <para>
/// Two views. In the GLOBAL view a value is the whole (single-device) tensor, and its type's
/// encoding says how it is distributed: <c>tensor&lt;1x8192x4096xbf16, #dist.sharding&lt;@mesh, [{}, {"sp"}, {}]&gt;&gt;</c>
/// (<see cref="ShardingAttr"/>); <c>dist.reshard</c> changes that distribution. In the LOCAL
/// (per-rank) view, after <c>dist-partition</c>, every rank runs the same program on its own
/// pieces (types carry no sharding) and the collectives move data between the ranks of a
/// group: <c>dist.all_reduce</c>, <c>dist.all_gather</c>, <c>dist.reduce_scatter</c>,
/// <c>dist.all_to_all</c>, <c>dist.shift</c>, and <c>dist.axis_index</c> for a rank's position.
/// </para>
/// <para>
/// A group is named by <c>{mesh = @mesh, axes = ["sp"]}</c> (<see cref="Group"/>): the ranks
/// sharing every mesh coordinate outside <c>axes</c>, ordered row-major over <c>axes</c> as
/// listed. Every collective is executed by all ranks of the mesh, each in its own group.
/// Meshes are resolved in the symbol table nearest to the op (the module): see
/// <see cref="DeviceMesh.Lookup"/>, <see cref="DeviceMesh.Of"/> and <see cref="Group.Of"/>.
/// </para>
/// <para>
/// Each collective declares <see cref="OpDef.CommBytes"/>: the bytes one rank sends in one
/// execution under the standard algorithm, given in its doc comment.
/// </para>
/// </summary>
public static class DistDialect
{
    public static readonly OpDef[] Ops =
    {
        Mesh.Def, Reshard.Def,
        AllReduce.Def, AllGather.Def, ReduceScatter.Def, AllToAll.Def, Shift.Def, AxisIndex.Def,
    };

    public static readonly Dialect Dialect = new("dist", "Device meshes, shardings and collectives.", Ops)
    {
        AttributeParser = ParseAttribute,
    };

    /// <summary>
    /// <c>#dist.sharding&lt;...&gt;</c> becomes a <see cref="ShardingAttr"/>; any other <c>#dist.*</c>
    /// attribute is an error, unless unregistered dialects are allowed, when it stays opaque.
    /// </summary>
    private static (Attribute?, string?) ParseAttribute(Context ctx, string name, string body)
    {
        if (name == ShardingAttr.AttrName) return ShardingAttr.Parse(ctx, body);
        if (ctx.AllowUnregisteredDialects) return (ctx.OpaqueAttr(name, body), null);
        return (null, $"unknown attribute '#{name}': the dist dialect defines #{ShardingAttr.AttrName}");
    }

    /// <summary>An <c>axes</c> attribute: <c>["dp", "sp"]</c>.</summary>
    public static ArrayAttr Axes(Context ctx, IEnumerable<string> axes) =>
        ctx.Array(axes.Select(a => (Attribute)ctx.String(a)).ToArray());

    /// <summary>Builds a one-operand collective over <paramref name="group"/> with the result type <paramref name="resultType"/> computes.</summary>
    internal static Value CreateCollective(Builder b, OpDef def, Value x, Group group, Func<OpState, Group, TensorType?> resultType,
        params (string Name, Attribute Value)[] extra)
    {
        var attrs = b.Attrs(new[] { ("mesh", (Attribute)b.Context.Symbol(group.Mesh.Name)), ("axes", Axes(b.Context, group.Axes)) }
            .Concat(extra).ToArray());
        var s = new OpState(b.Context, def, new[] { x.Type }, attrs);
        var type = resultType(s, group) ?? throw new InvalidOperationException(s.LastError);
        return b.Create(def.Name, new[] { x }, new Type[] { type }, attrs).Result(0);
    }
}
