namespace AutoSpIR.Dialects.Loop;

/// <summary>
/// The <c>loop</c> dialect: loop nests over memory, what <c>convert-tensor-to-loops</c> makes of a
/// memory-planned function and what <c>convert-to-llvm</c> turns into LLVM IR.
/// <para>
/// In this dialect a value of <c>tensor</c> type is a BUFFER (MLIR's memref): a row-major, dense view of
/// memory of that shape and element type, read with <c>loop.load</c> and written with <c>loop.store</c>.
/// Buffers are the function's arguments (the caller's memory, at their <c>mem.offset</c> in the rank's
/// arena), <c>loop.buffer</c> views of the arena at a planned offset, or <c>loop.reinterpret</c> views of
/// another buffer under another shape. Indices are <c>i64</c> scalars; scalar math is the
/// <c>arith</c> dialect.
/// </para>
/// <list type="bullet">
/// <item><c>%b = loop.buffer {offset = 256} : tensor&lt;2x16xf32&gt;</c>: the arena's bytes from offset on.</item>
/// <item><c>%v = loop.reinterpret %b : tensor&lt;2x16xf32&gt; -&gt; tensor&lt;32xf32&gt;</c>: the same memory, another
/// shape of the same element count and type.</item>
/// <item><c>"loop.parallel"() ({ ^bb0(%i: i64, %j: i64): ... "loop.yield"() : () -&gt; () }) {upper = [2, 16]}</c>:
/// the body for every point of [0, upper) in any order, possibly at once (iterations must not depend on
/// each other).</item>
/// <item><c>%r = "loop.for"(%lb, %ub, %step, %init...) ({ ^bb0(%i: i64, %acc: f32): ... "loop.yield"(%next) })</c>:
/// a sequential loop from lb while &lt; ub by step (&gt; 0) carrying values; its results are the last
/// yielded values (the inits when it runs zero times).</item>
/// <item><c>loop.yield</c>: ends a loop body, giving the carried values.</item>
/// <item><c>%x = loop.load %b, %i, %j : (tensor&lt;2x16xf32&gt;, i64, i64) -&gt; f32</c> and
/// <c>loop.store %x, %b, %i, %j : (f32, tensor&lt;2x16xf32&gt;, i64, i64) -&gt; ()</c>: one element, one index per
/// dimension (in bounds: the lowering does not check).</item>
/// <item><c>loop.gemm %a, %b, %c, %ao, %bo, %co {m, n, k, lda, ldb, ldc, trans_a, trans_b, alpha, beta}</c>:
/// row-major C[m, n] = alpha op(A) op(B) + beta C on sub-matrices starting at element offsets ao, bo, co
/// (i64) of buffers a, b, c of one float type; a BLAS call (cblas_sgemm/dgemm on the CPU).</item>
/// <item><c>"loop.host"(%in..., %out...) ({ ^bb0(%x: T...): %r = dist.all_to_all %x ...; "loop.yield"(%r) }) {num_inputs = 1}</c>:
/// the one op of its body (a collective) is run by the host runtime on the input buffers, its results
/// written to the output buffers.</item>
/// </list>
/// </summary>
public static class LoopDialect
{
    public static readonly OpDef Buffer = new()
    {
        Name = "loop.buffer",
        Summary = "A view of the rank's arena at a planned byte offset.",
        Attributes = new[] { new AttrSpec("offset", AttrKind.Integer, Required: true, "byte offset in the arena") },
        Traits = OpTraits.Pure,
        Verify = (op, s) =>
        {
            if (op.Result(0).Type is not TensorType { IsStatic: true }) return s.Error($"the result must be a tensor (buffer) of static shape, not {op.Result(0).Type}");
            return s.Int("offset") is >= 0 || s.Error($"'offset' must be a non-negative byte offset, not {s.Attr("offset")}");
        },
    };

    public static readonly OpDef Reinterpret = new()
    {
        Name = "loop.reinterpret",
        Summary = "The same buffer under another shape of the same element count and type.",
        Operands = new[] { "buffer" },
        Traits = OpTraits.Pure,
        Verify = (op, s) =>
            op.Operand(0).Type is TensorType a && op.Result(0).Type is TensorType r && ReferenceEquals(a.Element, r.Element) && a.NumElements == r.NumElements
            || s.Error($"reinterprets a buffer as one of the same element type and count, not {op.Operand(0).Type} as {op.Result(0).Type}"),
    };

