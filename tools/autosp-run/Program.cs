using System.Globalization;
using AutoSpIR.Dialects;
using AutoSpIR.Dialects.Func;
using AutoSpIR.Grammar;
using AutoSpIR.Runtime;
using AutoSpIR.Runtime.Comm;
using AutoSpIR.Runtime.Native;
using AutoSpIR.Tools;

// autosp-run: run a function of an .aspir program on the reference interpreter, with
// parameters and inputs from safetensors files, and write its results to one.
return ToolIO.Guard("autosp-run", () => RunTool.Run(args));

internal static class RunTool
{
    private const string Tool = "autosp-run";

    public static int Run(string[] args)
    {
        var cl = new CommandLine(Tool,
            "autosp-run FILE.aspir --params W.safetensors --inputs X.safetensors --out OUT.safetensors [--entry @func] [--report] [--ranks P] [--backend threads|mpi|native|nccl|rccl] [--executor interp|native] [--timeout S]\n"
            + "       mpirun -q -np P --allow-run-as-root --oversubscribe bin/autosp-run FILE.aspir --backend mpi ...   (one process per rank; see runtime/comm/README.md)");
        cl.Value("params", "parameters, by the Hugging Face names in the arguments' aspir.param");
        cl.Value("inputs", "inputs, by the names in the arguments' aspir.name (input_ids, labels: int64 as Hugging Face stores them)");
        cl.Value("out", "where to write the results: 'loss' and, for a joint program, 'grad.<param name>'; after the optimizer pass '<param name>', '<param name>.exp_avg', '<param name>.exp_avg_sq' (and '<param name>.master' with master-dtype)");
        cl.Value("entry", "the function to run (default: the module's only function, else @train_step)");
        cl.Flag("report", "print the run time and the peak bytes live (measured by the interpreter's allocator; for a memory-planned program also the arena high-water mark)");
        cl.Value("ranks", "run a per-rank (SPMD) program on P ranks, one thread each; arguments and results with a dist.sharding attribute are sliced from and assembled into global tensors: "
                          + "a size the shard count does not divide is cut into pieces of ceil(n/K), the padding filled with the argument's aspir.pad_value (default 0) and dropped from results; "
                          + "the global shape is aspir.global_shape = [..] when given, else the local shape times the shard counts. With --backend mpi the number of processes is the number of ranks (--ranks, if given, must equal it)", defaultValue: "1");
        cl.Value("backend", "how ranks communicate: 'threads' (one process, --ranks threads, in-process collectives), "
                            + "'mpi' (one process per rank under Open MPI's mpirun: every process reads the same files, runs its rank, rank 0 gathers the results and alone writes --out, --report, --compare), "
                            + "'native' (the threads backend with the native executor: the program JIT-compiled for this CPU), 'nccl' / 'rccl' (need the library and a GPU; the GPU data path is not implemented)", defaultValue: "threads");
        cl.Value("executor", "what runs each rank's program: 'interp' (the reference interpreter) or 'native' (bufferize, memory-plan, convert-tensor-to-loops, convert-to-llvm, LLVM -O3 for this CPU, ORC JIT; "
                             + "OpenBLAS GEMMs, OpenMP threads: OMP_NUM_THREADS, default one per core); default: native for --backend native and mpi, interp for threads");
        cl.Value("repeat", "native executor: run the step N times (after compiling once) and report the time of each and the best; the results are the last run's", defaultValue: "1");
        cl.Flag("profile", "native executor: time every source op (summed over ranks and runs) and print the costliest, by op and by location");
        cl.Value("timeout", "seconds a rank waits in a collective for the others before the run fails (default 60)");
        cl.Flag("init-opt-state", "optimizer state arguments (aspir.opt_state: '<param>.exp_avg', '<param>.exp_avg_sq') missing from --params start at zero, a master copy ('<param>.master') at the parameter converted to its type (the first step)");
        cl.Value("compare", "compare the results with the tensors of the same names in this file (e.g. PyTorch's), and fail above --rtol");
        cl.Value("rtol", "the largest max|ours - reference| / max|reference| --compare accepts", defaultValue: "1e-6");
        if (!cl.ParseOrExit(args, out var exitCode)) return exitCode;
        if (cl.Positional.Count != 1)
        {
            Console.Error.WriteLine($"{Tool}: error: expected one program file, got {cl.Positional.Count} (see {Tool} --help)");
            return 1;
        }

        // ---------------------------------------------------------------- backend and executor
        var backend = cl.Get("backend")!;
        var executorName = cl.Has("executor") ? cl.Get("executor")! : backend is "native" or "mpi" ? "native" : "interp";
        if (backend is not ("threads" or "native" or "mpi" or "nccl" or "rccl"))
        {
            Console.Error.WriteLine($"{Tool}: error: --backend is threads, native, mpi, nccl or rccl, not '{backend}'");
            return 1;
        }
        TimeSpan? timeout = null;
        if (cl.Get("timeout") is { } ts)
        {
            if (!double.TryParse(ts, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) || !(seconds > 0) || seconds > 1e6)
            {
                Console.Error.WriteLine($"{Tool}: error: --timeout takes a positive number of seconds, not '{ts}'");
                return 1;
            }
            timeout = TimeSpan.FromSeconds(seconds);
        }
        IRankExecutor executor;
        try
        {
            executor = RankExecutors.Create(executorName, cl.GetFlag("profile"));
            if (backend == "native" && executor is not NativeExecutor)
                throw new ArgumentException("--backend native runs the native executor; for the interpreter use --backend threads");
            if (backend is "nccl" or "rccl") _ = new NcclCommunicator(backend == "nccl" ? GpuCollectives.Nccl : GpuCollectives.Rccl, 0, 1);
        }
        catch (Exception e) when (e is BackendUnavailableException or NotSupportedException or ArgumentException)
        {
            Console.Error.WriteLine($"{Tool}: error: {e.Message}");
            return 1;
        }
        if (backend == "mpi")
        {
            if (!MpiWorld.IsUnderMpirun)
            {
                Console.Error.WriteLine($"{Tool}: error: --backend mpi runs under mpirun: mpirun -np 4 --allow-run-as-root --oversubscribe bin/autosp-run {cl.Positional[0]} --backend mpi ... " +
                                        "(each process is one rank; this process was not started by mpirun)");
                return 1;
            }
            if (cl.Has("repeat") || cl.GetFlag("profile"))
            {
                Console.Error.WriteLine($"{Tool}: error: --repeat and --profile time the native executor in one process (--backend native), not under mpirun");
                return 1;
            }
            return MpiRun.Run(cl, executor, timeout);
        }

        var module = ToolIO.ReadProgram(Tool, cl.Positional[0]);
        if (module is null) return 1;

        var func = ToolIO.FindEntry(module, cl.Get("entry"), out var entryError);
        if (func is null)
        {
            Console.Error.WriteLine($"{Tool}: error: {entryError}");
            return 1;
        }

        try
        {
            var arguments = LoadArguments(cl, func);
            if (!int.TryParse(cl.Get("ranks"), NumberStyles.None, CultureInfo.InvariantCulture, out var ranks) || ranks < 1)
                throw new ArgumentException($"--ranks takes a positive number, not '{cl.Get("ranks")}'");
            if (!int.TryParse(cl.Get("repeat"), NumberStyles.None, CultureInfo.InvariantCulture, out var repeat) || repeat < 1)
                throw new ArgumentException($"--repeat takes a positive number, not '{cl.Get("repeat")}'");
            if (repeat > 1 && executor is not NativeExecutor) throw new ArgumentException("--repeat times the native executor (--backend native)");
            if (cl.GetFlag("profile") && executor is not NativeExecutor) throw new ArgumentException("--profile profiles the native executor (--backend native)");
            RunResult result = null!;
            HostTensor[] results = null!;
            var times = new List<TimeSpan>();
            for (int run = 0; run < repeat; run++)
            {
                if (ranks == 1 && executor is InterpreterExecutor)
                {
                    result = Interpreter.Run(func, arguments);
                    results = result.Results;
                }
                else
                {
                    var perRank = executor is InterpreterExecutor
                        ? Interpreter.RunSpmd(func, ranks, r => SpmdIO.ArgumentsOf(func, arguments, r), timeout)
                        : RunOnThreads(func, ranks, arguments, executor, timeout);
                    results = SpmdIO.Assemble(func, perRank);
                    result = Combined(results, perRank);
                }
                times.Add(result.Elapsed);
            }
            if (executor is NativeExecutor native && cl.GetFlag("report")) native.Report(Console.Out, times);
            return Finish(cl, func, result, results);
        }
        catch (Exception e) when (ErrorLine(e, "") is { } line)
        {
            Console.Error.WriteLine(line);
        }
        return 1;
    }

