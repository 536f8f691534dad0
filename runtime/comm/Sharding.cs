namespace AutoSpIR.Runtime.Comm;

/// <summary>
/// Cutting a global tensor into the pieces ranks hold, and putting pieces back together, for
/// tools that feed a sharded program and check its results. Dimension d is cut into
/// <c>dimSplits[d]</c> equal pieces (its size must divide evenly); pieces are numbered per
/// dimension, and a list of all pieces is row-major over that grid (the last dimension's
/// piece index varies fastest). Piece types are made in a private context unless one is given.
/// </summary>
public static class Sharding
{
    /// <summary>Piece <paramref name="pieceIndexPerDim"/> of <paramref name="global"/> cut <paramref name="dimSplits"/> ways per dimension (a copy).</summary>
    public static HostTensor Slice(HostTensor global, int[] dimSplits, int[] pieceIndexPerDim, TensorType? pieceType = null)
    {
        ArgumentNullException.ThrowIfNull(global);
        var shape = PieceShape(global.Type, dimSplits);
        if (pieceIndexPerDim.Length != shape.Length)
            throw new ArgumentException($"{pieceIndexPerDim.Length} piece indices for a tensor of rank {shape.Length}", nameof(pieceIndexPerDim));
        var start = new long[shape.Length];
        for (int d = 0; d < shape.Length; d++)
        {
            if (pieceIndexPerDim[d] < 0 || pieceIndexPerDim[d] >= dimSplits[d])
                throw new ArgumentException($"piece index {pieceIndexPerDim[d]} of dimension {d} is outside [0, {dimSplits[d]})", nameof(pieceIndexPerDim));
            start[d] = pieceIndexPerDim[d] * shape[d];
        }
        return TensorBoxes.Extract(global, start, TypeOf(pieceType, shape, global.Type.Element));
    }

    /// <summary>
    /// The inverse of <see cref="Slice"/>: the global tensor from all its pieces, given row-major over the
    /// piece grid (<c>prod(dimSplits)</c> pieces of one shape and element type).
    /// </summary>
    public static HostTensor Assemble(IReadOnlyList<HostTensor> pieces, int[] dimSplits, TensorType? globalType = null)
    {
        ArgumentNullException.ThrowIfNull(pieces);
        long count = 1;
        foreach (var s in dimSplits)
        {
            if (s < 1) throw new ArgumentException($"a dimension is cut into {s} pieces; at least 1", nameof(dimSplits));
            count *= s;
        }
        if (pieces.Count != count)
            throw new ArgumentException($"{pieces.Count} pieces given, the grid {string.Join("x", dimSplits)} has {count}", nameof(pieces));
        var first = pieces[0].Type;
        if (first.Rank != dimSplits.Length)
            throw new ArgumentException($"pieces of rank {first.Rank}, but {dimSplits.Length} splits", nameof(dimSplits));
        var shape = first.Shape.ToArray();
        for (int d = 0; d < shape.Length; d++) shape[d] *= dimSplits[d];
        var global = new HostTensor(TypeOf(globalType, shape, first.Element));
        var index = new int[shape.Length];
        var start = new long[shape.Length];
        for (int p = 0; p < pieces.Count; p++)
        {
            if (!Interpreter.SameType(pieces[p].Type, first))
                throw new ArgumentException($"piece #{p} has type {pieces[p].Type}, piece #0 {first}", nameof(pieces));
            for (int d = 0; d < shape.Length; d++) start[d] = index[d] * first.Dim(d);
            TensorBoxes.Copy(pieces[p], new long[shape.Length], global, start, first.Shape);
            for (int d = shape.Length - 1; d >= 0 && ++index[d] == dimSplits[d]; d--) index[d] = 0;
        }
        return global;
    }

    /// <summary>
    /// The number of pieces per dimension of a tensor sharded over <paramref name="mesh"/> as
    /// <paramref name="dimAxes"/> (per dimension, the mesh axes it is split over, major first; empty: whole).
    /// </summary>
    public static int[] Splits(Mesh mesh, IReadOnlyList<IReadOnlyList<string>> dimAxes) =>
        dimAxes.Select(axes => MeshGroups.GroupSize(mesh, axes)).ToArray();

    /// <summary>The piece index per dimension that <paramref name="rank"/> holds (replicated over the axes no dimension names).</summary>
    public static int[] PieceIndex(Mesh mesh, IReadOnlyList<IReadOnlyList<string>> dimAxes, int rank)
    {
        var used = new HashSet<string>();
        foreach (var axes in dimAxes)
            foreach (var a in axes)
                if (!used.Add(a)) throw new ArgumentException($"mesh axis \"{a}\" shards two dimensions", nameof(dimAxes));
        return dimAxes.Select(axes => MeshGroups.Position(mesh, axes, rank)).ToArray();
    }

    /// <summary>The piece of <paramref name="global"/> that <paramref name="rank"/> holds.</summary>
    public static HostTensor SliceForRank(HostTensor global, Mesh mesh, IReadOnlyList<IReadOnlyList<string>> dimAxes, int rank, TensorType? pieceType = null)
    {
        if (dimAxes.Count != global.Type.Rank)
            throw new ArgumentException($"{dimAxes.Count} dimension shardings for {global.Type}", nameof(dimAxes));
        return Slice(global, Splits(mesh, dimAxes), PieceIndex(mesh, dimAxes, rank), pieceType);
    }

    /// <summary>The global tensor from every rank's piece (indexed by rank); a replicated piece is taken from its lowest rank.</summary>
    public static HostTensor AssembleFromRanks(IReadOnlyList<HostTensor> perRank, Mesh mesh, IReadOnlyList<IReadOnlyList<string>> dimAxes, TensorType? globalType = null)
    {
        if (perRank.Count != mesh.Size)
            throw new ArgumentException($"{perRank.Count} pieces given for the {mesh.Size} ranks of mesh {mesh}", nameof(perRank));
        var splits = Splits(mesh, dimAxes);
        var pieces = new HostTensor?[splits.Aggregate(1, (a, b) => a * b)];
        for (int rank = 0; rank < mesh.Size; rank++)
        {
            int flat = 0;
            var idx = PieceIndex(mesh, dimAxes, rank);
            for (int d = 0; d < idx.Length; d++) flat = flat * splits[d] + idx[d];
            pieces[flat] ??= perRank[rank];
        }
        return Assemble(pieces!, splits, globalType);
    }

    private static long[] PieceShape(TensorType type, int[] dimSplits)
    {
        if (dimSplits.Length != type.Rank)
            throw new ArgumentException($"{dimSplits.Length} splits for {type} of rank {type.Rank}", nameof(dimSplits));
        var shape = type.Shape.ToArray();
        for (int d = 0; d < shape.Length; d++)
        {
            if (dimSplits[d] < 1) throw new ArgumentException($"dimension {d} is cut into {dimSplits[d]} pieces; at least 1", nameof(dimSplits));
            if (shape[d] % dimSplits[d] != 0)
                throw new ArgumentException($"dimension {d} of {type} has size {shape[d]}, which does not split into {dimSplits[d]} equal pieces", nameof(dimSplits));
            shape[d] /= dimSplits[d];
        }
        return shape;
    }

    private static TensorType TypeOf(TensorType? given, long[] shape, ScalarType element)
    {
        if (given is null) return RuntimeTypes.Tensor(shape, element);
        if (given.Element.Kind != element.Kind || !given.Shape.SequenceEqual(shape))
            throw new ArgumentException($"the type given is {given}, but the tensor is {string.Join("x", shape)} of {element}");
        return given;
    }
}
