namespace AutoSpIR.Dialects.Tensor;

/// <summary>
/// <c>%dx, %dw = tensor.rms_norm_grad %x, %w, %dy {eps = 1.0e-05} : (tensor&lt;2x16x64xf32&gt;, tensor&lt;64xf32&gt;, tensor&lt;2x16x64xf32&gt;) -&gt; (tensor&lt;2x16x64xf32&gt;, tensor&lt;64xf32&gt;)</c>:
/// the gradients of <c>tensor.rms_norm</c> with respect to its input and its weight.
/// <para>
/// Operands: the forward <c>input</c> x [..., H] (rank 1 or more, floating-point T), its
/// <c>weight</c> w [H] of T, and <c>grad_output</c> dy of x's type. Attribute <c>eps</c> (number,
/// required, &gt;= 0), the forward op's. Results: dx of x's type and dw of w's type.
/// </para>
/// <para>
/// Semantics, for every row x = input[i..., :] with dy its row of grad_output and
/// r = rsqrt(mean_k(x[k]^2) + eps):
/// <c>dx[h] = r * w[h] * dy[h] - x[h] * r^3 / H * sum_k(dy[k] * w[k] * x[k])</c>, and
/// <c>dw[h] = sum over all rows of dy[h] * x[h] * r</c>.
/// </para>
/// <para>Costs: 8 * numel(input) FLOPs.</para>
/// <para>Sharding rule: as rms_norm's, H NeedReplication, but the leading dimensions are Reduction
/// factors: dx has them (cut along them as usual), dweight sums over them (sharded, it is a partial
/// sum): <c>([i, j, k], [k], [i, j, k])-&gt;([i, j, k], [k]) reduction={i, j} need_replication={k}</c>.</para>
/// </summary>
public static class RmsNormGrad
{
    public static readonly OpDef Def = new()
    {
        Name = "tensor.rms_norm_grad",
        Summary = "The gradients (dx, dweight) of rms_norm.",
        Operands = new[] { "input", "weight", "grad_output" },
        NumResults = 2,
        Attributes = new[] { new AttrSpec("eps", AttrKind.Float, Required: true, Doc: "the forward op's eps") },
        Traits = OpTraits.Pure,
        InferResultTypes = Infer,
        Flops = s => 8 * Dims.Numel(s.Tensor(0)!),
        ShardingRule = s => RmsNorm.Sharding(s, FactorKind.Reduction),
    };

    private static Type[]? Infer(OpState s)
    {
        if (RmsNorm.CheckOperands(s) is not var (x, w)) return null;
        if (!s.RequireTensor(2, out var dy)) return null;
        if (!ReferenceEquals(dy, x))
            return s.Fail($"operand #2 ('grad_output') has type {dy}, expected {x} (the type of operand #0 ('input'))");
        return RmsNorm.CheckEps(s) ? new Type[] { x, w } : null;
    }
}
