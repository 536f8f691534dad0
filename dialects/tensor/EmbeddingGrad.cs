namespace AutoSpIR.Dialects.Tensor;

/// <summary>
/// <c>%dtable = tensor.embedding_grad %dout, %ids {num_embeddings = 32} : (tensor&lt;2x8x16xf32&gt;, tensor&lt;2x8xi64&gt;) -&gt; tensor&lt;32x16xf32&gt;</c>:
/// the gradient of <c>tensor.embedding</c> with respect to its table (a scatter-add).
/// <para>
/// Operands: <c>grad_output</c> [..., H] (rank 1 or more, floating-point T), the gradient of
/// the forward result, and the forward <c>ids</c> (i32 or i64) with shape grad_output.shape
/// without its last dimension. Attribute <c>num_embeddings</c> (integer, required, &gt;= 0):
/// V, the rows of the forward table. Result: [V, H] of T.
/// </para>
/// <para>
/// Semantics: a [V, H] table of zeros into which every row of grad_output is added at its
/// id: <c>dtable[v, h] = sum over i... with ids[i...] = v of grad_output[i..., h]</c>, the
/// sums taken in row-major order of i. Every id must lie in [0, V) (as in the forward op,
/// otherwise the program is in error).
/// </para>
/// <para>Costs: numel(grad_output) FLOPs; bytes = ids and grad_output read, the table written.</para>
/// <para>Sharding rule: the ids dimensions (the leading dimensions of grad_output) are Reduction
/// factors (every position adds into the table: sharded, each shard's table is a partial sum);
/// H is Parallel; V, in the result only, is Positional: a rank holding rows [o, o + V/P) scatters
/// the ids in that range, which takes its global offset o. (The forward op's V is
/// NeedReplication: a gather reads rows by data-dependent ids.)</para>
/// </summary>
public static class EmbeddingGrad
{
    public static readonly OpDef Def = new()
    {
        Name = "tensor.embedding_grad",
        Summary = "Scatter-adds the rows of grad_output into a [V, H] zero table at their ids.",
        Operands = new[] { "grad_output", "ids" },
        Attributes = new[] { new AttrSpec("num_embeddings", AttrKind.Integer, Required: true, Doc: "V, the rows of the table") },
        Traits = OpTraits.Pure,
        InferResultTypes = Infer,
        Flops = s => Dims.Numel(s.Tensor(0)!),
        ShardingRule = Sharding,
    };

    private static ShardingRule? Sharding(OpState s)
    {
        if (s.Tensor(1) is not { } ids || s.Tensor(0) is not { } dout || dout.Rank != ids.Rank + 1 || s.ResultTypes.Count != 1
            || s.ResultTypes[0] is not TensorType { Rank: 2 } table) return null;
        var b = new ShardingRuleBuilder();
        var lead = b.FactorsOf(ids, FactorKind.Reduction);
        int h = b.Factor(dout.Dim(dout.Rank - 1)), v = b.Factor(table.Dim(0), FactorKind.Positional);
        return b.Operand(lead.Append(h).ToArray()).Operand(lead).Result(v, h).Build();
    }

    private static Type[]? Infer(OpState s)
    {
        if (!Dims.RequireFloatTensor(s, 0, out var dout) || !Dims.RequireMinRank(s, 0, dout, 1)) return null;
        if (!Dims.RequireIndexTensor(s, 1, out var ids)) return null;
        if (ids.Rank != dout.Rank - 1 || !ids.Shape.SequenceEqual(dout.Shape[..^1]))
            return s.Fail($"operand #1 ('ids') has shape {Dims.Text(ids.Shape)}, expected {Dims.Text(dout.Shape[..^1])} (the shape of operand #0 ('grad_output') without its last dimension)");
        if (!Dims.RequireInt(s, "num_embeddings", out var v)) return null;
        if (v < 0) return s.Fail($"'num_embeddings' must be >= 0, but is {v}");
        return new Type[] { s.Context.Tensor(new[] { v, dout.Dim(dout.Rank - 1) }, dout.Element) };
    }
}
