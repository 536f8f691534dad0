using AutoSpIR.IR;

namespace AutoSpIR.Dialects;

/// <summary>Registers every dialect AutoSpIR knows into a Context.</summary>
public static class AllDialects
{
    public static Context Register(Context ctx)
    {
        ctx.Register(Builtin.BuiltinDialect.Dialect);
        ctx.Register(Func.FuncDialect.Dialect);
        ctx.Register(Tensor.TensorDialect.Dialect);
        ctx.Register(Dist.DistDialect.Dialect);
        ctx.Register(Mem.MemDialect.Dialect);
        ctx.Register(Arith.ArithDialect.Dialect);
        ctx.Register(Loop.LoopDialect.Dialect);
        return ctx;
    }

    /// <summary>A new Context with every dialect registered.</summary>
    public static Context NewContext() => Register(new Context());
}
