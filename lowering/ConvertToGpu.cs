using AutoSpIR.Dialects.Func;
using AutoSpIR.Lowering.Llvm;

namespace AutoSpIR.Lowering;

/// <summary>The GPU a translation is for (<see cref="GpuTarget.None"/>: the host CPU).</summary>
public enum GpuTarget { None, Nvptx, Amdgpu }

/// <summary>A function translated for a GPU: the host launcher and the names of the device kernels in launch order of definition.</summary>
public sealed record GpuLowered(LoweredFunction Host, IReadOnlyList<string> Kernels);

/// <summary>
/// <c>convert-to-llvm</c> for GPUs. The loop program becomes two LLVM modules:
/// <list type="bullet">
/// <item>the DEVICE module: one kernel per top-level <c>loop.parallel</c>
/// (<c>void @NAME_kK(ptr addrspace(1) %arena)</c>, calling convention ptx_kernel or amdgpu_kernel), each thread
/// running one point of the flattened iteration space: thread id = block id * 256 + thread-in-block id (the
/// launch contract is 256 threads per block, ceil(points / 256) blocks); top-level work that touches memory
/// outside a parallel loop becomes a one-thread kernel (<c>@NAME_sK</c>);</item>
/// <item>the HOST module: <c>void @NAME(ptr %arena, ptr %rt)</c> with the arena in device memory, which calls
/// <c>aspir_gpu_launch(ptr %rt, i64 %kernel, i64 %threads)</c> for each kernel in program order,
/// <c>cublasSgemm_v2</c>/<c>cublasDgemm_v2</c> (nvptx) or <c>hipblasSgemm</c>/<c>hipblasDgemm</c> (amdgcn) for
/// <c>loop.gemm</c> (row-major C = op(A) op(B) as column-major C^T = op(B)^T op(A)^T), with the BLAS handle from
/// <c>aspir_blas_handle(ptr %rt)</c>, and <c>aspir_host</c> for collectives (NCCL/RCCL in the runtime).</item>
/// </list>
/// Transcendentals use the devices' own instructions (f32 only): NVPTX ex2/lg2/sin/cos.approx, AMDGPU
/// exp2/log2/sin/cos; tanh and erf are built from exp (erf: Abramowitz and Stegun 7.1.26, |error| &lt; 1.5e-7); an f64
/// transcendental is computed in f32.
/// No GPU is available to this project: the code is assembled and linked (ptxas, ld.lld), never run.
/// </summary>
public sealed unsafe partial class ConvertToLlvm
{
    public const int GpuBlockSize = 256;

    /// <summary>Translates the loop-dialect <paramref name="func"/> into a device and a host module (both in <paramref name="ctx"/>).</summary>
    public static GpuLowered TranslateGpu(Operation func, LlvmContext ctx, LlvmModule device, LlvmModule host, GpuTarget target)
    {
        if (target == GpuTarget.None) throw new ArgumentException("a GPU target", nameof(target));
        using var builder = new LlvmBuilder(ctx);
        var t = new ConvertToLlvm(ctx, host, builder, threads: false, target) { _device = device };
        var lowered = t.Function(func);
        return new GpuLowered(lowered, t._kernels.ToArray());
    }

    /// <summary>
    /// The host launcher's body. A top-level parallel loop is a kernel; GEMMs, collectives and loops of GEMMs are
    /// host calls; every maximal run of other top-level ops between them (sequential loops over memory, stores,
    /// the scalars they pass each other, such as cross_entropy's sum and its division) is ONE one-thread kernel,
    /// so scalars flow between them in registers. Top-level scalars outside such runs (constants, index
    /// arithmetic, a scalar loaded from device memory such as rope's position offset) are re-created where they
    /// are used (<see cref="Rematerialize"/>).
    /// </summary>
    private void EmitGpuHost(List<Operation> ops)
    {
        var run = new List<Operation>();
        void Flush()
        {
            if (run.Any(o => o.DialectName != "arith" && o.Name is not ("loop.buffer" or "loop.reinterpret" or "loop.load")))
                SerialKernel(run);
            run.Clear();
        }
        foreach (var op in ops)
        {
            if (op.Name == "loop.parallel" && !NeedsSerialScalar(op))
            {
                Flush();
                Kernel(op, ((ArrayAttr)op.GetAttr("upper")!).AsInts()!);
            }
            else if (op.Name is "loop.gemm" or "loop.host" || op.Name == "loop.for" && !TouchesMemory(op))
            {
                Flush();
                foreach (var v in CapturesOf(new[] { op })) Rematerialize(v, op, inKernel: false);
                Emit(op);
            }
            else run.Add(op);
        }
        Flush();
    }

