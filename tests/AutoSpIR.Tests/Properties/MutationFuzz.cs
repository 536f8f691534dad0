using System.Text;
using System.Text.RegularExpressions;
using AutoSpIR.Dialects;
using AutoSpIR.Grammar;
using FsCheck;
using FsCheck.Fluent;
using FsGen = FsCheck.Fluent.Gen;
using Xunit.Abstractions;

namespace AutoSpIR.Tests.Properties;

/// <summary>
/// Mutation fuzzing of the parser, verifier and passes. Valid inputs (the lit tests without
/// expected errors or split markers, examples/, and generated modules) are mutated at the
/// character and token level; every mutant is parsed and verified in a fresh context, and when
/// it is accepted it also goes through canonicalize,cse,dce and is printed. Nothing may throw or
/// take more than 5 s; a rejected mutant has at least one error, each located in the file
/// (line and column from 1) and written <c>file:line:col: error: message</c>; an accepted one
/// prints text that parses back to the same text, before and after the passes.
/// </summary>
public sealed partial class MutationFuzz(ITestOutputHelper output)
{
    /// <summary>Mutants per run; the environment variable ASPIR_MUTANTS raises it for a longer hunt.</summary>
    public static readonly int Mutants = int.TryParse(Environment.GetEnvironmentVariable("ASPIR_MUTANTS"), out var n) && n > 0 ? n : 5000;
    public const int GeneratedInputs = 50;
    public const string FileName = "mutant.aspir";
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(5);

    public sealed record Input(string Name, string Text, bool AllowUnregistered);

    public sealed record MutantSpec(int Input, int Seed)
    {
        public override string ToString() => $"MutantSpec(Input={Input}, Seed={Seed})";
    }

    public enum Verdict { Rejected, Accepted, Failed }

    /// <summary>What happened to one text: the verdict, for a failure its kind (to group and minimize by) and details.</summary>
    public sealed record Outcome(Verdict Verdict, string Kind = "", string Detail = "", string? FirstError = null);

    [Fact]
    public void MutantsAreRejectedCleanlyOrRoundTrip()
    {
        var inputs = Inputs(out var skipped);
        output.WriteLine($"{inputs.Count} seed inputs ({inputs.Count(i => i.Name.StartsWith("tests/", StringComparison.Ordinal))} lit, " +
                         $"{inputs.Count(i => i.Name.StartsWith("examples/", StringComparison.Ordinal))} examples, {inputs.Count(i => i.Name.StartsWith("generated", StringComparison.Ordinal))} generated); " +
                         $"skipped: {(skipped.Count == 0 ? "none" : string.Join(", ", skipped))}");
        Assert.NotEmpty(inputs);

        int accepted = 0, rejected = 0, failedCount = 0, runs = 0;
        bool hung = false;
        var failures = new Dictionary<string, (string Text, Outcome Outcome, Input Input, MutantSpec Spec)>();
        var errorKinds = new Dictionary<string, int>();
        var sw = System.Diagnostics.Stopwatch.StartNew();

        var gen = from input in FsGen.Choose(0, inputs.Count - 1)
                  from seed in FsGen.Choose(0, int.MaxValue - 1)
                  select new MutantSpec(input, seed);
        ulong propertySeed = PropertyRunner.SeedOr(0x5EED_0201);
        // The property records every outcome and never throws, so that all failures are collected,
        // grouped and minimized; the test fails afterwards when there is any.
        Check.One(PropertyRunner.ConfigFor(Mutants, propertySeed, "mutants"), Prop.ForAll(Arb.From(gen), (MutantSpec spec) =>
        {
            runs++;
            if (hung) return;   // a hung parse still runs in the background: do not pile more work on it
            var input = inputs[spec.Input];
            var text = Mutator.Mutate(input.Text, new System.Random(spec.Seed));
            var outcome = RunWithLimit(text, input.AllowUnregistered);
            switch (outcome.Verdict)
            {
                case Verdict.Accepted: accepted++; break;
                case Verdict.Rejected:
                    rejected++;
                    var key = ErrorKind(outcome.FirstError ?? "");
                    errorKinds[key] = errorKinds.GetValueOrDefault(key) + 1;
                    break;
                default:
                    failedCount++;
                    if (outcome.Kind == "hang") hung = true;
                    if (!failures.ContainsKey(outcome.Kind)) failures[outcome.Kind] = (text, outcome, input, spec);
                    break;
            }
        }));

        output.WriteLine($"{runs} mutants (property seed {propertySeed}) in {sw.Elapsed.TotalSeconds:F1}s: " +
                         $"{rejected} rejected, {accepted} accepted, {failedCount} failed{(hung ? " (stopped after a hang)" : "")}");
        output.WriteLine("most frequent first errors of rejected mutants:");
        foreach (var (kind, n) in errorKinds.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).Take(20))
            output.WriteLine($"  {n,5}  {kind}");
        Assert.True(runs >= Mutants, $"only {runs} mutants ran");

