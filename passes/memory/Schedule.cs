using System.Globalization;
using AutoSpIR.Dialects.Func;

namespace AutoSpIR.Passes.Memory;

/// <summary>
/// <c>mem-schedule</c>: reorders the ops of each function body to lower its live peak, without
/// changing what any op computes. Run it BEFORE <c>bufferize</c>. It takes the functions
/// bufferize takes (<see cref="Bufferize.WhyNot"/>: one block, no ops with regions, static
/// tensors) and leaves the others alone.
/// <para>
/// The live peak of an order is the interpreter's measure (RunResult.PeakBytes): arguments live
/// throughout, a value from its op until after its last use (returned values to the end), an
/// op's results counted while its operands are still live. Three candidate orders are measured
/// and the lowest peak wins (ties: the earlier candidate), so the pass never raises the peak:
/// <list type="number">
/// <item>the given order;</item>
/// <item>SINK: each movable op (from the last) that allocates more bytes than the operands only it
/// uses, moved to right before its first user;</item>
/// <item>GREEDY list scheduling: repeatedly run, among the ready ops, the one with the largest
/// (bytes it frees - bytes it allocates) when that is positive (ties: the earlier op in the
/// given order), else the earliest ready op of the given order.</item>
/// </list>
/// Only pure ops outside the <c>dist</c> dialect move freely; collectives and ops with effects keep
/// their relative order (every rank runs the same schedule, so collectives still match), and
/// ops without uses keep their place relative to them. Every candidate is a topological order of
/// the SSA dependences, so the results are bit-identical.
/// </para>
/// </summary>
public sealed class Schedule : Pass
{
    public override string Name => "mem-schedule";

