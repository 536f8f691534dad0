using System.Globalization;
using AutoSpIR.Dialects.Func;
using AutoSpIR.Dialects.Mem;

namespace AutoSpIR.Passes.Memory;

/// <summary>
/// <c>memory-plan</c>: plans the memory of each bufferized function (run <c>bufferize</c>
/// first; a function without any <c>mem.buffer(s)</c> is left alone, with a line in the report) for ONE rank: the program is per-rank (after <c>autosp</c>) or single-device.
/// <list type="number">
/// <item>In-place reuse (option <c>inplace</c>, default on): the result of an elementwise op
/// (<see cref="InPlaceOps"/>: add sub mul div neg exp log rsqrt silu gelu silu_grad gelu_grad)
/// or of a <c>tensor.reshape</c> is written into the buffer of an operand that dies at that op
/// (it is in the op's <c>mem.free</c>), when that operand is not an argument (arguments belong
/// to the caller) and has the result's size; the first such operand wins. The buffer lives on
/// (it leaves the op's <c>mem.free</c>) and is freed where the result dies.</item>
/// <item>Offsets: a heap simulation in program order with the best-fit rule of
/// <see cref="BestFitHeap"/>: the arguments in order, then per op its new result buffers
/// (result order), then its frees. Offsets go to <c>mem.offset</c> (arguments) and
/// <c>mem.offsets</c> (op results); the function gets <c>mem.arena_size</c> (the heap's high-water
/// mark) and <c>mem.live_peak</c>.</item>
/// <item>The report (to the report stream): the arena size, the live peak (the largest sum of
/// live buffer bytes at one op, sampled after the op's results are allocated and before its
/// frees) and where it is reached, its split by <see cref="MemCategory"/> (parameters,
/// gradients, activations, communication buffers, workspace = 0), and the fragmentation
/// (arena - live peak). Without in-place writes the live peak equals the interpreter's measured
/// <c>RunResult.PeakBytes</c> exactly; in-place writes only lower it.</item>
/// </list>
/// </summary>
public sealed class MemoryPlan(bool inplace) : Pass
{
    public override string Name => "memory-plan";

    /// <summary>Ops whose result may be written into a dying operand's buffer of the same size.</summary>
    public static readonly HashSet<string> InPlaceOps = new(StringComparer.Ordinal)
    {
        "tensor.add", "tensor.sub", "tensor.mul", "tensor.div", "tensor.neg", "tensor.exp", "tensor.log",
        "tensor.rsqrt", "tensor.silu", "tensor.gelu", "tensor.silu_grad", "tensor.gelu_grad", "tensor.reshape",
    };

    public override bool Run(Operation root, PassContext pc)
    {
        foreach (var f in Bufferize.Functions(root))
        {
            if (!IsBufferized(f))
            {
                pc.Report.WriteLine($"memory-plan @{FuncDialect.SymName(f)}: not bufferized (run bufferize first), left alone");
                continue;
            }
            var p = Plan(f, pc, inplace);
            if (p is null) return false;
            WriteReport(p, pc.Report);
        }
        return true;
    }

    /// <summary>Whether bufferize gave the function buffers: an argument with mem.buffer or an op with mem.buffers.</summary>
    public static bool IsBufferized(Operation func)
    {
        var block = func.Region(0).Blocks.FirstOrDefault();
        if (block is null) return false;
        for (int i = 0; i < block.Arguments.Count; i++)
            if (FuncDialect.ArgAttrs(func, i).Get(MemDialect.Buffer) is not null) return true;
        return block.Ops.Any(o => o.HasAttr(MemDialect.Buffers));
    }

