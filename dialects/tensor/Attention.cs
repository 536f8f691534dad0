namespace AutoSpIR.Dialects.Tensor;

/// <summary>
/// <c>%o = tensor.attention %q, %k, %v {causal} : (tensor&lt;BxSxHqxDxT&gt;, tensor&lt;BxTxHkvxDxT&gt;, tensor&lt;BxTxHkvxDvxT&gt;) -&gt; tensor&lt;BxSxHqxDvxT&gt;</c>:
/// scaled dot-product attention with grouped-query heads, in the batch-sequence-heads-dim
/// layout of flash-attn.
/// <para>
/// Operands: <c>q</c> [B, S, Hq, D], <c>k</c> [B, T, Hkv, D], <c>v</c> [B, T, Hkv, Dv], all
/// rank 4 with one floating-point element type. Hkv must divide Hq (grouped-query attention;
/// Hkv = Hq is multi-head, Hkv = 1 multi-query) and T must be at least 1.
/// Attributes: <c>causal</c> (unit, optional); <c>scale</c> (number, optional, default
/// 1/sqrt(D)). Result: [B, S, Hq, Dv] of the element type.
/// </para>
/// <para>
/// Semantics: query head h reads key/value head g = h / (Hq / Hkv) (integer division).
/// Query position i attends to key position j when there is no <c>causal</c>, and under
/// <c>causal</c> iff j &lt;= i + (T - S) (the mask aligned to the bottom-right corner, as in
/// flash-attn; with S = T the usual lower-triangular mask); <c>causal</c> requires S &lt;= T,
/// so every query attends to at least key 0. Then
/// <c>s[j] = scale * sum_d q[b, i, h, d] * k[b, j, g, d]</c> over the attended j,
/// <c>p = softmax(s)</c> (numerically stable), and
/// <c>o[b, i, h, e] = sum_j p[j] * v[b, j, g, e]</c>.
/// </para>
/// <para>
/// Costs: with pairs the number of attended (i, j) (S*T, or <see cref="Pairs"/> under
/// <c>causal</c>): B * Hq * (2*pairs*D + 2*pairs*Dv + 5*pairs) FLOPs (QK^T, PV, softmax);
/// bytes = q, k, v read and the output written (flash-style: no S x T buffer).
/// </para>
/// <para>Gradient: <c>tensor.attention_grad</c> gives (dq, dk, dv), recomputing the softmax.</para>
/// <para>
/// Sharding rule: factors b (B), s (S), hkv (Hkv), g (Hq / Hkv), d (D), t (T), e (Dv):
/// q = [b, s, hkv·g, d], k = [b, t, hkv, d], v = [b, t, hkv, e], result = [b, s, hkv·g, e].
/// The query heads are two factors, the key/value head and the head within its group, so that
/// sharding the heads over P ranks (Ulysses) splits k and v consistently with q. b, hkv, g and e
/// are Parallel; s is Positional under <c>causal</c> (the mask compares global positions, so a
/// query shard needs its offset) and Parallel otherwise; d is NeedReplication (it is contracted
/// for the scores, but a softmax follows, which a partial sum cannot pass); t is NeedReplication
/// (the softmax runs over all keys):
/// <c>([i, j, kl, m], [i, n, k, m], [i, n, k, o])-&gt;([i, j, kl, o]) need_replication={m, n} positional={j}</c>.
/// </para>
/// </summary>
public static class Attention
{
    public static readonly OpDef Def = new()
    {
        Name = "tensor.attention",
        Summary = "Scaled dot-product attention, grouped-query heads, [B, S, H, D] layout.",
        Operands = new[] { "q", "k", "v" },
        Attributes = new[]
        {
            new AttrSpec("causal", AttrKind.Unit, Doc: "query i attends to key j only when j <= i + (T - S)"),
            new AttrSpec("scale", AttrKind.Float, Doc: "multiplies q k^T; default 1/sqrt(D)"),
        },
        Traits = OpTraits.Pure,
        InferResultTypes = Infer,
        Flops = Flops,
        ShardingRule = s => Sharding(s, backward: false),
        // Bytes: the default (operands read, result written) is the flash-style count.
        Gradient = g =>
        {
            var grads = g.Builder.Create(AttentionGrad.Def, new[] { g.Operand(0), g.Operand(1), g.Operand(2), g.Grad()! },
                g.Builder.Attrs(Grad.CopyAttrs(g.Op, "causal", "scale")));
            return new Value?[] { grads.Result(0), grads.Result(1), grads.Result(2) };
        },
    };

    /// <summary>The number of attended (query, key) pairs of one head: S*T, or under <c>causal</c> sum over i &lt; S of (i + T - S + 1).</summary>
    public static long Pairs(long s, long t, bool causal) =>
        !causal ? s * t : s * (t - s + 1) + s * (s - 1) / 2;

    /// <summary>The scale of an attention op: its <c>scale</c> attribute or 1/sqrt(D).</summary>
    public static double ScaleOf(Operation op) =>
        op.GetFloat("scale") ?? 1.0 / Math.Sqrt(((TensorType)op.Operand(0).Type).Dim(3));

