namespace AutoSpIR.Passes.Generic;

/// <summary>
/// <c>canonicalize</c>: runs every op's folder and canonicalization patterns to a
/// fixed point and erases pure ops whose results are unused. Folded constants become
/// <c>tensor.constant</c> ops.
/// </summary>
public sealed class Canonicalize(int maxIterations) : Pass
{
    public override string Name => "canonicalize";

    public override bool Run(Operation op, PassContext pc)
    {
        var driver = new GreedyRewriteDriver(pc.Context, GreedyRewriteDriver.CanonicalizationPatterns(pc.Context));
        driver.Run(op, Math.Max(1, maxIterations));
        return true;
    }
}
