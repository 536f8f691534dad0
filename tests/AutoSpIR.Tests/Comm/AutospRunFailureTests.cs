using System.Diagnostics;
using AutoSpIR.Dialects.Func;
using AutoSpIR.Runtime;
using AutoSpIR.Tests.AutoSp;

namespace AutoSpIR.Tests.Comm;

/// <summary>
/// <c>autosp-opt -p 'autosp{sp=4}'</c> then <c>autosp-run --ranks 4</c>, as processes, on data that
/// makes one rank fail (<see cref="RankFailureTests"/>): the process exits with 1 within seconds
/// (autosp-run has no timeout option; a rank waits 60 s in a collective before it times out) and
/// prints the failing rank's error at the op's line in the program, nothing else, and writes no
/// results.
/// </summary>
public class AutospRunFailureTests
{
    [Theory]
    [InlineData("labels", 2, "error: rank 2: 'tensor.cross_entropy' op target 32 at labels[1, 0] is out of range [0, 32)")]
    [InlineData("input_ids", 1, "error: rank 1: 'tensor.embedding' op id 32 at ids[1, 1] is out of range [0, 32)")]
    public void AFailingRankEndsTheProcessWithItsError(string input, int rank, string error)
    {
        var dir = Directory.CreateTempSubdirectory("aspir-rankfail-").FullName;
        try
        {
            var c = RankFailureTests.Case;
            var joint = AutoSpHarness.Joint(c);
            var func = AutoSpHarness.Step(joint);
            File.WriteAllText(Path.Combine(dir, "joint.aspir"), Printer.Print(joint));
            Write(Path.Combine(dir, "good.safetensors"), func, AutoSpHarness.Inputs(joint, c));
            Write(Path.Combine(dir, "bad.safetensors"), func, RankFailureTests.BadInputs(joint, input, rank));

            var (code, stdout, stderr) = Repo.Bash($"dotnet '{Repo.ToolDll("autosp-opt")}' joint.aspir -p 'autosp{{sp={c.Sp}}}' -o ranks.aspir",
                dir, TimeSpan.FromSeconds(120));
            Assert.True(code == 0, stdout + stderr);

            string Run(string data) =>
                $"dotnet '{Repo.ToolDll("autosp-run")}' ranks.aspir --ranks 4 --params {data}.safetensors --inputs {data}.safetensors --out {data}.out.safetensors";
            (code, stdout, stderr) = Repo.Bash(Run("good"), dir, TimeSpan.FromSeconds(120));
            Assert.True(code == 0, stdout + stderr);
            Assert.True(File.Exists(Path.Combine(dir, "good.out.safetensors")));

            var clock = Stopwatch.StartNew();
            (code, stdout, stderr) = Repo.Bash(Run("bad"), dir, TimeSpan.FromSeconds(120));
            clock.Stop();
            Assert.True(code == 1, $"exit code {code} after {clock.Elapsed}:\n{stdout}\n{stderr}");
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"the failing run took {clock.Elapsed}");
            var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Matches(@"^ranks\.aspir:\d+:\d+: ", line);
            Assert.Contains(error, line);
            Assert.False(File.Exists(Path.Combine(dir, "bad.out.safetensors")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The arguments of <paramref name="func"/> by their aspir.param / aspir.name, in one file (autosp-run reads both from it).</summary>
    private static void Write(string path, Operation func, HostTensor[] inputs) =>
        SafetensorsFile.Write(path, inputs.Select((t, i) =>
        {
            var attrs = FuncDialect.ArgAttrs(func, i);
            return (((attrs.Get("aspir.param") ?? attrs.Get("aspir.name")) as StringAttr)!.Value, t);
        }));
}
