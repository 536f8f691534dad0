using AutoSpIR.Dialects.Func;
using AutoSpIR.Dialects.Loop;
using AutoSpIR.Dialects.Mem;
using AutoSpIR.Passes;

namespace AutoSpIR.Lowering.Loops;

/// <summary>How one tensor op becomes loops: read <paramref name="inputs"/>, write <paramref name="outputs"/> (buffers).</summary>
public delegate void OpLowering(LoopBuilder b, Operation op, Value[] inputs, Value[] outputs);

/// <summary>
/// <c>convert-tensor-to-loops</c>: a memory-planned function (through <c>bufferize,memory-plan</c>) becomes
/// loop nests over its arena. Every result of a tensor op becomes a <c>loop.buffer</c> at its planned offset
/// (<c>mem.offsets</c>), arguments stay (buffers at their <c>mem.offset</c>), and the op is replaced by the
/// loops its lowering (<see cref="TensorLowerings"/>) writes; a dist collective becomes a <c>loop.host</c> the
/// runtime executes. Chains of elementwise ops are fused into one loop (<see cref="FusedProducers"/>): the
/// intermediate values are never stored (their planned buffers stay unused). In-place results (an elementwise op writing its dying operand's buffer) are safe:
/// elementwise lowerings read an element before they write it. The signature is kept: arguments and
/// results are the caller's buffers, where the plan put them. Leaves no tensor or dist op behind; an op
/// without a lowering is an error at the op.
/// </summary>
public sealed class ConvertTensorToLoops : Pass
{
    public override string Name => "convert-tensor-to-loops";

    /// <summary>
    /// Function attribute: the bytes the lowered code needs, the planned arena (rounded up to 64) plus the largest
    /// scratch an op took (<see cref="LoopBuilder.Scratch"/>); absent when no op took scratch.
    /// </summary>
    public const string MemorySize = "loop.memory_size";

    public static readonly PassInfo Info = new("convert-tensor-to-loops",
        "Lower a memory-planned function (bufferize,memory-plan) to loop nests over its arena: loop.buffer at the planned offsets, loop.parallel/for with loads, stores and arith, loop.gemm for matmuls, loop.host for collectives",
        Array.Empty<PassOption>(), _ => new ConvertTensorToLoops());

    public override bool Run(Operation root, PassContext pc)
    {
        bool ok = true;
        var funcs = root.Name == "func.func" ? new List<Operation> { root }
            : root.Region(0).Ops.Where(o => o.Name == "func.func" && !o.Region(0).IsEmpty).ToList();
        foreach (var f in funcs) ok &= Lower(f, pc);
        return ok;
    }

    private static bool Lower(Operation func, PassContext pc)
    {
        var body = func.Region(0).EntryBlock!;
        if (body.Ops.All(o => o.DialectName is not ("tensor" or "dist"))) return true;   // nothing to lower (already loops)
        if (!MemDialect.IsPlanned(func))
        {
            pc.Diagnostics.Error(func.Location, $"convert-tensor-to-loops: @{FuncDialect.SymName(func)} has no memory plan; run 'bufferize,memory-plan' first");
            return false;
        }
        var b = new LoopBuilder(new Builder(pc.Context)) { ScratchBase = (func.GetInt(MemDialect.ArenaSize)!.Value + 63) / 64 * 64 };
        long scratch = 0;
        var bufferOf = new Dictionary<Value, Value>();
        foreach (var a in body.Arguments) bufferOf[a] = a;
        var fusedInto = FusedProducers(body);
        var fusion = body.Ops.Where(o => !fusedInto.ContainsKey(o)).ToDictionary(o => o, o => FusionOf(o, fusedInto));
        foreach (var op in body.Ops.ToList())
        {
            if (op.Name == "func.return")
            {
                for (int i = 0; i < op.NumOperands; i++) op.SetOperand(i, bufferOf[op.Operand(i)]);
                continue;
            }
            if (fusedInto.ContainsKey(op)) continue;   // computed inside its consumer's loop
            b.B.SetInsertionPoint(op);
            b.B.Location = op.Location;
            var offsets = MemDialect.Ints(op, MemDialect.Offsets);
            if (offsets is null || offsets.Length != op.NumResults)
            {
                pc.Diagnostics.Error(op.Location, $"convert-tensor-to-loops: '{op.Name}' has no planned offset for each result (mem.offsets)");
                return false;
            }
            var outputs = new Value[op.NumResults];
            for (int i = 0; i < op.NumResults; i++)
            {
                if (op.Result(i).Type is not TensorType t || !t.IsStatic)
                {
                    pc.Diagnostics.Error(op.Location, $"convert-tensor-to-loops: result #{i} of '{op.Name}' is not a tensor of static shape");
                    return false;
                }
                outputs[i] = b.Buffer(offsets[i], t);
            }
            // A value of a fused producer has no buffer (null): its consumer's loop computes it.
            var inputs = op.Operands.Select(v => bufferOf.TryGetValue(v, out var buffer) ? buffer : null!).ToArray();
            if (op.DialectName == "dist") Host(b, op, inputs, outputs);
            else if ((fusion[op] is { Count: > 0 } producers
                         ? Tensor.ElementwiseLowering.Fused(producers, v => bufferOf[v], Tensor.ElementwiseLowering.Scalar[op.Name])
                         : TensorLowerings.Find(op.Name)) is { } lower)
            {
                if (op.OperandTypes.Concat(op.ResultTypes).OfType<TensorType>().FirstOrDefault(t => t.Element.Kind is ScalarKind.BF16 or ScalarKind.F16) is { } half)
                {
                    pc.Diagnostics.Error(op.Location, $"convert-tensor-to-loops: '{op.Name}' works on {half.Element}; the loop lowering supports f32, f64 and integer tensors (run the interpreter for {half.Element})");
                    return false;
                }
                b.ScratchUsed = 0;
                lower(b, op, inputs, outputs);
                scratch = Math.Max(scratch, b.ScratchUsed);
            }
            else
            {
                pc.Diagnostics.Error(op.Location, $"convert-tensor-to-loops: no loop lowering for '{op.Name}'");
                return false;
            }
            for (int i = 0; i < op.NumResults; i++) bufferOf[op.Result(i)] = outputs[i];
        }
        foreach (var op in body.Ops.Where(o => o.DialectName is "tensor" or "dist").Reverse().ToList()) op.Erase();
        if (scratch > 0) func.SetAttr(MemorySize, pc.Context.Integer(b.ScratchBase + scratch));
        return true;
    }

