using AutoSpIR.Passes.Generic;

namespace AutoSpIR.Passes.AutoSp;

/// <summary>
/// <c>autosp{sp=P,dp=D}</c>: the whole automatic sequence parallelism, from a training step of
/// ONE device (after <c>autodiff</c>) to the program each of the D*P ranks runs:
/// <c>sp-discover</c> (which dimension of each input is the sequence), <c>sp-legalize</c> (a
/// loss that shards: shifted targets, sums and counts), <c>ulysses</c> (all-to-all to heads
/// around every attention), <c>sharding-propagation</c> (a sharding for every value, reshards
/// where they conflict), <c>dist-partition</c> (local shapes, collectives), then
/// <c>canonicalize</c>, <c>cse</c> and <c>dce</c>. The IR is verified after each step; a step
/// that fails or leaves invalid IR is named in the error. Ranks: mesh ["dp"=D, "sp"=P], rank =
/// dp*P + sp (<see cref="SpMesh"/>).
/// </summary>
public sealed class AutoSpPipeline(long sp, long dp) : Pass
{
    public override string Name => "autosp";

    /// <summary>The passes autosp runs, in order.</summary>
    public static Pass[] Steps(long sp, long dp) => new Pass[]
    {
        new SpDiscover(), new SpLegalize(), new Ulysses(sp, dp), new ShardingPropagation(sp, dp), new DistPartition(),
        new Canonicalize(10), new Cse(), new Dce(),
    };

    public override bool Run(Operation op, PassContext pc)
    {
        var module = SpMesh.ModuleOf(op);
        foreach (var step in Steps(sp, dp))
        {
            int errors = pc.Diagnostics.ErrorCount;
            if (!step.Run(op, pc) || pc.Diagnostics.ErrorCount != errors)
            {
                if (pc.Diagnostics.ErrorCount == errors) pc.Diagnostics.Error(op.Location, $"autosp: step '{step.Name}' failed");
                return false;
            }
            if (!Verifier.Verify(module, pc.Diagnostics))
            {
                pc.Diagnostics.Error(op.Location, $"autosp: step '{step.Name}' produced invalid IR (see the errors above)");
                return false;
            }
        }
        return true;
    }
}
