using AutoSpIR.Dialects.Func;
using AutoSpIR.Tests.AutoSp;

namespace AutoSpIR.Tests.Zero;

/// <summary>
/// What zero{stage=1} costs in communication, from the collectives' CommBytes (dialects/dist): each
/// parameter's all_reduce, 2(G-1)B/G bytes per rank under a ring, becomes a reduce_scatter of the
/// padded gradient, (G-1)B'/G, and an all_gather of the new shard, (G-1)B'/G (B' = B padded to a
/// multiple of G elements): the same bytes when G divides the size, the padding's share more
/// otherwise. Nothing else changes. Stage 3 adds two all_gathers of each parameter (forward and
/// backward) and drops the one after the update.
/// </summary>
public sealed class ZeroCommBytesTests
{
    private static Dictionary<string, long> BytesByOp(Operation module)
    {
        var d = new Dictionary<string, long>();
        AutoSpHarness.Step(module).Walk(op =>
        {
            long b = op.Def?.CommBytesOf(op) ?? 0;
            if (op.Name.StartsWith("dist.", StringComparison.Ordinal)) d[op.Name] = d.GetValueOrDefault(op.Name) + b;
        });
        return d;
    }

    /// <summary>(N elements, element bytes) of every updated parameter.</summary>
    private static List<long> ParamSizes(Operation perRank)
    {
        var f = AutoSpHarness.Step(perRank);
        var sizes = new List<long>();
        var sig = FuncDialect.Signature(f);
        for (int i = 0; i < sig.Inputs.Count; i++)
        {
            var a = FuncDialect.ArgAttrs(f, i);
            if (a.Get("aspir.param") is not null && a.Get("aspir.opt_state") is null) sizes.Add(((TensorType)sig.Inputs[i]).NumElements);
        }
        return sizes;
    }

    [Theory]
    [InlineData(8, 4, 2, 2, 8, 2, 16, 8, 2, 2, 2)]    // G = 4 divides every size: equal bytes
    [InlineData(6, 3, 3, 2, 5, 1, 7, 6, 1, 3, 1)]     // G = 3: sizes 3 does not divide (the norms, 5*6) are padded
    [InlineData(8, 2, 1, 4, 10, 1, 11, 4, 2, 1, 2)]   // dp only (the gradients are all_reduced over ["dp"]), G = 2
    public void Stage1SendsWhatTheAllReduceSentPlusThePadding(long hidden, long heads, long kv, long headDim, long inter, long layers, long vocab,
        long seq, long batch, int sp, int dp)
    {
        var c = new DecoderCase(hidden, heads, kv, headDim, inter, layers, vocab, seq, batch, false, false, sp, dp, 1);
        var none = ZeroHarness.PerRank(c, "");
        var zero1 = ZeroHarness.PerRank(c, "zero{stage=1}");
        var zero3 = ZeroHarness.PerRank(c, "zero{stage=3}");
        long g = sp * dp, es = 8;   // f64
        var sizes = ParamSizes(none);
        long allReduce = 0, scattered = 0, gathered = 0, padding = 0;
        foreach (long n in sizes)
        {
            long s = (n + g - 1) / g;
            allReduce += 2 * (g - 1) * n * es / g;
            scattered += (g - 1) * (s * g * es) / g;
            gathered += (g - 1) * s * es;
            padding += s * g - n;
        }
        var b0 = BytesByOp(none);
        var b1 = BytesByOp(zero1);
        var b3 = BytesByOp(zero3);
        string Show(Dictionary<string, long> d) => string.Join(", ", d.Select(e => $"{e.Key} {e.Value}"));
        var info = $"none: {Show(b0)}; zero1: {Show(b1)}; zero3: {Show(b3)}; params {string.Join(",", sizes)}";
        long lossAllReduce = b0["dist.all_reduce"] - allReduce;   // the loss and token-count reductions stay
        Assert.True(lossAllReduce >= 0 && lossAllReduce < 100, $"the non-gradient all_reduces send {lossAllReduce} bytes");
        Assert.True(lossAllReduce == b1["dist.all_reduce"], info);
        Assert.True(scattered == b1["dist.reduce_scatter"], $"{scattered}: {info}");
        Assert.True(gathered + b0.GetValueOrDefault("dist.all_gather") == b1["dist.all_gather"], $"{gathered}: {info}");
        // Ring: reduce_scatter + all_gather = 2(G-1)/G of the padded bytes; = the all_reduce when nothing is padded.
        Assert.Equal(2 * (g - 1) * (sizes.Sum(n => (n + g - 1) / g * g)) * es / g, scattered + gathered);
        if (padding == 0) Assert.Equal(allReduce, scattered + gathered);
        else Assert.True(scattered + gathered > allReduce);
        long total0 = b0.Values.Sum(), total1 = b1.Values.Sum();
        Assert.Equal(total0 - allReduce + scattered + gathered, total1);
        // Stage 3: the same reduce_scatters; the parameters gathered before forward and backward use (not after the update).
        Assert.Equal(scattered, b3["dist.reduce_scatter"]);
        // The forward gathers every parameter; the backward those its backward ops read (not the embedding table).
        Assert.True(b3["dist.all_gather"] > gathered + b0.GetValueOrDefault("dist.all_gather") && b3["dist.all_gather"] <= 2 * gathered + b0.GetValueOrDefault("dist.all_gather"), info);
        int gathers = 0;
        AutoSpHarness.Step(zero3).Walk(op => { if (op.Name == "dist.all_gather" && op.Operand(0) is BlockArgument) gathers++; });
        Assert.True(gathers > sizes.Count && gathers <= 2 * sizes.Count, $"{gathers} gathers of {sizes.Count} parameters");
    }
}
