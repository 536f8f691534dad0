namespace AutoSpIR.Dialects.Tensor;

/// <summary>
/// <c>%h = tensor.embedding %table, %ids : (tensor&lt;VxHxT&gt;, tensor&lt;...xi64&gt;) -&gt; tensor&lt;...xHxT&gt;</c>:
/// a table lookup (<c>torch.nn.functional.embedding</c>).
/// <para>
/// Operands: <c>table</c> of shape [V, H] with a floating-point element type T, and
/// <c>ids</c> of any rank (rank 0 included) with element type i32 or i64.
/// Result: shape ids.shape ++ [H], element type T.
/// Semantics: <c>out[i..., h] = table[ids[i...], h]</c>. Every id must lie in [0, V);
/// an id outside that range is an error of the program (the reference interpreter
/// reports it; it is not clamped or wrapped).
/// </para>
/// <para>Costs: 0 FLOPs; bytes = ids read + the gathered rows read + the result written
/// (ids bytes + 2 * result bytes): the table is not read whole.</para>
/// <para>Gradient: the table's is <c>tensor.embedding_grad</c> (a scatter-add of d(out) into a
/// [V, H] zero table); the ids get none.</para>
/// <para>Sharding rule: the ids dimensions are Parallel factors (shared with the leading result
/// dimensions), H a Parallel factor, the table rows V a NeedReplication factor (a gather by
/// data-dependent ids): <c>([i, j], [k, l])-&gt;([k, l, j]) {i=V, j=H} need_replication={i}</c>.</para>
/// </summary>
public static class Embedding
{
    public static readonly OpDef Def = new()
    {
        Name = "tensor.embedding",
        Summary = "Gathers rows of an embedding table by integer ids.",
        Operands = new[] { "table", "ids" },
        Traits = OpTraits.Pure,
        InferResultTypes = Infer,
        Flops = _ => 0,
        Bytes = s => Math.Max(0, s.Tensor(1)?.ByteSize ?? 0) + 2 * Math.Max(0, s.ResultTensor(0).ByteSize),
        Gradient = g => new Value?[]
        {
            Grad.Op(g.Builder, EmbeddingGrad.Def, new[] { g.Grad()!, g.Operand(1) },
                ("num_embeddings", g.Context.Integer(((TensorType)g.Operand(0).Type).Dim(0)))),
            null,
        },
        ShardingRule = Sharding,
    };

    private static ShardingRule? Sharding(OpState s)
    {
        if (s.Tensor(0) is not { Rank: 2 } table || s.Tensor(1) is not { } ids) return null;
        var b = new ShardingRuleBuilder();
        int v = b.Factor(table.Dim(0), FactorKind.NeedReplication), h = b.Factor(table.Dim(1));
        var lead = b.FactorsOf(ids);
        return b.Operand(v, h).Operand(lead).Result(lead.Append(h).ToArray()).Build();
    }

    private static Type[]? Infer(OpState s)
    {
        if (!Dims.RequireFloatTensor(s, 0, out var table) || !Dims.RequireRank(s, 0, table, 2)) return null;
        if (!Dims.RequireIndexTensor(s, 1, out var ids)) return null;
        var shape = new long[ids.Rank + 1];
        ids.Shape.CopyTo(shape);
        shape[^1] = table.Dim(1);
        return new Type[] { s.Context.Tensor(shape, table.Element) };
    }
}