    /// <summary>The threads backend with another executor than the interpreter: one ThreadWorld, the executor on every rank.</summary>
    private static RunResult[] RunOnThreads(Operation func, int ranks, IReadOnlyList<HostTensor> arguments, IRankExecutor executor, TimeSpan? timeout)
    {
        var world = new ThreadWorld(ranks, timeout);
        var outcomes = world.RunAll(comm => executor.Run(func, SpmdIO.ArgumentsOf(func, arguments, comm.Rank), comm));
        if (ThreadWorld.FirstError(outcomes) is { } error) throw error;
        return outcomes.Select(o => o.Value!).ToArray();
    }

    /// <summary>The run as --report shows it: the largest per-rank figures.</summary>
    internal static RunResult Combined(HostTensor[] results, RunResult[] perRank) => new()
    {
        Results = results,
        PeakBytes = perRank.Max(r => r.PeakBytes),
        Elapsed = perRank.Max(r => r.Elapsed),
        BytesSent = perRank.Max(r => r.BytesSent),
        ArenaPeakBytes = perRank.Max(r => r.ArenaPeakBytes),
    };

    /// <summary>The global arguments, from --params and --inputs.</summary>
    internal static List<HostTensor> LoadArguments(CommandLine cl, Operation func)
    {
        var paramFile = cl.Get("params") is { } pp ? SafetensorsFile.Read(pp) : null;
        var inputFile = cl.Get("inputs") is { } ip ? SafetensorsFile.Read(ip) : null;
        return LoadArguments(func, paramFile, inputFile, cl.GetFlag("init-opt-state"));
    }

