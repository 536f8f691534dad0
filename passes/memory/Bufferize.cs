using AutoSpIR.Dialects.Func;
using AutoSpIR.Dialects.Mem;

namespace AutoSpIR.Passes.Memory;

/// <summary>
/// <c>bufferize</c>: gives every tensor value of each function body (one block, in program
/// order) a buffer and makes its lifetime explicit, as <c>mem</c> attributes (see
/// <see cref="MemDialect"/>): argument i gets <c>mem.buffer = i</c> (caller-owned, live
/// throughout); each op's results get fresh ids in program order (<c>mem.buffers</c>); each op
/// lists in <c>mem.free</c> (ascending) the buffers of the operands it uses last and of its
/// results nobody uses. Returned values are never freed. Any earlier <c>mem.*</c> attributes
/// (a previous plan) are replaced. Run it last, after the passes that change the program.
/// Functions it cannot bufferize (<see cref="WhyNot"/>) are left alone, with a line in the report.
/// </summary>
public sealed class Bufferize : Pass
{
    public override string Name => "bufferize";

    public override bool Run(Operation root, PassContext pc)
    {
        foreach (var f in Functions(root))
        {
            if (WhyNot(f) is { } reason)
            {
                pc.Report.WriteLine($"bufferize: @{FuncDialect.SymName(f)} left alone: {reason}");
                continue;
            }
            if (!BufferizeFunc(f, pc)) return false;
        }
        return true;
    }

    /// <summary>
    /// Why a function cannot be bufferized, or null: its body must be one block ending in
    /// func.return, without ops holding regions, and every argument and result a statically
    /// shaped tensor. Other functions are left alone (with a line in the report).
    /// </summary>
    public static string? WhyNot(Operation func)
    {
        var body = func.Region(0);
        if (body.Blocks.Count != 1) return $"{body.Blocks.Count} blocks (only single-block bodies are bufferized)";
        var block = body.Blocks[0];
        if (block.Last is not { Name: "func.return" }) return "the body does not end with func.return";
        if (block.Arguments.FirstOrDefault(a => a.Type is not TensorType { IsStatic: true }) is { } arg)
            return $"argument #{arg.Index} has type {arg.Type} (only statically shaped tensors get buffers)";
        foreach (var op in block.Ops)
        {
            if (op.NumRegions > 0) return $"'{op.Name}' holds regions";
            foreach (var r in op.Results)
                if (r.Type is not TensorType { IsStatic: true }) return $"'{op.Name}' has a result of type {r.Type} (only statically shaped tensors get buffers)";
        }
        return null;
    }

    /// <summary>The func.func ops with a body under (or equal to) <paramref name="root"/>.</summary>
    public static List<Operation> Functions(Operation root)
    {
        var funcs = new List<Operation>();
        root.Walk(o => { if (o.Name == "func.func" && o.Regions.Count == 1 && !o.Region(0).IsEmpty) funcs.Add(o); });
        return funcs;
    }

    public static bool BufferizeFunc(Operation func, PassContext pc)
    {
        var ctx = pc.Context;
        var body = func.Region(0);
        if (body.Blocks.Count != 1)
        {
            pc.Diagnostics.Error(func.Location, $"bufferize: function @{FuncDialect.SymName(func)} has {body.Blocks.Count} blocks; only single-block functions are bufferized");
            return false;
        }
        var block = body.Blocks[0];
        var ops = block.Ops.ToList();
        if (ops.Count == 0 || ops[^1].Name != "func.return")
        {
            pc.Diagnostics.Error(func.Location, "bufferize: the body must end with func.return");
            return false;
        }
        var ret = ops[^1];
        ops.RemoveAt(ops.Count - 1);

        // Forget any earlier plan.
        foreach (var key in new[] { MemDialect.ArenaSize, MemDialect.LivePeak }) func.RemoveAttr(key);
        foreach (var op in ops)
            foreach (var key in MemDialect.OpAttributes) if (op.HasAttr(key)) op.RemoveAttr(key);

        var id = new Dictionary<Value, long>();
        int next = 0;
        for (int i = 0; i < block.Arguments.Count; i++)
        {
            var a = block.Arguments[i];
            if (a.Type is not TensorType { IsStatic: true })
            {
                pc.Diagnostics.Error(func.Location, $"bufferize: argument #{i} has type {a.Type}; only statically shaped tensors get buffers");
                return false;
            }
            id[a] = next++;
        }
        FuncDialect.UpdateArgAttrs(func, (i, attrs) =>
            FuncDialect.With(ctx, FuncDialect.With(ctx, attrs, MemDialect.Offset, null), MemDialect.Buffer, ctx.Integer(id[block.Arguments[i]])));

        var lastUse = new Dictionary<Value, int>();
        for (int i = 0; i < ops.Count; i++)
            foreach (var v in ops[i].Operands) lastUse[v] = i;
        var returned = new HashSet<Value>(ret.Operands);

        for (int i = 0; i < ops.Count; i++)
        {
            var op = ops[i];
            var ids = new long[op.NumResults];
            for (int j = 0; j < ids.Length; j++)
            {
                if (op.Result(j).Type is not TensorType { IsStatic: true })
                {
                    pc.Diagnostics.Error(op.Location, $"bufferize: result #{j} of '{op.Name}' has type {op.Result(j).Type}; only statically shaped tensors get buffers");
                    return false;
                }
                ids[j] = next++;
                id[op.Result(j)] = ids[j];
            }
            if (ids.Length > 0) op.SetAttr(MemDialect.Buffers, ctx.IntArray(ids));
            var frees = new SortedSet<long>();
            foreach (var v in op.Operands)
                if (v is not BlockArgument && lastUse[v] == i && !returned.Contains(v)) frees.Add(id[v]);
            foreach (var r in op.Results)
                if (!r.HasUses) frees.Add(id[r]);
            if (frees.Count > 0) op.SetAttr(MemDialect.Free, ctx.IntArray(frees));
        }
        return BufferProgram.Read(func, pc.Diagnostics) is not null;
    }
}
