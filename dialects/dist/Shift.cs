namespace AutoSpIR.Dialects.Dist;

/// <summary>
/// <c>%y = dist.shift %x {axes = ["sp"], mesh = @mesh, offset = 1, rotate} : tensor&lt;4x8xf32&gt;</c>,
/// <c>%y = dist.shift %l {axes = ["sp"], fill = -100, mesh = @mesh, offset = -1} : tensor&lt;2x1xi64&gt;</c>:
/// a ring send/receive: group position i receives the tensor of position i - offset. LOCAL view.
/// <para>
/// Operand: a tensor, any element type, no <c>#dist.sharding</c> encoding. Attributes:
/// <c>mesh</c>, <c>axes</c> (the group, <see cref="Group"/>); <c>offset</c> (integer, required,
/// any sign); <c>rotate</c> (unit, optional); <c>fill</c> (optional, default 0, not with
/// <c>rotate</c>): an integer for an integer element type (within the type's range), an integer or
/// a float for a floating-point one (rounded once to the element type). Result: the operand's type.
/// </para>
/// <para>
/// Semantics: position i's result is the operand of position s = i - offset
/// (<see cref="SourceOf"/>). When s is outside [0, G): with <c>rotate</c>, s is taken modulo G
/// (into [0, G)); without it, the result is a tensor filled with <c>fill</c> (zeros by default:
/// the last sequence shard's halo of labels is ignore_index, not 0). Position p sends its operand
/// to p + offset (<see cref="DestinationOf"/>) when that is a position (always, with <c>rotate</c>).
/// </para>
/// <para>
/// Costs: 0 FLOPs. CommBytes = bytes(x) when some position sends to another position: a
/// position with a destination sends its whole operand once; this is the ring-with-rotate
/// count, the largest over positions. 0 when nothing moves between ranks: G = 1, offset = 0,
/// offset a multiple of G with <c>rotate</c>, or |offset| &gt;= G without it.
/// </para>
/// <para>Gradient: <c>dist.shift</c> of dy by -offset, same group and <c>rotate</c>, filled with zeros
/// (the filled positions are constants: no gradient flows back from them).</para>
/// </summary>
public static class Shift
{
    public static readonly OpDef Def = new()
    {
        SeesEncodings = true,
        Name = "dist.shift",
        Summary = "Ring send/receive: group position i receives the tensor of position i - offset (fill, zeros by default, or modulo G at the ends).",
        Operands = new[] { "input" },
        Attributes = new[]
        {
            Group.MeshSpec, Group.AxesSpec,
            new AttrSpec("offset", AttrKind.Integer, Required: true, Doc: "position i receives from position i - offset"),
            new AttrSpec("rotate", AttrKind.Unit, Doc: "wrap around modulo G instead of receiving zeros"),
            new AttrSpec("fill", AttrKind.Float, Doc: "the value of a result with no source (integer for integer types); default 0; not with rotate"),
        },
        Traits = OpTraits.Pure | OpTraits.SameOperandsAndResultType,
        InferResultTypes = Infer,
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

    /// <summary>
    /// Builds <c>dist.shift</c> of <paramref name="x"/> by <paramref name="offset"/> over <paramref name="group"/>,
    /// with <paramref name="fill"/> (an IntegerAttr or FloatAttr; none for zeros) where there is no source.
    /// </summary>
    public static Value Create(Builder b, Value x, Group group, long offset, bool rotate = false, Attribute? fill = null)
    {
        var attrs = new List<(string, Attribute)> { ("offset", b.Context.Integer(offset)) };
        if (rotate) attrs.Add(("rotate", b.Context.Unit));
        if (fill is not null) attrs.Add(("fill", fill));
        return DistDialect.CreateCollective(b, Def, x, group, (s, _) => Def.InferResultTypes!(s)?[0] as TensorType, attrs.ToArray());
    }

    /// <summary>The fill of a verified shift op as a double (0 when absent).</summary>
    public static double FillOf(Operation op) => op.GetFloat("fill") ?? 0;

    private static Type[]? Infer(OpState s)
    {
        if (!DistVerify.RequireLocalTensor(s, 0, out var x)) return null;
        if (s.Attr("fill") is not null && s.Flag("rotate"))
            return s.Fail("fill has no meaning with rotate (every position has a source)");
        if (!Tensor.Dims.CheckFill(s, x, "the operand")) return null;
        return new Type[] { x };
    }
}
