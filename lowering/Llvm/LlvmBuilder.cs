namespace AutoSpIR.Lowering.Llvm;

/// <summary>Owns an llvm::IRBuilder created in a context; disposed by Dispose or, at the latest, with its context.</summary>
public sealed class LlvmBuilder : IDisposable
{
    private readonly LLVMBuilderRef handle;
    private readonly LlvmContext context;
    private bool disposed;

    /// <summary>Creates a builder in <paramref name="ctx"/>.</summary>
    public LlvmBuilder(LlvmContext ctx)
    {
        context = ctx;
        handle = LlvmApi.CreateBuilderInContext(ctx.Handle);
        ctx.Adopt(this);
    }

    /// <summary>The raw builder (owned by this wrapper): pass it to the LlvmApi.Build* functions.</summary>
    public LLVMBuilderRef Handle
    {
        get { ObjectDisposedException.ThrowIf(disposed, this); return handle; }
    }

    /// <summary>Frees the builder (once).</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        context.Forget(this);
        LlvmApi.DisposeBuilder(handle);
    }
}
