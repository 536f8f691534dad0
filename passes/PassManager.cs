namespace AutoSpIR.Passes;

/// <summary>
/// Runs a pipeline over a module. With <see cref="VerifyEach"/> (the default) the IR is
/// verified after every pass, and a pass that leaves invalid IR is named in the error.
/// </summary>
public sealed class PassManager
{
    public PassManager(PassContext pc, IReadOnlyList<PipelineElement> pipeline)
    {
        _pc = pc;
        _pipeline = pipeline;
    }

    private readonly PassContext _pc;
    private readonly IReadOnlyList<PipelineElement> _pipeline;

    public bool VerifyEach { get; init; } = true;
    /// <summary>Where to print the IR after each pass, or null.</summary>
    public TextWriter? PrintIrAfterAll { get; init; }
    public bool PrintGeneric { get; init; }

    public bool Run(Operation module) => RunList(_pipeline, module, module);

    private bool RunList(IReadOnlyList<PipelineElement> list, Operation anchor, Operation module)
    {
        foreach (var element in list)
        {
            switch (element)
            {
                case PassElement pe:
                    if (!RunPass(pe, anchor, module)) return false;
                    break;
                case NestElement { Anchor: "func.func" } nest:
                    var funcs = new List<Operation>();
                    anchor.Walk(op => { if (op.Name == "func.func") funcs.Add(op); });
                    foreach (var f in funcs)
                        if (!RunList(nest.Elements, f, module)) return false;
                    break;
                case NestElement nest:
                    if (!RunList(nest.Elements, anchor, module)) return false;
                    break;
            }
        }
        return true;
    }

    private bool RunPass(PassElement pe, Operation anchor, Operation module)
    {
        var pass = pe.Info.Create(pe.Options);
        int errors = _pc.Diagnostics.ErrorCount;
        bool ok = pass.Run(anchor, _pc) && _pc.Diagnostics.ErrorCount == errors;
        if (!ok)
        {
            if (_pc.Diagnostics.ErrorCount == errors)
                _pc.Diagnostics.Error(anchor.Location, $"pass '{pass.Name}' failed");
            return false;
        }
        if (PrintIrAfterAll is { } w)
        {
            w.WriteLine($"// -----// IR Dump After {pass.Name} //----- //");
            w.Write(Printer.Print(module, PrintGeneric));
        }
        if (VerifyEach && !Verifier.Verify(module, _pc.Diagnostics))
        {
            _pc.Diagnostics.Error(anchor.Location, $"pass '{pass.Name}' produced invalid IR (see the errors above)");
            return false;
        }
        return true;
    }
}
