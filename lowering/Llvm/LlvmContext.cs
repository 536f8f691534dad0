namespace AutoSpIR.Lowering.Llvm;

/// <summary>
/// Owns an llvm::LLVMContext: either a plain one (<c>new LlvmContext()</c>) or one inside an
/// ORC ThreadSafeContext (<see cref="CreateThreadSafe"/>), which is the kind whose modules
/// <see cref="LlvmJit.AddModule"/> accepts. Disposing the context first disposes the modules and
/// builders still open in it (LLVM would free the modules anyway), so every handle is freed once.
/// For a thread-safe context, Dispose drops this wrapper's reference: modules already handed to a
/// JIT keep the underlying context alive until the JIT is disposed.
/// </summary>
public sealed class LlvmContext : IDisposable
{
    private readonly LLVMContextRef handle;
    private readonly LLVMOrcThreadSafeContextRef threadSafe;
    private readonly List<IDisposable> children = new();
    private bool disposed;

    /// <summary>A plain context (not usable with <see cref="LlvmJit"/>).</summary>
    public LlvmContext()
    {
        handle = LlvmApi.ContextCreate();
    }

    private LlvmContext(LLVMOrcThreadSafeContextRef tsc)
    {
        threadSafe = tsc;
        handle = LlvmApi.OrcThreadSafeContextGetContext(tsc);
    }

    /// <summary>A context backed by an ORC ThreadSafeContext, for modules that go to <see cref="LlvmJit"/>.</summary>
    public static LlvmContext CreateThreadSafe() => new(LlvmApi.OrcCreateNewThreadSafeContext());

    /// <summary>The raw context (owned by this wrapper, or by its ThreadSafeContext).</summary>
    public LLVMContextRef Handle
    {
        get { ObjectDisposedException.ThrowIf(disposed, this); return handle; }
    }

    /// <summary>True for a context from <see cref="CreateThreadSafe"/>.</summary>
    public bool IsThreadSafe => !threadSafe.IsNull;

    internal LLVMOrcThreadSafeContextRef ThreadSafeHandle
    {
        get { ObjectDisposedException.ThrowIf(disposed, this); return threadSafe; }
    }

    internal void Adopt(IDisposable child)
    {
        lock (children) children.Add(child);
    }

    internal void Forget(IDisposable child)
    {
        lock (children) children.Remove(child);
    }

    /// <summary>Disposes the builders and modules still open in this context, then the context.</summary>
    public void Dispose()
    {
        if (disposed) return;
        IDisposable[] open;
        lock (children) { open = children.ToArray(); children.Clear(); }
        // Builders first (they may point into modules), then modules, then the context.
        foreach (var c in open.OfType<LlvmBuilder>()) c.Dispose();
        foreach (var c in open.OfType<LlvmModule>()) c.Dispose();
        disposed = true;
        if (IsThreadSafe) LlvmApi.OrcDisposeThreadSafeContext(threadSafe);
        else LlvmApi.ContextDispose(handle);
    }
}
