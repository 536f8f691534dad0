using System.Reflection;
using System.Runtime.InteropServices;
using AutoSpIR.Lowering.Llvm;
using static AutoSpIR.Lowering.Llvm.LlvmApi;

namespace AutoSpIR.Tests.Lowering.Llvm;

/// <summary>Builds functions with the LLVM-C bindings, JITs them with LlvmJit and calls them.</summary>
public sealed class LlvmJitTests
{
    // The test project is not compiled with /unsafe: JIT'd functions are called through delegates.
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] private delegate double D2(double a, double b);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] private delegate double D1(double a);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] private delegate float F1(float a);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] private delegate float SumFn(nint x, long n);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] private delegate void I1(int a);

    [Fact]
    public void MulAdd_BuiltVerifiedOptimizedJitted_ReturnsABPlusA()
    {
        using var ctx = LlvmContext.CreateThreadSafe();
        var m = new LlvmModule(ctx, "muladd");
        using var b = new LlvmBuilder(ctx);
        var c = ctx.Handle;
        var f64 = DoubleTypeInContext(c);
        var fty = FunctionType(f64, [f64, f64]);
        var f = AddFunction(m.Handle, "f", fty);
        PositionBuilderAtEnd(b.Handle, AppendBasicBlockInContext(c, f, "entry"));
        var a = GetParam(f, 0);
        var prod = BuildFMul(b.Handle, a, GetParam(f, 1), "ab");
        BuildRet(b.Handle, BuildFAdd(b.Handle, prod, a, "r"));

        Assert.True(m.Verify(out var err), err);
        using var tm = TargetMachine.Host();
        m.SetTarget(tm);
        m.Optimize(tm);
        Assert.Contains("fmul double", m.Print());

        using var jit = new LlvmJit();
        jit.AddModule(m);
        Assert.Throws<ObjectDisposedException>(() => m.Handle);
        var fp = Marshal.GetDelegateForFunctionPointer<D2>(jit.Lookup("f"));
        Assert.Equal(3.0 * 4.0 + 3.0, fp(3.0, 4.0));
        Assert.Equal(-1.5 * 2.0 - 1.5, fp(-1.5, 2.0));
    }

    [Fact]
    public void Verify_BrokenFunction_ReportsTheProblem()
    {
        using var ctx = new LlvmContext();
        using var m = new LlvmModule(ctx, "broken");
        var c = ctx.Handle;
        var f = AddFunction(m.Handle, "g", FunctionType(Int32TypeInContext(c), ReadOnlySpan<LLVMTypeRef>.Empty));
        AppendBasicBlockInContext(c, f, "entry"); // a block without a terminator
        Assert.False(m.Verify(out var err));
        Assert.Contains("terminator", err);
    }

    [Fact]
    public void SumLoop_Jitted_SumsAPinnedFloatArray()
    {
        using var ctx = LlvmContext.CreateThreadSafe();
        var m = new LlvmModule(ctx, "sum");
        using var b = new LlvmBuilder(ctx);
        var c = ctx.Handle;
        var (f32, i64, ptr) = (FloatTypeInContext(c), Int64TypeInContext(c), PointerTypeInContext(c, 0));
        var f = AddFunction(m.Handle, "sum", FunctionType(f32, [ptr, i64]));
        var (x, n) = (GetParam(f, 0), GetParam(f, 1));
        var entry = AppendBasicBlockInContext(c, f, "entry");
        var loop = AppendBasicBlockInContext(c, f, "loop");
        var exit = AppendBasicBlockInContext(c, f, "exit");
        var bh = b.Handle;
        PositionBuilderAtEnd(bh, entry);
        var zero64 = ConstInt(i64, 0, 0);
        var zeroF = ConstReal(f32, 0);
        BuildCondBr(bh, BuildICmp(bh, LLVMIntPredicate.IntSGT, n, zero64, "nonempty"), loop, exit);

        PositionBuilderAtEnd(bh, loop);
        var i = BuildPhi(bh, i64, "i");
        var acc = BuildPhi(bh, f32, "acc");
        var xi = BuildLoad2(bh, f32, BuildInBoundsGEP2(bh, f32, x, [i], "p"), "xi");
        var acc2 = BuildFAdd(bh, acc, xi, "acc2");
        var i2 = BuildNSWAdd(bh, i, ConstInt(i64, 1, 0), "i2");
        AddIncoming(i, [zero64, i2], [entry, loop]);
        AddIncoming(acc, [zeroF, acc2], [entry, loop]);
        BuildCondBr(bh, BuildICmp(bh, LLVMIntPredicate.IntSLT, i2, n, "more"), loop, exit);

        PositionBuilderAtEnd(bh, exit);
        var result = BuildPhi(bh, f32, "result");
        AddIncoming(result, [zeroF, acc2], [entry, loop]);
        BuildRet(bh, result);

        Assert.True(m.Verify(out var err), err);
        using var tm = TargetMachine.Host();
        m.SetTarget(tm);
        m.Optimize(tm, "default<O2>");

        using var jit = new LlvmJit();
        jit.AddModule(m);
        var sum = Marshal.GetDelegateForFunctionPointer<SumFn>(jit.Lookup("sum"));
        var data = Enumerable.Range(1, 1000).Select(k => (float)k * 0.5f).ToArray();
        float expected = 0;
        foreach (var v in data) expected += v;
        var pin = GCHandle.Alloc(data, GCHandleType.Pinned);
        try
        {
            var p = pin.AddrOfPinnedObject();
            Assert.Equal(expected, sum(p, data.Length), 1e-1f);
            Assert.Equal(0f, sum(p, 0));
            Assert.Equal(0.5f + 1f + 1.5f, sum(p, 3));
        }
        finally
        {
            pin.Free();
        }
    }

    private static int observed;

    [UnmanagedCallersOnly]
    private static void Record(int v) => observed += v;

    [Fact]
    public void DefineAbsolute_JittedCodeCallsAManagedCallback()
    {
        using var ctx = LlvmContext.CreateThreadSafe();
        var m = new LlvmModule(ctx, "callback");
        using var b = new LlvmBuilder(ctx);
        var c = ctx.Handle;
        var (i32, voidTy) = (Int32TypeInContext(c), VoidTypeInContext(c));
        var cbTy = FunctionType(voidTy, [i32]);
        var cb = AddFunction(m.Handle, "autospir_test_record", cbTy);
        var f = AddFunction(m.Handle, "call_twice", FunctionType(voidTy, [i32]));
        PositionBuilderAtEnd(b.Handle, AppendBasicBlockInContext(c, f, "entry"));
        var tripled = BuildMul(b.Handle, GetParam(f, 0), ConstInt(i32, 3, 0), "t");
        BuildCall2(b.Handle, cbTy, cb, [tripled]);
        BuildCall2(b.Handle, cbTy, cb, [ConstInt(i32, 1, 0)]);
        BuildRetVoid(b.Handle);
        Assert.True(m.Verify(out var err), err);

        using var jit = new LlvmJit();
        // For an [UnmanagedCallersOnly] method this is its native-callable entry point.
        var record = typeof(LlvmJitTests).GetMethod(nameof(Record), BindingFlags.NonPublic | BindingFlags.Static)!;
        jit.DefineAbsolute("autospir_test_record", record.MethodHandle.GetFunctionPointer());
        jit.AddModule(m);
        var callTwice = Marshal.GetDelegateForFunctionPointer<I1>(jit.Lookup("call_twice"));
        observed = 0;
        callTwice(14);
        Assert.Equal(14 * 3 + 1, observed);
    }

    [Fact]
    public void ProcessSymbols_AreVisible_AndMissingSymbolsThrow()
    {
        using var ctx = LlvmContext.CreateThreadSafe();
        var m = new LlvmModule(ctx, "libm");
        using var b = new LlvmBuilder(ctx);
        var c = ctx.Handle;
        var f64 = DoubleTypeInContext(c);
        var fty = FunctionType(f64, [f64]);
        var cos = AddFunction(m.Handle, "cos", fty); // from libm, through the process symbol generator
        var f = AddFunction(m.Handle, "my_cos", fty);
        PositionBuilderAtEnd(b.Handle, AppendBasicBlockInContext(c, f, "entry"));
        BuildRet(b.Handle, BuildCall2(b.Handle, fty, cos, [GetParam(f, 0)], "c"));
        using var jit = new LlvmJit();
        jit.AddModule(m);
        var myCos = Marshal.GetDelegateForFunctionPointer<D1>(jit.Lookup("my_cos"));
        Assert.Equal(Math.Cos(0.25), myCos(0.25), 12);
        var ex = Assert.Throws<LlvmException>(() => jit.Lookup("no_such_function_here"));
        Assert.Contains("no_such_function_here", ex.Message);
    }

    [Fact]
    public void Intrinsics_ExpF32_IsDeclaredAndCallable()
    {
        using var ctx = LlvmContext.CreateThreadSafe();
        var m = new LlvmModule(ctx, "intrinsics");
        using var b = new LlvmBuilder(ctx);
        var c = ctx.Handle;
        var f32 = FloatTypeInContext(c);
        var id = LookupIntrinsicID("llvm.exp");
        Assert.NotEqual(0u, id);
        var exp = GetIntrinsicDeclaration(m.Handle, id, [f32]);
        var expTy = IntrinsicGetType(c, id, [f32]);
        var f = AddFunction(m.Handle, "e", FunctionType(f32, [f32]));
        PositionBuilderAtEnd(b.Handle, AppendBasicBlockInContext(c, f, "entry"));
        BuildRet(b.Handle, BuildCall2(b.Handle, expTy, exp, [GetParam(f, 0)], "r"));
        Assert.Contains("declare float @llvm.exp.f32(float", m.Print());
        using var jit = new LlvmJit();
        jit.AddModule(m);
        var e = Marshal.GetDelegateForFunctionPointer<F1>(jit.Lookup("e"));
        Assert.Equal(MathF.Exp(1.5f), e(1.5f), 1e-5f);
    }

    [Fact]
    public void AddModule_FromAPlainContext_IsRefused()
    {
        using var ctx = new LlvmContext();
        using var m = new LlvmModule(ctx, "plain");
        using var jit = new LlvmJit();
        Assert.Throws<ArgumentException>(() => jit.AddModule(m));
        _ = m.Handle; // still ours
    }

    [Fact]
    public void Optimize_BadPipeline_ThrowsWithLlvmsMessage()
    {
        using var ctx = new LlvmContext();
        using var m = new LlvmModule(ctx, "m");
        using var tm = TargetMachine.Host();
        var ex = Assert.Throws<LlvmException>(() => m.Optimize(tm, "no-such-pass"));
        Assert.Contains("no-such-pass", ex.Message);
    }
}
