using AutoSpIR.Dialects;
using AutoSpIR.Grammar;
using Xunit.Abstractions;

namespace AutoSpIR.Tests.Properties;

/// <summary>
/// Printing and parsing are inverse on generated modules: for the custom and the generic
/// form, print -> parse -> print gives the same text, parsing reports nothing, and a module
/// parsed from its generic form prints in custom form exactly like the original.
/// </summary>
public sealed class RoundTripProperties(ITestOutputHelper output)
{
    public const int ValidCases = 1000;
    public const int UnregisteredCases = 600;

    [Fact]
    public void GeneratedValidModulesVerify() =>
        PropertyRunner.ForAll(output, "generated valid modules verify", ModuleGenerators.ValidModules, 200, 0x5EED_0001, spec =>
        {
            var module = ValidModuleBuilder.Build(spec, out _);
            var diag = new DiagnosticEngine();
            if (!Verifier.Verify(module, diag))
                throw new Exception("the generator built an invalid module:\n" + string.Join("\n", diag.All) + "\n" + Printer.Print(module, generic: true));
        });

    [Fact]
    public void ValidModulesRoundTrip() =>
        PropertyRunner.ForAll(output, "valid modules round-trip", ModuleGenerators.ValidModules, ValidCases, 0x5EED_0002, spec =>
        {
            var module = ValidModuleBuilder.Build(spec, out _);
            RoundTripChecks.CheckRoundTrip(module, allowUnregistered: false);
        });

    [Fact]
    public void UnregisteredModulesRoundTrip() =>
        PropertyRunner.ForAll(output, "unregistered-op modules round-trip", ModuleGenerators.UnregisteredModules(), UnregisteredCases, 0x5EED_0003, spec =>
        {
            var module = UnregisteredModuleBuilder.Build(spec, out _, out _);
            RoundTripChecks.CheckRoundTrip(module, allowUnregistered: true);
        });

    /// <summary>
    /// Every attribute comes back from the text with the value it was built from: compared with
    /// the generator's model (floats bit for bit, after rounding to their type), not with the
    /// context's interned attribute, so a value the context merged with another one shows up.
    /// </summary>
    [Fact]
    public void UnregisteredAttributesKeepTheirValues() =>
        PropertyRunner.ForAll(output, "attributes keep their exact values", ModuleGenerators.UnregisteredModules(), UnregisteredCases, 0x5EED_0004, spec =>
        {
            var module = UnregisteredModuleBuilder.Build(spec, out _, out var models);
            var built = ModeledOps(module);
            if (built.Count != models.Count) throw new Exception($"generator bookkeeping: {built.Count} ops, {models.Count} models");
            CompareWithModels("the built module", built, models);
            foreach (var generic in new[] { false, true })
            {
                var text = Printer.Print(module, generic);
                var parsed = RoundTripChecks.ParseClean(text, allowUnregistered: true, generic ? "generic form" : "custom form");
                CompareWithModels($"the module parsed from its {(generic ? "generic" : "custom")} form", ModeledOps(parsed), models, text);
            }
        });

    /// <summary>
    /// Block labels are not made unique by the printer: blocks named alike through the IR API (a
    /// cloned region, two blocks with the same NameHint) print with one label twice.
    /// </summary>
    [Fact]
    public void BlocksWithCollidingNamesRoundTrip() =>
        PropertyRunner.ForAll(output, "blocks with colliding names round-trip", ModuleGenerators.UnregisteredModules(collidingBlockNames: true), 200, 0x5EED_0005, spec =>
        {
            var module = UnregisteredModuleBuilder.Build(spec, out _, out _);
            RoundTripChecks.CheckRoundTrip(module, allowUnregistered: true);
        });