        if (failures.Count == 0) return;
        var report = new StringBuilder($"{failedCount} of {runs} mutants failed, in {failures.Count} kinds (property seed {propertySeed}):\n");
        foreach (var (kind, (text, outcome, input, spec)) in failures)
        {
            var minimal = kind == "hang" ? text : Minimize(text, input.AllowUnregistered, kind);
            report.Append($"\n=== {kind} (from {input.Name}, {spec})\n{outcome.Detail}\n--- minimized input ({minimal.Length} chars):\n{TextDiff.Clip(minimal, 3000)}\n");
            if (minimal != text) report.Append($"--- full mutant:\n{TextDiff.Clip(text, 3000)}\n");
        }
        output.WriteLine(report.ToString());
        Assert.Fail(report.ToString());
    }

    /// <summary>
    /// Minimal inputs of the failures the fuzzing found (each reduced by hand from a mutant): each
    /// must be rejected cleanly, or accepted and round-trip, like any mutant.
    /// </summary>
    [Theory]
    // A result index beyond int: int.Parse overflows in IrBuilder.ResolveUse.
    [InlineData("huge-result-index", false, "func.func @f(%a: tensor<f32>) -> tensor<f32> {\n  func.return %a#4294967296 : tensor<f32>\n}\n")]
    // A call of a function whose function_type is not a function type: FuncDialect.Signature casts.
    [InlineData("callee-type-not-function", false, "\"func.func\"() ({\n}) {function_type = f32, sym_name = \"g\", sym_visibility = \"private\"} : () -> ()\nfunc.func @f() {\n  func.call @g() : () -> ()\n  func.return\n}\n")]
    // A call of a function without function_type: FuncDialect.Signature dereferences null.
    [InlineData("callee-without-type", false, "\"func.func\"() ({\n}) {sym_name = \"g\", sym_visibility = \"private\"} : () -> ()\nfunc.func @f() {\n  func.call @g() : () -> ()\n  func.return\n}\n")]
    // sym_visibility is any string to the verifier, but the custom form only parses private/public/nested.
    [InlineData("bogus-visibility", false, "\"func.func\"() ({\n  \"func.return\"() : () -> ()\n}) {function_type = () -> (), sym_name = \"f\", sym_visibility = \"bogus\"} : () -> ()\n")]
    // An empty sym_visibility prints as "func.func  @f", which parses back without it.
    [InlineData("empty-visibility", false, "\"func.func\"() ({\n  \"func.return\"() : () -> ()\n}) {function_type = () -> (), sym_name = \"f\", sym_visibility = \"\"} : () -> ()\n")]
    // An op name with an escaped newline goes raw into the message, which then spans two lines.
    [InlineData("newline-in-op-name", false, "\"tensor.a\\nb\"() : () -> ()\n")]
    // The printer names an unlabeled entry block "bb0" without checking the labels of the other blocks:
    // once dce empties the entry block its label must be printed, and "^bb0" appears twice.
    [InlineData("entry-label-collides-after-dce", true, "func.func @f(%a: tensor<f32>) {\n  \"test.r\"() ({\n    %n = tensor.neg %a : tensor<f32>\n  ^bb0:\n    \"test.x\"() : () -> ()\n  }) : () -> ()\n  func.return\n}\n")]
    public void MinimalReprosAreHandledCleanly(string name, bool allowUnregistered, string text)
    {
        var outcome = RunWithLimit(text, allowUnregistered);
        output.WriteLine($"{name}: {outcome.Verdict} {outcome.Kind} {outcome.FirstError}");
        Assert.True(outcome.Verdict != Verdict.Failed, $"{name}: {outcome.Kind}\n{outcome.Detail}\ninput:\n{text}");
    }

    // ------------------------------------------------------------------ inputs

    /// <summary>The texts to mutate: lit tests and examples that parse cleanly, and generated modules.</summary>
    public static List<Input> Inputs(out List<string> skipped)
    {
        skipped = new List<string>();
        var inputs = new List<Input>();
        var files = new List<string>();
        var lit = Repo.PathOf("tests", "lit");
        if (Directory.Exists(lit)) files.AddRange(Directory.EnumerateFiles(lit, "*.aspir", SearchOption.AllDirectories));
        var examples = Repo.PathOf("examples");
        if (Directory.Exists(examples)) files.AddRange(Directory.EnumerateFiles(examples, "*.aspir", SearchOption.AllDirectories));
        foreach (var file in files.OrderBy(f => f, StringComparer.Ordinal))
        {
            var name = Path.GetRelativePath(Repo.Root, file);
            var text = File.ReadAllText(file);
            if (text.Contains("expected-error") || text.Contains("--allow-unregistered-dialect") || text.Contains("// -----") || text.Contains("--split-input-file"))
                continue;
            var diag = new DiagnosticEngine();
            if (AspIRParserDriver.ParseAndVerify(text, name, AllDialects.NewContext(), diag) is null)
            {
                skipped.Add($"{name} (does not parse: {diag.All.FirstOrDefault()})");
                continue;
            }
            inputs.Add(new Input(name, text, false));
        }
        var rng = new System.Random(20240611);
        for (int i = 0; i < GeneratedInputs; i++)
        {
            var spec = new ValidModuleSpec(rng.Next(), rng.Next(1, 31), rng.Next(1, 4));
            var module = ValidModuleBuilder.Build(spec, out _);
            inputs.Add(new Input($"generated valid #{i} ({spec.Seed})", Printer.Print(module, generic: i % 5 == 4), false));
        }
        for (int i = 0; i < GeneratedInputs / 5; i++)
        {
            var spec = new UnregisteredModuleSpec(rng.Next(), rng.Next(1, 6), rng.Next(0, 3));
            var module = UnregisteredModuleBuilder.Build(spec, out _, out _);
            var name = $"generated unregistered #{i} ({spec.Seed})";
            var text = Printer.Print(module, generic: i % 2 == 1);
            var ctx = AllDialects.NewContext();
            ctx.AllowUnregisteredDialects = true;
            var diag = new DiagnosticEngine();
            // The round-trip properties report a generated module that does not parse back; here it is only skipped.
            if (AspIRParserDriver.ParseAndVerify(text, name, ctx, diag) is null) skipped.Add($"{name} (does not parse: {diag.All.FirstOrDefault()})");
            else inputs.Add(new Input(name, text, true));
        }
        return inputs;
    }

    // ------------------------------------------------------------------ running one text

    public static Outcome RunWithLimit(string text, bool allowUnregistered)
    {
        var task = Task.Run(() => Run(text, allowUnregistered));
        if (!task.Wait(Limit))
            return new Outcome(Verdict.Failed, "hang", $"did not finish within {Limit.TotalSeconds} s");
        return task.Result;
    }

    private static Outcome Fail(string kind, string detail) => new(Verdict.Failed, kind, detail);

    private static string Where(Exception e)
    {
        var frame = e.StackTrace?.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("at AutoSpIR", StringComparison.Ordinal));
        return frame is null ? "" : " " + frame.Split(" in ")[0];
    }

    /// <summary>Parses, verifies, checks diagnostics; for an accepted text also runs the passes and the round trip.</summary>
    public static Outcome Run(string text, bool allowUnregistered)
    {
        var ctx = AllDialects.NewContext();
        ctx.AllowUnregisteredDialects = allowUnregistered;
        var diag = new DiagnosticEngine();
        Operation? module;
        try
        {
            module = AspIRParserDriver.ParseAndVerify(text, FileName, ctx, diag);
        }
        catch (Exception e)
        {
            return Fail($"parse threw {e.GetType().Name}{Where(e)}", e.ToString());
        }

        if (module is null)
        {
            var errors = diag.All.Where(d => d.Severity == Severity.Error).ToList();
            if (errors.Count == 0) return Fail("rejected without an error", "diagnostics: " + string.Join("\n", diag.All));
            var lines = text.Split('\n');
            foreach (var e in errors)
            {
                var loc = e.Location;
                if (loc.File != FileName || loc.Line < 1 || loc.Column < 1)
                    return Fail("error without a location in the file", $"{e} (location {loc.File} {loc.Line}:{loc.Column})");
                if (loc.Line > lines.Length)
                    return Fail("error located past the last line", $"{e} (the text has {lines.Length} lines)");
                if (loc.Column > lines[loc.Line - 1].TrimEnd('\r').Length + 1)
                    return Fail("error located past the end of its line", $"{e} (line {loc.Line} has {lines[loc.Line - 1].Length} characters)");
                var first = e.ToString().Split('\n')[0];
                if (!DiagnosticRegex().IsMatch(first))
                    return Fail("error not written file:line:col: error: message", first);
                if (e.Message.Contains('\n'))
                    return Fail("error message spans several lines", e.ToString());
            }
            return new Outcome(Verdict.Rejected, FirstError: errors[0].Message);
        }
        if (diag.HasErrors)
            return Fail("accepted with errors", string.Join("\n", diag.All));

        try
        {
            var check = RoundTrip(module, allowUnregistered, "the accepted mutant");
            if (check is not null) return check;
            var pdiag = new DiagnosticEngine();
            var pipeline = Passes.PassPipelineParser.Parse(PassProperties.Pipeline, out _)!;
            var pm = new Passes.PassManager(new Passes.PassContext(ctx, pdiag, TextWriter.Null), pipeline) { VerifyEach = true };
            bool ok;
            try
            {
                ok = pm.Run(module);
            }
            catch (Exception e)
            {
                return Fail($"{PassProperties.Pipeline} threw {e.GetType().Name}{Where(e)}", e.ToString());
            }
            if (!ok || pdiag.HasErrors)
                return Fail($"{PassProperties.Pipeline} failed on a valid module", string.Join("\n", pdiag.All));
            return RoundTrip(module, allowUnregistered, $"the mutant after {PassProperties.Pipeline}") ?? new Outcome(Verdict.Accepted);
        }
        catch (Exception e)
        {
            return Fail($"printing threw {e.GetType().Name}{Where(e)}", e.ToString());
        }
    }

    /// <summary>Print, parse, print: the same text and no diagnostics; null when it holds.</summary>
    private static Outcome? RoundTrip(Operation module, bool allowUnregistered, string what)
    {
        var printed = Printer.Print(module);
        var ctx = AllDialects.NewContext();
        ctx.AllowUnregisteredDialects = allowUnregistered;
        var diag = new DiagnosticEngine();
        Operation? again;
        try
        {
            again = AspIRParserDriver.ParseAndVerify(printed, "printed.aspir", ctx, diag);
        }
        catch (Exception e)
        {
            return Fail($"reparsing {what} threw {e.GetType().Name}{Where(e)}", e + "\nprinted:\n" + printed);
        }
        if (again is null || diag.All.Count > 0)
            return Fail($"printed {what} does not parse cleanly", string.Join("\n", diag.All) + "\nprinted:\n" + TextDiff.Clip(printed));
        var printed2 = Printer.Print(again);
        if (printed2 != printed)
            return Fail($"printed {what} changes when reparsed", TextDiff.FirstDifference(printed, printed2));
        return null;
    }

    [GeneratedRegex(@"^mutant\.aspir:[1-9][0-9]*:[1-9][0-9]*: error: \S.*$")]
    private static partial Regex DiagnosticRegex();

    /// <summary>An error message with names, numbers and quoted text blanked, to count kinds of errors.</summary>
    private static string ErrorKind(string message)
    {
        var s = Regex.Replace(message, "'[^']*'", "'_'");
        s = Regex.Replace(s, "\"[^\"]*\"", "\"_\"");
        s = Regex.Replace(s, @"-?\d+", "N");
        return s.Length > 110 ? s[..110] + "..." : s;
    }

    // ------------------------------------------------------------------ minimizing

    /// <summary>
    /// Shrinks a failing text while it fails the same way: drops lines, then tokens, then ever
    /// smaller chunks of characters (at most 1500 runs and 10 s).
    /// </summary>
    public static string Minimize(string text, bool allowUnregistered, string kind)
    {
        int budget = 1500;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        bool StillFails(string candidate)
        {
            if (budget-- <= 0 || clock.Elapsed > TimeSpan.FromSeconds(10))
            {
                budget = 0;
                return false;
            }
            var o = RunWithLimit(candidate, allowUnregistered);
            return o.Verdict == Verdict.Failed && o.Kind == kind;
        }

        // Lines first.
        var lines = text.Split('\n').ToList();
        for (int chunk = Math.Max(1, lines.Count / 2); chunk >= 1 && budget > 0; chunk /= 2)
        {
            for (int i = 0; i + chunk <= lines.Count && budget > 0;)
            {
                var candidate = lines.Take(i).Concat(lines.Skip(i + chunk)).ToList();
                if (candidate.Count > 0 && StillFails(string.Join('\n', candidate))) lines = candidate;
                else i += chunk;
            }
        }
        var current = string.Join('\n', lines);
        // Then tokens.
        var tokens = Mutator.Tokens(current);
        for (int chunk = Math.Max(1, tokens.Count / 2); chunk >= 1 && budget > 0; chunk /= 2)
        {
            for (int i = 0; i + chunk <= tokens.Count && budget > 0;)
            {
                var candidate = tokens.Take(i).Concat(tokens.Skip(i + chunk)).ToList();
                if (candidate.Count > 0 && StillFails(string.Concat(candidate))) tokens = candidate;
                else i += chunk;
            }
        }
        current = string.Concat(tokens);
        // Then characters.
        for (int chunk = Math.Max(1, current.Length / 4); chunk >= 1 && budget > 0; chunk /= 2)
        {
            for (int i = 0; i + chunk <= current.Length && budget > 0;)
            {
                var candidate = current.Remove(i, chunk);
                if (candidate.Length > 0 && StillFails(candidate)) current = candidate;
                else i += chunk;
            }
        }
        return current;
    }
}

