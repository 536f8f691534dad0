using AutoSpIR.Passes.Sac;
using AutoSpIR.Runtime;
using AutoSpIR.Tests.AutoSp;
using Xunit.Abstractions;

namespace AutoSpIR.Tests.Sac;

/// <summary>
/// <c>remat{budget}</c>: on small random decoders (a) its branch and bound finds the same minimum
/// recompute FLOPs as enumerating every decision subset, at several budgets; (b) the program it
/// makes gives loss and gradients bit-identical to autodiff's; (c) the interpreter's measured
/// peak is at most the budget and equal to what the pass reports.
/// </summary>
public class RematTests(ITestOutputHelper output)
{
    private static long Enumerated(Remat.Problem p, long budget, List<(long Flops, long Peak)> all)
    {
        long best = long.MaxValue;
        foreach (var (f, pk) in all)
            if (pk <= budget) best = Math.Min(best, f);
        return best;
    }

    private static string N(long n) => n.ToString("N0", System.Globalization.CultureInfo.InvariantCulture);

    private void Check(DecoderCase c)
    {
        var joint = AutoSpHarness.Joint(c);
        var inputs = AutoSpHarness.Inputs(joint, c);
        var expected = Interpreter.Run(AutoSpHarness.Step(joint), inputs).Results;
        var whole = Remat.Problem.Of(AutoSpHarness.Step(joint))!;
        // Enumeration is over a random 14 of the candidates (the rest kept); the search runs on the same space.
        var rng = new Random(c.Seed);
        var chosen = whole.Candidates.OrderBy(_ => rng.Next()).Take(14).ToHashSet();
        var p = whole.Restrict(chosen.Contains);
        int k = p.Candidates.Count;
        Assert.Equal(14, k);
        // (a) every subset of the candidates.
        var all = new List<(long, long)>();
        for (long mask = 0; mask < 1L << k; mask++)
        {
            var r = new HashSet<int>();
            for (int i = 0; i < k; i++) if ((mask >> i & 1) != 0) r.Add(p.Candidates[i]);
            all.Add((p.Flops(r), p.Peak(r)));
            // The MILP's peak model is a relaxation (a lower bound of the real peak) for every decision set.
            var cl = p.Cloned(r);
            Assert.True(p.ModelPeak(cl) <= p.Peak(r), $"{c}: model peak {p.ModelPeak(cl)} above the real {p.Peak(r)}");
        }
        long minPeak = all.Min(a => a.Item2), maxPeak = all.Max(a => a.Item2);
        var sacJoint = AutoSpHarness.Joint(c);
        var sacReport = AutoSpHarness.RunPipeline(sacJoint, "sac");
        long sacPeak = Interpreter.Run(AutoSpHarness.Step(sacJoint), inputs).PeakBytes;
        var budgets = new[] { minPeak - 1, minPeak, (minPeak + maxPeak) / 2, (3 * minPeak + maxPeak) / 4, sacPeak, maxPeak };
        foreach (var budget in budgets)
        {
            long want = Enumerated(p, budget, all);
            var (best, nodes, _, err) = p.Solve(budget, 10_000_000);
            Assert.Null(err);
            if (want == long.MaxValue)
            {
                Assert.Null(best);
                var (ms, mb, _, _) = p.SolveMilp(budget);
                Assert.True(ms && mb is null, $"{c}: milp found a set at infeasible budget {budget}");
                continue;
            }
            Assert.NotNull(best);
            Assert.Equal(want, p.Flops(best!));
            // The MILP (cbc) agrees with enumeration and branch and bound.
            var (solved, mbest, iters, merr) = p.SolveMilp(budget);
            Assert.True(solved, $"{c}: milp unsolved at budget {budget}");
            Assert.Null(merr);
            Assert.NotNull(mbest);
            Assert.Equal(want, p.Flops(mbest!));
            Assert.True(p.Peak(mbest!) <= budget);
            // (b), (c): applied to the program, results unchanged and the measured peak within the budget.
            var m = AutoSpHarness.Joint(c);
            var pm = Remat.Problem.Of(AutoSpHarness.Step(m))!.Restrict(chosen.Contains);
            var (flops, _, peak) = pm.Apply(AutoSpHarness.Step(m), best!);
            Assert.Equal(want, flops);
            var run = Interpreter.Run(AutoSpHarness.Step(m), inputs);
            SacTests.AssertIdentical(expected, run.Results, $"{c} remat budget {budget}");
            Assert.True(run.PeakBytes <= budget, $"{c}: measured peak {run.PeakBytes} > budget {budget}");
            Assert.Equal(peak, run.PeakBytes);
            output.WriteLine($"{c}: {k} candidates, budget {budget}: optimum {want} flops, peak {run.PeakBytes} ({nodes} nodes)");
        }
        // The whole problem through the pass: bit-identical, peak within the budget and as reported, and
        // (sac's decision set being in the space) at sac's own peak no more FLOPs than sac.
        var mm = AutoSpHarness.Joint(c);
        var rep = AutoSpHarness.RunPipeline(mm, $"remat{{budget={sacPeak}}}");
        // The same through branch and bound only: the same optimum.
        var repB = AutoSpHarness.RunPipeline(AutoSpHarness.Joint(c), $"remat{{budget={sacPeak},solver=bnb}}");
        Assert.Equal(Flops(repB, @"recompute flops: ([0-9,]+)"), Flops(rep, @"recompute flops: ([0-9,]+)"));
        var r2 = Interpreter.Run(AutoSpHarness.Step(mm), inputs);
        SacTests.AssertIdentical(expected, r2.Results, $"{c} remat at sac's peak");
        Assert.True(r2.PeakBytes <= sacPeak);
        Assert.Contains($", {N(r2.PeakBytes)} after", rep);
        long sacFlops = Flops(sacReport, @"recomputed: \d+ ops, ([0-9,]+) flops"), optFlops = Flops(rep, @"recompute flops: ([0-9,]+)");
        Assert.True(optFlops <= sacFlops, $"{c}: optimum {optFlops} at sac's peak above sac's {sacFlops} flops");
        output.WriteLine($"{c}: whole problem ({whole.Candidates.Count} candidates) at sac's peak {sacPeak}: optimum {optFlops} flops, sac {sacFlops}");
        // Below the smallest peak of any decision set, the pass fails.
        var ex = Assert.Throws<AutoSpHarness.PipelineFailed>(() => AutoSpHarness.RunPipeline(AutoSpHarness.Joint(c), "remat{budget=1}"));
        Assert.Contains("no decision set fits", ex.Message);
    }

