using AutoSpIR.Dialects.Func;
using AutoSpIR.Dialects.Loop;
using AutoSpIR.Dialects.Mem;
using AutoSpIR.Lowering.Llvm;

namespace AutoSpIR.Lowering;

/// <summary>
/// <c>convert-to-llvm</c> for the host: a function in the <c>loop</c> and <c>arith</c> dialects (after
/// <c>convert-tensor-to-loops</c>) becomes the LLVM function <c>void @NAME(ptr %arena, ptr %rt)</c>. Every
/// buffer is a pointer into the rank's arena (an argument at its <c>mem.offset</c>, a <c>loop.buffer</c>
/// at its offset), so the caller writes the arguments at their planned offsets, calls, and reads the
/// results at theirs. <c>loop.for</c> and sequential <c>loop.parallel</c> become counted loops (phis for
/// carried values); a top-level <c>loop.parallel</c> with enough work is outlined into
/// <c>void @NAME.par.K(ptr %env, i64 %begin, i64 %end)</c> over its first dimension and run on the OpenMP
/// threads through <c>GOMP_parallel</c> (libgomp) by <c>@aspir.parallel_for</c>, which splits the range evenly;
/// <c>loop.gemm</c> calls <c>cblas_sgemm</c>/<c>cblas_dgemm</c> (OpenBLAS); <c>loop.host</c> calls the
/// runtime's <c>aspir_host(ptr %rt, i64 %id, ptr %buffers)</c> with the op's index in
/// <see cref="LoweredFunction.HostOps"/>. Innermost sequential loops that carry a float and walk memory contiguously
/// (reductions along a row) are marked
/// <c>llvm.loop.vectorize.enable</c>, which lets LLVM's vectorizer reassociate them, and a product added
/// once becomes <c>llvm.fmuladd</c> (an FMA): the two changes of rounding this lowering allows.
/// </summary>
public sealed unsafe partial class ConvertToLlvm
{
    /// <summary>Below this many iterations (weighted by the body's loops) a parallel loop runs on the calling thread.</summary>
    public const long ParallelGrain = 32768;

    private readonly LlvmContext _ctx;
    private readonly LlvmModule _module;
    private readonly LLVMBuilderRef _b;
    private readonly LLVMContextRef _c;
    private readonly LLVMTypeRef _i1, _i32, _i64, _f32, _f64, _ptr, _void;
    private readonly Dictionary<Value, LLVMValueRef> _values = new();
    private readonly List<Operation> _hostOps = new();
    private readonly bool _threads;
    private readonly GpuTarget _target;
    private LlvmModule? _device;
    private LlvmModule? _moduleOverride;
    private LlvmModule CurrentModule => _moduleOverride ?? _module;
    private readonly List<string> _kernels = new();
    private long[] _argOffsets = Array.Empty<long>();
    private bool _profile;
    private readonly List<Location> _profilePoints = new();
    private Block? _funcBody;
    private string _name = "";
    private int _outlined;
    private LLVMValueRef _fn, _arena, _rt;

    private ConvertToLlvm(LlvmContext ctx, LlvmModule module, LlvmBuilder builder, bool threads, GpuTarget target = GpuTarget.None)
    {
        (_ctx, _module, _b, _c, _threads, _target) = (ctx, module, builder.Handle, ctx.Handle, threads, target);
        _i1 = LlvmApi.Int1TypeInContext(_c);
        _i32 = LlvmApi.Int32TypeInContext(_c);
        _i64 = LlvmApi.Int64TypeInContext(_c);
        _f32 = LlvmApi.FloatTypeInContext(_c);
        _f64 = LlvmApi.DoubleTypeInContext(_c);
        _ptr = LlvmApi.PointerTypeInContext(_c, 0);
        _void = LlvmApi.VoidTypeInContext(_c);
    }

    /// <summary>
    /// Translates the loop-dialect <paramref name="func"/> into <paramref name="module"/> (which it must be
    /// created in <paramref name="ctx"/>). <paramref name="threads"/>: outline parallel loops onto OpenMP threads.
    /// Throws <see cref="LoweringException"/> at an op it cannot translate.
    /// </summary>
    public static LoweredFunction Translate(Operation func, LlvmContext ctx, LlvmModule module, bool threads = true, bool profile = false)
    {
        using var builder = new LlvmBuilder(ctx);
        var t = new ConvertToLlvm(ctx, module, builder, threads) { _profile = profile };
        return t.Function(func);
    }