    /// <summary>Writes --out, prints --report, does --compare: the exit code.</summary>
    internal static int Finish(CommandLine cl, Operation func, RunResult result, HostTensor[] results)
    {
        var outputs = NameResults(func, results);
        if (cl.Get("out") is { } outPath) SafetensorsFile.Write(outPath, outputs);
        else if (!cl.GetFlag("report") && cl.Get("compare") is null)
            Console.Error.WriteLine($"{Tool}: warning: no --out given; the results are not written");
        if (cl.GetFlag("report")) Report(func, result, outputs);
        if (cl.Get("compare") is { } reference)
        {
            if (!double.TryParse(cl.Get("rtol"), NumberStyles.Float, CultureInfo.InvariantCulture, out var rtol) || rtol < 0)
                throw new ArgumentException($"--rtol takes a non-negative number, not '{cl.Get("rtol")}'");
            return Compare(outputs, SafetensorsFile.Read(reference), rtol) ? 0 : 1;
        }
        return 0;
    }

    /// <summary>
    /// The one-line report of an error the tool expects (bad data, a failing rank, a collective that failed),
    /// with <paramref name="rank"/> ("rank 2: ") after "error: " unless the message names its rank already;
    /// null for anything else (a bug).
    /// </summary>
    internal static string? ErrorLine(Exception e, string rank)
    {
        string R(string message) => message.StartsWith(rank, StringComparison.Ordinal) ? message : rank + message;
        return e switch
        {
            SafetensorsException => $"{Tool}: error: {R(e.Message)}",
            RuntimeErrorException r => $"{r.Location}: error: {R(r.Message)}",
            CommunicatorException c => c.Location is { } loc ? $"{loc}: error: {R(c.Message)}" : $"{Tool}: error: {R(c.Message)}",
            ArgumentException or IOException or InjectedFailureException => $"{Tool}: error: {R(e.Message)}",
            _ => null,
        };
    }


