using System.Diagnostics;
using AutoSpIR.Runtime;
using AutoSpIR.Runtime.Comm;

namespace AutoSpIR.Tests.Comm;

/// <summary>
/// Diverging ranks never hang: mismatched calls, a failing rank, a rank that finishes early and
/// a deadlock fail every rank at once (measured well under the 60 s default timeout); only the
/// timeout test waits for a timeout (of 1 s).
/// </summary>
public class FailureTests
{
    /// <summary>Fail-fast runs finish in far less than the default 60 s timeout.</summary>
    private static readonly TimeSpan Fast = TimeSpan.FromSeconds(15);

    private static HostTensor F32(params long[] shape) => CT.Input(CT.Type(new Context(), "f32", shape), 0);

    private static RankOutcome<int>[] RunAll(int p, Action<ThreadCommunicator> program, out TimeSpan elapsed)
    {
        var clock = Stopwatch.StartNew();
        var outcomes = new ThreadWorld(p).RunAll(c =>
        {
            program(c);
            return 0;
        });
        elapsed = clock.Elapsed;
        return outcomes;
    }

    private static string Message(RankOutcome<int> o) => Assert.IsType<CommunicatorException>(o.Error).Message;

    [Fact]
    public void MismatchedKindsNameBothRanksAndCalls()
    {
        var x = F32(4);
        var outcomes = RunAll(2, c =>
        {
            if (c.Rank == 0) c.AllReduce(x, CT.All(2), ReduceOp.Sum);
            else c.AllGather(x, CT.All(2), 0);
        }, out var elapsed);
        const string reason = "ranks 0 and 1 disagree on collective #1 over ranks [0, 1]: rank 0 called dist.all_reduce(tensor<4xf32>) {reduction = \"sum\"}, rank 1 called dist.all_gather(tensor<4xf32>) {dim = 0}";
        Assert.Equal("rank 0: " + reason, Message(outcomes[0]));
        Assert.Equal("rank 1: " + reason, Message(outcomes[1]));
        Assert.All(outcomes, o => Assert.False(((CommunicatorException)o.Error!).IsSecondary));
        Assert.True(elapsed < Fast, $"took {elapsed}");
    }

    [Fact]
    public void MismatchedShapesArgumentsAndGroupOrdersAreDetected()
    {
        var outcomes = RunAll(3, c =>
        {
            var g = CT.All(3);
            c.AllReduce(F32(2, 3), g, ReduceOp.Sum);                             // #1 matches
            c.AllToAll(F32(c.Rank == 2 ? 6 : 3, 3), g, 0, 1);                    // #2: rank 2 has another shape
        }, out _);
        for (int r = 0; r < 3; r++)
            Assert.Matches($@"^rank {r}: ranks [01] and 2 disagree on collective #2 over ranks \[0, 1, 2\]: "
                           + @"rank [01] called dist\.all_to_all\(tensor<3x3xf32>\) \{split_dim = 0, concat_dim = 1\}, "
                           + @"rank 2 called dist\.all_to_all\(tensor<6x3xf32>\) \{split_dim = 0, concat_dim = 1\}$", Message(outcomes[r]));

        var order = RunAll(2, c => c.Shift(F32(2), c.Rank == 0 ? new[] { 0, 1 } : new[] { 1, 0 }, 1, true), out _);
        Assert.Equal("rank 1: ranks 0 and 1 disagree on collective #1 over ranks [0, 1]: rank 0 called dist.shift(tensor<2xf32>) {offset = 1, rotate} over ranks [0, 1], rank 1 called dist.shift(tensor<2xf32>) {offset = 1, rotate} over ranks [1, 0]",
            Message(order[1]));

        var args = RunAll(2, c => c.Shift(F32(2), CT.All(2), c.Rank + 1, false), out _);
        Assert.EndsWith("rank 0 called dist.shift(tensor<2xf32>) {offset = 1}, rank 1 called dist.shift(tensor<2xf32>) {offset = 2}", Message(args[0]));
    }

    [Fact]
    public void AFailingRankFailsTheOthersFast()
    {
        var x = F32(8);
        var world = new ThreadWorld(4);
        var clock = Stopwatch.StartNew();
        var outcomes = world.RunAll(c =>
        {
            c.AllReduce(x, CT.All(4), ReduceOp.Sum);
            if (c.Rank == 1) throw new InvalidOperationException("boom");
            c.AllReduce(x, CT.All(4), ReduceOp.Sum);   // ranks 0, 2, 3 are blocked here, or enter after rank 1 failed
            c.Barrier(new[] { c.Rank });               // never reached
            return 0;
        });
        Assert.True(clock.Elapsed < Fast, $"took {clock.Elapsed}");
        Assert.True(world.IsPoisoned);
        Assert.Equal("boom", Assert.IsType<InvalidOperationException>(outcomes[1].Error).Message);
        Assert.Equal(0, outcomes[1].FailureOrder);
        foreach (var r in new[] { 0, 2, 3 })
        {
            var e = Assert.IsType<CommunicatorException>(outcomes[r].Error);
            Assert.Equal("rank 1 failed: boom", e.Message);
            Assert.True(e.IsSecondary);
            Assert.Equal(r, e.Rank);
        }
        // The first real error is the one rethrown, with its rank.
        var first = ThreadWorld.FirstError(outcomes);
        Assert.Equal("rank 1: boom", Assert.IsType<InvalidOperationException>(first).Message);
    }