    private LoweredFunction Function(Operation func)
    {
        _name = FuncDialect.SymName(func);
        var body = func.Region(0).EntryBlock ?? throw new LoweringException(func.Location, $"@{_name} has no body");
        var fnType = LlvmApi.FunctionType(_void, new[] { _ptr, _ptr });
        _fn = LlvmApi.AddFunction(CurrentModule.Handle, _name, fnType);
        _arena = LlvmApi.GetParam(_fn, 0);
        _rt = LlvmApi.GetParam(_fn, 1);
        LlvmApi.SetValueName2(_arena, "arena");
        LlvmApi.SetValueName2(_rt, "rt");
        LlvmApi.PositionBuilderAtEnd(_b, LlvmApi.AppendBasicBlockInContext(_c, _fn, "entry"));
        var argOffsets = new long[body.Arguments.Count];
        for (int i = 0; i < body.Arguments.Count; i++)
        {
            var attrs = FuncDialect.ArgAttrs(func, i);
            if (attrs.Get(MemDialect.Offset) is not IntegerAttr off)
                throw new LoweringException(func.Location, $"argument #{i} of @{_name} has no planned offset (mem.offset): run bufferize,memory-plan first");
            argOffsets[i] = off.Value;
            _values[body.Arguments[i]] = ArenaAt(off.Value);
        }
        (_argOffsets, _funcBody) = (argOffsets, body);
        var resultOffsets = new List<long>();
        if (_target != GpuTarget.None) EmitGpuHost(body.Ops.Where(o => o.Name != "func.return").ToList());
        foreach (var op in body.Ops)
        {
            if (op.Name == "func.return")
            {
                foreach (var v in op.Operands) resultOffsets.Add(OffsetOf(v, body, argOffsets));
                if (_profile) ProfilePoint(op.Location);
                LlvmApi.BuildRetVoid(_b);
                continue;
            }
            if (_profile && (_profilePoints.Count == 0 || !Equals(_profilePoints[^1], op.Location))) ProfilePoint(op.Location);
            if (_target == GpuTarget.None) Emit(op);
        }
        return new LoweredFunction(_name, argOffsets, resultOffsets.ToArray(), _hostOps.ToArray(),
            (func.GetAttr(Loops.ConvertTensorToLoops.MemorySize) ?? func.GetAttr(MemDialect.ArenaSize)) is IntegerAttr size ? size.Value : 0,
            _profilePoints.ToArray());
    }

    /// <summary>
    /// Profiling: <c>aspir_profile(ptr %rt, i64 %k)</c> where the ops of another source location start (the
    /// lowering keeps each tensor op's location on its loops); the runtime timestamps each call.
    /// </summary>
    private void ProfilePoint(Location at)
    {
        var (ty, fn) = Declare("aspir_profile", _void, _ptr, _i64);
        LlvmApi.BuildCall2(_b, ty, fn, new[] { _rt, I64(_profilePoints.Count) });
        _profilePoints.Add(at);
    }

    /// <summary>The planned arena offset of a returned buffer (an argument or a loop.buffer, through reinterprets).</summary>
    private static long OffsetOf(Value v, Block body, long[] argOffsets)
    {
        while (v.DefiningOp is { Name: "loop.reinterpret" } r) v = r.Operand(0);
        if (v is BlockArgument a && ReferenceEquals(a.Owner, body)) return argOffsets[a.Index];
        if (v.DefiningOp is { Name: "loop.buffer" } b) return b.GetInt("offset")!.Value;
        throw new LoweringException(v.DefiningOp?.Location ?? Location.Unknown, "a returned value is not a planned buffer");
    }

    private LLVMValueRef ArenaAt(long offset) => offset == 0 ? _arena
        : LlvmApi.BuildInBoundsGEP2(_b, LlvmApi.Int8TypeInContext(_c), _arena, new[] { I64(offset) }, "buf");

    // ------------------------------------------------------------------ ops

    private void Emit(Operation op)
    {
        switch (op.Name)
        {
            case "loop.buffer": _values[op.Result(0)] = ArenaAt(op.GetInt("offset")!.Value); return;
            case "loop.reinterpret": _values[op.Result(0)] = V(op.Operand(0)); return;
            case "loop.load":
            {
                var t = (TensorType)op.Operand(0).Type;
                _values[op.Result(0)] = LlvmApi.BuildLoad2(_b, Scalar(t.Element), Address(op, 0), "");
                return;
            }
            case "loop.store":
                LlvmApi.BuildStore(_b, V(op.Operand(0)), Address(op, 1));
                return;
            case "loop.for": For(op); return;
            case "loop.parallel": Parallel(op); return;
            case "loop.gemm": Gemm(op); return;
            case "loop.host": HostCall(op); return;
            case "loop.yield": return;   // handled by the enclosing loop
        }
        if (op.DialectName == "arith")
        {
            _values[op.Result(0)] = Arith(op);
            return;
        }
        throw new LoweringException(op.Location, $"convert-to-llvm: cannot translate '{op.Name}' (run convert-tensor-to-loops first)");
    }

