namespace AutoSpIR.Dialects.Tensor;

/// <summary>
/// Reductions over a set of dimensions:
/// <c>%s = tensor.reduce_sum %x {dims = [-1]} : tensor&lt;2x8xf32&gt; -&gt; tensor&lt;2xf32&gt;</c>,
/// <c>%m = tensor.reduce_mean %x {dims = [1], keepdim} : tensor&lt;2x8xf32&gt; -&gt; tensor&lt;2x1xf32&gt;</c>,
/// <c>%t = tensor.reduce_max %x {dims = [0, 1]} : tensor&lt;2x8xf32&gt; -&gt; tensor&lt;f32&gt;</c>.
/// <para>
/// Operand: a tensor with a floating-point element type T. Attributes: <c>dims</c> (array
/// of integers, required): the reduced dimensions, in any order, each unique after
/// normalization (negative counts from the end; an empty list reduces nothing);
/// <c>keepdim</c> (unit, optional). Result: the operand shape without the reduced dimensions,
/// or with them kept as size 1 under <c>keepdim</c>; reducing every dimension without
/// <c>keepdim</c> gives rank 0 (<c>tensor&lt;T&gt;</c>). Element type T.
/// </para>
/// <para>
/// Semantics, over the elements whose indices agree with the output index outside the reduced
/// dimensions: reduce_sum adds them (0 when there are none); reduce_mean divides that sum by
/// their number (the product of the reduced sizes; NaN when it is 0); reduce_max takes the
/// largest (-inf when there are none; NaN when one of them is NaN, as torch.amax).
/// </para>
/// <para>Costs: numel(input) FLOPs, plus numel(result) for reduce_mean's division.
/// Folds: to the operand when the result type equals the operand type (nothing reduced, or
/// only size-1 dimensions under <c>keepdim</c>: each output is then its single input).</para>
/// <para>Gradients: reduce_sum's is dy broadcast back to the input shape; reduce_mean's the same
/// times 1/N (N the product of the reduced sizes); reduce_max's is
/// <c>tensor.reduce_max_grad</c> (dy routed to the maxima, ties sharing evenly).</para>
/// <para>Sharding rule: every kept dimension is one Parallel factor with its result dimension;
/// every reduced dimension a Reduction factor (under <c>keepdim</c> its size-1 result dimension
/// has no factor): <c>([i, j])-&gt;([i]) reduction={j}</c>. Sharded, a reduced dimension leaves
/// partial results, combined across the shards by sum (reduce_sum), by the mean of the equal
/// shards' means (reduce_mean: <see cref="PartialCombine.Mean"/>) and by max (reduce_max:
/// <see cref="PartialCombine.Max"/>; a max-reduction, not a sum).</para>
/// </summary>
public static class Reduce
{
    public static readonly OpDef Sum = Make("tensor.reduce_sum", "Sums over the given dimensions.", mean: false, SumGradient, PartialCombine.Sum);
    public static readonly OpDef Mean = Make("tensor.reduce_mean", "Averages over the given dimensions.", mean: true, MeanGradient, PartialCombine.Mean);
    public static readonly OpDef Max = Make("tensor.reduce_max", "Takes the maximum over the given dimensions.", mean: false, MaxGradient, PartialCombine.Max);

    public static readonly OpDef[] All = { Sum, Mean, Max };

    private static OpDef Make(string name, string summary, bool mean, Func<GradientContext, Value?[]> gradient, PartialCombine combine) => new()
    {
        Name = name,
        Summary = summary,
        Operands = new[] { "input" },
        Attributes = new[]
        {
            new AttrSpec("dims", AttrKind.IntArray, Required: true, Doc: "the reduced dimensions; negative counts from the end"),
            new AttrSpec("keepdim", AttrKind.Unit, Doc: "keep the reduced dimensions with size 1"),
        },
        Traits = OpTraits.Pure,
        InferResultTypes = Infer,
        Flops = s => Dims.Numel(s.Tensor(0)!) + (mean ? Dims.Numel(s.ResultTensor(0)) : 0),
        // Equal types mean nothing is reduced, or only size-1 dimensions under keepdim.
        Fold = (op, _) => ReferenceEquals(op.Operand(0).Type, op.Result(0).Type) ? FoldResult.Of(op.Operand(0)) : null,
        Gradient = gradient,
        ShardingRule = s => Sharding(s, combine),
    };

