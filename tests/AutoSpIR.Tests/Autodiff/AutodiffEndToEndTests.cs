using AutoSpIR.Dialects;
using AutoSpIR.Grammar;
using AutoSpIR.Passes;
using AutoSpIR.Runtime;
using Xunit.Abstractions;

namespace AutoSpIR.Tests.Autodiff;

/// <summary>
/// autodiff on a whole decoder layer (examples/llama-layer.aspir in f64: embedding, rms_norm,
/// GQA attention with rope, SwiGLU MLP, cross-entropy): the joint function's gradients agree with
/// central finite differences of the forward function at sampled elements of every parameter.
/// </summary>
public sealed class AutodiffEndToEndTests(ITestOutputHelper output)
{
    [Fact]
    public void LlamaLayerGradientsMatchFiniteDifferences()
    {
        var text = File.ReadAllText(Repo.PathOf("examples", "llama-layer.aspir")).Replace("xf32>", "xf64>").Replace("tensor<f32>", "tensor<f64>");
        var ctx = AllDialects.NewContext();
        var diag = new DiagnosticEngine();
        var module = AspIRParserDriver.ParseAndVerify(text, "llama-layer.aspir", ctx, diag);
        Assert.True(module is not null, string.Join("\n", diag.All));
        var forward = module!.Region(0).Ops.Single(o => o.Name == "func.func");
        var jointModule = module.Clone();
        var pm = new PassManager(new PassContext(ctx, diag, TextWriter.Null), PassPipelineParser.Parse("autodiff", out _)!);
        Assert.True(pm.Run(jointModule) && !diag.HasErrors, string.Join("\n", diag.All));
        var joint = jointModule.Region(0).Ops.Single(o => o.Name == "func.func");

        var rng = new Random(1234);
        var args = forward.Region(0).Blocks[0].Arguments.Select(a =>
        {
            var t = new HostTensor((TensorType)a.Type);
            for (long i = 0; i < t.Count; i++)
                if (t.Ints is not null) t.Ints[i] = rng.Next(128);
                else t.F64![i] = (rng.NextDouble() * 2 - 1) * (a.Type is TensorType { Rank: 1 } ? 1 : 0.3);
            return t;
        }).ToArray();
        var results = Interpreter.Run(joint, args).Results;
        Assert.Equal(Interpreter.Run(forward, args).Results[0].Get(0), results[0].Get(0));

        const double h = 1e-6;
        var paramIndices = Enumerable.Range(0, args.Length).Where(i => FuncDialectArgIsParam(forward, i)).ToArray();
        Assert.Equal(1 + paramIndices.Length, results.Length);
        for (int k = 0; k < paramIndices.Length; k++)
        {
            var p = args[paramIndices[k]].F64!;
            var grad = results[1 + k].F64!;
            double scale = Math.Max(grad.Max(Math.Abs), 1e-3), worst = 0;
            for (int sample = 0; sample < 4; sample++)
            {
                // The largest gradient element first (the embedding table's rows are mostly unused), then random ones.
                int i = sample == 0 ? Array.IndexOf(grad, grad.MaxBy(Math.Abs)) : rng.Next(p.Length);
                double saved = p[i];
                p[i] = saved + h;
                double up = Interpreter.Run(forward, args).Results[0].Get(0);
                p[i] = saved - h;
                double down = Interpreter.Run(forward, args).Results[0].Get(0);
                p[i] = saved;
                worst = Math.Max(worst, Math.Abs((up - down) / (2 * h) - grad[i]) / scale);
            }
            output.WriteLine($"argument #{paramIndices[k]}: max |grad - fd| / max |grad| = {worst:G3}");
            Assert.True(worst <= 1e-5, $"the gradient of argument #{paramIndices[k]} differs from finite differences: {worst:G3}");
        }
    }

    private static bool FuncDialectArgIsParam(Operation func, int i) =>
        AutoSpIR.Dialects.Func.FuncDialect.ArgAttrs(func, i).Get("aspir.param") is not null;
}
