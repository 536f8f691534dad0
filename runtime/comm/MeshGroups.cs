using AutoSpIR.Dialects.Dist;

namespace AutoSpIR.Runtime.Comm;

/// <summary>
/// A device mesh, as a <c>dist.mesh @mesh {axes = ["dp", "sp"], shape = [2, 4]}</c> op declares
/// it: the runtime's int-indexed view of the dialect's <see cref="DeviceMesh"/>, which owns the
/// rank arithmetic (ranks row-major over the axes in declaration order:
/// rank = sum_i idx_i * prod_{j > i} shape_j).
/// </summary>
public sealed class Mesh
{
    public Mesh(string name, IReadOnlyList<string> axes, IReadOnlyList<int> shape)
    {
        if (axes.Count != shape.Count)
            throw new ArgumentException($"mesh @{name} has {axes.Count} axes but {shape.Count} sizes");
        var sizes = shape.Select(s => (long)s).ToArray();
        if (DeviceMesh.Validate(axes, sizes, out long ranks) is { } why) throw new ArgumentException($"mesh @{name}: {why}");
        Device = new DeviceMesh(name, axes, sizes);
        Shape = shape.ToArray();
        Size = checked((int)ranks);
    }

    /// <summary>The dialect's mesh this view reads.</summary>
    public DeviceMesh Device { get; }
    public string Name => Device.Name;
    public IReadOnlyList<string> Axes => Device.Axes;
    public IReadOnlyList<int> Shape { get; }

    /// <summary>Number of ranks: the product of the axis sizes.</summary>
    public int Size { get; }

    /// <summary>The index of axis <paramref name="axis"/>, or an ArgumentException naming the mesh's axes.</summary>
    public int AxisIndex(string axis) =>
        Device.AxisIndex(axis) is var i and >= 0 ? i
            : throw new ArgumentException($"mesh @{Name} has no axis \"{axis}\" (its axes are {AxisList(Axes)})");

    /// <summary>The mesh coordinates of <paramref name="rank"/>.</summary>
    public int[] Coordinates(int rank)
    {
        if (rank < 0 || rank >= Size) throw new ArgumentOutOfRangeException(nameof(rank), rank, $"mesh @{Name} has ranks 0..{Size - 1}");
        return Device.Coordinates(rank).Select(c => (int)c).ToArray();
    }

    /// <summary>The rank at mesh coordinates <paramref name="coordinates"/>.</summary>
    public int RankOf(IReadOnlyList<int> coordinates) => (int)Device.RankOf(coordinates.Select(c => (long)c).ToArray());

    /// <summary><c>@mesh ["dp"=2, "sp"=4]</c>, for messages.</summary>
    public override string ToString() => Device.ToString();

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
        CheckAxes(mesh, axes);
        mesh.Coordinates(rank);   // range check with the runtime's message
        return mesh.Device.GroupRanks(rank, axes).Select(r => (int)r).ToArray();
    }

    /// <summary>The position of <paramref name="rank"/> in its group over <paramref name="axes"/>.</summary>
    public static int Position(Mesh mesh, IReadOnlyList<string> axes, int rank)
    {
        CheckAxes(mesh, axes);
        mesh.Coordinates(rank);
        return (int)mesh.Device.GroupPosition(rank, axes);
    }

    /// <summary>G: the product of the sizes of <paramref name="axes"/>.</summary>
    public static int GroupSize(Mesh mesh, IReadOnlyList<string> axes)
    {
        CheckAxes(mesh, axes);
        return (int)mesh.Device.GroupSize(axes);
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

    /// <summary>Every axis is the mesh's, and none is listed twice.</summary>
    private static void CheckAxes(Mesh mesh, IReadOnlyList<string> axes)
    {
        for (int k = 0; k < axes.Count; k++)
        {
            mesh.AxisIndex(axes[k]);
            for (int j = 0; j < k; j++)
                if (axes[j] == axes[k]) throw new ArgumentException($"axis \"{axes[k]}\" of mesh @{mesh.Name} is listed twice in a group's axes");
        }
    }
}