    /// <summary>
    /// Whether a parallel loop uses a scalar that a top-level sequential loop computes (cross_entropy_grad's count of
    /// counted tokens): it then joins the one-thread kernel that computes it, where the scalar is in a register.
    /// </summary>
    private static bool NeedsSerialScalar(Operation parallel)
    {
        bool Computed(Value v) =>
            v.DefiningOp is { } d && d.Block == parallel.Block
            && (d.Name == "loop.for" || d.DialectName == "arith" && d.Operands.Any(Computed));
        return Captures(parallel).Any(Computed);
    }

    private static bool TouchesMemory(Operation op)
    {
        bool touches = false;
        op.Walk(o => touches |= o.Name is "loop.load" or "loop.store" or "loop.parallel");
        return touches;
    }

    /// <summary>A kernel for a top-level parallel loop, one thread per point, and its launch.</summary>
    private void Kernel(Operation op, long[] upper) =>
        KernelOf(new[] { op }, upper, serial: false, gid =>
        {
            var block = op.Region(0).EntryBlock!;
            var flat = gid;
            for (int d = upper.Length - 1; d >= 0; d--)
            {
                _values[block.Arguments[d]] = d == 0 ? flat : LlvmApi.BuildSRem(_b, flat, I64(upper[d]), "");
                if (d > 0) flat = LlvmApi.BuildSDiv(_b, flat, I64(upper[d]), "");
            }
            foreach (var inner in block.Ops) Emit(inner);
        });

    /// <summary>A one-thread kernel running <paramref name="ops"/> in order, and its launch.</summary>
    private void SerialKernel(List<Operation> ops) =>
        KernelOf(ops.ToArray(), new[] { 1L }, serial: true, _ => { foreach (var op in ops) Emit(op); });

    private void KernelOf(IReadOnlyList<Operation> ops, long[] upper, bool serial, Action<LLVMValueRef> body)
    {
        long total = upper.Aggregate(1L, (x, y) => x * y);
        if (total == 0) return;
        var device = _device!;
        var name = $"{_name}_{(serial ? 's' : 'k')}{_kernels.Count}";
        int id = _kernels.Count;
        _kernels.Add(name);
        var global = LlvmApi.PointerTypeInContext(_c, 1);
        var kernel = LlvmApi.AddFunction(device.Handle, name, LlvmApi.FunctionType(_void, new[] { global }));
        LlvmApi.SetFunctionCallConv(kernel, _target == GpuTarget.Nvptx ? 71u : 91u);

        var savedBlock = LlvmApi.GetInsertBlock(_b);
        var savedValues = new Dictionary<Value, LLVMValueRef>(_values);
        var savedArena = _arena;
        _moduleOverride = device;
        LlvmApi.PositionBuilderAtEnd(_b, LlvmApi.AppendBasicBlockInContext(_c, kernel, "entry"));
        _arena = LlvmApi.BuildAddrSpaceCast(_b, LlvmApi.GetParam(kernel, 0), _ptr, "arena");
        var gid = LlvmApi.BuildAdd(_b,
            LlvmApi.BuildMul(_b, DeviceIndex(block: true), I64(GpuBlockSize), ""), DeviceIndex(block: false), "gid");
        var run = LlvmApi.AppendBasicBlockInContext(_c, kernel, "run");
        var done = LlvmApi.AppendBasicBlockInContext(_c, kernel, "done");
        LlvmApi.BuildCondBr(_b, LlvmApi.BuildICmp(_b, LLVMIntPredicate.IntSLT, gid, I64(total), ""), run, done);
        LlvmApi.PositionBuilderAtEnd(_b, run);
        _values.Clear();
        foreach (var v in serial ? CapturesOf(ops) : Captures(ops[0])) Rematerialize(v, ops[0], inKernel: true);
        body(gid);
        LlvmApi.BuildBr(_b, done);
        LlvmApi.PositionBuilderAtEnd(_b, done);
        LlvmApi.BuildRetVoid(_b);

        _moduleOverride = null;
        _arena = savedArena;
        _values.Clear();
        foreach (var (k, v) in savedValues) _values[k] = v;
        LlvmApi.PositionBuilderAtEnd(_b, savedBlock);
        var (launchTy, launch) = Declare("aspir_gpu_launch", _void, _ptr, _i64, _i64);
        LlvmApi.BuildCall2(_b, launchTy, launch, new[] { _rt, I64(id), I64(total) });
    }

