using AutoSpIR.Dialects.Mem;
using AutoSpIR.Runtime;
using AutoSpIR.Runtime.Comm;
using AutoSpIR.Tests.AutoSp;
using AutoSpIR.Tests.Properties;

namespace AutoSpIR.Tests.Memory;

/// <summary>
/// Planned = measured, for one program: run it unplanned, then <c>bufferize,memory-plan</c> (without
/// and with in-place writes) and run the planned program from its arena, on one device or on its
/// ranks; check bit-identical results, the arena high-water mark = <c>mem.arena_size</c>, the arena's
/// live peak = <c>mem.live_peak</c>, and, without in-place writes, <c>mem.live_peak</c> = the
/// interpreter's <see cref="RunResult.PeakBytes"/> (with them, at most that).
/// </summary>
public static class MemoryHarness
{
    /// <summary>What the check measured: per plan (in-place off, on), the arena size and the live peak, and the unplanned peak.</summary>
    public sealed record Measured(long UnplannedPeak, long Arena, long LivePeak, long ArenaInPlace, long LivePeakInPlace);

    public static Measured Check(Operation module, HostTensor[] globalInputs, bool spmd, string what)
    {
        var func = AutoSpHarness.Step(module);
        RunResult[] Runs(bool planned)
        {
            if (!spmd) return new[] { Interpreter.Run(func, globalInputs, planned: planned) };
            int ranks = SpmdIO.RankCount(func);
            return Interpreter.RunSpmd(func, ranks, r => SpmdIO.ArgumentsOf(func, globalInputs, r), TimeSpan.FromSeconds(60), planned: planned);
        }

        var baseline = Runs(planned: false);
        var measured = new long[4];
        foreach (bool inplace in new[] { false, true })
        {
            AutoSpHarness.RunPipeline(module, $"bufferize,memory-plan{{inplace={(inplace ? "true" : "false")}}}");
            var planned = Printer.Print(module);
            AutoSpHarness.RunPipeline(module, $"memory-plan{{inplace={(inplace ? "true" : "false")}}}");
            Assert.True(planned == Printer.Print(module), $"{what}: planning a planned program again changed it:\n{TextDiff.FirstDifference(planned, Printer.Print(module))}");
            long arena = func.GetInt(MemDialect.ArenaSize)!.Value, live = func.GetInt(MemDialect.LivePeak)!.Value;
            var runs = Runs(planned: true);
            Assert.Equal(baseline.Length, runs.Length);
            for (int r = 0; r < runs.Length; r++)
            {
                string at = $"{what}, in-place {inplace}, rank {r}";
                Assert.True(runs[r].ArenaPeakBytes == arena, $"{at}: the arena's high-water mark is {runs[r].ArenaPeakBytes}, the plan says {arena}");
                Assert.True(runs[r].ArenaLiveBytes == live, $"{at}: the arena's live peak is {runs[r].ArenaLiveBytes}, the plan says {live}");
                Assert.True(runs[r].PeakBytes == baseline[r].PeakBytes, $"{at}: the value accounting changed in a planned run");
                if (!inplace)
                    Assert.True(live == baseline[r].PeakBytes, $"{at}: planned live peak {live} != the interpreter's measured peak {baseline[r].PeakBytes}");
                else
                    Assert.True(live <= baseline[r].PeakBytes, $"{at}: in-place writes raised the live peak {live} above {baseline[r].PeakBytes}");
                Assert.True(arena >= live, $"{at}: arena {arena} < live peak {live}");
                AssertBitIdentical(baseline[r].Results, runs[r].Results, at);
            }
            measured[inplace ? 2 : 0] = arena;
            measured[inplace ? 3 : 1] = live;
        }
        return new Measured(baseline[0].PeakBytes, measured[0], measured[1], measured[2], measured[3]);
    }

    public static void AssertBitIdentical(HostTensor[] expected, HostTensor[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Interpreter.SameType(expected[i].Type, actual[i].Type), $"{what}: result #{i} type");
            for (long k = 0; k < expected[i].Count; k++)
                if (BitConverter.DoubleToInt64Bits(expected[i].Get(k)) != BitConverter.DoubleToInt64Bits(actual[i].Get(k)))
                    Assert.Fail($"{what}: result #{i} element {k} is {actual[i].Get(k):R} planned, {expected[i].Get(k):R} unplanned");
        }
    }
}

/// <summary><c>mem-schedule</c> on a program: same bits, a measured peak no higher, then planned = measured on the new order.</summary>
public static class ScheduleHarness
{
    public static void Check(Operation module, HostTensor[] globalInputs, bool spmd, string what)
    {
        var func = AutoSpHarness.Step(module);
        RunResult[] Runs()
        {
            if (!spmd) return new[] { Interpreter.Run(func, globalInputs, planned: false) };
            int ranks = SpmdIO.RankCount(func);
            return Interpreter.RunSpmd(func, ranks, r => SpmdIO.ArgumentsOf(func, globalInputs, r), TimeSpan.FromSeconds(60), planned: false);
        }
        var before = Runs();
        var report = AutoSpHarness.RunPipeline(module, "mem-schedule");
        var after = Runs();
        for (int r = 0; r < before.Length; r++)
        {
            MemoryHarness.AssertBitIdentical(before[r].Results, after[r].Results, $"{what}, scheduled, rank {r}");
            Assert.True(after[r].PeakBytes <= before[r].PeakBytes, $"{what}: mem-schedule raised the peak from {before[r].PeakBytes} to {after[r].PeakBytes}");
            Assert.Contains($"live peak {before[r].PeakBytes} -> {after[r].PeakBytes} bytes", report);
        }
        MemoryHarness.Check(module, globalInputs, spmd, what + ", scheduled");
    }
}
