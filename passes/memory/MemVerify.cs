using AutoSpIR.Dialects.Mem;

namespace AutoSpIR.Passes.Memory;

/// <summary>
/// <c>mem-verify</c>: checks the <c>mem</c> attributes of every function with
/// <see cref="BufferProgram.Read"/> (buffers, exact lifetimes, in-place writes, and, when planned,
/// non-overlapping offsets and the arena size) of every function that has any; changes nothing.
/// </summary>
public sealed class MemVerify : Pass
{
    public override string Name => "mem-verify";

    public override bool Run(Operation root, PassContext pc)
    {
        bool ok = true;
        foreach (var f in Bufferize.Functions(root))
            if (MemoryPlan.IsBufferized(f)) ok &= BufferProgram.Read(f, pc.Diagnostics) is not null;
        return ok;
    }
}
