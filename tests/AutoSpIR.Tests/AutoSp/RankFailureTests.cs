using System.Diagnostics;
using AutoSpIR.Dialects.Func;
using AutoSpIR.Runtime;

namespace AutoSpIR.Tests.AutoSp;

/// <summary>
/// A compiled per-rank program whose data makes ONE rank fail ends the whole run with that
/// rank's error, at once, instead of leaving the other ranks waiting in a collective: a label
/// id outside the vocabulary held by one rank only fails its <c>tensor.cross_entropy</c> while the
/// others wait in the loss's all-reduce; a token id outside the vocabulary fails one rank's
/// <c>tensor.embedding</c> while the others wait in layer 0's first all-to-all.
/// </summary>
public class RankFailureTests
{
    /// <summary>4 query heads, 2 KV heads, 2 layers, vocabulary 32, 16 tokens x 2 sequences on 4 ranks (4 tokens each).</summary>
    internal static readonly DecoderCase Case = new(16, 4, 2, 4, 24, 2, 32, Seq: 16, Batch: 2, Tied: false, QkvBias: false, Sp: 4, Dp: 1, Seed: 5);

    /// <summary>Far below the 60 s a rank waits in a collective before it times out.</summary>
    private static readonly TimeSpan Fast = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The global inputs of <see cref="Case"/> with <paramref name="input"/> (input_ids or labels) set to the
    /// vocabulary size (one past the last id) at sequence 1, position <c>rank * 4 + 1</c>: for labels, the
    /// shifted target at position rank * 4, the first one of <paramref name="rank"/>'s shard, so that only
    /// that rank reads it.
    /// </summary>
    internal static HostTensor[] BadInputs(Operation joint, string input, int rank)
    {
        var inputs = AutoSpHarness.Inputs(joint, Case);
        var func = AutoSpHarness.Step(joint);
        int arg = Enumerable.Range(0, inputs.Length).Single(i => FuncDialect.ArgAttrs(func, i).Get("aspir.name") is StringAttr { Value: var n } && n == input);
        long perRank = Case.Seq / Case.Sp;
        inputs[arg].Ints![1 * Case.Seq + rank * perRank + 1] = Case.Vocab;
        return inputs;
    }

    [Theory]
    [InlineData("labels", 2, "'tensor.cross_entropy' op target 32 at labels[1, 0] is out of range [0, 32)")]
    [InlineData("labels", 0, "'tensor.cross_entropy' op target 32 at labels[1, 0] is out of range [0, 32)")]
    [InlineData("labels", 3, "'tensor.cross_entropy' op target 32 at labels[1, 0] is out of range [0, 32)")]
    [InlineData("input_ids", 1, "'tensor.embedding' op id 32 at ids[1, 1] is out of range [0, 32)")]
    [InlineData("input_ids", 3, "'tensor.embedding' op id 32 at ids[1, 1] is out of range [0, 32)")]
    public void OneFailingRankEndsTheRunWithItsError(string input, int rank, string error)
    {
        var joint = AutoSpHarness.Joint(Case);
        var partitioned = AutoSpHarness.Partitioned(Case);

        // The good inputs run (the failure below is the bad id's).
        var (results, ranks) = AutoSpHarness.RunRanks(partitioned, AutoSpHarness.Inputs(joint, Case));
        Assert.Equal(4, ranks.Length);
        Assert.True(double.IsFinite(results[0].Get(0)));

        var inputs = BadInputs(joint, input, rank);
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<RuntimeErrorException>(() => AutoSpHarness.RunRanks(partitioned, inputs));
        clock.Stop();
        Assert.StartsWith($"rank {rank}: {error}", e.Message);
        Assert.True(clock.Elapsed < Fast, $"the failing run took {clock.Elapsed}");
    }
}
