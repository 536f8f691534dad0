using System.Text;
using AutoSpIR.Dialects;
using AutoSpIR.Grammar;
using AutoSpIR.Passes;
using AutoSpIR.Tools;

// autosp-opt: parse, verify, transform and print .aspir files (MLIR's mlir-opt).
AutoSpIR.Lowering.LoweringPasses.Register();
return ToolIO.Guard("autosp-opt", () => OptTool.Run(args));

internal static class OptTool
{
    private const string Tool = "autosp-opt";

    public static int Run(string[] args)
    {
        var cl = new CommandLine(Tool, "autosp-opt [options] [FILE.aspir | -]");
        cl.Value("pass-pipeline", "the passes to run, in MLIR syntax: 'canonicalize,cse' or 'builtin.module(func.func(cse))'", "p");
        cl.Value("o", "write the output here (atomically; '-' is standard output)", defaultValue: "-");
        cl.Flag("verify-each", "verify the IR after every pass", defaultValue: true);
        cl.Flag("print-ir-after-all", "print the IR to standard error after every pass");
        cl.Flag("print-generic", "print every op in the generic form");
        cl.Flag("split-input-file", "treat each '// -----' separated chunk as its own file");
        cl.Flag("verify-diagnostics", "check that the diagnostics equal the 'expected-error {{...}}' comments");
        cl.Flag("allow-unregistered-dialect", "accept ops, types and attributes of unknown dialects");
        cl.Flag("list-passes", "list the passes and their options, then exit");
        cl.Flag("timing", "print the time spent parsing, verifying, in each pass and printing (to standard error)");

        if (!cl.ParseOrExit(args, out var exitCode)) return exitCode;
        if (cl.GetFlag("list-passes"))
        {
            ListPasses();
            return 0;
        }
        if (cl.Positional.Count > 1)
        {
            Console.Error.WriteLine($"{Tool}: error: expected one input file, got {cl.Positional.Count}: {string.Join(" ", cl.Positional)}");
            return 1;
        }

        IReadOnlyList<PipelineElement> pipeline = Array.Empty<PipelineElement>();
        if (cl.Get("pass-pipeline") is { } pipelineText)
        {
            var parsed = PassPipelineParser.Parse(pipelineText, out var pipelineError);
            if (parsed is null)
            {
                Console.Error.WriteLine($"{Tool}: error: {pipelineError}");
                return 1;
            }
            pipeline = parsed;
        }

        var inputPath = cl.Positional.Count == 1 ? cl.Positional[0] : "-";
        var text = ToolIO.ReadInput(Tool, inputPath);
        if (text is null) return 1;
        var fileName = inputPath == "-" ? "<stdin>" : inputPath;

        var chunks = cl.GetFlag("split-input-file")
            ? SplitInput.Split(text)
            : new List<SplitInput.Chunk> { new(text, 0) };
        bool verifyDiagnostics = cl.GetFlag("verify-diagnostics");
        bool generic = cl.GetFlag("print-generic");
        var outputs = new List<Operation>();
        bool failed = false;
        var timing = cl.GetFlag("timing") ? new PhaseTimer() : null;

        foreach (var chunk in chunks)
        {
            var ctx = AllDialects.NewContext();
            ctx.AllowUnregisteredDialects = cl.GetFlag("allow-unregistered-dialect");
            var diag = new DiagnosticEngine();
            var module = timing.Time("parse", () => AspIRParserDriver.Parse(chunk.Text, fileName, ctx, diag, chunk.LineOffset));
            if (module is not null && !timing.Time("verify", () => Verifier.Verify(module, diag))) module = null;
            if (module is not null && pipeline.Count > 0)
            {
                var pm = new PassManager(new PassContext(ctx, diag, Console.Error), pipeline)
                {
                    VerifyEach = cl.GetFlag("verify-each"),
                    PrintIrAfterAll = cl.GetFlag("print-ir-after-all") ? Console.Error : null,
                    PrintGeneric = generic,
                };
                if (!timing.Time("passes", () => pm.Run(module))) module = null;
            }

            if (verifyDiagnostics)
            {
                var problems = ExpectedDiagnostics.Check(chunk.Text, fileName, chunk.LineOffset, diag.All);
                foreach (var p in problems) Console.Error.WriteLine(p);
                failed |= problems.Count > 0;
            }
            else
            {
                ToolIO.PrintDiagnostics(diag, Console.Error);
                failed |= diag.HasErrors;
            }
            if (module is not null && !diag.HasErrors) outputs.Add(module);
        }

        var outPath = cl.Get("o")!;
        if (failed && outPath != "-") return 1;   // never leave a partial output file
        bool written = timing.Time("print", () => ToolIO.WriteOutput(Tool, outPath, w =>
        {
            for (int i = 0; i < outputs.Count; i++)
            {
                if (i > 0) w.Write(SplitInput.Separator + "\n");
                Printer.Print(outputs[i], w, generic);
            }
            return true;
        }));
        if (!written) return 1;
        timing?.Report(Console.Error);
        return failed ? 1 : 0;
    }

    /// <summary>Wall-clock time per phase, summed over chunks (MLIR's --mlir-timing, simplified).</summary>
    private sealed class PhaseTimer
    {
        private readonly List<(string Phase, TimeSpan Time)> _phases = new();

        public T Run<T>(string phase, Func<T> body)
        {
            var sw = System.Diagnostics.Stopwatch.StartNew();
            var result = body();
            int i = _phases.FindIndex(p => p.Phase == phase);
            if (i < 0) _phases.Add((phase, sw.Elapsed));
            else _phases[i] = (phase, _phases[i].Time + sw.Elapsed);
            return result;
        }

        public void Report(TextWriter w)
        {
            w.WriteLine("===- autosp-opt timing -===");
            foreach (var (phase, time) in _phases) w.WriteLine($"  {time.TotalSeconds,9:F3} s  {phase}");
            w.WriteLine($"  {_phases.Sum(p => p.Time.TotalSeconds),9:F3} s  total");
        }
    }

    private static T Time<T>(this PhaseTimer? timer, string phase, Func<T> body) => timer is null ? body() : timer.Run(phase, body);

    private static void ListPasses()
    {
        var sb = new StringBuilder("Available passes (use with -p 'name' or -p 'name{option=value}'):\n");
        foreach (var p in PassRegistry.All.OrderBy(p => p.Name, StringComparer.Ordinal))
        {
            sb.Append($"  {p.Name,-16} {p.Summary}\n");
            foreach (var o in p.Options)
                sb.Append($"      {o.Name}={o.Kind,-6} {o.Doc} (default: {o.Default})\n");
        }
        Console.Write(sb.ToString());
    }
}