    /// <summary>Each argument comes from the parameter file (aspir.param) or the input file (aspir.name).</summary>
    private static List<HostTensor> LoadArguments(Operation func, SafetensorsFile? paramFile, SafetensorsFile? inputFile, bool initOptState = false)
    {
        var sig = FuncDialect.Signature(func);
        var args = new List<HostTensor>();
        for (int i = 0; i < sig.Inputs.Count; i++)
        {
            var attrs = FuncDialect.ArgAttrs(func, i);
            if (sig.Inputs[i] is not TensorType type || !type.IsStatic)
                throw new ArgumentException($"argument #{i} has type {sig.Inputs[i]}; only tensors of static shape can be loaded");
            var what = SpmdIO.ArgumentName(func, i);
            type = SpmdIO.FileType(func, type, attrs, what);
            if (SpmdIO.ShardingOf(attrs) is not null) SpmdIO.PadValue(attrs, type.Element, what);   // a bad one fails before anything runs
            if (attrs.Get("aspir.opt_state") is StringAttr which && attrs.Get("aspir.name") is StringAttr state)
                // Optimizer state (the optimizer pass): from the parameter file by its name, or (the first step) with
                // --init-opt-state: m and v zeros, a master copy (master-dtype) the parameter converted to the master's type.
                args.Add(paramFile is not null && paramFile.TryGetValue(state.Value, out _) || !initOptState
                    ? Load(paramFile, "--params", state.Value, type, what, attrs)
                    : which.Value == "master" ? MasterFromParameter(func, paramFile, type, attrs, what)
                    : new HostTensor(type));
            else if (attrs.Get("aspir.param") is StringAttr param)
                args.Add(Load(paramFile, "--params", param.Value, type, what, attrs));
            else if (attrs.Get("aspir.name") is StringAttr name)
                args.Add(Load(inputFile, "--inputs", name.Value, type, what, attrs));
            else
                throw new ArgumentException($"argument #{i} of @{FuncDialect.SymName(func)} has neither aspir.param nor aspir.name, so nothing says where its value comes from");
        }
        return args;
    }

    /// <summary>A missing master copy: the parameter it copies (the argument with its aspir.param and no aspir.opt_state), converted (bf16 to f32 is exact).</summary>
    private static HostTensor MasterFromParameter(Operation func, SafetensorsFile? paramFile, TensorType type, DictionaryAttr attrs, string what)
    {
        string name = (attrs.Get("aspir.param") as StringAttr)?.Value
                      ?? throw new ArgumentException($"{what}: a master copy without aspir.param (which parameter it copies)");
        var sig = FuncDialect.Signature(func);
        for (int j = 0; j < sig.Inputs.Count; j++)
        {
            var pa = FuncDialect.ArgAttrs(func, j);
            if (pa.Get("aspir.opt_state") is not null || pa.Get("aspir.param") is not StringAttr p || p.Value != name || sig.Inputs[j] is not TensorType pt) continue;
            var fileType = SpmdIO.FileType(func, pt, pa, SpmdIO.ArgumentName(func, j));
            if (!fileType.Shape.SequenceEqual(type.Shape))
                throw new ArgumentException($"{what}: the parameter '{name}' has the shape {SpmdIO.ShapeText(fileType.Shape)} in the file, its master {SpmdIO.ShapeText(type.Shape)}");
            return HostTensor.FromDoubles(type, Load(paramFile, "--params", name, fileType, SpmdIO.ArgumentName(func, j), pa).ToDoubles());
        }
        throw new ArgumentException($"{what}: no argument is the parameter '{name}' its master copy is initialised from (--init-opt-state)");
    }

