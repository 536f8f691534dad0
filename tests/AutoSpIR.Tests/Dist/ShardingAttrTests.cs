using AutoSpIR.Dialects;
using AutoSpIR.Dialects.Dist;
using AutoSpIR.Grammar;

namespace AutoSpIR.Tests.Dist;

/// <summary>#dist.sharding: parsing, canonical printing, interning, accessors, local shapes, and its errors.</summary>
public class ShardingAttrTests
{
    private static readonly Dictionary<string, long> MeshSizes = new() { ["dp"] = 2, ["sp"] = 4 };

    private static ShardingAttr Parse(Context ctx, string body)
    {
        var (attr, error) = ShardingAttr.Parse(ctx, body);
        Assert.True(attr is not null, error);
        return attr!;
    }

    [Theory]
    [InlineData("<@mesh, [{}, {\"sp\"}, {}]>")]
    [InlineData("<@mesh, []>")]
    [InlineData("<@mesh, [{}, {}]>")]
    [InlineData("<@mesh, [{\"dp\", \"sp\"}, {}]>")]
    [InlineData("<@mesh, [{\"sp\", \"dp\"}]>")]
    [InlineData("<@mesh, [{}, {}], partial = [\"sp\"]>")]
    [InlineData("<@mesh, [], partial = [\"dp\", \"sp\"]>")]
    [InlineData("<@mesh, [{\"sp\"}, {}], partial = [\"dp\"]>")]
    [InlineData("<@\"odd mesh\", [{\"a b\"}, {\"c\\\"d\"}]>")]
    [InlineData("<@m.v2-x, [{\"tab\\there\"}]>")]
    public void CanonicalBodiesPrintBackExactly(string body)
    {
        var ctx = AllDialects.NewContext();
        Assert.Equal("#dist.sharding" + body, Parse(ctx, body).ToString());
    }

    [Theory]
    [InlineData("< @mesh ,[ { \"sp\" } , { } ] , partial=[ \"dp\" ] >", "#dist.sharding<@mesh, [{\"sp\"}, {}], partial = [\"dp\"]>")]
    [InlineData("<@mesh,[{},{\"sp\"}]>", "#dist.sharding<@mesh, [{}, {\"sp\"}]>")]
    // Partial axes are a set, printed sorted.
    [InlineData("<@mesh, [], partial = [\"sp\", \"dp\"]>", "#dist.sharding<@mesh, [], partial = [\"dp\", \"sp\"]>")]
    // \XX escapes read as the lexer reads them and print back as it writes them.
    [InlineData("<@mesh, [{\"a\\41\"}]>", "#dist.sharding<@mesh, [{\"aA\"}]>")]
    public void OtherSpellingsPrintCanonically(string body, string printed)
    {
        var ctx = AllDialects.NewContext();
        Assert.Equal(printed, Parse(ctx, body).ToString());
    }

    [Fact]
    public void AttributesAreInternedWithValueEquality()
    {
        var ctx = AllDialects.NewContext();
        var a = Parse(ctx, "<@mesh, [{}, {\"sp\"}, {}]>");
        var b = Parse(ctx, "<@mesh,[{},{\"sp\"},{}]>");
        var c = ShardingAttr.Get(ctx, "mesh", new[] { Array.Empty<string>(), new[] { "sp" }, Array.Empty<string>() });
        Assert.Same(a, b);
        Assert.Same(a, c);
        Assert.Equal(a.GetHashCode(), c.GetHashCode());

        var p1 = ShardingAttr.Get(ctx, "mesh", Array.Empty<string[]>(), new[] { "sp", "dp" });
        var p2 = Parse(ctx, "<@mesh, [], partial = [\"dp\", \"sp\"]>");
        Assert.Same(p1, p2);

        // Major-to-minor order within a dimension matters; so do the mesh, the rank and partial.
        Assert.NotEqual<Attribute>(Parse(ctx, "<@mesh, [{\"dp\", \"sp\"}]>"), Parse(ctx, "<@mesh, [{\"sp\", \"dp\"}]>"));
        Assert.NotEqual<Attribute>(Parse(ctx, "<@mesh, [{\"sp\"}]>"), Parse(ctx, "<@other, [{\"sp\"}]>"));
        Assert.NotEqual<Attribute>(Parse(ctx, "<@mesh, [{}]>"), Parse(ctx, "<@mesh, [{}, {}]>"));
        Assert.NotEqual<Attribute>(Parse(ctx, "<@mesh, [{}]>"), Parse(ctx, "<@mesh, [{}], partial = [\"sp\"]>"));
        Assert.NotEqual<Attribute>(Parse(ctx, "<@mesh, [{\"sp\"}, {}]>"), Parse(ctx, "<@mesh, [{}, {\"sp\"}]>"));
        // Not equal to the opaque attribute of the same text.
        Assert.False(a.Equals(ctx.OpaqueAttr("dist.sharding", "<@mesh, [{}, {\"sp\"}, {}]>")));
    }

