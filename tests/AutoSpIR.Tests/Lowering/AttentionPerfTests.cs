using System.Diagnostics;
using AutoSpIR.Runtime.Native;
using Xunit;
using Xunit.Abstractions;

namespace AutoSpIR.Tests.Lowering;

/// <summary>
/// Benchmark of the attention lowerings at the Llama training shape (batch 1, seq 2048, 8 heads, head_dim 32,
/// causal, f32): best of several runs of the forward and the backward op, printed. Skipped by default: remove
/// the Skip by hand and run with --logger "console;verbosity=detailed" to measure.
/// </summary>
public class AttentionPerfTests(ITestOutputHelper output)
{
    [Theory(Skip = "benchmark; run by hand")]
    [InlineData(1, 2048, 8, 8, 32, true)]
    public void Bench(long b, long s, long hq, long hkv, long d, bool causal)
    {
        Time("attention", AttentionLoweringTests.ForwardProgram(b, s, s, hq, hkv, d, d, "f32", causal));
        Time("attention_grad", AttentionLoweringTests.BackwardProgram(b, s, s, hq, hkv, d, d, "f32", causal));
    }

    private const int Runs = 15;

    private void Time(string what, string program)
    {
        var (func, args) = NativeHarness.Prepare(program);
        using var native = NativeProgram.Compile(func, threads: true);
        native.Run(args);
        double best = double.MaxValue, bestCpu = double.MaxValue;
        var process = Process.GetCurrentProcess();
        for (int i = 0; i < Runs; i++)
        {
            process.Refresh();
            var cpu0 = process.TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            native.Run(args);
            best = Math.Min(best, sw.Elapsed.TotalMilliseconds);
            process.Refresh();
            bestCpu = Math.Min(bestCpu, (process.TotalProcessorTime - cpu0).TotalMilliseconds);
        }
        output.WriteLine($"{what}: best of {Runs}: {best:F1} ms wall, {bestCpu:F1} ms CPU (all threads)");
    }
}
