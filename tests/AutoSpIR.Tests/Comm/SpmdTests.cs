using System.Diagnostics;
using AutoSpIR.Dialects;
using AutoSpIR.Grammar;
using AutoSpIR.Runtime;
using AutoSpIR.Runtime.Comm;

namespace AutoSpIR.Tests.Comm;

/// <summary>
/// Interpreter.RunSpmd with the dist kernels: generic dist ops on a 2x4 mesh against references
/// from all ranks' inputs, memory and byte accounting per rank, and the errors.
/// </summary>
public class SpmdTests
{
    private const string Mesh = "\"dist.mesh\"() {axes = [\"dp\", \"sp\"], shape = [2, 4], sym_name = \"mesh\"} : () -> ()";

    /// <summary>Parses a module (unregistered ops allowed) and returns its function @f.</summary>
    private static Operation Func(string body)
    {
        var ctx = AllDialects.NewContext();
        ctx.AllowUnregisteredDialects = true;
        var diag = new DiagnosticEngine();
        var text = $"module {{\n  {Mesh}\n{body}}}\n";
        var module = AspIRParserDriver.ParseAndVerify(text, "spmd.aspir", ctx, diag);
        Assert.True(module is not null, "the test program does not parse:\n" + string.Join("\n", diag.All) + "\n" + text);
        return Interpreter.FindFunc(module!, "f");
    }

    private const string Collectives = """
          func.func @f(%x: tensor<8x4xf32>) -> (tensor<32x4xf32>, tensor<8x4xf32>, tensor<2x4xf32>, tensor<2x16xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<i64>, tensor<i64>) {
            %g = "dist.all_gather"(%x) {axes = ["sp"], dim = 0, mesh = @mesh} : (tensor<8x4xf32>) -> tensor<32x4xf32>
            %s = "dist.all_reduce"(%x) {axes = ["dp"], mesh = @mesh, reduction = "sum"} : (tensor<8x4xf32>) -> tensor<8x4xf32>
            %rs = "dist.reduce_scatter"(%x) {axes = ["sp"], dim = -2, mesh = @mesh} : (tensor<8x4xf32>) -> tensor<2x4xf32>
            %a = "dist.all_to_all"(%x) {axes = ["sp"], concat_dim = 1, mesh = @mesh, split_dim = 0} : (tensor<8x4xf32>) -> tensor<2x16xf32>
            %sh = "dist.shift"(%x) {axes = ["sp"], mesh = @mesh, offset = 1} : (tensor<8x4xf32>) -> tensor<8x4xf32>
            %rot = "dist.shift"(%x) {axes = ["sp"], mesh = @mesh, offset = -1, rotate} : (tensor<8x4xf32>) -> tensor<8x4xf32>
            %m = "dist.all_reduce"(%x) {axes = ["dp", "sp"], mesh = @mesh, reduction = "max"} : (tensor<8x4xf32>) -> tensor<8x4xf32>
            %i = "dist.axis_index"() {axes = ["sp", "dp"], mesh = @mesh} : () -> tensor<i64>
            %j = "dist.axis_index"() {axes = ["sp"], mesh = @mesh} : () -> tensor<i64>
            func.return %g, %s, %rs, %a, %sh, %rot, %m, %i, %j : tensor<32x4xf32>, tensor<8x4xf32>, tensor<2x4xf32>, tensor<2x16xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<i64>, tensor<i64>
          }

        """;

