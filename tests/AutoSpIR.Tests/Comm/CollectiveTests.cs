using AutoSpIR.Runtime;
using AutoSpIR.Runtime.Comm;

namespace AutoSpIR.Tests.Comm;

/// <summary>
/// Every collective of the thread communicator for P in {1, 2, 3, 4, 8} and f64/f32/bf16
/// against references computed from all ranks' inputs, over the whole world in natural and
/// in rotated group order; the byte counters against their formulas; inputs left untouched.
/// </summary>
public class CollectiveTests
{
    public static IEnumerable<object[]> Cases() => CT.RanksByElement();

    /// <summary>Input shape [2P, 3, P]: every dimension but #1 splits P ways.</summary>
    private static TensorType Shape(Context ctx, string elem, int p) => CT.Type(ctx, elem, 2 * p, 3, p);

    private static long Bytes(TensorType t) => t.NumElements * (t.Element.Kind switch { ScalarKind.F64 or ScalarKind.I64 => 8, ScalarKind.F32 => 4, _ => 2 });

    /// <summary>The natural order and the order that starts at rank 1 (position of rank r is r - 1 mod P).</summary>
    private static int[][] Orders(int p) => new[] { CT.All(p), CT.All(p).Select(r => (r + 1) % p).ToArray() };

    /// <summary>Runs <paramref name="body"/> on every rank with its input, checks the inputs are unchanged afterwards.</summary>
    private static T[] RunOn<T>(int p, HostTensor[] inputs, Func<ThreadCommunicator, HostTensor, T> body)
    {
        var before = inputs.Select(x => x.ToDoubles()).ToArray();
        var results = CT.Run(p, c => body(c, inputs[c.Rank]));
        for (int r = 0; r < p; r++) Assert.Equal(before[r], inputs[r].ToDoubles());
        return results;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void AllReduce(int p, string elem)
    {
        var type = Shape(new Context(), elem, p);
        var xs = CT.Inputs(type, p);
        foreach (var group in Orders(p))
        {
            var res = RunOn(p, xs, (c, x) =>
            {
                long b0 = c.BytesSent;
                var sum = c.AllReduce(x, group, ReduceOp.Sum);
                long b1 = c.BytesSent;
                var max = c.AllReduce(x, group, ReduceOp.Max, type);
                Assert.Same(type, max.Type);
                return (sum, max, bytes: b1 - b0);
            });
            var byPosition = group.Select(r => xs[r]).ToArray();
            var shape = type.Shape.ToArray();
            for (int r = 0; r < p; r++)
            {
                CT.Equal(CT.Reduce(byPosition, false, type.Element), shape, res[r].sum, $"sum on rank {r}");
                CT.Equal(CT.Reduce(byPosition, true, type.Element), shape, res[r].max, $"max on rank {r}");
                Assert.NotSame(xs[r], res[r].sum);
                Assert.Equal(2 * (p - 1) * Bytes(type) / p, res[r].bytes);
            }
        }
    }

    [Fact]
    public void AllReduceOfIntegersWrapsAtTheElementWidth()
    {
        var ctx = new Context();
        var type = CT.Type(ctx, "i32", 2);
        var xs = new[] { new HostTensor(type, ints: new long[] { int.MaxValue, -7 }), new HostTensor(type, ints: new long[] { 1, 3 }) };
        var res = CT.Run(2, c => (c.AllReduce(xs[c.Rank], CT.All(2), ReduceOp.Sum), c.AllReduce(xs[c.Rank], CT.All(2), ReduceOp.Max)));
        foreach (var (sum, max) in res)
        {
            // Ints directly: HostTensor.Get reads integers through float (2^31 - 1 comes back as 2^31).
            Assert.Equal(new long[] { int.MinValue, -4 }, sum.Ints);
            Assert.Equal(new long[] { int.MaxValue, 3 }, max.Ints);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void AllGather(int p, string elem)
    {
        var type = Shape(new Context(), elem, p);
        var xs = CT.Inputs(type, p);
        int[] dims = { 0, 1, -1 };
        foreach (var group in Orders(p))
        {
            var res = RunOn(p, xs, (c, x) => dims.Select(d =>
            {
                long b0 = c.BytesSent;
                var y = c.AllGather(x, group, d);
                return (y, bytes: c.BytesSent - b0);
            }).ToArray());
            var byPosition = group.Select(r => xs[r]).ToArray();
            for (int r = 0; r < p; r++)
                for (int i = 0; i < dims.Length; i++)
                {
                    var expected = CT.AllGather(byPosition, dims[i], out var shape);
                    CT.Equal(expected, shape, res[r][i].y, $"all_gather dim {dims[i]} on rank {r}");
                    Assert.Equal((p - 1) * Bytes(type), res[r][i].bytes);
                }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ReduceScatter(int p, string elem)
    {
        var type = Shape(new Context(), elem, p);
        var xs = CT.Inputs(type, p);
        int[] dims = { 0, -1 };
        foreach (var group in Orders(p))
        {
            var res = RunOn(p, xs, (c, x) => dims.Select(d =>
            {
                long b0 = c.BytesSent;
                var y = c.ReduceScatter(x, group, d);
                return (y, bytes: c.BytesSent - b0);
            }).ToArray());
            var byPosition = group.Select(r => xs[r]).ToArray();
            for (int r = 0; r < p; r++)
                for (int i = 0; i < dims.Length; i++)
                {
                    var expected = CT.ReduceScatter(byPosition, dims[i], Array.IndexOf(group, r), out var shape);
                    CT.Equal(expected, shape, res[r][i].y, $"reduce_scatter dim {dims[i]} on rank {r}");
                    Assert.Equal((p - 1) * Bytes(type) / p, res[r][i].bytes);
                }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void AllToAll(int p, string elem)
    {
        var type = Shape(new Context(), elem, p);
        var xs = CT.Inputs(type, p);
        (int Split, int Concat)[] dims = { (0, 1), (2, 0), (0, 0), (-1, -3), (0, 2) };
        foreach (var group in Orders(p))
        {
            var res = RunOn(p, xs, (c, x) => dims.Select(d =>
            {
                long b0 = c.BytesSent;
                var y = c.AllToAll(x, group, d.Split, d.Concat);
                return (y, bytes: c.BytesSent - b0);
            }).ToArray());
            var byPosition = group.Select(r => xs[r]).ToArray();
            for (int r = 0; r < p; r++)
                for (int i = 0; i < dims.Length; i++)
                {
                    var expected = CT.AllToAll(byPosition, dims[i].Split, dims[i].Concat, Array.IndexOf(group, r), out var shape);
                    CT.Equal(expected, shape, res[r][i].y, $"all_to_all {dims[i]} on rank {r}");
                    Assert.Equal((p - 1) * Bytes(type) / p, res[r][i].bytes);
                }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Shift(int p, string elem)
    {
        var type = Shape(new Context(), elem, p);
        var xs = CT.Inputs(type, p);
        var shifts = new List<(int Offset, bool Rotate)>();
        foreach (var k in new[] { 0, 1, -1, 2, p, p + 1, -(p + 1) })
        {
            shifts.Add((k, false));
            shifts.Add((k, true));
        }
        foreach (var group in Orders(p))
        {
            var res = RunOn(p, xs, (c, x) => shifts.Select(s =>
            {
                long b0 = c.BytesSent;
                var y = c.Shift(x, group, s.Offset, s.Rotate);
                return (y, bytes: c.BytesSent - b0);
            }).ToArray());
            var byPosition = group.Select(r => xs[r]).ToArray();
            for (int r = 0; r < p; r++)
                for (int i = 0; i < shifts.Count; i++)
                {
                    var (k, rotate) = shifts[i];
                    int pos = Array.IndexOf(group, r);
                    CT.Equal(CT.Shift(byPosition, k, rotate, pos), type.Shape.ToArray(), res[r][i].y, $"shift {k}{(rotate ? " rotate" : "")} on rank {r}");
                    int dest = pos + k;
                    if (rotate) dest = ((dest % p) + p) % p;
                    bool sends = dest >= 0 && dest < p && dest != pos;
                    Assert.Equal(sends ? Bytes(type) : 0, res[r][i].bytes);
                }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(8)]
    public void BarriersAndCountsInterleaveWithCollectives(int p)
    {
        var type = CT.Type(new Context(), "f32", p);
        var xs = CT.Inputs(type, p);
        var res = CT.Run(p, c =>
        {
            c.Barrier(CT.All(p));
            var y = c.AllReduce(xs[c.Rank], CT.All(p), ReduceOp.Sum);
            c.Barrier(CT.All(p).Reverse().ToArray());
            return (y, c.Collectives, c.BytesSent);
        });
        foreach (var (y, count, bytes) in res)
        {
            CT.Equal(CT.Reduce(xs, false, type.Element), new long[] { p }, y, "sum");
            Assert.Equal(3, count);
            Assert.Equal(2 * (p - 1) * 4L * p / p, bytes);
        }
    }

    [Fact]
    public void ResultTypesAreCheckedAndUsed()
    {
        var ctx = new Context();
        var type = CT.Type(ctx, "f32", 2, 3);
        var gathered = CT.Type(ctx, "f32", 4, 3);
        var res = CT.Run(2, c => c.AllGather(CT.Input(type, c.Rank), CT.All(2), 0, gathered));
        Assert.All(res, y => Assert.Same(gathered, y.Type));
        var e = Assert.Throws<ArgumentException>(() =>
            new ThreadWorld(1).Communicator(0).AllGather(CT.Input(type, 0), new[] { 0 }, 0, gathered));
        Assert.Equal("dist.all_gather over 1 ranks makes tensor<2x3xf32> from tensor<2x3xf32>, but the result type given is tensor<4x3xf32>", e.Message);
    }

    [Fact]
    public void BadCallsAreArgumentErrorsBeforeAnythingIsSent()
    {
        var ctx = new Context();
        var x = CT.Input(CT.Type(ctx, "f32", 6, 4), 0);
        var c = new ThreadWorld(4).Communicator(1);
        Assert.Equal("group [0, 2] does not hold this rank (Parameter 'group')",
            Assert.Throws<ArgumentException>(() => c.AllReduce(x, new[] { 0, 2 }, ReduceOp.Sum)).Message);
        Assert.Equal("group [1, 1] names rank 1 twice (Parameter 'group')",
            Assert.Throws<ArgumentException>(() => c.AllReduce(x, new[] { 1, 1 }, ReduceOp.Sum)).Message);
        Assert.Equal("group [1, 4] names rank 4, but the world has ranks 0..3 (Parameter 'group')",
            Assert.Throws<ArgumentException>(() => c.AllReduce(x, new[] { 1, 4 }, ReduceOp.Sum)).Message);
        Assert.Equal("dim 2 is out of range for tensor<6x4xf32> (rank 2: -2 <= dim < 2)",
            Assert.Throws<ArgumentException>(() => c.AllGather(x, new[] { 1, 0 }, 2)).Message);
        Assert.Equal("dist.reduce_scatter: dimension 1 of tensor<6x4xf32> has size 4, which a group of 3 ranks cannot split evenly",
            Assert.Throws<ArgumentException>(() => c.ReduceScatter(x, new[] { 1, 0, 2 }, -1)).Message);
        Assert.Equal("dist.all_to_all: dimension 0 of tensor<6x4xf32> has size 6, which a group of 4 ranks cannot split evenly",
            Assert.Throws<ArgumentException>(() => c.AllToAll(x, CT.All(4), 0, 1)).Message);
        Assert.Equal(0, c.Collectives);
    }

    /// <summary>Hundreds of back-to-back collectives over overlapping groups of a 2x4 mesh stay matched and correct.</summary>
    [Fact]
    public void ManyCollectivesInARowStayMatched()
    {
        var mesh = new Mesh("mesh", new[] { "dp", "sp" }, new[] { 2, 4 });
        string[][] groupings = { new[] { "sp" }, new[] { "dp" }, new[] { "dp", "sp" }, new[] { "sp", "dp" } };
        var type = CT.Type(new Context(), "f64", 4);
        var xs = CT.Inputs(type, 8);
        const int rounds = 200;
        var sums = CT.Run(8, c =>
        {
            var x = xs[c.Rank];
            double total = 0;
            for (int i = 0; i < rounds; i++)
            {
                var y = c.AllReduce(x, MeshGroups.Group(mesh, groupings[i % 4], c.Rank), ReduceOp.Sum);
                total += y.Get(i % 4);
            }
            return (total, c.Collectives);
        });
        for (int r = 0; r < 8; r++)
        {
            double expected = 0;
            for (int i = 0; i < rounds; i++)
            {
                var group = MeshGroups.Group(mesh, groupings[i % 4], r);
                expected += CT.Reduce(group.Select(m => xs[m]).ToArray(), false, type.Element)[i % 4];
            }
            Assert.Equal(expected, sums[r].total);
            Assert.Equal(rounds, sums[r].Collectives);
        }
    }
}
