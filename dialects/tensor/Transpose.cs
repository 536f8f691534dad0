namespace AutoSpIR.Dialects.Tensor;

/// <summary>
/// <c>%y = tensor.transpose %x {perm = [0, 2, 1, 3]} : tensor&lt;2x8x4x16xf32&gt; -&gt; tensor&lt;2x4x8x16xf32&gt;</c>:
/// a permutation of dimensions (<c>torch.permute</c>).
/// <para>
/// Attribute <c>perm</c> (array of integers, required): a permutation of 0..rank-1
/// (entries are not normalized: no negative values). Any element type.
/// Result dimension i is operand dimension perm[i]:
/// <c>y[j_0, ..., j_{r-1}] = x[k]</c> with <c>k[perm[i]] = j_i</c>.
/// </para>
/// <para>
/// Costs: 0 FLOPs; bytes = operand read + result written. Folds: the identity
/// permutation to the operand; <c>transpose(transpose(a, p1), p2)</c> to <c>a</c> when
/// the composed permutation (result dimension i is a's dimension p1[p2[i]]) is the
/// identity; a splat constant to a splat of the result type.
/// </para>
/// <para>Gradient: dy transposed by the inverse permutation (inv[perm[i]] = i).</para>
/// <para>Sharding rule: one Parallel factor per operand dimension, result dimension i having the
/// factor of operand dimension perm[i]: <c>([i, j])-&gt;([j, i])</c>.</para>
/// </summary>
public static class Transpose
{
    public static readonly OpDef Def = new()
    {
        Name = "tensor.transpose",
        Summary = "Permutes the dimensions of a tensor: result dim i = operand dim perm[i].",
        Operands = new[] { "input" },
        Attributes = new[] { new AttrSpec("perm", AttrKind.IntArray, Required: true, Doc: "result dimension i is operand dimension perm[i]") },
        Traits = OpTraits.Pure,
        InferResultTypes = Infer,
        Flops = _ => 0,
        Fold = Fold,
        ShardingRule = Sharding,
        Gradient = g =>
        {
            var perm = PermOf(g.Op)!;
            var inverse = new long[perm.Length];
            for (int i = 0; i < perm.Length; i++) inverse[perm[i]] = i;
            return new Value?[] { Grad.Transpose(g.Builder, g.Grad()!, inverse) };
        },
    };

    private static Type[]? Infer(OpState s)
    {
        if (!s.RequireTensor(0, out var x)) return null;
        var perm = Dims.RequireInts(s, "perm");
        if (perm is null) return null;
        if (perm.Length != x.Rank)
            return s.Fail($"'perm' has {perm.Length} entries, expected {x.Rank} (the rank of operand #0 ('input'))");
        var seen = new bool[x.Rank];
        var shape = new long[x.Rank];
        for (int i = 0; i < perm.Length; i++)
        {
            if (perm[i] < 0 || perm[i] >= x.Rank)
                return s.Fail($"'perm' entry #{i} is {perm[i]}, expected 0 <= entry < {x.Rank}");
            if (seen[perm[i]])
                return s.Fail($"'perm' {Dims.List(perm)} is not a permutation: {perm[i]} appears twice");
            seen[perm[i]] = true;
            shape[i] = x.Dim((int)perm[i]);
        }
        return new Type[] { s.Context.Tensor(shape, x.Element) };
    }

    private static ShardingRule? Sharding(OpState s)
    {
        if (s.Tensor(0) is not { } x || s.Ints("perm") is not { } perm || perm.Length != x.Rank) return null;
        if (perm.Any(p => p < 0 || p >= x.Rank) || perm.Distinct().Count() != perm.Length) return null;
        var b = new ShardingRuleBuilder();
        var fs = b.FactorsOf(x);
        return b.Operand(fs).Result(perm.Select(p => fs[p]).ToArray()).Build();
    }

    private static bool IsIdentity(long[] p)
    {
        for (int i = 0; i < p.Length; i++)
            if (p[i] != i) return false;
        return true;
    }

    private static long[]? PermOf(Operation op) => (op.GetAttr("perm") as ArrayAttr)?.AsInts();

    private static FoldResult? Fold(Operation op, Attribute?[] c)
    {
        var p2 = PermOf(op);
        if (p2 is null) return null;
        if (IsIdentity(p2)) return FoldResult.Of(op.Operand(0));
        if (op.Operand(0).DefiningOp is { Name: "tensor.transpose" } inner && PermOf(inner) is { } p1 && p1.Length == p2.Length)
        {
            bool identity = true;
            for (int i = 0; i < p2.Length; i++) identity &= p2[i] >= 0 && p2[i] < p1.Length && p1[p2[i]] == i;
            if (identity) return FoldResult.Of(inner.Operand(0));
        }
        if (c[0] is DenseElementsAttr { IsSplat: true } d && op.Result(0).Type is TensorType rt)
            return FoldResult.Of(Constants.Reshape(op.Context, d, rt));
        return null;
    }
}
