using AutoSpIR.IR;

namespace AutoSpIR.Dialects.Tensor;

/// <summary>
/// <c>%c = tensor.matmul %a, %b : (tensor&lt;BxMxKxT&gt;, tensor&lt;BxKxNxT&gt;) -> tensor&lt;BxMxNxT&gt;</c>:
/// batched matrix product over the last two dimensions. Leading (batch) dimensions
/// must be equal; rank 2 is a plain matrix product. <c>transpose_b</c> multiplies by B^T.
/// Gradient, with G = dC and X^T swapping the last two dimensions: C = A B gives dA = G B^T
/// (matmul with transpose_b), dB = A^T G; C = A B^T gives dA = G B, dB = G^T A.
/// <para>Sharding rule: each batch dimension, M and N are Parallel factors; K is a Reduction
/// factor (sharded, the result is a partial sum): <c>([i, j], [j, k])-&gt;([i, k]) reduction={j}</c>.</para>
/// </summary>
public static class Matmul
{
    public static readonly OpDef Def = new()
    {
        Name = "tensor.matmul",
        Summary = "Batched matrix product over the last two dimensions.",
        Operands = new[] { "lhs", "rhs" },
        Attributes = new[] { new AttrSpec("transpose_b", AttrKind.Unit, Doc: "multiply by the transpose of rhs") },
        Traits = OpTraits.Pure,
        InferResultTypes = Infer,
        Flops = s =>
        {
            var r = s.ResultTensor(0);
            var a = s.Tensor(0)!;
            return 2 * r.NumElements * a.Dim(a.Rank - 1);
        },
        Gradient = Gradient,
        ShardingRule = Sharding,
    };

    private static ShardingRule? Sharding(OpState s)
    {
        if (s.Tensor(0) is not { Rank: >= 2 } a || s.Tensor(1) is not { } bm || bm.Rank != a.Rank) return null;
        var b = new ShardingRuleBuilder();
        int r = a.Rank;
        var batch = Enumerable.Range(0, r - 2).Select(d => b.Factor(a.Dim(d))).ToArray();
        int m = b.Factor(a.Dim(r - 2)), k = b.Factor(a.Dim(r - 1), FactorKind.Reduction);
        bool tb = s.Flag("transpose_b");
        int n = b.Factor(tb ? bm.Dim(r - 2) : bm.Dim(r - 1));
        b.Operand(batch.Append(m).Append(k).ToArray());
        b.Operand(batch.Concat(tb ? new[] { n, k } : new[] { k, n }).ToArray());
        return b.Result(batch.Append(m).Append(n).ToArray()).Build();
    }

    private static Value?[] Gradient(GradientContext g)
    {
        var b = g.Builder;
        Value a = g.Operand(0), bm = g.Operand(1), dc = g.Grad()!;
        if (g.Op.HasAttr("transpose_b"))
            return new Value?[] { Grad.Op(b, Def, dc, bm), Grad.Op(b, Def, Grad.TransposeLast2(b, dc), a) };
        return new Value?[]
        {
            Grad.Op(b, Def, new[] { dc, bm }, ("transpose_b", g.Context.Unit)),
            Grad.Op(b, Def, Grad.TransposeLast2(b, a), dc),
        };
    }

    private static Type[]? Infer(OpState s)
    {
        if (!s.RequireTensor(0, out var a) || !s.RequireTensor(1, out var b)) return null;
        if (a.Rank < 2) return s.Fail($"operand #0 must have rank 2 or more, but has rank {a.Rank}");
        if (b.Rank != a.Rank) return s.Fail($"operands must have the same rank, but have ranks {a.Rank} and {b.Rank}");
        if (a.Element != b.Element) return s.Fail($"operands must have the same element type, but have {a.Element} and {b.Element}");
        bool tb = s.Flag("transpose_b");
        int r = a.Rank;
        long m = a.Dim(r - 2), k = a.Dim(r - 1);
        long kb = tb ? b.Dim(r - 1) : b.Dim(r - 2);
        long n = tb ? b.Dim(r - 2) : b.Dim(r - 1);
        if (k != kb)
            return s.Fail($"operand #1 has {kb} {(tb ? "columns" : "rows")}, expected {k} (the columns of operand #0)");
        var shape = new long[r];
        for (int i = 0; i < r - 2; i++)
        {
            if (a.Dim(i) != b.Dim(i))
                return s.Fail($"batch dimension {i} differs: {a.Dim(i)} vs {b.Dim(i)}");
            shape[i] = a.Dim(i);
        }
        shape[r - 2] = m;
        shape[r - 1] = n;
        return new Type[] { s.Context.Tensor(shape, a.Element) };
    }
}
