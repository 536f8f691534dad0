namespace AutoSpIR.Dialects.Dist;

/// <summary>
/// <c>dist.mesh @mesh {axes = ["dp", "sp"], shape = [2, 4]}</c>: declares a device mesh, a
/// symbol that shardings (<c>#dist.sharding&lt;@mesh, ...&gt;</c>) and collectives
/// (<c>{mesh = @mesh, axes = [...]}</c>) refer to. Generic form:
/// <c>"dist.mesh"() {axes = ["dp", "sp"], shape = [2, 4], sym_name = "mesh"} : () -&gt; ()</c>.
/// <para>
/// Attributes: <c>sym_name</c> (string, required; written positionally as <c>@mesh</c>),
/// <c>axes</c> (array of strings, required): the axis names, non-empty and unique;
/// <c>shape</c> (array of integers, required): one size per axis, each at least 1. At least
/// one axis. No operands, results or regions. It must sit directly in a symbol table (a module).
/// </para>
/// <para>
/// Ranks are laid out row-major over the axes in declaration order:
/// <c>rank = sum_i index_i * prod_{j&gt;i} shape_j</c>, so for <c>["dp"=2, "sp"=4]</c>
/// rank = dp*4 + sp: ranks 0..3 are dp = 0, ranks 4..7 dp = 1 (<see cref="DeviceMesh"/>).
/// </para>
/// <para>Costs: none. Not pure: DCE keeps it although it has no uses.</para>
/// </summary>
public static class Mesh
{
    public static readonly OpDef Def = new()
    {
        SeesEncodings = true,
        Name = "dist.mesh",
        Summary = "Declares a device mesh: named axes with sizes; ranks are row-major over the axes.",
        NumResults = 0,
        Attributes = new[]
        {
            new AttrSpec("sym_name", AttrKind.String, Required: true, Doc: "the mesh's symbol name"),
            new AttrSpec("axes", AttrKind.Array, Required: true, Doc: "axis names, unique and non-empty, major to minor"),
            new AttrSpec("shape", AttrKind.IntArray, Required: true, Doc: "the size of each axis, at least 1"),
        },
        Traits = OpTraits.Symbol,
        PositionalAttribute = "sym_name",
        Verify = Verify,
    };

    private static bool Verify(Operation op, OpState s)
    {
        if (op.ParentOp is not { } parent || !parent.HasTrait(OpTraits.SymbolTable))
            return s.Error("must be directly inside a module (a symbol table), not in "
                           + (op.ParentOp is { } p ? $"'{p.Name}'" : "nothing"));
        if (!DeviceMesh.TryRead(op, out _, out var error)) return s.Error(error);
        return true;
    }
}