    [Fact]
    public void ParsedTensorTypesCarryTheInternedAttribute()
    {
        var ctx = AllDialects.NewContext();
        var diag = new DiagnosticEngine();
        var module = AspIRParserDriver.ParseAndVerify("""
            dist.mesh @mesh {axes = ["dp", "sp"], shape = [2, 4]}
            func.func @f(%x: tensor<1x8192x4096xbf16, #dist.sharding<@mesh, [{}, {"sp"}, {}]>>) -> tensor<1x8192x4096xbf16, #dist.sharding<@mesh, [{}, {"sp"}, {}]>> {
              func.return %x : tensor<1x8192x4096xbf16, #dist.sharding<@mesh, [{}, {"sp"}, {}]>>
            }
            """, "test.aspir", ctx, diag);
        Assert.True(module is not null, string.Join("\n", diag.All));
        var func = module!.Region(0).Ops.Single(o => o.Name == "func.func");
        var arg = func.Region(0).EntryBlock!.Arguments[0];
        var sharding = ShardingAttr.Of(arg.Type);
        Assert.NotNull(sharding);
        Assert.Same(ShardingAttr.Get(ctx, "mesh", new[] { Array.Empty<string>(), new[] { "sp" }, Array.Empty<string>() }), sharding);
        Assert.Equal("tensor<1x8192x4096xbf16, #dist.sharding<@mesh, [{}, {\"sp\"}, {}]>>", arg.Type.ToString());
        Assert.Equal(new long[] { 1, 2048, 4096 }, sharding!.LocalShape(((TensorType)arg.Type).Shape, DeviceMesh.Lookup(func, "mesh")!));
    }

    [Fact]
    public void UnknownDistAttributesStayOpaqueOnlyWhenUnregisteredDialectsAreAllowed()
    {
        var ctx = AllDialects.NewContext();
        var (attr, error) = ctx.LookupDialect("dist")!.AttributeParser!(ctx, "dist.layout", "<[0, 1]>");
        Assert.Null(attr);
        Assert.Equal("unknown attribute '#dist.layout': the dist dialect defines #dist.sharding", error);

        ctx.AllowUnregisteredDialects = true;
        (attr, error) = ctx.LookupDialect("dist")!.AttributeParser!(ctx, "dist.layout", "<[0, 1]>");
        Assert.Null(error);
        Assert.Same(ctx.OpaqueAttr("dist.layout", "<[0, 1]>"), attr);
    }

    [Fact]
    public void Accessors()
    {
        var ctx = AllDialects.NewContext();
        var s = Parse(ctx, "<@mesh, [{\"dp\", \"sp\"}, {}], partial = [\"tp\"]>");
        Assert.Equal("mesh", s.Mesh);
        Assert.Equal(2, s.Rank);
        Assert.Equal(new[] { "dp", "sp" }, s.AxesOf(0));
        Assert.Empty(s.AxesOf(1));
        Assert.Equal(new[] { "tp" }, s.PartialAxes);
        Assert.True(s.IsSplit(0));
        Assert.False(s.IsSplit(1));
        Assert.True(s.IsPartial);
        Assert.False(s.IsReplicated);
        Assert.Equal(0, s.DimOfAxis("sp"));
        Assert.Equal(-1, s.DimOfAxis("tp"));
        Assert.Equal(new[] { "dp", "sp", "tp" }, s.UsedAxes);

        var r = ShardingAttr.Replicated(ctx, "mesh", 3);
        Assert.True(r.IsReplicated);
        Assert.False(r.IsPartial);
        Assert.Equal("#dist.sharding<@mesh, [{}, {}, {}]>", r.ToString());
        Assert.True(Parse(ctx, "<@mesh, []>").IsReplicated);
        Assert.False(Parse(ctx, "<@mesh, [], partial = [\"sp\"]>").IsReplicated);
        Assert.Null(ShardingAttr.Of(ctx.Tensor(ctx.F32, 4)));
        Assert.Null(ShardingAttr.Of(ctx.F32));
    }