    [Fact]
    public void DistOpsOnATwoByFourMesh()
    {
        var func = Func(Collectives);
        var type = CT.Type(new Context(), "f32", 8, 4);
        var xs = CT.Inputs(type, 8);
        var runs = Interpreter.RunSpmd(func, 8, r => new[] { xs[r] });
        Assert.Equal(8, runs.Length);
        var shape = type.Shape.ToArray();
        for (int r = 0; r < 8; r++)
        {
            int dp = r / 4, sp = r % 4;
            var spGroup = Enumerable.Range(0, 4).Select(j => xs[4 * dp + j]).ToArray();
            var dpGroup = new[] { xs[sp], xs[sp + 4] };
            var res = runs[r].Results;
            CT.Equal(CT.AllGather(spGroup, 0, out var s0), s0, res[0], $"all_gather on rank {r}");
            CT.Equal(CT.Reduce(dpGroup, false, type.Element), shape, res[1], $"all_reduce on rank {r}");
            CT.Equal(CT.ReduceScatter(spGroup, 0, sp, out var s2), s2, res[2], $"reduce_scatter on rank {r}");
            CT.Equal(CT.AllToAll(spGroup, 0, 1, sp, out var s3), s3, res[3], $"all_to_all on rank {r}");
            CT.Equal(CT.Shift(spGroup, 1, false, sp), shape, res[4], $"shift on rank {r}");
            CT.Equal(CT.Shift(spGroup, -1, true, sp), shape, res[5], $"rotate on rank {r}");
            CT.Equal(CT.Reduce(xs, true, type.Element), shape, res[6], $"max on rank {r}");
            Assert.Equal(new[] { (double)(sp * 2 + dp) }, res[7].ToDoubles());
            Assert.Equal(new[] { (double)sp }, res[8].ToDoubles());
            long b = 8 * 4 * 4;
            long sent = 3 * b + 2 * 1 * b / 2 + 3 * b / 4 + 3 * b / 4 + (sp < 3 ? b : 0) + b + 2 * 7 * b / 8;
            Assert.Equal(sent, runs[r].BytesSent);
        }
    }

    [Fact]
    public void CollectiveResultsAreAllocatedLikeAnyResult()
    {
        var func = Func("""
              func.func @f(%x: tensor<8x4xf32>) -> tensor<8x4xf32> {
                %g = "dist.all_gather"(%x) {axes = ["sp"], dim = 0, mesh = @mesh} : (tensor<8x4xf32>) -> tensor<32x4xf32>
                %r = "dist.reduce_scatter"(%g) {axes = ["sp"], dim = 0, mesh = @mesh} : (tensor<32x4xf32>) -> tensor<8x4xf32>
                func.return %r : tensor<8x4xf32>
              }

            """);
        var type = CT.Type(new Context(), "f32", 8, 4);
        var xs = CT.Inputs(type, 8);
        var runs = Interpreter.RunSpmd(func, 8, r => new[] { xs[r] });
        for (int r = 0; r < 8; r++)
        {
            // x 128 bytes; %g +512 -> 640; %r +128 -> 768, then %g is freed.
            Assert.Equal(768, runs[r].PeakBytes);
            // all_gather 3 * 128 + reduce_scatter 3 * 512 / 4
            Assert.Equal(384 + 384, runs[r].BytesSent);
            // every rank of a group gathered the same tensor, so the chunk sums to 4x (exact).
            Assert.Equal(xs[r].ToDoubles().Select(v => 4 * v).ToArray(), runs[r].Results[0].ToDoubles());
            Assert.True(runs[r].Elapsed > TimeSpan.Zero);
        }
    }

    private const string OneAllReduce = """
          func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
            %s = "dist.all_reduce"(%x) {axes = ["sp"], mesh = @mesh, reduction = "sum"} : (tensor<4xf32>) -> tensor<4xf32>
            func.return %s : tensor<4xf32>
          }

        """;

    [Fact]
    public void TheMeshMustHaveAsManyRanksAsTheRun()
    {
        var func = Func(OneAllReduce);
        var x = CT.Input(CT.Type(new Context(), "f32", 4), 0);
        var e = Assert.Throws<RuntimeErrorException>(() => Interpreter.RunSpmd(func, 4, _ => new[] { x }));
        Assert.Equal("'dist.all_reduce' op runs on mesh @mesh [\"dp\"=2, \"sp\"=4] of 8 ranks, but the program is run on 4 ranks", e.Message);
        Assert.Equal(4, e.Location.Line);
    }

    [Fact]
    public void AMissingMeshIsAnErrorAtTheOp()
    {
        var func = Func(OneAllReduce);
        var op = func.Region(0).Blocks[0].Ops.First();
        op.SetAttr("mesh", op.Context.Symbol("elsewhere"));
        var x = CT.Input(CT.Type(new Context(), "f32", 4), 0);
        var e = Assert.Throws<RuntimeErrorException>(() => Interpreter.RunSpmd(func, 8, _ => new[] { x }));
        Assert.Equal("'dist.all_reduce' op names mesh @elsewhere, but no 'dist.mesh' op of that name encloses it", e.Message);
    }

