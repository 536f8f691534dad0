using AutoSpIR.Dialects.Func;

namespace AutoSpIR.Dialects.Mem;

/// <summary>What a byte of a rank's memory holds, for the memory-plan breakdown.</summary>
public enum MemCategory
{
    /// <summary>Arguments with <c>aspir.param</c> (not optimizer state), and updated parameters returned at a result with <c>aspir.updated</c>.</summary>
    Parameters,
    /// <summary>Values returned at a result with <c>aspir.grad</c> (from the op that computes them on).</summary>
    Gradients,
    /// <summary>Optimizer state: arguments and results with <c>aspir.opt_state</c> (AdamW's m and v and, with optimizer{master-dtype=f32}, the f32 master copies, in their own dtypes).</summary>
    OptimizerState,
    /// <summary>Every other value, the non-parameter inputs (token ids, labels) included.</summary>
    Activations,
    /// <summary>Results of <c>dist</c> collectives (all_reduce, all_gather, reduce_scatter, all_to_all, shift) that are not gradients.</summary>
    Communication,
    /// <summary>Kernel scratch: none is modelled yet (the interpreter does not count it either), always 0.</summary>
    Workspace,
}

/// <summary>One buffer of a bufferized function.</summary>
public sealed class MemBuffer
{
    public required int Id { get; init; }
    public required long Size { get; init; }
    /// <summary>The planned offset, or -1 before memory-plan.</summary>
    public long Offset { get; internal set; } = -1;
    /// <summary>An argument (caller-owned, live for the whole call).</summary>
    public bool IsArgument { get; init; }
    /// <summary>The step (op index) that allocates it; -1 for an argument.</summary>
    public int AllocStep { get; init; }
    /// <summary>The step after which it is released; int.MaxValue when it lives to the end.</summary>
    public int FreeStep { get; internal set; } = int.MaxValue;
    /// <summary>The values it holds, with the step each is written (more than one after in-place writes).</summary>
    public List<(int Step, Value Value)> Occupants { get; } = new();
}

/// <summary>
/// A bufferized function read back from its <c>mem.*</c> attributes (see <see cref="MemDialect"/>)
/// and checked: <see cref="Read"/> reports every inconsistency (a value without a buffer, a
/// use of a freed or overwritten buffer, a free that is not at the value's last use, a buffer
/// leaked past its last use, an in-place write of another size, two live buffers that overlap
/// in the arena, an arena size that is not the largest offset + size). It also computes the live
/// bytes at each op (the interpreter's timing: results allocated, sampled, then frees), their
/// peak and the breakdown by <see cref="MemCategory"/>.
/// </summary>
public sealed class BufferProgram
{
    private BufferProgram(Operation func, List<Operation> ops)
    {
        Func = func;
        Ops = ops;
    }

    public Operation Func { get; }
    /// <summary>The body's ops in program order, without the final func.return; step i is Ops[i].</summary>
    public IReadOnlyList<Operation> Ops { get; }
    public Dictionary<int, MemBuffer> Buffers { get; } = new();
    /// <summary>The buffer of every argument and result.</summary>
    public Dictionary<Value, MemBuffer> BufferOf { get; } = new();
    /// <summary>Bytes live at each step (after its new results are allocated, before its frees).</summary>
    public long[] LiveBytesAt { get; private set; } = Array.Empty<long>();
    /// <summary>Bytes of the arguments (live throughout).</summary>
    public long ArgumentBytes { get; private set; }
    /// <summary>The largest live bytes (the arguments alone when the body is empty).</summary>
    public long LivePeak { get; private set; }
    /// <summary>The first step where <see cref="LivePeak"/> is reached, -1 when that is before any op.</summary>
    public int PeakStep { get; private set; } = -1;
    /// <summary>Whether offsets are present (after memory-plan).</summary>
    public bool Planned { get; private set; }
    /// <summary>The largest offset + size over all buffers (0 unplanned).</summary>
    public long ArenaEnd { get; private set; }
    /// <summary>Results written in place into an operand's buffer.</summary>
    public int InPlaceWrites { get; private set; }
    /// <summary>Values returned by func.return.</summary>
    public HashSet<Value> Returned { get; } = new();

