using System.Diagnostics;
using AutoSpIR.Dialects.Func;
using AutoSpIR.Runtime.Comm;

namespace AutoSpIR.Runtime;

/// <summary>What <see cref="Interpreter.Run"/> gives back.</summary>
public sealed class RunResult
{
    /// <summary>The operands of func.return, in order.</summary>
    public required HostTensor[] Results { get; init; }

    /// <summary>The largest number of bytes live at once (see <see cref="Interpreter"/>).</summary>
    public required long PeakBytes { get; init; }

    /// <summary>Wall time of the run (argument checks included).</summary>
    public required TimeSpan Elapsed { get; init; }

    /// <summary>Bytes this rank sent in collectives (<see cref="ICommunicator.BytesSent"/>); 0 for a single-rank run.</summary>
    public long BytesSent { get; init; }

    /// <summary>A planned run (<see cref="ArenaMemory"/>): the arena's high-water mark (largest offset + size allocated); 0 otherwise.</summary>
    public long ArenaPeakBytes { get; init; }

    /// <summary>A planned run: the largest sum of live buffer bytes in the arena (in-place writes allocate nothing); 0 otherwise.</summary>
    public long ArenaLiveBytes { get; init; }
}

/// <summary>
/// Executes a <c>func.func</c> on host tensors: its body must be a single block whose ops run
/// in order, ending with <c>func.return</c>. Each op runs the kernel registered for its name
/// (<see cref="KernelTable.Default"/> unless another table is given).
/// <para>
/// Memory accounting, in program order: the arguments are live from the start and never
/// freed; every value an op produces is a new buffer of its type's <see cref="TensorType.ByteSize"/>
/// (bf16 counts 2 bytes), also when the kernel hands back an existing tensor (a reshape is
/// counted as a copy: simple and an upper bound); a value is freed right after the op that
/// uses it last, or right after its op when it has no use, unless it is returned. The peak is
/// the maximum of the live bytes, taken after each op's results are allocated and before its
/// dead operands are freed (an op's inputs and outputs coexist). Scratch memory inside a
/// kernel is not counted.
/// </para>
/// <para>
/// Planned runs: a function through <c>memory-plan</c> (it has <c>mem.arena_size</c>), or any run with
/// <c>planned: true</c>, also runs from ONE arena (<see cref="ArenaMemory"/>): arguments and results are
/// written at their planned offsets and operands read back from there; <see cref="RunResult.ArenaPeakBytes"/>
/// is the arena's high-water mark, which equals <c>mem.arena_size</c>. The accounting above is unchanged.
/// </para>
/// <para>Errors: a bad call (argument count or types) is an <see cref="ArgumentException"/> naming
/// the argument; an op without a kernel, or bad data (an id out of range), is a
/// <see cref="RuntimeErrorException"/> at the op's location. Nothing is caught.</para>
/// </summary>
public static class Interpreter
{
    /// <param name="planned">Run from ONE arena at the planned offsets (<see cref="ArenaMemory"/>); null: when the
    /// function has been through memory-plan (it has <c>mem.arena_size</c>).</param>
    public static RunResult Run(Operation func, IReadOnlyList<HostTensor> args, KernelTable? kernels = null, bool? planned = null) =>
        Execute(func, args, kernels, null, null, planned);

    /// <summary>
    /// Runs <paramref name="func"/> as an SPMD program on <paramref name="ranks"/> ranks, one thread each, that
    /// communicate through a <see cref="ThreadCommunicator"/> world (<paramref name="timeout"/>: how long a rank
    /// waits in a collective, <see cref="ThreadWorld.DefaultTimeout"/> by default). Rank r runs on
    /// <c>argsOf(r)</c> (called on its thread); memory is accounted per rank, a collective's result like any
    /// op's. Every mesh an op names (<c>mesh = @name</c>, a <c>dist.mesh</c> op of the enclosing module)
    /// must have <paramref name="ranks"/> ranks, checked before anything runs.
    /// <para>When a rank fails, the others stop at their next collective, and the first real error
    /// (not the secondary "rank N failed" ones) is thrown with its rank in the message: a
    /// RuntimeErrorException (keeping its location), ArgumentException or CommunicatorException,
    /// anything else wrapped in an InvalidOperationException.</para>
    /// </summary>
    public static RunResult[] RunSpmd(Operation func, int ranks, Func<int, IReadOnlyList<HostTensor>> argsOf,
        TimeSpan? timeout = null, KernelTable? kernels = null, bool? planned = null)
    {
        ArgumentNullException.ThrowIfNull(func);
        ArgumentNullException.ThrowIfNull(argsOf);
        if (ranks < 1) throw new ArgumentOutOfRangeException(nameof(ranks), ranks, "an SPMD run needs at least one rank");
        if (func.Name != "func.func")
            throw new ArgumentException($"the interpreter runs a 'func.func', but was given a '{func.Name}'", nameof(func));
        var meshes = MeshesOf(func, ranks);
        Mesh Lookup(Operation op) =>
            op.GetAttr("mesh") is SymbolRefAttr s && meshes.TryGetValue(s.Name, out var m) ? m : Mesh.Resolve(op);
        var world = new ThreadWorld(ranks, timeout);
        var outcomes = world.RunAll(comm => Execute(func, argsOf(comm.Rank), kernels, comm, Lookup, planned));
        if (ThreadWorld.FirstError(outcomes) is { } error) throw error;
        return outcomes.Select(o => o.Value!).ToArray();
    }

