namespace AutoSpIR.Dialects.Tensor;

/// <summary>
/// <c>%y = tensor.pad %x {high = [0, 2], low = [0, 4]} : tensor&lt;2x4xf32&gt; -&gt; tensor&lt;2x10xf32&gt;</c>:
/// surrounds a tensor with zeros (the gradient of <c>tensor.slice</c>).
/// <para>
/// Attributes (arrays of integers, required, one entry per operand dimension, each &gt;= 0):
/// <c>low</c>, the zeros before, and <c>high</c>, the zeros after, in each dimension. Any
/// element type T. Result: shape <c>dim(i) + low[i] + high[i]</c> (dynamic when dim(i) is), T.
/// Semantics: <c>y[j...] = x[j - low...]</c> where <c>0 &lt;= j[i] - low[i] &lt; dim(i)</c> in every
/// dimension, and 0 elsewhere. So <c>slice(pad(x), offsets = low, sizes = shape(x)) = x</c>.
/// </para>
/// <para>Sharding rule (as its inverse, slice): an unpadded dimension (low = high = 0) is one
/// Parallel factor; a padded one a NeedReplication factor in the operand and another in the
/// result.</para>
/// <para>
/// Costs: 0 FLOPs; bytes = operand read + result written. Folds: all-zero <c>low</c> and
/// <c>high</c> to the operand. Gradient: the slice at <c>low</c> of the operand's shape.
/// </para>
/// </summary>
public static class Pad
{
    public static readonly OpDef Def = new()
    {
        Name = "tensor.pad",
        Summary = "Surrounds a tensor with low[i] zeros before and high[i] zeros after in each dimension.",
        Operands = new[] { "input" },
        Attributes = new[]
        {
            new AttrSpec("low", AttrKind.IntArray, Required: true, Doc: "the zeros before the operand in each dimension"),
            new AttrSpec("high", AttrKind.IntArray, Required: true, Doc: "the zeros after the operand in each dimension"),
        },
        Traits = OpTraits.Pure,
        InferResultTypes = Infer,
        Flops = _ => 0,
        ShardingRule = s => Slice.Sharding(s, "low", "high"),
        // pad(x, low = 0, high = 0) -> x
        Fold = (op, _) => IsZero(op, "low") && IsZero(op, "high") ? FoldResult.Of(op.Operand(0)) : null,
        // pad(x) -> d(pad) sliced back to x's box.
        Gradient = g =>
        {
            var x = (TensorType)g.Operand(0).Type;
            var low = g.Op.GetAttr("low")!;
            return new Value?[]
            {
                Grad.Op(g.Builder, Slice.Def, new[] { g.Grad()! }, ("offsets", low), ("sizes", g.Context.IntArray(x.Shape.ToArray()))),
            };
        },
    };

    private static bool IsZero(Operation op, string name) =>
        op.GetAttr(name) is ArrayAttr a && a.AsInts() is { } v && v.All(x => x == 0);

    private static Type[]? Infer(OpState s)
    {
        if (!s.RequireTensor(0, out var x)) return null;
        var low = Dims.RequireInts(s, "low");
        if (low is null) return null;
        var high = Dims.RequireInts(s, "high");
        if (high is null) return null;
        if (low.Length != x.Rank)
            return s.Fail($"'low' has {low.Length} entries, expected {x.Rank} (the rank of operand #0 ('input'))");
        if (high.Length != x.Rank)
            return s.Fail($"'high' has {high.Length} entries, expected {x.Rank} (the rank of operand #0 ('input'))");
        var shape = new long[x.Rank];
        for (int i = 0; i < x.Rank; i++)
        {
            if (low[i] < 0) return s.Fail($"'low' entry #{i} is {low[i]}, expected a count >= 0");
            if (high[i] < 0) return s.Fail($"'high' entry #{i} is {high[i]}, expected a count >= 0");
            shape[i] = x.Dim(i) == TensorType.Dynamic ? TensorType.Dynamic : x.Dim(i) + low[i] + high[i];
        }
        return new Type[] { s.Context.Tensor(shape, x.Element) };
    }
}
