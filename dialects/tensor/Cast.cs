namespace AutoSpIR.Dialects.Tensor;

/// <summary>
/// <c>%y = tensor.cast %x : tensor&lt;4x8xf32&gt; -&gt; tensor&lt;4x8xbf16&gt;</c>:
/// elementwise conversion to another element type (<c>torch.Tensor.to(dtype)</c>).
/// <para>
/// No attributes: the result type, written in the IR, is a tensor with the operand's shape
/// and any element type (builders give it; there is no shape rule).
/// Semantics per element: float to float rounds to nearest, ties to even; integer to float
/// rounds to nearest; float to integer truncates toward zero (NaN, infinities and values out
/// of the target range are errors of the program); integer to integer keeps the low bits
/// (two's complement wrap); to i1 gives x != 0; i1 converts as 0 or 1.
/// </para>
/// <para>
/// Costs: 0 FLOPs; bytes = operand read + result written. Folds: to the operand when the
/// types are equal. A cast of a cast back to the original type does not fold (it is lossy).
/// </para>
/// <para>Gradient: dy cast back to the operand type; none for an integer operand.</para>
/// <para>Sharding rule: pointwise (every dimension one Parallel factor).</para>
/// </summary>
public static class Cast
{
    public static readonly OpDef Def = new()
    {
        Name = "tensor.cast",
        Summary = "Converts the elements of a tensor to another element type.",
        Operands = new[] { "input" },
        Traits = OpTraits.Pure,
        InferResultTypes = null,
        Verify = Check,
        Flops = _ => 0,
        ShardingRule = ShardingRules.Pointwise,
        Fold = (op, _) => ReferenceEquals(op.Operand(0).Type, op.Result(0).Type) ? FoldResult.Of(op.Operand(0)) : null,
        Gradient = g => new Value?[]
        {
            g.Operand(0).Type is TensorType { Element.IsFloat: true } x ? Grad.Cast(g.Builder, g.Grad()!, x) : null,
        },
    };

    private static bool Check(Operation op, OpState s)
    {
        if (!s.RequireTensor(0, out var x)) return false;
        if (s.ResultTypes[0] is not TensorType y) return s.Error($"result must be a tensor, but has type {s.ResultTypes[0]}");
        if (!x.Shape.SequenceEqual(y.Shape))
            return s.Error($"result has shape {Dims.Text(y.Shape)}, expected {Dims.Text(x.Shape)} (the shape of operand #0 ('input')): cast changes only the element type");
        return true;
    }
}
