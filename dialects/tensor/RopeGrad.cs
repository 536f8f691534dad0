namespace AutoSpIR.Dialects.Tensor;

/// <summary>
/// <c>%dx = tensor.rope_grad %dy {theta = 10000.0} : tensor&lt;BxSxNxDxT&gt; -&gt; tensor&lt;BxSxNxDxT&gt;</c>:
/// the gradient of <c>tensor.rope</c>, which is rope with the rotation reversed.
/// <para>
/// Operand: <c>grad_output</c> [B, S, N, D] (rank 4, floating-point, D even), the gradient of
/// the forward result. Attributes <c>theta</c> (required, &gt; 0) and <c>offset</c> (optional,
/// default 0, &gt;= 0): the forward op's. Result: the operand type.
/// </para>
/// <para>
/// Semantics: with p = offset + s and cos, sin the tables of <c>tensor.rope</c> (angle[p, i] =
/// p * theta^(-2i/D)), each pair (d, d + D/2), d &lt; D/2, is rotated by -angle: the transpose of
/// rope's rotation, so <c>dx[d] = dy[d] cos + dy[d + D/2] sin</c> and
/// <c>dx[d + D/2] = dy[d + D/2] cos - dy[d] sin</c>. Equivalently
/// <c>dx = dy * cos - rotate_half(dy) * sin</c>.
/// </para>
/// <para>Costs: 6 * numel FLOPs (the tables are not counted), as rope.</para>
/// <para>Sharding rule: rope's (B, N Parallel; S Positional; D NeedReplication).</para>
/// </summary>
public static class RopeGrad
{
    public static readonly OpDef Def = new()
    {
        Name = "tensor.rope_grad",
        Summary = "Rope with the rotation reversed: the gradient of tensor.rope.",
        Operands = new[] { "grad_output" },
        Attributes = new[]
        {
            new AttrSpec("theta", AttrKind.Float, Required: true, Doc: "the forward op's frequency base"),
            new AttrSpec("offset", AttrKind.Integer, Doc: "the forward op's position of sequence row 0; default 0"),
        },
        Traits = OpTraits.Pure,
        InferResultTypes = Infer,
        Flops = s => 6 * Dims.Numel(s.Tensor(0)!),
        ShardingRule = Rope.Sharding,
    };

    private static Type[]? Infer(OpState s)
    {
        if (!Dims.RequireFloatTensor(s, 0, out var x) || !Dims.RequireRank(s, 0, x, 4)) return null;
        long d = x.Dim(3);
        if (d != TensorType.Dynamic && d % 2 != 0)
            return s.Fail($"operand #0 ('grad_output') has head dimension {d}, expected an even size (layout [B, S, N, D])");
        if (!Dims.RequireFloat(s, "theta", out var theta)) return null;
        if (!(theta > 0) || double.IsInfinity(theta))
            return s.Fail($"'theta' must be a finite number > 0, but is {Attribute.FormatFloat(theta)}");
        if (!Dims.OptionalInt(s, "offset", 0, out var offset)) return null;
        if (offset < 0) return s.Fail($"'offset' must be >= 0, but is {offset}");
        return new Type[] { x };
    }
}
