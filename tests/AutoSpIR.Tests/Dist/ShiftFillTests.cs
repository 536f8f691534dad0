using AutoSpIR.Dialects;
using AutoSpIR.Dialects.Dist;
using AutoSpIR.Grammar;
using AutoSpIR.Runtime;

namespace AutoSpIR.Tests.Dist;

/// <summary>
/// dist.shift's <c>fill</c> on in-process ranks: the positions with no source get a tensor filled
/// with it (rounded once to a float element type), the others their source's tensor; and the halo
/// the partitioner builds from it for tensor.shift of sequence-sharded labels gives the global
/// tensor.shift, shard by shard.
/// </summary>
public class ShiftFillTests
{
    private static Operation Func(string text)
    {
        var diag = new DiagnosticEngine();
        var module = AspIRParserDriver.ParseAndVerify(text, "shift.aspir", AllDialects.NewContext(), diag);
        Assert.True(module is not null, "the test program does not parse:\n" + string.Join("\n", diag.All) + "\n" + text);
        return Interpreter.FindFunc(module!, "f");
    }

    [Theory]
    [InlineData("f32", 1L, "-2.5", -2.5)]
    [InlineData("f64", -1L, "7", 7.0)]
    [InlineData("bf16", 2L, "0.1", 0.10009765625)]   // 0.1 rounded once to bf16
    [InlineData("i64", -1L, "-100", -100.0)]
    [InlineData("i32", 3L, "-7", -7.0)]
    [InlineData("f32", -5L, "1.5", 1.5)]              // |offset| >= G: every position fills
    public void PositionsWithoutASourceGetTheFill(string elem, long offset, string fill, double filled)
    {
        // Mesh 2 x 4, group over "sp": position = rank % 4 receives from position - offset.
        var func = Func($$"""
            dist.mesh @mesh {axes = ["dp", "sp"], shape = [2, 4]}
            func.func @f(%x: tensor<2x3x{{elem}}>) -> (tensor<2x3x{{elem}}>, tensor<2x3x{{elem}}>) {
              %y = dist.shift %x {axes = ["sp"], fill = {{fill}}, mesh = @mesh, offset = {{offset}}} : tensor<2x3x{{elem}}>
              %z = dist.shift %x {axes = ["sp"], mesh = @mesh, offset = {{offset}}} : tensor<2x3x{{elem}}>
              func.return %y, %z : tensor<2x3x{{elem}}>, tensor<2x3x{{elem}}>
            }
            """);
        var type = (TensorType)func.Region(0).Blocks[0].Arguments[0].Type;
        var xs = Enumerable.Range(0, 8).Select(r => HostTensor.FromDoubles(type, Enumerable.Range(0, 6).Select(i => (double)(10 * r + i)).ToArray())).ToArray();
        var runs = Interpreter.RunSpmd(func, 8, r => new[] { xs[r] });
        for (int r = 0; r < 8; r++)
        {
            int dp = r / 4, sp = r % 4;
            long source = Shift.SourceOf(sp, 4, offset, rotate: false);
            var expected = source < 0 ? Enumerable.Repeat(filled, 6).ToArray() : xs[4 * dp + (int)source].ToDoubles();
            Assert.Equal(expected, runs[r].Results[0].ToDoubles());
            // Without fill: zeros, as before.
            Assert.Equal(source < 0 ? new double[6] : expected, runs[r].Results[1].ToDoubles());
        }
    }

