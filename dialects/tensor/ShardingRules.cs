namespace AutoSpIR.Dialects.Tensor;

/// <summary>
/// Builds a <see cref="ShardingRule"/>: add factors, then the factors of each dimension of each
/// operand and result, in order. Each op's rule (<see cref="OpDef.ShardingRule"/>) is declared
/// next to the op; the rules several ops share (pointwise, one special dimension, reshape) are
/// in <see cref="ShardingRules"/>.
/// </summary>
public sealed class ShardingRuleBuilder
{
    private readonly List<ShardingFactor> _factors = new();
    private readonly List<int[][]> _operands = new();
    private readonly List<int[][]> _results = new();

    /// <summary>A new factor; returns its index.</summary>
    public int Factor(long size, FactorKind kind = FactorKind.Parallel, long halo = 0)
    {
        _factors.Add(new ShardingFactor(size, kind, halo));
        return _factors.Count - 1;
    }

    /// <summary>A new factor of <paramref name="kind"/> for every dimension of <paramref name="t"/>.</summary>
    public int[] FactorsOf(TensorType t, FactorKind kind = FactorKind.Parallel)
    {
        var fs = new int[t.Rank];
        for (int d = 0; d < fs.Length; d++) fs[d] = Factor(t.Dim(d), kind);
        return fs;
    }

    /// <summary>The next operand: one factor per dimension.</summary>
    public ShardingRuleBuilder Operand(params int[] oneFactorPerDim) => Operand(oneFactorPerDim.Select(f => new[] { f }));

    /// <summary>The next operand: the factors of each dimension (an empty array for a size-1 dimension without factor).</summary>
    public ShardingRuleBuilder Operand(IEnumerable<int[]> dims)
    {
        _operands.Add(dims.ToArray());
        return this;
    }

    /// <summary>The next result: one factor per dimension.</summary>
    public ShardingRuleBuilder Result(params int[] oneFactorPerDim) => Result(oneFactorPerDim.Select(f => new[] { f }));

    /// <summary>The next result: the factors of each dimension.</summary>
    public ShardingRuleBuilder Result(IEnumerable<int[]> dims)
    {
        _results.Add(dims.ToArray());
        return this;
    }

    public ShardingRule Build(PartialCombine combine = PartialCombine.Sum) => new(_factors, _operands, _results, combine);
}

/// <summary>
/// Sharding rules shared by several tensor ops. Each returns null when the op state has no rule
/// (an operand that is not a tensor: the op did not verify).
/// </summary>
public static class ShardingRules
{
    /// <summary>
    /// Every operand and the result have one shape, and element i of the result depends on
    /// element i of the operands only: one <see cref="FactorKind.Parallel"/> factor per
    /// dimension, shared by all (elementwise ops, silu_grad, gelu_grad, cast).
    /// </summary>
    public static ShardingRule? Pointwise(OpState s) => AlongDim(s, -1, FactorKind.Parallel);

    /// <summary>
    /// As <see cref="Pointwise"/>, except dimension <paramref name="dim"/> (normalized; -1 for
    /// none), which is a factor of <paramref name="kind"/> (softmax: NeedReplication).
    /// </summary>
    public static ShardingRule? AlongDim(OpState s, int dim, FactorKind kind)
    {
        if (s.Tensor(0) is not { } t || s.ResultTypes.Count != 1) return null;
        for (int i = 1; i < s.OperandTypes.Count; i++)
            if (s.Tensor(i) is not { } o || o.Rank != t.Rank) return null;
        var b = new ShardingRuleBuilder();
        var fs = new int[t.Rank];
        for (int d = 0; d < t.Rank; d++) fs[d] = b.Factor(t.Dim(d), d == dim ? kind : FactorKind.Parallel);
        for (int i = 0; i < s.OperandTypes.Count; i++) b.Operand(fs);
        return b.Result(fs).Build();
    }

