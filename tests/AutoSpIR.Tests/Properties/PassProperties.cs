using AutoSpIR.Passes;
using Xunit.Abstractions;

namespace AutoSpIR.Tests.Properties;

/// <summary>
/// Every registered pass, alone and in the pipeline canonicalize,cse,dce, keeps generated valid
/// modules valid: no error is reported (PassManager verifies after each pass), the result
/// verifies, prints and parses back, and keeps every function's signature. cse and dce never add
/// ops, and a second run of a transformation changes nothing (canonicalize, cse and dce are
/// idempotent on the printed text).
/// </summary>
public sealed class PassProperties(ITestOutputHelper output)
{
    public const int Cases = 300;
    public const string Pipeline = "canonicalize,cse,dce";

    /// <summary>
    /// The registered passes (the lowering passes included, so the list does not depend on which test ran
    /// first) plus the standard pipeline, as pipeline texts; without convert-tensor-to-loops, which takes only
    /// memory-planned functions and says so (NativeModelTests and the lowering tests cover it).
    /// </summary>
    public static IEnumerable<string> PipelinesUnderTest()
    {
        AutoSpIR.Lowering.LoweringPasses.Register();
        return PassRegistry.All.Select(p => p.Name).Where(n => n != AutoSpIR.Lowering.Loops.ConvertTensorToLoops.Info.Name).Append(Pipeline);
    }

    /// <summary>The passes that must accept every valid module; any other pass may decline one with located errors (autodiff has preconditions).</summary>
    public static readonly string[] Total = { "canonicalize", "cse", "dce", "cost-report", Pipeline };

    [Fact]
    public void PassesKeepModulesValid()
    {
        var declined = new SortedDictionary<string, int>(StringComparer.Ordinal);
        PropertyRunner.ForAll(output, "passes keep modules valid", ModuleGenerators.ValidModules, Cases, 0x5EED_0101, spec =>
        {
            foreach (var pipeline in PipelinesUnderTest())
            {
                var module = ValidModuleBuilder.Build(spec, out var ctx);
                var signatures = PassRunning.Signatures(module);
                int before = PassRunning.CountOps(module);
                var report = new StringWriter();
                if (!Total.Contains(pipeline))
                {
                    if (PassRunning.TryRunPipeline(pipeline, module, ctx, report) is { } errors)
                    {
                        declined[pipeline] = declined.GetValueOrDefault(pipeline) + 1;
                        if (errors.Count == 0) throw new Exception($"'{pipeline}' failed without reporting an error");
                        // Declining is fine; breaking the module is not.
                        if (errors.Any(e => e.Message.Contains("produced invalid IR")))
                            throw new Exception($"'{pipeline}' produced invalid IR:\n{string.Join("\n", errors)}\ninput:\n{TextDiff.Clip(Printer.Print(ValidModuleBuilder.Build(spec, out _)))}");
                        continue;
                    }
                }
                else PassRunning.RunPipeline(pipeline, module, ctx, report);

                var diag = new DiagnosticEngine();
                if (!Verifier.Verify(module, diag))
                    throw new Exception($"after '{pipeline}' the module does not verify:\n{string.Join("\n", diag.All)}\n{TextDiff.Clip(Printer.Print(module, generic: true))}");
                int after = PassRunning.CountOps(module);
                if (pipeline is "cse" or "dce" && after > before)
                    throw new Exception($"'{pipeline}' increased the op count from {before} to {after}");
                if (Total.Contains(pipeline) && !PassRunning.Signatures(module).SequenceEqual(signatures))
                    throw new Exception($"'{pipeline}' changed a function signature:\n  before {string.Join("; ", signatures)}\n  after  {string.Join("; ", PassRunning.Signatures(module))}");
                if (pipeline == "cost-report" && report.ToString().Length == 0)
                    throw new Exception("cost-report wrote no report");

                // What a pass leaves behind prints and parses back like any module.
                RoundTripChecks.CheckRoundTrip(module, allowUnregistered: false);
            }
        });
        foreach (var (pass, n) in declined) output.WriteLine($"'{pass}' declined {n} of {Cases} modules with errors");
    }

