using AutoSpIR.Dialects;
using AutoSpIR.Dialects.Dist;
using AutoSpIR.Grammar;

namespace AutoSpIR.Tests.Dist;

/// <summary>
/// The CommBytes (bytes one rank sends) and FLOPs of the collectives, against numbers computed
/// by hand for groups of 2, 3, 4 and 8 ranks on mesh @m ["x"=2, "y"=3, "z"=4].
/// </summary>
public class CommBytesTests
{
    private const string Mesh = "dist.mesh @m {axes = [\"x\", \"y\", \"z\"], shape = [2, 3, 4]}\n";

    /// <summary>The axes giving a group of <paramref name="g"/> ranks on @m.</summary>
    private static string Axes(int g) => g switch
    {
        2 => "[\"x\"]",
        3 => "[\"y\"]",
        4 => "[\"z\"]",
        8 => "[\"x\", \"z\"]",
        24 => "[\"z\", \"y\", \"x\"]",
        _ => throw new ArgumentOutOfRangeException(nameof(g)),
    };

    /// <summary>Parses and verifies <c>%y = OP</c> in a function with argument <c>%x: T</c>; returns the op.</summary>
    private static Operation Op(string type, string op, string resultType)
    {
        var text = Mesh + $"func.func @f(%x: {type}) -> {resultType} {{\n  %y = {op}\n  func.return %y : {resultType}\n}}\n";
        var ctx = AllDialects.NewContext();
        var diag = new DiagnosticEngine();
        var module = AspIRParserDriver.ParseAndVerify(text, "test.aspir", ctx, diag);
        Assert.True(module is not null, string.Join("\n", diag.All) + "\n" + text);
        var func = module!.Region(0).Ops.Single(o => o.Name == "func.func");
        return func.Region(0).EntryBlock!.First!;
    }

    // 24x10 f32 = 960 bytes.
    private const string X = "tensor<24x10xf32>";

    [Theory]
    [InlineData(2, 960)]    // 2*1*960/2
    [InlineData(3, 1280)]   // 2*2*960/3
    [InlineData(4, 1440)]   // 2*3*960/4
    [InlineData(8, 1680)]   // 2*7*960/8
    [InlineData(24, 1840)]  // 2*23*960/24
    public void AllReduceIsTheRing(int g, long bytes)
    {
        var op = Op(X, $"dist.all_reduce %x {{mesh = @m, axes = {Axes(g)}, reduction = \"sum\"}} : {X}", X);
        Assert.Equal(bytes, op.Def!.CommBytesOf(op));
        Assert.Equal(240, op.Def.FlopsOf(OpState.Of(op)));
        Assert.Equal(240L * (g - 1) / g, AllReduce.RingAdditions(op));
    }

    [Theory]
    // Multiplied before the integer division: 2*(G-1)*bytes/G, not 2*(G-1)*(bytes/G).
    [InlineData("tensor<3xbf16>", 3, 8)]    // 2*2*6/3 = 8
    [InlineData("tensor<3xbf16>", 4, 9)]    // 2*3*6/4 = 36/4 = 9
    [InlineData("tensor<3xbf16>", 8, 10)]   // 2*7*6/8 = 84/8 = 10.5 -> 10
    [InlineData("tensor<5xf32>", 3, 26)]    // 2*2*20/3 = 80/3 = 26.7 -> 26
    [InlineData("tensor<5xf32>", 8, 35)]    // 2*7*20/8 = 280/8 = 35
    [InlineData("tensor<5xf32>", 2, 20)]    // 2*1*20/2
    public void AllReduceRoundsDownOnce(string type, int g, long bytes)
    {
        var op = Op(type, $"dist.all_reduce %x {{mesh = @m, axes = {Axes(g)}, reduction = \"max\"}} : {type}", type);
        Assert.Equal(bytes, op.Def!.CommBytesOf(op));
    }

    [Theory]
    [InlineData(2, "tensor<48x10xf32>", 960)]     // (2-1)*960
    [InlineData(3, "tensor<72x10xf32>", 1920)]    // (3-1)*960
    [InlineData(4, "tensor<96x10xf32>", 2880)]    // (4-1)*960
    [InlineData(8, "tensor<192x10xf32>", 6720)]   // (8-1)*960
    public void AllGatherSendsItsBlockToEveryOtherRank(int g, string result, long bytes)
    {
        var op = Op(X, $"dist.all_gather %x {{mesh = @m, axes = {Axes(g)}, dim = 0}} : {X} -> {result}", result);
        Assert.Equal(bytes, op.Def!.CommBytesOf(op));
        Assert.Equal(0, op.Def.FlopsOf(OpState.Of(op)));
    }

