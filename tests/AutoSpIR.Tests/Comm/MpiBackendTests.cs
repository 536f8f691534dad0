using System.Diagnostics;
using AutoSpIR.Dialects;
using AutoSpIR.Dialects.Func;
using AutoSpIR.Grammar;
using AutoSpIR.Runtime;

namespace AutoSpIR.Tests.Comm;

/// <summary>
/// The tiny Llama (../shared/models/tiny-llama.json, S = 64, batch 2, f64) made by the tools: autosp-gen,
/// autosp-opt -p autodiff (one device) and -p 'autosp{sp=4}' (per rank), with random weights and a batch;
/// made once for <see cref="MpiBackendTests"/>.
/// </summary>
public sealed class MpiPrograms : IDisposable
{
    public MpiPrograms()
    {
        Dir = Directory.CreateTempSubdirectory("aspir-mpi-").FullName;
        var config = Path.Combine(Repo.ModelsDir, "tiny-llama.json");
        var (code, stdout, stderr) = Repo.Bash(
            $"dotnet '{Repo.AutospGenDll}' --hf-config '{config}' --seq-len 64 --batch 2 --dtype f64 -o step.aspir"
            + $" && dotnet '{Repo.AutospOptDll}' step.aspir -p autodiff -o joint.aspir"
            + $" && dotnet '{Repo.AutospOptDll}' joint.aspir -p 'autosp{{sp=4}}' -o sp4.aspir", Dir, TimeSpan.FromSeconds(120));
        if (code != 0) throw new InvalidOperationException($"making the programs failed ({code}):\n{stdout}\n{stderr}");
        WriteData(Path.Combine(Dir, "joint.aspir"), Path.Combine(Dir, "data.safetensors"));
    }

    public string Dir { get; }

    /// <summary>Every argument of the program's step, by its aspir.param / aspir.name, in one file: ids and labels below the vocabulary, small weights.</summary>
    private static void WriteData(string program, string path)
    {
        var ctx = AllDialects.NewContext();
        var diag = new DiagnosticEngine();
        var module = AspIRParserDriver.ParseAndVerify(File.ReadAllText(program), program, ctx, diag)
                     ?? throw new InvalidOperationException(string.Join("\n", diag.All));
        var func = module.Region(0).Ops.Single(o => o.Name == "func.func");
        var sig = FuncDialect.Signature(func);
        long vocab = 0;
        for (int i = 0; i < sig.Inputs.Count; i++)
            if (FuncDialect.ArgAttrs(func, i).Get("aspir.param") is StringAttr { Value: "model.embed_tokens.weight" })
                vocab = ((TensorType)sig.Inputs[i]).Dim(0);
        var rng = new Random(7);
        var tensors = new List<(string, HostTensor)>();
        for (int i = 0; i < sig.Inputs.Count; i++)
        {
            var t = (TensorType)sig.Inputs[i];
            var attrs = FuncDialect.ArgAttrs(func, i);
            var name = ((attrs.Get("aspir.param") ?? attrs.Get("aspir.name")) as StringAttr)!.Value;
            var values = new double[t.NumElements];
            for (int k = 0; k < values.Length; k++)
                values[k] = name switch
                {
                    "input_ids" => rng.Next((int)vocab),
                    "labels" => k % t.Dim(1) != 1 && rng.Next(6) == 0 ? -100 : rng.Next((int)vocab),
                    _ when name.EndsWith("norm.weight", StringComparison.Ordinal) => 1 + 0.2 * (rng.NextDouble() * 2 - 1),
                    _ => (rng.NextDouble() * 2 - 1) * 0.1,
                };
            tensors.Add((name, HostTensor.FromDoubles(t, values)));
        }
        SafetensorsFile.Write(path, tensors);
    }

    public void Dispose() => Directory.Delete(Dir, recursive: true);
}

