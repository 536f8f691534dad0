using System.Globalization;

namespace AutoSpIR.Runtime.Comm;

/// <summary>
/// A device mesh, as a <c>dist.mesh @mesh {axes = ["dp", "sp"], shape = [2, 4]}</c> op declares
/// it: named axes with sizes. Ranks are row-major over the axes in declaration order:
/// rank = sum_i idx_i * prod_{j > i} shape_j.
/// </summary>
public sealed class Mesh
{
    public Mesh(string name, IReadOnlyList<string> axes, IReadOnlyList<int> shape)
    {
        if (axes.Count != shape.Count)
            throw new ArgumentException($"mesh @{name} has {axes.Count} axes but {shape.Count} sizes");
        for (int i = 0; i < axes.Count; i++)
        {
            if (shape[i] < 1) throw new ArgumentException($"mesh @{name}: axis \"{axes[i]}\" has size {shape[i]}; sizes are >= 1");
            for (int j = 0; j < i; j++)
                if (axes[j] == axes[i]) throw new ArgumentException($"mesh @{name} names axis \"{axes[i]}\" twice");
        }
        Name = name;
        Axes = axes.ToArray();
        Shape = shape.ToArray();
        long size = 1;
        foreach (var s in Shape) size = checked(size * s);
        Size = checked((int)size);
    }

    public string Name { get; }
    public IReadOnlyList<string> Axes { get; }
    public IReadOnlyList<int> Shape { get; }

    /// <summary>Number of ranks: the product of the axis sizes.</summary>
    public int Size { get; }

    /// <summary>The index of axis <paramref name="axis"/>, or an ArgumentException naming the mesh's axes.</summary>
    public int AxisIndex(string axis)
    {
        for (int i = 0; i < Axes.Count; i++)
            if (Axes[i] == axis) return i;
        throw new ArgumentException($"mesh @{Name} has no axis \"{axis}\" (its axes are {AxisList(Axes)})");
    }

    /// <summary>The mesh coordinates of <paramref name="rank"/>.</summary>
    public int[] Coordinates(int rank)
    {
        if (rank < 0 || rank >= Size) throw new ArgumentOutOfRangeException(nameof(rank), rank, $"mesh @{Name} has ranks 0..{Size - 1}");
        var c = new int[Shape.Count];
        for (int i = Shape.Count - 1; i >= 0; i--)
        {
            c[i] = rank % Shape[i];
            rank /= Shape[i];
        }
        return c;
    }

    /// <summary>The rank at mesh coordinates <paramref name="coordinates"/>.</summary>
    public int RankOf(IReadOnlyList<int> coordinates)
    {
        int r = 0;
        for (int i = 0; i < Shape.Count; i++) r = r * Shape[i] + coordinates[i];
        return r;
    }

    /// <summary><c>@mesh ["dp"=2, "sp"=4]</c>, for messages.</summary>
    public override string ToString() =>
        $"@{Name} [{string.Join(", ", Axes.Select((a, i) => $"\"{a}\"={Shape[i].ToString(CultureInfo.InvariantCulture)}"))}]";

    internal static string AxisList(IEnumerable<string> axes) => string.Join(", ", axes.Select(a => $"\"{a}\""));

    // ------------------------------------------------------------------ from the IR

    /// <summary>
    /// The mesh an op's <paramref name="attribute"/> (a symbol reference, <c>mesh = @mesh</c>) names: the
    /// <c>dist.mesh</c> op of that <c>sym_name</c> in the nearest enclosing op that holds one (the module).
    /// Missing or malformed: a <see cref="RuntimeErrorException"/> at the op.
    /// </summary>
    public static Mesh Resolve(Operation op, string attribute = "mesh")
    {
        if (op.GetAttr(attribute) is not SymbolRefAttr sym)
            throw new RuntimeErrorException(op.Location, $"'{op.Name}' op has no '{attribute}' attribute naming a dist.mesh (mesh = @name)");
        for (var scope = op.ParentOp; scope is not null; scope = scope.ParentOp)
            foreach (var region in scope.Regions)
                foreach (var candidate in region.Ops)
                    if (candidate.Name == "dist.mesh" && candidate.GetString("sym_name") == sym.Name)
                        return FromOp(candidate);
        throw new RuntimeErrorException(op.Location, $"'{op.Name}' op names mesh @{sym.Name}, but no 'dist.mesh' op of that name encloses it");
    }

    /// <summary>The mesh a <c>dist.mesh</c> op declares (attributes sym_name, axes, shape).</summary>
    public static Mesh FromOp(Operation meshOp)
    {
        string name = meshOp.GetString("sym_name") ?? "?";
        var axes = (meshOp.GetAttr("axes") as ArrayAttr)?.Elements.Select(a => (a as StringAttr)?.Value).ToArray();
        var shape = (meshOp.GetAttr("shape") as ArrayAttr)?.AsInts();
        if (axes is null || axes.Any(a => a is null) || shape is null)
            throw new RuntimeErrorException(meshOp.Location, $"'dist.mesh' op @{name} needs 'axes' (an array of strings) and 'shape' (an array of integers)");
        for (int i = 0; i < shape.Length && i < axes.Length; i++)
            if (shape[i] is < 1 or > int.MaxValue)
                throw new RuntimeErrorException(meshOp.Location, $"'dist.mesh' op @{name}: axis \"{axes[i]}\" has size {shape[i]}; sizes are >= 1");
        try
        {
            return new Mesh(name, axes!, shape.Select(s => (int)s).ToArray());
        }
        catch (Exception e) when (e is ArgumentException or OverflowException)
        {
            throw new RuntimeErrorException(meshOp.Location, $"'dist.mesh' op @{name}: {e.Message}");
        }
    }
}

