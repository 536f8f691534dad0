namespace AutoSpIR.Dialects.Tensor;

/// <summary>
/// <c>%dx = tensor.reduce_max_grad %x, %y, %dy {dims = [-1]} : (tensor&lt;2x8xf32&gt;, tensor&lt;2xf32&gt;, tensor&lt;2xf32&gt;) -&gt; tensor&lt;2x8xf32&gt;</c>:
/// the gradient of <c>tensor.reduce_max</c>, routed to the maxima.
/// <para>
/// Operands: the forward <c>input</c> x (floating-point T), its <c>output</c> y =
/// reduce_max(x) and <c>grad_output</c> dy of y's type. Attributes <c>dims</c> (required) and
/// <c>keepdim</c> (unit, optional): the forward op's; y must have the type they give the
/// reduction of x. Result: x's type.
/// </para>
/// <para>
/// Semantics: for each element x[i] of the group reduced into output o, with m = y[o] and
/// n the number of the group's elements equal to m (or NaN when m is NaN):
/// <c>dx[i] = dy[o] / n</c> when x[i] equals m, else 0. Ties share the gradient evenly, as
/// <c>torch.amax</c>.
/// </para>
/// <para>Costs: 2 * numel(input) FLOPs.</para>
/// <para>Sharding rule: a kept dimension is one Parallel factor of input, output, grad_output and
/// the result; a reduced dimension a NeedReplication factor of input and result (output and
/// grad_output lack it, or have it with size 1 under <c>keepdim</c>, without factor): the number
/// of ties n of a group is counted over the whole group.</para>
/// </summary>
public static class ReduceMaxGrad
{
    public static readonly OpDef Def = new()
    {
        Name = "tensor.reduce_max_grad",
        Summary = "Routes the gradient of reduce_max to the maxima of each group, ties sharing evenly.",
        Operands = new[] { "input", "output", "grad_output" },
        Attributes = new[]
        {
            new AttrSpec("dims", AttrKind.IntArray, Required: true, Doc: "the forward op's reduced dimensions"),
            new AttrSpec("keepdim", AttrKind.Unit, Doc: "the forward op kept the reduced dimensions with size 1"),
        },
        Traits = OpTraits.Pure,
        InferResultTypes = Infer,
        Flops = s => 2 * Dims.Numel(s.Tensor(0)!),
        ShardingRule = Sharding,
    };

    private static ShardingRule? Sharding(OpState s)
    {
        if (s.Tensor(0) is not { } x || s.Ints("dims") is not { } raw || Reduce.ReducedDims(raw, x.Rank) is not { } reduced) return null;
        var b = new ShardingRuleBuilder();
        var (xDims, yDims) = Reduce.ReducedFactors(b, x, reduced, s.Flag("keepdim"), FactorKind.NeedReplication);
        return b.Operand(xDims).Operand(yDims).Operand(yDims).Result(xDims).Build();
    }

    private static Type[]? Infer(OpState s)
    {
        if (!Dims.RequireFloatTensor(s, 0, out var x)) return null;
        var raw = Dims.RequireInts(s, "dims");
        if (raw is null) return null;
        var dims = Dims.NormalizeList(s, "dims", raw, x.Rank, "operand #0 ('input')");
        if (dims is null) return null;
        var reduced = new bool[x.Rank];
        foreach (var d in dims) reduced[d] = true;
        var shape = new List<long>(x.Rank);
        for (int i = 0; i < x.Rank; i++)
        {
            if (!reduced[i]) shape.Add(x.Dim(i));
            else if (s.Flag("keepdim")) shape.Add(1);
        }
        var want = s.Context.Tensor(shape.ToArray(), x.Element);
        if (!s.RequireTensor(1, out var y)) return null;
        if (!ReferenceEquals(y, want))
            return s.Fail($"operand #1 ('output') has type {y}, expected {want} (operand #0 ('input') reduced over 'dims')");
        if (!s.RequireTensor(2, out var dy)) return null;
        if (!ReferenceEquals(dy, y))
            return s.Fail($"operand #2 ('grad_output') has type {dy}, expected {y} (the type of operand #1 ('output'))");
        return new Type[] { x };
    }
}