    /// <summary>The address of the element a load (buffer operand #<paramref name="bufferOperand"/>) or store names.</summary>
    private LLVMValueRef Address(Operation op, int bufferOperand)
    {
        var t = (TensorType)op.Operand(bufferOperand).Type;
        LLVMValueRef? flat = null;
        long stride = 1;
        for (int d = t.Rank - 1; d >= 0; d--)
        {
            var idx = V(op.Operand(bufferOperand + 1 + d));
            var term = stride == 1 ? idx : LlvmApi.BuildNSWMul(_b, idx, I64(stride), "");
            flat = flat is { } f ? LlvmApi.BuildNSWAdd(_b, f, term, "") : term;
            stride *= t.Shape[d];
        }
        var basePtr = V(op.Operand(bufferOperand));
        return flat is { } index ? LlvmApi.BuildInBoundsGEP2(_b, Scalar(t.Element), basePtr, new[] { index }, "") : basePtr;
    }

    private LLVMValueRef Arith(Operation op)
    {
        string kind = op.Name["arith.".Length..];
        LLVMValueRef A(int i) => V(op.Operand(i));
        var rt = op.NumResults > 0 ? op.Result(0).Type as ScalarType : null;
        switch (kind)
        {
            case "constant":
                return op.GetAttr("value") switch
                {
                    FloatAttr f => LlvmApi.ConstReal(Scalar(f.Type), f.Value),
                    IntegerAttr n => LlvmApi.ConstInt(Scalar(n.Type), unchecked((ulong)n.Value), 1),
                    _ => throw new LoweringException(op.Location, "arith.constant without a value"),
                };
            case "addf":
                // a * b + c with a product used only here: llvm.fmuladd, which the code generator fuses into
                // an FMA where the CPU has one (one rounding instead of two).
                for (int i = 0; i < 2; i++)
                    if (op.Operand(i).DefiningOp is { Name: "arith.mulf" } mul && mul.Result(0).Uses.Count() == 1 && _target == GpuTarget.None)
                        return Intrinsic("llvm.fmuladd", rt!, V(mul.Operand(0)), V(mul.Operand(1)), A(1 - i));
                return LlvmApi.BuildFAdd(_b, A(0), A(1), "");
            case "subf": return LlvmApi.BuildFSub(_b, A(0), A(1), "");
            case "mulf": return LlvmApi.BuildFMul(_b, A(0), A(1), "");
            case "divf": return LlvmApi.BuildFDiv(_b, A(0), A(1), "");
            case "maxf": return Intrinsic("llvm.maxnum", rt!, A(0), A(1));
            case "minf": return Intrinsic("llvm.minnum", rt!, A(0), A(1));
            case "powf": return _target == GpuTarget.None ? Intrinsic("llvm.pow", rt!, A(0), A(1)) : DeviceMath(op, "pow", rt!, A(0), A(1));
            case "addi": return LlvmApi.BuildAdd(_b, A(0), A(1), "");
            case "subi": return LlvmApi.BuildSub(_b, A(0), A(1), "");
            case "muli": return LlvmApi.BuildMul(_b, A(0), A(1), "");
            case "divsi": return LlvmApi.BuildSDiv(_b, A(0), A(1), "");
            case "remsi": return LlvmApi.BuildSRem(_b, A(0), A(1), "");
            case "maxsi": return LlvmApi.BuildSelect(_b, LlvmApi.BuildICmp(_b, LLVMIntPredicate.IntSGT, A(0), A(1), ""), A(0), A(1), "");
            case "minsi": return LlvmApi.BuildSelect(_b, LlvmApi.BuildICmp(_b, LLVMIntPredicate.IntSLT, A(0), A(1), ""), A(0), A(1), "");
            case "negf": return LlvmApi.BuildFNeg(_b, A(0), "");
            case "exp":
                if (_target != GpuTarget.None) return DeviceMath(op, "exp", rt!, A(0));
                return rt!.Kind == ScalarKind.F32 ? ExpF32(rt, A(0)) : Intrinsic("llvm.exp", rt, A(0));
            case "log": return _target == GpuTarget.None ? Intrinsic("llvm.log", rt!, A(0)) : DeviceMath(op, "log", rt!, A(0));
            case "sqrt": return Intrinsic("llvm.sqrt", rt!, A(0));
            case "rsqrt": return LlvmApi.BuildFDiv(_b, LlvmApi.ConstReal(Scalar(rt!), 1.0), Intrinsic("llvm.sqrt", rt!, A(0)), "");
            case "cos": return _target == GpuTarget.None ? Intrinsic("llvm.cos", rt!, A(0)) : DeviceMath(op, "cos", rt!, A(0));
            case "sin": return _target == GpuTarget.None ? Intrinsic("llvm.sin", rt!, A(0)) : DeviceMath(op, "sin", rt!, A(0));
            case "absf": return Intrinsic("llvm.fabs", rt!, A(0));
            case "tanh": return _target == GpuTarget.None ? LibM(rt!.Kind == ScalarKind.F32 ? "tanhf" : "tanh", rt, A(0)) : DeviceMath(op, "tanh", rt!, A(0));
            case "erf": return _target == GpuTarget.None ? LibM(rt!.Kind == ScalarKind.F32 ? "erff" : "erf", rt, A(0)) : DeviceMath(op, "erf", rt!, A(0));
            case "cmpf":
                return LlvmApi.BuildFCmp(_b, op.GetString("predicate") switch
                {
                    "oeq" => LLVMRealPredicate.RealOEQ, "one" => LLVMRealPredicate.RealONE, "olt" => LLVMRealPredicate.RealOLT,
                    "ole" => LLVMRealPredicate.RealOLE, "ogt" => LLVMRealPredicate.RealOGT, _ => LLVMRealPredicate.RealOGE,
                }, A(0), A(1), "");
            case "cmpi":
                return LlvmApi.BuildICmp(_b, op.GetString("predicate") switch
                {
                    "eq" => LLVMIntPredicate.IntEQ, "ne" => LLVMIntPredicate.IntNE, "slt" => LLVMIntPredicate.IntSLT,
                    "sle" => LLVMIntPredicate.IntSLE, "sgt" => LLVMIntPredicate.IntSGT, _ => LLVMIntPredicate.IntSGE,
                }, A(0), A(1), "");
            case "select": return LlvmApi.BuildSelect(_b, A(0), A(1), A(2), "");
            case "cast": return Cast(A(0), (ScalarType)op.Operand(0).Type, rt!);
        }
        throw new LoweringException(op.Location, $"convert-to-llvm: cannot translate '{op.Name}'");
    }

