using AutoSpIR.Passes;

namespace AutoSpIR.Lowering;

/// <summary>Adds the lowering passes to <see cref="PassRegistry"/> (tools call this once at start).</summary>
public static class LoweringPasses
{
    public static void Register()
    {
        PassRegistry.Add(Loops.ConvertTensorToLoops.Info);
    }
}