    private static HostTensor Load(SafetensorsFile? file, string flag, string name, TensorType type, string what, DictionaryAttr attrs)
    {
        if (file is null) throw new ArgumentException($"{what} needs {flag} FILE.safetensors");
        bool global = SpmdIO.ShardingOf(attrs) is not null || attrs.Get(SpmdIO.GlobalShapeAttr) is not null || attrs.Get(SpmdIO.FlatShapeAttr) is not null;
        if (global && file.TryGetValue(name, out var given) && !given.Shape.AsSpan().SequenceEqual(type.Shape))
            throw new ArgumentException($"{what}: {flag} {file.Path} holds '{name}' of shape {SpmdIO.ShapeText(given.Shape)}, " +
                                        $"but its global shape is {SpmdIO.ShapeText(type.Shape)} ({SpmdIO.GlobalShapeSource(attrs)})");
        if (type.Element.IsInteger && file.TryGetValue(name, out var stored) && stored.Dtype != SafetensorsFile.DtypeOf(type.Element)
            && stored.Dtype is "I64" or "I32" or "I8")
        {
            // Token ids and labels: Hugging Face stores int64; the program may take another integer type.
            var asStored = SafetensorsFile.ToHostTensor(stored, type.Element.Kind == ScalarKind.I64 ? type : WithElement(type, stored.Dtype), name, file.Path);
            var converted = new HostTensor(type);
            long limit = type.Element.BitWidth >= 64 ? long.MaxValue : (1L << (type.Element.BitWidth - 1)) - 1;
            for (long k = 0; k < converted.Count; k++)
            {
                long v = asStored.Ints![k];
                if (v > limit || v < -limit - 1)
                    throw new SafetensorsException(file.Path, $"tensor '{name}' holds {v}, which does not fit the program's {type.Element}");
                converted.Ints![k] = v;
            }
            return converted;
        }
        return file.Load(name, type);
    }

    private static TensorType WithElement(TensorType t, string dtype)
    {
        var ctx = new Context();
        var element = dtype switch { "I64" => ctx.I64, "I32" => ctx.I32, _ => ctx.I8 };
        return ctx.Tensor(t.Shape, element);
    }

    /// <summary>
    /// Results are named by res_attrs: aspir.name ("loss"), aspir.grad (written as "grad.NAME"), aspir.updated
    /// (an updated parameter, written as "NAME") or aspir.opt_state ("NAME.exp_avg", "NAME.exp_avg_sq", "NAME.master").
    /// </summary>
    private static List<(string Name, HostTensor T)> NameResults(Operation func, HostTensor[] results)
    {
        var resAttrs = func.GetAttr("res_attrs") as ArrayAttr;
        var named = new List<(string, HostTensor)>();
        for (int i = 0; i < results.Length; i++)
        {
            var d = resAttrs is not null && i < resAttrs.Count ? resAttrs[i] as DictionaryAttr : null;
            string name = d?.Get("aspir.grad") is StringAttr g ? "grad." + g.Value
                : d?.Get("aspir.updated") is StringAttr u ? u.Value
                : d?.Get("aspir.opt_state") is StringAttr st && d.Get("aspir.param") is StringAttr sp ? sp.Value + st.Value switch { "m" => ".exp_avg", "master" => ".master", _ => ".exp_avg_sq" }
                : d?.Get("aspir.name") is StringAttr n ? n.Value
                : results.Length == 1 && results[i].Type.Rank == 0 ? "loss"
                : $"result.{i}";
            named.Add((name, results[i]));
        }
        return named;
    }

