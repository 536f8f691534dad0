namespace AutoSpIR.Runtime.Comm;

/// <summary>
/// Copies of rectangular boxes between row-major tensors: every collective and every shard
/// operation is a set of these (a slice is a box read, a concatenation is box writes).
/// </summary>
internal static class TensorBoxes
{
    /// <summary>
    /// dst[dstStart + j] = src[srcStart + j] for every multi-index j inside <paramref name="box"/>.
    /// Both tensors have the same storage kind; the box fits in both (checked).
    /// </summary>
    public static void Copy(HostTensor src, ReadOnlySpan<long> srcStart, HostTensor dst, ReadOnlySpan<long> dstStart, ReadOnlySpan<long> box)
    {
        var srcShape = src.Type.Shape;
        var dstShape = dst.Type.Shape;
        int rank = box.Length;
        if (srcShape.Length != rank || dstShape.Length != rank || srcStart.Length != rank || dstStart.Length != rank)
            throw new ArgumentException("a box copy needs tensors, starts and a box of one rank");
        for (int d = 0; d < rank; d++)
            if (box[d] < 0 || srcStart[d] < 0 || dstStart[d] < 0 || srcStart[d] + box[d] > srcShape[d] || dstStart[d] + box[d] > dstShape[d])
                throw new ArgumentException($"box {string.Join("x", box.ToArray())} at [{string.Join(", ", srcStart.ToArray())}] -> [{string.Join(", ", dstStart.ToArray())}] does not fit {src.Type} -> {dst.Type}");
        if (src.F64 is not null && dst.F64 is not null) Copy(src.F64, srcShape, srcStart, dst.F64, dstShape, dstStart, box);
        else if (src.F32 is not null && dst.F32 is not null) Copy(src.F32, srcShape, srcStart, dst.F32, dstShape, dstStart, box);
        else if (src.Ints is not null && dst.Ints is not null) Copy(src.Ints, srcShape, srcStart, dst.Ints, dstShape, dstStart, box);
        else throw new ArgumentException($"cannot copy between {src.Type} and {dst.Type}: different storage");
    }

    private static void Copy<T>(T[] src, ReadOnlySpan<long> srcShape, ReadOnlySpan<long> srcStart,
        T[] dst, ReadOnlySpan<long> dstShape, ReadOnlySpan<long> dstStart, ReadOnlySpan<long> box)
    {
        int rank = box.Length;
        foreach (var b in box)
            if (b == 0) return;
        if (rank == 0)
        {
            dst[0] = src[0];
            return;
        }
        var srcStrides = Kernels.KernelUtil.Strides(srcShape);
        var dstStrides = Kernels.KernelUtil.Strides(dstShape);
        // Merge trailing dimensions the box covers whole in both tensors into one contiguous run.
        int inner = rank - 1;
        long run = box[inner];
        while (inner > 0 && box[inner] == srcShape[inner] && box[inner] == dstShape[inner])
        {
            inner--;
            run *= box[inner];
        }
        long srcPos = 0, dstPos = 0;
        for (int d = 0; d < rank; d++)
        {
            srcPos += srcStart[d] * srcStrides[d];
            dstPos += dstStart[d] * dstStrides[d];
        }
        // Walk the outer dimensions [0, inner) of the box like an odometer.
        var idx = new long[inner];
        while (true)
        {
            Array.Copy(src, srcPos, dst, dstPos, run);
            int d = inner - 1;
            for (; d >= 0; d--)
            {
                srcPos += srcStrides[d];
                dstPos += dstStrides[d];
                if (++idx[d] < box[d]) break;
                srcPos -= srcStrides[d] * box[d];
                dstPos -= dstStrides[d] * box[d];
                idx[d] = 0;
            }
            if (d < 0) return;
        }
    }

    /// <summary>A copy of the box of <paramref name="src"/> at <paramref name="start"/>, as a tensor of <paramref name="type"/> (the box's shape).</summary>
    public static HostTensor Extract(HostTensor src, ReadOnlySpan<long> start, TensorType type)
    {
        var r = new HostTensor(type);
        Copy(src, start, r, new long[type.Rank], type.Shape);
        return r;
    }

    /// <summary>A copy of a tensor (same type).</summary>
    public static HostTensor Clone(HostTensor x) =>
        new(x.Type, f64: (double[]?)x.F64?.Clone(), f32: (float[]?)x.F32?.Clone(), ints: (long[]?)x.Ints?.Clone());
}

/// <summary>
/// Tensor types the runtime makes for results nobody typed (a collective called without a
/// result type, a shard): interned in a private <see cref="Context"/> behind a lock, because
/// contexts are not thread-safe and ranks run on threads. The interpreter compares types by
/// element kind and shape, so these mix freely with a program's own types.
/// </summary>
internal static class RuntimeTypes
{
    private static readonly Context Types = new();
    private static readonly object Gate = new();

    public static TensorType Tensor(ReadOnlySpan<long> shape, ScalarType element)
    {
        lock (Gate) return Types.Tensor(shape, Types.LookupScalar(element.Name) ?? throw new ArgumentException($"unknown element type {element}"));
    }

    /// <summary><paramref name="like"/> itself when it has that shape and no encoding, else a type of <paramref name="shape"/> and its element type.</summary>
    public static TensorType WithShape(TensorType like, ReadOnlySpan<long> shape) =>
        like.Encoding is null && like.Shape.SequenceEqual(shape) ? like : Tensor(shape, like.Element);
}