/// <summary>Seeded character- and token-level mutations of .aspir text.</summary>
public static partial class Mutator
{
    private const string SyntaxChars = "%^@#!\"{}()<>[],:=-x?0123456789abzXY_.$\\/ \n\t";

    private static readonly string[] Numbers =
    {
        "99999999999999999999", "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
        "281474976710656", "281474976710657", "4294967296", "2147483648", "-2147483649", "-1", "0", "1", "-0", "1.5", "-2.5e-3",
        "1e400", "-1e400", "1e-400", "-0.0", "nan", "inf", "-inf", "0.0", "00", "1x", "7",
    };

    private static readonly string[] Types =
    {
        "tensor<4xf32>", "tensor<?x4xf32>", "tensor<f32>", "tensor<0xf32>", "tensor<2x3xi64>", "tensor<1x1x1x1xbf16>", "tensor<4xi1>",
        "tensor<4xf32, 1>", "tensor<281474976710657xf32>", "tensor<99999999999999999999xf32>", "tensor<4xfoo>", "tensor<4x?xindex>",
        "f32", "i1", "index", "bf16", "(f32) -> f32", "() -> ()", "!test.t", "tensor<4xf32, #test.enc>", "tensor<2x2x2x2xf16>", "tensor<>",
    };

    private static readonly string[] Words =
    {
        "module", "func.func", "func.return", "func.call", "tensor.bogus", "\"tensor.add\"", "foo.bar", "attributes", "private", "dense", "unit",
        "true", "false", "tensor", "%arg0", "%0", "%x#1", "^bb0", "@f", "#test.enc", "!test.t", "->", "{", "}", "(", ")", "<", ">", ":", "=", ",",
    };

