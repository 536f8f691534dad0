namespace AutoSpIR.Dialects.Dist;

/// <summary>
/// <c>%i = dist.axis_index {axes = ["sp"], mesh = @mesh} : tensor&lt;i64&gt;</c>: this rank's
/// position in the group, as a rank-0 i64 tensor. LOCAL view.
/// <para>
/// No operands. Attributes: <c>mesh</c>, <c>axes</c> (the group, <see cref="Group"/>).
/// Result: <c>tensor&lt;i64&gt;</c> holding the rank's row-major index over <c>axes</c> in the
/// order listed, 0..G-1 (<see cref="DeviceMesh.GroupPosition"/>): for mesh
/// <c>["dp"=2, "sp"=4]</c>, rank 6 has index 1 over ["dp"], 2 over ["sp"], 6 over ["dp", "sp"]
/// and 5 over ["sp", "dp"].
/// </para>
/// <para>Costs: 0 FLOPs, CommBytes 0 (every rank knows its coordinates). Gradient: none (no operands).</para>
/// </summary>
public static class AxisIndex
{
    public static readonly OpDef Def = new()
    {
        SeesEncodings = true,
        Name = "dist.axis_index",
        Summary = "This rank's position in a group of the mesh, as a rank-0 i64 tensor.",
        Attributes = new[] { Group.MeshSpec, Group.AxesSpec },
        Traits = OpTraits.Pure,
        InferResultTypes = s => new Type[] { s.Context.Tensor(ReadOnlySpan<long>.Empty, s.Context.I64) },
        Verify = (op, s) => Group.Verify(op, s, out _),
        Flops = _ => 0,
        CommBytes = _ => 0,
        Gradient = _ => Array.Empty<Value?>(),
    };

    /// <summary>Builds <c>dist.axis_index</c> over <paramref name="group"/>.</summary>
    public static Value Create(Builder b, Group group) =>
        b.Create(Def, Array.Empty<Value>(), b.Attrs(("mesh", b.Context.Symbol(group.Mesh.Name)), ("axes", DistDialect.Axes(b.Context, group.Axes)))).Result(0);
}
