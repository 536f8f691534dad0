namespace AutoSpIR.Dialects.Tensor;

/// <summary>
/// <c>%dx = tensor.rope_grad %dy {theta = 10000.0} : tensor&lt;BxSxNxDxT&gt; -&gt; tensor&lt;BxSxNxDxT&gt;</c>,
/// <c>%dx = tensor.rope_grad %dy, %off {theta = 10000.0} : (tensor&lt;BxSxNxDxT&gt;, tensor&lt;i64&gt;) -&gt; tensor&lt;BxSxNxDxT&gt;</c>:
/// the gradient of <c>tensor.rope</c>, which is rope with the rotation reversed.
/// <para>
/// Operands: <c>grad_output</c> [B, S, N, D] (rank 4, floating-point, D even), the gradient of
/// the forward result, and the forward op's optional <c>offset</c> operand (a rank-0 i64 or i32
/// tensor). Attributes <c>theta</c> (required, &gt; 0) and <c>offset</c> (optional, default 0,
/// &gt;= 0): the forward op's. Result: the operand type.
/// </para>
/// <para>
/// Semantics: with p = offset (attribute) + offset (operand value, 0 without it) + s (not
/// negative, as for rope) and cos, sin the tables of <c>tensor.rope</c> (angle[p, i] =
/// p * theta^(-2i/D)), each pair (d, d + D/2), d &lt; D/2, is rotated by -angle: the transpose of
/// rope's rotation, so <c>dx[d] = dy[d] cos + dy[d + D/2] sin</c> and
/// <c>dx[d + D/2] = dy[d + D/2] cos - dy[d] sin</c>. Equivalently
/// <c>dx = dy * cos - rotate_half(dy) * sin</c>.
/// </para>
/// <para>Costs: 6 * numel FLOPs (the tables are not counted), as rope.</para>
/// <para>Sharding rule: rope's (B, N Parallel; S Positional; D NeedReplication; the offset operand a scalar).</para>
/// </summary>
public static class RopeGrad
{
    public static readonly OpDef Def = new()
    {
        Name = "tensor.rope_grad",
        Summary = "Rope with the rotation reversed: the gradient of tensor.rope.",
        // The offset operand is optional: declared variadic, the shape rule allows at most 2 operands.
        Operands = new[] { "grad_output" },
        VariadicOperands = true,
        Attributes = new[]
        {
            new AttrSpec("theta", AttrKind.Float, Required: true, Doc: "the forward op's frequency base"),
            new AttrSpec("offset", AttrKind.Integer, Doc: "the forward op's position of sequence row 0; default 0"),
        },
        Traits = OpTraits.Pure,
        InferResultTypes = s => Rope.Infer(s, "grad_output"),
        Flops = s => 6 * Dims.Numel(s.Tensor(0)!),
        ShardingRule = Rope.Sharding,
    };
}