    /// <summary>Plans one bufferized function; the checked result, or null after reporting errors.</summary>
    public static BufferProgram? Plan(Operation func, PassContext pc, bool inplace)
    {
        var ctx = pc.Context;
        // Drop a previous plan, then read (and check) the buffers and lifetimes.
        func.RemoveAttr(MemDialect.ArenaSize);
        func.RemoveAttr(MemDialect.LivePeak);
        var block = func.Region(0).Blocks[0];
        FuncDialect.UpdateArgAttrs(func, (_, attrs) => FuncDialect.With(ctx, attrs, MemDialect.Offset, null));
        foreach (var op in block.Ops) if (op.HasAttr(MemDialect.Offsets)) op.RemoveAttr(MemDialect.Offsets);
        var p0 = BufferProgram.Read(func, pc.Diagnostics);
        if (p0 is null) return null;
        var ops = p0.Ops;

        // ------------------------------------------------------------ in place
        var bufOf = new Dictionary<Value, long>();
        foreach (var (v, b) in p0.BufferOf) bufOf[v] = b.Id;
        var frees = ops.Select(op => (MemDialect.Ints(op, MemDialect.Free) ?? Array.Empty<long>()).ToList()).ToList();
        var freeStep = new Dictionary<long, int>();
        for (int i = 0; i < ops.Count; i++) foreach (var b in frees[i]) freeStep[b] = i;
        if (inplace)
            for (int i = 0; i < ops.Count; i++)
            {
                var op = ops[i];
                if (op.NumResults != 1 || !InPlaceOps.Contains(op.Name)) continue;
                var r = op.Result(0);
                if (p0.BufferOf[r].AllocStep != i) continue;   // already in place (a plan planned again)
                long size = ((TensorType)r.Type).ByteSize;
                foreach (var v in op.Operands)
                {
                    if (v is BlockArgument || ((TensorType)v.Type).ByteSize != size) continue;
                    long b = bufOf[v];
                    if (!frees[i].Contains(b)) continue;
                    long old = bufOf[r];
                    bufOf[r] = b;
                    frees[i].Remove(b);
                    freeStep.Remove(b);
                    if (freeStep.TryGetValue(old, out int j))
                    {
                        frees[j][frees[j].IndexOf(old)] = b;
                        freeStep.Remove(old);
                        freeStep[b] = j;
                    }
                    op.SetAttr(MemDialect.Buffers, ctx.IntArray(new[] { b }));
                    break;
                }
            }
        for (int i = 0; i < ops.Count; i++)
        {
            if (frees[i].Count > 0) ops[i].SetAttr(MemDialect.Free, ctx.IntArray(frees[i].OrderBy(x => x)));
            else if (ops[i].HasAttr(MemDialect.Free)) ops[i].RemoveAttr(MemDialect.Free);
        }

        // ------------------------------------------------------------ best fit, in program order
        var heap = new BestFitHeap();
        var offsetOf = new Dictionary<long, long>();
        var sizeOf = new Dictionary<long, long>();
        var argOffsets = new long[block.Arguments.Count];
        for (int i = 0; i < block.Arguments.Count; i++)
        {
            var a = block.Arguments[i];
            long size = ((TensorType)a.Type).ByteSize;
            long off = heap.Allocate(size);
            offsetOf[bufOf[a]] = off;
            sizeOf[bufOf[a]] = size;
            argOffsets[i] = off;
        }
        FuncDialect.UpdateArgAttrs(func, (i, attrs) => FuncDialect.With(ctx, attrs, MemDialect.Offset, ctx.Integer(argOffsets[i])));
        for (int i = 0; i < ops.Count; i++)
        {
            var op = ops[i];
            var offs = new long[op.NumResults];
            for (int j = 0; j < offs.Length; j++)
            {
                long b = bufOf[op.Result(j)];
                if (!offsetOf.TryGetValue(b, out long off))
                {
                    long size = ((TensorType)op.Result(j).Type).ByteSize;
                    off = heap.Allocate(size);
                    offsetOf[b] = off;
                    sizeOf[b] = size;
                }
                offs[j] = off;
            }
            if (offs.Length > 0) op.SetAttr(MemDialect.Offsets, ctx.IntArray(offs));
            foreach (var b in frees[i]) heap.Free(offsetOf[b], sizeOf[b]);
        }
        func.SetAttr(MemDialect.ArenaSize, ctx.Integer(heap.HighWater));
        var p = BufferProgram.Read(func, pc.Diagnostics);
        if (p is null) return null;
        func.SetAttr(MemDialect.LivePeak, ctx.Integer(p.LivePeak));
        return p;
    }

    public static void WriteReport(BufferProgram p, TextWriter w)
    {
        var f = p.Func;
        string where = p.PeakStep < 0 ? "before the first op"
            : $"at op #{p.PeakStep} '{p.Ops[p.PeakStep].Name}'" + (p.Ops[p.PeakStep].Location.IsKnown ? $" (line {p.Ops[p.PeakStep].Location.Line})" : "");
        w.WriteLine($"memory-plan @{FuncDialect.SymName(f)}: per-rank arena {N(p.ArenaEnd)} bytes, live peak {N(p.LivePeak)} bytes {where}");
        var split = p.BreakdownAt(p.PeakStep);
        foreach (var c in Enum.GetValues<MemCategory>())
            w.WriteLine($"  {Label(c),-16}{N(split[(int)c]),16}");
        w.WriteLine($"  {"fragmentation",-16}{N(p.ArenaEnd - p.LivePeak),16}");
        w.WriteLine($"  buffers {p.Buffers.Count}, in-place writes {p.InPlaceWrites}");
    }

    public static string Label(MemCategory c) => c switch
    {
        MemCategory.Parameters => "parameters",
        MemCategory.Gradients => "gradients",
        MemCategory.OptimizerState => "optimizer state",
        MemCategory.Activations => "activations",
        MemCategory.Communication => "communication",
        _ => "workspace",
    };

    private static string N(long v) => v.ToString(CultureInfo.InvariantCulture);
}
