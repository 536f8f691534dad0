using AutoSpIR.Passes;
using AutoSpIR.Tools.Gen;

namespace AutoSpIR.Tests.Gen;

/// <summary>
/// Every model of ../shared/models, generated (two layers, so the biggest stay small) and
/// differentiated: `autosp-gen ... | autosp-opt -p autodiff` verifies, and the joint function
/// returns the loss and one gradient per parameter, each of its parameter's type.
/// </summary>
public class GenAutodiffTests
{
    [Theory]
    [MemberData(nameof(GenTests.Configs), MemberType = typeof(GenTests))]
    public void EveryModelDifferentiates(string configFile)
    {
        var cfg = HfConfig.Parse(File.ReadAllText(Path.Combine(Repo.ModelsDir, configFile)));
        foreach (var dtype in new[] { "f32", "bf16" })
        {
            var module = LlamaGenerator.Generate(cfg, new GenOptions(128, 1, 2, dtype, "m"));
            var diag = new DiagnosticEngine();
            var pipeline = PassPipelineParser.Parse("autodiff", out var error)!;
            Assert.Null(error);
            bool ok = new PassManager(new PassContext(module.Context, diag, TextWriter.Null), pipeline).Run(module);
            Assert.True(ok, $"{configFile} {dtype}:\n{string.Join("\n", diag.All)}");

            var func = module.Region(0).Ops.Single(o => o.Name == "func.func");
            var sig = AutoSpIR.Dialects.Func.FuncDialect.Signature(func);
            var paramTypes = Enumerable.Range(0, sig.Inputs.Count)
                .Where(i => AutoSpIR.Dialects.Func.FuncDialect.ArgAttrs(func, i).Get("aspir.param") is not null)
                .Select(i => sig.Inputs[i]).ToList();
            Assert.Equal(1 + paramTypes.Count, sig.Results.Count);
            Assert.Equal(paramTypes, sig.Results.Skip(1));
        }
    }
}