    private static ShardingRule? Sharding(OpState s, PartialCombine combine)
    {
        if (s.Tensor(0) is not { } x || s.Ints("dims") is not { } raw || ReducedDims(raw, x.Rank) is not { } reduced) return null;
        var b = new ShardingRuleBuilder();
        var (inDims, outDims) = ReducedFactors(b, x, reduced, s.Flag("keepdim"), FactorKind.Reduction);
        return b.Operand(inDims).Result(outDims).Build(combine);
    }

    /// <summary>
    /// One factor per input dim, of <paramref name="reducedKind"/> for the reduced dims and
    /// Parallel for the others; the result keeps the others (and, with keepdim, a factorless
    /// size-1 dim per reduced one). Shared with tensor.reduce_max_grad.
    /// </summary>
    internal static (int[] In, List<int[]> Out) ReducedFactors(ShardingRuleBuilder b, TensorType x, int[] reduced, bool keep, FactorKind reducedKind)
    {
        var inDims = new int[x.Rank];
        var outDims = new List<int[]>();
        for (int d = 0; d < x.Rank; d++)
        {
            bool r = Array.IndexOf(reduced, d) >= 0;
            inDims[d] = b.Factor(x.Dim(d), r ? reducedKind : FactorKind.Parallel);
            if (!r) outDims.Add(new[] { inDims[d] });
            else if (keep) outDims.Add(Array.Empty<int>());
        }
        return (inDims, outDims);
    }

    /// <summary>dy broadcast back to the shape of the input of a reduce op.</summary>
    private static Value BroadcastBack(GradientContext g)
    {
        var x = (TensorType)g.Operand(0).Type;
        var reduced = ReducedDims(((ArrayAttr)g.Op.GetAttr("dims")!).AsInts()!, x.Rank)!;
        var dims = g.Op.HasAttr("keepdim") ? Enumerable.Range(0, x.Rank) : Enumerable.Range(0, x.Rank).Where(i => Array.IndexOf(reduced, i) < 0);
        return Grad.Broadcast(g.Builder, g.Grad()!, x.Shape, dims);
    }

    private static Value?[] SumGradient(GradientContext g) => new Value?[] { BroadcastBack(g) };

    private static Value?[] MeanGradient(GradientContext g)
    {
        var x = (TensorType)g.Operand(0).Type;
        long n = 1;
        foreach (var d in ReducedDims(((ArrayAttr)g.Op.GetAttr("dims")!).AsInts()!, x.Rank)!) n *= x.Dim(d);
        return new Value?[] { Grad.Scale(g.Builder, BroadcastBack(g), 1.0 / n) };
    }

    private static Value?[] MaxGradient(GradientContext g) => new Value?[]
    {
        Grad.Op(g.Builder, ReduceMaxGrad.Def, new[] { g.Operand(0), g.Result(), g.Grad()! }, Grad.CopyAttrs(g.Op, "dims", "keepdim")),
    };

    /// <summary>The reduced dimensions of a <c>dims</c> attribute on a rank-<paramref name="rank"/> operand, normalized and sorted; null when one is out of range.</summary>
    public static int[]? ReducedDims(long[] dims, int rank)
    {
        var r = new int[dims.Length];
        for (int i = 0; i < dims.Length; i++)
            if ((r[i] = Dims.Normalize(dims[i], rank)) < 0) return null;
        Array.Sort(r);
        return r;
    }

    private static Type[]? Infer(OpState s)
    {
        if (!Dims.RequireFloatTensor(s, 0, out var x)) return null;
        var raw = Dims.RequireInts(s, "dims");
        if (raw is null) return null;
        var dims = Dims.NormalizeList(s, "dims", raw, x.Rank, "operand #0 ('input')");
        if (dims is null) return null;
        bool keep = s.Flag("keepdim");
        var reduced = new bool[x.Rank];
        foreach (var d in dims) reduced[d] = true;
        var shape = new List<long>(x.Rank);
        for (int i = 0; i < x.Rank; i++)
        {
            if (!reduced[i]) shape.Add(x.Dim(i));
            else if (keep) shape.Add(1);
        }
        return new Type[] { s.Context.Tensor(shape.ToArray(), x.Element) };
    }
}