    /// <summary>Reads and checks the mem attributes of <paramref name="func"/>; null after reporting errors.</summary>
    public static BufferProgram? Read(Operation func, DiagnosticEngine diag)
    {
        int errors = diag.ErrorCount;
        void Error(Operation op, string msg) => diag.Error(op.Location, $"'{op.Name}' op {msg}");
        var body = func.Regions.Count == 1 ? func.Region(0) : null;
        if (body is null || body.Blocks.Count != 1)
        {
            Error(func, "must have a body of one block to be bufferized");
            return null;
        }
        var block = body.Blocks[0];
        var all = block.Ops.ToList();
        if (all.Count == 0 || all[^1].Name != "func.return")
        {
            Error(func, "body must end with func.return");
            return null;
        }
        var ret = all[^1];
        var p = new BufferProgram(func, all.GetRange(0, all.Count - 1));
        foreach (var v in ret.Operands) p.Returned.Add(v);
        var lastUse = new Dictionary<Value, int>();
        for (int i = 0; i < p.Ops.Count; i++)
            foreach (var v in p.Ops[i].Operands) lastUse[v] = i;

        bool planned = func.GetAttr(MemDialect.ArenaSize) is not null;
        p.Planned = planned;
        var live = new Dictionary<int, MemBuffer>();
        long liveBytes = 0;

        bool Overlaps(MemBuffer b, out MemBuffer? other)
        {
            other = null;
            if (!planned || b.Size == 0) return false;
            foreach (var o in live.Values)
                if (o.Size > 0 && !ReferenceEquals(o, b) && b.Offset < o.Offset + o.Size && o.Offset < b.Offset + b.Size)
                {
                    other = o;
                    return true;
                }
            return false;
        }

        // ------------------------------------------------------------ arguments
        for (int i = 0; i < block.Arguments.Count; i++)
        {
            var a = block.Arguments[i];
            var attrs = FuncDialect.ArgAttrs(func, i);
            if (a.Type is not TensorType { IsStatic: true } t) { Error(func, $"argument #{i} is not a statically shaped tensor: {a.Type}"); continue; }
            if (attrs.Get(MemDialect.Buffer) is not IntegerAttr id) { Error(func, $"argument #{i} has no '{MemDialect.Buffer}' (run bufferize)"); continue; }
            if (p.Buffers.ContainsKey((int)id.Value)) { Error(func, $"argument #{i}: buffer {id.Value} is defined twice"); continue; }
            var b = new MemBuffer { Id = (int)id.Value, Size = t.ByteSize, IsArgument = true, AllocStep = -1 };
            if (planned)
            {
                if (attrs.Get(MemDialect.Offset) is IntegerAttr off && off.Value >= 0) b.Offset = off.Value;
                else { Error(func, $"argument #{i} has no '{MemDialect.Offset}' >= 0 in a planned function"); continue; }
                if (Overlaps(b, out var o)) Error(func, $"argument #{i}: buffer {b.Id} [{b.Offset}, {b.Offset + b.Size}) overlaps live buffer {o!.Id} [{o.Offset}, {o.Offset + o.Size})");
            }
            b.Occupants.Add((-1, a));
            p.Buffers[b.Id] = b;
            p.BufferOf[a] = b;
            live[b.Id] = b;
            liveBytes += b.Size;
        }
        p.ArgumentBytes = liveBytes;
        p.LivePeak = liveBytes;
        if (diag.ErrorCount > errors) return null;

        // ------------------------------------------------------------ ops
        p.LiveBytesAt = new long[p.Ops.Count];
        for (int i = 0; i < p.Ops.Count; i++)
        {
            var op = p.Ops[i];
            foreach (var v in op.Operands)
            {
                if (!p.BufferOf.TryGetValue(v, out var vb)) { Error(op, "uses a value without a buffer"); continue; }
                if (!live.ContainsKey(vb.Id)) Error(op, $"uses a value whose buffer {vb.Id} was freed");
                else if (!ReferenceEquals(vb.Occupants[^1].Value, v)) Error(op, $"uses a value whose buffer {vb.Id} was overwritten in place");
            }
            var ids = MemDialect.Ints(op, MemDialect.Buffers);
            if (ids is null || ids.Length != op.NumResults)
            {
                if (op.NumResults > 0 || op.HasAttr(MemDialect.Buffers))
                    Error(op, $"needs '{MemDialect.Buffers}' with one buffer id per result (run bufferize)");
                if (op.NumResults > 0) continue;
                ids = Array.Empty<long>();
            }
            var offsets = planned ? MemDialect.Ints(op, MemDialect.Offsets) : null;
            if (planned && (offsets is null || offsets.Length != op.NumResults))
            {
                Error(op, $"needs '{MemDialect.Offsets}' with one offset per result in a planned function");
                continue;
            }
            var inPlaceThisOp = new HashSet<int>();
            for (int j = 0; j < ids.Length; j++)
            {
                var r = op.Result(j);
                if (r.Type is not TensorType { IsStatic: true } t) { Error(op, $"result #{j} is not a statically shaped tensor: {r.Type}"); continue; }
                int id = (int)ids[j];
                if (live.TryGetValue(id, out var reused))
                {
                    // In place: the buffer of an operand that dies here, same size, once per op.
                    var holder = reused.Occupants[^1].Value;
                    bool operandDies = op.Operands.Contains(holder) && lastUse.GetValueOrDefault(holder, -1) == i
                                       && !p.Returned.Contains(holder) && !reused.IsArgument;
                    if (!operandDies) { Error(op, $"result #{j} writes into live buffer {id}, which does not hold an operand that dies at this op"); continue; }
                    if (reused.Size != t.ByteSize) { Error(op, $"result #{j} ({t.ByteSize} bytes) cannot be written in place into buffer {id} of {reused.Size} bytes"); continue; }
                    if (!inPlaceThisOp.Add(id)) { Error(op, $"writes two results into buffer {id}"); continue; }
                    if (planned && offsets![j] != reused.Offset) { Error(op, $"result #{j} is in place in buffer {id} at offset {reused.Offset}, but its offset is {offsets[j]}"); continue; }
                    reused.Occupants.Add((i, r));
                    p.BufferOf[r] = reused;
                    p.InPlaceWrites++;
                    continue;
                }
                if (p.Buffers.ContainsKey(id)) { Error(op, $"result #{j} reuses buffer id {id}, which was freed (memory is reused through offsets, ids are not)"); continue; }
                var b = new MemBuffer { Id = id, Size = t.ByteSize, AllocStep = i };
                if (planned)
                {
                    b.Offset = offsets![j];
                    if (b.Offset < 0) { Error(op, $"result #{j} has a negative offset"); continue; }
                    if (Overlaps(b, out var o)) Error(op, $"result #{j}: buffer {id} [{b.Offset}, {b.Offset + b.Size}) overlaps live buffer {o!.Id} [{o.Offset}, {o.Offset + o.Size})");
                }
                b.Occupants.Add((i, r));
                p.Buffers[id] = b;
                p.BufferOf[r] = b;
                live[id] = b;
                liveBytes += b.Size;
            }
            p.LiveBytesAt[i] = liveBytes;
            if (liveBytes > p.LivePeak) { p.LivePeak = liveBytes; p.PeakStep = i; }

            var frees = MemDialect.Ints(op, MemDialect.Free) ?? Array.Empty<long>();
            if (op.GetAttr(MemDialect.Free) is not null and not ArrayAttr || (op.GetAttr(MemDialect.Free) is ArrayAttr && MemDialect.Ints(op, MemDialect.Free) is null))
                Error(op, $"'{MemDialect.Free}' must be an array of buffer ids");
            foreach (var f in frees)
            {
                if (!live.TryGetValue((int)f, out var b)) { Error(op, $"frees buffer {f}, which is not live"); continue; }
                if (b.IsArgument) { Error(op, $"frees buffer {f} of an argument (arguments belong to the caller)"); continue; }
                var holder = b.Occupants[^1].Value;
                if (p.Returned.Contains(holder)) { Error(op, $"frees buffer {f}, whose value is returned"); continue; }
                int last = lastUse.GetValueOrDefault(holder, b.Occupants[^1].Step);
                if (last != i) { Error(op, $"frees buffer {f}, but its value's last use is {(last > i ? "later" : "earlier")} (op #{last})"); continue; }
                live.Remove(b.Id);
                b.FreeStep = i;
                liveBytes -= b.Size;
            }
            // Exact lifetimes: every buffer whose value dies here is freed here.
            foreach (var v in op.Operands.Concat(op.Results).Distinct())
                if (p.BufferOf.TryGetValue(v, out var b) && live.ContainsKey(b.Id) && !b.IsArgument
                    && ReferenceEquals(b.Occupants[^1].Value, v) && !p.Returned.Contains(v)
                    && lastUse.GetValueOrDefault(v, b.Occupants[^1].Step) == i)
                    Error(op, $"is the last use of buffer {b.Id}, but does not free it ('{MemDialect.Free}')");
        }
        foreach (var v in ret.Operands)
            if (!p.BufferOf.TryGetValue(v, out var b) || !live.ContainsKey(b.Id) || !ReferenceEquals(b.Occupants[^1].Value, v))
                Error(ret, "returns a value whose buffer is not live");

        if (planned)
        {
            p.ArenaEnd = p.Buffers.Values.Select(b => b.Offset + b.Size).DefaultIfEmpty(0).Max();
            long declared = (func.GetAttr(MemDialect.ArenaSize) as IntegerAttr)?.Value ?? -1;
            if (declared != p.ArenaEnd)
                Error(func, $"'{MemDialect.ArenaSize}' is {declared}, but the buffers end at {p.ArenaEnd}");
        }
        return diag.ErrorCount > errors ? null : p;
    }

