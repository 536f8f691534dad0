namespace AutoSpIR.Dialects.Tensor;

/// <summary>
/// <c>%y = tensor.broadcast %x {dims = [1], shape = [4, 8]} : tensor&lt;8xf32&gt; -&gt; tensor&lt;4x8xf32&gt;</c>:
/// StableHLO <c>broadcast_in_dim</c>.
/// <para>
/// Attributes: <c>shape</c> (array of integers, required): the result shape, every size &gt;= 0;
/// <c>dims</c> (array of integers, required): one entry per operand dimension, operand
/// dimension i becoming result dimension dims[i]. Negative entries count from the end of the
/// result rank (-1 is the last result dimension). After normalization the entries must be
/// strictly increasing (so they are unique and keep the operand's dimension order).
/// Operand dimension i must have size 1 (it is repeated) or shape[dims[i]].
/// Any element type; the result is <c>tensor&lt;shape x T&gt;</c> (without encoding).
/// </para>
/// <para>
/// Semantics: <c>y[j_0, ..., j_{R-1}] = x[k_0, ..., k_{r-1}]</c> with
/// <c>k_i = (x.dim(i) == 1 ? 0 : j_{dims[i]})</c>.
/// </para>
/// <para>Costs: 0 FLOPs. Folds: an identity broadcast (same type, dims = 0..r-1) to its
/// operand; a splat constant operand to a splat of the result type.</para>
/// <para>Gradient: dy summed (reduce_sum) over the result dimensions that are new or that
/// repeat a size-1 operand dimension, reshaped to the operand type.</para>
/// <para>Sharding rule: an operand dimension kept at its size is one Parallel factor with its
/// result dimension; a new result dimension, or one repeating a size-1 operand dimension, is a
/// Parallel factor of the result alone (the repeated operand dimension gets no factor):
/// <c>([i])-&gt;([j, i]) {i=8, j=4}</c>.</para>
/// </summary>
public static class Broadcast
{
    public static readonly OpDef Def = new()
    {
        Name = "tensor.broadcast",
        Summary = "Broadcasts a tensor to a shape along a dimension map (StableHLO broadcast_in_dim).",
        Operands = new[] { "input" },
        Attributes = new[]
        {
            new AttrSpec("shape", AttrKind.IntArray, Required: true, Doc: "the result shape"),
            new AttrSpec("dims", AttrKind.IntArray, Required: true, Doc: "the result dimension of each operand dimension"),
        },
        Traits = OpTraits.Pure,
        InferResultTypes = Infer,
        Flops = _ => 0,
        Fold = Fold,
        Gradient = Gradient,
        ShardingRule = Sharding,
    };

    private static ShardingRule? Sharding(OpState s)
    {
        if (s.Tensor(0) is not { } x || s.ResultTypes.Count != 1 || s.ResultTypes[0] is not TensorType y) return null;
        if (s.Ints("dims") is not { } raw || raw.Length != x.Rank) return null;
        var b = new ShardingRuleBuilder();
        var inDims = new int[x.Rank][];
        var outDims = new int[y.Rank][];
        for (int i = 0; i < x.Rank; i++)
        {
            int j = Dims.Normalize(raw[i], y.Rank);
            if (j < 0 || outDims[j] is not null) return null;
            if (x.Dim(i) == y.Dim(j)) inDims[i] = outDims[j] = new[] { b.Factor(x.Dim(i)) };
            else inDims[i] = Array.Empty<int>();   // size 1, repeated
        }
        for (int j = 0; j < y.Rank; j++) outDims[j] ??= new[] { b.Factor(y.Dim(j)) };
        return b.Operand(inDims).Result(outDims).Build();
    }

    private static Value?[] Gradient(GradientContext g)
    {
        var x = (TensorType)g.Operand(0).Type;
        var y = (TensorType)g.Result().Type;
        var mapped = new int[x.Rank];
        var dims = ((ArrayAttr)g.Op.GetAttr("dims")!).AsInts()!;
        for (int i = 0; i < x.Rank; i++) mapped[i] = Dims.Normalize(dims[i], y.Rank);
        // Every result dimension not fed by an operand dimension of the same size is summed.
        var summed = Enumerable.Range(0, y.Rank).Where(j =>
        {
            int i = Array.IndexOf(mapped, j);
            return i < 0 || x.Dim(i) != y.Dim(j);
        }).ToArray();
        var dy = g.Grad()!;
        var sum = summed.Length == 0 ? dy : Grad.ReduceSum(g.Builder, dy, summed);
        return new Value?[] { Grad.Reshape(g.Builder, sum, x) };
    }

    private static Type[]? Infer(OpState s)
    {
        if (!s.RequireTensor(0, out var x)) return null;
        var shape = Dims.RequireInts(s, "shape");
        if (shape is null) return null;
        var rawDims = Dims.RequireInts(s, "dims");
        if (rawDims is null) return null;
        for (int j = 0; j < shape.Length; j++)
            if (shape[j] < 0) return s.Fail($"'shape' entry #{j} is {shape[j]}, expected a size >= 0");
        if (rawDims.Length != x.Rank)
            return s.Fail($"'dims' has {rawDims.Length} entries, expected {x.Rank} (the rank of operand #0 ('input'))");
        var dims = Dims.NormalizeList(s, "dims", rawDims, shape.Length, "the result", increasing: true);
        if (dims is null) return null;
        for (int i = 0; i < dims.Length; i++)
        {
            long d = x.Dim(i), want = shape[dims[i]];
            if (d != 1 && d != want)
                return s.Fail($"operand #0 ('input') dimension {i} has size {Dims.Text(d)}, expected 1 or {want} (result dimension {dims[i]})");
        }
        return new Type[] { s.Context.Tensor(shape, x.Element) };
    }

    private static FoldResult? Fold(Operation op, Attribute?[] c)
    {
        var input = op.Operand(0);
        var result = op.Result(0);
        if (ReferenceEquals(input.Type, result.Type) && op.GetAttr("dims") is ArrayAttr a && a.AsInts() is { } dims
            && dims.Length == ((TensorType)result.Type).Rank)
        {
            bool identity = true;
            for (int i = 0; i < dims.Length; i++) identity &= Dims.Normalize(dims[i], dims.Length) == i;
            if (identity) return FoldResult.Of(input);
        }
        if (c[0] is DenseElementsAttr { IsSplat: true } d && result.Type is TensorType rt)
            return FoldResult.Of(Constants.Reshape(op.Context, d, rt));
        return null;
    }
}
