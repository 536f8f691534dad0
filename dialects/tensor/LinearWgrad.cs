namespace AutoSpIR.Dialects.Tensor;

/// <summary>
/// <c>%dw = tensor.linear_wgrad %dy, %x : (tensor&lt;2x8x32xf32&gt;, tensor&lt;2x8x16xf32&gt;) -&gt; tensor&lt;32x16xf32&gt;</c>:
/// the weight gradient of <c>tensor.linear</c>, contracting every leading dimension.
/// <para>
/// Operands: <c>grad_output</c> dy [..., N] and <c>input</c> x [..., K], of one rank (2 or more),
/// with equal leading dimensions and one floating-point element type T. Result: [N, K] of T.
/// </para>
/// <para>
/// Semantics: <c>dw[n, k] = sum over every leading position m of dy[m, n] * x[m, k]</c>, that is
/// dy2^T x2 with the leading dimensions flattened to M rows (dy2 [M, N], x2 [M, K]). With dy the
/// gradient of <c>y = linear(x, W)</c>, this is dL/dW.
/// </para>
/// <para>Costs: 2 * M * N * K FLOPs.</para>
/// <para>
/// Gradient, with G = d(dw) [N, K]: d(dy)[m, n] = sum_k G[n, k] x[m, k], that is
/// <c>linear(x, G)</c>; d(x)[m, k] = sum_n dy[m, n] G[n, k], that is <c>linear(dy, G^T)</c>.
/// </para>
/// <para>
/// Sharding rule: each leading dimension is its own Reduction factor, shared by dy and x (combined
/// by sum); N (dy and the result's rows) and K (x and the result's columns) are Parallel:
/// <c>([i, j, k], [i, j, l])-&gt;([k, l]) reduction={i, j}</c>. Unlike the flattened
/// reshape + transpose + matmul, batch and sequence stay two factors, so a sequence-sharded dy
/// and x give partial weight gradients directly.
/// </para>
/// </summary>
public static class LinearWgrad
{
    public static readonly OpDef Def = new()
    {
        Name = "tensor.linear_wgrad",
        Summary = "dW = dy^T x over every leading position: the weight gradient of tensor.linear.",
        Operands = new[] { "grad_output", "input" },
        Traits = OpTraits.Pure,
        InferResultTypes = Infer,
        Flops = s =>
        {
            var dy = s.Tensor(0)!;
            var x = s.Tensor(1)!;
            return 2 * Dims.Numel(dy) * Math.Max(0, x.Dim(x.Rank - 1));
        },
        ShardingRule = Sharding,
        Gradient = Gradient,
    };

    private static ShardingRule? Sharding(OpState s)
    {
        if (s.Tensor(0) is not { Rank: >= 2 } dy || s.Tensor(1) is not { } x || x.Rank != dy.Rank) return null;
        var b = new ShardingRuleBuilder();
        var lead = Enumerable.Range(0, dy.Rank - 1).Select(d => b.Factor(dy.Dim(d), FactorKind.Reduction)).ToArray();
        int n = b.Factor(dy.Dim(dy.Rank - 1)), k = b.Factor(x.Dim(x.Rank - 1));
        return b.Operand(lead.Append(n).ToArray()).Operand(lead.Append(k).ToArray()).Result(n, k).Build();
    }

    private static Value?[] Gradient(GradientContext g)
    {
        var b = g.Builder;
        Value dy = g.Operand(0), x = g.Operand(1), ddw = g.Grad()!;
        return new Value?[]
        {
            Grad.Op(b, Linear.Def, x, ddw),
            Grad.Op(b, Linear.Def, dy, Grad.Transpose(b, ddw, new long[] { 1, 0 })),
        };
    }

    private static Type[]? Infer(OpState s)
    {
        if (!Dims.RequireFloatTensor(s, 0, out var dy) || !Dims.RequireMinRank(s, 0, dy, 2)) return null;
        if (!s.RequireTensor(1, out var x) || !Dims.RequireSameElement(s, 1, x, dy)) return null;
        if (x.Rank != dy.Rank)
            return s.Fail($"operand #1 ('input') has rank {x.Rank} ({x}), expected {dy.Rank} (the rank of operand #0 ('grad_output'))");
        if (!x.Shape[..^1].SequenceEqual(dy.Shape[..^1]))
            return s.Fail($"operand #1 ('input') has leading dimensions {Dims.Text(x.Shape[..^1])}, expected {Dims.Text(dy.Shape[..^1])} (the leading dimensions of operand #0 ('grad_output'))");
        return new Type[] { s.Context.Tensor(new[] { dy.Dim(dy.Rank - 1), x.Dim(x.Rank - 1) }, dy.Element) };
    }
}
