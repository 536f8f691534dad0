using AutoSpIR.Dialects;
using AutoSpIR.Dialects.Dist;
using AutoSpIR.Grammar;

namespace AutoSpIR.Tests.Dist;

/// <summary>Rank layout, groups and positions of a mesh, shift's sources, and the builders of the collectives.</summary>
public class DeviceMeshTests
{
    private static readonly DeviceMesh DpSp = new("mesh", new[] { "dp", "sp" }, new long[] { 2, 4 });

    [Fact]
    public void RanksAreRowMajorOverTheAxesInDeclarationOrder()
    {
        Assert.Equal(8, DpSp.NumRanks);
        for (long dp = 0; dp < 2; dp++)
            for (long sp = 0; sp < 4; sp++)
            {
                long rank = dp * 4 + sp;
                Assert.Equal(rank, DpSp.RankOf(new[] { dp, sp }));
                Assert.Equal(new[] { dp, sp }, DpSp.Coordinates(rank));
            }
        var cube = new DeviceMesh("c", new[] { "x", "y", "z" }, new long[] { 2, 3, 4 });
        Assert.Equal(1 * 12 + 2 * 4 + 3, cube.RankOf(new long[] { 1, 2, 3 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => DpSp.Coordinates(8));
        Assert.Throws<ArgumentOutOfRangeException>(() => DpSp.RankOf(new long[] { 2, 0 }));
    }

    [Fact]
    public void GroupsShareEveryOtherCoordinateAndAreOrderedByTheListedAxes()
    {
        // Rank 6 is dp = 1, sp = 2.
        Assert.Equal(new long[] { 4, 5, 6, 7 }, DpSp.GroupRanks(6, new[] { "sp" }));
        Assert.Equal(2, DpSp.GroupPosition(6, new[] { "sp" }));
        Assert.Equal(new long[] { 2, 6 }, DpSp.GroupRanks(6, new[] { "dp" }));
        Assert.Equal(1, DpSp.GroupPosition(6, new[] { "dp" }));
        Assert.Equal(new long[] { 0, 1, 2, 3, 4, 5, 6, 7 }, DpSp.GroupRanks(6, new[] { "dp", "sp" }));
        Assert.Equal(6, DpSp.GroupPosition(6, new[] { "dp", "sp" }));
        // ["sp", "dp"]: position = sp*2 + dp.
        Assert.Equal(new long[] { 0, 4, 1, 5, 2, 6, 3, 7 }, DpSp.GroupRanks(6, new[] { "sp", "dp" }));
        Assert.Equal(5, DpSp.GroupPosition(6, new[] { "sp", "dp" }));
        Assert.Equal(8, DpSp.GroupSize(new[] { "sp", "dp" }));
        // Every rank's position indexes itself in its group's rank list.
        foreach (var axes in new[] { new[] { "sp" }, new[] { "dp" }, new[] { "sp", "dp" } })
            for (long r = 0; r < 8; r++)
                Assert.Equal(r, DpSp.GroupRanks(r, axes)[DpSp.GroupPosition(r, axes)]);
    }

    [Theory]
    [InlineData(new[] { "dp", "dp" }, new long[] { 2, 2 }, "axis \"dp\" is declared twice")]
    [InlineData(new[] { "dp" }, new long[] { 0 }, "axis \"dp\" has size 0; sizes must be at least 1")]
    [InlineData(new[] { "dp", "sp" }, new long[] { 2 }, "has 2 axis names but 1 size")]
    [InlineData(new string[0], new long[0], "a mesh needs at least one axis")]
    [InlineData(new[] { "" }, new long[] { 2 }, "axis #0 has an empty name")]
    public void InvalidMeshesAreRejected(string[] axes, long[] shape, string message)
    {
        Assert.Equal(message, Assert.Throws<ArgumentException>(() => new DeviceMesh("m", axes, shape)).Message);
    }

    [Theory]
    // position, G, offset, rotate -> source (-1: zeros)
    [InlineData(0, 4, 1, false, -1)]
    [InlineData(1, 4, 1, false, 0)]
    [InlineData(3, 4, 1, false, 2)]
    [InlineData(0, 4, 1, true, 3)]
    [InlineData(3, 4, -1, false, -1)]
    [InlineData(3, 4, -1, true, 0)]
    [InlineData(1, 3, 7, true, 0)]
    [InlineData(1, 3, -7, true, 2)]
    [InlineData(2, 4, 4, false, -1)]
    public void ShiftSources(long position, long g, long offset, bool rotate, long source)
    {
        Assert.Equal(source, Shift.SourceOf(position, g, offset, rotate));
        if (source >= 0) Assert.Equal(position, Shift.DestinationOf(source, g, offset, rotate));
    }

    [Fact]
    public void BuildersInferTheLocalTypesFromTheMesh()
    {
        var ctx = AllDialects.NewContext();
        var diag = new DiagnosticEngine();
        var module = AspIRParserDriver.ParseAndVerify("""
            dist.mesh @mesh {axes = ["dp", "sp"], shape = [2, 4]}
            func.func @f(%x: tensor<1x64x8x16xf32>) -> tensor<1x64x8x16xf32> {
              func.return %x : tensor<1x64x8x16xf32>
            }
            """, "test.aspir", ctx, diag);
        Assert.True(module is not null, string.Join("\n", diag.All));
        var func = module!.Region(0).Ops.Single(o => o.Name == "func.func");
        var ret = func.Region(0).EntryBlock!.Last!;
        var x = func.Region(0).EntryBlock!.Arguments[0];
        var b = new Builder(ctx);
        b.SetInsertionPoint(ret);
        var sp = Group.Get(DeviceMesh.Lookup(func, "mesh")!, new[] { "sp" });
        Assert.Equal(4, sp.Size);

        var heads = AllToAll.Create(b, x, sp, splitDim: 2, concatDim: 1);
        Assert.Equal("tensor<1x256x2x16xf32>", heads.Type.ToString());
        var back = AllToAll.Create(b, heads, sp, splitDim: 1, concatDim: 2);
        Assert.Same(x.Type, back.Type);
        var gathered = AllGather.Create(b, x, sp, dim: -1);
        Assert.Equal("tensor<1x64x8x64xf32>", gathered.Type.ToString());
        var scattered = ReduceScatter.Create(b, gathered, sp, dim: -1);
        Assert.Same(x.Type, scattered.Type);
        var summed = AllReduce.Create(b, scattered, Group.Get(sp.Mesh, new[] { "dp", "sp" }));
        var shifted = Shift.Create(b, summed, sp, offset: 1, rotate: true);
        var index = AxisIndex.Create(b, sp);
        Assert.Equal("tensor<i64>", index.Type.ToString());
        var sharded = Reshard.Create(b, shifted, ShardingAttr.Get(ctx, "mesh", new[] { Array.Empty<string>(), new[] { "sp" }, Array.Empty<string>(), Array.Empty<string>() }));
        Reshard.Create(b, sharded, null);

        ret.SetOperands(new[] { back });
        Assert.True(Verifier.Verify(module, diag), string.Join("\n", diag.All));
        Assert.Equal(new[] { "sp" }, Group.Of(shifted.DefiningOp!)!.Axes);
        Assert.Contains("dist.shift %", Printer.Print(module));

        Assert.Throws<InvalidOperationException>(() => ReduceScatter.Create(b, x, Group.Get(sp.Mesh, new[] { "dp", "sp" }), dim: 0));
        Assert.Throws<ArgumentException>(() => Group.Get(sp.Mesh, new[] { "tp" }));
        Assert.Throws<ArgumentException>(() => Group.Get(sp.Mesh, new[] { "sp", "sp" }));
    }
}
