namespace AutoSpIR.Runtime.Comm;

/// <summary>
/// Cutting a global tensor into the pieces ranks hold, and putting pieces back together, for
/// tools that feed a sharded program and check its results. Dimension d of size n is cut into
/// K = <c>dimSplits[d]</c> pieces of one size c = ceil(n / K), as <c>#dist.sharding</c> pads
/// (<see cref="Dialects.Dist.ShardingAttr"/>): piece j holds positions [j*c, (j+1)*c), and the
/// positions &gt;= n are padding, which <see cref="Slice"/> fills with a pad value and
/// <see cref="Assemble"/> drops (a dimension cut into K &gt; 1 pieces has n &gt;= 1). Pieces are
/// numbered per dimension, and a list of all pieces is row-major over that grid (the last
/// dimension's piece index varies fastest). Piece types are made in a private context unless
/// one is given.
/// </summary>
public static class Sharding
{
    /// <summary>
    /// Piece <paramref name="pieceIndexPerDim"/> of <paramref name="global"/> cut <paramref name="dimSplits"/>
    /// ways per dimension (a copy), its positions past the global end set to <paramref name="padValue"/>
    /// converted to the element type: rounded to a float type; for an integer type it must be an
    /// integer in the type's range (e.g. -100 for labels, the ignore_index), else an <see cref="ArgumentException"/>.
    /// </summary>
    public static HostTensor Slice(HostTensor global, int[] dimSplits, int[] pieceIndexPerDim, TensorType? pieceType = null, double padValue = 0)
    {
        ArgumentNullException.ThrowIfNull(global);
        var shape = PieceShape(global.Type, dimSplits);
        if (pieceIndexPerDim.Length != shape.Length)
            throw new ArgumentException($"{pieceIndexPerDim.Length} piece indices for a tensor of rank {shape.Length}", nameof(pieceIndexPerDim));
        var start = new long[shape.Length];
        var box = new long[shape.Length];
        bool padded = false;
        for (int d = 0; d < shape.Length; d++)
        {
            if (pieceIndexPerDim[d] < 0 || pieceIndexPerDim[d] >= dimSplits[d])
                throw new ArgumentException($"piece index {pieceIndexPerDim[d]} of dimension {d} is outside [0, {dimSplits[d]})", nameof(pieceIndexPerDim));
            start[d] = pieceIndexPerDim[d] * shape[d];
            box[d] = RealCount(global.Type.Dim(d), start[d], shape[d]);
            padded |= box[d] < shape[d];
        }
        var piece = new HostTensor(TypeOf(pieceType, shape, global.Type.Element));
        var pad = PadFor(padValue, global.Type.Element);
        if (padded) Fill(piece, pad);
        if (!box.Contains(0)) TensorBoxes.Copy(global, start, piece, new long[shape.Length], box);
        return piece;
    }