/// <summary>
/// The groups of a mesh: for axes A, the group of a rank is the ranks that share every mesh
/// coordinate except those of A, ordered row-major over A in the listed order; G is the
/// product of A's sizes and a rank's position is its row-major index over A. No axes: every
/// rank alone.
/// </summary>
public static class MeshGroups
{
    /// <summary>The ordered global ranks of <paramref name="rank"/>'s group over <paramref name="axes"/>.</summary>
    public static int[] Group(Mesh mesh, IReadOnlyList<string> axes, int rank)
    {
        var idx = AxisIndices(mesh, axes);
        var coords = mesh.Coordinates(rank);
        int g = GroupSize(mesh, axes);
        var group = new int[g];
        var c = (int[])coords.Clone();
        for (int pos = 0; pos < g; pos++)
        {
            int rest = pos;
            for (int k = idx.Length - 1; k >= 0; k--)
            {
                int size = mesh.Shape[idx[k]];
                c[idx[k]] = rest % size;
                rest /= size;
            }
            group[pos] = mesh.RankOf(c);
        }
        return group;
    }

    /// <summary>The position of <paramref name="rank"/> in its group over <paramref name="axes"/>.</summary>
    public static int Position(Mesh mesh, IReadOnlyList<string> axes, int rank)
    {
        var idx = AxisIndices(mesh, axes);
        var coords = mesh.Coordinates(rank);
        int pos = 0;
        foreach (var i in idx) pos = pos * mesh.Shape[i] + coords[i];
        return pos;
    }

    /// <summary>G: the product of the sizes of <paramref name="axes"/>.</summary>
    public static int GroupSize(Mesh mesh, IReadOnlyList<string> axes)
    {
        int g = 1;
        foreach (var i in AxisIndices(mesh, axes)) g *= mesh.Shape[i];
        return g;
    }

    /// <summary>The group of every rank, indexed by rank (ranks of one group share the same array contents).</summary>
    public static int[][] AllGroups(Mesh mesh, IReadOnlyList<string> axes)
    {
        var r = new int[mesh.Size][];
        for (int rank = 0; rank < r.Length; rank++) r[rank] = Group(mesh, axes, rank);
        return r;
    }

    /// <summary>The distinct groups over <paramref name="axes"/>, in order of their first rank.</summary>
    public static int[][] DistinctGroups(Mesh mesh, IReadOnlyList<string> axes)
    {
        var seen = new bool[mesh.Size];
        var groups = new List<int[]>();
        for (int rank = 0; rank < mesh.Size; rank++)
        {
            if (seen[rank]) continue;
            var g = Group(mesh, axes, rank);
            foreach (var m in g) seen[m] = true;
            groups.Add(g);
        }
        return groups.ToArray();
    }

    private static int[] AxisIndices(Mesh mesh, IReadOnlyList<string> axes)
    {
        var idx = new int[axes.Count];
        for (int k = 0; k < idx.Length; k++)
        {
            idx[k] = mesh.AxisIndex(axes[k]);
            for (int j = 0; j < k; j++)
                if (idx[j] == idx[k]) throw new ArgumentException($"axis \"{axes[k]}\" of mesh @{mesh.Name} is listed twice in a group's axes");
        }
        return idx;
    }
}