    /// <summary>
    /// e^x in f32 inline, so that loops with exps vectorize (libm's expf is a call per element): Cephes' expf.
    /// x = n ln 2 + r with n = round(x log2 e) and r in [-ln2/2, ln2/2] (ln 2 split in two for exactness),
    /// e^r by its degree-7 minimax polynomial, 2^n by building the exponent bits. Relative error below 2e-7;
    /// above 88.72 it is +inf, below -87.33 0 (no subnormals), NaN stays NaN.
    /// </summary>
    private LLVMValueRef ExpF32(ScalarType f32, LLVMValueRef x)
    {
        var f = _f32;
        LLVMValueRef C(double v) => LlvmApi.ConstReal(f, v);
        LLVMValueRef Fma(LLVMValueRef a, LLVMValueRef b, LLVMValueRef c) => Intrinsic("llvm.fmuladd", f32, a, b, c);
        var clamped = Intrinsic("llvm.minnum", f32, Intrinsic("llvm.maxnum", f32, x, C(-87.33)), C(88.72));
        var n = Intrinsic("llvm.floor", f32, Fma(clamped, C(1.4426950408889634), C(0.5)));
        var r = Fma(n, C(2.12194440e-4), Fma(n, C(-0.693359375), clamped));
        var p = C(1.9875691500e-4);
        foreach (var c in new[] { 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1 })
            p = Fma(p, r, C(c));
        var er = LlvmApi.BuildFAdd(_b, Fma(p, LlvmApi.BuildFMul(_b, r, r, ""), r), C(1), "");
        var bits = LlvmApi.BuildShl(_b, LlvmApi.BuildAdd(_b, LlvmApi.BuildFPToSI(_b, n, _i32, ""), I32(127), ""), I32(23), "");
        var y = LlvmApi.BuildFMul(_b, er, LlvmApi.BuildBitCast(_b, bits, f, ""), "");
        y = LlvmApi.BuildSelect(_b, LlvmApi.BuildFCmp(_b, LLVMRealPredicate.RealOLT, x, C(-87.33), ""), C(0), y, "");
        y = LlvmApi.BuildSelect(_b, LlvmApi.BuildFCmp(_b, LLVMRealPredicate.RealOGT, x, C(88.72), ""), C(double.PositiveInfinity), y, "");
        return LlvmApi.BuildSelect(_b, LlvmApi.BuildFCmp(_b, LLVMRealPredicate.RealUNO, x, x, ""), x, y, "");
    }

    private LLVMValueRef Cast(LLVMValueRef x, ScalarType from, ScalarType to)
    {
        if (ReferenceEquals(from, to)) return x;
        var t = Scalar(to);
        if (from.IsFloat && to.IsFloat)
            return from.BitWidth < to.BitWidth ? LlvmApi.BuildFPExt(_b, x, t, "") : LlvmApi.BuildFPTrunc(_b, x, t, "");
        if (from.IsFloat) return LlvmApi.BuildFPToSI(_b, x, t, "");
        if (to.IsFloat) return LlvmApi.BuildSIToFP(_b, x, t, "");
        return from.BitWidth < to.BitWidth ? LlvmApi.BuildSExt(_b, x, t, "") : LlvmApi.BuildTrunc(_b, x, t, "");
    }

    // ------------------------------------------------------------------ loops