    /// <summary>
    /// A successor naming the entry block once parsed and verified, and then printed without the
    /// label it needed. The verifier now rejects it with a located error, as MLIR does.
    /// </summary>
    [Fact]
    public void EntryBlockAsSuccessorIsRejected()
    {
        // As in MLIR, the entry block of a region may not have predecessors.
        const string text = "\"test.loop\"() ({\n^bb0:\n  \"test.br\"() [^bb0] : () -> ()\n}) : () -> ()\n";
        var ctx = AllDialects.NewContext();
        ctx.AllowUnregisteredDialects = true;
        var diag = new DiagnosticEngine();
        Assert.Null(AutoSpIR.Grammar.AspIRParserDriver.ParseAndVerify(text, "input.aspir", ctx, diag));
        Assert.Contains(diag.All, d => d.ToString() == "input.aspir:3:3: error: 'test.br' op branches to the entry block of its region, which may not have predecessors");
    }

    /// <summary>
    /// Minimal repros of what <see cref="UnregisteredAttributesKeepTheirValues"/> finds: the context
    /// interns attributes by value equality, and 0.0 == -0.0, so whichever signed zero comes first
    /// replaces the other (float attributes and dense elements alike); the text loses a -0.0 or gains one.
    /// </summary>
    [Theory]
    [InlineData(true, "\"test.op\"() {a = 0.0, b = -0.0} : () -> ()\n")]
    [InlineData(false, "func.func @f() -> (tensor<2xf32>, tensor<2xf32>) {\n  %a = tensor.constant dense<[1.0, 0.0]> : tensor<2xf32>\n  %b = tensor.constant dense<[1.0, -0.0]> : tensor<2xf32>\n  func.return %a, %b : tensor<2xf32>, tensor<2xf32>\n}\n")]
    public void SignedZerosStayDistinct(bool allowUnregistered, string text)
    {
        var module = RoundTripChecks.ParseClean(text, allowUnregistered, "input");
        var printed = Printer.Print(module);
        output.WriteLine(printed);
        Assert.True(printed.Contains("-0.0") && printed.Replace("-0.0", "").Contains("0.0"),
            $"a signed zero was merged with the other one:\ninput:\n{text}\nprinted:\n{printed}");
    }

    /// <summary>
    /// Dialect types and attributes keep their body as balanced tokens (grammar rule dialectBody);
    /// a tensor type is one of the things such a body holds (a sharded layout, a wrapped type).
    /// </summary>
    [Theory]
    [InlineData("\"test.op\"() {a = !test.t<tensor<4xf32>>} : () -> ()\n")]
    [InlineData("\"test.op\"() {a = #test.layout<tensor<2x?xi8>, 1>} : () -> ()\n")]
    [InlineData("%r = \"test.op\"() : () -> !test.wrap<tensor<4xf32>>\n")]
    public void DialectBodiesWithTensorTypesRoundTrip(string text)
    {
        var module = RoundTripChecks.ParseClean(text, allowUnregistered: true, "input");
        RoundTripChecks.CheckRoundTrip(module, allowUnregistered: true);
    }

    /// <summary>The valid-module generator reaches (nearly) every registered tensor op and builds sizeable bodies.</summary>
    [Fact]
    public void ValidModuleGeneratorCoversTheTensorDialect()
    {
        var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
        long ops = 0;
        var registered = AllDialects.NewContext().LookupDialect("tensor")!.Ops.Select(o => o.Name).ToList();
        foreach (var spec in ModuleGenerators.SampleValid(200, 7))
        {
            var module = ValidModuleBuilder.Build(spec, out _);
            module.Walk(op =>
            {
                ops++;
                counts[op.Name] = counts.GetValueOrDefault(op.Name) + 1;
            });
        }
        output.WriteLine($"200 modules, {ops} ops: " + string.Join(", ", counts.Select(kv => $"{kv.Key} {kv.Value}")));
        var missing = registered.Where(n => !counts.ContainsKey(n)).ToList();
        if (missing.Count > 0) output.WriteLine("never generated: " + string.Join(", ", missing));
        Assert.True(missing.Count <= registered.Count / 5, "the generator misses too many tensor ops: " + string.Join(", ", missing));
        Assert.True(ops / 200.0 >= 10, $"modules are too small: {ops / 200.0:F1} ops on average");
    }