    /// <summary>Errors autodiff may report for an input outside what it handles (its documented preconditions).</summary>
    private static readonly System.Text.RegularExpressions.Regex AutodiffPrecondition = new(
        "has no gradient rule|single-block body|does not end in func.return|must be a single rank-0 floating-point tensor|" +
        "a parameter must be a floating-point tensor|of the dynamic type|is called here");

    /// <summary>
    /// autodiff on training steps (functions returning a scalar loss of aspir.param arguments):
    /// it either declines with one of its documented precondition errors, or turns every such
    /// function into one returning the loss and one gradient per parameter, of the parameter's
    /// type, leaves other functions alone, and leaves a module that verifies, round-trips and
    /// survives canonicalize,cse,dce. Any other error (a gradient rule that cannot be applied or
    /// gives a wrong type) or an exception is a failure.
    /// </summary>
    [Fact]
    public void AutodiffDifferentiatesTrainingSteps()
    {
        if (PassRegistry.Lookup("autodiff") is null)
        {
            output.WriteLine("no autodiff pass is registered");
            return;
        }
        int differentiated = 0, declinedCount = 0;
        var reasons = new SortedDictionary<string, int>(StringComparer.Ordinal);
        PropertyRunner.ForAll(output, "autodiff differentiates training steps", ModuleGenerators.LossModules, Cases, 0x5EED_0104, spec =>
        {
            var module = ValidModuleBuilder.Build(spec, out var ctx);
            var input = Printer.Print(module);
            var expected = new List<(string Name, string Signature)>();
            module.Walk(f =>
            {
                if (f.Name != "func.func" || f.GetAttr("function_type") is not TypeAttr { Value: FunctionType ft }) return;
                var name = f.GetString("sym_name")!;
                var args = f.GetAttr("arg_attrs") as ArrayAttr;
                var paramTypes = ft.Inputs.Where((_, i) => args is not null && i < args.Count && args[i] is DictionaryAttr d && d.Get("aspir.param") is not null).ToList();
                bool step = !f.Region(0).IsEmpty && ft.Results is [TensorType { Rank: 0, Element.IsFloat: true }] && paramTypes.Count > 0;
                expected.Add((name, step ? ctx.Function(ft.Inputs, ft.Results.Concat(paramTypes).ToArray()).ToString() : ft.ToString()));
            });

            if (PassRunning.TryRunPipeline("autodiff", module, ctx, TextWriter.Null) is { } errors)
            {
                var unexpected = errors.Where(e => !AutodiffPrecondition.IsMatch(e.Message)).ToList();
                if (errors.Count == 0 || unexpected.Count > 0)
                    throw new Exception($"autodiff failed {(errors.Count == 0 ? "without an error" : "with an error that is not one of its preconditions")}:\n" +
                                        string.Join("\n", unexpected.Count > 0 ? unexpected : errors) + $"\ninput:\n{TextDiff.Clip(input)}");
                declinedCount++;
                foreach (var e in errors)
                {
                    var key = System.Text.RegularExpressions.Regex.Replace(AutodiffPrecondition.Match(e.Message).Value, @"\s+", " ");
                    var op = System.Text.RegularExpressions.Regex.Match(e.Message, @"^'([^']+)' op").Groups[1].Value;
                    key = op.Length > 0 ? $"{op}: {key}" : key;
                    reasons[key] = reasons.GetValueOrDefault(key) + 1;
                }
                return;
            }
            differentiated++;
            var diag = new DiagnosticEngine();
            if (!Verifier.Verify(module, diag))
                throw new Exception($"after autodiff the module does not verify:\n{string.Join("\n", diag.All)}\ninput:\n{TextDiff.Clip(input)}\noutput:\n{TextDiff.Clip(Printer.Print(module, generic: true))}");
            var actual = new List<(string Name, string Signature)>();
            module.Walk(f => { if (f.Name == "func.func") actual.Add((f.GetString("sym_name")!, f.GetAttr("function_type") is TypeAttr t ? t.Value.ToString() : "?")); });
            if (!actual.SequenceEqual(expected))
                throw new Exception("autodiff gave unexpected signatures:\n  expected " + string.Join("; ", expected) + "\n  actual   " + string.Join("; ", actual) + $"\ninput:\n{TextDiff.Clip(input)}");
            RoundTripChecks.CheckRoundTrip(module, allowUnregistered: false);
            PassRunning.RunPipeline(Pipeline, module, ctx, TextWriter.Null);
            RoundTripChecks.CheckRoundTrip(module, allowUnregistered: false);
        });
        output.WriteLine($"autodiff differentiated {differentiated} modules and declined {declinedCount}; reasons: " +
                         string.Join(", ", reasons.Select(kv => $"{kv.Key} {kv.Value}")));
    }

