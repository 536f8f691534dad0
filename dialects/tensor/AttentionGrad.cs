namespace AutoSpIR.Dialects.Tensor;

/// <summary>
/// <c>%d:3 = tensor.attention_grad %q, %k, %v, %do {causal} : (tensor&lt;BxSxHqxDxT&gt;, tensor&lt;BxTxHkvxDxT&gt;, tensor&lt;BxTxHkvxDvxT&gt;, tensor&lt;BxSxHqxDvxT&gt;) -&gt; (tensor&lt;BxSxHqxDxT&gt;, tensor&lt;BxTxHkvxDxT&gt;, tensor&lt;BxTxHkvxDvxT&gt;)</c>:
/// the gradients (dq, dk, dv) of <c>tensor.attention</c>, flash-attention style.
/// <para>
/// Operands: the forward <c>q</c>, <c>k</c>, <c>v</c> (as <c>tensor.attention</c> requires them)
/// and <c>grad_output</c> dO of the forward result's type [B, S, Hq, Dv]. Attributes
/// <c>causal</c> and <c>scale</c> (default 1/sqrt(D)): the forward op's. Results: dq, dk and
/// dv with the types of q, k and v.
/// </para>
/// <para>
/// Semantics: with g = h / (Hq / Hkv) and the attended keys j of query i as in
/// <c>tensor.attention</c>, for every (b, h, i) the softmax row is recomputed, one row at a time
/// (no S x T buffer): <c>s[j] = scale * q[b,i,h,:] . k[b,j,g,:]</c>, <c>p = softmax(s)</c>; then
/// <c>dp[j] = dO[b,i,h,:] . v[b,j,g,:]</c>, <c>ds[j] = p[j] * (dp[j] - sum_j' p[j'] dp[j'])</c>, and
/// <c>dq[b,i,h,:] = scale * sum_j ds[j] k[b,j,g,:]</c>,
/// <c>dk[b,j,g,:] += scale * ds[j] q[b,i,h,:]</c>, <c>dv[b,j,g,:] += p[j] dO[b,i,h,:]</c>:
/// the gradients of the query heads sharing a key/value head add up in dk and dv.
/// Keys a query does not attend to get nothing from it.
/// </para>
/// <para>
/// Costs: with pairs as in <see cref="Attention.Pairs"/>,
/// B * Hq * (6*pairs*D + 4*pairs*Dv + 8*pairs) FLOPs (QK^T again, dP, dV, dQ, dK, the softmax
/// and its gradient); bytes: q, k, v, dO read and dq, dk, dv written.
/// </para>
/// <para>
/// Sharding rule: the forward op's factors (q = [b, s, hkv·g, d], k = [b, t, hkv, d],
/// v = [b, t, hkv, e]; grad_output and dq, dk, dv as the tensors they are gradients of). b and hkv
/// are Parallel, d and t NeedReplication (each softmax row is recomputed whole). s, g and e are
/// Reduction: dk and dv sum over the query positions and the query heads of their group, and dq
/// and dk over the value dimension (through dP = dO v^T); sharded, those results are partial sums,
/// while the results that have the factor (dq: s and g; dv: e) are cut along it. Under
/// <c>causal</c> a query-sequence shard also needs its offset, as in the forward op (where s is
/// Positional):
/// <c>([i, j, kl, m], [i, n, k, m], [i, n, k, o], [i, j, kl, o])-&gt;([i, j, kl, m], [i, n, k, m], [i, n, k, o]) reduction={j, l, o} need_replication={m, n}</c>.
/// </para>
/// </summary>
public static class AttentionGrad
{
    public static readonly OpDef Def = new()
    {
        Name = "tensor.attention_grad",
        Summary = "The gradients (dq, dk, dv) of attention, recomputing the softmax row by row.",
        Operands = new[] { "q", "k", "v", "grad_output" },
        NumResults = 3,
        Attributes = new[]
        {
            new AttrSpec("causal", AttrKind.Unit, Doc: "the forward op's causal mask"),
            new AttrSpec("scale", AttrKind.Float, Doc: "the forward op's scale; default 1/sqrt(D)"),
        },
        Traits = OpTraits.Pure,
        InferResultTypes = Infer,
        Flops = Flops,
        ShardingRule = s => Attention.Sharding(s, backward: true),
    };

    private static long Flops(OpState s)
    {
        var q = s.Tensor(0)!;
        var k = s.Tensor(1)!;
        var v = s.Tensor(2)!;
        if (!q.IsStatic || !k.IsStatic || !v.IsStatic) return 0;
        long b = q.Dim(0), sq = q.Dim(1), hq = q.Dim(2), d = q.Dim(3), t = k.Dim(1), dv = v.Dim(3);
        long pairs = Attention.Pairs(sq, t, s.Flag("causal"));
        return b * hq * (6 * pairs * d + 4 * pairs * dv + 8 * pairs);
    }

    private static Type[]? Infer(OpState s)
    {
        if (Attention.CheckOperands(s) is not { } output) return null;
        var (q, k, v) = (s.Tensor(0)!, s.Tensor(1)!, s.Tensor(2)!);
        if (!s.RequireTensor(3, out var dout)) return null;
        if (!ReferenceEquals(dout, output))
            return s.Fail($"operand #3 ('grad_output') has type {dout}, expected {output} (the type of the attention result)");
        return new Type[] { q, k, v };
    }
}