    public static string Mutate(string text, System.Random rng)
    {
        int n = rng.Next(4) switch { 0 or 1 => 1, 2 => 2, _ => 3 };
        for (int i = 0; i < n && text.Length > 0; i++) text = MutateOnce(text, rng);
        return text;
    }

    private static string MutateOnce(string s, System.Random rng)
    {
        var tokens = TokenRegex().Matches(s);
        switch (rng.Next(15))
        {
            case 0: // delete a span of characters
            {
                int at = rng.Next(s.Length), len = Math.Min(s.Length - at, rng.Next(1, 9));
                return s.Remove(at, len);
            }
            case 1: // duplicate a span of characters
            {
                int at = rng.Next(s.Length), len = Math.Min(s.Length - at, rng.Next(1, 12));
                return s.Insert(at, s.Substring(at, len));
            }
            case 2: // swap two tokens
            {
                if (tokens.Count < 2) return s;
                var a = tokens[rng.Next(tokens.Count)];
                var b = tokens[rng.Next(tokens.Count)];
                if (a.Index > b.Index) (a, b) = (b, a);
                if (a.Index + a.Length > b.Index) return s;
                return s[..a.Index] + b.Value + s[(a.Index + a.Length)..b.Index] + a.Value + s[(b.Index + b.Length)..];
            }
            case 3: // delete a token
            {
                if (tokens.Count == 0) return s;
                var t = tokens[rng.Next(tokens.Count)];
                return s.Remove(t.Index, t.Length);
            }
            case 4: // duplicate a token
            {
                if (tokens.Count == 0) return s;
                var t = tokens[rng.Next(tokens.Count)];
                return s.Insert(t.Index, t.Value + (rng.Next(2) == 0 ? " " : ""));
            }
            case 5: // insert syntax characters
            {
                var sb = new StringBuilder();
                for (int i = 0, k = rng.Next(1, 4); i < k; i++) sb.Append(SyntaxChars[rng.Next(SyntaxChars.Length)]);
                return s.Insert(rng.Next(s.Length + 1), sb.ToString());
            }
            case 6: // replace a number
                return ReplaceOne(s, NumberRegex(), rng, _ => Numbers[rng.Next(Numbers.Length)]);
            case 7: // truncate
                return s[..rng.Next(s.Length)];
            case 8: // replace an op name with another
                return ReplaceOne(s, OpNameRegex(), rng, _ => OpNames[rng.Next(OpNames.Length)]);
            case 9: // replace a type with another
                return ReplaceOne(s, TypeRegex(), rng, _ => Types[rng.Next(Types.Length)]);
            case 10: // swap two adjacent characters
            {
                if (s.Length < 2) return s;
                int at = rng.Next(s.Length - 1);
                return s[..at] + s[at + 1] + s[at] + s[(at + 2)..];
            }
            case 11: // use another value name
            {
                var names = ValueRegex().Matches(s).Select(m => m.Value).Distinct().ToArray();
                if (names.Length == 0) return s;
                return ReplaceOne(s, ValueRegex(), rng, _ => names[rng.Next(names.Length)]);
            }
            case 12: // move, duplicate or delete a whole line
            {
                var lines = s.Split('\n').ToList();
                int a = rng.Next(lines.Count), b = rng.Next(lines.Count);
                switch (rng.Next(3))
                {
                    case 0: (lines[a], lines[b]) = (lines[b], lines[a]); break;
                    case 1: lines.Insert(b, lines[a]); break;
                    default: lines.RemoveAt(a); break;
                }
                return string.Join('\n', lines);
            }
            case 13: // replace a token with a syntax word
            {
                if (tokens.Count == 0) return s;
                var t = tokens[rng.Next(tokens.Count)];
                return s[..t.Index] + Words[rng.Next(Words.Length)] + s[(t.Index + t.Length)..];
            }
            default: // insert a syntax word between tokens
            {
                if (tokens.Count == 0) return s;
                var t = tokens[rng.Next(tokens.Count)];
                return s.Insert(t.Index, Words[rng.Next(Words.Length)] + " ");
            }
        }
    }