    [Fact]
    public void LocalShapeDividesSplitDimensions()
    {
        var ctx = AllDialects.NewContext();
        Assert.Equal(new long[] { 1, 2048, 4096 }, Parse(ctx, "<@mesh, [{}, {\"sp\"}, {}]>").LocalShape(new long[] { 1, 8192, 4096 }, MeshSizes));
        Assert.Equal(new long[] { 1, 1024, 4096 }, Parse(ctx, "<@mesh, [{}, {\"dp\", \"sp\"}, {}]>").LocalShape(new long[] { 1, 8192, 4096 }, MeshSizes));
        Assert.Equal(new long[] { 4, 2 }, Parse(ctx, "<@mesh, [{\"dp\"}, {\"sp\"}]>").LocalShape(new long[] { 8, 8 }, MeshSizes));
        // Partial axes do not change the shape; a dynamic size stays dynamic; rank 0 has nothing to split.
        Assert.Equal(new long[] { 64, 64 }, Parse(ctx, "<@mesh, [{}, {}], partial = [\"dp\"]>").LocalShape(new long[] { 64, 64 }, MeshSizes));
        Assert.Equal(new long[] { TensorType.Dynamic, 2 }, Parse(ctx, "<@mesh, [{\"dp\"}, {\"sp\"}]>").LocalShape(new long[] { TensorType.Dynamic, 8 }, MeshSizes));
        Assert.Empty(Parse(ctx, "<@mesh, [], partial = [\"sp\"]>").LocalShape(ReadOnlySpan<long>.Empty, MeshSizes));

        var mesh = new DeviceMesh("mesh", new[] { "dp", "sp" }, new long[] { 2, 4 });
        var s = Parse(ctx, "<@mesh, [{\"sp\", \"dp\"}, {}]>");
        Assert.Equal(new long[] { 3, 5 }, s.LocalShape(new long[] { 24, 5 }, mesh));
        Assert.Equal(new long[] { 24, 5 }, s.GlobalShape(new long[] { 3, 5 }, mesh.AxisSizes));
        Assert.Equal(8, s.ShardCount(0, mesh.AxisSizes));
        Assert.Equal(1, s.ShardCount(1, mesh.AxisSizes));
    }