    /// <summary>
    /// tensor.shift {dim = 1, amount = 1, fill = -100} of [2, S] labels sharded along S over P ranks is, on each
    /// rank, its own labels from column 1 on, followed by the next rank's first column, which dist.shift
    /// {offset = -1, fill = -100} brings (the last rank, which has no next one, gets -100): the halo = amount
    /// of tensor.shift's sharding rule.
    /// </summary>
    [Theory]
    [InlineData(2, 8)]
    [InlineData(4, 8)]
    [InlineData(4, 4)]
    public void ShardedLabelShiftIsTheGlobalShift(int p, int seq)
    {
        int local = seq / p;
        var global = Func($$"""
            func.func @f(%l: tensor<2x{{seq}}xi64>) -> tensor<2x{{seq}}xi64> {
              %y = tensor.shift %l {amount = 1, dim = 1, fill = -100} : tensor<2x{{seq}}xi64>
              func.return %y : tensor<2x{{seq}}xi64>
            }
            """);
        var sharded = Func($$"""
            dist.mesh @mesh {axes = ["sp"], shape = [{{p}}]}
            func.func @f(%l: tensor<2x{{local}}xi64>) -> tensor<2x{{local}}xi64> {
              %first = tensor.slice %l {offsets = [0, 0], sizes = [2, 1]} : tensor<2x{{local}}xi64> -> tensor<2x1xi64>
              %halo = dist.shift %first {axes = ["sp"], fill = -100, mesh = @mesh, offset = -1} : tensor<2x1xi64>
              %own = tensor.shift %l {amount = 1, dim = 1, fill = -100} : tensor<2x{{local}}xi64>
              %rest = tensor.slice %own {offsets = [0, 0], sizes = [2, {{local - 1}}]} : tensor<2x{{local}}xi64> -> tensor<2x{{local - 1}}xi64>
              %y = tensor.concat %rest, %halo {dim = 1} : (tensor<2x{{local - 1}}xi64>, tensor<2x1xi64>) -> tensor<2x{{local}}xi64>
              func.return %y : tensor<2x{{local}}xi64>
            }
            """);
        var gt = (TensorType)global.Region(0).Blocks[0].Arguments[0].Type;
        var lt = (TensorType)sharded.Region(0).Blocks[0].Arguments[0].Type;
        var labels = new HostTensor(gt, ints: Enumerable.Range(0, 2 * seq).Select(i => (long)(i % 5 == 3 ? -100 : i)).ToArray());
        var want = Interpreter.Run(global, new[] { labels }).Results[0].Ints!;
        HostTensor Shard(int r) => new(lt, ints: Enumerable.Range(0, 2 * local).Select(i => labels.Ints![i / local * seq + r * local + i % local]).ToArray());
        var runs = Interpreter.RunSpmd(sharded, p, r => new[] { Shard(r) });
        for (int r = 0; r < p; r++)
        {
            var expected = Enumerable.Range(0, 2 * local).Select(i => want[i / local * seq + r * local + i % local]).ToArray();
            Assert.Equal(expected, runs[r].Results[0].Ints);
        }
    }

    [Fact]
    public void CreateBuildsAFill()
    {
        var ctx = AllDialects.NewContext();
        var diag = new DiagnosticEngine();
        var module = AspIRParserDriver.ParseAndVerify("""
            dist.mesh @mesh {axes = ["sp"], shape = [4]}
            func.func @f(%l: tensor<2x1xi64>) -> tensor<2x1xi64> {
              func.return %l : tensor<2x1xi64>
            }
            """, "create.aspir", ctx, diag)!;
        var func = Interpreter.FindFunc(module, "f");
        var ret = func.Region(0).EntryBlock!.Last!;
        var b = new Builder(ctx);
        b.SetInsertionPoint(ret);
        var group = Group.Get(DeviceMesh.Lookup(func, "mesh")!, new[] { "sp" });
        var y = Shift.Create(b, func.Region(0).Blocks[0].Arguments[0], group, -1, fill: ctx.Integer(-100));
        ret.SetOperands(new[] { y });
        Assert.True(Verifier.Verify(module, diag), string.Join("\n", diag.All));
        Assert.Contains("dist.shift %l {axes = [\"sp\"], fill = -100, mesh = @mesh, offset = -1} : tensor<2x1xi64>", Printer.Print(module));
        Assert.Equal(-100.0, Shift.FillOf(y.DefiningOp!));
        // A fill with rotate is refused by the builder too.
        Assert.Throws<InvalidOperationException>(() => Shift.Create(b, func.Region(0).Blocks[0].Arguments[0], group, 1, rotate: true, fill: ctx.Integer(0)));
    }
}
