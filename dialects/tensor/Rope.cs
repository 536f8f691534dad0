namespace AutoSpIR.Dialects.Tensor;

/// <summary>
/// <c>%y = tensor.rope %x {theta = 10000.0} : tensor&lt;BxSxNxDxT&gt; -&gt; tensor&lt;BxSxNxDxT&gt;</c>,
/// <c>%y = tensor.rope %x {offset = 128, theta = 500000.0} : ...</c>:
/// rotary position embedding in the rotate-half convention of Hugging Face Llama.
/// <para>
/// Operand: <c>input</c> [B, S, N, D] (batch, sequence, heads, head dim; rank exactly 4)
/// with a floating-point element type; D must be even. Attributes: <c>theta</c> (number,
/// required, &gt; 0): the frequency base; <c>offset</c> (integer, optional, default 0,
/// &gt;= 0): the position of sequence row 0 (non-zero when the sequence is sharded).
/// Result: the input type.
/// </para>
/// <para>
/// Semantics: with p = offset + s, for i &lt; D/2 let inv_freq[i] = theta^(-2i/D) and
/// angle[p, i] = p * inv_freq[i]; cos[p, d] = cos(angle[p, d mod D/2]) and
/// sin[p, d] = sin(angle[p, d mod D/2]) (the D/2 angles repeated twice along D). Then
/// <c>y[b, s, n, :] = x[b, s, n, :] * cos[p, :] + rotate_half(x[b, s, n, :]) * sin[p, :]</c>
/// with <c>rotate_half(v) = concat(-v[D/2:], v[:D/2])</c>. Equivalently, for d &lt; D/2:
/// y[d] = x[d] cos - x[d + D/2] sin and y[d + D/2] = x[d + D/2] cos + x[d] sin.
/// </para>
/// <para>Costs: 6 * numel(input) FLOPs (the tables are not counted).</para>
/// <para>Gradient: <c>tensor.rope_grad</c> of dy (rope with the rotation reversed), same attributes.</para>
/// <para>Sharding rule: B and N are Parallel factors; S is Positional (the angle of row s is that of
/// the global position offset + s: a sequence shard needs its offset); D is NeedReplication (the
/// rotation pairs d with d + D/2): <c>([i, j, k, l])-&gt;([i, j, k, l]) need_replication={l} positional={j}</c>.</para>
/// </summary>
public static class Rope
{
    public static readonly OpDef Def = new()
    {
        Name = "tensor.rope",
        Summary = "Rotary position embedding (Hugging Face Llama rotate-half convention) over [B, S, N, D].",
        Operands = new[] { "input" },
        Attributes = new[]
        {
            new AttrSpec("theta", AttrKind.Float, Required: true, Doc: "the frequency base (10000.0 for Llama 2)"),
            new AttrSpec("offset", AttrKind.Integer, Doc: "the position of sequence row 0; default 0"),
        },
        Traits = OpTraits.Pure,
        InferResultTypes = Infer,
        Flops = s => 6 * Dims.Numel(s.Tensor(0)!),
        ShardingRule = Sharding,
        Gradient = g => new Value?[]
        {
            Grad.Op(g.Builder, RopeGrad.Def, new[] { g.Grad()! }, Grad.CopyAttrs(g.Op, "theta", "offset")),
        },
    };

    /// <summary>The angle of position <paramref name="p"/> for frequency <paramref name="i"/> &lt; D/2: p * theta^(-2i/D).</summary>
    public static double Angle(long p, int i, long headDim, double theta) => p * Math.Pow(theta, -2.0 * i / headDim);

    /// <summary>The rule of rope and rope_grad: B, N Parallel; S Positional; D NeedReplication.</summary>
    internal static ShardingRule? Sharding(OpState s)
    {
        if (s.Tensor(0) is not { Rank: 4 } x) return null;
        var b = new ShardingRuleBuilder();
        int bf = b.Factor(x.Dim(0)), sf = b.Factor(x.Dim(1), FactorKind.Positional);
        int nf = b.Factor(x.Dim(2)), df = b.Factor(x.Dim(3), FactorKind.NeedReplication);
        return b.Operand(bf, sf, nf, df).Result(bf, sf, nf, df).Build();
    }

    private static Type[]? Infer(OpState s)
    {
        if (!Dims.RequireFloatTensor(s, 0, out var x) || !Dims.RequireRank(s, 0, x, 4)) return null;
        long d = x.Dim(3);
        if (d != TensorType.Dynamic && d % 2 != 0)
            return s.Fail($"operand #0 ('input') has head dimension {d}, expected an even size (layout [B, S, N, D])");
        if (!Dims.RequireFloat(s, "theta", out var theta)) return null;
        if (!(theta > 0) || double.IsInfinity(theta))
            return s.Fail($"'theta' must be a finite number > 0, but is {Attribute.FormatFloat(theta)}");
        if (!Dims.OptionalInt(s, "offset", 0, out var offset)) return null;
        if (offset < 0) return s.Fail($"'offset' must be >= 0, but is {offset}");
        return new Type[] { x };
    }
}