    public override bool Run(Operation root, PassContext pc)
    {
        foreach (var f in Bufferize.Functions(root))
        {
            if (Bufferize.WhyNot(f) is { } reason)
            {
                pc.Report.WriteLine($"mem-schedule: @{FuncDialect.SymName(f)} left alone: {reason}");
                continue;
            }
            var block = f.Region(0).Blocks[0];
            var ret = block.Last!;
            var ops = block.Ops.Where(o => !ReferenceEquals(o, ret)).ToList();
            var candidates = new (string Name, List<Operation> Order)[] { ("given", ops), ("sink", Sink(ops)), ("greedy", Greedy(ops, ret)) };
            var measured = candidates.Select(c => (c.Name, c.Order, Peak: Peak(block, c.Order, ret))).ToList();
            long given = measured[0].Peak;
            var best = measured.MinBy(c => c.Peak);
            foreach (var op in best.Order) op.MoveBefore(ret);
            pc.Report.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"mem-schedule @{FuncDialect.SymName(f)}: live peak {given} -> {best.Peak} bytes ({best.Name} order; {string.Join(", ", measured.Select(m => $"{m.Name} {m.Peak}"))})"));
        }
        return true;
    }

    private static bool Movable(Operation op) => op.HasTrait(OpTraits.Pure) && op.DialectName != "dist" && op.NumRegions == 0;

    private static long Bytes(Value v) => Math.Max(0, (v.Type as TensorType)?.ByteSize ?? 0);

    /// <summary>The live peak of running <paramref name="order"/> (see the class comment).</summary>
    public static long Peak(Block block, IReadOnlyList<Operation> order, Operation ret)
    {
        var returned = new HashSet<Value>(ret.Operands);
        var lastUse = new Dictionary<Value, int>();
        for (int i = 0; i < order.Count; i++)
            foreach (var v in order[i].Operands) lastUse[v] = i;
        long live = block.Arguments.Sum(Bytes), peak = live;
        for (int i = 0; i < order.Count; i++)
        {
            var op = order[i];
            foreach (var r in op.Results) live += Bytes(r);
            peak = Math.Max(peak, live);
            foreach (var v in op.Operands.Distinct())
                if (v is not BlockArgument && lastUse[v] == i && !returned.Contains(v)) live -= Bytes(v);
            foreach (var r in op.Results)
                if (!r.HasUses) live -= Bytes(r);
        }
        return peak;
    }

    /// <summary>Each movable op, from the last, moved to right before its first user.</summary>
    private static List<Operation> Sink(List<Operation> ops)
    {
        var order = new LinkedList<Operation>(ops);
        var node = ops.ToDictionary(o => o, o => order.Find(o)!);
        for (int i = ops.Count - 1; i >= 0; i--)
        {
            var op = ops[i];
            if (!Movable(op) || !op.HasResultUses) continue;
            // Only ops that allocate more than the operands they alone use: sinking them shortens
            // a larger lifetime than it lengthens.
            long freed = op.Operands.Distinct().Where(v => v is not BlockArgument && v.Users.All(u => ReferenceEquals(u, op))).Sum(Bytes);
            if (op.Results.Sum(Bytes) <= freed) continue;
            var users = new HashSet<Operation>(op.Results.SelectMany(r => r.Users));
            LinkedListNode<Operation>? first = null;
            for (var n = node[op].Next; n is not null; n = n.Next)
                if (users.Contains(n.Value)) { first = n; break; }
            if (first is null || ReferenceEquals(first, node[op].Next)) continue;   // used only by the terminator, or already there
            order.Remove(node[op]);
            node[op] = order.AddBefore(first, op);
        }
        return order.ToList();
    }

    /// <summary>Greedy list scheduling by (freed - allocated) bytes.</summary>
    private static List<Operation> Greedy(List<Operation> ops, Operation ret)
    {
        var index = new Dictionary<Operation, int>();
        for (int i = 0; i < ops.Count; i++) index[ops[i]] = i;
        var returned = new HashSet<Value>(ret.Operands);
        // Dependences: SSA operands, plus a chain through the ops that do not move freely.
        var preds = ops.Select(_ => new HashSet<int>()).ToArray();
        int lastFixed = -1;
        for (int i = 0; i < ops.Count; i++)
        {
            foreach (var v in ops[i].Operands)
                if (v.DefiningOp is { } d && index.TryGetValue(d, out int j)) preds[i].Add(j);
            if (!Movable(ops[i]) || !ops[i].HasResultUses)
            {
                if (lastFixed >= 0) preds[i].Add(lastFixed);
                lastFixed = i;
            }
        }
        var succs = ops.Select(_ => new List<int>()).ToArray();
        var waiting = new int[ops.Count];
        for (int i = 0; i < ops.Count; i++)
        {
            waiting[i] = preds[i].Count;
            foreach (var p in preds[i]) succs[p].Add(i);
        }
        // Remaining uses of each value (by ops not yet scheduled).
        var usesLeft = new Dictionary<Value, int>();
        foreach (var op in ops)
            foreach (var v in op.Operands.Distinct()) usesLeft[v] = usesLeft.GetValueOrDefault(v) + 1;
        var ready = new SortedSet<int>(Enumerable.Range(0, ops.Count).Where(i => waiting[i] == 0));
        var order = new List<Operation>(ops.Count);
        while (ready.Count > 0)
        {
            // The op that frees the most net bytes, when one frees more than it allocates; else the
            // earliest ready op of the given order.
            int best = ready.Min;
            long bestScore = 0;
            foreach (int i in ready)
            {
                var op = ops[i];
                long score = 0;
                foreach (var v in op.Operands.Distinct())
                    if (v is not BlockArgument && !returned.Contains(v) && usesLeft[v] == 1) score += Bytes(v);
                foreach (var r in op.Results) if (r.HasUses) score -= Bytes(r);
                if (score > bestScore) { bestScore = score; best = i; }
            }
            ready.Remove(best);
            var chosen = ops[best];
            order.Add(chosen);
            foreach (var v in chosen.Operands.Distinct()) usesLeft[v]--;
            foreach (int s in succs[best])
                if (--waiting[s] == 0) ready.Add(s);
        }
        if (order.Count != ops.Count) throw new InvalidOperationException("mem-schedule: the dependences have a cycle");
        return order;
    }
}