    /// <summary>
    /// Runs ONE rank of the SPMD program <paramref name="func"/> on this thread, with the communicator
    /// <paramref name="comm"/> of any backend (<see cref="MpiCommunicator"/> in an mpirun job, a
    /// <see cref="ThreadCommunicator"/>, ...): rank <c>comm.Rank</c> of <c>comm.Size</c>, on its own arguments
    /// <paramref name="args"/> (<see cref="SpmdIO.ArgumentsOf"/> slices them from global tensors). Every mesh
    /// an op names must have <c>comm.Size</c> ranks, checked before anything runs (a RuntimeErrorException at
    /// the op, as in <see cref="RunSpmd"/>). Errors are not caught: the caller reports them and, for a
    /// multi-process backend, tells the other ranks (<see cref="MpiWorld.Abort"/>).
    /// </summary>
    public static RunResult RunRank(Operation func, IReadOnlyList<HostTensor> args, ICommunicator comm, KernelTable? kernels = null, bool? planned = null)
    {
        ArgumentNullException.ThrowIfNull(func);
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(comm);
        if (func.Name != "func.func")
            throw new ArgumentException($"the interpreter runs a 'func.func', but was given a '{func.Name}'", nameof(func));
        var meshes = MeshesOf(func, comm.Size);
        Mesh Lookup(Operation op) =>
            op.GetAttr("mesh") is SymbolRefAttr s && meshes.TryGetValue(s.Name, out var m) ? m : Mesh.Resolve(op);
        return Execute(func, args, kernels, comm, Lookup, planned);
    }

    /// <summary>The meshes the ops of <paramref name="func"/> name, each checked to have <paramref name="ranks"/> ranks.</summary>
    private static Dictionary<string, Mesh> MeshesOf(Operation func, int ranks)
    {
        var meshes = new Dictionary<string, Mesh>();
        func.Walk(op =>
        {
            if (op.GetAttr("mesh") is not SymbolRefAttr sym || meshes.ContainsKey(sym.Name)) return;
            var mesh = Mesh.Resolve(op);
            if (mesh.Size != ranks)
                throw new RuntimeErrorException(op.Location,
                    $"'{op.Name}' op runs on mesh {mesh} of {mesh.Size} rank{(mesh.Size == 1 ? "" : "s")}, but the program is run on {ranks} rank{(ranks == 1 ? "" : "s")}");
            meshes[sym.Name] = mesh;
        });
        return meshes;
    }