    public static readonly OpDef Parallel = new()
    {
        Name = "loop.parallel",
        Summary = "The body for every point of [0, upper), iterations independent.",
        Attributes = new[] { new AttrSpec("upper", AttrKind.IntArray, Required: true, "the trip count of each dimension") },
        NumResults = 0,
        NumRegions = 1,
        Verify = (op, s) =>
        {
            var upper = s.Ints("upper");
            if (upper is null || upper.Length == 0 || upper.Any(u => u < 0)) return s.Error($"'upper' must be a non-empty list of trip counts >= 0, not {s.Attr("upper")}");
            return VerifyBody(op, s, Enumerable.Repeat<Type>(op.Context.I64, upper.Length).ToArray(), Array.Empty<Type>());
        },
    };

    public static readonly OpDef For = new()
    {
        Name = "loop.for",
        Summary = "A sequential loop lb..ub by step carrying values.",
        Operands = new[] { "lower", "upper", "step" },
        VariadicOperands = true,
        NumResults = 0,
        VariadicResults = true,
        NumRegions = 1,
        Verify = (op, s) =>
        {
            if (op.NumOperands < 3) return s.Error("takes lower, upper and step bounds, then the initial carried values");
            for (int i = 0; i < 3; i++)
                if (op.Operand(i).Type is not ScalarType { Kind: ScalarKind.I64 }) return s.Error($"the {s.OperandName(i)} bound must be i64, not {op.Operand(i).Type}");
            var carried = op.Operands.Skip(3).Select(v => v.Type).ToArray();
            if (!carried.SequenceEqual(op.ResultTypes)) return s.Error($"its results must have the types of its initial values ({string.Join(", ", carried.Select(t => t.ToString()))})");
            return VerifyBody(op, s, new Type[] { op.Context.I64 }.Concat(carried).ToArray(), carried);
        },
    };

    public static readonly OpDef Yield = new()
    {
        Name = "loop.yield",
        Summary = "Ends a loop body with the values it carries.",
        VariadicOperands = true,
        NumResults = 0,
        Traits = OpTraits.Terminator,
    };

    public static readonly OpDef Load = new()
    {
        Name = "loop.load",
        Summary = "One element of a buffer.",
        Operands = new[] { "buffer" },
        VariadicOperands = true,
        InferResultTypes = s => s.OperandTypes[0] is TensorType t && CheckIndices(s, t, 1) ? new Type[] { t.Element }
            : s.LastError is null ? s.Fail($"the first operand must be a buffer, not {s.OperandTypes[0]}") : null,
    };

    public static readonly OpDef Store = new()
    {
        Name = "loop.store",
        Summary = "Writes one element of a buffer.",
        Operands = new[] { "value", "buffer" },
        VariadicOperands = true,
        NumResults = 0,
        Verify = (op, s) =>
        {
            if (op.NumOperands < 2 || op.Operand(1).Type is not TensorType t) return s.Error("takes a value, a buffer and one i64 index per dimension");
            if (!CheckIndices(s, t, 2)) return false;
            return ReferenceEquals(op.Operand(0).Type, t.Element) || s.Error($"stores a {t.Element} into {t}, not a {op.Operand(0).Type}");
        },
    };

