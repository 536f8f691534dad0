namespace AutoSpIR.Dialects.Tensor;

/// <summary>
/// <c>%y = tensor.shift %x {amount = 1, dim = 1, fill = -100} : tensor&lt;2x8xi64&gt;</c>:
/// moves the elements of a tensor along one dimension, filling the positions left without a
/// source (the labels of next-token prediction: <c>labels[:, 1:]</c> padded with ignore_index).
/// <para>
/// Operand: <c>input</c>, a tensor of rank 1 or more, any element type. Attributes: <c>dim</c>
/// (integer, required; negative counts from the end); <c>amount</c> (integer, required, any sign,
/// not -2^63); <c>fill</c> (optional, default 0): an integer for an integer element type (within
/// the type's range: i1 is 0 or 1), an integer or a float for a floating-point one (rounded
/// once to the element type). Result: the operand's type.
/// </para>
/// <para>
/// Semantics, with n the size of dimension <c>dim</c>: <c>y[..., s, ...] = x[..., s + amount, ...]</c>
/// when 0 &lt;= s + amount &lt; n, else <c>fill</c>. A positive amount moves elements toward the front
/// (y[s] reads x[s + 1]), a negative one toward the back; |amount| &gt;= n gives all <c>fill</c>.
/// </para>
/// <para>Costs: 0 FLOPs; bytes = operand read + result written. Folds: amount = 0 to the operand.</para>
/// <para>
/// Gradient: for a floating-point operand, <c>shift(dy, amount = -amount, fill = 0)</c> (dx[t] =
/// dy[t - amount], 0 where t - amount is outside [0, n): those elements of x reach no result);
/// none for an integer operand (labels, ids).
/// </para>
/// <para>
/// Sharding rule: every dimension but <c>dim</c> is a Parallel factor. <c>dim</c> is Parallel when
/// amount = 0; Positional with halo = amount when amount &gt; 0 (a shard needs the first
/// <c>amount</c> elements of the next shard, and the last shard, which has no next one, fills: it must
/// know it holds the global end); NeedReplication when amount &lt; 0, which would need the last
/// |amount| elements of the PREVIOUS shard, a halo before the start that
/// <see cref="ShardingFactor.Halo"/> (elements past the end) cannot express:
/// <c>([i, j])-&gt;([i, j]) positional={j} halo={j=1}</c>.
/// </para>
/// </summary>
public static class Shift
{
    public static readonly OpDef Def = new()
    {
        Name = "tensor.shift",
        Summary = "y[.., s, ..] = x[.., s + amount, ..] along dim, fill where s + amount is outside the dimension.",
        Operands = new[] { "input" },
        Attributes = new[]
        {
            new AttrSpec("dim", AttrKind.Integer, Required: true, Doc: "the shifted dimension; negative counts from the end"),
            new AttrSpec("amount", AttrKind.Integer, Required: true, Doc: "y[s] = x[s + amount]; any sign"),
            new AttrSpec("fill", AttrKind.Float, Doc: "the value where s + amount has no element (integer for integer types); default 0"),
        },
        Traits = OpTraits.Pure | OpTraits.SameOperandsAndResultType,
        InferResultTypes = Infer,
        Flops = _ => 0,
        ShardingRule = Sharding,
        // shift(x, amount = 0) -> x
        Fold = (op, _) => op.GetInt("amount") == 0 ? FoldResult.Of(op.Operand(0)) : null,
        Gradient = Gradient,
    };

    /// <summary>The normalized shifted dimension of a verified shift op.</summary>
    public static int DimOf(Operation op, int rank) => Dims.Normalize(op.GetInt("dim")!.Value, rank);

    private static ShardingRule? Sharding(OpState s)
    {
        if (s.Tensor(0) is not { Rank: >= 1 } x || s.Int("dim") is not { } d || s.Int("amount") is not { } amount) return null;
        int dim = Dims.Normalize(d, x.Rank);
        if (dim < 0) return null;
        var b = new ShardingRuleBuilder();
        var fs = new int[x.Rank];
        for (int i = 0; i < x.Rank; i++)
            fs[i] = i != dim || amount == 0 ? b.Factor(x.Dim(i))
                : amount > 0 ? b.Factor(x.Dim(i), FactorKind.Positional, halo: amount)
                : b.Factor(x.Dim(i), FactorKind.NeedReplication);
        return b.Operand(fs).Result(fs).Build();
    }

    // y[s] = x[s + a], so dx[t] = dy[t - a]: a shift by -a, zeros where nothing was read.
    private static Value?[] Gradient(GradientContext g)
    {
        if (g.Operand(0).Type is not TensorType { Element.IsFloat: true }) return new Value?[] { null };
        long amount = g.Op.GetInt("amount")!.Value;
        return new Value?[]
        {
            Grad.Op(g.Builder, Def, new[] { g.Grad()! }, ("dim", g.Op.GetAttr("dim")!), ("amount", g.Context.Integer(-amount))),
        };
    }

    private static Type[]? Infer(OpState s)
    {
        if (!s.RequireTensor(0, out var x) || !Dims.RequireMinRank(s, 0, x, 1)) return null;
        if (!Dims.RequireInt(s, "dim", out var d) || !Dims.NormalizeAttr(s, "dim", d, x.Rank, Dims.Operand(s, 0), out _)) return null;
        if (!Dims.RequireInt(s, "amount", out var amount)) return null;
        if (amount == long.MinValue) return s.Fail($"'amount' is {amount}, which has no negation (the gradient shifts by -amount)");
        if (!Dims.CheckFill(s, x, "operand #0 ('input')")) return null;
        return new Type[] { x };
    }
}
