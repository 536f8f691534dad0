using AutoSpIR.Dialects.Tensor;

namespace AutoSpIR.Dialects.Dist;

/// <summary>
/// <c>%y = dist.all_gather %x {axes = ["sp"], dim = 1, mesh = @mesh} : tensor&lt;2x4xf32&gt; -&gt; tensor&lt;2x16xf32&gt;</c>
/// (G = 4): every rank gets the group's tensors concatenated along <c>dim</c>. LOCAL view.
/// <para>
/// Operand: a tensor of rank 1 or more, any element type, no <c>#dist.sharding</c> encoding.
/// Attributes: <c>mesh</c>, <c>axes</c> (the group, <see cref="Group"/>); <c>dim</c> (integer,
/// required; negative counts from the end). Result: the operand's shape with dimension
/// <c>dim</c> multiplied by G (<c>[.., n, ..] -&gt; [.., n*G, ..]</c>; dynamic stays dynamic),
/// the operand's element type and encoding. The shape rule needs G, hence the mesh, so the
/// verifier (not a shape rule) checks the result type; build it with <see cref="Create"/>.
/// </para>
/// <para>
/// Semantics: with x_0..x_{G-1} the operands of the group's ranks in position order, every
/// rank's result is <c>concat(x_0, ..., x_{G-1}, dim)</c>: y[.., j*n + i, ..] = x_j[.., i, ..].
/// </para>
/// <para>
/// Costs: 0 FLOPs. CommBytes (ring: G-1 steps, each forwarding one rank's block) =
/// <c>(G-1)*bytes(x)</c>, x the local operand.
/// </para>
/// <para>Gradient: <c>dist.reduce_scatter</c> of dy along <c>dim</c> over the same group.</para>
/// </summary>
public static class AllGather
{
    public static readonly OpDef Def = new()
    {
        SeesEncodings = true,
        Name = "dist.all_gather",
        Summary = "Concatenates the tensors of a group of ranks along a dimension, in group order; every rank gets the result.",
        Operands = new[] { "input" },
        Attributes = new[]
        {
            Group.MeshSpec, Group.AxesSpec,
            new AttrSpec("dim", AttrKind.Integer, Required: true, Doc: "the dimension to concatenate along; negative counts from the end"),
        },
        Traits = OpTraits.Pure,
        Verify = (op, s) => Group.Verify(op, s, out var group) && ResultType(s, group) is { } t && DistVerify.RequireResult(op, s, t),
        Flops = _ => 0,
        CommBytes = op => DistVerify.Saturate((Int128)(Group.Require(op).Size - 1) * DistVerify.BytesOf(op.Operand(0).Type)),
        Gradient = g => new Value?[]
        {
            g.Builder.Create(ReduceScatter.Def.Name, new[] { g.Grad()! }, new[] { g.Operand(0).Type },
                g.Builder.Attrs(Grad.CopyAttrs(g.Op, "mesh", "axes", "dim"))).Result(0),
        },
    };

    /// <summary>The result type for <paramref name="group"/>, or null after reporting why there is none.</summary>
    public static TensorType? ResultType(OpState s, Group group)
    {
        if (!DistVerify.RequireLocalTensor(s, 0, out var x)) return null;
        if (!Dims.RequireInt(s, "dim", out long raw) || !Dims.NormalizeAttr(s, "dim", raw, x.Rank, "operand #0 ('input')", out int dim)) return null;
        var shape = x.Shape.ToArray();
        if (!DistVerify.TryScale(shape[dim], group.Size, out shape[dim]))
        {
            s.Fail($"gathering dimension {dim} of size {shape[dim]} from {group.Size} ranks overflows a 64-bit size");
            return null;
        }
        return s.Context.Tensor(shape, x.Element, x.Encoding);
    }

    /// <summary>Builds <c>dist.all_gather</c> of <paramref name="x"/> along <paramref name="dim"/> over <paramref name="group"/>.</summary>
    public static Value Create(Builder b, Value x, Group group, long dim) =>
        DistDialect.CreateCollective(b, Def, x, group, ResultType, ("dim", b.Context.Integer(dim)));
}
