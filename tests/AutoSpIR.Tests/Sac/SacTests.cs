using AutoSpIR.Dialects;
using AutoSpIR.Runtime;
using AutoSpIR.Tests.AutoSp;
using AutoSpIR.Tests.Properties;
using AutoSpIR.Tools.Gen;
using FsCheck.Fluent;
using Xunit.Abstractions;
using FsGen = FsCheck.Fluent.Gen;

namespace AutoSpIR.Tests.Sac;

/// <summary>
/// <c>sac</c>: checkpointing changes no result (loss and every gradient bit-identical to the
/// program autodiff made, on one device and per rank after <c>autosp{sp=P,dp=D}</c>), and it
/// lowers the interpreter-measured peak of tiny-llama at long sequence lengths.
/// </summary>
public class SacTests(ITestOutputHelper output)
{
    /// <summary>
    /// The policies tried: the default, torch's, keep-almost-all, recompute-almost-all, and a
    /// threshold between these small decoders' linears (2-2.5 FLOPs per byte in f64) and their
    /// attention (about 3 and up), which keeps attention and recomputes the rest, as sac does at
    /// long context.
    /// </summary>
    private static readonly string[] Policies =
        { "sac", "torch-default", "sac{flops-per-byte=0}", "sac{flops-per-byte=1e9}", "sac{flops-per-byte=2.6}" };

    private static readonly FsCheck.Gen<(DecoderCase Case, string Policy)> Cases =
        from sp in FsGen.Elements(1, 1, 2, 4)
        from dp in FsGen.Elements(1, 1, 2)
        from mult in FsGen.Elements(1, 2)
        let heads = sp * mult
        from kv in FsGen.Elements(Enumerable.Range(1, heads).Where(k => heads % k == 0).ToArray())
        from headDim in FsGen.Elements(2, 4)
        from hidden in FsGen.Elements(8, 12)
        from inter in FsGen.Elements(8, 10)
        from layers in FsGen.Choose(1, 3)
        from vocab in FsGen.Elements(7, 16)
        from perRank in FsGen.Choose(1, 4)
        let seq = Math.Max(2, sp * perRank)
        from batch in FsGen.Elements(dp, 2 * dp)
        from tied in FsGen.Elements(false, true)
        from bias in FsGen.Elements(false, true)
        from seed in FsGen.Choose(0, 1_000_000)
        from policy in FsGen.Elements(Policies)
        select (new DecoderCase(hidden, heads, kv, headDim, inter, layers, vocab, seq, batch, tied, bias, sp, dp, seed), policy);

    private static string Pipeline(string policy) => policy.StartsWith("sac{", StringComparison.Ordinal) ? policy : $"sac{{policy={policy}}}";

