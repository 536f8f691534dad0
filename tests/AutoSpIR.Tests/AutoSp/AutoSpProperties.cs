using AutoSpIR.Dialects.Func;
using AutoSpIR.Runtime;
using AutoSpIR.Tests.Properties;
using FsCheck.Fluent;
using Xunit.Abstractions;

namespace AutoSpIR.Tests.AutoSp;

/// <summary>
/// The heart of AutoSP: for random decoder configurations (hidden size, query and key/value
/// heads, head size, MLP size, layers, vocabulary, tied embeddings, q/k/v bias, sequence length
/// often not divisible by P, batch) and meshes (sp = P in {1, 2, 3, 4, 8} up to the query-head
/// count, dp in {1, 2}), <c>autodiff,autosp{sp=P,dp=D}</c> run on D*P in-process ranks gives the
/// loss and every gradient of the single-device run of <c>autodiff</c> (f64, relative error below
/// 1e-9); and the ranks sent the bytes the compiler's CommBytes say.
/// </summary>
public class AutoSpProperties(ITestOutputHelper output)
{
    private static readonly FsCheck.Gen<DecoderCase> Cases =
        AutoSpHarness.Decoders(AutoSpHarness.Meshes(new[] { 1, 2, 3, 4, 8 }, new[] { 1, 1, 2 }, (sp, dp) => sp * dp <= 8), unevenHeads: true);

    [Fact]
    public void AutoSpEqualsOneDevice() =>
        PropertyRunner.ForAll(output, "autosp = one device", Arb.From(Cases), 120, 20261123, Check);

    /// <summary>Cases the property found wrong once, kept as regressions.</summary>
    [Theory]
    [InlineData(12, 16, 16, 4, 10, 2, 7, 3, 1, false, false, 8, 1, 337881)]   // 5 of 8 ranks hold only padding
    [InlineData(8, 14, 2, 4, 8, 1, 16, 10, 2, false, true, 4, 1, 7)]          // Qwen2-7B's layout in small: groups of 7 query heads padded to 8
    [InlineData(8, 6, 3, 2, 8, 2, 11, 7, 2, true, false, 2, 2, 11)]           // 3 KV heads over 2 ranks: repeated to one per query head
    public void Regression(long hidden, long heads, long kv, long headDim, long inter, long layers, long vocab, long seq, long batch,
        bool tied, bool bias, int sp, int dp, int seed) =>
        Check(new DecoderCase(hidden, heads, kv, headDim, inter, layers, vocab, seq, batch, tied, bias, sp, dp, seed));

    internal static void Check(DecoderCase c)
    {
        var joint = AutoSpHarness.Joint(c);
        var inputs = AutoSpHarness.Inputs(joint, c);
        var expected = Interpreter.Run(AutoSpHarness.Step(joint), inputs).Results;

        var partitioned = AutoSpHarness.Partitioned(c);
        var (got, ranks) = AutoSpHarness.RunRanks(partitioned, inputs, TimeSpan.FromSeconds(60));
        Assert.Equal(c.Sp * c.Dp, ranks.Length);
        Assert.Equal(expected.Length, got.Length);
        var func = AutoSpHarness.Step(joint);
        var wrong = new List<string>();
        for (int i = 0; i < expected.Length; i++)
        {
            double rel = AutoSpHarness.RelativeError(got[i], expected[i]);
            var name = (FuncDialect.ResAttrs(func, i).Get("aspir.grad") as StringAttr)?.Value ?? "loss";
            if (!(rel < 1e-9)) wrong.Add($"{name} differs from one device by {rel:E2}");
        }
        Assert.True(wrong.Count == 0, $"{c}:\n" + string.Join("\n", wrong));

        AutoSpHarness.AssertCommBytes(partitioned, ranks, c.ToString());
    }
}
