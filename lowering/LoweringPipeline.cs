using AutoSpIR.Dialects.Func;
using AutoSpIR.Dialects.Mem;
using AutoSpIR.Passes;

namespace AutoSpIR.Lowering;

/// <summary>The tensor-to-loops half of the native pipeline, shared by autosp-translate and the native runtime.</summary>
public static class LoweringPipeline
{
    /// <summary>
    /// The loop-dialect version of <paramref name="func"/>: a clone of its module (the given IR is not changed)
    /// through <c>bufferize,memory-plan</c> (unless already planned) and <c>convert-tensor-to-loops</c>.
    /// A program the passes reject is a <see cref="LoweringException"/> at the first error's location.
    /// </summary>
    public static Operation LowerToLoops(Operation func)
    {
        ArgumentNullException.ThrowIfNull(func);
        var name = FuncDialect.SymName(func);
        var root = func.Block?.ParentOp ?? func;
        var clone = root.Clone(new IRMapping());
        var target = root == func ? clone : clone.Region(0).Ops.First(o => o.Name == "func.func" && FuncDialect.SymName(o) == name);
        var diag = new DiagnosticEngine();
        var pipeline = (MemDialect.IsPlanned(func) ? "" : "bufferize,memory-plan,") + "convert-tensor-to-loops";
        LoweringPasses.Register();
        var elements = PassPipelineParser.Parse(pipeline, out var error) ?? throw new InvalidOperationException(error);
        var pm = new PassManager(new PassContext(func.Context, diag, TextWriter.Null), elements);
        if (!pm.Run(target) || diag.HasErrors)
        {
            var first = diag.All.FirstOrDefault(d => d.Severity == Severity.Error);
            throw new LoweringException(first?.Location ?? func.Location, first?.Message ?? "the lowering to loops failed");
        }
        return target;
    }
}