    /// <summary>Prints the relative error of every result against the reference; false when one is above <paramref name="rtol"/>.</summary>
    private static bool Compare(List<(string Name, HostTensor T)> outputs, SafetensorsFile reference, double rtol)
    {
        var ci = CultureInfo.InvariantCulture;
        bool ok = true;
        double worst = 0;
        foreach (var (name, t) in outputs)
        {
            if (!reference.TryGetValue(name, out var stored))
            {
                Console.WriteLine($"  {name}: not in {reference.Path}");
                ok = false;
                continue;
            }
            var want = SafetensorsFile.ToHostTensor(stored, new Context().Tensor(stored.Shape, WidestFloat(stored.Dtype)), name, reference.Path);
            if (want.Count != t.Count)
            {
                Console.WriteLine($"  {name}: {t.Count} elements here, {want.Count} in {reference.Path}");
                ok = false;
                continue;
            }
            double maxDiff = 0, maxRef = 0;
            for (long i = 0; i < t.Count; i++)
            {
                maxDiff = Math.Max(maxDiff, Math.Abs(t.Get(i) - want.Get(i)));
                maxRef = Math.Max(maxRef, Math.Abs(want.Get(i)));
            }
            double rel = maxRef == 0 ? maxDiff : maxDiff / maxRef;
            worst = Math.Max(worst, double.IsNaN(rel) ? double.PositiveInfinity : rel);
            if (!(rel <= rtol)) ok = false;
        }
        foreach (var name in reference.Keys.Where(k => outputs.All(o => o.Name != k)))
        {
            Console.WriteLine($"  {name}: in {reference.Path} but not computed here");
            ok = false;
        }
        Console.WriteLine($"compared {outputs.Count} tensors with {reference.Path}: max relative error {worst.ToString("E2", ci)} " +
                          $"({(ok ? "within" : "ABOVE")} --rtol {rtol.ToString("G", ci)})");
        return ok;
    }

    private static ScalarType WidestFloat(string dtype)
    {
        var ctx = new Context();
        return dtype switch { "F64" => ctx.F64, "F32" => ctx.F32, "BF16" => ctx.BF16, "F16" => ctx.F16, _ => ctx.F64 };
    }

    private static void Report(Operation func, RunResult result, List<(string Name, HostTensor T)> outputs)
    {
        var ci = CultureInfo.InvariantCulture;
        Console.WriteLine($"@{FuncDialect.SymName(func)}: {result.Elapsed.TotalMilliseconds.ToString("F1", ci)} ms, " +
                          $"peak memory {result.PeakBytes.ToString("N0", ci)} bytes ({(result.PeakBytes / 1048576.0).ToString("F2", ci)} MiB)" +
                          (result.BytesSent > 0 ? $" per rank (the largest), {result.BytesSent.ToString("N0", ci)} bytes sent by the busiest rank" : ""));
        if (result.ArenaPeakBytes > 0)
            Console.WriteLine($"  planned run: arena high-water mark {result.ArenaPeakBytes.ToString("N0", ci)} bytes per rank" +
                              (func.GetAttr("mem.arena_size") is IntegerAttr arena ? $" (mem.arena_size {arena.Value.ToString("N0", ci)})" : " (the native code's arena: the memory plan's, plus the ops' scratch)"));
        foreach (var (name, t) in outputs.Where(o => o.T.Type.Rank == 0))
            Console.WriteLine($"  {name} = {t.Get(0).ToString("R", ci)}");
    }
}

// ====================================================================== per-rank executors

/// <summary>
/// What runs ONE rank of a per-rank program with a communicator of any backend (the interpreter today;
/// a native executor later). Errors are thrown, not caught: the backend reports them.
/// </summary>
public interface IRankExecutor
{
    /// <summary>The --executor name.</summary>
    string Name { get; }

    RunResult Run(Operation func, IReadOnlyList<HostTensor> args, ICommunicator comm);
}

/// <summary>The reference interpreter (<see cref="Interpreter.RunRank"/>).</summary>
internal sealed class InterpreterExecutor : IRankExecutor
{
    public string Name => "interp";
    public RunResult Run(Operation func, IReadOnlyList<HostTensor> args, ICommunicator comm) => Interpreter.RunRank(func, args, comm);
}

/// <summary>
/// The native executor (<see cref="NativeProgram"/>): the rank program is compiled once, on first use, and the
/// one JIT'd function runs every rank (threads) or this process's rank (mpi).
/// </summary>
internal sealed class NativeExecutor(bool profile) : IRankExecutor
{
    private readonly object _lock = new();
    private NativeProgram? _program;
    private TimeSpan _compile;
    private readonly NativeProfile? _profile = profile ? new NativeProfile() : null;

    public string Name => "native";

    public RunResult Run(Operation func, IReadOnlyList<HostTensor> args, ICommunicator comm) => Program(func).Run(args, comm, profile: _profile);

