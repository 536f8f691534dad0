namespace AutoSpIR.Passes.Generic;

/// <summary>
/// <c>dce</c>: erases pure ops whose results are unused, walking each block backwards
/// so a chain of dead ops goes in one sweep.
/// </summary>
public sealed class Dce : Pass
{
    public override string Name => "dce";

    public override bool Run(Operation op, PassContext pc)
    {
        var rewriter = new Rewriter(pc.Context);
        Sweep(op, rewriter);
        return true;
    }

    private static void Sweep(Operation op, Rewriter rewriter)
    {
        foreach (var region in op.Regions)
            foreach (var block in region.Blocks)
                for (var o = block.Last; o is not null;)
                {
                    var prev = o.PrevInBlock;
                    if (o.NumRegions > 0) Sweep(o, rewriter);
                    else if (o.HasTrait(OpTraits.Pure) && o.NumResults > 0 && !o.HasResultUses) rewriter.EraseOp(o);
                    o = prev;
                }
    }
}