    [Theory]
    [InlineData(2, "tensor<12x10xf32>", 480, 120)]   // (2-1)*960/2; (2-1)*240/2 additions
    [InlineData(3, "tensor<8x10xf32>", 640, 160)]    // (3-1)*960/3; (3-1)*240/3
    [InlineData(4, "tensor<6x10xf32>", 720, 180)]    // (4-1)*960/4; (4-1)*240/4
    [InlineData(8, "tensor<3x10xf32>", 840, 210)]    // (8-1)*960/8; (8-1)*240/8
    public void ReduceScatterSendsAllButOneBlock(int g, string result, long bytes, long flops)
    {
        var op = Op(X, $"dist.reduce_scatter %x {{mesh = @m, axes = {Axes(g)}, dim = 0}} : {X} -> {result}", result);
        Assert.Equal(bytes, op.Def!.CommBytesOf(op));
        Assert.Equal(flops, op.Def.FlopsOf(OpState.Of(op)));
    }

    [Theory]
    [InlineData(2, "tensor<12x20xf32>", 480)]   // (2-1)*960/2
    [InlineData(3, "tensor<8x30xf32>", 640)]    // (3-1)*960/3
    [InlineData(4, "tensor<6x40xf32>", 720)]    // (4-1)*960/4
    [InlineData(8, "tensor<3x80xf32>", 840)]    // (8-1)*960/8
    public void AllToAllKeepsOneBlock(int g, string result, long bytes)
    {
        var op = Op(X, $"dist.all_to_all %x {{mesh = @m, axes = {Axes(g)}, split_dim = 0, concat_dim = 1}} : {X} -> {result}", result);
        Assert.Equal(bytes, op.Def!.CommBytesOf(op));
        Assert.Equal(0, op.Def.FlopsOf(OpState.Of(op)));
    }

    [Theory]
    [InlineData(2, 1, false, 960)]
    [InlineData(3, 1, true, 960)]
    [InlineData(4, -1, false, 960)]
    [InlineData(8, 7, false, 960)]
    [InlineData(8, 9, true, 960)]
    // Nothing moves between ranks: no shift, a whole turn of the ring, or every source outside the group.
    [InlineData(4, 0, false, 0)]
    [InlineData(4, 8, true, 0)]
    [InlineData(4, -4, false, 0)]
    [InlineData(3, 3, false, 0)]
    public void ShiftSendsTheWholeTensorWhenItMoves(int g, long offset, bool rotate, long bytes)
    {
        var op = Op(X, $"dist.shift %x {{mesh = @m, axes = {Axes(g)}, offset = {offset}{(rotate ? ", rotate" : "")}}} : {X}", X);
        Assert.Equal(bytes, op.Def!.CommBytesOf(op));
    }

    [Fact]
    public void AxisIndexAndReshardSendNothing()
    {
        var idx = Op("tensor<f32>", "dist.axis_index {mesh = @m, axes = [\"y\"]} : tensor<i64>", "tensor<i64>");
        Assert.Equal(0, idx.Def!.CommBytesOf(idx));
        var sharded = "tensor<24x10xf32, #dist.sharding<@m, [{\"z\"}, {}]>>";
        var reshard = Op(sharded, $"dist.reshard %x : {sharded} -> {X}", X);
        Assert.Null(reshard.Def!.CommBytes);
        Assert.Equal(0, reshard.Def.CommBytesOf(reshard));
    }

    [Fact]
    public void DynamicSizesCountZeroBytes()
    {
        var op = Op("tensor<?x10xf32>", "dist.all_gather %x {mesh = @m, axes = [\"z\"], dim = 1} : tensor<?x10xf32> -> tensor<?x40xf32>", "tensor<?x40xf32>");
        Assert.Equal(0, op.Def!.CommBytesOf(op));
    }

    [Fact]
    public void LargeTensorsDoNotOverflow()
    {
        // 2^20 x 2^12 f32 = 2^34 bytes (16 GiB); 2*7*2^34/8 = 30064771072.
        var t = "tensor<1048576x4096xf32>";
        var op = Op(t, $"dist.all_reduce %x {{mesh = @m, axes = {Axes(8)}, reduction = \"sum\"}} : {t}", t);
        Assert.Equal(30064771072L, op.Def!.CommBytesOf(op));
    }

    [Fact]
    public void TensorOpsDoNotCommunicate()
    {
        var op = Op(X, $"tensor.neg %x : {X}", X);
        Assert.Null(op.Def!.CommBytes);
        Assert.Equal(0, op.Def.CommBytesOf(op));
    }

    [Fact]
    public void UnresolvedGroupsThrowInsteadOfGuessing()
    {
        var ctx = AllDialects.NewContext();
        var x = Operation.Create(ctx, "test.x", Array.Empty<Value>(), new Type[] { ctx.Tensor(ctx.F32, 4) });
        var attrs = ctx.Dictionary(new KeyValuePair<string, Attribute>[]
        {
            new("mesh", ctx.Symbol("m")), new("axes", DistDialect.Axes(ctx, new[] { "x" })), new("reduction", ctx.String("sum")),
        });
        var op = Operation.Create(ctx, AllReduce.Def.Name, new Value[] { x.Result(0) }, new Type[] { ctx.Tensor(ctx.F32, 4) }, attrs);
        Assert.Throws<InvalidOperationException>(() => op.Def!.CommBytesOf(op));
    }
}
