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
    public const int Cases = 200;
    public const string Pipeline = "canonicalize,cse,dce";

    /// <summary>The registered passes plus the standard pipeline, as pipeline texts.</summary>
    public static IEnumerable<string> PipelinesUnderTest() => PassRegistry.All.Select(p => p.Name).Append(Pipeline);

    [Fact]
    public void PassesKeepModulesValid() =>
        PropertyRunner.ForAll(output, "passes keep modules valid", ModuleGenerators.ValidModules, Cases, 0x5EED_0101, spec =>
        {
            foreach (var pipeline in PipelinesUnderTest())
            {
                var module = ValidModuleBuilder.Build(spec, out var ctx);
                var signatures = PassRunning.Signatures(module);
                int before = PassRunning.CountOps(module);
                var report = new StringWriter();
                PassRunning.RunPipeline(pipeline, module, ctx, report);

                var diag = new DiagnosticEngine();
                if (!Verifier.Verify(module, diag))
                    throw new Exception($"after '{pipeline}' the module does not verify:\n{string.Join("\n", diag.All)}\n{TextDiff.Clip(Printer.Print(module, generic: true))}");
                int after = PassRunning.CountOps(module);
                if (pipeline is "cse" or "dce" && after > before)
                    throw new Exception($"'{pipeline}' increased the op count from {before} to {after}");
                if (!PassRunning.Signatures(module).SequenceEqual(signatures))
                    throw new Exception($"'{pipeline}' changed a function signature:\n  before {string.Join("; ", signatures)}\n  after  {string.Join("; ", PassRunning.Signatures(module))}");
                if (pipeline == "cost-report" && report.ToString().Length == 0)
                    throw new Exception("cost-report wrote no report");

                // What a pass leaves behind prints and parses back like any module.
                RoundTripChecks.CheckRoundTrip(module, allowUnregistered: false);
            }
        });

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