    /// <summary>
    /// Minimal repros of what <see cref="AutodiffDifferentiatesTrainingSteps"/> found with dynamic
    /// shapes and calls (the property now builds neither): autodiff must succeed with valid IR or
    /// decline with one of its precondition errors.
    /// </summary>
    [Theory]
    // A training step that another function calls: autodiff adds results to its signature but not to
    // the call, and PassManager reports "'func.call' op has 1 results, but '@loss' returns 2".
    [InlineData("func.func @loss(%w: tensor<2xf32> {aspir.param = \"w\"}) -> tensor<f32> {\n  %l = tensor.reduce_sum %w {dims = [0]} : tensor<2xf32> -> tensor<f32>\n  func.return %l : tensor<f32>\n}\nfunc.func @caller(%a: tensor<2xf32>) -> tensor<f32> {\n  %r = func.call @loss(%a) : (tensor<2xf32>) -> tensor<f32>\n  func.return %r : tensor<f32>\n}\n")]
    // A dynamic size: reduce_sum's gradient rule builds a tensor.broadcast with shape entry -1.
    [InlineData("func.func @f(%w: tensor<?x4xf64> {aspir.param = \"w\"}) -> tensor<f64> {\n  %loss = tensor.reduce_sum %w {dims = [0, 1]} : tensor<?x4xf64> -> tensor<f64>\n  func.return %loss : tensor<f64>\n}\n")]
    public void AutodiffReprosSucceedOrDeclineCleanly(string text)
    {
        if (PassRegistry.Lookup("autodiff") is null) return;
        var module = RoundTripChecks.ParseClean(text, allowUnregistered: false, "input");
        var errors = PassRunning.TryRunPipeline("autodiff", module, module.Context, TextWriter.Null);
        if (errors is null)
        {
            var diag = new DiagnosticEngine();
            Assert.True(Verifier.Verify(module, diag), string.Join("\n", diag.All));
            return;
        }
        Assert.All(errors, e => Assert.Matches(AutodiffPrecondition, e.Message));
    }

    /// <summary>Passes leave ops they do not know alone: unregistered ops with regions, successors and odd attributes.</summary>
    [Fact]
    public void PassesHandleUnregisteredOps() =>
        PropertyRunner.ForAll(output, "passes handle unregistered ops", ModuleGenerators.UnregisteredModules(), Cases, 0x5EED_0103, spec =>
        {
            foreach (var pipeline in PipelinesUnderTest())
            {
                var module = UnregisteredModuleBuilder.Build(spec, out var ctx, out _);
                int unregisteredBefore = CountUnregistered(module);
                PassRunning.RunPipeline(pipeline, module, ctx, new StringWriter());
                var diag = new DiagnosticEngine();
                if (!Verifier.Verify(module, diag))
                    throw new Exception($"after '{pipeline}' the module does not verify:\n{string.Join("\n", diag.All)}\n{TextDiff.Clip(Printer.Print(module, generic: true))}");
                // Unregistered ops may have side effects: no pass may erase one.
                if (CountUnregistered(module) != unregisteredBefore)
                    throw new Exception($"'{pipeline}' erased unregistered ops ({unregisteredBefore} before, {CountUnregistered(module)} after)");
                RoundTripChecks.CheckRoundTrip(module, allowUnregistered: true);
            }
        });

    private static int CountUnregistered(Operation module)
    {
        int n = 0;
        module.Walk(op => { if (op.Def is null) n++; });
        return n;
    }