    private static long Flops(string report, string pattern) =>
        long.Parse(System.Text.RegularExpressions.Regex.Match(report, pattern).Groups[1].Value.Replace(",", ""), System.Globalization.CultureInfo.InvariantCulture);

    [Theory]
    [InlineData(8, 2, 2, 4, 8, 1, 7, 4, 1, false, false, 1)]
    [InlineData(8, 2, 1, 4, 10, 1, 16, 6, 1, true, false, 7)]
    [InlineData(12, 2, 2, 2, 8, 1, 7, 3, 2, false, false, 13)]
    [InlineData(8, 4, 2, 2, 8, 1, 16, 5, 1, true, false, 29)]
    public void OptimumMatchesEnumerationAndKeepsResults(long hidden, long heads, long kv, long headDim, long inter, long layers, long vocab,
        long seq, long batch, bool tied, bool bias, int seed) =>
        Check(new DecoderCase(hidden, heads, kv, headDim, inter, layers, vocab, seq, batch, tied, bias, 1, 1, seed));

    /// <summary>Why enumeration uses 14 of the candidates: a one-layer decoder has more than that (two layers about twice as many).</summary>
    [Fact]
    public void CandidateCounts()
    {
        int Count(long layers) => Remat.Problem.Of(AutoSpHarness.Step(AutoSpHarness.Joint(new DecoderCase(8, 2, 2, 4, 8, layers, 7, 4, 1, false, false, 1, 1, 1))))!.Candidates.Count;
        int one = Count(1), two = Count(2);
        output.WriteLine($"candidates: {one} (1 layer), {two} (2 layers)");
        Assert.True(one > 14 && two > one, $"{one}, {two}");
    }
}