    [Fact]
    public void TheSingleRankInterpreterRefusesCollectives()
    {
        var func = Func(OneAllReduce);
        var x = CT.Input(CT.Type(new Context(), "f32", 4), 0);
        var e = Assert.Throws<RuntimeErrorException>(() => Interpreter.Run(func, new[] { x }));
        Assert.Equal("'dist.all_reduce' op communicates between ranks; run the program with Interpreter.RunSpmd, not the single-rank interpreter", e.Message);
    }

    [Fact]
    public void TheFirstRealErrorIsRethrownWithItsRankAndTheOthersStopFast()
    {
        var func = Func("""
              func.func @f(%t: tensor<4x2xf32>, %ids: tensor<2xi64>) -> tensor<2x2xf32> {
                %e = tensor.embedding %t, %ids : (tensor<4x2xf32>, tensor<2xi64>) -> tensor<2x2xf32>
                %s = "dist.all_reduce"(%e) {axes = ["dp", "sp"], mesh = @mesh, reduction = "sum"} : (tensor<2x2xf32>) -> tensor<2x2xf32>
                func.return %s : tensor<2x2xf32>
              }

            """);
        var table = CT.Input(CT.Type(new Context(), "f32", 4, 2), 0);
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<RuntimeErrorException>(() => Interpreter.RunSpmd(func, 8, r =>
            new HostTensor[] { table, new(CT.Type(new Context(), "i64", 2), ints: new long[] { 1, r == 5 ? 9 : 2 }) }));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"took {clock.Elapsed}");
        Assert.StartsWith("rank 5: 'tensor.embedding' op id 9 at ids[1] is out of range [0, 4)", e.Message);
        Assert.Equal(4, e.Location.Line);
    }

    [Fact]
    public void ArgumentErrorsNameTheirRank()
    {
        var func = Func(OneAllReduce);
        var e = Assert.Throws<ArgumentException>(() => Interpreter.RunSpmd(func, 8, r =>
            new[] { CT.Input(CT.Type(new Context(), "f32", r == 3 ? 5 : 4), r) }));
        Assert.StartsWith("rank 3: argument #0 (%x) of @f has type tensor<5xf32>, but the function expects tensor<4xf32>", e.Message);
    }

    [Fact]
    public void KernelErrorsOnEveryRankReportOne()
    {
        var func = Func(OneAllReduce);
        var op = func.Region(0).Blocks[0].Ops.First();
        op.SetAttr("reduction", op.Context.String("min"));
        var x = CT.Input(CT.Type(new Context(), "f32", 4), 0);
        var e = Assert.Throws<RuntimeErrorException>(() => Interpreter.RunSpmd(func, 8, _ => new[] { x }));
        Assert.Matches("^rank [0-7]: 'dist.all_reduce' op has reduction \"min\"; the reductions are \"sum\" and \"max\"$", e.Message);
    }

    [Fact]
    public void CommunicatorErrorsCarryTheOpLocation()
    {
        // A kernel table whose all_reduce returns at once on rank 2: the others wait for a rank that finished.
        var real = KernelTable.Default.Lookup("dist.all_reduce")!;
        var kernels = new KernelTable();
        foreach (var name in KernelTable.Default.OpNames.Where(n => n != "dist.all_reduce")) kernels.Add(name, KernelTable.Default.Lookup(name)!);
        kernels.Add("dist.all_reduce", k => k.Comm.Rank == 2 ? new[] { k.NewResult() } : real(k));
        var func = Func(OneAllReduce);
        var x = CT.Input(CT.Type(new Context(), "f32", 4), 0);
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<CommunicatorException>(() => Interpreter.RunSpmd(func, 8, _ => new[] { x }, kernels: kernels));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"took {clock.Elapsed}");
        Assert.Matches(@"^rank [0-7]: rank 2 finished without joining dist\.all_reduce #1 over ranks \[0, 1, 2, 3\]$", e.Message);
        Assert.False(e.IsSecondary);
        Assert.Equal(4, e.Location!.Value.Line);
    }
}