    /// <summary>The text cut into tokens, each with the whitespace before it, so that concatenating them gives the text back.</summary>
    public static List<string> Tokens(string s)
    {
        var list = new List<string>();
        int last = 0;
        foreach (Match m in TokenRegex().Matches(s))
        {
            list.Add(s[last..(m.Index + m.Length)]);
            last = m.Index + m.Length;
        }
        if (last < s.Length) list.Add(s[last..]);
        return list;
    }

    private static string ReplaceOne(string s, Regex regex, System.Random rng, Func<string, string> replacement)
    {
        var matches = regex.Matches(s);
        if (matches.Count == 0) return s;
        var m = matches[rng.Next(matches.Count)];
        return s[..m.Index] + replacement(m.Value) + s[(m.Index + m.Length)..];
    }

    private static readonly string[] OpNames = AllDialects.NewContext().Dialects
        .SelectMany(d => d.Ops).Select(o => o.Name)
        .Concat(new[] { "module", "tensor.bogus", "foo.bar", "func.funcx", "tensor", "\"tensor.add\"" })
        .OrderBy(n => n, StringComparer.Ordinal).ToArray();

    [GeneratedRegex(@"""(?:[^""\\\n]|\\.)*""|[%^@#!]?[A-Za-z_0-9$.\-]+(?:#\d+)?|->|\S")]
    private static partial Regex TokenRegex();

    [GeneratedRegex(@"-?\b\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")]
    private static partial Regex NumberRegex();

    [GeneratedRegex(@"\b(?:tensor|func)\.[a-z_]+\b|\bmodule\b")]
    private static partial Regex OpNameRegex();

    [GeneratedRegex(@"tensor<[^<>]*>|\b(?:f32|f64|bf16|f16|i64|i32|i8|i1|index)\b|\([^()]*\) -> [a-z0-9<>?]+")]
    private static partial Regex TypeRegex();

    [GeneratedRegex(@"%[A-Za-z_0-9$.\-]+")]
    private static partial Regex ValueRegex();
}