    /// <summary>A counted loop lb..ub by step; <paramref name="body"/> emits the body given the induction variable and carried phis, returns the next carried values.</summary>
    private LLVMValueRef[] CountedLoop(LLVMValueRef lb, LLVMValueRef ub, LLVMValueRef step, LLVMValueRef[] inits, LLVMTypeRef[] types,
        Func<LLVMValueRef, LLVMValueRef[], LLVMValueRef[]> body, bool vectorizeHint)
    {
        var pre = LlvmApi.GetInsertBlock(_b);
        var fn = LlvmApi.GetBasicBlockParent(pre);
        var header = LlvmApi.AppendBasicBlockInContext(_c, fn, "loop");
        var bodyBlock = LlvmApi.AppendBasicBlockInContext(_c, fn, "body");
        var exit = LlvmApi.AppendBasicBlockInContext(_c, fn, "exit");
        LlvmApi.BuildBr(_b, header);
        LlvmApi.PositionBuilderAtEnd(_b, header);
        var iv = LlvmApi.BuildPhi(_b, _i64, "i");
        var phis = types.Select(t => LlvmApi.BuildPhi(_b, t, "")).ToArray();
        LlvmApi.BuildCondBr(_b, LlvmApi.BuildICmp(_b, LLVMIntPredicate.IntSLT, iv, ub, ""), bodyBlock, exit);
        LlvmApi.PositionBuilderAtEnd(_b, bodyBlock);
        var next = body(iv, phis);
        var ivNext = LlvmApi.BuildNSWAdd(_b, iv, step, "");
        var latch = LlvmApi.GetInsertBlock(_b);
        var back = LlvmApi.BuildBr(_b, header);
        if (vectorizeHint) LoopMetadata.MarkVectorize(_c, back);
        LlvmApi.AddIncoming(iv, new[] { lb, ivNext }, new[] { pre, latch });
        for (int i = 0; i < phis.Length; i++) LlvmApi.AddIncoming(phis[i], new[] { inits[i], next[i] }, new[] { pre, latch });
        LlvmApi.PositionBuilderAtEnd(_b, exit);
        return phis;
    }

    private void For(Operation op)
    {
        var block = op.Region(0).EntryBlock!;
        var inits = op.Operands.Skip(3).Select(V).ToArray();
        var types = op.Operands.Skip(3).Select(v => Scalar((ScalarType)v.Type)).ToArray();
        bool carriesFloat = op.Operands.Skip(3).Any(v => v.Type is ScalarType { IsFloat: true });
        var results = CountedLoop(V(op.Operand(0)), V(op.Operand(1)), V(op.Operand(2)), inits, types, (iv, phis) =>
        {
            _values[block.Arguments[0]] = iv;
            for (int i = 0; i < phis.Length; i++) _values[block.Arguments[i + 1]] = phis[i];
            foreach (var inner in block.Ops) Emit(inner);
            return block.Terminator!.Operands.Select(V).ToArray();
        }, carriesFloat && IsInnermost(op) && IsContiguous(op));
        for (int i = 0; i < results.Length; i++) _values[op.Result(i)] = results[i];
    }

    /// <summary>
    /// Whether every load and store of a loop body walks memory contiguously with the induction variable: its last
    /// index is the variable (plus something defined outside the loop) and no other index depends on it. Only such
    /// reductions are marked for vectorization: the hint forces it, and a strided walk (down a column) would become
    /// gathers, slower than the scalar loop.
    /// </summary>
    private static bool IsContiguous(Operation loop)
    {
        var block = loop.Region(0).EntryBlock!;
        var iv = block.Arguments[0];
        var inside = new HashSet<Value>(block.Arguments);
        foreach (var o in block.Ops) foreach (var r in o.Results) inside.Add(r);
        bool DependsOnIv(Value v) => v == iv || inside.Contains(v) && v.DefiningOp is { } d && d.Operands.Any(DependsOnIv);
        bool UnitStride(Value v) => v == iv
            || v.DefiningOp is { Name: "arith.addi" } add && (add.Operand(0) == iv && !DependsOnIv(add.Operand(1)) || add.Operand(1) == iv && !DependsOnIv(add.Operand(0)));
        foreach (var o in block.Ops)
        {
            int first = o.Name == "loop.load" ? 1 : o.Name == "loop.store" ? 2 : -1;
            if (first < 0) continue;
            var idx = o.Operands.Skip(first).ToList();
            if (!idx.Any(DependsOnIv)) continue;   // loop-invariant
            if (idx.Count == 0 || !UnitStride(idx[^1]) || idx.Take(idx.Count - 1).Any(DependsOnIv)) return false;
        }
        return true;
    }

    private static bool IsInnermost(Operation loop)
    {
        bool nested = false;
        foreach (var top in loop.Region(0).EntryBlock!.Ops) top.Walk(o => nested |= o.Name is "loop.for" or "loop.parallel");
        return !nested;
    }

    private void Parallel(Operation op)
    {
        var upper = op.GetAttr("upper") is ArrayAttr a ? a.AsInts()! : throw new LoweringException(op.Location, "loop.parallel without 'upper'");
        if (upper.Any(u => u == 0)) return;
        if (_threads && IsTopLevelParallel(op) && upper[0] > 1 && Work(op, upper) >= ParallelGrain)
        {
            Outline(op, upper);
            return;
        }
        SequentialNest(op, upper, 0, I64(0), I64(upper[0]));
    }

