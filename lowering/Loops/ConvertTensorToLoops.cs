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
/// runtime executes. In-place results (an elementwise op writing its dying operand's buffer) are safe:
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
        foreach (var op in body.Ops.ToList())
        {
            if (op.Name == "func.return")
            {
                for (int i = 0; i < op.NumOperands; i++) op.SetOperand(i, bufferOf[op.Operand(i)]);
                continue;
            }
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
            var inputs = op.Operands.Select(v => bufferOf[v]).ToArray();
            if (op.DialectName == "dist") Host(b, op, inputs, outputs);
            else if (TensorLowerings.Find(op.Name) is { } lower)
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