    [Fact]
    public void LocalShapeRoundsUpAndPadsAtTheEnd()
    {
        var ctx = AllDialects.NewContext();
        // 8190 over 4: c = ceil(8190 / 4) = 2048, padded to 8192; shard 3 holds 2046 real positions.
        var seq = Parse(ctx, "<@mesh, [{}, {\"sp\"}, {}]>");
        Assert.Equal(new long[] { 1, 2048, 4096 }, seq.LocalShape(new long[] { 1, 8190, 4096 }, MeshSizes));
        Assert.True(seq.IsPadded(new long[] { 1, 8190, 4096 }, MeshSizes));
        Assert.False(seq.IsPadded(new long[] { 1, 8192, 4096 }, MeshSizes));
        var split = seq.SplitOf(1, 8190, MeshSizes);
        Assert.Equal(new DimSplit(8190, 4, 2048), split);
        Assert.Equal(8192, split.PaddedSize);
        Assert.True(split.IsPadded);
        Assert.Equal(2, split.Padding);
        Assert.Equal(6144, split.StartOf(3));
        Assert.Equal(new long[] { 2048, 2048, 2048, 2046 }, Enumerable.Range(0, 4).Select(j => split.RealCountOf(j)));
        // An unsplit dimension: one shard, the whole size, no padding.
        Assert.Equal(new DimSplit(4096, 1, 4096), seq.SplitOf(2, 4096, MeshSizes));
        Assert.False(seq.SplitOf(2, 4096, MeshSizes).IsPadded);

        // 12 over 8: c = 2, padded to 16; shards 6 and 7 are all padding.
        var both = Parse(ctx, "<@mesh, [{\"dp\", \"sp\"}]>");
        Assert.Equal(new long[] { 2 }, both.LocalShape(new long[] { 12 }, MeshSizes));
        var twelve = both.SplitOf(0, 12, MeshSizes);
        Assert.Equal((16L, 4L), (twelve.PaddedSize, twelve.Padding));
        Assert.Equal(new long[] { 2, 2, 2, 2, 2, 2, 0, 0 }, Enumerable.Range(0, 8).Select(j => twelve.RealCountOf(j)));
        // Fewer positions than shards: c = 1, shard 3 is padding.
        var three = Parse(ctx, "<@mesh, [{\"sp\"}]>").SplitOf(0, 3, MeshSizes);
        Assert.Equal((1L, 4L, true), (three.LocalSize, three.PaddedSize, three.IsPadded));
        Assert.Equal(new long[] { 1, 1, 1, 0 }, Enumerable.Range(0, 4).Select(j => three.RealCountOf(j)));
        // The global shape of a local one is the padded one.
        Assert.Equal(new long[] { 16 }, both.GlobalShape(new long[] { 2 }, MeshSizes));
    }

    [Theory]
    [InlineData("<@mesh, [{}, {\"sp\"}, {}]>", new long[] { 1, 0, 4096 }, "dimension 1 has size 0, but a dimension split into the 4 shards of {\"sp\"} needs at least 1 element")]
    [InlineData("<@mesh, [{\"dp\", \"sp\"}]>", new long[] { 0 }, "dimension 0 has size 0, but a dimension split into the 8 shards of {\"dp\", \"sp\"} needs at least 1 element")]
    [InlineData("<@mesh, [{\"tp\"}]>", new long[] { 8 }, "axis \"tp\" of dimension 0 is not an axis of mesh '@mesh'")]
    [InlineData("<@mesh, [{}], partial = [\"tp\"]>", new long[] { 8 }, "partial axis \"tp\" is not an axis of mesh '@mesh'")]
    [InlineData("<@mesh, [{}, {}]>", new long[] { 8 }, "the sharding has 2 dimension entries, but the tensor has rank 1")]
    public void LocalShapeRejectsWhatDoesNotSplit(string body, long[] shape, string message)
    {
        var ctx = AllDialects.NewContext();
        var s = Parse(ctx, body);
        Assert.False(s.TryLocalShape(shape, MeshSizes, out _, out var error));
        Assert.Equal(message, error);
        Assert.Equal(message, Assert.Throws<ArgumentException>(() => s.LocalShape(shape, MeshSizes)).Message);
    }

    [Fact]
    public void SplitOfRejectsWhatHasNoSplit()
    {
        var ctx = AllDialects.NewContext();
        var s = Parse(ctx, "<@mesh, [{\"sp\"}, {}]>");
        Assert.Equal("dimension 0 has a dynamic size; only a static size splits into shards",
            Assert.Throws<ArgumentException>(() => s.SplitOf(0, TensorType.Dynamic, MeshSizes)).Message);
        Assert.Equal("dimension 0 has size 0, but a dimension split into the 4 shards of {\"sp\"} needs at least 1 element",
            Assert.Throws<ArgumentException>(() => s.SplitOf(0, 0, MeshSizes)).Message);
        // Unsplit, 0 is a size like any other.
        Assert.Equal(new DimSplit(0, 1, 0), s.SplitOf(1, 0, MeshSizes));
        Assert.False(s.TrySplitOf(0, long.MaxValue, MeshSizes, out _, out var error));
        Assert.Equal($"dimension 0 of size {long.MaxValue}, padded to a multiple of its 4 shards, overflows a 64-bit size", error);
        Assert.Throws<ArgumentOutOfRangeException>(() => s.SplitOf(2, 8, MeshSizes));
    }

