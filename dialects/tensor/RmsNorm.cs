namespace AutoSpIR.Dialects.Tensor;

/// <summary>
/// <c>%y = tensor.rms_norm %x, %w {eps = 1.0e-05} : (tensor&lt;2x16x64xf32&gt;, tensor&lt;64xf32&gt;) -&gt; tensor&lt;2x16x64xf32&gt;</c>:
/// root-mean-square normalization over the last dimension (Hugging Face <c>LlamaRMSNorm</c>).
/// <para>
/// Operands: <c>input</c> [..., H] (rank 1 or more) with a floating-point element type T and
/// <c>weight</c> [H] of T. Attribute <c>eps</c> (number, required, &gt;= 0). Result: the input type.
/// Semantics, for every row x = input[i..., :]:
/// <c>y[i..., h] = x[h] * rsqrt(mean_k(x[k]^2) + eps) * weight[h]</c>, the mean over the H
/// elements of the last dimension.
/// </para>
/// <para>Costs: 4 * numel(input) FLOPs (square, sum, scale, weight).</para>
/// <para>Gradient: <c>tensor.rms_norm_grad</c> gives both (d input, d weight).</para>
/// <para>Sharding rule: the leading dimensions are Parallel factors; H is a NeedReplication factor
/// (the mean square runs over the whole row), shared with the weight:
/// <c>([i, j, k], [k])-&gt;([i, j, k]) need_replication={k}</c>.</para>
/// </summary>
public static class RmsNorm
{
    public static readonly OpDef Def = new()
    {
        Name = "tensor.rms_norm",
        Summary = "x * rsqrt(mean(x^2, last dim) + eps) * weight (LlamaRMSNorm).",
        Operands = new[] { "input", "weight" },
        Attributes = new[] { new AttrSpec("eps", AttrKind.Float, Required: true, Doc: "added to the mean square before the rsqrt") },
        Traits = OpTraits.Pure,
        InferResultTypes = Infer,
        Flops = s => 4 * Dims.Numel(s.Tensor(0)!),
        ShardingRule = s => Sharding(s, FactorKind.Parallel),
        Gradient = g =>
        {
            var grads = g.Builder.Create(RmsNormGrad.Def, new[] { g.Operand(0), g.Operand(1), g.Grad()! },
                g.Builder.Attrs(Grad.CopyAttrs(g.Op, "eps")));
            return new Value?[] { grads.Result(0), grads.Result(1) };
        },
    };

    /// <summary>
    /// The rule of rms_norm (leading dimensions <paramref name="rows"/> = Parallel) and of
    /// rms_norm_grad (Reduction: dweight sums over the rows), H NeedReplication in both.
    /// </summary>
    internal static ShardingRule? Sharding(OpState s, FactorKind rows)
    {
        if (s.Tensor(0) is not { Rank: >= 1 } x || s.Tensor(1) is not { Rank: 1 }) return null;
        var b = new ShardingRuleBuilder();
        var lead = Enumerable.Range(0, x.Rank - 1).Select(d => b.Factor(x.Dim(d), rows)).ToArray();
        int h = b.Factor(x.Dim(x.Rank - 1), FactorKind.NeedReplication);
        var full = lead.Append(h).ToArray();
        b.Operand(full).Operand(h);
        if (s.OperandTypes.Count == 3) b.Operand(full);   // rms_norm_grad: grad_output
        b.Result(full);
        if (s.ResultTypes.Count == 2) b.Result(h);          // rms_norm_grad: dweight
        return b.Build();
    }

    private static Type[]? Infer(OpState s) =>
        CheckOperands(s) is var (x, _) && CheckEps(s) ? new Type[] { x } : null;

    /// <summary>Checks input (#0) and weight (#1) as rms_norm takes them; tensor.rms_norm_grad checks them the same way.</summary>
    internal static (TensorType X, TensorType W)? CheckOperands(OpState s)
    {
        if (!Dims.RequireFloatTensor(s, 0, out var x) || !Dims.RequireMinRank(s, 0, x, 1)) return null;
        if (!s.RequireTensor(1, out var w) || !Dims.RequireRank(s, 1, w, 1) || !Dims.RequireSameElement(s, 1, w, x)) return null;
        long h = x.Dim(x.Rank - 1);
        if (w.Dim(0) != h)
        {
            s.Fail($"operand #1 ('weight') has {Dims.Text(w.Dim(0))} elements, expected {Dims.Text(h)} (the last dimension of operand #0 ('input'))");
            return null;
        }
        return (x, w);
    }

    /// <summary>Checks the 'eps' attribute: a finite number >= 0.</summary>
    internal static bool CheckEps(OpState s)
    {
        if (!Dims.RequireFloat(s, "eps", out var eps)) return false;
        if (!(eps >= 0) || double.IsInfinity(eps))
            return s.Error($"'eps' must be a finite number >= 0, but is {Attribute.FormatFloat(eps)}");
        return true;
    }
}
