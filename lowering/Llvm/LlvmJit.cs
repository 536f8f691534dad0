namespace AutoSpIR.Lowering.Llvm;

/// <summary>
/// Owns an ORC LLJIT for the host. The process's own symbols (libc, libm, loaded BLAS, ...) resolve
/// through a dynamic-library search generator; more can be bound with <see cref="DefineAbsolute"/>.
/// Modules added with <see cref="AddModule"/> become the JIT's; Dispose frees the JIT with all its code,
/// after which addresses from <see cref="Lookup"/> are dangling.
/// </summary>
public sealed class LlvmJit : IDisposable
{
    private readonly LLVMOrcLLJITRef jit;
    private readonly LLVMOrcJITDylibRef main;
    private bool disposed;

    /// <summary>Creates an LLJIT for the host with process symbols visible.</summary>
    public LlvmJit()
    {
        Targets.InitializeAll();
        var builder = LlvmApi.OrcCreateLLJITBuilder();
        // OrcCreateLLJIT takes the builder over, on success and on failure.
        LlvmException.ThrowIfError(LlvmApi.OrcCreateLLJIT(out jit, builder), "creating the LLJIT");
        main = LlvmApi.OrcLLJITGetMainJITDylib(jit);
        var prefix = LlvmApi.OrcLLJITGetGlobalPrefix(jit);
        var err = LlvmApi.OrcCreateDynamicLibrarySearchGeneratorForProcess(out var gen, prefix, 0, 0);
        if (LlvmApi.TakeError(err) is { } msg)
        {
            LlvmApi.ConsumeError(LlvmApi.OrcDisposeLLJIT(jit));
            throw new LlvmException("creating the process symbol generator: " + msg);
        }
        LlvmApi.OrcJITDylibAddGenerator(main, gen); // the JITDylib owns the generator now
        Triple = LlvmApi.BorrowString(LlvmApi.OrcLLJITGetTripleString(jit));
        DataLayout = LlvmApi.BorrowString(LlvmApi.OrcLLJITGetDataLayoutStr(jit));
    }

    /// <summary>The triple the JIT compiles for.</summary>
    public string Triple { get; }

    /// <summary>The data layout the JIT expects of added modules (an empty module layout is filled in).</summary>
    public string DataLayout { get; }

    private LLVMOrcLLJITRef Jit
    {
        get { ObjectDisposedException.ThrowIf(disposed, this); return jit; }
    }

    /// <summary>Defines <paramref name="name"/> (unmangled, as JIT'd IR refers to it) as the absolute address
    /// <paramref name="address"/>, e.g. cblas_sgemm, GOMP_parallel or an [UnmanagedCallersOnly] callback.
    /// The caller keeps whatever lives at the address alive as long as the JIT's code may call it.</summary>
    public unsafe void DefineAbsolute(string name, nint address)
    {
        var pair = new LLVMOrcCSymbolMapPair
        {
            Name = LlvmApi.OrcLLJITMangleAndIntern(Jit, name), // retained for us; OrcAbsoluteSymbols takes it over
            Sym = new LLVMJITEvaluatedSymbol
            {
                Address = (ulong)address,
                Flags = new LLVMJITSymbolFlags
                {
                    GenericFlags = (byte)(LLVMJITSymbolGenericFlags.Exported | LLVMJITSymbolGenericFlags.Callable),
                },
            },
        };
        var mu = LlvmApi.OrcAbsoluteSymbols(&pair, 1);
        var msg = LlvmApi.TakeError(LlvmApi.OrcJITDylibDefine(main, mu));
        if (msg is not null)
        {
            LlvmApi.OrcDisposeMaterializationUnit(mu); // still ours when the definition failed
            throw new LlvmException($"defining '{name}': {msg}");
        }
    }

    /// <summary>Hands <paramref name="m"/> to the JIT. The module must come from a context made by
    /// <see cref="LlvmContext.CreateThreadSafe"/>; afterwards the JIT owns it and <paramref name="m"/> is disposed.
    /// Compilation happens on the first <see cref="Lookup"/> of one of its symbols.</summary>
    public void AddModule(LlvmModule m)
    {
        var j = Jit;
        if (!m.Context.IsThreadSafe)
            throw new ArgumentException("LlvmJit.AddModule needs a module from LlvmContext.CreateThreadSafe()", nameof(m));
        var tsc = m.Context.ThreadSafeHandle;
        var tsm = LlvmApi.OrcCreateNewThreadSafeModule(m.Release(), tsc);
        // OrcLLJITAddLLVMIRModule takes the ThreadSafeModule over whatever it returns.
        LlvmException.ThrowIfError(LlvmApi.OrcLLJITAddLLVMIRModule(j, main, tsm), "adding a module to the JIT");
    }

    /// <summary>The address of <paramref name="name"/> (unmangled), compiling its module if needed;
    /// <see cref="LlvmException"/> when no such symbol exists.</summary>
    public nint Lookup(string name)
    {
        LlvmException.ThrowIfError(LlvmApi.OrcLLJITLookup(Jit, out var addr, name), $"looking up '{name}'");
        return (nint)addr;
    }

    /// <summary>Frees the JIT and all code and modules it holds (once).</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        LlvmException.ThrowIfError(LlvmApi.OrcDisposeLLJIT(jit), "disposing the LLJIT");
    }
}
