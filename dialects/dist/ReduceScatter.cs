using AutoSpIR.Dialects.Tensor;

namespace AutoSpIR.Dialects.Dist;

/// <summary>
/// <c>%y = dist.reduce_scatter %x {axes = ["sp"], dim = 1, mesh = @mesh} : tensor&lt;2x16xf32&gt; -&gt; tensor&lt;2x4xf32&gt;</c>
/// (G = 4): sums the group's tensors and keeps this rank's block of the sum. LOCAL view.
/// <para>
/// Operand: a tensor of rank 1 or more with a floating-point element type and no
/// <c>#dist.sharding</c> encoding. Attributes: <c>mesh</c>, <c>axes</c> (the group,
/// <see cref="Group"/>); <c>dim</c> (integer, required; negative counts from the end).
/// The size n of <c>dim</c> must be divisible by G (unless dynamic). Result: the operand's
/// shape with <c>dim</c> divided by G (<c>[.., n, ..] -&gt; [.., n/G, ..]</c>), the operand's
/// element type and encoding; the verifier checks it (the rule needs the mesh).
/// </para>
/// <para>
/// Semantics: with x_0..x_{G-1} the operands of the group's ranks in position order and
/// S = x_0 + ... + x_{G-1} (summed in position order), the rank at position j gets block j of S
/// along <c>dim</c>: y[.., i, ..] = S[.., j*(n/G) + i, ..].
/// </para>
/// <para>
/// Costs: FLOPs = the additions one rank makes in the ring, (G-1)*numel(x)/G =
/// numel(x) - numel(y) (exact: G = numel(x)/numel(y) from the types). CommBytes (ring: G-1 steps
/// of one block each) = <c>(G-1)*bytes(x)/G</c>, multiplied before the integer division.
/// </para>
/// <para>Gradient: <c>dist.all_gather</c> of dy along <c>dim</c> over the same group.</para>
/// </summary>
public static class ReduceScatter
{
    public static readonly OpDef Def = new()
    {
        SeesEncodings = true,
        Name = "dist.reduce_scatter",
        Summary = "Sums the tensors of a group of ranks and scatters the sum along a dimension: position j keeps block j.",
        Operands = new[] { "input" },
        Attributes = new[]
        {
            Group.MeshSpec, Group.AxesSpec,
            new AttrSpec("dim", AttrKind.Integer, Required: true, Doc: "the dimension to scatter along; negative counts from the end"),
        },
        Traits = OpTraits.Pure,
        Verify = (op, s) => Group.Verify(op, s, out var group) && ResultType(s, group) is { } t && DistVerify.RequireResult(op, s, t),
        Flops = s => Math.Max(0, s.Tensor(0)?.NumElements ?? 0) - Math.Max(0, (s.ResultTypes.Count > 0 ? s.ResultTypes[0] as TensorType : null)?.NumElements ?? 0),
        CommBytes = op =>
        {
            long g = Group.Require(op).Size;
            return DistVerify.Saturate((Int128)(g - 1) * DistVerify.BytesOf(op.Operand(0).Type) / g);
        },
        Gradient = g => new Value?[]
        {
            g.Builder.Create(AllGather.Def.Name, new[] { g.Grad()! }, new[] { g.Operand(0).Type },
                g.Builder.Attrs(Grad.CopyAttrs(g.Op, "mesh", "axes", "dim"))).Result(0),
        },
    };

    /// <summary>The result type for <paramref name="group"/>, or null after reporting why there is none.</summary>
    public static TensorType? ResultType(OpState s, Group group)
    {
        if (!DistVerify.RequireLocalTensor(s, 0, out var x)) return null;
        if (!x.Element.IsFloat)
        {
            s.Fail($"operand #0 ('input') must have a floating-point element type, but has {x.Element}");
            return null;
        }
        if (!Dims.RequireInt(s, "dim", out long raw) || !Dims.NormalizeAttr(s, "dim", raw, x.Rank, "operand #0 ('input')", out int dim)) return null;
        var shape = x.Shape.ToArray();
        if (shape[dim] != TensorType.Dynamic)
        {
            if (shape[dim] % group.Size != 0)
            {
                s.Fail($"dimension {dim} has size {shape[dim]}, which is not divisible by the group size {group.Size} ({group})");
                return null;
            }
            shape[dim] /= group.Size;
        }
        return s.Context.Tensor(shape, x.Element, x.Encoding);
    }

    /// <summary>Builds <c>dist.reduce_scatter</c> of <paramref name="x"/> along <paramref name="dim"/> over <paramref name="group"/>.</summary>
    public static Value Create(Builder b, Value x, Group group, long dim) =>
        DistDialect.CreateCollective(b, Def, x, group, ResultType, ("dim", b.Context.Integer(dim)));
}
