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
        if (!Dims.RequireFloatTensor(s, 0, out var q) || !Dims.RequireRank(s, 0, q, 4)) return null;
        if (!s.RequireTensor(1, out var k) || !Dims.RequireRank(s, 1, k, 4) || !Dims.RequireSameElement(s, 1, k, q)) return null;
        if (!s.RequireTensor(2, out var v) || !Dims.RequireRank(s, 2, v, 4) || !Dims.RequireSameElement(s, 2, v, q)) return null;
        long b = q.Dim(0), sq = q.Dim(1), hq = q.Dim(2), d = q.Dim(3);
        long t = k.Dim(1), hkv = k.Dim(2);
        if (k.Dim(0) != b)
            return s.Fail($"operand #1 ('k') has batch size {Dims.Text(k.Dim(0))}, expected {Dims.Text(b)} (the batch size of operand #0 ('q'))");
        if (v.Dim(0) != b)
            return s.Fail($"operand #2 ('v') has batch size {Dims.Text(v.Dim(0))}, expected {Dims.Text(b)} (the batch size of operand #0 ('q'))");
        if (k.Dim(3) != d)
            return s.Fail($"operand #1 ('k') has head dimension {Dims.Text(k.Dim(3))}, expected {Dims.Text(d)} (the head dimension of operand #0 ('q'))");
        if (v.Dim(1) != t)
            return s.Fail($"operand #2 ('v') has sequence length {Dims.Text(v.Dim(1))}, expected {Dims.Text(t)} (the sequence length of operand #1 ('k'))");
        if (v.Dim(2) != hkv)
            return s.Fail($"operand #2 ('v') has {Dims.Text(v.Dim(2))} heads, expected {Dims.Text(hkv)} (the heads of operand #1 ('k'))");
        if (t == 0) return s.Fail("operand #1 ('k') has sequence length 0: attention needs at least one key");
        if (hkv == 0 || (hq != TensorType.Dynamic && hkv != TensorType.Dynamic && hq % hkv != 0))
            return s.Fail($"operand #0 ('q') has {Dims.Text(hq)} heads, expected a multiple of the {Dims.Text(hkv)} key/value heads of operand #1 ('k')");
        if (s.Flag("causal") && sq != TensorType.Dynamic && t != TensorType.Dynamic && sq > t)
            return s.Fail($"causal attention needs at most as many queries as keys, but operand #0 ('q') has sequence length {sq} and operand #1 ('k') {t}");
        if (s.Attr("scale") is { } scaleAttr && (s.Float("scale") is not { } scale || !double.IsFinite(scale)))
            return s.Fail($"'scale' must be a finite number, but is {scaleAttr}");
        var output = s.Context.Tensor(new[] { b, sq, hq, v.Dim(3) }, q.Element);
        if (!s.RequireTensor(3, out var dout)) return null;
        if (!ReferenceEquals(dout, output))
            return s.Fail($"operand #3 ('grad_output') has type {dout}, expected {output} (the type of the attention result)");
        return new Type[] { q, k, v };
    }
}
