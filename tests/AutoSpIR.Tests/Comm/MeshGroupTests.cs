using AutoSpIR.Runtime;
using AutoSpIR.Runtime.Comm;

namespace AutoSpIR.Tests.Comm;

/// <summary>Mesh groups by hand on the 2x4 mesh and by brute force on others; collectives over mesh groups.</summary>
public class MeshGroupTests
{
    private static readonly Mesh DpSp = new("mesh", new[] { "dp", "sp" }, new[] { 2, 4 });

    [Fact]
    public void GroupsOfTheTwoByFourMesh()
    {
        Assert.Equal(8, DpSp.Size);
        for (int r = 0; r < 8; r++)
        {
            int dp = r / 4, sp = r % 4;
            Assert.Equal(new[] { dp, sp }, DpSp.Coordinates(r));
            Assert.Equal(r, DpSp.RankOf(new[] { dp, sp }));
            Assert.Equal(Enumerable.Range(4 * dp, 4).ToArray(), MeshGroups.Group(DpSp, new[] { "sp" }, r));
            Assert.Equal(sp, MeshGroups.Position(DpSp, new[] { "sp" }, r));
            Assert.Equal(new[] { sp, sp + 4 }, MeshGroups.Group(DpSp, new[] { "dp" }, r));
            Assert.Equal(dp, MeshGroups.Position(DpSp, new[] { "dp" }, r));
            Assert.Equal(CT.All(8), MeshGroups.Group(DpSp, new[] { "dp", "sp" }, r));
            Assert.Equal(r, MeshGroups.Position(DpSp, new[] { "dp", "sp" }, r));
            Assert.Equal(new[] { 0, 4, 1, 5, 2, 6, 3, 7 }, MeshGroups.Group(DpSp, new[] { "sp", "dp" }, r));
            Assert.Equal(sp * 2 + dp, MeshGroups.Position(DpSp, new[] { "sp", "dp" }, r));
            Assert.Equal(new[] { r }, MeshGroups.Group(DpSp, Array.Empty<string>(), r));
            Assert.Equal(0, MeshGroups.Position(DpSp, Array.Empty<string>(), r));
        }
        Assert.Equal(5, MeshGroups.Position(DpSp, new[] { "sp", "dp" }, 6));
        Assert.Equal(4, MeshGroups.GroupSize(DpSp, new[] { "sp" }));
        Assert.Equal(new[] { new[] { 0, 4 }, new[] { 1, 5 }, new[] { 2, 6 }, new[] { 3, 7 } }, MeshGroups.DistinctGroups(DpSp, new[] { "dp" }));
        Assert.Equal(MeshGroups.Group(DpSp, new[] { "sp" }, 6), MeshGroups.AllGroups(DpSp, new[] { "sp" })[6]);
        Assert.Equal("@mesh [\"dp\"=2, \"sp\"=4]", DpSp.ToString());
    }

    public static IEnumerable<object[]> Meshes() => new[]
    {
        new object[] { new[] { 2, 3, 2 } },
        new object[] { new[] { 1, 4 } },
        new object[] { new[] { 3 } },
        new object[] { new[] { 2, 1, 3, 2 } },
    };

    /// <summary>Every ordered choice of axes: the group is the ranks agreeing off those axes, positioned row-major over them.</summary>
    [Theory]
    [MemberData(nameof(Meshes))]
    public void GroupsMatchTheirDefinition(int[] shape)
    {
        var names = shape.Select((_, i) => "a" + i).ToArray();
        var mesh = new Mesh("m", names, shape);
        foreach (var axes in OrderedSubsets(Enumerable.Range(0, shape.Length).ToList()))
        {
            var axisNames = axes.Select(i => names[i]).ToArray();
            for (int r = 0; r < mesh.Size; r++)
            {
                var cr = mesh.Coordinates(r);
                int g = axes.Aggregate(1, (acc, i) => acc * shape[i]);
                var expected = new int[g];
                int members = 0;
                for (int s = 0; s < mesh.Size; s++)
                {
                    var cs = mesh.Coordinates(s);
                    if (Enumerable.Range(0, shape.Length).Any(d => !axes.Contains(d) && cs[d] != cr[d])) continue;
                    int pos = axes.Aggregate(0, (acc, i) => acc * shape[i] + cs[i]);
                    expected[pos] = s;
                    members++;
                    if (s == r) Assert.Equal(pos, MeshGroups.Position(mesh, axisNames, r));
                }
                Assert.Equal(g, members);
                Assert.Equal(expected, MeshGroups.Group(mesh, axisNames, r));
            }
        }
    }

