using System.Text.Json;
using AutoSpIR.Tools.Gen;
using AutoSpIR.Tools.Plan;

namespace AutoSpIR.Tests.Plan;

/// <summary>
/// autosp-plan: the longest context it reports for a strategy fits (its compiled step plans to
/// at most the memory) and one granularity step longer does not; more memory never gives a
/// shorter context; the JSON and the trace parse; bad options get a clear error.
/// </summary>
public class PlanTests
{
    private static readonly string TinyLlama = Path.Combine(Repo.ModelsDir, "tiny-llama.json");
    private const long MiB = 1L << 20;

    private static Planner TinyPlanner(int gpus) =>
        new(HfConfig.Parse(File.ReadAllText(TinyLlama)), null, "bf16", gpus, new Overheads(0, 0, 0, 0));

    [Theory]
    [InlineData("zero3")]
    [InlineData("ulysses")]
    [InlineData("autosp")]
    [InlineData("autospir")]
    public void LongestFittingIsTheBoundary(string name)
    {
        var strategy = Strategy.Lookup(name)!;
        var planner = TinyPlanner(4);
        const long granularity = 256, memory = 64 * MiB;
        var best = planner.LongestFitting(strategy, memory, granularity, 1 << 24);
        Assert.NotNull(best);
        Assert.True(best!.PeakBytes <= memory, $"{name}: {best.SeqLen} tokens plan to {best.PeakBytes} bytes, over {memory}");
        var next = planner.Compile(strategy, best.SeqLen + granularity);
        Assert.True(next.PeakBytes > memory, $"{name}: {next.SeqLen} tokens plan to {next.PeakBytes} bytes and fit too");
        var more = planner.LongestFitting(strategy, 2 * memory, granularity, 1 << 24);
        Assert.True(more!.SeqLen >= best.SeqLen, $"{name}: twice the memory gives {more.SeqLen} tokens, fewer than {best.SeqLen}");
    }

    [Fact]
    public void JsonListsEveryStrategyWithItsBreakdownAndTheTraceParses()
    {
        var trace = Path.Combine(Path.GetTempPath(), $"aspir-plan-{Guid.NewGuid():N}.json");
        try
        {
            var (code, stdout, stderr) = Repo.Bash(
                $"dotnet '{Repo.ToolDll("autosp-plan")}' --hf-config '{TinyLlama}' --gpus 4 --gpu-memory 64MiB --cuda-context 0 --comm-buffers 0 " +
                $"--granularity 512 --json --trace '{trace}'", Repo.Root, TimeSpan.FromMinutes(5));
            Assert.True(code == 0, stderr);
            Assert.Equal("", stderr);   // --json: no progress display
            using var doc = JsonDocument.Parse(stdout);
            var names = doc.RootElement.GetProperty("strategies").EnumerateArray().Select(s => s.GetProperty("name").GetString()).ToArray();
            Assert.Equal(new[] { "zero3", "ulysses", "autosp", "autospir" }, names);
            foreach (var s in doc.RootElement.GetProperty("strategies").EnumerateArray())
            {
                Assert.True(s.GetProperty("max_context").GetInt64() >= 512);
                Assert.True(s.GetProperty("peak_bytes").GetInt64() <= 64 * MiB);
                var b = s.GetProperty("breakdown");
                foreach (var key in new[] { "parameters", "gradients", "optimizer_state", "activations", "communication", "workspace" })
                    Assert.True(b.GetProperty(key).GetInt64() >= 0, key);
                // Every strategy trains with AdamW: its m and v (aspir.opt_state) are live throughout.
                Assert.True(b.GetProperty("optimizer_state").GetInt64() > 0, "no optimizer state");
                Assert.True(b.GetProperty("parameters").GetInt64() > 0, "no parameters");
            }
            using var t = JsonDocument.Parse(File.ReadAllText(trace));
            Assert.Contains(t.RootElement.GetProperty("traceEvents").EnumerateArray(), e => e.GetProperty("ph").GetString() == "C");
        }
        finally
        {
            File.Delete(trace);
        }
    }

    [Theory]
    [InlineData("--gpus 4", "missing --hf-config")]
    [InlineData("--hf-config {0}", "missing --gpus N")]
    [InlineData("--hf-config {0} --gpus 0", "--gpus takes a positive number")]
    [InlineData("--hf-config {0} --gpus 4 --gpu-memory lots", "--gpu-memory takes a size like 80GiB")]
    [InlineData("--hf-config {0} --gpus 4 --strategy fastest", "unknown strategy 'fastest'")]
    [InlineData("--hf-config {0} --gpus 4 --gpu v100", "unknown --gpu 'v100'")]
    [InlineData("--hf-config /no/such.json --gpus 4", "/no/such.json")]
    public void BadOptionsGetAClearError(string args, string message)
    {
        var (code, _, stderr) = Repo.Bash($"dotnet '{Repo.ToolDll("autosp-plan")}' {string.Format(args, $"'{TinyLlama}'")}", Repo.Root, TimeSpan.FromMinutes(1));
        Assert.Equal(1, code);
        Assert.Contains(message, stderr);
        Assert.DoesNotContain("   at ", stderr);
    }

    [Theory]
    [InlineData("80GiB", 80L << 30)]
    [InlineData("80GB", 80_000_000_000L)]
    [InlineData("512MiB", 512L << 20)]
    [InlineData("0", 0L)]
    public void SizesParse(string text, long bytes)
    {
        Assert.True(Gpu.TryParseBytes(text, out var got));
        Assert.Equal(bytes, got);
    }
}
