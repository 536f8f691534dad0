namespace AutoSpIR.Dialects.Tensor;

/// <summary>
/// <c>%y = tensor.linear %x, %w : (tensor&lt;...xINxT&gt;, tensor&lt;OUTxINxT&gt;) -&gt; tensor&lt;...xOUTxT&gt;</c>,
/// <c>%y = tensor.linear %x, %w, %b : (tensor&lt;...xINxT&gt;, tensor&lt;OUTxINxT&gt;, tensor&lt;OUTxT&gt;) -&gt; tensor&lt;...xOUTxT&gt;</c>:
/// an affine layer (<c>torch.nn.functional.linear</c>).
/// <para>
/// Operands: <c>input</c> [..., in] (rank 1 or more), <c>weight</c> [out, in] in the
/// PyTorch / Hugging Face layout, and an optional third operand <c>bias</c> [out].
/// All share one floating-point element type T. Result: [..., out] of T.
/// Semantics: <c>y[i..., o] = sum_k x[i..., k] * w[o, k] (+ b[o])</c>, that is y = x W^T (+ b).
/// </para>
/// <para>Costs: 2 * numel(result) * in FLOPs, plus numel(result) with a bias.</para>
/// <para>
/// Gradient, with G = dy [..., out]: dx = linear(G, W^T) = G W; dW = <c>tensor.linear_wgrad</c>(G, x)
/// (G^T x over every leading position, each leading dimension its own factor, a rank-1 input
/// reshaped to one row first); db = reduce_sum(G) over the leading dimensions.
/// </para>
/// <para>
/// Sharding rule: the leading dimensions are Parallel factors, <c>in</c> a Reduction factor
/// (input and weight), <c>out</c> a Parallel factor (weight, bias and result):
/// <c>([i, j, k], [l, k])-&gt;([i, j, l]) reduction={k}</c>. With a bias and <c>in</c> sharded, the
/// bias must be added once, after the partial sums are combined.
/// </para>
/// </summary>
public static class Linear
{
    public static readonly OpDef Def = new()
    {
        Name = "tensor.linear",
        Summary = "y = x W^T (+ b) with W in [out, in] layout.",
        // The bias is optional: declared variadic, the shape rule allows at most 3 operands.
        Operands = new[] { "input", "weight" },
        VariadicOperands = true,
        Traits = OpTraits.Pure,
        InferResultTypes = Infer,
        Flops = s =>
        {
            var r = s.ResultTensor(0);
            var x = s.Tensor(0)!;
            long flops = 2 * Dims.Numel(r) * Math.Max(0, x.Dim(x.Rank - 1));
            return s.OperandTypes.Count == 3 ? flops + Dims.Numel(r) : flops;
        },
        Gradient = Gradient,
        ShardingRule = Sharding,
    };

    private static ShardingRule? Sharding(OpState s)
    {
        if (s.Tensor(0) is not { Rank: >= 1 } x || s.Tensor(1) is not { Rank: 2 } w) return null;
        var b = new ShardingRuleBuilder();
        var lead = Enumerable.Range(0, x.Rank - 1).Select(d => b.Factor(x.Dim(d))).ToArray();
        int inF = b.Factor(x.Dim(x.Rank - 1), FactorKind.Reduction), outF = b.Factor(w.Dim(0));
        b.Operand(lead.Append(inF).ToArray()).Operand(outF, inF);
        if (s.OperandTypes.Count == 3) b.Operand(outF);
        return b.Result(lead.Append(outF).ToArray()).Build();
    }

    private static Value?[] Gradient(GradientContext g)
    {
        var b = g.Builder;
        Value x = g.Operand(0), w = g.Operand(1), dy = g.Grad()!;
        var xt = (TensorType)x.Type;
        var yt = (TensorType)dy.Type;
        var dx = Grad.Op(b, Def, dy, Grad.Transpose(b, w, new long[] { 1, 0 }));
        // linear_wgrad contracts every leading dimension; a rank-1 input is one row.
        Value x2 = x, dy2 = dy;
        if (xt.Rank == 1)
        {
            x2 = Grad.Reshape(b, x, g.Context.Tensor(xt.Element, 1, xt.Dim(0)));
            dy2 = Grad.Reshape(b, dy, g.Context.Tensor(yt.Element, 1, yt.Dim(0)));
        }
        var dw = Grad.Op(b, LinearWgrad.Def, dy2, x2);
        if (g.Op.NumOperands == 2) return new Value?[] { dx, dw };
        var db = yt.Rank == 1 ? dy : Grad.ReduceSum(b, dy, Enumerable.Range(0, yt.Rank - 1));
        return new Value?[] { dx, dw, db };
    }

    private static Type[]? Infer(OpState s)
    {
        int n = s.OperandTypes.Count;
        if (n > 3) return s.Fail($"expects at most 3 operands (input, weight, bias), but got {n}");
        if (!Dims.RequireFloatTensor(s, 0, out var x) || !Dims.RequireMinRank(s, 0, x, 1)) return null;
        if (!s.RequireTensor(1, out var w) || !Dims.RequireRank(s, 1, w, 2) || !Dims.RequireSameElement(s, 1, w, x)) return null;
        long inFeatures = x.Dim(x.Rank - 1), outFeatures = w.Dim(0);
        if (w.Dim(1) != inFeatures)
            return s.Fail($"operand #1 ('weight') has {Dims.Text(w.Dim(1))} columns, expected {Dims.Text(inFeatures)} (the last dimension of operand #0 ('input'); the weight is [out, in])");
        if (n == 3)
        {
            // Operand names past the declared ones repeat the last name, so 'bias' is spelled out here.
            if (s.OperandTypes[2] is not TensorType b)
                return s.Fail($"operand #2 ('bias') must be a tensor, but has type {s.OperandTypes[2]}");
            if (b.Rank != 1) return s.Fail($"operand #2 ('bias') must have rank 1, but has rank {b.Rank} ({b})");
            if (b.Element != x.Element)
                return s.Fail($"operand #2 ('bias') has element type {b.Element}, expected {x.Element} (the element type of operand #0 ('input'))");
            if (b.Dim(0) != outFeatures)
                return s.Fail($"operand #2 ('bias') has {Dims.Text(b.Dim(0))} elements, expected {Dims.Text(outFeatures)} (the rows of operand #1 ('weight'))");
        }
        var shape = x.Shape.ToArray();
        shape[^1] = outFeatures;
        return new Type[] { s.Context.Tensor(shape, x.Element) };
    }
}