    /// <summary>The category of a value (see <see cref="MemCategory"/>).</summary>
    public MemCategory CategoryOf(Value v)
    {
        if (v is BlockArgument a)
        {
            var attrs = FuncDialect.ArgAttrs(Func, a.Index);
            return attrs.Get("aspir.opt_state") is not null ? MemCategory.OptimizerState
                : attrs.Get("aspir.param") is not null ? MemCategory.Parameters
                : MemCategory.Activations;
        }
        var ret = Func.Region(0).Blocks[0].Last!;
        for (int i = 0; i < ret.NumOperands; i++)
        {
            if (!ReferenceEquals(ret.Operand(i), v)) continue;
            var attrs = FuncDialect.ResAttrs(Func, i);
            if (attrs.Get("aspir.grad") is not null) return MemCategory.Gradients;
            if (attrs.Get("aspir.opt_state") is not null) return MemCategory.OptimizerState;
            if (attrs.Get("aspir.updated") is not null) return MemCategory.Parameters;
        }
        if (v.DefiningOp is { } d && d.DialectName == "dist" && d.Name != "dist.axis_index") return MemCategory.Communication;
        return MemCategory.Activations;
    }

    /// <summary>Bytes live at <paramref name="step"/> (-1: before the first op) by category of the value each buffer holds then.</summary>
    public long[] BreakdownAt(int step)
    {
        var r = new long[Enum.GetValues<MemCategory>().Length];
        foreach (var b in Buffers.Values)
        {
            if (b.AllocStep > step || b.FreeStep < step) continue;
            Value holder = b.Occupants[0].Value;
            foreach (var (s, v) in b.Occupants) if (s <= step) holder = v;
            r[(int)CategoryOf(holder)] += b.Size;
        }
        return r;
    }
}
