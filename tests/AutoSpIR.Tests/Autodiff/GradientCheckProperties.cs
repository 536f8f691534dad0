using System.Diagnostics;
using AutoSpIR.Dialects;
using AutoSpIR.Dialects.Tensor;
using AutoSpIR.Grammar;
using AutoSpIR.Passes;
using AutoSpIR.Runtime;
using FsCheck;
using FsCheck.Fluent;
using Microsoft.FSharp.Core;
using Xunit.Abstractions;
using FsGen = FsCheck.Fluent.Gen;

namespace AutoSpIR.Tests.Autodiff;

/// <summary>
/// The gradients autodiff builds are right, numerically, for every differentiable op: for random
/// small shapes, attributes and f64 inputs (<see cref="GradientCases"/>), the program
/// <c>loss = reduce_sum(op(inputs) * r)</c> goes through <c>autodiff</c>, the joint function runs
/// in the reference interpreter, and each parameter's gradient is compared with central finite
/// differences of the forward function (h = 1e-6): max |grad - fd| / max |fd| must stay below
/// 1e-5 (max |fd| floored at 1e-3, so an all-but-zero gradient is compared absolutely). The joint
/// function must also return the forward loss unchanged, verify and round-trip.
/// </summary>
public sealed class GradientCheckProperties(ITestOutputHelper output)
{
    public const int CasesPerOp = 100;
    public const double H = 1e-6;
    public const double Tolerance = 1e-5;
    public const ulong Seed = 0x5EED_AD00;

    public static TheoryData<string> Ops()
    {
        var d = new TheoryData<string>();
        foreach (var op in GradientCases.Ops) d.Add(op);
        return d;
    }

    [Theory]
    [MemberData(nameof(Ops))]
    public void GradientsMatchFiniteDifferences(string op)
    {
        ulong seed = Seed + (ulong)Array.IndexOf(GradientCases.Ops, op);
        var config = Config.QuickThrowOnFailure
            .WithMaxTest(CasesPerOp)
            .WithQuietOnSuccess(true)
            .WithName($"gradient of tensor.{op}")
            .WithReplay(FSharpOption<Replay>.Some(new Replay(new Rnd(seed), FSharpOption<int>.None)));
        var cases = FsGen.Choose(0, int.MaxValue - 1).Select(s => GradientCases.Build(op, new Random(s)));
        var sw = Stopwatch.StartNew();
        int runs = 0;
        Check.One(config, Prop.ForAll(Arb.From(cases), (GradientCase c) =>
        {
            runs++;
            CheckCase(c);
        }));
        output.WriteLine($"tensor.{op}: {runs} cases in {sw.Elapsed.TotalSeconds:F2}s (seed {seed})");
    }

    /// <summary>Every op of the tensor dialect has a gradient rule except the backward ops, and every rule is checked here.</summary>
    [Fact]
    public void EveryForwardOpHasACheckedGradientRule()
    {
        var backward = new[] { ActivationGrad.SiluGrad, ActivationGrad.GeluGrad, SoftmaxGrad.Def, ReduceMaxGrad.Def, RmsNormGrad.Def,
                               RopeGrad.Def, AttentionGrad.Def, CrossEntropyGrad.Def, EmbeddingGrad.Def };
        foreach (var def in TensorDialect.Ops)
        {
            if (def == AdamW.Def) { Assert.Null(def.Gradient); continue; }   // the optimizer update: nothing differentiates through it
            if (backward.Contains(def))
            {
                Assert.True(def.Gradient is null, $"the backward op '{def.Name}' has a gradient rule, but autodiff is first-order");
                continue;
            }
            Assert.True(def.Gradient is not null, $"'{def.Name}' has no gradient rule");
            if (def.Name != "tensor.constant")
                Assert.True(GradientCases.Ops.Contains(def.Name["tensor.".Length..]), $"the gradient rule of '{def.Name}' is not checked by a property");
        }
    }

    // ------------------------------------------------------------------ one case

