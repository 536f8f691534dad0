namespace AutoSpIR.Dialects.Tensor;

/// <summary>
/// <c>%y = tensor.slice %x {offsets = [0, 4], sizes = [2, 4]} : tensor&lt;2x8xf32&gt; -&gt; tensor&lt;2x4xf32&gt;</c>:
/// a contiguous box of a tensor (stride 1).
/// <para>
/// Attributes (arrays of integers, required, one entry per operand dimension):
/// <c>offsets</c> and <c>sizes</c>, with 0 &lt;= offsets[i], 0 &lt;= sizes[i] and
/// offsets[i] + sizes[i] &lt;= dim(i) (not checked against a dynamic size). Offsets are
/// positions, not dimension indices, so they are never negative. Any element type.
/// Result: shape = sizes. Semantics: <c>y[j...] = x[offsets + j...]</c>.
/// </para>
/// <para>
/// Costs: 0 FLOPs; bytes = 2 * result bytes (the box read, the result written).
/// Folds: all-zero offsets with sizes equal to the operand shape to the operand; a
/// splat constant to a splat of the result type.
/// </para>
/// <para>Gradient: dy padded with zeros back to the operand's shape (<c>tensor.pad</c> with
/// low = offsets and high = dim - offsets - sizes).</para>
/// <para>Sharding rule: a dimension taken whole (offset 0, size the operand's) is one Parallel
/// factor; a sliced dimension is a NeedReplication factor in the operand and another in the
/// result (the box is cut out of the whole dimension).</para>
/// </summary>
public static class Slice
{
    public static readonly OpDef Def = new()
    {
        Name = "tensor.slice",
        Summary = "Extracts the box offsets .. offsets + sizes of a tensor (stride 1).",
        Operands = new[] { "input" },
        Attributes = new[]
        {
            new AttrSpec("offsets", AttrKind.IntArray, Required: true, Doc: "the first index of the box in each dimension"),
            new AttrSpec("sizes", AttrKind.IntArray, Required: true, Doc: "the extent of the box in each dimension (the result shape)"),
        },
        Traits = OpTraits.Pure,
        InferResultTypes = Infer,
        Flops = _ => 0,
        Bytes = s => 2 * Math.Max(0, s.ResultTensor(0).ByteSize),
        Fold = Fold,
        ShardingRule = s => Sharding(s, "offsets", "sizes"),
        Gradient = g =>
        {
            var x = (TensorType)g.Operand(0).Type;
            var offsets = ((ArrayAttr)g.Op.GetAttr("offsets")!).AsInts()!;
            var sizes = ((ArrayAttr)g.Op.GetAttr("sizes")!).AsInts()!;
            var high = new long[x.Rank];
            for (int i = 0; i < x.Rank; i++)
            {
                if (x.Dim(i) == TensorType.Dynamic) throw new InvalidOperationException($"cannot pad back to the dynamic size of dimension {i}");
                high[i] = x.Dim(i) - offsets[i] - sizes[i];
            }
            return new Value?[]
            {
                Grad.Op(g.Builder, Pad.Def, new[] { g.Grad()! }, ("low", g.Context.IntArray(offsets)), ("high", g.Context.IntArray(high))),
            };
        },
    };

    /// <summary>
    /// The rule of slice (<paramref name="first"/> = offsets, <paramref name="second"/> = sizes) and
    /// pad (low, high): a dimension the op leaves as it is is one Parallel factor, any other a
    /// NeedReplication factor in the operand and another in the result.
    /// </summary>
    internal static ShardingRule? Sharding(OpState s, string first, string second)
    {
        if (s.Tensor(0) is not { } x || s.ResultTypes.Count != 1 || s.ResultTypes[0] is not TensorType y || y.Rank != x.Rank) return null;
        if (s.Ints(first) is not { } a || s.Ints(second) is not { } c || a.Length != x.Rank || c.Length != x.Rank) return null;
        bool pad = first == "low";
        var b = new ShardingRuleBuilder();
        var inDims = new int[x.Rank];
        var outDims = new int[x.Rank];
        for (int d = 0; d < x.Rank; d++)
        {
            bool whole = pad ? a[d] == 0 && c[d] == 0 : a[d] == 0 && c[d] == x.Dim(d);
            if (whole) inDims[d] = outDims[d] = b.Factor(x.Dim(d));
            else
            {
                inDims[d] = b.Factor(x.Dim(d), FactorKind.NeedReplication);
                outDims[d] = b.Factor(y.Dim(d), FactorKind.NeedReplication);
            }
        }
        return b.Operand(inDims).Result(outDims).Build();
    }

    private static Type[]? Infer(OpState s)
    {
        if (!s.RequireTensor(0, out var x)) return null;
        var offsets = Dims.RequireInts(s, "offsets");
        if (offsets is null) return null;
        var sizes = Dims.RequireInts(s, "sizes");
        if (sizes is null) return null;
        if (offsets.Length != x.Rank)
            return s.Fail($"'offsets' has {offsets.Length} entries, expected {x.Rank} (the rank of operand #0 ('input'))");
        if (sizes.Length != x.Rank)
            return s.Fail($"'sizes' has {sizes.Length} entries, expected {x.Rank} (the rank of operand #0 ('input'))");
        for (int i = 0; i < x.Rank; i++)
        {
            if (offsets[i] < 0) return s.Fail($"offset {offsets[i]} of dimension {i} is negative");
            if (sizes[i] < 0) return s.Fail($"size {sizes[i]} of dimension {i} is negative");
            long d = x.Dim(i);
            if (d != TensorType.Dynamic && offsets[i] + sizes[i] > d)
                return s.Fail($"slice {offsets[i]}..{offsets[i] + sizes[i]} of dimension {i} exceeds its size {d} in operand #0 ('input')");
        }
        return new Type[] { s.Context.Tensor(sizes, x.Element) };
    }

    private static FoldResult? Fold(Operation op, Attribute?[] c)
    {
        var input = op.Operand(0);
        if (ReferenceEquals(input.Type, op.Result(0).Type) && op.GetAttr("offsets") is ArrayAttr a && a.AsInts() is { } offsets
            && offsets.All(o => o == 0))
            return FoldResult.Of(input);
        if (c[0] is DenseElementsAttr { IsSplat: true } d && op.Result(0).Type is TensorType rt)
            return FoldResult.Of(Constants.Reshape(op.Context, d, rt));
        return null;
    }
}
