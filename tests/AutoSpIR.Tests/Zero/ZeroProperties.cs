using AutoSpIR.Runtime;
using AutoSpIR.Tests.AutoSp;
using AutoSpIR.Tests.Properties;
using FsCheck.Fluent;
using Xunit.Abstractions;
using FsGen = FsCheck.Fluent.Gen;

namespace AutoSpIR.Tests.Zero;

/// <summary>
/// ZeRO's numerics: for random decoders and meshes (sp in {1, 2, 3, 4}, dp in {1, 2}, at least 2
/// ranks; sizes that G does not divide, so shards are padded) and stage 1 or 3,
/// <c>autodiff,autosp{sp=P,dp=D},optimizer,zero{stage=S}</c> on D*P ranks gives the loss and every
/// updated parameter, m and v of the one-device <c>autodiff,optimizer</c> (f64, relative error
/// below 1e-9); the busiest rank sent exactly the bytes the program's CommBytes say.
/// </summary>
public class ZeroProperties(ITestOutputHelper output)
{
    private static readonly FsCheck.Gen<(DecoderCase Case, int Stage)> Cases =
        from c in AutoSpHarness.Decoders(AutoSpHarness.Meshes(new[] { 1, 2, 3, 4 }, new[] { 1, 2 }, (sp, dp) => sp * dp >= 2),
            hiddens: new long[] { 6, 8 }, intermediates: new long[] { 5, 8 }, maxPerRank: 2)
        from stage in FsGen.Elements(1, 3)
        select (c, stage);

    [Fact]
    public void ZeroEqualsOneDevice() =>
        PropertyRunner.ForAll(output, "zero = one device", Arb.From(Cases), 100, 20261122, c => Check(c.Case, c.Stage));

    [Theory]
    [InlineData(8, 4, 2, 2, 10, 2, 11, 7, 2, false, true, 2, 2, 17, 1)]   // 4 ranks, padded shards (11*8 over 4 divides, 10*8 too; norms 8)
    [InlineData(6, 3, 1, 2, 5, 1, 7, 5, 1, true, false, 3, 1, 5, 3)]      // 3 ranks: every size padded
    [InlineData(8, 2, 2, 4, 8, 1, 16, 4, 2, false, false, 1, 2, 99, 3)]   // data parallel only
    public void Cases_(long hidden, long heads, long kv, long headDim, long inter, long layers, long vocab, long seq, long batch,
        bool tied, bool bias, int sp, int dp, int seed, int stage) =>
        Check(new DecoderCase(hidden, heads, kv, headDim, inter, layers, vocab, seq, batch, tied, bias, sp, dp, seed), stage);

    /// <summary>
    /// reduce_scatter sums in the all_reduce's order (group position) and the update is elementwise,
    /// so zero changes no bit of what the ranks compute without it, in f32 as in f64.
    /// </summary>
    [Theory]
    [InlineData("f32", 1)]
    [InlineData("f32", 3)]
    [InlineData("f64", 3)]
    public void ZeroIsBitIdenticalToTheRanksWithoutIt(string dtype, int stage)
    {
        var c = new DecoderCase(6, 3, 1, 2, 5, 2, 7, 5, 2, false, true, 3, 2, 41);
        Operation PerRank(string zero)
        {
            var module = AutoSpHarness.Partitioned(c, dtype);
            AutoSpHarness.RunPipeline(module, ZeroHarness.Optimizer + zero);
            return module;
        }
        var plain = PerRank("");
        var oneDevice = AutoSpHarness.Joint(c, dtype);
        AutoSpHarness.RunPipeline(oneDevice, ZeroHarness.Optimizer);
        var inputs = ZeroHarness.Inputs(oneDevice, c);
        var (want, _) = AutoSpHarness.RunRanks(plain, inputs, TimeSpan.FromSeconds(60));
        var (got, _) = AutoSpHarness.RunRanks(PerRank($",zero{{stage={stage}}}"), inputs, TimeSpan.FromSeconds(60));
        Assert.Equal(want.Length, got.Length);
        for (int i = 0; i < want.Length; i++)
            for (long k = 0; k < want[i].Count; k++)
                Assert.True(BitConverter.DoubleToInt64Bits(want[i].Get(k)) == BitConverter.DoubleToInt64Bits(got[i].Get(k)),
                    $"{ZeroHarness.ResultName(AutoSpHarness.Step(oneDevice), i)}[{k}]: {got[i].Get(k):R} with zero, {want[i].Get(k):R} without");
    }

    internal static void Check(DecoderCase c, int stage)
    {
        var one = ZeroHarness.OneDevice(c);
        var inputs = ZeroHarness.Inputs(one, c);
        var func = AutoSpHarness.Step(one);
        var expected = Interpreter.Run(func, inputs).Results;

        var perRank = ZeroHarness.PerRank(c, $"zero{{stage={stage}}}");
        var (got, ranks) = AutoSpHarness.RunRanks(perRank, inputs, TimeSpan.FromSeconds(60));
        Assert.Equal(c.Sp * c.Dp, ranks.Length);
        Assert.Equal(expected.Length, got.Length);
        var wrong = new List<string>();
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i].Type.Shape.ToArray(), got[i].Type.Shape.ToArray());
            double rel = AutoSpHarness.RelativeError(got[i], expected[i]);
            if (!(rel < 1e-9)) wrong.Add($"{ZeroHarness.ResultName(func, i)} differs from one device by {rel:E2}");
        }
        Assert.True(wrong.Count == 0, $"{c} stage={stage}:\n" + string.Join("\n", wrong));

        AutoSpHarness.AssertCommBytes(perRank, ranks, $"{c} stage={stage}");
    }
}
