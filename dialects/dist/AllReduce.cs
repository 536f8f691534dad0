namespace AutoSpIR.Dialects.Dist;

/// <summary>
/// <c>%y = dist.all_reduce %x {axes = ["sp"], mesh = @mesh, reduction = "sum"} : tensor&lt;4x8xf32&gt;</c>
/// (also <c>: tensor&lt;4x8xf32&gt; -&gt; tensor&lt;4x8xf32&gt;</c>): every rank of the group gets the
/// elementwise reduction of the group's tensors. LOCAL (per-rank) view.
/// <para>
/// Operand: a tensor with a floating-point element type and no <c>#dist.sharding</c> encoding.
/// Attributes: <c>mesh</c> (symbol, required), <c>axes</c> (array of strings, required): the
/// group (<see cref="Group"/>); <c>reduction</c> (string, required): <c>"sum"</c> or <c>"max"</c>.
/// Result: the operand's type.
/// </para>
/// <para>
/// Semantics: with x_0..x_{G-1} the operands of the group's ranks in position order, every
/// rank's result is <c>x_0 + ... + x_{G-1}</c> (sum; summed in position order, each addition
/// rounded to the element type) or the elementwise maximum (max; NaN when one is NaN).
/// </para>
/// <para>
/// Costs: FLOPs = numel(x), the additions a rank makes — exactly (G-1)*numel(x)/G for the ring,
/// at most numel(x); a cost function sees types only, not the mesh, so it reports the bound
/// (<see cref="RingAdditions"/> gives the exact count). CommBytes (ring: reduce-scatter then
/// all-gather, 2(G-1) steps of bytes(x)/G each) = <c>2*(G-1)*bytes(x)/G</c>, multiplied
/// before the integer division; 0 when G = 1.
/// </para>
/// <para>
/// Gradient (sum): dy all-reduced with sum over the same group (the differentiated objective
/// is the sum over ranks of each rank's value). "max" has no gradient rule.
/// </para>
/// </summary>
public static class AllReduce
{
    public static readonly OpDef Def = new()
    {
        SeesEncodings = true,
        Name = "dist.all_reduce",
        Summary = "Reduces (sum or max) the tensors of a group of ranks; every rank gets the result.",
        Operands = new[] { "input" },
        Attributes = new[]
        {
            Group.MeshSpec, Group.AxesSpec,
            new AttrSpec("reduction", AttrKind.String, Required: true, Doc: "\"sum\" or \"max\""),
        },
        Traits = OpTraits.Pure | OpTraits.SameOperandsAndResultType,
        InferResultTypes = Infer,
        Verify = (op, s) => Group.Verify(op, s, out _),
        Flops = s => Math.Max(0, s.Tensor(0)?.NumElements ?? 0),
        CommBytes = op =>
        {
            long g = Group.Require(op).Size;
            return DistVerify.Saturate((Int128)2 * (g - 1) * DistVerify.BytesOf(op.Operand(0).Type) / g);
        },
        Gradient = Gradient,
    };

    // d(all_reduce_sum(x))/dx = all_reduce_sum(dy): each x_p feeds every rank's result.
    private static Value?[] Gradient(GradientContext g)
    {
        if (g.Op.GetString("reduction") != "sum")
            throw new InvalidOperationException($"all_reduce with reduction \"{g.Op.GetString("reduction")}\" has no gradient rule (only \"sum\" has one)");
        return new Value?[] { Tensor.Grad.Op(g.Builder, Def, new[] { g.Grad()! }, Tensor.Grad.CopyAttrs(g.Op, "mesh", "axes", "reduction")) };
    }

    /// <summary>The additions one rank makes in a ring all-reduce of <paramref name="op"/>: (G-1)*numel(x)/G.</summary>
    public static long RingAdditions(Operation op)
    {
        long g = Group.Require(op).Size;
        long n = Math.Max(0, (op.Operand(0).Type as TensorType)?.NumElements ?? 0);
        return DistVerify.Saturate((Int128)(g - 1) * n / g);
    }

    /// <summary>Builds <c>dist.all_reduce</c> of <paramref name="x"/> over <paramref name="group"/>.</summary>
    public static Value Create(Builder b, Value x, Group group, string reduction = "sum") =>
        DistDialect.CreateCollective(b, Def, x, group, (s, _) => Def.InferResultTypes!(s)?[0] as TensorType, ("reduction", b.Context.String(reduction)));

    private static Type[]? Infer(OpState s)
    {
        if (!DistVerify.RequireLocalTensor(s, 0, out var x)) return null;
        if (!x.Element.IsFloat) return s.Fail($"operand #0 ('input') must have a floating-point element type, but has {x.Element}");
        if (s.Attr("reduction") is not StringAttr { Value: "sum" or "max" })
            return s.Fail($"attribute 'reduction' must be \"sum\" or \"max\", but got {s.Attr("reduction")}");
        return new Type[] { x };
    }
}
