using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using AutoSpIR.Dialects.Func;
using AutoSpIR.Dialects.Mem;
using AutoSpIR.Lowering;
using AutoSpIR.Lowering.Llvm;
using AutoSpIR.Passes;
using AutoSpIR.Runtime.Comm;

namespace AutoSpIR.Runtime.Native;

/// <summary>
/// A function compiled to host code: <c>bufferize, memory-plan</c> (unless already planned),
/// <c>convert-tensor-to-loops</c>, <c>convert-to-llvm</c>, LLVM's <c>default&lt;O3&gt;</c> for the host CPU, then
/// ORC's LLJIT. <see cref="Run"/> executes one rank: it writes the arguments into a fresh arena at their
/// planned offsets, calls the code, and reads the results back from theirs. The code calls OpenBLAS for
/// GEMMs, libgomp for parallel loops (OMP_NUM_THREADS threads; one per core by default) and back into
/// this class (<c>aspir_host</c>) for collectives, which run the interpreter's dist kernels on the rank's
/// <see cref="ICommunicator"/>. One compiled program serves any number of ranks at once (no global state).
/// </summary>
public sealed unsafe class NativeProgram : IDisposable
{
    private readonly LlvmJit _jit;
    private readonly delegate* unmanaged<byte*, nint, void> _entry;
    private readonly LoweredFunction _lowered;
    private readonly TensorType[] _argTypes, _resultTypes;
    private readonly Operation _func;
    private Dictionary<Location, string> _opNames = new();

    private NativeProgram(LlvmJit jit, LoweredFunction lowered, Operation func, string llvmIr)
    {
        _jit = jit;
        _lowered = lowered;
        _func = func;
        LlvmIr = llvmIr;
        var sig = FuncDialect.Signature(func);
        _argTypes = sig.Inputs.Select(t => Plain(func.Context, (TensorType)t)).ToArray();
        _resultTypes = sig.Results.Select(t => Plain(func.Context, (TensorType)t)).ToArray();
        _entry = (delegate* unmanaged<byte*, nint, void>)jit.Lookup(lowered.Symbol);
    }

    /// <summary>The optimized LLVM IR that was compiled.</summary>
    public string LlvmIr { get; }

    /// <summary>Bytes each rank allocates: the plan's <c>mem.arena_size</c>, plus the ops' scratch (<c>loop.memory_size</c>).</summary>
    public long ArenaSize => _lowered.ArenaSize;

    /// <summary>
    /// Compiles <paramref name="func"/> (a <c>func.func</c> of the tensor and dist dialects, in a module that
    /// holds its meshes). The IR given is not changed: the lowering runs on a clone. <paramref name="threads"/>:
    /// run parallel loops on OpenMP threads. Errors in the program are a <see cref="RuntimeErrorException"/>
    /// at the op.
    /// </summary>
    public static NativeProgram Compile(Operation func, bool threads = true, bool profile = false)
    {
        ArgumentNullException.ThrowIfNull(func);
        Operation loops;
        try
        {
            loops = LoweringPipeline.LowerToLoops(func);
        }
        catch (LoweringException e)
        {
            throw new RuntimeErrorException(e.Location, e.Message);
        }
        NativeSymbols.EnsureLoaded();
        var ctx = LlvmContext.CreateThreadSafe();
        LlvmDiagnostics.Quiet(ctx);
        try
        {
            var module = new LlvmModule(ctx, FuncDialect.SymName(loops));
            LoweredFunction lowered;
            try
            {
                lowered = ConvertToLlvm.Translate(loops, ctx, module, threads, profile);
            }
            catch (LoweringException e)
            {
                module.Dispose();
                throw new RuntimeErrorException(e.Location, e.Message);
            }
            using var tm = TargetMachine.Host();
            module.SetTarget(tm);
            if (!module.Verify(out var error))
            {
                module.Dispose();
                throw new InvalidOperationException($"convert-to-llvm produced invalid LLVM IR: {error}");
            }
            module.Optimize(tm);
            var ir = module.Print();
            var jit = new LlvmJit();
            try
            {
                NativeSymbols.Define(jit);
                jit.AddModule(module);
                return new NativeProgram(jit, lowered, loops, ir) { _opNames = OpNamesByLocation(func) };
            }
            catch
            {
                jit.Dispose();
                throw;
            }
        }
        finally
        {
            // The JIT keeps the thread-safe context alive through its modules; our reference is dropped here.
            ctx.Dispose();
        }
    }

