using System.Numerics;
using System.Numerics.Tensors;

namespace AutoSpIR.Runtime.Kernels;

/// <summary>
/// What the kernels share: float tensors read as doubles (every float op computes in double
/// and rounds once to the result type, the dialect's reference semantics), results written
/// back with one rounding, row-major strides and a strided gather for the shape ops.
/// </summary>
internal static class KernelUtil
{
    /// <summary>
    /// The elements as doubles: for f64 storage the tensor's own array (read it, never write it),
    /// otherwise a converted copy (f32/bf16/f16 widen exactly; integers convert as values).
    /// </summary>
    public static double[] Read(HostTensor t)
    {
        if (t.F64 is not null) return t.F64;
        var r = new double[t.Count];
        if (t.F32 is not null) TensorPrimitives.ConvertChecked<float, double>(t.F32, r);
        else
        {
            var ints = t.Ints!;
            for (int i = 0; i < r.Length; i++) r[i] = ints[i];
        }
        return r;
    }

    /// <summary>A float tensor of <paramref name="type"/> holding <paramref name="values"/> (taken over for f64) rounded once to the element type.</summary>
    public static HostTensor Write(TensorType type, double[] values)
    {
        switch (HostTensor.Kind(type.Element))
        {
            case HostTensor.Storage.F64:
                return new HostTensor(type, f64: values);
            case HostTensor.Storage.F32:
                var f = new float[values.Length];
                Narrow(values, f, type.Element.Kind);
                return new HostTensor(type, f32: f);
            default:
                throw new InvalidOperationException($"a float result was computed for the integer type {type}");
        }
    }

    /// <summary>Rounds doubles once to f32, bf16 or f16 (stored as floats).</summary>
    public static void Narrow(ReadOnlySpan<double> src, Span<float> dst, ScalarKind kind)
    {
        int i = 0;
        if (kind == ScalarKind.F32)
        {
            int w = Vector<double>.Count;
            if (Vector.IsHardwareAccelerated)
                for (; i + 2 * w <= src.Length; i += 2 * w)
                    Vector.Narrow(new Vector<double>(src.Slice(i, w)), new Vector<double>(src.Slice(i + w, w))).CopyTo(dst.Slice(i, 2 * w));
            for (; i < src.Length; i++) dst[i] = (float)src[i];
            return;
        }
        for (; i < src.Length; i++) dst[i] = Numerics.RoundToFloat(src[i], kind);
    }

    /// <summary>Row-major strides of a shape (in elements).</summary>
    public static long[] Strides(ReadOnlySpan<long> shape)
    {
        var s = new long[shape.Length];
        long acc = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            s[i] = acc;
            acc *= shape[i];
        }
        return s;
    }

    /// <summary>The product of <paramref name="shape"/>[from..to).</summary>
    public static long Product(ReadOnlySpan<long> shape, int from, int to)
    {
        long p = 1;
        for (int i = from; i < to; i++) p *= shape[i];
        return p;
    }

    /// <summary>
    /// dst (row-major, of <paramref name="shape"/>) [j...] = src[offset + sum_i j_i * strides[i]]:
    /// transpose, broadcast (stride 0) and slice are all this.
    /// </summary>
    public static void Gather<T>(T[] src, long offset, long[] strides, long[] shape, T[] dst)
    {
        long n = dst.LongLength;
        if (n == 0) return;
        int r = shape.Length;
        if (r == 0)
        {
            dst[0] = src[offset];
            return;
        }
        long inner = shape[r - 1], innerStride = strides[r - 1];
        var idx = new long[r];
        long pos = offset;
        for (long o = 0; o < n; o += inner)
        {
            if (innerStride == 1) Array.Copy(src, pos, dst, o, inner);
            else if (innerStride == 0) Array.Fill(dst, src[pos], (int)o, (int)inner);
            else
                for (long j = 0; j < inner; j++) dst[o + j] = src[pos + j * innerStride];
            for (int d = r - 2; d >= 0; d--)
            {
                pos += strides[d];
                if (++idx[d] < shape[d]) break;
                pos -= strides[d] * shape[d];
                idx[d] = 0;
            }
        }
    }

    /// <summary>A tensor of <paramref name="type"/> (same storage kind as <paramref name="x"/>) gathered from x.</summary>
    public static HostTensor Gather(HostTensor x, TensorType type, long offset, long[] strides)
    {
        var r = new HostTensor(type);
        var shape = type.Shape.ToArray();
        if (x.F64 is not null) Gather(x.F64, offset, strides, shape, r.F64!);
        else if (x.F32 is not null) Gather(x.F32, offset, strides, shape, r.F32!);
        else Gather(x.Ints!, offset, strides, shape, r.Ints!);
        return r;
    }

    /// <summary>The row-major multi-index of flat position <paramref name="flat"/> as text: <c>[0, 3]</c>.</summary>
    public static string IndexText(long flat, ReadOnlySpan<long> shape)
    {
        var idx = new long[shape.Length];
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            if (shape[i] == 0) break;
            idx[i] = flat % shape[i];
            flat /= shape[i];
        }
        return "[" + string.Join(", ", idx) + "]";
    }

    /// <summary>A number for messages: 3, 2.5, NaN, inf.</summary>
    public static string Num(double v) =>
        double.IsNaN(v) ? "NaN" : double.IsPositiveInfinity(v) ? "inf" : double.IsNegativeInfinity(v) ? "-inf"
        : v.ToString("R", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// The position of sequence row 0 of tensor.rope and rope_grad: the <c>offset</c> attribute plus the
    /// value of the optional offset operand (#1); a negative position is an error of the program.
    /// </summary>
    public static long RopeOffset(KernelContext k)
    {
        long attr = AutoSpIR.Dialects.Tensor.Rope.OffsetOf(k.Op);
        if (k.Inputs.Length < 2) return attr;
        long value = k.Input(1).Ints![0];
        if (value < -attr)
            throw k.Error($"has position offset {attr} (attribute) + {value} (operand #1 ('offset')), which is negative");
        if (value > long.MaxValue - attr)
            throw k.Error($"has position offset {attr} (attribute) + {value} (operand #1 ('offset')), which overflows");
        return attr + value;
    }

    /// <summary>An integer attribute of the op, or <paramref name="fallback"/>.</summary>
    public static long Int(Operation op, string name, long fallback) => op.GetInt(name) ?? fallback;

    /// <summary>An array-of-integers attribute of the op (verified IR has it).</summary>
    public static long[] Ints(Operation op, string name) =>
        (op.GetAttr(name) as ArrayAttr)?.AsInts() ?? throw new InvalidOperationException($"'{op.Name}' has no integer array '{name}'");
}
