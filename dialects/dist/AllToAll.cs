using AutoSpIR.Dialects.Tensor;

namespace AutoSpIR.Dialects.Dist;

/// <summary>
/// <c>%y = dist.all_to_all %x {axes = ["sp"], concat_dim = 2, mesh = @mesh, split_dim = 1} : tensor&lt;1x64x8x16xf32&gt; -&gt; tensor&lt;1x16x32x16xf32&gt;</c>
/// (G = 4): every rank splits its tensor into G blocks along <c>split_dim</c>, sends block j to
/// group position j, and concatenates the G blocks it receives along <c>concat_dim</c> in
/// group order (Ulysses: sequence-sharded &lt;-&gt; head-sharded). LOCAL view.
/// <para>
/// Operand: a tensor of rank 1 or more, any element type, no <c>#dist.sharding</c> encoding.
/// Attributes: <c>mesh</c>, <c>axes</c> (the group, <see cref="Group"/>); <c>split_dim</c>
/// and <c>concat_dim</c> (integers, required; negative counts from the end; they may be
/// equal). The size of <c>split_dim</c> must be divisible by G (unless dynamic). Result:
/// the operand's shape with <c>split_dim</c> divided by G and then <c>concat_dim</c>
/// multiplied by G (unchanged when they are equal), the operand's element type and encoding;
/// the verifier checks it (the rule needs the mesh).
/// </para>
/// <para>
/// Semantics: with a = split_dim, b = concat_dim, m = n_a/G and x_p the operand of position p,
/// block j of x_p is x_p[.., j*m .. (j+1)*m, ..] along a; position q's result is
/// <c>concat(block q of x_0, ..., block q of x_{G-1}, b)</c>.
/// </para>
/// <para>
/// Costs: 0 FLOPs. CommBytes (each rank keeps its own block and sends the other G-1) =
/// <c>(G-1)*bytes(x)/G</c>, multiplied before the integer division.
/// </para>
/// <para>Gradient: <c>dist.all_to_all</c> of dy over the same group with <c>split_dim</c> and <c>concat_dim</c> swapped.</para>
/// </summary>
public static class AllToAll
{
    public static readonly OpDef Def = new()
    {
        SeesEncodings = true,
        Name = "dist.all_to_all",
        Summary = "Splits along one dimension, exchanges block j with group position j, concatenates along another.",
        Operands = new[] { "input" },
        Attributes = new[]
        {
            Group.MeshSpec, Group.AxesSpec,
            new AttrSpec("split_dim", AttrKind.Integer, Required: true, Doc: "the dimension cut into G blocks; negative counts from the end"),
            new AttrSpec("concat_dim", AttrKind.Integer, Required: true, Doc: "the dimension the received blocks are joined along; negative counts from the end"),
        },
        Traits = OpTraits.Pure,
        Verify = (op, s) => Group.Verify(op, s, out var group) && ResultType(s, group) is { } t && DistVerify.RequireResult(op, s, t),
        Flops = _ => 0,
        CommBytes = op =>
        {
            long g = Group.Require(op).Size;
            return DistVerify.Saturate((Int128)(g - 1) * DistVerify.BytesOf(op.Operand(0).Type) / g);
        },
        Gradient = Gradient,
    };

    // all_to_all(split a, concat b) moves block (p -> q); its transpose moves it back: split b, concat a.
    private static Value?[] Gradient(GradientContext g) => new Value?[]
    {
        g.Builder.Create(Def.Name, new[] { g.Grad()! }, new[] { g.Operand(0).Type },
            g.Builder.Attrs(("mesh", g.Op.GetAttr("mesh")!), ("axes", g.Op.GetAttr("axes")!),
                ("split_dim", g.Op.GetAttr("concat_dim")!), ("concat_dim", g.Op.GetAttr("split_dim")!))).Result(0),
    };

    /// <summary>The result type for <paramref name="group"/>, or null after reporting why there is none.</summary>
    public static TensorType? ResultType(OpState s, Group group)
    {
        if (!DistVerify.RequireLocalTensor(s, 0, out var x)) return null;
        const string of = "operand #0 ('input')";
        if (!Dims.RequireInt(s, "split_dim", out long rawSplit) || !Dims.NormalizeAttr(s, "split_dim", rawSplit, x.Rank, of, out int a)) return null;
        if (!Dims.RequireInt(s, "concat_dim", out long rawConcat) || !Dims.NormalizeAttr(s, "concat_dim", rawConcat, x.Rank, of, out int b)) return null;
        var shape = x.Shape.ToArray();
        if (shape[a] != TensorType.Dynamic)
        {
            if (shape[a] % group.Size != 0)
            {
                s.Fail($"split dimension {a} has size {shape[a]}, which is not divisible by the group size {group.Size} ({group})");
                return null;
            }
            shape[a] /= group.Size;
        }
        if (!DistVerify.TryScale(shape[b], group.Size, out shape[b]))
        {
            s.Fail($"concatenating dimension {b} of size {shape[b]} from {group.Size} ranks overflows a 64-bit size");
            return null;
        }
        return s.Context.Tensor(shape, x.Element, x.Encoding);
    }

    /// <summary>Builds <c>dist.all_to_all</c> of <paramref name="x"/> over <paramref name="group"/>.</summary>
    public static Value Create(Builder b, Value x, Group group, long splitDim, long concatDim) =>
        DistDialect.CreateCollective(b, Def, x, group, ResultType,
            ("split_dim", b.Context.Integer(splitDim)), ("concat_dim", b.Context.Integer(concatDim)));
}
