using AutoSpIR.Dialects.Dist;
using AutoSpIR.Dialects.Func;

namespace AutoSpIR.Passes.AutoSp;

/// <summary>
/// The mesh the sequence-parallel passes work on: <c>dist.mesh @mesh ["sp"=P]</c>, or
/// <c>dist.mesh @mesh ["dp"=D, "sp"=P]</c> with data parallelism. Ranks are row-major over the
/// axes, so rank = dp*P + sp: ranks 0..P-1 hold batch shard 0, each one a sequence shard of it.
/// The passes that take <c>sp</c>/<c>dp</c> options share it: the first creates it, the others
/// check that the one they find has those sizes.
/// </summary>
public static class SpMesh
{
    public const string Name = "mesh";
    public const string SeqAxis = "sp";
    public const string BatchAxis = "dp";
    /// <summary>The attribute naming the decoder layer a reshard or collective belongs to, for the per-layer comm report.</summary>
    public const string LayerAttr = "aspir.layer";

    /// <summary>The pass options every sequence-parallel pass that needs the mesh takes.</summary>
    public static readonly PassOption[] Options =
    {
        new("sp", "int", "1", "ranks the sequence is split over (mesh axis \"sp\")"),
        new("dp", "int", "1", "ranks the batch is split over (mesh axis \"dp\"); the mesh is [\"dp\"=D, \"sp\"=P] when D > 1"),
    };

    /// <summary>
    /// The mesh of <paramref name="module"/> for these sizes, created at the top of the module when
    /// it has none; null after reporting an error (bad sizes, or a mesh with other axes).
    /// </summary>
    public static DeviceMesh? GetOrCreate(Operation module, long sp, long dp, string pass, PassContext pc)
    {
        if (sp < 1 || dp < 1)
        {
            pc.Diagnostics.Error(module.Location, $"{pass}: sp and dp must be at least 1, but got sp={sp}, dp={dp}");
            return null;
        }
        var axes = dp > 1 ? new[] { BatchAxis, SeqAxis } : new[] { SeqAxis };
        var shape = dp > 1 ? new[] { dp, sp } : new[] { sp };
        if (Find(module) is { } existing)
        {
            if (existing.Axes.SequenceEqual(axes) && existing.Shape.SequenceEqual(shape)) return existing;
            pc.Diagnostics.Error(module.Location,
                $"{pass}: the module already has a mesh @{Name} of axes [{string.Join(", ", existing.Axes.Select((a, i) => $"\"{a}\"={existing.Shape[i]}"))}], "
                + $"not the [{string.Join(", ", axes.Select((a, i) => $"\"{a}\"={shape[i]}"))}] this pass was given");
            return null;
        }
        var ctx = module.Context;
        var b = new Builder(ctx);
        b.SetInsertionPointToStart(module.Region(0).EntryBlock!);
        b.Location = module.Location;
        b.Create(Mesh.Def.Name, Array.Empty<Value>(), Array.Empty<Type>(),
            b.Attrs(("sym_name", ctx.String(Name)), ("axes", DistDialect.Axes(ctx, axes)), ("shape", ctx.IntArray(shape))));
        return new DeviceMesh(Name, axes, shape);
    }

    /// <summary>The mesh @mesh declared at the top of <paramref name="module"/>, or null.</summary>
    public static DeviceMesh? Find(Operation module)
    {
        foreach (var op in module.Region(0).Ops)
            if (op.Name == Mesh.Def.Name && op.GetString("sym_name") == Name && DeviceMesh.TryRead(op, out var mesh, out _))
                return mesh;
        return null;
    }

    /// <summary>
    /// The functions the sequence-parallel passes transform: with a body and a parameter or sequence
    /// input, and not called by another function (a training step is an entry point).
    /// </summary>
    public static List<Operation> ModelSteps(Operation module)
    {
        // A function something calls keeps its signature: the passes change argument types.
        var called = new HashSet<string>();
        module.Walk(o => { if (o.Name == FuncDialect.Call.Name && o.GetAttr("callee") is SymbolRefAttr s) called.Add(s.Name); });
        var funcs = new List<Operation>();
        module.Walk(o =>
        {
            if (o.Name != FuncDialect.FuncOp.Name || o.Region(0).IsEmpty || called.Contains(FuncDialect.SymName(o))) return;
            var block = o.Region(0).EntryBlock!;
            if (block.Arguments.Any(a => FuncDialect.ArgAttrs(o, a.Index) is var attrs
                                         && (attrs.Get("aspir.param") is not null || attrs.Get(SpDiscover.SeqDimAttr) is not null)))
                funcs.Add(o);
        });
        return funcs;
    }

    /// <summary>The enclosing module of <paramref name="op"/> (itself when it is one).</summary>
    public static Operation ModuleOf(Operation op)
    {
        var m = op;
        while (m.Name != "module" && m.ParentOp is { } p) m = p;
        return m;
    }
}