    private NativeProgram Program(Operation func)
    {
        lock (_lock)
        {
            if (_program is null)
            {
                var clock = System.Diagnostics.Stopwatch.StartNew();
                _program = NativeProgram.Compile(func, profile: _profile is not null);
                _compile = clock.Elapsed;
            }
            return _program;
        }
    }

    /// <summary>--report's native lines: compile time, each run's time and the best, and the profile.</summary>
    public void Report(TextWriter w, IReadOnlyList<TimeSpan> runs)
    {
        var ci = CultureInfo.InvariantCulture;
        w.WriteLine($"native: compiled in {_compile.TotalSeconds.ToString("F2", ci)} s; {runs.Count} run{(runs.Count == 1 ? "" : "s")}: " +
                    $"{string.Join(" ", runs.Select(t => t.TotalSeconds.ToString("F3", ci)))} s; best {runs.Min().TotalSeconds.ToString("F3", ci)} s");
        _profile?.Report(w);
    }
}

internal static class RankExecutors
{
    /// <summary>The executor named by --executor (an ArgumentException for an unknown one).</summary>
    public static IRankExecutor Create(string name, bool profile = false) => name switch
    {
        "interp" => new InterpreterExecutor(),
        "native" => new NativeExecutor(profile),
        _ => throw new ArgumentException($"--executor is interp or native, not '{name}'"),
    };
}

/// <summary>A failure injected by AUTOSP_FAIL_RANK (tests of the failure protocol).</summary>
internal sealed class InjectedFailureException(string message) : Exception(message);

// ====================================================================== --backend mpi

/// <summary>
/// <c>mpirun -np P autosp-run FILE --backend mpi ...</c>: this process is one rank of an Open MPI job.
/// Every process parses the program and reads the same global --params/--inputs, runs its rank on its
/// shard (<see cref="SpmdIO.ArgumentsOf"/>) with the executor and an <see cref="MpiCommunicator"/>; the
/// per-rank results (and figures for --report) are gathered to rank 0, which assembles them
/// (<see cref="SpmdIO.Assemble"/>) and alone writes --out, prints --report and does --compare, as the
/// threads backend does. A final barrier keeps every rank in the job until rank 0 is done.
/// <para>Any error on a rank: it prints one line <c>...: error: rank R: message</c> and runs the failure
/// protocol of <see cref="MpiWorld.Abort"/> (the other ranks print <c>rank R: rank K failed: message</c>),
/// and the job ends with exit code 1.</para>
/// <para>Testing hooks (environment): AUTOSP_FAIL_RANK=R makes rank R fail before running its program;
/// AUTOSP_STALL_RANK=R with AUTOSP_STALL_SECONDS=S makes rank R sleep S seconds first (a slow or hung rank).</para>
/// </summary>
internal static class MpiRun
{
    private const string Tool = "autosp-run";

    public static int Run(CommandLine cl, IRankExecutor executor, TimeSpan? timeout)
    {
        MpiWorld world;
        try
        {
            world = MpiWorld.Initialize(timeout);
        }
        catch (InvalidOperationException e)
        {
            Console.Error.WriteLine($"{Tool}: error: --backend mpi: {e.Message}");
            return 1;
        }
        int rank = world.Rank;
        string prefix = $"rank {rank.ToString(CultureInfo.InvariantCulture)}: ";
        try
        {
            return RunRank(cl, executor, world);
        }
        catch (Exception e)
        {
            string line = RunTool.ErrorLine(e, prefix) ?? $"{Tool}: internal error: {prefix}{e.GetType().Name}: {e.Message} (this is a bug; rerun with AUTOSPIR_DEBUG=1 for details)";
            if (Environment.GetEnvironmentVariable("AUTOSPIR_DEBUG") == "1") line += "\n" + e;
            Console.Error.WriteLine(line);
            bool secondary = e is CommunicatorException { IsSecondary: true };
            world.Abort(secondary ? null : Notice(e, prefix));
            return 1;   // not reached: Abort ends the process
        }
    }