    /// <summary>
    /// The factors of a row-major reshape of <paramref name="from"/> into <paramref name="to"/>:
    /// equal leading and trailing dimensions are one factor each (1:1); the dimensions between are
    /// cut into the pieces of the common refinement of both shapes (merged or split: [64] into
    /// [4, 16] is the factors 4 and 16), size-1 dimensions getting no factor. All of these are
    /// <see cref="FactorKind.Parallel"/>. When no refinement exists (the cumulative products of the
    /// two shapes do not divide each other, as [3, 4] into [2, 6]), or a size between is dynamic
    /// or 0, every dimension between gets its own <see cref="FactorKind.NeedReplication"/> factor.
    /// </summary>
    public static ShardingRule? Reshape(OpState s)
    {
        if (s.Tensor(0) is not { } x || s.ResultTypes.Count != 1 || s.ResultTypes[0] is not TensorType y) return null;
        var b = new ShardingRuleBuilder();
        int n = x.Rank, m = y.Rank;
        var inDims = new int[n][];
        var outDims = new int[m][];
        int p = 0;
        while (p < n && p < m && x.Dim(p) == y.Dim(p) && x.Dim(p) != TensorType.Dynamic)
        {
            inDims[p] = outDims[p] = new[] { b.Factor(x.Dim(p)) };
            p++;
        }
        int q = 0;
        while (q < n - p && q < m - p && x.Dim(n - 1 - q) == y.Dim(m - 1 - q) && x.Dim(n - 1 - q) != TensorType.Dynamic) q++;
        // The middle, major to minor, so that factor indices follow the dimensions.
        var midIn = x.Shape[p..(n - q)].ToArray();
        var midOut = y.Shape[p..(m - q)].ToArray();
        if (Refine(midIn, midOut) is { } pieces)
        {
            var ids = pieces.Sizes.Select(size => b.Factor(size)).ToArray();
            for (int i = 0; i < midIn.Length; i++) inDims[p + i] = pieces.In[i].Select(k => ids[k]).ToArray();
            for (int i = 0; i < midOut.Length; i++) outDims[p + i] = pieces.Out[i].Select(k => ids[k]).ToArray();
        }
        else
        {
            for (int i = 0; i < midIn.Length; i++) inDims[p + i] = new[] { b.Factor(midIn[i], FactorKind.NeedReplication) };
            for (int i = 0; i < midOut.Length; i++) outDims[p + i] = new[] { b.Factor(midOut[i], FactorKind.NeedReplication) };
        }
        for (int i = 0; i < q; i++)
            inDims[n - q + i] = outDims[m - q + i] = new[] { b.Factor(x.Dim(n - q + i)) };
        return b.Operand(inDims).Result(outDims).Build();
    }

    /// <summary>
    /// The common refinement of two static shapes with the same number of elements: the piece
    /// sizes, major to minor, and the pieces making each dimension; null when there is none.
    /// </summary>
    private static (long[] Sizes, int[][] In, int[][] Out)? Refine(long[] a, long[] c)
    {
        if (a.Any(d => d <= 0) || c.Any(d => d <= 0)) return null;
        long[] cumA, cumC;
        try
        {
            cumA = Cumulative(a);
            cumC = Cumulative(c);
        }
        catch (OverflowException)
        {
            return null;
        }
        long total = cumA.Length == 0 ? 1 : cumA[^1];
        if (total != (cumC.Length == 0 ? 1 : cumC[^1])) return null;
        // The boundaries of both shapes, sorted: each must divide the next.
        var bounds = cumA.Concat(cumC).Append(1L).Distinct().OrderBy(v => v).ToArray();
        for (int i = 1; i < bounds.Length; i++)
            if (bounds[i] % bounds[i - 1] != 0) return null;
        var sizes = new long[bounds.Length - 1];
        for (int i = 0; i < sizes.Length; i++) sizes[i] = bounds[i + 1] / bounds[i];
        int[][] Cover(long[] cum)
        {
            var dims = new int[cum.Length][];
            long prev = 1;
            for (int d = 0; d < cum.Length; d++)
            {
                int lo = Array.IndexOf(bounds, prev), hi = Array.IndexOf(bounds, cum[d]);
                dims[d] = Enumerable.Range(lo, hi - lo).ToArray();
                prev = cum[d];
            }
            return dims;
        }
        return (sizes, Cover(cumA), Cover(cumC));
    }

    private static long[] Cumulative(long[] dims)
    {
        var r = new long[dims.Length];
        long acc = 1;
        for (int i = 0; i < dims.Length; i++) r[i] = acc = checked(acc * dims[i]);
        return r;
    }
}
