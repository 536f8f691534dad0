namespace AutoSpIR.Dialects.Dist;

/// <summary>
/// <c>%y = dist.reshard %x : tensor&lt;8x4xf32, #dist.sharding&lt;@mesh, [{"sp"}, {}]&gt;&gt; -&gt; tensor&lt;8x4xf32, #dist.sharding&lt;@mesh, [{}, {}]&gt;&gt;</c>:
/// the same value in the GLOBAL view with another distribution over the mesh.
/// <para>
/// Operand and result: tensors of one shape and element type (any); each encoding is a
/// <c>#dist.sharding</c> or absent (absent: no sharding decided; the partitioner treats it as
/// replicated). When both are present they name the same mesh. Each sharding is checked
/// against its mesh: the mesh is defined in the enclosing module, its axes are mesh axes,
/// it has one entry per dimension, and every split static size is at least 1. A size its
/// shard count does not divide is padded at the end to a multiple of it (every shard holds
/// ceil(n/K) positions; see <see cref="ShardingAttr"/>).
/// </para>
/// <para>
/// Semantics: the identity on the global value; only where its pieces live changes. Padding is
/// not part of the value: a reshard from or to a padded sharding moves only the real positions,
/// and what the result's padding holds is unspecified.
/// <c>dist-partition</c> lowers it to collectives (Shard -&gt; Replicate = all_gather,
/// Partial -&gt; Replicate = all_reduce, Partial -&gt; Shard = reduce_scatter,
/// Shard(i) -&gt; Shard(j) = all_to_all), on padded shards where a dimension is padded (with a
/// slice dropping the padding after an all_gather, a pad adding it before a reduce_scatter).
/// </para>
/// <para>
/// Costs: 0 FLOPs; bytes = operand read + result written; no CommBytes (the cost is that of the
/// collectives it becomes). Folds: to its operand when the types are equal;
/// <c>reshard(reshard(x : A -&gt; B) : B -&gt; A)</c> to <c>x</c>.
/// </para>
/// <para>Gradient: dy resharded back to the operand's type (B -&gt; A).</para>
/// </summary>
public static class Reshard
{
    public static readonly OpDef Def = new()
    {
        SeesEncodings = true,
        Name = "dist.reshard",
        Summary = "Changes the sharding of a value of the global view; the value itself is unchanged.",
        Operands = new[] { "input" },
        Traits = OpTraits.Pure,
        Verify = Verify,
        Flops = _ => 0,
        Fold = Fold,
        Gradient = Gradient,
    };

    // The identity on the global value: dx = dy, distributed as x is.
    private static Value?[] Gradient(GradientContext g) => new Value?[]
    {
        g.Builder.Create(Def.Name, new[] { g.Grad()! }, new[] { g.Operand(0).Type }).Result(0),
    };

    /// <summary>Builds <c>dist.reshard</c> of <paramref name="x"/> to <paramref name="x"/>'s shape with <paramref name="sharding"/> (null: none).</summary>
    public static Value Create(Builder b, Value x, ShardingAttr? sharding) =>
        b.Create(Def.Name, new[] { x }, new Type[] { b.Context.WithEncoding((TensorType)x.Type, sharding) }).Result(0);

    // reshard(x : A -> A) -> x;  reshard(reshard(x : A -> B) : B -> A) -> x
    private static FoldResult? Fold(Operation op, Attribute?[] _)
    {
        var x = op.Operand(0);
        if (ReferenceEquals(x.Type, op.Result(0).Type)) return FoldResult.Of(x);
        if (x.DefiningOp is { Name: "dist.reshard" } inner && ReferenceEquals(inner.Operand(0).Type, op.Result(0).Type))
            return FoldResult.Of(inner.Operand(0));
        return null;
    }

    private static bool Verify(Operation op, OpState s)
    {
        if (!s.RequireTensor(0, out var x)) return false;
        if (op.Result(0).Type is not TensorType y) return s.Error($"result #0 must be a tensor, but has type {op.Result(0).Type}");
        if (x.Element != y.Element || !x.Shape.SequenceEqual(y.Shape))
            return s.Error($"result must have the operand's shape and element type ({s.Context.WithEncoding(x, null)}), "
                           + $"but has {s.Context.WithEncoding(y, null)}; a reshard changes only the distribution");
        if (!DistVerify.CheckType(op, s, x, "operand #0 ('input')")) return false;
        if (!DistVerify.CheckType(op, s, y, "result #0")) return false;
        if (ShardingAttr.Of(x) is { } a && ShardingAttr.Of(y) is { } b && a.Mesh != b.Mesh)
            return s.Error($"operand is sharded over mesh '@{a.Mesh}' but the result over '@{b.Mesh}'; a reshard stays on one mesh");
        return true;
    }
}