    /// <summary>Every element of every result equal, bit for bit.</summary>
    internal static void AssertIdentical(HostTensor[] expected, HostTensor[] got, string what)
    {
        Assert.Equal(expected.Length, got.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i].Count, got[i].Count);
            for (long k = 0; k < expected[i].Count; k++)
            {
                double a = expected[i].Get(k), b = got[i].Get(k);
                if (BitConverter.DoubleToInt64Bits(a) != BitConverter.DoubleToInt64Bits(b))
                    Assert.Fail($"{what}: result #{i} element {k}: {b:R} after sac, {a:R} before");
            }
        }
    }

    /// <summary>Counts the recomputed ops (clones named %..._rc) of a module.</summary>
    private static int Recomputed(Operation module)
    {
        int n = 0;
        module.Walk(o => { if (o.GetAttr("aspir.recompute") is not null) n++; });
        return n;
    }

    internal static void Check(DecoderCase c, string policy)
    {
        // One device: joint vs joint + sac.
        var joint = AutoSpHarness.Joint(c);
        var inputs = AutoSpHarness.Inputs(joint, c);
        var expected = Interpreter.Run(AutoSpHarness.Step(joint), inputs).Results;
        var checkpointed = AutoSpHarness.Joint(c);
        AutoSpHarness.RunPipeline(checkpointed, Pipeline(policy));
        var got = Interpreter.Run(AutoSpHarness.Step(checkpointed), inputs).Results;
        AssertIdentical(expected, got, $"{c} {policy} one device");
        if (policy != "sac{flops-per-byte=0}") Assert.True(Recomputed(checkpointed) > 0, $"{c} {policy}: nothing recomputed");

        // Per rank: autosp vs autosp + sac.
        if (c.Sp * c.Dp == 1) return;
        var partitioned = AutoSpHarness.Partitioned(c);
        var (perRank, _) = AutoSpHarness.RunRanks(partitioned, inputs, TimeSpan.FromSeconds(60));
        var sharded = AutoSpHarness.Partitioned(c);
        AutoSpHarness.RunPipeline(sharded, Pipeline(policy));
        var (perRankSac, _) = AutoSpHarness.RunRanks(sharded, inputs, TimeSpan.FromSeconds(60));
        AssertIdentical(perRank, perRankSac, $"{c} {policy} autosp{{sp={c.Sp},dp={c.Dp}}}");
        // No collective is recomputed unless asked.
        AutoSpHarness.Step(sharded).Walk(o =>
            Assert.False(o.Name.StartsWith("dist.", StringComparison.Ordinal) && o.GetAttr("aspir.recompute") is not null,
                $"{c} {policy}: recomputed a collective {o.Name}"));
    }

    [Fact]
    public void SacKeepsResultsBitIdentical() =>
        PropertyRunner.ForAll(output, "sac = autodiff, bit for bit", Arb.From(Cases), 100, 20261122, t => Check(t.Case, t.Policy));

    [Theory]
    [InlineData(8, 4, 2, 4, 10, 2, 16, 8, 1, false, true, 2, 1, 5, "sac")]
    [InlineData(8, 4, 2, 4, 10, 2, 16, 8, 2, true, false, 2, 2, 9, "torch-default")]
    [InlineData(12, 4, 4, 2, 8, 3, 7, 12, 1, false, false, 4, 1, 17, "sac")]
    [InlineData(8, 4, 2, 4, 10, 2, 16, 16, 1, false, false, 4, 1, 23, "sac{flops-per-byte=2.6}")]
    public void Examples(long hidden, long heads, long kv, long headDim, long inter, long layers, long vocab, long seq, long batch,
        bool tied, bool bias, int sp, int dp, int seed, string policy) =>
        Check(new DecoderCase(hidden, heads, kv, headDim, inter, layers, vocab, seq, batch, tied, bias, sp, dp, seed), policy);

    /// <summary>With recompute-collectives=true the all-to-alls feeding attention may be recomputed, still bit-identical.</summary>
    [Fact]
    public void RecomputedCollectivesStayExact()
    {
        var c = new DecoderCase(8, 4, 2, 4, 10, 2, 16, 8, 1, false, false, 2, 1, 3);
        var joint = AutoSpHarness.Joint(c);
        var inputs = AutoSpHarness.Inputs(joint, c);
        var (expected, _) = AutoSpHarness.RunRanks(AutoSpHarness.Partitioned(c), inputs, TimeSpan.FromSeconds(60));
        var sharded = AutoSpHarness.Partitioned(c);
        AutoSpHarness.RunPipeline(sharded, "sac{flops-per-byte=1e9,recompute-collectives=true}");
        int collectives = 0;
        AutoSpHarness.Step(sharded).Walk(o => { if (o.Name == "dist.all_to_all" && o.GetAttr("aspir.recompute") is not null) collectives++; });
        Assert.True(collectives > 0, "no all_to_all was recomputed");
        var (got, _) = AutoSpHarness.RunRanks(sharded, inputs, TimeSpan.FromSeconds(60));
        AssertIdentical(expected, got, "recompute-collectives");
    }

    [Fact]
    public void BadOptionsAreDiagnosed()
    {
        var c = new DecoderCase(8, 2, 2, 4, 8, 1, 7, 4, 1, false, false, 1, 1, 1);
        var ex = Assert.Throws<AutoSpHarness.PipelineFailed>(() => AutoSpHarness.RunPipeline(AutoSpHarness.Joint(c), "sac{policy=max}"));
        Assert.Contains("unknown policy 'max'", ex.Message);
        ex = Assert.Throws<AutoSpHarness.PipelineFailed>(() => AutoSpHarness.RunPipeline(AutoSpHarness.Joint(c), "sac{flops-per-byte=lots}"));
        Assert.Contains("flops-per-byte", ex.Message);
    }

    /// <summary>tiny-llama (../shared/models/tiny-llama.json), f32, batch 1, 2 layers: the joint step's peak per policy.</summary>
    public static (long Peak, string Report, double Seconds, HostTensor[] Results) TinyLlama(long seq, string policy, int layers = 2)
    {
        var ctx = AllDialects.NewContext();
        var config = HfConfig.Parse(File.ReadAllText(Path.Combine(Repo.ModelsDir, "tiny-llama.json")));
        var module = LlamaGenerator.Generate(config, new GenOptions(seq, 1, layers, "f32", "tiny"), ctx);
        string report = AutoSpHarness.RunPipeline(module, $"autodiff,{Pipeline(policy)}");
        var c = new DecoderCase(64, 4, 2, 16, 160, layers, 256, seq, 1, false, false, 1, 1, 42);
        var inputs = AutoSpHarness.Inputs(module, c);
        var run = Interpreter.Run(AutoSpHarness.Step(module), inputs);
        return (run.PeakBytes, report, run.Elapsed.TotalSeconds, run.Results);
    }

    [Theory]
    [InlineData(1024)]
    public void TinyLlamaPeakFalls(long seq)
    {
        var none = TinyLlama(seq, "none");
        var torch = TinyLlama(seq, "torch-default");
        var sac = TinyLlama(seq, "sac");
        output.WriteLine(sac.Report);
        output.WriteLine($"tiny-llama S={seq} f32 B=1 2 layers: peak none {none.Peak:N0}, torch-default {torch.Peak:N0}, sac {sac.Peak:N0} bytes " +
                         $"({(double)none.Peak / sac.Peak:0.00}x lower)");
        AssertIdentical(none.Results, sac.Results, "tiny-llama sac");
        AssertIdentical(none.Results, torch.Results, "tiny-llama torch-default");
        Assert.True(sac.Peak * 2 < none.Peak, $"sac peak {sac.Peak} is not below half of {none.Peak}");
        // The report's peak (the interpreter's accounting, computed statically) is the measured one.
        static string N(long n) => n.ToString("N0", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains($"{N(none.Peak)} before, {N(sac.Peak)} after", sac.Report);
        Assert.Contains($"{N(none.Peak)} before, {N(torch.Peak)} after", torch.Report);
        Assert.True(sac.Peak < torch.Peak, $"sac peak {sac.Peak} is not below torch-default's {torch.Peak}");
    }
}
