namespace AutoSpIR.Runtime;

/// <summary>
/// A tensor in host memory, row-major. Storage by element type: f64 in <see cref="F64"/>;
/// f32, bf16 and f16 in <see cref="F32"/> (bf16/f16 values rounded to their type after
/// every op); integers and i1 in <see cref="Ints"/>. Its accounted size is the element
/// type's own width (<see cref="TensorType.ByteSize"/>), whatever the host storage.
/// </summary>
public sealed class HostTensor
{
    public HostTensor(TensorType type, double[]? f64 = null, float[]? f32 = null, long[]? ints = null)
    {
        if (!type.IsStatic) throw new ArgumentException($"a runtime tensor needs a static shape, got {type}");
        Type = type;
        long n = type.NumElements;
        switch (Kind(type.Element))
        {
            case Storage.F64: F64 = f64 ?? new double[n]; break;
            case Storage.F32: F32 = f32 ?? new float[n]; break;
            default: Ints = ints ?? new long[n]; break;
        }
        if ((F64?.LongLength ?? F32?.LongLength ?? Ints!.LongLength) != n)
            throw new ArgumentException($"storage holds {F64?.LongLength ?? F32?.LongLength ?? Ints!.LongLength} elements, {type} needs {n}");
    }

    public enum Storage { F64, F32, Int }

    public static Storage Kind(ScalarType t) => t.Kind switch
    {
        ScalarKind.F64 => Storage.F64,
        ScalarKind.F32 or ScalarKind.BF16 or ScalarKind.F16 => Storage.F32,
        _ => Storage.Int,
    };

    public TensorType Type { get; }
    public double[]? F64 { get; }
    public float[]? F32 { get; }
    public long[]? Ints { get; }

    public long Count => Type.NumElements;
    /// <summary>Bytes this tensor occupies at its element type's width.</summary>
    public long ByteSize => Type.ByteSize;

    /// <summary>Element <paramref name="i"/> as a double.</summary>
    public double Get(long i) => F64 is not null ? F64[i] : F32 is not null ? (double)F32[i] : (double)Ints![i];   // not through float

    /// <summary>Sets element <paramref name="i"/>, rounding once to the element type (<see cref="Numerics.Round"/>).</summary>
    public void Set(long i, double v)
    {
        if (F64 is not null) F64[i] = v;
        else if (F32 is not null) F32[i] = Numerics.RoundToFloat(v, Type.Element.Kind);
        else Ints![i] = (long)v;
    }

    /// <summary>All elements as doubles (a copy).</summary>
    public double[] ToDoubles()
    {
        var r = new double[Count];
        for (long i = 0; i < r.LongLength; i++) r[i] = Get(i);
        return r;
    }

    /// <summary>A tensor of <paramref name="type"/> from doubles, rounded to the element type.</summary>
    public static HostTensor FromDoubles(TensorType type, ReadOnlySpan<double> values)
    {
        var t = new HostTensor(type);
        for (int i = 0; i < values.Length; i++) t.Set(i, values[i]);
        return t;
    }

    /// <summary>Rounds every element of f32 storage to bf16/f16 when that is the element type.</summary>
    public void RoundToElementType()
    {
        if (F32 is null || Type.Element.Kind == ScalarKind.F32) return;
        var kind = Type.Element.Kind;
        for (long i = 0; i < F32.LongLength; i++) F32[i] = Numerics.RoundFloat(F32[i], kind);
    }
}

/// <summary>An error while running a program (bad data, not a bad program): reported with the op's location.</summary>
public sealed class RuntimeErrorException(Location location, string message) : Exception(message)
{
    public Location Location { get; } = location;
}
