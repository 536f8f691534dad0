using AutoSpIR.Runtime;
using AutoSpIR.Runtime.Comm;
using AutoSpIR.Tests.Properties;
using FsCheck.Fluent;
using Xunit.Abstractions;
using FsGen = FsCheck.Fluent.Gen;

namespace AutoSpIR.Tests.Comm;

/// <summary>
/// Sharding.Slice against index arithmetic, Assemble as its inverse, and the mesh forms; uneven
/// sizes padded to ceil pieces with the pad value, and the padding dropped on the way back.
/// </summary>
public class ShardingTests(ITestOutputHelper output)
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
    public void UnevenPiecesArePaddedAtTheEnd()
    {
        var ctx = new Context();
        // 10 labels over 4 pieces of ceil(10 / 4) = 3: the last piece holds 9 and two pads.
        var labels = HostTensor.FromDoubles(CT.Type(ctx, "i64", 1, 10), Enumerable.Range(0, 10).Select(i => (double)i).ToArray());
        var pieces = Enumerable.Range(0, 4).Select(j => Sharding.Slice(labels, new[] { 1, 4 }, new[] { 0, j }, padValue: -100)).ToList();
        Assert.All(pieces, p => Assert.Equal(new long[] { 1, 3 }, p.Type.Shape.ToArray()));
        Assert.Equal(new double[] { 6, 7, 8 }, pieces[2].ToDoubles());
        Assert.Equal(new double[] { 9, -100, -100 }, pieces[3].ToDoubles());
        Assert.Equal(labels.ToDoubles(), Sharding.Assemble(pieces, new[] { 1, 4 }, labels.Type).ToDoubles());
        // Without the global type the padded shape comes back, pads included.
        Assert.Equal(labels.ToDoubles().Concat(new double[] { -100, -100 }), Sharding.Assemble(pieces, new[] { 1, 4 }).ToDoubles());

        // 3 over 4 pieces of 1: piece 3 is all padding; a 2-d grid pads both dimensions; bf16 rounds the pad value.
        var x = HostTensor.FromDoubles(CT.Type(ctx, "bf16", 3, 5), Enumerable.Range(0, 15).Select(i => (double)i).ToArray());
        Assert.Equal(new double[] { 1.25, 1.25 }, Sharding.Slice(x, new[] { 4, 1 }, new[] { 3, 0 }, padValue: 1.25).ToDoubles()[..2]);
        Assert.Equal(new double[] { 1.0 / 3 }.Select(v => (double)Numerics.BF16(v)),
            Sharding.Slice(x, new[] { 4, 1 }, new[] { 3, 0 }, padValue: 1.0 / 3).ToDoubles().Distinct());
        var corner = Sharding.Slice(x, new[] { 2, 2 }, new[] { 1, 1 }, padValue: -1);
        // rows [2, 4) of 3, columns [3, 6) of 5: row 2 holds 13, 14 and a pad; row 3 is all padding.
        Assert.Equal(new double[] { 13, 14, -1, -1, -1, -1 }, corner.ToDoubles());
    }

    public sealed record Case(string Element, long[] Shape, int[] MeshShape, string[][] DimAxes, double PadValue, int Seed)
    {
        public override string ToString() =>
            $"{Element} [{string.Join("x", Shape)}] on mesh [{string.Join("x", MeshShape)}] as " +
            $"[{string.Join(", ", DimAxes.Select(a => "{" + string.Join(",", a) + "}"))}] pad {PadValue} seed {Seed}";
    }

    private static readonly string[] AxisNames = { "a", "b", "c" };

    // Shapes of rank 1..3 with sizes 1..7, meshes of 1..3 axes of sizes 1..3, and every axis on a
    // random dimension (in random order within it) or on none: many sizes do not divide.
    private static readonly FsCheck.Gen<Case> Cases =
        from element in FsGen.Elements("f64", "f32", "bf16", "i64", "i32", "i8")
        from rank in FsGen.Choose(1, 3)
        from shape in FsGen.ArrayOf(FsGen.Choose(1, 7), rank)
        from axes in FsGen.Choose(1, 3)
        from meshShape in FsGen.ArrayOf(FsGen.Choose(1, 3), axes)
        from placement in FsGen.ArrayOf(FsGen.Choose(-1, rank - 1), axes)
        from order in FsGen.Shuffle(Enumerable.Range(0, axes).ToArray())
        from pad in FsGen.Choose(-128, 127)
        from seed in FsGen.Choose(0, 1_000_000)
        select new Case(element, shape.Select(n => (long)n).ToArray(), meshShape,
            Enumerable.Range(0, rank).Select(d => order.Where(a => placement[a] == d).Select(a => AxisNames[a]).ToArray()).ToArray(),
            element.StartsWith('f') || element == "bf16" ? pad + 0.375 : pad, seed);

    [Fact]
    public void AssembleOfTheRanksSlicesIsTheTensorAndPadsHoldThePadValue() =>
        PropertyRunner.ForAll(output, "assemble(slice for every rank) = x", Arb.From(Cases), 300, 20261205, CheckRoundTrip);

    private static void CheckRoundTrip(Case c)
    {
        var ctx = new Context();
        var type = CT.Type(ctx, c.Element, c.Shape);
        var global = CT.Input(type, 0, c.Seed);
        var mesh = new Mesh("mesh", AxisNames[..c.MeshShape.Length], c.MeshShape);
        IReadOnlyList<IReadOnlyList<string>> layout = c.DimAxes;
        var splits = Sharding.Splits(mesh, layout);
        var pieceShape = c.Shape.Select((n, d) => (n + splits[d] - 1) / splits[d]).ToArray();
        double pad = type.Element.IsFloat ? Numerics.Round(c.PadValue, type.Element) : c.PadValue;
        var perRank = new HostTensor[mesh.Size];
        for (int r = 0; r < mesh.Size; r++)
        {
            var piece = perRank[r] = Sharding.SliceForRank(global, mesh, layout, r, padValue: c.PadValue);
            Assert.Equal(pieceShape, piece.Type.Shape.ToArray());
            var index = Sharding.PieceIndex(mesh, layout, r);
            for (long i = 0; i < piece.Count; i++)
            {
                var j = CT.Unflatten(i, pieceShape);
                bool real = true;
                for (int d = 0; d < j.Length; d++)
                {
                    j[d] += index[d] * pieceShape[d];
                    real &= j[d] < c.Shape[d];
                }
                Assert.Equal(real ? global.Get(CT.Flatten(j, c.Shape)) : pad, piece.Get(i));
            }
        }
        var back = Sharding.AssembleFromRanks(perRank, mesh, layout, type);
        Assert.Same(type, back.Type);
        Assert.Equal(global.ToDoubles(), back.ToDoubles());
        // Without the global type: the padded shape, which is the global one exactly when nothing is padded.
        var padded = Sharding.AssembleFromRanks(perRank, mesh, layout);
        Assert.Equal(pieceShape.Select((s, d) => s * splits[d]), padded.Type.Shape.ToArray());
        if (padded.Type.Shape.SequenceEqual(c.Shape)) Assert.Equal(global.ToDoubles(), padded.ToDoubles());
    }

    [Fact]
    public void BadSplitsAreNamed()
    {
        var global = CT.Input(CT.Type(new Context(), "f32", 6, 4), 0);
        Assert.Equal("dimension 0 is cut into 0 pieces; at least 1 (Parameter 'dimSplits')",
            Assert.Throws<ArgumentException>(() => Sharding.Slice(global, new[] { 0, 1 }, new[] { 0, 0 })).Message);
        Assert.Equal("piece index 2 of dimension 0 is outside [0, 2) (Parameter 'pieceIndexPerDim')",
            Assert.Throws<ArgumentException>(() => Sharding.Slice(global, new[] { 2, 1 }, new[] { 2, 0 })).Message);
        Assert.Equal("1 splits for tensor<6x4xf32> of rank 2 (Parameter 'dimSplits')",
            Assert.Throws<ArgumentException>(() => Sharding.Slice(global, new[] { 2 }, new[] { 0 })).Message);
        Assert.Equal("3 pieces given, the grid 2x1 has 2 (Parameter 'pieces')",
            Assert.Throws<ArgumentException>(() => Sharding.Assemble(new[] { global, global, global }, new[] { 2, 1 })).Message);
        var mesh = new Mesh("mesh", new[] { "dp", "sp" }, new[] { 2, 4 });
        Assert.Equal("mesh axis \"sp\" shards two dimensions (Parameter 'dimAxes')",
            Assert.Throws<ArgumentException>(() => Sharding.PieceIndex(mesh, new IReadOnlyList<string>[] { new[] { "sp" }, new[] { "sp" } }, 0)).Message);

        var ctx = new Context();
        var empty = new HostTensor(CT.Type(ctx, "f32", 0, 4));
        Assert.Equal("dimension 0 of tensor<0x4xf32> has size 0, which has nothing to cut into 2 pieces (Parameter 'dimSplits')",
            Assert.Throws<ArgumentException>(() => Sharding.Slice(empty, new[] { 2, 1 }, new[] { 0, 0 })).Message);
        var labels = new HostTensor(CT.Type(ctx, "i32", 6));
        Assert.Equal("the pad value 0.5 is not an integer of i32 (from -2147483648 to 2147483647), the tensor's element type (Parameter 'padValue')",
            Assert.Throws<ArgumentException>(() => Sharding.Slice(labels, new[] { 4 }, new[] { 0 }, padValue: 0.5)).Message);
        Assert.Equal("the pad value -129 is not an integer of i8 (from -128 to 127), the tensor's element type (Parameter 'padValue')",
            Assert.Throws<ArgumentException>(() => Sharding.Slice(new HostTensor(CT.Type(ctx, "i8", 6)), new[] { 4 }, new[] { 0 }, padValue: -129)).Message);
        // The global type must cut into pieces of the pieces' size: 6 over 4 is pieces of 2, 9 is of 3.
        var pieces = Enumerable.Range(0, 4).Select(j => Sharding.Slice(global, new[] { 4, 1 }, new[] { j, 0 })).ToList();
        Assert.Equal("tensor<9x4xf32> cut 4x1 ways gives pieces of 3x4, but the pieces are tensor<2x4xf32> (Parameter 'globalType')",
            Assert.Throws<ArgumentException>(() => Sharding.Assemble(pieces, new[] { 4, 1 }, CT.Type(ctx, "f32", 9, 4))).Message);
        Assert.Equal("the global type given is tensor<6x4xf64>, but the pieces are tensor<2x4xf32> (Parameter 'globalType')",
            Assert.Throws<ArgumentException>(() => Sharding.Assemble(pieces, new[] { 4, 1 }, CT.Type(ctx, "f64", 6, 4))).Message);
        Assert.Equal(global.ToDoubles(), Sharding.Assemble(pieces, new[] { 4, 1 }, global.Type).ToDoubles());
    }
}