    /// <summary>The nest of a parallel loop as sequential loops; dimension 0 runs over [begin, end).</summary>
    private void SequentialNest(Operation op, long[] upper, int dim, LLVMValueRef begin, LLVMValueRef end)
    {
        var block = op.Region(0).EntryBlock!;
        var lb = dim == 0 ? begin : I64(0);
        var ub = dim == 0 ? end : I64(upper[dim]);
        CountedLoop(lb, ub, I64(1), Array.Empty<LLVMValueRef>(), Array.Empty<LLVMTypeRef>(), (iv, _) =>
        {
            _values[block.Arguments[dim]] = iv;
            if (dim + 1 < upper.Length) SequentialNest(op, upper, dim + 1, begin, end);
            else foreach (var inner in block.Ops) Emit(inner);
            return Array.Empty<LLVMValueRef>();
        }, vectorizeHint: false);
    }

    private static bool IsTopLevelParallel(Operation op)
    {
        for (var p = op.Block?.ParentOp; p is not null && p.Name != "func.func"; p = p.Block?.ParentOp)
            if (p.Name == "loop.parallel") return false;
        return true;
    }

    /// <summary>Iterations, times 1024 when the body loops (a row loop or a GEMM is worth many elements).</summary>
    private static long Work(Operation op, long[] upper)
    {
        long n = upper.Aggregate(1L, (x, y) => x * y);
        bool loops = false;
        foreach (var top in op.Region(0).EntryBlock!.Ops) top.Walk(o => loops |= o.Name is "loop.for" or "loop.gemm");
        return loops ? n * 1024 : n;
    }

    /// <summary>
    /// Outlines a parallel loop: <c>@NAME.par.K(ptr env, i64 begin, i64 end)</c> runs dimension 0 over
    /// [begin, end); the values it uses from outside are stored in an env struct on the caller's stack;
    /// <c>@aspir.omp_tramp</c> gives each OpenMP thread its slice.
    /// </summary>
    private void Outline(Operation op, long[] upper)
    {
        var captured = Captures(op);
        var envType = LlvmApi.StructTypeInContext(_c, captured.Select(v => LlvmType(v.Type)).ToArray());
        var env = LlvmApi.BuildAlloca(_b, envType, "env");
        for (int i = 0; i < captured.Count; i++)
            LlvmApi.BuildStore(_b, V(captured[i]), LlvmApi.BuildInBoundsGEP2(_b, envType, env, new[] { I32(0), I32(i) }, ""));
        var bodyType = LlvmApi.FunctionType(_void, new[] { _ptr, _i64, _i64 });
        var body = LlvmApi.AddFunction(CurrentModule.Handle, $"{_name}.par.{_outlined++}", bodyType);
        LlvmApi.SetLinkage(body, LLVMLinkage.InternalLinkage);

        var savedBlock = LlvmApi.GetInsertBlock(_b);
        var savedValues = captured.ToDictionary(v => v, v => _values[v]);
        LlvmApi.PositionBuilderAtEnd(_b, LlvmApi.AppendBasicBlockInContext(_c, body, "entry"));
        var envArg = LlvmApi.GetParam(body, 0);
        for (int i = 0; i < captured.Count; i++)
            _values[captured[i]] = LlvmApi.BuildLoad2(_b, LlvmType(captured[i].Type),
                LlvmApi.BuildInBoundsGEP2(_b, envType, envArg, new[] { I32(0), I32(i) }, ""), "");
        SequentialNest(op, upper, 0, LlvmApi.GetParam(body, 1), LlvmApi.GetParam(body, 2));
        LlvmApi.BuildRetVoid(_b);

        LlvmApi.PositionBuilderAtEnd(_b, savedBlock);
        foreach (var (v, x) in savedValues) _values[v] = x;
        var (fnTy, fn) = ParallelFor();
        LlvmApi.BuildCall2(_b, fnTy, fn, new[] { body, env, I64(upper[0]) });
    }

