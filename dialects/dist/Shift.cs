namespace AutoSpIR.Dialects.Dist;

/// <summary>
/// <c>%y = dist.shift %x {axes = ["sp"], mesh = @mesh, offset = 1, rotate} : tensor&lt;4x8xf32&gt;</c>:
/// a ring send/receive: group position i receives the tensor of position i - offset. LOCAL view.
/// <para>
/// Operand: a tensor, any element type, no <c>#dist.sharding</c> encoding. Attributes:
/// <c>mesh</c>, <c>axes</c> (the group, <see cref="Group"/>); <c>offset</c> (integer, required,
/// any sign); <c>rotate</c> (unit, optional). Result: the operand's type.
/// </para>
/// <para>
/// Semantics: position i's result is the operand of position s = i - offset
/// (<see cref="SourceOf"/>). When s is outside [0, G): with <c>rotate</c>, s is taken modulo G
/// (into [0, G)); without it, the result is zeros. Position p sends its operand to p + offset
/// (<see cref="DestinationOf"/>) when that is a position (always, with <c>rotate</c>).
/// </para>
/// <para>
/// Costs: 0 FLOPs. CommBytes = bytes(x) when some position sends to another position: a
/// position with a destination sends its whole operand once; this is the ring-with-rotate
/// count, the largest over positions. 0 when nothing moves between ranks: G = 1, offset = 0,
/// offset a multiple of G with <c>rotate</c>, or |offset| &gt;= G without it.
/// </para>
/// <para>Gradient: <c>dist.shift</c> of dy by -offset, same group and <c>rotate</c>.</para>
/// </summary>
public static class Shift
{
    public static readonly OpDef Def = new()
    {
        Name = "dist.shift",
        Summary = "Ring send/receive: group position i receives the tensor of position i - offset (zeros or modulo G at the ends).",
        Operands = new[] { "input" },
        Attributes = new[]
        {
            Group.MeshSpec, Group.AxesSpec,
            new AttrSpec("offset", AttrKind.Integer, Required: true, Doc: "position i receives from position i - offset"),
            new AttrSpec("rotate", AttrKind.Unit, Doc: "wrap around modulo G instead of receiving zeros"),
        },
        Traits = OpTraits.Pure | OpTraits.SameOperandsAndResultType,
        InferResultTypes = s => DistVerify.RequireLocalTensor(s, 0, out var x) ? new Type[] { x } : null,
        Verify = (op, s) => Group.Verify(op, s, out _),
        Flops = _ => 0,
        CommBytes = op =>
        {
            long g = Group.Require(op).Size;
            long k = op.GetInt("offset")!.Value;
            bool moves = op.HasAttr("rotate") ? k % g != 0 : k != 0 && k > -g && k < g;
            return moves ? DistVerify.BytesOf(op.Operand(0).Type) : 0;
        },
        Gradient = Gradient,
    };

    // y_i = x_{i-k}, so dx_j = dy_{j+k}: a shift by -k (same wrap-around).
    private static Value?[] Gradient(GradientContext g)
    {
        long k = g.Op.GetInt("offset")!.Value;
        if (k == long.MinValue) throw new InvalidOperationException("the offset -2^63 has no negation");
        var attrs = Tensor.Grad.CopyAttrs(g.Op, "mesh", "axes", "rotate").Append(("offset", (Attribute)g.Context.Integer(-k))).ToArray();
        return new Value?[] { Tensor.Grad.Op(g.Builder, Def, new[] { g.Grad()! }, attrs) };
    }

    /// <summary>The position whose operand position <paramref name="position"/> receives, or -1 when it receives zeros.</summary>
    public static long SourceOf(long position, long groupSize, long offset, bool rotate) =>
        Wrap((Int128)position - offset, groupSize, rotate);

    /// <summary>The position that receives position <paramref name="position"/>'s operand, or -1 when none does.</summary>
    public static long DestinationOf(long position, long groupSize, long offset, bool rotate) =>
        Wrap((Int128)position + offset, groupSize, rotate);

    private static long Wrap(Int128 p, long g, bool rotate)
    {
        if (rotate) return (long)(((p % g) + g) % g);
        return p >= 0 && p < g ? (long)p : -1;
    }

    /// <summary>Builds <c>dist.shift</c> of <paramref name="x"/> by <paramref name="offset"/> over <paramref name="group"/>.</summary>
    public static Value Create(Builder b, Value x, Group group, long offset, bool rotate = false) =>
        DistDialect.CreateCollective(b, Def, x, group, (s, _) => Def.InferResultTypes!(s)?[0] as TensorType,
            rotate ? new[] { ("offset", (Attribute)b.Context.Integer(offset)), ("rotate", b.Context.Unit) }
                   : new[] { ("offset", (Attribute)b.Context.Integer(offset)) });
}