    public static readonly OpDef Gemm = new()
    {
        Name = "loop.gemm",
        Summary = "Row-major C = alpha op(A) op(B) + beta C on sub-matrices (a BLAS call).",
        Operands = new[] { "a", "b", "c", "a_offset", "b_offset", "c_offset" },
        NumResults = 0,
        Attributes = new[]
        {
            new AttrSpec("m", AttrKind.Integer, true), new AttrSpec("n", AttrKind.Integer, true), new AttrSpec("k", AttrKind.Integer, true),
            new AttrSpec("lda", AttrKind.Integer, true), new AttrSpec("ldb", AttrKind.Integer, true), new AttrSpec("ldc", AttrKind.Integer, true),
            new AttrSpec("trans_a", AttrKind.Bool), new AttrSpec("trans_b", AttrKind.Bool),
            new AttrSpec("alpha", AttrKind.Float), new AttrSpec("beta", AttrKind.Float),
        },
        Verify = (op, s) =>
        {
            if (op.Operand(0).Type is not TensorType a || op.Operand(1).Type is not TensorType b || op.Operand(2).Type is not TensorType c
                || !ReferenceEquals(a.Element, b.Element) || !ReferenceEquals(a.Element, c.Element) || a.Element.Kind is not (ScalarKind.F32 or ScalarKind.F64))
                return s.Error("a, b and c must be buffers of one element type, f32 or f64");
            for (int i = 3; i < 6; i++)
                if (op.Operand(i).Type is not ScalarType { Kind: ScalarKind.I64 }) return s.Error($"the {s.OperandName(i)} must be i64, not {op.Operand(i).Type}");
            foreach (var n in new[] { "m", "n", "k", "lda", "ldb", "ldc" })
                if (s.Int(n) is not > 0) return s.Error($"'{n}' must be positive, not {s.Attr(n)}");
            bool ta = s.Flag("trans_a"), tb = s.Flag("trans_b");
            long m = s.Int("m")!.Value, n2 = s.Int("n")!.Value, k = s.Int("k")!.Value;
            if (s.Int("lda") < (ta ? m : k) || s.Int("ldb") < (tb ? k : n2) || s.Int("ldc") < n2)
                return s.Error("a leading dimension is smaller than its matrix's row length");
            return true;
        },
    };

    public static readonly OpDef Host = new()
    {
        Name = "loop.host",
        Summary = "Runs the op of its body (a collective) on the host runtime: inputs from, results into buffers.",
        Operands = new[] { "buffer" },
        VariadicOperands = true,
        NumResults = 0,
        NumRegions = 1,
        Attributes = new[] { new AttrSpec("num_inputs", AttrKind.Integer, Required: true) },
        Verify = (op, s) =>
        {
            long ni = s.Int("num_inputs") ?? -1;
            if (ni < 0 || ni > op.NumOperands) return s.Error($"'num_inputs' must be in [0, {op.NumOperands}], not {s.Attr("num_inputs")}");
            var body = op.Region(0).EntryBlock;
            if (body is null || op.Region(0).Blocks.Count != 1) return s.Error("needs one block");
            var ops = body.Ops.ToList();
            if (ops.Count != 2 || ops[1].Name != Yield.Name) return s.Error("its block holds exactly one op and a loop.yield of its results");
            if (!body.Arguments.Select(a => a.Type).SequenceEqual(op.Operands.Take((int)ni).Select(v => v.Type)))
                return s.Error("its block arguments must have the types of the input buffers");
            var outs = op.Operands.Skip((int)ni).Select(v => v.Type).ToList();
            var yielded = ops[1].Operands.Select(v => v.Type).ToList();
            if (outs.Count != yielded.Count || outs.Zip(yielded).Any(p => p.First is not TensorType o || p.Second is not TensorType y || !o.Shape.SequenceEqual(y.Shape) || !ReferenceEquals(o.Element, y.Element)))
                return s.Error("its output buffers must match the yielded values in shape and element type");
            return true;
        },
    };

    public static readonly OpDef[] Ops = { Buffer, Reinterpret, Parallel, For, Yield, Load, Store, Gemm, Host };

    public static readonly Dialect Dialect = new("loop", "Loop nests over buffers (memory-planned tensors).", Ops);

    private static bool CheckIndices(OpState s, TensorType t, int first)
    {
        int n = s.OperandTypes.Count - first;
        if (n != t.Rank) return s.Error($"a buffer of rank {t.Rank} takes {t.Rank} indices, not {n}");
        for (int i = first; i < s.OperandTypes.Count; i++)
            if (s.OperandTypes[i] is not ScalarType { Kind: ScalarKind.I64 }) return s.Error($"indices must be i64, not {s.OperandTypes[i]}");
        return true;
    }

    private static bool VerifyBody(Operation op, OpState s, Type[] args, Type[] yielded)
    {
        var region = op.Region(0);
        if (region.Blocks.Count != 1) return s.Error("its body must be one block");
        var block = region.EntryBlock!;
        if (!block.Arguments.Select(a => a.Type).SequenceEqual(args))
            return s.Error($"its block takes ({string.Join(", ", args.Select(t => t.ToString()))})");
        if (block.Terminator is not { Name: "loop.yield" } y) return s.Error("its block must end in loop.yield");
        if (!y.Operands.Select(v => v.Type).SequenceEqual(yielded))
            return s.Error($"its loop.yield must give ({string.Join(", ", yielded.Select(t => t.ToString()))})");
        return true;
    }
}
