using AutoSpIR.Runtime;
using AutoSpIR.Runtime.Comm;

namespace AutoSpIR.Tests.Comm;

/// <summary>Sharding.Slice against index arithmetic, Assemble as its inverse, and the mesh forms.</summary>
public class ShardingTests
{
    [Theory]
    [InlineData("f64", new long[] { 4, 6, 2 }, new[] { 2, 3, 1 })]
    [InlineData("bf16", new long[] { 8, 3 }, new[] { 4, 1 })]
    [InlineData("i64", new long[] { 2, 2, 4 }, new[] { 1, 2, 4 })]
    [InlineData("f32", new long[] { 5 }, new[] { 1 })]
    public void SlicesAreBoxesAndAssembleInvertsThem(string elem, long[] shape, int[] splits)
    {
        var global = CT.Input(CT.Type(new Context(), elem, shape), 0);
        var pieceShape = shape.Select((s, d) => s / splits[d]).ToArray();
        int count = splits.Aggregate(1, (a, b) => a * b);
        var pieces = new List<HostTensor>();
        for (int flat = 0; flat < count; flat++)
        {
            var index = CT.Unflatten(flat, splits.Select(s => (long)s).ToArray()).Select(i => (int)i).ToArray();
            var piece = Sharding.Slice(global, splits, index);
            Assert.True(piece.Type.Shape.SequenceEqual(pieceShape));
            Assert.Equal(global.Type.Element.Kind, piece.Type.Element.Kind);
            for (long i = 0; i < piece.Count; i++)
            {
                var j = CT.Unflatten(i, pieceShape);
                for (int d = 0; d < j.Length; d++) j[d] += index[d] * pieceShape[d];
                Assert.Equal(global.Get(CT.Flatten(j, shape)), piece.Get(i));
            }
            pieces.Add(piece);
        }
        var back = Sharding.Assemble(pieces, splits, global.Type);
        Assert.Same(global.Type, back.Type);
        Assert.Equal(global.ToDoubles(), back.ToDoubles());
    }

    [Fact]
    public void ARankTakesThePieceOfItsMeshCoordinates()
    {
        var mesh = new Mesh("mesh", new[] { "dp", "sp" }, new[] { 2, 4 });
        var global = CT.Input(CT.Type(new Context(), "f32", 2, 8, 3), 0);
        // batch over dp, sequence over sp, hidden whole
        IReadOnlyList<string>[] layout = { new[] { "dp" }, new[] { "sp" }, Array.Empty<string>() };
        Assert.Equal(new[] { 2, 4, 1 }, Sharding.Splits(mesh, layout));
        Assert.Equal(new[] { 1, 2, 0 }, Sharding.PieceIndex(mesh, layout, 6));
        var perRank = Enumerable.Range(0, 8).Select(r => Sharding.SliceForRank(global, mesh, layout, r)).ToArray();
        Assert.Equal(Sharding.Slice(global, new[] { 2, 4, 1 }, new[] { 1, 2, 0 }).ToDoubles(), perRank[6].ToDoubles());
        Assert.Equal(global.ToDoubles(), Sharding.AssembleFromRanks(perRank, mesh, layout).ToDoubles());

        // sequence over both axes, sp major: rank 6 (dp 1, sp 2) holds piece 2 * 2 + 1 = 5 of 8
        IReadOnlyList<string>[] both = { Array.Empty<string>(), new[] { "sp", "dp" }, Array.Empty<string>() };
        Assert.Equal(new[] { 0, 5, 0 }, Sharding.PieceIndex(mesh, both, 6));
        var seq = Enumerable.Range(0, 8).Select(r => Sharding.SliceForRank(global, mesh, both, r)).ToArray();
        Assert.Equal(global.ToDoubles(), Sharding.AssembleFromRanks(seq, mesh, both).ToDoubles());

        // replicated over dp: both replicas hold the same piece
        IReadOnlyList<string>[] rep = { Array.Empty<string>(), new[] { "sp" }, Array.Empty<string>() };
        Assert.Equal(Sharding.SliceForRank(global, mesh, rep, 1).ToDoubles(), Sharding.SliceForRank(global, mesh, rep, 5).ToDoubles());
        var fromRep = Enumerable.Range(0, 8).Select(r => Sharding.SliceForRank(global, mesh, rep, r)).ToArray();
        Assert.Equal(global.ToDoubles(), Sharding.AssembleFromRanks(fromRep, mesh, rep).ToDoubles());
    }

    [Fact]
    public void BadSplitsAreNamed()
    {
        var global = CT.Input(CT.Type(new Context(), "f32", 6, 4), 0);
        Assert.Equal("dimension 0 of tensor<6x4xf32> has size 6, which does not split into 4 equal pieces (Parameter 'dimSplits')",
            Assert.Throws<ArgumentException>(() => Sharding.Slice(global, new[] { 4, 1 }, new[] { 0, 0 })).Message);
        Assert.Equal("piece index 2 of dimension 0 is outside [0, 2) (Parameter 'pieceIndexPerDim')",
            Assert.Throws<ArgumentException>(() => Sharding.Slice(global, new[] { 2, 1 }, new[] { 2, 0 })).Message);
        Assert.Equal("1 splits for tensor<6x4xf32> of rank 2 (Parameter 'dimSplits')",
            Assert.Throws<ArgumentException>(() => Sharding.Slice(global, new[] { 2 }, new[] { 0 })).Message);
        Assert.Equal("3 pieces given, the grid 2x1 has 2 (Parameter 'pieces')",
            Assert.Throws<ArgumentException>(() => Sharding.Assemble(new[] { global, global, global }, new[] { 2, 1 })).Message);
        var mesh = new Mesh("mesh", new[] { "dp", "sp" }, new[] { 2, 4 });
        Assert.Equal("mesh axis \"sp\" shards two dimensions (Parameter 'dimAxes')",
            Assert.Throws<ArgumentException>(() => Sharding.PieceIndex(mesh, new IReadOnlyList<string>[] { new[] { "sp" }, new[] { "sp" } }, 0)).Message);
    }
}