    /// <summary>What the other ranks are told: the message without this rank's prefix, at the op's location when known.</summary>
    private static string Notice(Exception e, string prefix)
    {
        string msg = e.Message.StartsWith(prefix, StringComparison.Ordinal) ? e.Message[prefix.Length..] : e.Message;
        var loc = e switch { RuntimeErrorException r => r.Location, CommunicatorException c => c.Location, _ => null };
        return loc is null ? msg : $"{loc}: {msg}";
    }

    private static int RunRank(CommandLine cl, IRankExecutor executor, MpiWorld world)
    {
        var ci = CultureInfo.InvariantCulture;
        int rank = world.Rank;
        if (cl.Has("ranks") && (!int.TryParse(cl.Get("ranks"), NumberStyles.None, ci, out var ranks) || ranks != world.Size))
            throw new ArgumentException($"--ranks {cl.Get("ranks")} differs from the number of MPI processes, {world.Size}: with --backend mpi each process is one rank " +
                                        $"(mpirun -np {cl.Get("ranks")} ..., or leave --ranks out)");

        var path = cl.Positional[0];
        if (path == "-") throw new ArgumentException("--backend mpi reads the program from a file, not stdin (every process reads it)");
        var text = File.ReadAllText(path);
        var ctx = AllDialects.NewContext();
        var diag = new DiagnosticEngine();
        var module = AspIRParserDriver.ParseAndVerify(text, path, ctx, diag);
        if (rank == 0) ToolIO.PrintDiagnostics(diag, Console.Error);
        if (module is null) throw new ArgumentException($"{path} has errors ({(rank == 0 ? "above" : "rank 0 prints them")})");
        var func = FindEntry(module, cl.Get("entry"));

        var arguments = RunTool.LoadArguments(cl, func);
        var local = SpmdIO.ArgumentsOf(func, arguments, rank);
        TestingHooks(rank);
        var result = executor.Run(func, local, world.Communicator);

        // Gather the per-rank results and figures to rank 0.
        var comm = world.Communicator;
        var i64 = ctx.Tensor(new long[] { 5 }, ctx.I64);
        var figures = new HostTensor(i64, ints: new[] { result.PeakBytes, result.Elapsed.Ticks, result.BytesSent, result.ArenaPeakBytes, result.ArenaLiveBytes });
        var allFigures = comm.GatherTo(figures, 0);
        var pieces = result.Results.Select(t => comm.GatherTo(t, 0)).ToList();
        int code = 0;
        if (rank == 0)
        {
            var perRank = Enumerable.Range(0, world.Size).Select(r => new RunResult
            {
                Results = pieces.Select(p => p![r]).ToArray(),
                PeakBytes = allFigures![r].Ints![0],
                Elapsed = TimeSpan.FromTicks(allFigures[r].Ints![1]),
                BytesSent = allFigures[r].Ints![2],
                ArenaPeakBytes = allFigures[r].Ints![3],
                ArenaLiveBytes = allFigures[r].Ints![4],
            }).ToArray();
            var results = world.Size == 1 ? perRank[0].Results : SpmdIO.Assemble(func, perRank);
            code = RunTool.Finish(cl, func, RunTool.Combined(results, perRank), results);
        }
        comm.Barrier(Enumerable.Range(0, world.Size).ToArray());
        world.Shutdown();
        return code;
    }

    private static void TestingHooks(int rank)
    {
        var ci = CultureInfo.InvariantCulture;
        if (int.TryParse(Environment.GetEnvironmentVariable("AUTOSP_STALL_RANK"), NumberStyles.Integer, ci, out var stall) && stall == rank
            && double.TryParse(Environment.GetEnvironmentVariable("AUTOSP_STALL_SECONDS"), NumberStyles.Float, ci, out var seconds) && seconds > 0)
            Thread.Sleep(TimeSpan.FromSeconds(seconds));
        if (int.TryParse(Environment.GetEnvironmentVariable("AUTOSP_FAIL_RANK"), NumberStyles.Integer, ci, out var fail) && fail == rank)
            throw new InjectedFailureException($"injected failure (AUTOSP_FAIL_RANK={rank})");
    }

    private static Operation FindEntry(Operation module, string? requested) =>
        ToolIO.FindEntry(module, requested, out var error) ?? throw new ArgumentException(error);
}