    /// <summary>
    /// The inverse of <see cref="Slice"/>: the global tensor from all its pieces, given row-major over the
    /// piece grid (<c>prod(dimSplits)</c> pieces of one shape and element type), without the padding.
    /// The global shape is <paramref name="globalType"/>'s when given (each dimension must cut into
    /// pieces of the pieces' size: ceil(n / K) = c), else the pieces' shape times the splits (no padding).
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
        TensorType type;
        if (globalType is null)
        {
            var shape = first.Shape.ToArray();
            for (int d = 0; d < shape.Length; d++) shape[d] *= dimSplits[d];
            type = RuntimeTypes.Tensor(shape, first.Element);
        }
        else
        {
            if (globalType.Element.Kind != first.Element.Kind || globalType.Rank != first.Rank)
                throw new ArgumentException($"the global type given is {globalType}, but the pieces are {first}", nameof(globalType));
            if (!PieceShape(globalType, dimSplits).AsSpan().SequenceEqual(first.Shape))
                throw new ArgumentException($"{globalType} cut {string.Join("x", dimSplits)} ways gives pieces of " +
                                            $"{string.Join("x", PieceShape(globalType, dimSplits))}, but the pieces are {first}", nameof(globalType));
            type = globalType;
        }
        var global = new HostTensor(type);
        var index = new int[first.Rank];
        var start = new long[first.Rank];
        var box = new long[first.Rank];
        for (int p = 0; p < pieces.Count; p++)
        {
            if (!Interpreter.SameType(pieces[p].Type, first))
                throw new ArgumentException($"piece #{p} has type {pieces[p].Type}, piece #0 {first}", nameof(pieces));
            for (int d = 0; d < start.Length; d++)
            {
                start[d] = index[d] * first.Dim(d);
                box[d] = RealCount(type.Dim(d), start[d], first.Dim(d));
            }
            if (!box.Contains(0)) TensorBoxes.Copy(pieces[p], new long[start.Length], global, start, box);   // an all-padding piece adds nothing
            for (int d = start.Length - 1; d >= 0 && ++index[d] == dimSplits[d]; d--) index[d] = 0;
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

    /// <summary>The piece of <paramref name="global"/> that <paramref name="rank"/> holds, padded with <paramref name="padValue"/> (<see cref="Slice"/>).</summary>
    public static HostTensor SliceForRank(HostTensor global, Mesh mesh, IReadOnlyList<IReadOnlyList<string>> dimAxes, int rank,
        TensorType? pieceType = null, double padValue = 0)
    {
        if (dimAxes.Count != global.Type.Rank)
            throw new ArgumentException($"{dimAxes.Count} dimension shardings for {global.Type}", nameof(dimAxes));
        return Slice(global, Splits(mesh, dimAxes), PieceIndex(mesh, dimAxes, rank), pieceType, padValue);
    }

    /// <summary>
    /// The global tensor from every rank's piece (indexed by rank), without the padding; a replicated piece
    /// is taken from its lowest rank. The global shape is <paramref name="globalType"/>'s, else the pieces'
    /// times the splits (<see cref="Assemble"/>).
    /// </summary>
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

    /// <summary>Each dimension's piece size: ceil(n / K).</summary>
    private static long[] PieceShape(TensorType type, int[] dimSplits)
    {
        if (dimSplits.Length != type.Rank)
            throw new ArgumentException($"{dimSplits.Length} splits for {type} of rank {type.Rank}", nameof(dimSplits));
        var shape = type.Shape.ToArray();
        for (int d = 0; d < shape.Length; d++)
        {
            long k = dimSplits[d];
            if (k < 1) throw new ArgumentException($"dimension {d} is cut into {k} pieces; at least 1", nameof(dimSplits));
            if (shape[d] == 0 && k > 1)
                throw new ArgumentException($"dimension {d} of {type} has size 0, which has nothing to cut into {k} pieces", nameof(dimSplits));
            shape[d] = shape[d] / k + (shape[d] % k != 0 ? 1 : 0);
        }
        return shape;
    }

    /// <summary>How many of a piece's <paramref name="size"/> positions from <paramref name="start"/> lie below the global size <paramref name="n"/>.</summary>
    private static long RealCount(long n, long start, long size) => Math.Clamp(n - start, 0, size);

    /// <summary><paramref name="padValue"/> as the element type stores it, or why it cannot be.</summary>
    private static double PadFor(double padValue, ScalarType element)
    {
        if (element.IsFloat) return Numerics.Round(padValue, element);
        var (min, max) = Numerics.IntRange(element);
        // max + 1.0 is exact in a double for every integer type (long.MaxValue + 1.0 = 2^63).
        if (!double.IsFinite(padValue) || Math.Floor(padValue) != padValue || padValue < min || padValue >= max + 1.0)
            throw new ArgumentException($"the pad value {padValue.ToString(System.Globalization.CultureInfo.InvariantCulture)} is not an integer of {element} " +
                                        $"(from {min} to {max}), the tensor's element type", nameof(padValue));
        return padValue;
    }

    private static void Fill(HostTensor t, double value)
    {
        if (t.F64 is not null) Array.Fill(t.F64, value);
        else if (t.F32 is not null) Array.Fill(t.F32, (float)value);
        else Array.Fill(t.Ints!, (long)value);
    }

    private static TensorType TypeOf(TensorType? given, long[] shape, ScalarType element)
    {
        if (given is null) return RuntimeTypes.Tensor(shape, element);
        if (given.Element.Kind != element.Kind || !given.Shape.SequenceEqual(shape))
            throw new ArgumentException($"the type given is {given}, but the tensor is {string.Join("x", shape)} of {element}");
        return given;
    }
}