    /// <summary>
    /// Elementwise chains to fuse: an elementwise op whose only use is the elementwise op right after it, with
    /// as many elements of one type, and which frees no buffer (so every buffer the fused loop reads is still
    /// live when it runs), is computed inside that op's loop. Returns producer -> consumer.
    /// </summary>
    private static Dictionary<Operation, Operation> FusedProducers(Block body)
    {
        var into = new Dictionary<Operation, Operation>();
        var scalar = Tensor.ElementwiseLowering.Scalar;
        foreach (var f in body.Ops)
        {
            if (!scalar.ContainsKey(f.Name) || f.PrevInBlock is not { } p || !scalar.ContainsKey(p.Name) || p.NumResults != 1) continue;
            var uses = p.Result(0).Uses.ToList();
            if (uses.Count != 1 || uses[0].Owner != f) continue;
            if (p.Result(0).Type is not TensorType pt || f.Result(0).Type is not TensorType ft
                || pt.NumElements != ft.NumElements || !ReferenceEquals(pt.Element, ft.Element)) continue;
            if (MemDialect.Ints(p, MemDialect.Free) is { Length: > 0 }) continue;
            into[p] = f;
        }
        return into;
    }

    /// <summary>The producers fused into <paramref name="consumer"/> (transitively), empty when none; before any loop is inserted.</summary>
    private static List<Operation> FusionOf(Operation consumer, Dictionary<Operation, Operation> into)
    {
        var producers = new List<Operation>();
        for (var p = consumer.PrevInBlock; p is not null && into.TryGetValue(p, out var c) && (c == consumer || producers.Contains(c)); p = p.PrevInBlock)
            producers.Add(p);
        return producers;
    }

    /// <summary>A collective: <c>loop.host</c> with a clone of the op on block arguments standing for its inputs.</summary>
    private static void Host(LoopBuilder b, Operation op, Value[] inputs, Value[] outputs)
    {
        var host = b.B.Create(LoopDialect.Host.Name, inputs.Concat(outputs).ToArray(), Array.Empty<Type>(),
            b.B.Attrs(("num_inputs", b.Ctx.Integer(inputs.Length))), numRegions: 1);
        var block = host.Region(0).AddBlock();
        var mapping = new IRMapping();
        for (int i = 0; i < op.NumOperands; i++) mapping.Map(op.Operand(i), block.AddArgument(op.Operand(i).Type));
        var clone = op.Clone(mapping);
        foreach (var name in MemDialect.OpAttributes) clone.RemoveAttr(name);
        block.Append(clone);
        block.Append(Operation.Create(b.Ctx, LoopDialect.Yield.Name, clone.Results.Cast<Value>().ToArray(), Array.Empty<Type>(), null, 0, op.Location,
            LoopDialect.Yield));
    }
}