    [Theory]
    [InlineData("", "expects a body")]
    [InlineData("<[{}]>", "expected the mesh symbol (@mesh) after '<', found '['")]
    [InlineData("<@, [{}]>", "found '@' without a name")]
    [InlineData("<@mesh [{}]>", "expected ',' after the mesh symbol, found '['")]
    [InlineData("<@mesh, {}>", "expected '[' opening the list of per-dimension axes, found '{'")]
    [InlineData("<@mesh, [{sp}]>", "expected an axis name (a string) in dimension 0, found 'sp'; axis names are quoted: \"sp\"")]
    [InlineData("<@mesh, [{}, \"sp\"]>", "expected '{' opening the axes of dimension 1")]
    [InlineData("<@mesh, [{\"sp\" \"dp\"}]>", "expected ',' or '}' after an axis name in dimension 0, found '\"dp\"'")]
    [InlineData("<@mesh, [{\"sp\"}, {\"sp\"}]>", "axis \"sp\" is used by both dimension 0 and dimension 1")]
    [InlineData("<@mesh, [{\"sp\", \"sp\"}]>", "axis \"sp\" appears twice in dimension 0")]
    [InlineData("<@mesh, [{\"sp\"}], partial = [\"sp\"]>", "axis \"sp\" is both in dimension 0 and in 'partial'")]
    [InlineData("<@mesh, [{}], partial = [\"dp\", \"dp\"]>", "axis \"dp\" appears twice in 'partial'")]
    [InlineData("<@mesh, [{}], partial = []>", "'partial' must name at least one axis (omit it when the value is not partial)")]
    [InlineData("<@mesh, [{}], partial = [\"\"]>", "'partial' names an empty axis")]
    [InlineData("<@mesh, [{}], reduce = [\"sp\"]>", "unknown parameter 'reduce'; the only one is 'partial = [\"axis\", ...]'")]
    [InlineData("<@mesh, [{}], partial [\"sp\"]>", "expected '=' after 'partial', found '['")]
    [InlineData("<@mesh, [{\"\"}]>", "dimension 0 names an empty axis")]
    [InlineData("<@mesh, [{}] extra>", "expected '>' closing the body, found 'extra'")]
    [InlineData("<@mesh, [{}]", "expected '>' closing the body, found the end of the body")]
    [InlineData("<@mesh, [{}]> tail", "unexpected 'tail' after the closing '>'")]
    [InlineData("<@mesh, [{\"sp}]>", "unterminated string")]
    [InlineData("<@mesh, [{\"s\\qp\"}]>", "unknown escape '\\q' in an axis name")]
    [InlineData("<@mesh, [{}, ]>", "expected '{' opening the axes of dimension 1")]
    public void MalformedBodiesGiveClearErrors(string body, string message)
    {
        var ctx = AllDialects.NewContext();
        var (attr, error) = ShardingAttr.Parse(ctx, body);
        Assert.Null(attr);
        Assert.NotNull(error);
        Assert.StartsWith("invalid #dist.sharding: ", error);
        Assert.Contains(message, error);
    }

    [Fact]
    public void GetValidatesLikeTheParser()
    {
        var ctx = AllDialects.NewContext();
        Assert.Contains("used by both dimension 0 and dimension 1",
            Assert.Throws<ArgumentException>(() => ShardingAttr.Get(ctx, "mesh", new[] { new[] { "sp" }, new[] { "sp" } })).Message);
        Assert.Contains("both in dimension 0 and in 'partial'",
            Assert.Throws<ArgumentException>(() => ShardingAttr.Get(ctx, "mesh", new[] { new[] { "sp" } }, new[] { "sp" })).Message);
        Assert.Contains("must name at least one axis",
            Assert.Throws<ArgumentException>(() => ShardingAttr.Get(ctx, "mesh", new[] { new[] { "sp" } }, Array.Empty<string>())).Message);
        Assert.Contains("mesh symbol name is empty",
            Assert.Throws<ArgumentException>(() => ShardingAttr.Get(ctx, "", new[] { new[] { "sp" } })).Message);
    }
}