    [Fact]
    public void RunRethrowsTheFirstRealError()
    {
        var e = Assert.Throws<ArgumentException>(() => CT.Run(3, c =>
        {
            if (c.Rank == 2) c.AllGather(F32(2), CT.All(3), 5);
            else c.AllGather(F32(2), CT.All(3), 0);
            return 0;
        }));
        Assert.Equal("rank 2: dim 5 is out of range for tensor<2xf32> (rank 1: -1 <= dim < 1)", e.Message);
    }

    [Fact]
    public void ARankThatFinishesEarlyFailsTheOthersFast()
    {
        var x = F32(4);
        var outcomes = RunAll(4, c =>
        {
            c.AllReduce(x, CT.All(4), ReduceOp.Sum);
            if (c.Rank == 3) return;                     // skips the second all_reduce
            c.AllReduce(x, CT.All(4), ReduceOp.Sum);
        }, out var elapsed);
        Assert.True(elapsed < Fast, $"took {elapsed}");
        Assert.Null(outcomes[3].Error);
        foreach (var r in new[] { 0, 1, 2 })
            Assert.Equal($"rank {r}: rank 3 finished without joining dist.all_reduce #2 over ranks [0, 1, 2, 3]", Message(outcomes[r]));
    }

    [Fact]
    public void ADeadlockOfDivergedRanksFailsFast()
    {
        var x = F32(2);
        // Each rank waits for a partner that waits for another: 0 -> 1 -> 2 -> 0.
        var outcomes = RunAll(3, c => c.AllReduce(x, new[] { c.Rank, (c.Rank + 1) % 3 }, ReduceOp.Sum), out var elapsed);
        Assert.True(elapsed < Fast, $"took {elapsed}");
        Assert.Equal("rank 0: deadlock: dist.all_reduce #1 over ranks [0, 1] can never complete: rank 1 waits in dist.all_reduce #1 over ranks [1, 2]", Message(outcomes[0]));
        Assert.Equal("rank 1: deadlock: dist.all_reduce #1 over ranks [1, 2] can never complete: rank 2 waits in dist.all_reduce #1 over ranks [2, 0]", Message(outcomes[1]));
        Assert.Equal("rank 2: deadlock: dist.all_reduce #1 over ranks [2, 0] can never complete: rank 0 waits in dist.all_reduce #1 over ranks [0, 1]", Message(outcomes[2]));
    }

    [Fact]
    public void ACollectiveTimesOutOnEveryWaitingRank()
    {
        var world = new ThreadWorld(4, TimeSpan.FromSeconds(1));
        var x = F32(4, 2);
        var errors = new Exception?[4];
        var clock = Stopwatch.StartNew();
        // Ranks 1 and 3 never run (so nothing tells the world they will not come): only the timeout ends the wait.
        var threads = new[] { 0, 2 }.Select(r => new Thread(() =>
        {
            var c = world.Communicator(r);
            try
            {
                c.Barrier(new[] { 0, 2 });
                c.AllToAll(x, CT.All(4), 0, 1);
            }
            catch (Exception e)
            {
                errors[r] = e;
            }
        })).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();
        var elapsed = clock.Elapsed;
        foreach (var r in new[] { 0, 2 })
            Assert.Equal($"rank {r}: dist.all_to_all #1 over ranks [0, 1, 2, 3] timed out after 1 s waiting for ranks 1, 3",
                Assert.IsType<CommunicatorException>(errors[r]).Message);
        Assert.True(elapsed >= TimeSpan.FromSeconds(0.99) && elapsed < Fast, $"took {elapsed}");

        // A late arrival finds the collective failed rather than waiting again.
        var late = Assert.Throws<CommunicatorException>(() => world.Communicator(1).AllToAll(x, CT.All(4), 0, 1));
        Assert.StartsWith("rank 1: dist.all_to_all #1 over ranks [0, 1, 2, 3] timed out after 1 s", late.Message);
    }

    [Fact]
    public void WorldsAndGroupsValidateTheirArguments()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ThreadWorld(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ThreadWorld(2, TimeSpan.Zero));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ThreadWorld(2).Communicator(2));
        var world = new ThreadWorld(1);
        Assert.Equal(new[] { 7 }, world.Run(_ => 7));
        Assert.Throws<InvalidOperationException>(() => world.Run(_ => 7));
    }
}