    /// <summary>The properties are not vacuous: the transformations do change many generated modules.</summary>
    [Fact]
    public void TransformationsHaveWorkToDo()
    {
        var changed = new Dictionary<string, int>();
        var specs = ModuleGenerators.SampleValid(100, 8);
        foreach (var pipeline in new[] { "canonicalize", "cse", "dce" })
            foreach (var spec in specs)
            {
                var module = ValidModuleBuilder.Build(spec, out var ctx);
                var before = Printer.Print(module);
                PassRunning.RunPipeline(pipeline, module, ctx, TextWriter.Null);
                if (Printer.Print(module) != before) changed[pipeline] = changed.GetValueOrDefault(pipeline) + 1;
            }
        output.WriteLine("modules changed, of 100: " + string.Join(", ", changed.Select(kv => $"{kv.Key} {kv.Value}")));
        Assert.True(changed.GetValueOrDefault("canonicalize") >= 30, "canonicalize changes too few generated modules");
        Assert.True(changed.GetValueOrDefault("cse") >= 5, "cse changes too few generated modules");
        Assert.True(changed.GetValueOrDefault("dce") >= 30, "dce changes too few generated modules");
    }

    [Fact]
    public void TransformationsAreIdempotent() =>
        PropertyRunner.ForAll(output, "canonicalize, cse, dce and the pipeline are idempotent", ModuleGenerators.ValidModules, Cases, 0x5EED_0102, spec =>
        {
            foreach (var pipeline in new[] { "canonicalize", "cse", "dce", Pipeline })
            {
                var module = ValidModuleBuilder.Build(spec, out var ctx);
                PassRunning.RunPipeline(pipeline, module, ctx, TextWriter.Null);
                var once = Printer.Print(module);
                PassRunning.RunPipeline(pipeline, module, ctx, TextWriter.Null);
                var twice = Printer.Print(module);
                if (once != twice)
                    throw new Exception($"a second run of '{pipeline}' changed the module\n{TextDiff.FirstDifference(once, twice)}\nafter the first run:\n{TextDiff.Clip(once)}");
            }
        });

}

/// <summary>Running pipelines in the property tests.</summary>
public static class PassRunning
{
    /// <summary>Runs a pipeline with verification after each pass; throws when anything is reported.</summary>
    public static void RunPipeline(string pipelineText, Operation module, Context ctx, TextWriter report)
    {
        var pipeline = PassPipelineParser.Parse(pipelineText, out var error)
                       ?? throw new Exception($"pipeline '{pipelineText}' does not parse: {error}");
        var diag = new DiagnosticEngine();
        var pm = new PassManager(new PassContext(ctx, diag, report), pipeline) { VerifyEach = true };
        var input = Printer.Print(module);
        bool ok;
        try
        {
            ok = pm.Run(module);
        }
        catch (Exception e)
        {
            throw new Exception($"'{pipelineText}' threw {e.GetType().Name}: {e.Message}\ninput:\n{TextDiff.Clip(input)}", e);
        }
        if (!ok || diag.HasErrors)
            throw new Exception($"'{pipelineText}' {(ok ? "reported errors" : "failed")}:\n{string.Join("\n", diag.All)}\ninput:\n{TextDiff.Clip(input)}");
    }

    /// <summary>Runs a pipeline; null when it succeeded, else the errors it reported (exceptions propagate).</summary>
    public static List<Diagnostic>? TryRunPipeline(string pipelineText, Operation module, Context ctx, TextWriter report)
    {
        var pipeline = PassPipelineParser.Parse(pipelineText, out var error)
                       ?? throw new Exception($"pipeline '{pipelineText}' does not parse: {error}");
        var diag = new DiagnosticEngine();
        var pm = new PassManager(new PassContext(ctx, diag, report), pipeline) { VerifyEach = true };
        bool ok = pm.Run(module);
        return ok && !diag.HasErrors ? null : diag.All.Where(d => d.Severity == Severity.Error).ToList();
    }

    public static int CountOps(Operation root)
    {
        int n = 0;
        root.Walk(_ => n++);
        return n;
    }

    public static List<string> Signatures(Operation module)
    {
        var list = new List<string>();
        module.Walk(op =>
        {
            if (op.Name == "func.func") list.Add($"{op.GetString("sym_name")}: {op.GetAttr("function_type")}");
        });
        return list;
    }
}
