namespace AutoSpIR.Dialects.Tensor;

/// <summary>
/// <c>%y = tensor.reshape %x : tensor&lt;4x8xf32&gt; -&gt; tensor&lt;2x16xf32&gt;</c>:
/// the same elements under another shape.
/// <para>
/// No attributes: the result type, written in the IR, is the target shape (there is no
/// shape rule; builders give the result type). It must be a tensor with the operand's
/// element type and the same number of elements (not checked when a size is dynamic).
/// Semantics: row-major (C-order) reinterpretation, as <c>torch.reshape</c> on a
/// contiguous tensor: the k-th element of x in row-major order is the k-th element of y.
/// </para>
/// <para>
/// Costs: 0 FLOPs and 0 bytes: in a row-major layout it is a change of metadata.
/// Folds: to the operand when the types are equal; <c>reshape(reshape(a))</c> to
/// <c>a</c> when a already has the result type; a constant operand to the constant
/// with the result type.
/// </para>
/// <para>Gradient: dy reshaped back to the operand type.</para>
/// <para>Sharding rule (<see cref="ShardingRules.Reshape"/>): equal leading and trailing
/// dimensions are one Parallel factor each; the dimensions between are the Parallel pieces of the
/// common refinement of both shapes ([2, 16, 64] to [2, 16, 4, 16]: the last operand dimension is
/// the factors 4 and 16, which are the last two result dimensions), or, when there is none, each a
/// NeedReplication factor of its own.</para>
/// </summary>
public static class Reshape
{
    public static readonly OpDef Def = new()
    {
        Name = "tensor.reshape",
        Summary = "The same elements, in row-major order, under another shape.",
        Operands = new[] { "input" },
        Traits = OpTraits.Pure,
        InferResultTypes = null,
        Verify = Check,
        Flops = _ => 0,
        Bytes = _ => 0,
        Fold = Fold,
        Gradient = g => new Value?[] { Grad.Reshape(g.Builder, g.Grad()!, (TensorType)g.Operand(0).Type) },
        ShardingRule = ShardingRules.Reshape,
    };

    private static bool Check(Operation op, OpState s)
    {
        if (!s.RequireTensor(0, out var x)) return false;
        if (s.ResultTypes[0] is not TensorType y) return s.Error($"result must be a tensor, but has type {s.ResultTypes[0]}");
        if (y.Element != x.Element)
            return s.Error($"result element type {y.Element} differs from the element type {x.Element} of operand #0 ('input')");
        long from = x.NumElements, to = y.NumElements;
        if (from >= 0 && to >= 0 && from != to)
            return s.Error($"reshape changes the number of elements from {from} to {to}");
        return true;
    }

    private static FoldResult? Fold(Operation op, Attribute?[] c)
    {
        var input = op.Operand(0);
        var resultType = op.Result(0).Type;
        if (ReferenceEquals(input.Type, resultType)) return FoldResult.Of(input);
        if (input.DefiningOp is { Name: "tensor.reshape" } inner && ReferenceEquals(inner.Operand(0).Type, resultType))
            return FoldResult.Of(inner.Operand(0));
        if (c[0] is DenseElementsAttr d && resultType is TensorType rt && rt.IsStatic
            && rt.Element == d.Type.Element && (d.IsSplat || d.Count == rt.NumElements))
            return FoldResult.Of(Constants.Reshape(op.Context, d, rt));
        return null;
    }
}