    /// <summary>
    /// Runs one rank on <paramref name="args"/> (the function's argument types) with <paramref name="comm"/>
    /// for its collectives (null: a program without any).
    /// </summary>
    /// <param name="profile">For a program compiled with profiling: collects the time spent in each source op.</param>
    public RunResult Run(IReadOnlyList<HostTensor> args, ICommunicator? comm = null, Func<Operation, Mesh>? meshLookup = null,
        NativeProfile? profile = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Count != _argTypes.Length)
            throw new ArgumentException($"@{_lowered.Symbol} takes {_argTypes.Length} arguments, but {args.Count} were given", nameof(args));
        for (int i = 0; i < args.Count; i++)
            if (!Interpreter.SameType(args[i].Type, _argTypes[i]))
                throw new ArgumentException($"argument #{i} of @{_lowered.Symbol} has type {args[i].Type}, but the function expects {_argTypes[i]}", nameof(args));
        if (comm is not null) CheckMeshes(comm.Size);
        var clock = Stopwatch.StartNew();
        long size = Math.Max(_lowered.ArenaSize, 64);
        var arena = (byte*)NativeMemory.AlignedAlloc((nuint)size, 64);
        var state = new RankState(this, comm, meshLookup, arena);
        var handle = GCHandle.Alloc(state);
        try
        {
            for (int i = 0; i < args.Count; i++)
                ArenaMemory.Encode(args[i], new Span<byte>(arena + _lowered.ArgumentOffsets[i], checked((int)_argTypes[i].ByteSize)));
            _entry(arena, GCHandle.ToIntPtr(handle));
            if (state.Error is { } error) ExceptionDispatchInfoThrow(error);
            profile?.Add(_lowered.ProfilePoints, _opNames, state.Stamps);
            var results = new HostTensor[_resultTypes.Length];
            for (int i = 0; i < results.Length; i++)
                results[i] = ArenaMemory.Decode(_resultTypes[i], new ReadOnlySpan<byte>(arena + _lowered.ResultOffsets[i], checked((int)_resultTypes[i].ByteSize)));
            return new RunResult
            {
                Results = results,
                PeakBytes = _lowered.ArenaSize,
                ArenaPeakBytes = _lowered.ArenaSize,
                Elapsed = clock.Elapsed,
                BytesSent = comm?.BytesSent ?? 0,
            };
        }
        finally
        {
            handle.Free();
            NativeMemory.AlignedFree(arena);
        }
    }

    /// <summary>
    /// Runs the program on <paramref name="ranks"/> in-process ranks, one thread each, like
    /// <see cref="Interpreter.RunSpmd"/> (same communicator, same errors).
    /// </summary>
    public RunResult[] RunSpmd(int ranks, Func<int, IReadOnlyList<HostTensor>> argsOf, TimeSpan? timeout = null)
    {
        if (ranks < 1) throw new ArgumentOutOfRangeException(nameof(ranks), ranks, "an SPMD run needs at least one rank");
        CheckMeshes(ranks);
        var world = new ThreadWorld(ranks, timeout);
        var outcomes = world.RunAll(comm => Run(argsOf(comm.Rank), comm));
        if (ThreadWorld.FirstError(outcomes) is { } error) throw error;
        return outcomes.Select(o => o.Value!).ToArray();
    }

    private void CheckMeshes(int ranks)
    {
        foreach (var host in _lowered.HostOps)
            foreach (var op in host.Region(0).EntryBlock!.Ops)
                if (op.GetAttr("mesh") is SymbolRefAttr && Mesh.Resolve(op) is { } mesh && mesh.Size != ranks)
                    throw new RuntimeErrorException(op.Location,
                        $"'{op.Name}' op runs on mesh {mesh} of {mesh.Size} rank{(mesh.Size == 1 ? "" : "s")}, but the program is run on {ranks} rank{(ranks == 1 ? "" : "s")}");
    }

    public void Dispose() => _jit.Dispose();

    private static TensorType Plain(Context ctx, TensorType t) => t.Encoding is null ? t : ctx.Tensor(t.Shape, t.Element);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ExceptionDispatchInfoThrow(Exception e) => System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e).Throw();

    /// <summary>What a running rank's host calls need; <c>%rt</c> in the lowered code is a GCHandle to it.</summary>
    private sealed class RankState(NativeProgram program, ICommunicator? comm, Func<Operation, Mesh>? meshLookup, byte* arena)
    {
        public NativeProgram Program { get; } = program;
        public ICommunicator? Comm { get; } = comm;
        public Func<Operation, Mesh>? MeshLookup { get; } = meshLookup;
        public byte* Arena { get; } = arena;
        /// <summary>The first error of a host call; later host calls are skipped and <see cref="Run"/> throws it.</summary>
        public Exception? Error { get; set; }
        /// <summary>(profile point, Stopwatch timestamp) of each aspir_profile call.</summary>
        public List<(long Point, long Ticks)> Stamps { get; } = new();
    }

    /// <summary>The name of the op at each location of the function (the profile's labels).</summary>
    private static Dictionary<Location, string> OpNamesByLocation(Operation func)
    {
        var names = new Dictionary<Location, string>();
        func.Walk(op => names.TryAdd(op.Location, op.Name));
        return names;
    }

    /// <summary><c>void aspir_profile(ptr rt, i64 point)</c>: timestamps a profile point.</summary>
    [UnmanagedCallersOnly]
    internal static void Profile(nint rt, long point)
    {
        var state = (RankState)GCHandle.FromIntPtr(rt).Target!;
        state.Stamps.Add((point, Stopwatch.GetTimestamp()));
    }

    /// <summary>
    /// <c>void aspir_host(ptr rt, i64 id, ptr buffers)</c>: runs host op #id of the program (a collective) on the
    /// rank's communicator; buffers[0..num_inputs) are its inputs, the rest its outputs.
    /// </summary>
    [UnmanagedCallersOnly]
    internal static void Host(nint rt, long id, byte** buffers)
    {
        var state = (RankState)GCHandle.FromIntPtr(rt).Target!;
        if (state.Error is not null) return;
        try
        {
            var host = state.Program._lowered.HostOps[id];
            int numInputs = (int)host.GetInt("num_inputs")!.Value;
            var block = host.Region(0).EntryBlock!;
            var op = block.First!;
            var inputs = new HostTensor[numInputs];
            for (int i = 0; i < numInputs; i++)
            {
                var t = (TensorType)host.Operand(i).Type;
                inputs[i] = ArenaMemory.Decode(t, new ReadOnlySpan<byte>(buffers[i], checked((int)t.ByteSize)));
            }
            var kernel = KernelTable.Default.Lookup(op.Name) ?? throw new RuntimeErrorException(op.Location, $"no kernel for '{op.Name}'");
            var outputs = kernel(new KernelContext(op, inputs, state.Comm, state.MeshLookup));
            for (int i = 0; i < outputs.Length; i++)
            {
                var t = (TensorType)host.Operand(numInputs + i).Type;
                ArenaMemory.Encode(outputs[i], new Span<byte>(buffers[numInputs + i], checked((int)t.ByteSize)));
            }
        }
        catch (Exception e)
        {
            state.Error = e;
        }
    }
}
