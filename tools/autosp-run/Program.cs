using System.Globalization;
using AutoSpIR.Dialects;
using AutoSpIR.Dialects.Func;
using AutoSpIR.Grammar;
using AutoSpIR.Runtime;
using AutoSpIR.Runtime.Comm;
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
            "autosp-run FILE.aspir --params W.safetensors --inputs X.safetensors --out OUT.safetensors [--entry @func] [--report]");
        cl.Value("params", "parameters, by the Hugging Face names in the arguments' aspir.param");
        cl.Value("inputs", "inputs, by the names in the arguments' aspir.name (input_ids, labels: int64 as Hugging Face stores them)");
        cl.Value("out", "where to write the results: 'loss' and, for a joint program, 'grad.<param name>'; after the optimizer pass '<param name>', '<param name>.exp_avg', '<param name>.exp_avg_sq' (and '<param name>.master' with master-dtype)");
        cl.Value("entry", "the function to run (default: the module's only function, else @train_step)");
        cl.Flag("report", "print the run time and the peak bytes live (measured by the interpreter's allocator; for a memory-planned program also the arena high-water mark)");
        cl.Value("ranks", "run a per-rank (SPMD) program on P ranks, one thread each; arguments and results with a dist.sharding attribute are sliced from and assembled into global tensors: "
                          + "a size the shard count does not divide is cut into pieces of ceil(n/K), the padding filled with the argument's aspir.pad_value (default 0) and dropped from results; "
                          + "the global shape is aspir.global_shape = [..] when given, else the local shape times the shard counts", defaultValue: "1");
        cl.Flag("init-opt-state", "optimizer state arguments (aspir.opt_state: '<param>.exp_avg', '<param>.exp_avg_sq') missing from --params start at zero, a master copy ('<param>.master') at the parameter converted to its type (the first step)");
        cl.Value("compare", "compare the results with the tensors of the same names in this file (e.g. PyTorch's), and fail above --rtol");
        cl.Value("rtol", "the largest max|ours - reference| / max|reference| --compare accepts", defaultValue: "1e-6");
        if (!cl.ParseOrExit(args, out var exitCode)) return exitCode;
        if (cl.Positional.Count != 1)
        {
            Console.Error.WriteLine($"{Tool}: error: expected one program file, got {cl.Positional.Count} (see {Tool} --help)");
            return 1;
        }
        var path = cl.Positional[0];
        var text = ToolIO.ReadInput(Tool, path);
        if (text is null) return 1;

        var ctx = AllDialects.NewContext();
        var diag = new DiagnosticEngine();
        var module = AspIRParserDriver.ParseAndVerify(text, path == "-" ? "<stdin>" : path, ctx, diag);
        ToolIO.PrintDiagnostics(diag, Console.Error);
        if (module is null) return 1;

        var func = FindEntry(module, cl.Get("entry"), out var entryError);
        if (func is null)
        {
            Console.Error.WriteLine($"{Tool}: error: {entryError}");
            return 1;
        }

        try
        {
            var paramFile = cl.Get("params") is { } pp ? SafetensorsFile.Read(pp) : null;
            var inputFile = cl.Get("inputs") is { } ip ? SafetensorsFile.Read(ip) : null;
            var arguments = LoadArguments(func, paramFile, inputFile, cl.GetFlag("init-opt-state"));
            if (!int.TryParse(cl.Get("ranks"), NumberStyles.None, CultureInfo.InvariantCulture, out var ranks) || ranks < 1)
                throw new ArgumentException($"--ranks takes a positive number, not '{cl.Get("ranks")}'");
            RunResult result;
            HostTensor[] results;
            if (ranks == 1)
            {
                result = Interpreter.Run(func, arguments);
                results = result.Results;
            }
            else
            {
                var perRank = Interpreter.RunSpmd(func, ranks, r => SpmdIO.ArgumentsOf(func, arguments, r));
                results = SpmdIO.Assemble(func, perRank);
                result = new RunResult
                {
                    Results = results,
                    PeakBytes = perRank.Max(r => r.PeakBytes),
                    Elapsed = perRank.Max(r => r.Elapsed),
                    BytesSent = perRank.Max(r => r.BytesSent),
                    ArenaPeakBytes = perRank.Max(r => r.ArenaPeakBytes),
                };
            }
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
        catch (SafetensorsException e)
        {
            Console.Error.WriteLine($"{Tool}: error: {e.Message}");
        }
        catch (RuntimeErrorException e)
        {
            Console.Error.WriteLine($"{e.Location}: error: {e.Message}");
        }
        catch (CommunicatorException e)
        {
            Console.Error.WriteLine(e.Location is { } loc ? $"{loc}: error: {e.Message}" : $"{Tool}: error: {e.Message}");
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"{Tool}: error: {e.Message}");
        }
        catch (IOException e)
        {
            Console.Error.WriteLine($"{Tool}: error: {e.Message}");
        }
        return 1;
    }

    private static Operation? FindEntry(Operation module, string? requested, out string error)
    {
        var funcs = module.Region(0).Ops.Where(o => o.Name == "func.func" && !o.Region(0).IsEmpty).ToList();
        error = "";
        if (requested is not null)
        {
            var name = requested.TrimStart('@');
            var f = funcs.FirstOrDefault(o => FuncDialect.SymName(o) == name);
            if (f is null) error = $"no function '@{name}' in the program (it has {string.Join(", ", funcs.Select(o => "@" + FuncDialect.SymName(o)))})";
            return f;
        }
        if (funcs.Count == 1) return funcs[0];
        var train = funcs.FirstOrDefault(o => FuncDialect.SymName(o) == "train_step");
        if (train is null) error = $"the program has {funcs.Count} functions; choose one with --entry";
        return train;
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
            Console.WriteLine($"  planned run: arena high-water mark {result.ArenaPeakBytes.ToString("N0", ci)} bytes per rank (mem.arena_size {((func.GetAttr("mem.arena_size") as IntegerAttr)?.Value ?? -1).ToString("N0", ci)})");
        foreach (var (name, t) in outputs.Where(o => o.T.Type.Rank == 0))
            Console.WriteLine($"  {name} = {t.Get(0).ToString("R", ci)}");
    }
}
