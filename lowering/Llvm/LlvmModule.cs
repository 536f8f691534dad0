namespace AutoSpIR.Lowering.Llvm;

/// <summary>
/// Owns an llvm::Module created in an <see cref="LlvmContext"/>. The module is freed by Dispose, by
/// its context's Dispose, or handed over to a JIT by <see cref="LlvmJit.AddModule"/> (after which this
/// wrapper counts as disposed and must not be used).
/// </summary>
public sealed class LlvmModule : IDisposable
{
    private LLVMModuleRef handle;
    private bool disposed;

    /// <summary>Creates an empty module named <paramref name="name"/> in <paramref name="ctx"/>.</summary>
    public LlvmModule(LlvmContext ctx, string name)
    {
        Context = ctx;
        handle = LlvmApi.ModuleCreateWithNameInContext(name, ctx.Handle);
        ctx.Adopt(this);
    }

    /// <summary>The context the module lives in.</summary>
    public LlvmContext Context { get; }

    /// <summary>The raw module (owned by this wrapper until disposed or handed to a JIT).</summary>
    public LLVMModuleRef Handle
    {
        get { ObjectDisposedException.ThrowIf(disposed, this); return handle; }
    }

    /// <summary>The module as LLVM IR text.</summary>
    public string Print() => LlvmApi.TakeMessage(LlvmApi.PrintModuleToString(Handle));

    /// <summary>Runs the IR verifier; false with the verifier's report in <paramref name="error"/> when broken.</summary>
    public bool Verify(out string error)
    {
        var broken = LlvmApi.VerifyModule(Handle, LLVMVerifierFailureAction.ReturnStatusAction, out var msg);
        error = LlvmApi.TakeMessage(msg);
        return broken == 0;
    }

    /// <summary>Sets the module's target triple and data layout to <paramref name="tm"/>'s.</summary>
    public void SetTarget(TargetMachine tm)
    {
        LlvmApi.SetTarget(Handle, tm.Triple);
        LlvmApi.SetDataLayout(Handle, tm.DataLayout);
    }

    /// <summary>Runs a new-pass-manager pipeline (LLVMRunPasses) for <paramref name="tm"/>; throws
    /// <see cref="LlvmException"/> with LLVM's message when the pipeline does not parse or fails.</summary>
    public void Optimize(TargetMachine tm, string passes = "default<O3>")
    {
        var options = LlvmApi.CreatePassBuilderOptions();
        try
        {
            LlvmException.ThrowIfError(LlvmApi.RunPasses(Handle, passes, tm.Handle, options), $"running passes '{passes}'");
        }
        finally
        {
            LlvmApi.DisposePassBuilderOptions(options);
        }
    }

    /// <summary>Gives up ownership (for the JIT): returns the handle and marks the wrapper disposed.</summary>
    internal LLVMModuleRef Release()
    {
        var h = Handle;
        disposed = true;
        handle = default;
        Context.Forget(this);
        return h;
    }

    /// <summary>Frees the module (once); a no-op after it was handed to a JIT.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        Context.Forget(this);
        LlvmApi.DisposeModule(handle);
        handle = default;
    }
}