    private static RunResult Execute(Operation func, IReadOnlyList<HostTensor> args, KernelTable? kernels,
        ICommunicator? comm, Func<Operation, Mesh>? meshLookup, bool? planned)
    {
        ArgumentNullException.ThrowIfNull(func);
        ArgumentNullException.ThrowIfNull(args);
        var clock = Stopwatch.StartNew();
        kernels ??= KernelTable.Default;
        if (func.Name != "func.func")
            throw new ArgumentException($"the interpreter runs a 'func.func', but was given a '{func.Name}'", nameof(func));
        string fname = "@" + (func.GetString("sym_name") ?? "?");
        var body = func.Region(0);
        if (body.IsEmpty) throw new ArgumentException($"function {fname} is a declaration without a body", nameof(func));
        if (body.Blocks.Count != 1)
            throw new ArgumentException($"function {fname} has {body.Blocks.Count} blocks; the interpreter runs single-block functions", nameof(func));
        var block = body.Blocks[0];
        var signature = FuncDialect.Signature(func);

        // ---------------------------------------------------------------- arguments
        if (args.Count != signature.Inputs.Count)
            throw new ArgumentException($"function {fname} takes {signature.Inputs.Count} argument{(signature.Inputs.Count == 1 ? "" : "s")}, but {args.Count} {(args.Count == 1 ? "was" : "were")} given", nameof(args));
        var env = new Dictionary<Value, HostTensor>();
        var mem = new Allocator();
        var arena = planned ?? Dialects.Mem.MemDialect.IsPlanned(func) ? new ArenaMemory(func) : null;
        for (int i = 0; i < args.Count; i++)
        {
            var expected = signature.Inputs[i];
            var arg = args[i] ?? throw new ArgumentException($"{ArgName(func, i)} of {fname} is null", nameof(args));
            if (expected is not TensorType tt || !tt.IsStatic)
                throw new ArgumentException($"{ArgName(func, i)} of {fname} has type {expected}; the interpreter runs functions of statically shaped tensors", nameof(args));
            if (!SameType(arg.Type, tt))
                throw new ArgumentException($"{ArgName(func, i)} of {fname} has type {arg.Type}, but the function expects {tt}", nameof(args));
            env[block.Arguments[i]] = arg;
            mem.Allocate(tt.ByteSize);
            arena?.PlaceArgument(func, i, block.Arguments[i], arg);
        }

        // ---------------------------------------------------------------- liveness
        var ops = block.Ops.ToList();
        var ret = ops.Count > 0 ? ops[^1] : null;
        if (ret is null || ret.Name != "func.return")
            throw new ArgumentException($"function {fname} does not end with 'func.return'", nameof(func));
        var lastUse = new Dictionary<Value, int>();
        for (int i = 0; i < ops.Count; i++)
            foreach (var v in ops[i].Operands) lastUse[v] = i;
        var returned = new HashSet<Value>(ret.Operands);
        var args0 = new HashSet<Value>(block.Arguments);

        // ---------------------------------------------------------------- execution
        for (int i = 0; i < ops.Count - 1; i++)
        {
            var op = ops[i];
            var kernel = kernels.Lookup(op.Name) ?? throw new RuntimeErrorException(op.Location, $"no kernel for '{op.Name}'");
            var inputs = new HostTensor[op.NumOperands];
            for (int j = 0; j < inputs.Length; j++)
                inputs[j] = env.TryGetValue(op.Operand(j), out var t)
                    ? t
                    : throw new InvalidOperationException($"'{op.Name}' at {op.Location} uses a value that is not defined in the function body");
            if (arena is not null)
                for (int j = 0; j < inputs.Length; j++) inputs[j] = arena.Load(op.Operand(j));
            var outputs = kernel(new KernelContext(op, inputs, comm, meshLookup));
            if (outputs is null || outputs.Length != op.NumResults)
                throw new InvalidOperationException($"the kernel of '{op.Name}' returned {outputs?.Length ?? 0} tensors for {op.NumResults} results");
            for (int j = 0; j < outputs.Length; j++)
            {
                var want = op.Result(j).Type;
                if (outputs[j] is null || want is not TensorType wt || !SameType(outputs[j].Type, wt))
                    throw new InvalidOperationException($"the kernel of '{op.Name}' returned {outputs[j]?.Type.ToString() ?? "null"} for result #{j} of type {want}");
                env[op.Result(j)] = outputs[j];
                mem.Allocate(wt.ByteSize);
            }
            arena?.StoreResults(op, outputs);
            // Free what this op used last (each value once), then its results nobody uses.
            var freed = new HashSet<Value>();
            foreach (var v in op.Operands)
                if (lastUse[v] == i && !args0.Contains(v) && !returned.Contains(v) && freed.Add(v))
                {
                    mem.Free(((TensorType)v.Type).ByteSize);
                    env.Remove(v);
                }
            foreach (var r in op.Results)
                if (!r.HasUses)
                {
                    mem.Free(((TensorType)r.Type).ByteSize);
                    env.Remove(r);
                }
            arena?.FreeAfter(op);
        }

        var results = new HostTensor[ret.NumOperands];
        for (int j = 0; j < results.Length; j++) results[j] = arena?.Load(ret.Operand(j)) ?? env[ret.Operand(j)];
        return new RunResult
        {
            Results = results, PeakBytes = mem.PeakBytes, Elapsed = clock.Elapsed, BytesSent = comm?.BytesSent ?? 0,
            ArenaPeakBytes = arena?.HighWater ?? 0, ArenaLiveBytes = arena?.PeakLiveBytes ?? 0,
        };
    }

    /// <summary>The <c>func.func</c> named <paramref name="name"/> (without '@') in a module, or an ArgumentException.</summary>
    public static Operation FindFunc(Operation module, string name)
    {
        foreach (var r in module.Regions)
            foreach (var op in r.Ops)
                if (op.Name == "func.func" && op.GetString("sym_name") == name) return op;
        throw new ArgumentException($"no function '@{name}' in the module", nameof(name));
    }

    /// <summary>Runs function <paramref name="name"/> of a module.</summary>
    public static RunResult Run(Operation module, string name, IReadOnlyList<HostTensor> args, KernelTable? kernels = null) =>
        Run(FindFunc(module, name), args, kernels);

    /// <summary>Same shape and element type (an encoding, such as a sharding, does not change the data).</summary>
    public static bool SameType(TensorType a, TensorType b) =>
        ReferenceEquals(a, b) || (a.Element.Kind == b.Element.Kind && a.Shape.SequenceEqual(b.Shape));

    /// <summary><c>argument #1 (%w, 'model.embed_tokens.weight')</c>: the index, the name in the text, the parameter name.</summary>
    private static string ArgName(Operation func, int i)
    {
        var parts = new List<string>();
        var block = func.Region(0).Blocks[0];
        if (i < block.Arguments.Count && block.Arguments[i].NameHint is { } hint) parts.Add("%" + hint);
        var attrs = FuncDialect.ArgAttrs(func, i);
        foreach (var key in new[] { "aspir.param", "aspir.name" })
            if (attrs.Get(key) is StringAttr s) parts.Add($"'{s.Value}'");
        return parts.Count == 0 ? $"argument #{i}" : $"argument #{i} ({string.Join(", ", parts)})";
    }
}