    /// <summary>The values <paramref name="ops"/> use from outside them, in first-use order.</summary>
    private static List<Value> CapturesOf(IReadOnlyList<Operation> ops)
    {
        var inside = new HashSet<Value>();
        foreach (var top in ops)
            top.Walk(o =>
            {
                foreach (var r in o.Results) inside.Add(r);
                foreach (var reg in o.Regions) foreach (var blk in reg.Blocks) foreach (var a in blk.Arguments) inside.Add(a);
            });
        var list = new List<Value>();
        var seen = new HashSet<Value>();
        foreach (var top in ops)
            top.Walk(o => { foreach (var v in o.Operands) if (!inside.Contains(v) && seen.Add(v)) list.Add(v); });
        return list;
    }

    /// <summary>
    /// Re-creates a top-level value where a kernel or a host call uses it: an argument's buffer, a loop.buffer, a
    /// reinterpret, an arith chain, and inside a kernel also a scalar loaded from (device) memory.
    /// </summary>
    private void Rematerialize(Value v, Operation user, bool inKernel)
    {
        if (_values.ContainsKey(v)) return;
        if (v is BlockArgument a && ReferenceEquals(a.Owner, _funcBody))
        {
            _values[v] = ArenaAt(_argOffsets[a.Index]);
            return;
        }
        if (v.DefiningOp is { } def && (def.DialectName == "arith" || def.Name is "loop.buffer" or "loop.reinterpret" || inKernel && def.Name == "loop.load"))
        {
            foreach (var operand in def.Operands) Rematerialize(operand, user, inKernel);
            Emit(def);
            return;
        }
        throw new LoweringException(user.Location, inKernel
            ? $"convert-to-llvm ({_target}): a kernel uses a value computed on the host by '{v.DefiningOp?.Name}'; GPU kernels take only buffers, constants and loads"
            : $"convert-to-llvm ({_target}): '{user.Name}' runs on the host but needs '{v.DefiningOp?.Name}' from device memory");
    }

    /// <summary>The block (workgroup) or thread (workitem) index in x, as i64.</summary>
    private LLVMValueRef DeviceIndex(bool block)
    {
        string name = _target == GpuTarget.Nvptx
            ? block ? "llvm.nvvm.read.ptx.sreg.ctaid.x" : "llvm.nvvm.read.ptx.sreg.tid.x"
            : block ? "llvm.amdgcn.workgroup.id.x" : "llvm.amdgcn.workitem.id.x";
        return LlvmApi.BuildZExt(_b, CallIntrinsic(name, Array.Empty<LLVMTypeRef>(), Array.Empty<LLVMValueRef>()), _i64, "");
    }

    private LLVMValueRef CallIntrinsic(string name, LLVMTypeRef[] overload, LLVMValueRef[] args)
    {
        uint id = LlvmApi.LookupIntrinsicID(name);
        if (id == 0) throw new LoweringException(Location.Unknown, $"LLVM 16 has no intrinsic '{name}'");
        var fn = LlvmApi.GetIntrinsicDeclaration(CurrentModule.Handle, id, overload);
        var ty = LlvmApi.IntrinsicGetType(_c, id, overload);
        return LlvmApi.BuildCall2(_b, ty, fn, args);
    }