/// <summary>
/// <c>autosp-run --backend mpi</c> under Open MPI's mpirun (one process per rank), against
/// <c>--backend threads</c>: the same results bit for bit, a failing or hung rank ending the job with
/// one clear error line per rank and exit code 1, and the errors of the backends that cannot run here.
/// mpirun must be installed (bin/setup installs openmpi-bin): without it these tests fail, they do not skip.
/// </summary>
public class MpiBackendTests(MpiPrograms programs) : IClassFixture<MpiPrograms>
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);
    private string Dir => programs.Dir;
    private static string Run => $"dotnet '{Repo.ToolDll("autosp-run")}'";

    /// <summary>mpirun with what this container needs: root allowed, more ranks than cores, no CMA single copy (ptrace is often denied in containers); -q: without mpirun's own MPI_ABORT notice.</summary>
    private static string Mpirun(int np)
    {
        var (code, path, _) = Repo.Bash("command -v mpirun", Repo.Root, TimeSpan.FromSeconds(10));
        Assert.True(code == 0 && path.Trim().Length > 0,
            "mpirun is not installed: the MPI backend tests need Open MPI (bin/setup installs openmpi-bin libopenmpi-dev)");
        return $"OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun -q -np {np} --oversubscribe --mca btl self,vader --mca btl_vader_single_copy_mechanism none";
    }

    private static void AssertSameBits(string expectedPath, string actualPath)
    {
        var want = SafetensorsFile.Read(expectedPath);
        var got = SafetensorsFile.Read(actualPath);
        Assert.Equal(want.Keys.Order(), got.Keys.Order());
        var differ = want.Keys.Where(k => want[k].Dtype != got[k].Dtype || !want[k].Data.AsSpan().SequenceEqual(got[k].Data)).ToList();
        Assert.True(differ.Count == 0, $"not bit-identical: {string.Join(", ", differ)}");
    }

    /// <summary>The stderr lines of rank <paramref name="rank"/>: "... error: rank R: ...".</summary>
    private static List<string> RankLines(string stderr, int rank) =>
        stderr.Split('\n').Where(l => l.Contains($" error: rank {rank}: ", StringComparison.Ordinal)).ToList();

    [Fact]
    public void SequenceParallelLlamaOnFourProcessesIsBitIdenticalToThreads()
    {
        var data = "--params data.safetensors --inputs data.safetensors";
        var (code, stdout, stderr) = Repo.Bash($"{Run} sp4.aspir {data} --ranks 4 --out threads.safetensors", Dir, Limit);
        Assert.True(code == 0, stdout + stderr);
        (code, stdout, stderr) = Repo.Bash($"{Mpirun(4)} {Run} sp4.aspir {data} --backend mpi --executor interp --out mpi.safetensors --report", Dir, Limit);
        Assert.True(code == 0, stdout + stderr);
        AssertSameBits(Path.Combine(Dir, "threads.safetensors"), Path.Combine(Dir, "mpi.safetensors"));
        Assert.Equal(22, SafetensorsFile.Read(Path.Combine(Dir, "mpi.safetensors")).Count);   // loss and 21 gradients
        // Only rank 0 reports (and writes).
        Assert.Single(stdout.Split('\n'), l => l.Contains("@train_step: ", StringComparison.Ordinal));
        Assert.Contains("bytes sent by the busiest rank", stdout);
    }

    [Fact]
    public void OneProcessRunsTheOneDeviceProgram()
    {
        var data = "--params data.safetensors --inputs data.safetensors";
        var (code, stdout, stderr) = Repo.Bash($"{Run} joint.aspir {data} --out one.safetensors", Dir, Limit);
        Assert.True(code == 0, stdout + stderr);
        (code, stdout, stderr) = Repo.Bash($"{Mpirun(1)} {Run} joint.aspir {data} --backend mpi --executor interp --ranks 1 --out one-mpi.safetensors", Dir, Limit);
        Assert.True(code == 0, stdout + stderr);
        AssertSameBits(Path.Combine(Dir, "one.safetensors"), Path.Combine(Dir, "one-mpi.safetensors"));
    }

    [Fact]
    public void EveryCollectiveOverSubGroupsIsBitIdenticalToThreads()
    {
        var program = Repo.PathOf("examples", "mpi", "collectives.aspir");
        var ctx = new Context();
        var rng = new Random(3);
        var x = HostTensor.FromDoubles(ctx.Tensor(new long[] { 16, 8 }, ctx.F32), Enumerable.Range(0, 128).Select(_ => rng.NextDouble() * 6 - 3).ToArray());
        var n = new HostTensor(ctx.Tensor(new long[] { 16, 8 }, ctx.I32), ints: Enumerable.Range(0, 128).Select(_ => (long)rng.Next(int.MinValue, int.MaxValue)).ToArray());
        SafetensorsFile.Write(Path.Combine(Dir, "coll.safetensors"), new[] { ("x", x), ("n", n) });
        var (code, stdout, stderr) = Repo.Bash($"{Run} '{program}' --inputs coll.safetensors --ranks 4 --out coll-threads.safetensors", Dir, Limit);
        Assert.True(code == 0, stdout + stderr);
        (code, stdout, stderr) = Repo.Bash($"{Mpirun(4)} {Run} '{program}' --inputs coll.safetensors --backend mpi --executor interp --out coll-mpi.safetensors", Dir, Limit);
        Assert.True(code == 0, stdout + stderr);
        AssertSameBits(Path.Combine(Dir, "coll-threads.safetensors"), Path.Combine(Dir, "coll-mpi.safetensors"));
        Assert.Equal(8, SafetensorsFile.Read(Path.Combine(Dir, "coll-mpi.safetensors")).Count);
    }

    [Fact]
    public void AFailingRankEndsEveryProcessWithAClearError()
    {
        var clock = Stopwatch.StartNew();
        var (code, stdout, stderr) = Repo.Bash(
            $"AUTOSP_FAIL_RANK=2 {Mpirun(4)} {Run} sp4.aspir --params data.safetensors --inputs data.safetensors --backend mpi --executor interp --out failed.safetensors", Dir, Limit);
        clock.Stop();
        Assert.True(code != 0 && code != -1, $"exit code {code}:\n{stdout}\n{stderr}");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"the failing run took {clock.Elapsed}:\n{stderr}");
        Assert.Equal("autosp-run: error: rank 2: injected failure (AUTOSP_FAIL_RANK=2)", Assert.Single(RankLines(stderr, 2)));
        foreach (var r in new[] { 0, 1, 3 })
        {
            var line = Assert.Single(RankLines(stderr, r));
            Assert.Matches(@"^sp4\.aspir:\d+:\d+: error: rank \d: rank 2 failed: injected failure \(AUTOSP_FAIL_RANK=2\)$", line);
        }
        Assert.Equal(4, stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);   // nothing else
        Assert.False(File.Exists(Path.Combine(Dir, "failed.safetensors")));
    }

    [Fact]
    public void ARankThatDoesNotComeTimesOutOnEveryRank()
    {
        var clock = Stopwatch.StartNew();
        var (code, stdout, stderr) = Repo.Bash(
            $"AUTOSP_STALL_RANK=3 AUTOSP_STALL_SECONDS=5 {Mpirun(4)} {Run} sp4.aspir --params data.safetensors --inputs data.safetensors --backend mpi --executor interp --timeout 2 --out stalled.safetensors",
            Dir, Limit);
        clock.Stop();
        Assert.True(code != 0 && code != -1, $"exit code {code}:\n{stdout}\n{stderr}");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"the run took {clock.Elapsed}:\n{stderr}");
        for (int r = 0; r < 4; r++)
        {
            var line = Assert.Single(RankLines(stderr, r));
            // Its own timeout, or the notice of a rank that timed out first; rank 3 only sees notices.
            Assert.Matches(@"^sp4\.aspir:\d+:\d+: error: rank \d: (rank \d failed: sp4\.aspir:\d+:\d+: )?dist\.\w+ #1 over ranks \[[0-9, ]+\] timed out after 2 s waiting for ranks? ([0-2], )*3$", line);   // a rank slow to start (a loaded machine) may be missing too
            if (r == 3) Assert.Contains("rank 3: rank ", line);
        }
        Assert.Equal(4, stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.False(File.Exists(Path.Combine(Dir, "stalled.safetensors")));
    }

    [Fact]
    public void RanksThatDisagreeOnACollectiveSayHow()
    {
        // MPMD: ranks 0 and 1 run the program, ranks 2 and 3 a copy whose all_reduce over all ranks takes the sum, not the max.
        var text = File.ReadAllText(Repo.PathOf("examples", "mpi", "collectives.aspir"));
        File.WriteAllText(Path.Combine(Dir, "coll-a.aspir"), text);
        File.WriteAllText(Path.Combine(Dir, "coll-b.aspir"), text.Replace("reduction = \"max\"", "reduction = \"sum\""));
        var ctx = new Context();
        var x = new HostTensor(ctx.Tensor(new long[] { 16, 8 }, ctx.F32));
        var n = new HostTensor(ctx.Tensor(new long[] { 16, 8 }, ctx.I32));
        SafetensorsFile.Write(Path.Combine(Dir, "zeros.safetensors"), new[] { ("x", x), ("n", n) });
        string args = "--inputs zeros.safetensors --backend mpi --executor interp --timeout 20";
        var (code, stdout, stderr) = Repo.Bash($"{Mpirun(2)} {Run} coll-a.aspir {args} : -np 2 {Run} coll-b.aspir {args}", Dir, Limit);
        Assert.True(code != 0 && code != -1, $"exit code {code}:\n{stdout}\n{stderr}");
        for (int r = 0; r < 4; r++)
            Assert.Matches(@"^coll-[ab]\.aspir:\d+:\d+: error: rank \d: (rank \d failed: coll-[ab]\.aspir:\d+:\d+: )?ranks [01] and [23] disagree on collective #1 over ranks \[0, 1, 2, 3\]: "
                           + @"rank [01] called dist\.all_reduce\(tensor<4x8xf32>\) \{reduction = ""max""\}, rank [23] called dist\.all_reduce\(tensor<4x8xf32>\) \{reduction = ""sum""\}$",
                Assert.Single(RankLines(stderr, r)));
    }

    [Fact]
    public void RanksMustEqualTheNumberOfProcesses()
    {
        var (code, stdout, stderr) = Repo.Bash(
            $"{Mpirun(2)} {Run} sp4.aspir --params data.safetensors --inputs data.safetensors --backend mpi --ranks 4", Dir, Limit);
        Assert.True(code != 0 && code != -1, $"exit code {code}:\n{stdout}\n{stderr}");
        foreach (var r in new[] { 0, 1 })
            Assert.Contains($"autosp-run: error: rank {r}: --ranks 4 differs from the number of MPI processes, 2", stderr);
        // Without --ranks, a program for 4 ranks on 2 processes is the interpreter's mesh error on each rank.
        (code, stdout, stderr) = Repo.Bash(
            $"{Mpirun(2)} {Run} sp4.aspir --params data.safetensors --inputs data.safetensors --backend mpi", Dir, Limit);
        Assert.True(code != 0 && code != -1, $"exit code {code}:\n{stdout}\n{stderr}");
        foreach (var r in new[] { 0, 1 })
            Assert.Contains($"rank {r}: ", stderr);
    }

    [Fact]
    public void MpiWithoutMpirunSaysHowToStartIt()
    {
        var (code, stdout, stderr) = Repo.Bash($"env -u OMPI_COMM_WORLD_SIZE {Run} sp4.aspir --backend mpi", Dir, Limit);
        Assert.Equal(1, code);
        Assert.Contains("autosp-run: error: --backend mpi runs under mpirun: mpirun -np 4 --allow-run-as-root --oversubscribe bin/autosp-run ", stderr);
        Assert.Equal("", stdout);
    }

    [Theory]
    [InlineData("nccl", "autosp-run: error: the nccl backend needs NVIDIA NCCL (libnccl.so.2) and an NVIDIA GPU; ")]
    [InlineData("rccl", "autosp-run: error: the rccl backend needs AMD RCCL (librccl.so.1) and an AMD GPU; ")]
    public void GpuBackendsSayWhatIsMissing(string backend, string error)
    {
        var (code, stdout, stderr) = Repo.Bash($"{Run} sp4.aspir --backend {backend}", Dir, Limit);
        Assert.Equal(1, code);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith(error, line);
        Assert.EndsWith("Use --backend threads, native or mpi.", line);
        Assert.Equal("", stdout);
    }

    /// <summary>
    /// The native executor (the default of --backend native and mpi) gives the interpreter's loss and gradients
    /// (f64, up to reassociation): on thread ranks, on 4 MPI processes, and on one process with the one-device program.
    /// </summary>
    [Theory]
    [InlineData("sp4.aspir", 4, "--backend native --ranks 4")]
    [InlineData("sp4.aspir", 4, "--executor native --ranks 4")]
    [InlineData("sp4.aspir", 4, "MPI --backend mpi")]
    [InlineData("joint.aspir", 1, "MPI --backend mpi --ranks 1")]
    public void TheNativeExecutorMatchesTheInterpreter(string program, int ranks, string options)
    {
        var data = "--params data.safetensors --inputs data.safetensors";
        var reference = $"interp-{ranks}-{program}.safetensors";
        var (code, stdout, stderr) = Repo.Bash($"{Run} {program} {data} --ranks {ranks} --out {reference}", Dir, Limit);
        Assert.True(code == 0, stdout + stderr);
        var command = options.StartsWith("MPI ", StringComparison.Ordinal)
            ? $"{Mpirun(ranks)} {Run} {program} {data} {options[4..]}"
            : $"{Run} {program} {data} {options}";
        (code, stdout, stderr) = Repo.Bash($"{command} --compare {reference} --rtol 1e-10", Dir, Limit);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("compared 22 tensors", stdout);
    }

    [Fact]
    public void TimingOptionsAreRefusedUnderMpirun()
    {
        var (code, _, stderr) = Repo.Bash($"OMPI_COMM_WORLD_SIZE=4 {Run} sp4.aspir --backend mpi --repeat 3", Dir, Limit);
        Assert.Equal(1, code);
        Assert.Equal("autosp-run: error: --repeat and --profile time the native executor in one process (--backend native), not under mpirun", stderr.Trim());
    }

    [Fact]
    public void TheNativeBackendRefusesTheInterpreter()
    {
        var (code, _, stderr) = Repo.Bash($"{Run} sp4.aspir --backend native --executor interp", Dir, Limit);
        Assert.Equal(1, code);
        Assert.Equal("autosp-run: error: --backend native runs the native executor; for the interpreter use --backend threads", stderr.Trim());
    }
}