    /// <summary>The runtime's groups are the compiler's: the dist dialect's DeviceMesh gives the same ranks and positions.</summary>
    [Theory]
    [MemberData(nameof(Meshes))]
    public void GroupsAgreeWithTheDistDialect(int[] shape)
    {
        var names = shape.Select((_, i) => "a" + i).ToArray();
        var mesh = new Mesh("m", names, shape);
        var compiler = new AutoSpIR.Dialects.Dist.DeviceMesh("m", names, shape.Select(s => (long)s).ToArray());
        foreach (var axes in OrderedSubsets(Enumerable.Range(0, shape.Length).ToList()).Where(a => a.Count > 0))
        {
            var axisNames = axes.Select(i => names[i]).ToArray();
            for (int r = 0; r < mesh.Size; r++)
            {
                Assert.Equal(compiler.GroupRanks(r, axisNames).Select(x => (int)x).ToArray(), MeshGroups.Group(mesh, axisNames, r));
                Assert.Equal(compiler.GroupPosition(r, axisNames), MeshGroups.Position(mesh, axisNames, r));
            }
        }
    }

    private static IEnumerable<List<int>> OrderedSubsets(List<int> items)
    {
        yield return new List<int>();
        foreach (var first in items)
            foreach (var rest in OrderedSubsets(items.Where(i => i != first).ToList()))
                yield return new[] { first }.Concat(rest).ToList();
    }

    [Fact]
    public void BadAxesAndMeshesAreNamed()
    {
        Assert.Equal("mesh @mesh has no axis \"tp\" (its axes are \"dp\", \"sp\")",
            Assert.Throws<ArgumentException>(() => MeshGroups.Group(DpSp, new[] { "tp" }, 0)).Message);
        Assert.Equal("axis \"sp\" of mesh @mesh is listed twice in a group's axes",
            Assert.Throws<ArgumentException>(() => MeshGroups.Position(DpSp, new[] { "sp", "sp" }, 0)).Message);
        // The mesh checks are the dialect's (DeviceMesh.Validate), so the runtime says what the verifier says.
        Assert.Equal("mesh @m: axis \"x\" is declared twice", Assert.Throws<ArgumentException>(() => new Mesh("m", new[] { "x", "x" }, new[] { 1, 2 })).Message);
        Assert.Equal("mesh @m: axis \"x\" has size 0; sizes must be at least 1", Assert.Throws<ArgumentException>(() => new Mesh("m", new[] { "x" }, new[] { 0 })).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => DpSp.Coordinates(8));
    }

    /// <summary>On a 2x4 world, collectives over "sp", "dp", both, and both reversed, each group independent of the others.</summary>
    [Theory]
    [InlineData("f64")]
    [InlineData("f32")]
    [InlineData("bf16")]
    public void CollectivesOverMeshGroups(string elem)
    {
        var type = CT.Type(new Context(), elem, 8, 2);
        var xs = CT.Inputs(type, 8);
        string[][] groupings = { new[] { "sp" }, new[] { "dp" }, new[] { "dp", "sp" }, new[] { "sp", "dp" } };
        var res = CT.Run(8, c => groupings.Select(axes =>
        {
            var group = MeshGroups.Group(DpSp, axes, c.Rank);
            var x = xs[c.Rank];
            return new[]
            {
                c.AllGather(x, group, 1),
                c.AllReduce(x, group, ReduceOp.Sum),
                c.ReduceScatter(x, group, 0),
                c.AllToAll(x, group, 0, 1),
                c.Shift(x, group, 1, rotate: true),
            };
        }).ToArray());
        for (int r = 0; r < 8; r++)
            for (int a = 0; a < groupings.Length; a++)
            {
                var group = MeshGroups.Group(DpSp, groupings[a], r);
                int pos = MeshGroups.Position(DpSp, groupings[a], r);
                var byPosition = group.Select(m => xs[m]).ToArray();
                string where = $"rank {r} over [{string.Join(", ", groupings[a])}]";
                var got = res[r][a];
                CT.Equal(CT.AllGather(byPosition, 1, out var s0), s0, got[0], "all_gather " + where);
                CT.Equal(CT.Reduce(byPosition, false, type.Element), type.Shape.ToArray(), got[1], "all_reduce " + where);
                CT.Equal(CT.ReduceScatter(byPosition, 0, pos, out var s2), s2, got[2], "reduce_scatter " + where);
                CT.Equal(CT.AllToAll(byPosition, 0, 1, pos, out var s3), s3, got[3], "all_to_all " + where);
                CT.Equal(CT.Shift(byPosition, 1, true, pos), type.Shape.ToArray(), got[4], "shift " + where);
            }
    }
}