    /// <summary>
    /// <c>internal void @aspir.parallel_for(ptr fn, ptr env, i64 n)</c>, defined once per module: calls
    /// <c>GOMP_parallel(@aspir.omp_slice, {fn, env, n}, 0, 0)</c> (0 threads: libgomp's default, OMP_NUM_THREADS
    /// or one per core); on each thread <c>@aspir.omp_slice</c> calls <c>fn(env, begin, end)</c> on its even share of [0, n).
    /// </summary>
    private (LLVMTypeRef, LLVMValueRef) ParallelFor()
    {
        var ty = LlvmApi.FunctionType(_void, new[] { _ptr, _ptr, _i64 });
        var existing = LlvmApi.GetNamedFunction(CurrentModule.Handle, "aspir.parallel_for");
        if (existing.Handle != 0) return (ty, existing);
        var saved = LlvmApi.GetInsertBlock(_b);
        var data = LlvmApi.StructTypeInContext(_c, new[] { _ptr, _ptr, _i64 });
        LLVMValueRef Field(LLVMValueRef p, int i) => LlvmApi.BuildInBoundsGEP2(_b, data, p, new[] { I32(0), I32(i) }, "");

        var sliceTy = LlvmApi.FunctionType(_void, new[] { _ptr });
        var slice = LlvmApi.AddFunction(CurrentModule.Handle, "aspir.omp_slice", sliceTy);
        LlvmApi.SetLinkage(slice, LLVMLinkage.InternalLinkage);
        LlvmApi.PositionBuilderAtEnd(_b, LlvmApi.AppendBasicBlockInContext(_c, slice, "entry"));
        var d = LlvmApi.GetParam(slice, 0);
        var fn = LlvmApi.BuildLoad2(_b, _ptr, Field(d, 0), "fn");
        var env = LlvmApi.BuildLoad2(_b, _ptr, Field(d, 1), "env");
        var n = LlvmApi.BuildLoad2(_b, _i64, Field(d, 2), "n");
        var (numTy, num) = Declare("omp_get_num_threads", _i32);
        var (tidTy, tid) = Declare("omp_get_thread_num", _i32);
        var threads = LlvmApi.BuildSExt(_b, LlvmApi.BuildCall2(_b, numTy, num, ReadOnlySpan<LLVMValueRef>.Empty), _i64, "");
        var me = LlvmApi.BuildSExt(_b, LlvmApi.BuildCall2(_b, tidTy, tid, ReadOnlySpan<LLVMValueRef>.Empty), _i64, "");
        var chunk = LlvmApi.BuildSDiv(_b, LlvmApi.BuildAdd(_b, n, LlvmApi.BuildSub(_b, threads, I64(1), ""), ""), threads, "");
        var begin = LlvmApi.BuildMul(_b, me, chunk, "");
        var end0 = LlvmApi.BuildAdd(_b, begin, chunk, "");
        var end = LlvmApi.BuildSelect(_b, LlvmApi.BuildICmp(_b, LLVMIntPredicate.IntSLT, end0, n, ""), end0, n, "");
        var run = LlvmApi.AppendBasicBlockInContext(_c, slice, "run");
        var done = LlvmApi.AppendBasicBlockInContext(_c, slice, "done");
        LlvmApi.BuildCondBr(_b, LlvmApi.BuildICmp(_b, LLVMIntPredicate.IntSLT, begin, end, ""), run, done);
        LlvmApi.PositionBuilderAtEnd(_b, run);
        LlvmApi.BuildCall2(_b, LlvmApi.FunctionType(_void, new[] { _ptr, _i64, _i64 }), fn, new[] { env, begin, end });
        LlvmApi.BuildBr(_b, done);
        LlvmApi.PositionBuilderAtEnd(_b, done);
        LlvmApi.BuildRetVoid(_b);

        var pf = LlvmApi.AddFunction(CurrentModule.Handle, "aspir.parallel_for", ty);
        LlvmApi.SetLinkage(pf, LLVMLinkage.InternalLinkage);
        LlvmApi.PositionBuilderAtEnd(_b, LlvmApi.AppendBasicBlockInContext(_c, pf, "entry"));
        var block = LlvmApi.BuildAlloca(_b, data, "data");
        for (int i = 0; i < 3; i++) LlvmApi.BuildStore(_b, LlvmApi.GetParam(pf, (uint)i), Field(block, i));
        var (gompTy, gomp) = Declare("GOMP_parallel", _void, _ptr, _ptr, _i32, _i32);
        LlvmApi.BuildCall2(_b, gompTy, gomp, new[] { slice, block, I32(0), I32(0) });
        LlvmApi.BuildRetVoid(_b);
        LlvmApi.PositionBuilderAtEnd(_b, saved);
        return (ty, pf);
    }

    /// <summary>Values used inside <paramref name="op"/>'s region but defined outside it, in first-use order.</summary>
    private static List<Value> Captures(Operation op)
    {
        var inside = new HashSet<Value>();
        var list = new List<Value>();
        var seen = new HashSet<Value>();
        foreach (var top in op.Region(0).EntryBlock!.Ops) top.Walk(o =>
        {
            foreach (var r in o.Results) inside.Add(r);
            foreach (var reg in o.Regions) foreach (var blk in reg.Blocks) foreach (var a in blk.Arguments) inside.Add(a);
        });
        foreach (var a in op.Region(0).EntryBlock!.Arguments) inside.Add(a);
        foreach (var top in op.Region(0).EntryBlock!.Ops) top.Walk(o =>
        {
            foreach (var v in o.Operands)
                if (!inside.Contains(v) && seen.Add(v)) list.Add(v);
        });
        return list;
    }

    // ------------------------------------------------------------------ calls

