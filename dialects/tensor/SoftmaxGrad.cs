namespace AutoSpIR.Dialects.Tensor;

/// <summary>
/// <c>%dx = tensor.softmax_grad %y, %dy : tensor&lt;2x8xf32&gt;</c>,
/// <c>%dx = tensor.softmax_grad %y, %dy {dim = 0} : tensor&lt;2x8xf32&gt;</c>:
/// the gradient of <c>tensor.softmax</c> from its result.
/// <para>
/// Operands: <c>output</c> y, the forward softmax result, and <c>grad_output</c> dy, its
/// gradient: one floating-point type of rank 1 or more (printed once). Attribute <c>dim</c>
/// (integer, optional, default -1; negative counts from the end): the forward op's dimension.
/// Result: the same type. Semantics, along <c>dim</c>: <c>dx = y * (dy - sum(dy * y))</c>.
/// </para>
/// <para>Costs: 4 * numel FLOPs (product, sum, subtract, scale).</para>
/// <para>Sharding rule: softmax's (<c>dim</c> NeedReplication: the sum runs over it; the rest Parallel).</para>
/// </summary>
public static class SoftmaxGrad
{
    public static readonly OpDef Def = new()
    {
        Name = "tensor.softmax_grad",
        Summary = "y * (dy - sum(dy * y)) along a dimension: the gradient of softmax from its result y.",
        Operands = new[] { "output", "grad_output" },
        Attributes = new[] { new AttrSpec("dim", AttrKind.Integer, Doc: "the softmax dimension; default -1 (the last)") },
        Traits = OpTraits.Pure | OpTraits.SameOperandsAndResultType,
        InferResultTypes = Infer,
        Flops = s => 4 * Dims.Numel(s.ResultTensor(0)),
        ShardingRule = Softmax.Sharding,
    };

    private static Type[]? Infer(OpState s)
    {
        if (!Dims.RequireFloatTensor(s, 0, out var y) || !Dims.RequireMinRank(s, 0, y, 1)) return null;
        if (!s.RequireTensor(1, out var dy)) return null;
        if (!ReferenceEquals(y, dy))
            return s.Fail($"operand #1 ('grad_output') has type {dy}, expected {y} (the type of operand #0 ('output'))");
        if (!Dims.OptionalInt(s, "dim", -1, out var raw)) return null;
        if (!Dims.NormalizeAttr(s, "dim", raw, y.Rank, "operand #0 ('output')", out _)) return null;
        return new Type[] { y };
    }
}
