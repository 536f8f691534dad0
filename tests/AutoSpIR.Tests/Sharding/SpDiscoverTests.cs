using AutoSpIR.Dialects;
using AutoSpIR.Dialects.Func;
using AutoSpIR.Grammar;
using AutoSpIR.Passes;
using AutoSpIR.Tools.Gen;

// Not AutoSpIR.Tests.Sharding: that namespace would hide the runtime's Sharding class from the Comm tests.
namespace AutoSpIR.Tests.OpSharding;

/// <summary>
/// sp-discover on the training step of every model of ../shared/models (2 layers), printed as
/// autosp-gen prints it, with its aspir.seq_dim attributes removed: input_ids and labels get
/// aspir.seq_dim = 1 back and nothing else gets one, in the forward function and in the joint
/// forward+backward function, with a batch of 1 and of 2.
/// </summary>
public class SpDiscoverTests
{
    private static Operation Stripped(string configFile, long batch, Context ctx)
    {
        var cfg = HfConfig.Parse(File.ReadAllText(Path.Combine(Repo.ModelsDir, configFile)));
        var text = Printer.Print(LlamaGenerator.Generate(cfg, new GenOptions(64, batch, 2, "bf16", "m")));
        var stripped = text.Replace(", aspir.seq_dim = 1", "");
        Assert.Equal(2, (text.Length - stripped.Length) / ", aspir.seq_dim = 1".Length);
        var diag = new DiagnosticEngine();
        var module = AspIRParserDriver.ParseAndVerify(stripped, configFile, ctx, diag);
        Assert.True(module is not null, string.Join("\n", diag.All));
        return module!;
    }

    private static void Run(Operation module, string pipeline)
    {
        var diag = new DiagnosticEngine();
        var passes = PassPipelineParser.Parse(pipeline, out var error)!;
        Assert.Null(error);
        bool ok = new PassManager(new PassContext(module.Context, diag, TextWriter.Null), passes).Run(module);
        Assert.True(ok, string.Join("\n", diag.All));
    }

    private static void CheckSeqDims(Operation module, string what)
    {
        var func = module.Region(0).Ops.Single(o => o.Name == "func.func");
        var n = FuncDialect.Signature(func).Inputs.Count;
        for (int i = 0; i < n; i++)
        {
            var seq = FuncDialect.ArgAttrs(func, i).Get("aspir.seq_dim");
            if (i < 2) Assert.True(seq is IntegerAttr { Value: 1 }, $"{what}: argument #{i} has aspir.seq_dim {seq?.ToString() ?? "(none)"}");
            else Assert.True(seq is null, $"{what}: parameter #{i} got aspir.seq_dim {seq}");
        }
    }

    [Theory]
    [MemberData(nameof(Gen.GenTests.Configs), MemberType = typeof(Gen.GenTests))]
    public void EveryModelRecoversItsSequenceDimension(string configFile)
    {
        var ctx = AllDialects.NewContext();
        foreach (var batch in new long[] { 1, 2 })
        {
            var forward = Stripped(configFile, batch, ctx);
            Run(forward, "sp-discover");
            CheckSeqDims(forward, $"{configFile} batch {batch} forward");

            var joint = Stripped(configFile, batch, ctx);
            Run(joint, "autodiff,sp-discover");
            CheckSeqDims(joint, $"{configFile} batch {batch} joint");
        }
    }

    /// <summary>The joint function alone, without any forward attention op, still has attention_grad's sequence.</summary>
    [Fact]
    public void AttentionGradAloneDefinesTheSequence()
    {
        var ctx = AllDialects.NewContext();
        var diag = new DiagnosticEngine();
        var module = AspIRParserDriver.ParseAndVerify("""
            func.func @bwd(%q: tensor<1x8x2x4xf32>, %k: tensor<1x8x1x4xf32>, %v: tensor<1x8x1x4xf32>, %do: tensor<1x8x2x4xf32>) -> tensor<1x8x1x4xf32> {
              %g:3 = tensor.attention_grad %q, %k, %v, %do {causal} : (tensor<1x8x2x4xf32>, tensor<1x8x1x4xf32>, tensor<1x8x1x4xf32>, tensor<1x8x2x4xf32>) -> (tensor<1x8x2x4xf32>, tensor<1x8x1x4xf32>, tensor<1x8x1x4xf32>)
              %s = tensor.add %g#1, %k : tensor<1x8x1x4xf32>
              %t = tensor.add %s, %v : tensor<1x8x1x4xf32>
              func.return %t : tensor<1x8x1x4xf32>
            }
            """, "bwd", ctx, diag)!;
        Assert.Empty(diag.All);
        // q and do reach the query sequence; k and v only the key sequence, a class of its own here.
        var pass = new AutoSpIR.Passes.AutoSp.SpDiscover(entry: "bwd");   // no parameter: not selected by default
        Assert.False(pass.Run(module, new PassContext(ctx, diag, TextWriter.Null)));
        Assert.Equal(new[]
        {
            "sp-discover: argument #1 ('k') has no aspir.seq_dim and its dimensions do not reach an attention op's sequence; add {aspir.seq_dim = N}",
            "sp-discover: argument #2 ('v') has no aspir.seq_dim and its dimensions do not reach an attention op's sequence; add {aspir.seq_dim = N}",
        }, diag.All.Select(d => d.Message));
    }
}