    // ------------------------------------------------------------------ helpers

    private static List<Operation> ModeledOps(Operation module)
    {
        var ops = new List<Operation>();
        module.Walk(op => { if (UnregisteredModuleBuilder.IsModeled(op)) ops.Add(op); });
        return ops;
    }

    private static void CompareWithModels(string what, List<Operation> ops, List<DictModel> models, string? text = null)
    {
        if (ops.Count != models.Count)
            throw new Exception($"{what} has {ops.Count} unregistered ops, expected {models.Count}");
        for (int i = 0; i < ops.Count; i++)
        {
            if (models[i].Matches(ops[i].Attributes)) continue;
            // Find the entry that differs, for the message.
            var entry = models[i].Entries.FirstOrDefault(e => ops[i].Attributes.Get(e.Key) is not { } v || !e.Value.Matches(v));
            throw new Exception($"{what}: op #{i} '{ops[i].Name}' has attributes {ops[i].Attributes}\n" +
                                $"expected the model {models[i]}\n" +
                                (entry.Key is not null ? $"entry '{entry.Key}' is {ops[i].Attributes.Get(entry.Key)?.ToString() ?? "missing"}, model {entry.Value}\n" : "") +
                                (text is null ? "" : "text:\n" + TextDiff.Clip(text)));
        }
    }

}

/// <summary>Parsing that must succeed cleanly, and the round trips of both printed forms.</summary>
public static class RoundTripChecks
{
    /// <summary>Parses and verifies text that must be clean: a module, and no diagnostic at all.</summary>
    public static Operation ParseClean(string text, bool allowUnregistered, string what)
    {
        var ctx = AllDialects.NewContext();
        ctx.AllowUnregisteredDialects = allowUnregistered;
        var diag = new DiagnosticEngine();
        Operation? module;
        try
        {
            module = AspIRParserDriver.ParseAndVerify(text, "roundtrip.aspir", ctx, diag);
        }
        catch (Exception e)
        {
            throw new Exception($"parsing the {what} threw {e.GetType().Name}: {e.Message}\ntext:\n{TextDiff.Clip(text)}", e);
        }
        if (module is null || diag.All.Count > 0)
            throw new Exception($"parsing the {what} {(module is null ? "failed" : "reported diagnostics")}:\n" +
                                string.Join("\n", diag.All) + $"\ntext:\n{TextDiff.Clip(text)}");
        return module;
    }

    /// <summary>The three round trips of the custom and generic forms.</summary>
    public static void CheckRoundTrip(Operation module, bool allowUnregistered)
    {
        var custom = Printer.Print(module);
        var fromCustom = ParseClean(custom, allowUnregistered, "custom form");
        var custom2 = Printer.Print(fromCustom);
        if (custom2 != custom)
            throw new Exception("custom form: print -> parse -> print changed the text\n" + TextDiff.FirstDifference(custom, custom2) + "\nfirst print:\n" + TextDiff.Clip(custom));

        var generic = Printer.Print(module, generic: true);
        var fromGeneric = ParseClean(generic, allowUnregistered, "generic form");
        var generic2 = Printer.Print(fromGeneric, generic: true);
        if (generic2 != generic)
            throw new Exception("generic form: print -> parse -> print changed the text\n" + TextDiff.FirstDifference(generic, generic2) + "\nfirst print:\n" + TextDiff.Clip(generic));

        var customOfGeneric = Printer.Print(fromGeneric);
        if (customOfGeneric != custom)
            throw new Exception("the module parsed from the generic form prints differently in custom form than the original\n" +
                                TextDiff.FirstDifference(custom, customOfGeneric) + "\ngeneric text:\n" + TextDiff.Clip(generic));
    }
}