    /// <summary>
    /// The rule of attention and (<paramref name="backward"/>) attention_grad: factors b, s, hkv, g,
    /// d, t, e as documented on each op; q, k, v (and grad_output) are the operands.
    /// </summary>
    internal static ShardingRule? Sharding(OpState s, bool backward)
    {
        if (s.Tensor(0) is not { Rank: 4 } q || s.Tensor(1) is not { Rank: 4 } k || s.Tensor(2) is not { Rank: 4 } v) return null;
        long hq = q.Dim(2), hkv = k.Dim(2);
        long group = hq == TensorType.Dynamic || hkv == TensorType.Dynamic ? TensorType.Dynamic : hkv == 0 ? 0 : hq / hkv;
        bool causal = s.Flag("causal");
        var fb = new ShardingRuleBuilder();
        // Backward: dk and dv sum over the query positions, the query heads of a group and (through
        // dP = dO v^T) the value dimension; dq has the first two (cut along them), dv the last.
        var summed = backward ? FactorKind.Reduction : FactorKind.Parallel;
        int b = fb.Factor(q.Dim(0));
        int sq = fb.Factor(q.Dim(1), backward ? FactorKind.Reduction : causal ? FactorKind.Positional : FactorKind.Parallel);
        int h = fb.Factor(hkv), g = fb.Factor(group, summed);
        int d = fb.Factor(q.Dim(3), FactorKind.NeedReplication);
        int t = fb.Factor(k.Dim(1), FactorKind.NeedReplication);
        int e = fb.Factor(v.Dim(3), summed);
        int[][] Q(int last) => new[] { new[] { b }, new[] { sq }, new[] { h, g }, new[] { last } };
        int[][] KV(int last) => new[] { new[] { b }, new[] { t }, new[] { h }, new[] { last } };
        fb.Operand(Q(d)).Operand(KV(d)).Operand(KV(e));
        if (!backward) return fb.Result(Q(e)).Build();
        if (s.OperandTypes.Count != 4) return null;
        return fb.Operand(Q(e)).Result(Q(d)).Result(KV(d)).Result(KV(e)).Build();
    }

    private static long Flops(OpState s)
    {
        var q = s.Tensor(0)!;
        var k = s.Tensor(1)!;
        var v = s.Tensor(2)!;
        if (!q.IsStatic || !k.IsStatic || !v.IsStatic) return 0;
        long b = q.Dim(0), sq = q.Dim(1), hq = q.Dim(2), d = q.Dim(3), t = k.Dim(1), dv = v.Dim(3);
        long pairs = Pairs(sq, t, s.Flag("causal"));
        return b * hq * (2 * pairs * d + 2 * pairs * dv + 5 * pairs);
    }

    private static Type[]? Infer(OpState s) => CheckOperands(s) is { } output ? new Type[] { output } : null;

    /// <summary>
    /// Checks q, k, v (operands #0-#2) as attention takes them and returns the type of the
    /// attention result, or null after reporting; tensor.attention_grad checks them the same way.
    /// </summary>
    internal static TensorType? CheckOperands(OpState s)
    {
        if (!Dims.RequireFloatTensor(s, 0, out var q) || !Dims.RequireRank(s, 0, q, 4)) return null;
        if (!s.RequireTensor(1, out var k) || !Dims.RequireRank(s, 1, k, 4) || !Dims.RequireSameElement(s, 1, k, q)) return null;
        if (!s.RequireTensor(2, out var v) || !Dims.RequireRank(s, 2, v, 4) || !Dims.RequireSameElement(s, 2, v, q)) return null;
        long b = q.Dim(0), sq = q.Dim(1), hq = q.Dim(2), d = q.Dim(3);
        long t = k.Dim(1), hkv = k.Dim(2);
        if (k.Dim(0) != b)
            return Fail(s, $"operand #1 ('k') has batch size {Dims.Text(k.Dim(0))}, expected {Dims.Text(b)} (the batch size of operand #0 ('q'))");
        if (v.Dim(0) != b)
            return Fail(s, $"operand #2 ('v') has batch size {Dims.Text(v.Dim(0))}, expected {Dims.Text(b)} (the batch size of operand #0 ('q'))");
        if (k.Dim(3) != d)
            return Fail(s, $"operand #1 ('k') has head dimension {Dims.Text(k.Dim(3))}, expected {Dims.Text(d)} (the head dimension of operand #0 ('q'))");
        if (v.Dim(1) != t)
            return Fail(s, $"operand #2 ('v') has sequence length {Dims.Text(v.Dim(1))}, expected {Dims.Text(t)} (the sequence length of operand #1 ('k'))");
        if (v.Dim(2) != hkv)
            return Fail(s, $"operand #2 ('v') has {Dims.Text(v.Dim(2))} heads, expected {Dims.Text(hkv)} (the heads of operand #1 ('k'))");
        if (t == 0) return Fail(s, "operand #1 ('k') has sequence length 0: attention needs at least one key");
        if (hkv == 0 || (hq != TensorType.Dynamic && hkv != TensorType.Dynamic && hq % hkv != 0))
            return Fail(s, $"operand #0 ('q') has {Dims.Text(hq)} heads, expected a multiple of the {Dims.Text(hkv)} key/value heads of operand #1 ('k')");
        if (s.Flag("causal") && sq != TensorType.Dynamic && t != TensorType.Dynamic && sq > t)
            return Fail(s, $"causal attention needs at most as many queries as keys, but operand #0 ('q') has sequence length {sq} and operand #1 ('k') {t}");
        if (s.Attr("scale") is { } scaleAttr && (s.Float("scale") is not { } scale || !double.IsFinite(scale)))
            return Fail(s, $"'scale' must be a finite number, but is {scaleAttr}");
        return s.Context.Tensor(new[] { b, sq, hq, v.Dim(3) }, q.Element);
    }

    private static TensorType? Fail(OpState s, string message)
    {
        s.Fail(message);
        return null;
    }
}
