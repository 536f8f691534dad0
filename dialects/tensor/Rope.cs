namespace AutoSpIR.Dialects.Tensor;

/// <summary>
/// <c>%y = tensor.rope %x {theta = 10000.0} : tensor&lt;BxSxNxDxT&gt; -&gt; tensor&lt;BxSxNxDxT&gt;</c>,
/// <c>%y = tensor.rope %x {offset = 128, theta = 500000.0} : ...</c>,
/// <c>%y = tensor.rope %x, %off {theta = 10000.0} : (tensor&lt;BxSxNxDxT&gt;, tensor&lt;i64&gt;) -&gt; tensor&lt;BxSxNxDxT&gt;</c>:
/// rotary position embedding in the rotate-half convention of Hugging Face Llama.
/// <para>
/// Operands: <c>input</c> [B, S, N, D] (batch, sequence, heads, head dim; rank exactly 4)
/// with a floating-point element type; D must be even; and an optional second operand
/// <c>offset</c>, a rank-0 tensor of i64 or i32: a position offset known only at run time (a
/// sequence shard's global start, from <c>dist.axis_index</c>). Attributes: <c>theta</c>
/// (number, required, &gt; 0): the frequency base; <c>offset</c> (integer, optional, default 0,
/// &gt;= 0): the position of sequence row 0 (non-zero when the sequence is sharded).
/// Result: the input type.
/// </para>
/// <para>
/// Semantics: with p = offset (the attribute) + offset (the operand's value, 0 without it) + s,
/// which must not be negative (a negative operand value that makes it so is an error of the
/// program, reported at run time), for i &lt; D/2 let inv_freq[i] = theta^(-2i/D) and
/// angle[p, i] = p * inv_freq[i]; cos[p, d] = cos(angle[p, d mod D/2]) and
/// sin[p, d] = sin(angle[p, d mod D/2]) (the D/2 angles repeated twice along D). Then
/// <c>y[b, s, n, :] = x[b, s, n, :] * cos[p, :] + rotate_half(x[b, s, n, :]) * sin[p, :]</c>
/// with <c>rotate_half(v) = concat(-v[D/2:], v[:D/2])</c>. Equivalently, for d &lt; D/2:
/// y[d] = x[d] cos - x[d + D/2] sin and y[d + D/2] = x[d + D/2] cos + x[d] sin.
/// </para>
/// <para>Costs: 6 * numel(input) FLOPs (the tables are not counted).</para>
/// <para>Gradient: <c>tensor.rope_grad</c> of dy (rope with the rotation reversed), same attributes
/// and the same offset operand, which gets no gradient (an integer).</para>
/// <para>Sharding rule: B and N are Parallel factors; S is Positional (the angle of row s is that of
/// the global position offset + s: a sequence shard needs its offset, which the offset operand
/// gives it); D is NeedReplication (the rotation pairs d with d + D/2); the offset operand is a
/// scalar (no factor): <c>([i, j, k, l])-&gt;([i, j, k, l]) need_replication={l} positional={j}</c>,
/// <c>([i, j, k, l], [])-&gt;([i, j, k, l]) ...</c> with it.</para>
/// </summary>
public static class Rope
{
    public static readonly OpDef Def = new()
    {
        Name = "tensor.rope",
        Summary = "Rotary position embedding (Hugging Face Llama rotate-half convention) over [B, S, N, D].",
        // The offset operand is optional: declared variadic, the shape rule allows at most 2 operands.
        Operands = new[] { "input" },
        VariadicOperands = true,
        Attributes = new[]
        {
            new AttrSpec("theta", AttrKind.Float, Required: true, Doc: "the frequency base (10000.0 for Llama 2)"),
            new AttrSpec("offset", AttrKind.Integer, Doc: "the position of sequence row 0; default 0"),
        },
        Traits = OpTraits.Pure,
        InferResultTypes = s => Infer(s, "input"),
        Flops = s => 6 * Dims.Numel(s.Tensor(0)!),
        ShardingRule = Sharding,
        Gradient = g => g.Op.NumOperands == 1
            ? new Value?[] { Grad.Op(g.Builder, RopeGrad.Def, new[] { g.Grad()! }, Grad.CopyAttrs(g.Op, "theta", "offset")) }
            : new Value?[] { Grad.Op(g.Builder, RopeGrad.Def, new[] { g.Grad()!, g.Operand(1) }, Grad.CopyAttrs(g.Op, "theta", "offset")), null },
    };

    /// <summary>The angle of position <paramref name="p"/> for frequency <paramref name="i"/> &lt; D/2: p * theta^(-2i/D).</summary>
    public static double Angle(long p, int i, long headDim, double theta) => p * Math.Pow(theta, -2.0 * i / headDim);

    /// <summary>The rule of rope and rope_grad: B, N Parallel; S Positional; D NeedReplication; the offset operand a scalar.</summary>
    internal static ShardingRule? Sharding(OpState s)
    {
        if (s.Tensor(0) is not { Rank: 4 } x) return null;
        var b = new ShardingRuleBuilder();
        int bf = b.Factor(x.Dim(0)), sf = b.Factor(x.Dim(1), FactorKind.Positional);
        int nf = b.Factor(x.Dim(2)), df = b.Factor(x.Dim(3), FactorKind.NeedReplication);
        b.Operand(bf, sf, nf, df);
        if (s.OperandTypes.Count == 2) b.Operand(Array.Empty<int[]>());
        return b.Result(bf, sf, nf, df).Build();
    }

    /// <summary>The position of sequence row 0 given by the <c>offset</c> attribute (default 0) of rope or rope_grad.</summary>
    public static long OffsetOf(Operation op) => op.GetInt("offset") ?? 0;

    /// <summary>The shape rule of rope and rope_grad (operand #0 named <paramref name="input"/>), with the optional offset operand.</summary>
    internal static Type[]? Infer(OpState s, string input)
    {
        int n = s.OperandTypes.Count;
        if (n > 2) return s.Fail($"expects at most 2 operands ({input}, offset), but got {n}");
        if (!Dims.RequireFloatTensor(s, 0, out var x) || !Dims.RequireRank(s, 0, x, 4)) return null;
        long d = x.Dim(3);
        if (d != TensorType.Dynamic && d % 2 != 0)
            return s.Fail($"operand #0 ('{input}') has head dimension {d}, expected an even size (layout [B, S, N, D])");
        // Operand names past the declared ones repeat the last name, so 'offset' is spelled out here.
        if (n == 2 && s.OperandTypes[1] is not TensorType { Rank: 0, Element.Kind: ScalarKind.I32 or ScalarKind.I64 })
            return s.Fail($"operand #1 ('offset') has type {s.OperandTypes[1]}, expected a rank-0 tensor of i64 or i32 (tensor<i64>)");
        if (!Dims.RequireFloat(s, "theta", out var theta)) return null;
        if (!(theta > 0) || double.IsInfinity(theta))
            return s.Fail($"'theta' must be a finite number > 0, but is {Attribute.FormatFloat(theta)}");
        if (!Dims.OptionalInt(s, "offset", 0, out var offset)) return null;
        if (offset < 0) return s.Fail($"'offset' must be >= 0, but is {offset}");
        return new Type[] { x };
    }
}