    /// <summary>exp log sin cos pow tanh erf on a GPU, from the device's instructions (f32).</summary>
    private LLVMValueRef DeviceMath(Operation op, string kind, ScalarType t, params LLVMValueRef[] x)
    {
        if (t.Kind == ScalarKind.F64)
        {
            // The devices' transcendental instructions are f32: an f64 one is computed in f32 (about 1e-7 relative),
            // the one place where GPU code is less exact than the host's.
            var narrowed = x.Select(v => LlvmApi.BuildFPTrunc(_b, v, _f32, "")).ToArray();
            return LlvmApi.BuildFPExt(_b, DeviceMath(op, kind, F32Of(op), narrowed), _f64, "");
        }
        var f = _f32;
        LLVMValueRef C(double v) => LlvmApi.ConstReal(f, v);
        LLVMValueRef Mul(LLVMValueRef a, LLVMValueRef b) => LlvmApi.BuildFMul(_b, a, b, "");
        LLVMValueRef Exp2(LLVMValueRef a) => _target == GpuTarget.Nvptx
            ? CallIntrinsic("llvm.nvvm.ex2.approx.f", Array.Empty<LLVMTypeRef>(), new[] { a })
            : CallIntrinsic("llvm.exp2", new[] { f }, new[] { a });
        LLVMValueRef Log2(LLVMValueRef a) => _target == GpuTarget.Nvptx
            ? CallIntrinsic("llvm.nvvm.lg2.approx.f", Array.Empty<LLVMTypeRef>(), new[] { a })
            : CallIntrinsic("llvm.log2", new[] { f }, new[] { a });
        LLVMValueRef Exp(LLVMValueRef a) => Exp2(Mul(a, C(1.4426950408889634)));
        switch (kind)
        {
            case "exp": return Exp(x[0]);
            case "log": return Mul(Log2(x[0]), C(0.6931471805599453));
            case "pow": return Exp2(Mul(x[1], Log2(x[0])));
            case "sin" or "cos":
                return _target == GpuTarget.Nvptx
                    ? CallIntrinsic($"llvm.nvvm.{kind}.approx.f", Array.Empty<LLVMTypeRef>(), new[] { x[0] })
                    : CallIntrinsic($"llvm.{kind}", new[] { f }, new[] { x[0] });
            case "tanh":
            {
                // tanh x = 1 - 2 / (e^(2x) + 1)
                var e = Exp(Mul(x[0], C(2)));
                return LlvmApi.BuildFSub(_b, C(1), LlvmApi.BuildFDiv(_b, C(2), LlvmApi.BuildFAdd(_b, e, C(1), ""), ""), "");
            }
            default:
            {
                // erf x = sign(x) (1 - poly(t) e^(-x^2)), t = 1 / (1 + p |x|)
                var ax = CallIntrinsic("llvm.fabs", new[] { f }, new[] { x[0] });
                var tt = LlvmApi.BuildFDiv(_b, C(1), LlvmApi.BuildFAdd(_b, C(1), Mul(C(0.3275911), ax), ""), "");
                var poly = C(1.061405429);
                foreach (var a in new[] { -1.453152027, 1.421413741, -0.284496736, 0.254829592 })
                    poly = LlvmApi.BuildFAdd(_b, Mul(poly, tt), C(a), "");
                poly = Mul(poly, tt);
                var y = LlvmApi.BuildFSub(_b, C(1), Mul(poly, Exp(LlvmApi.BuildFNeg(_b, Mul(ax, ax), ""))), "");
                return CallIntrinsic("llvm.copysign", new[] { f }, new[] { y, x[0] });
            }
        }
    }