    private void Gemm(Operation op)
    {
        if (_target != GpuTarget.None)
        {
            GpuGemm(op);
            return;
        }
        var t = (TensorType)op.Operand(0).Type;
        bool f32 = t.Element.Kind == ScalarKind.F32;
        var s = Scalar(t.Element);
        LLVMValueRef Ptr(int i) => LlvmApi.BuildInBoundsGEP2(_b, s, V(op.Operand(i)), new[] { V(op.Operand(i + 3)) }, "");
        LLVMValueRef Int(string name) => I32(checked((int)op.GetInt(name)!.Value));
        LLVMValueRef Trans(string name) => I32(op.GetAttr(name) is BoolAttr { Value: true } ? 112 : 111);
        var (fnTy, fn) = Declare(f32 ? "cblas_sgemm" : "cblas_dgemm", _void,
            _i32, _i32, _i32, _i32, _i32, _i32, s, _ptr, _i32, _ptr, _i32, s, _ptr, _i32);
        LlvmApi.BuildCall2(_b, fnTy, fn, new[]
        {
            I32(101), Trans("trans_a"), Trans("trans_b"), Int("m"), Int("n"), Int("k"),
            LlvmApi.ConstReal(s, op.GetFloat("alpha") ?? 1.0), Ptr(0), Int("lda"), Ptr(1), Int("ldb"),
            LlvmApi.ConstReal(s, op.GetFloat("beta") ?? 0.0), Ptr(2), Int("ldc"),
        });
    }

    private void HostCall(Operation op)
    {
        int id = _hostOps.Count;
        _hostOps.Add(op);
        var array = LlvmApi.BuildAlloca(_b, LlvmApi.ArrayType(_ptr, (uint)op.NumOperands), "bufs");
        for (int i = 0; i < op.NumOperands; i++)
            LlvmApi.BuildStore(_b, V(op.Operand(i)), LlvmApi.BuildInBoundsGEP2(_b, LlvmApi.ArrayType(_ptr, (uint)op.NumOperands), array, new[] { I32(0), I32(i) }, ""));
        var (fnTy, fn) = Declare("aspir_host", _void, _ptr, _i64, _ptr);
        LlvmApi.BuildCall2(_b, fnTy, fn, new[] { _rt, I64(id), array });
    }

    private (LLVMTypeRef Type, LLVMValueRef Fn) Declare(string name, LLVMTypeRef ret, params LLVMTypeRef[] args)
    {
        var ty = LlvmApi.FunctionType(ret, args);
        var fn = LlvmApi.GetNamedFunction(CurrentModule.Handle, name);
        if (fn.Handle == 0) fn = LlvmApi.AddFunction(CurrentModule.Handle, name, ty);
        return (ty, fn);
    }

    private LLVMValueRef LibM(string name, ScalarType t, LLVMValueRef x)
    {
        var (ty, fn) = Declare(name, Scalar(t), Scalar(t));
        return LlvmApi.BuildCall2(_b, ty, fn, new[] { x });
    }

    private LLVMValueRef Intrinsic(string name, ScalarType t, params LLVMValueRef[] args)
    {
        uint id = LlvmApi.LookupIntrinsicID(name);
        var overload = new[] { Scalar(t) };
        var fn = LlvmApi.GetIntrinsicDeclaration(CurrentModule.Handle, id, overload);
        var ty = LlvmApi.IntrinsicGetType(_c, id, overload);
        return LlvmApi.BuildCall2(_b, ty, fn, args);
    }

    // ------------------------------------------------------------------ values and types

    private LLVMValueRef V(Value v) =>
        _values.TryGetValue(v, out var x) ? x : throw new LoweringException(v.DefiningOp?.Location ?? Location.Unknown, "convert-to-llvm: a value used before it is defined");

    private LLVMValueRef I64(long v) => LlvmApi.ConstInt(_i64, unchecked((ulong)v), 1);
    private LLVMValueRef I32(int v) => LlvmApi.ConstInt(_i32, unchecked((ulong)v), 1);

    private LLVMTypeRef LlvmType(Type t) => t is TensorType ? _ptr : Scalar((ScalarType)t);

    private LLVMTypeRef Scalar(ScalarType t) => t.Kind switch
    {
        ScalarKind.F32 => _f32,
        ScalarKind.F64 => _f64,
        ScalarKind.I64 or ScalarKind.Index => _i64,
        ScalarKind.I32 => _i32,
        ScalarKind.I8 => LlvmApi.Int8TypeInContext(_c),
        ScalarKind.I1 => _i1,
        _ => throw new LoweringException(Location.Unknown, $"convert-to-llvm: no native type for {t} (the native backend runs f32, f64 and integers)"),
    };
}

/// <summary>
/// What the caller of a lowered function needs: its symbol, where arguments and results live in the arena, the
/// host ops by id, and (when profiled) the source location of each <c>aspir_profile</c> point in order.
/// </summary>
public sealed record LoweredFunction(string Symbol, long[] ArgumentOffsets, long[] ResultOffsets, Operation[] HostOps, long ArenaSize,
    Location[] ProfilePoints);

/// <summary>A program the lowering cannot translate, located at the op.</summary>
public sealed class LoweringException(Location location, string message) : Exception(message)
{
    public Location Location { get; } = location;
}
