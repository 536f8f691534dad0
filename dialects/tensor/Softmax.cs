namespace AutoSpIR.Dialects.Tensor;

/// <summary>
/// <c>%y = tensor.softmax %x : tensor&lt;2x8xf32&gt; -&gt; tensor&lt;2x8xf32&gt;</c>,
/// <c>%y = tensor.softmax %x {dim = 0} : tensor&lt;2x8xf32&gt; -&gt; tensor&lt;2x8xf32&gt;</c>:
/// softmax along one dimension.
/// <para>
/// Operand: a tensor of rank 1 or more with a floating-point element type. Attribute
/// <c>dim</c> (integer, optional, default -1; negative counts from the end).
/// Result: the input type. Semantics, numerically stable: along <c>dim</c>, with
/// m = max(x), <c>y = exp(x - m) / sum(exp(x - m))</c>.
/// </para>
/// <para>Costs: 5 * numel(input) FLOPs (max, subtract, exp, sum, divide).</para>
/// <para>Gradient: <c>tensor.softmax_grad</c> of the result and dy, along the same <c>dim</c>.</para>
/// <para>Sharding rule: <c>dim</c> is a NeedReplication factor (its max and sum run over all of it),
/// every other dimension a Parallel factor: <c>([i, j])-&gt;([i, j]) need_replication={j}</c>.</para>
/// </summary>
public static class Softmax
{
    public static readonly OpDef Def = new()
    {
        Name = "tensor.softmax",
        Summary = "Numerically stable softmax along a dimension (default the last).",
        Operands = new[] { "input" },
        Attributes = new[] { new AttrSpec("dim", AttrKind.Integer, Doc: "the normalized dimension; default -1 (the last)") },
        Traits = OpTraits.Pure,
        InferResultTypes = Infer,
        Flops = s => 5 * Dims.Numel(s.Tensor(0)!),
        ShardingRule = Sharding,
        Gradient = g => new Value?[]
        {
            Grad.Op(g.Builder, SoftmaxGrad.Def, new[] { g.Result(), g.Grad()! }, Grad.CopyAttrs(g.Op, "dim")),
        },
    };

    /// <summary>The normalized softmax dimension of an op on a rank-<paramref name="rank"/> operand.</summary>
    public static int DimOf(Operation op, int rank) => Dims.Normalize(op.GetInt("dim") ?? -1, rank);

    /// <summary>The rule of softmax and softmax_grad: <c>dim</c> NeedReplication, the rest Parallel.</summary>
    internal static ShardingRule? Sharding(OpState s) =>
        s.Tensor(0) is { Rank: >= 1 } x && Dims.Normalize(s.Int("dim") ?? -1, x.Rank) is var d and >= 0
            ? ShardingRules.AlongDim(s, d, FactorKind.NeedReplication)
            : null;

    private static Type[]? Infer(OpState s)
    {
        if (!Dims.RequireFloatTensor(s, 0, out var x) || !Dims.RequireMinRank(s, 0, x, 1)) return null;
        if (!Dims.OptionalInt(s, "dim", -1, out var raw)) return null;
        if (!Dims.NormalizeAttr(s, "dim", raw, x.Rank, "operand #0 ('input')", out _)) return null;
        return new Type[] { x };
    }
}