    /// <summary>
    /// loop.gemm inside a kernel (a tile product of a tiled attention, say): there is no device-side BLAS, so the
    /// thread computes it with loops, C[i, j] = alpha sum_k op(A)[i, k] op(B)[k, j] + beta C[i, j].
    /// </summary>
    private void DeviceGemm(Operation op)
    {
        var s = Scalar(((TensorType)op.Operand(0).Type).Element);
        long L(string name) => op.GetInt(name)!.Value;
        bool ta = op.GetAttr("trans_a") is BoolAttr { Value: true }, tb = op.GetAttr("trans_b") is BoolAttr { Value: true };
        var (a, b, c) = (V(op.Operand(0)), V(op.Operand(1)), V(op.Operand(2)));
        var (ao, bo, co) = (V(op.Operand(3)), V(op.Operand(4)), V(op.Operand(5)));
        LLVMValueRef At(LLVMValueRef basePtr, LLVMValueRef offset, LLVMValueRef row, LLVMValueRef col, long ld) =>
            LlvmApi.BuildInBoundsGEP2(_b, s, basePtr, new[]
            {
                LlvmApi.BuildAdd(_b, offset, LlvmApi.BuildAdd(_b, LlvmApi.BuildMul(_b, row, I64(ld), ""), col, ""), ""),
            }, "");
        var alpha = LlvmApi.ConstReal(s, op.GetFloat("alpha") ?? 1.0);
        var beta = LlvmApi.ConstReal(s, op.GetFloat("beta") ?? 0.0);
        CountedLoop(I64(0), I64(L("m")), I64(1), Array.Empty<LLVMValueRef>(), Array.Empty<LLVMTypeRef>(), (i, _) =>
        {
            CountedLoop(I64(0), I64(L("n")), I64(1), Array.Empty<LLVMValueRef>(), Array.Empty<LLVMTypeRef>(), (j, _) =>
            {
                var sum = CountedLoop(I64(0), I64(L("k")), I64(1), new[] { LlvmApi.ConstReal(s, 0) }, new[] { s }, (k, acc) =>
                {
                    var x = LlvmApi.BuildLoad2(_b, s, ta ? At(a, ao, k, i, L("lda")) : At(a, ao, i, k, L("lda")), "");
                    var y = LlvmApi.BuildLoad2(_b, s, tb ? At(b, bo, j, k, L("ldb")) : At(b, bo, k, j, L("ldb")), "");
                    return new[] { LlvmApi.BuildFAdd(_b, acc[0], LlvmApi.BuildFMul(_b, x, y, ""), "") };
                }, vectorizeHint: false)[0];
                var cp = At(c, co, i, j, L("ldc"));
                var old = LlvmApi.BuildLoad2(_b, s, cp, "");
                LlvmApi.BuildStore(_b, LlvmApi.BuildFAdd(_b, LlvmApi.BuildFMul(_b, alpha, sum, ""), LlvmApi.BuildFMul(_b, beta, old, ""), ""), cp);
                return Array.Empty<LLVMValueRef>();
            }, vectorizeHint: false);
            return Array.Empty<LLVMValueRef>();
        }, vectorizeHint: false);
    }

    /// <summary>The f32 scalar type of the op's context.</summary>
    private static ScalarType F32Of(Operation op) => op.Context.F32;

    /// <summary>loop.gemm on a GPU: cuBLAS (nvptx) or hipBLAS (amdgcn), column-major with the operands swapped.</summary>
    private void GpuGemm(Operation op)
    {
        if (_moduleOverride is not null)
        {
            DeviceGemm(op);
            return;
        }
        var t = (TensorType)op.Operand(0).Type;
        bool f32 = t.Element.Kind == ScalarKind.F32;
        var s = Scalar(t.Element);
        bool nv = _target == GpuTarget.Nvptx;
        LLVMValueRef Ptr(int i) => LlvmApi.BuildInBoundsGEP2(_b, s, V(op.Operand(i)), new[] { V(op.Operand(i + 3)) }, "");
        LLVMValueRef Int(string name) => I32(checked((int)op.GetInt(name)!.Value));
        LLVMValueRef Trans(string name) => I32(op.GetAttr(name) is BoolAttr { Value: true } ? (nv ? 1 : 112) : (nv ? 0 : 111));
        LLVMValueRef Scalar1(double v)
        {
            var p = LlvmApi.BuildAlloca(_b, s, "");
            LlvmApi.BuildStore(_b, LlvmApi.ConstReal(s, v), p);
            return p;
        }
        var (handleTy, handleFn) = Declare("aspir_blas_handle", _ptr, _ptr);
        var handle = LlvmApi.BuildCall2(_b, handleTy, handleFn, new[] { _rt });
        string fn = nv ? (f32 ? "cublasSgemm_v2" : "cublasDgemm_v2") : (f32 ? "hipblasSgemm" : "hipblasDgemm");
        var (ty, callee) = Declare(fn, _i32, _ptr, _i32, _i32, _i32, _i32, _i32, _ptr, _ptr, _i32, _ptr, _i32, _ptr, _ptr, _i32);
        LlvmApi.BuildCall2(_b, ty, callee, new[]
        {
            handle, Trans("trans_b"), Trans("trans_a"), Int("n"), Int("m"), Int("k"),
            Scalar1(op.GetFloat("alpha") ?? 1.0), Ptr(1), Int("ldb"), Ptr(0), Int("lda"),
            Scalar1(op.GetFloat("beta") ?? 0.0), Ptr(2), Int("ldc"),
        });
    }
}