    private static void CheckCase(GradientCase c)
    {
        var ctx = AllDialects.NewContext();
        var diag = new DiagnosticEngine();
        var forwardModule = AspIRParserDriver.ParseAndVerify(c.Text, "case.aspir", ctx, diag)
                            ?? throw new Exception($"the case does not parse:\n{string.Join("\n", diag.All)}\n{c.Text}");
        var jointModule = forwardModule.Clone();
        var pipeline = PassPipelineParser.Parse("autodiff", out var pipelineError) ?? throw new Exception(pipelineError);
        var pm = new PassManager(new PassContext(ctx, diag, TextWriter.Null), pipeline) { VerifyEach = true };
        if (!pm.Run(jointModule) || diag.HasErrors)
            throw new Exception($"autodiff failed:\n{string.Join("\n", diag.All)}\n{c.Text}");
        var jointText = Printer.Print(jointModule);
        var reparsed = AspIRParserDriver.ParseAndVerify(jointText, "joint.aspir", AllDialects.NewContext(), diag);
        if (reparsed is null || Printer.Print(reparsed) != jointText)
            throw new Exception($"the joint function does not round-trip:\n{string.Join("\n", diag.All)}\n{jointText}");

        var forward = forwardModule.Region(0).Ops.Single(o => o.Name == "func.func");
        var joint = jointModule.Region(0).Ops.Single(o => o.Name == "func.func");
        var args = forward.Region(0).Blocks[0].Arguments
            .Select((a, i) => c.Args[i].Floats is { } f
                ? new HostTensor((TensorType)a.Type, f64: (double[])f.Clone())
                : new HostTensor((TensorType)a.Type, ints: (long[])c.Args[i].Ints!.Clone()))
            .ToArray();

        var results = Interpreter.Run(joint, args).Results;
        double loss = Interpreter.Run(forward, args).Results[0].Get(0);
        if (results[0].Get(0).CompareTo(loss) != 0)
            throw new Exception($"the joint function's loss {results[0].Get(0)} differs from the forward loss {loss}\n{jointText}");

        var paramIndices = c.Args.Select((a, i) => (a, i)).Where(p => p.a.IsParam).Select(p => p.i).ToArray();
        if (results.Length != 1 + paramIndices.Length)
            throw new Exception($"the joint function returns {results.Length} values, expected the loss and {paramIndices.Length} gradients\n{jointText}");
        for (int k = 0; k < paramIndices.Length; k++)
        {
            var p = args[paramIndices[k]].F64!;
            var grad = results[1 + k].ToDoubles();
            double maxDiff = 0, maxFd = 0;
            int worst = -1;
            var fd = new double[p.Length];
            for (int i = 0; i < p.Length; i++)
            {
                double saved = p[i];
                p[i] = saved + H;
                double up = Interpreter.Run(forward, args).Results[0].Get(0);
                p[i] = saved - H;
                double down = Interpreter.Run(forward, args).Results[0].Get(0);
                p[i] = saved;
                fd[i] = (up - down) / (2 * H);
                maxFd = Math.Max(maxFd, Math.Abs(fd[i]));
                double diff = Math.Abs(grad[i] - fd[i]);
                if (!(diff <= maxDiff)) { maxDiff = diff; worst = i; }
            }
            double relative = maxDiff / Math.Max(maxFd, 1e-3);
            if (!(relative <= Tolerance))
                throw new Exception(
                    $"the gradient of '{c.Args[paramIndices[k]].Name}' differs from finite differences: max |grad - fd| / max |fd| = {GradientCases.Format(relative)} " +
                    $"(at element {worst}: grad {GradientCases.Format(grad[worst])}, fd {GradientCases.Format(fd[worst])})\n" +
                    $"grad = [{string.Join(", ", grad.Select(GradientCases.Format))}]\nfd   = [{string.Join(", ", fd.Select(GradientCases.Format))}]\n" +
                    $"program:\n{c.Text}\njoint:\n{jointText}");
        }
    }
}
