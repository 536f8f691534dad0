using AutoSpIR.Dialects.Tensor;
using static AutoSpIR.Runtime.Kernels.KernelUtil;

namespace AutoSpIR.Runtime.Kernels;

/// <summary>
/// tensor.reshape, transpose, broadcast, slice, concat, shift, cast and constant: any element type
/// (floats, integers, i1). Data movement only, except cast. Every result is a fresh buffer
/// (a reshape copies), so no result aliases an input.
/// </summary>
public sealed class ShapeKernels : IKernelSet
{
    public void Register(KernelTable table)
    {
        table.Add("tensor.reshape", Reshape);
        table.Add("tensor.transpose", Transpose);
        table.Add("tensor.broadcast", Broadcast);
        table.Add("tensor.slice", Slice);
        table.Add("tensor.concat", Concat);
        table.Add("tensor.shift", Shift);
        table.Add("tensor.cast", Cast);
        table.Add("tensor.constant", Constant);
    }

    // Row-major reinterpretation: the same elements in the same order.
    private static HostTensor[] Reshape(KernelContext k)
    {
        var x = k.Input(0);
        var type = k.ResultType(0);
        var r = new HostTensor(type,
            f64: (double[]?)x.F64?.Clone(), f32: (float[]?)x.F32?.Clone(), ints: (long[]?)x.Ints?.Clone());
        return new[] { r };
    }

    // y[j] = x[k] with k[perm[i]] = j_i: result dimension i walks operand dimension perm[i].
    private static HostTensor[] Transpose(KernelContext k)
    {
        var x = k.Input(0);
        var perm = Ints(k.Op, "perm");
        var xs = Strides(x.Type.Shape);
        var strides = new long[perm.Length];
        for (int i = 0; i < perm.Length; i++) strides[i] = xs[perm[i]];
        return new[] { Gather(x, k.ResultType(0), 0, strides) };
    }

    // y[j] = x[k] with k_i = (x.dim(i) == 1 ? 0 : j_{dims[i]}): stride 0 where a dimension is repeated.
    private static HostTensor[] Broadcast(KernelContext k)
    {
        var x = k.Input(0);
        var type = k.ResultType(0);
        var dims = Ints(k.Op, "dims");
        var xs = Strides(x.Type.Shape);
        var strides = new long[type.Rank];
        for (int i = 0; i < dims.Length; i++)
        {
            int d = Dims.Normalize(dims[i], type.Rank);
            strides[d] = x.Type.Dim(i) == 1 ? 0 : xs[i];
        }
        return new[] { Gather(x, type, 0, strides) };
    }

    // y[j] = x[offsets + j].
    private static HostTensor[] Slice(KernelContext k)
    {
        var x = k.Input(0);
        var offsets = Ints(k.Op, "offsets");
        var xs = Strides(x.Type.Shape);
        long start = 0;
        for (int i = 0; i < offsets.Length; i++) start += offsets[i] * xs[i];
        return new[] { Gather(x, k.ResultType(0), start, xs) };
    }

    // The operands' slabs along dim, in operand order.
    private static HostTensor[] Concat(KernelContext k)
    {
        var type = k.ResultType(0);
        int dim = Dims.Normalize(k.Op.GetInt("dim") ?? 0, type.Rank);
        var r = new HostTensor(type);
        long outer = Product(type.Shape, 0, dim), inner = Product(type.Shape, dim + 1, type.Rank);
        long outRow = type.Dim(dim) * inner, offset = 0;
        foreach (var x in k.Inputs)
        {
            long block = x.Type.Dim(dim) * inner;
            for (long o = 0; o < outer; o++)
            {
                if (r.F64 is not null) Array.Copy(x.F64!, o * block, r.F64, o * outRow + offset, block);
                else if (r.F32 is not null) Array.Copy(x.F32!, o * block, r.F32, o * outRow + offset, block);
                else Array.Copy(x.Ints!, o * block, r.Ints!, o * outRow + offset, block);
            }
            offset += block;
        }
        return new[] { r };
    }

    // y[.., s, ..] = x[.., s + amount, ..] where 0 <= s + amount < n, else fill (rounded once to a float type).
    private static HostTensor[] Shift(KernelContext k)
    {
        var x = k.Input(0);
        var type = k.ResultType(0);
        int dim = AutoSpIR.Dialects.Tensor.Shift.DimOf(k.Op, type.Rank);
        long amount = Int(k.Op, "amount", 0);
        long outer = Product(type.Shape, 0, dim), n = type.Dim(dim), inner = Product(type.Shape, dim + 1, type.Rank);
        var r = new HostTensor(type);
        var fill = k.Op.GetAttr("fill");
        if (r.Ints is not null) Array.Fill(r.Ints, (fill as IntegerAttr)?.Value ?? 0);
        else if (fill is not null)
        {
            double v = k.Op.GetFloat("fill")!.Value;
            if (r.F64 is not null) Array.Fill(r.F64, v);
            else Array.Fill(r.F32!, Numerics.RoundToFloat(v, type.Element.Kind));
        }
        // Rows s in [lo, hi) read x[s + amount]: one contiguous block per outer index.
        long lo = amount >= 0 ? 0 : Math.Min(n, -amount), hi = amount <= 0 ? n : Math.Max(0, n - Math.Min(n, amount));
        if (hi <= lo) return new[] { r };
        long block = (hi - lo) * inner;
        for (long o = 0; o < outer; o++)
        {
            long dst = (o * n + lo) * inner, src = (o * n + lo + amount) * inner;
            if (r.F64 is not null) Array.Copy(x.F64!, src, r.F64, dst, block);
            else if (r.F32 is not null) Array.Copy(x.F32!, src, r.F32, dst, block);
            else Array.Copy(x.Ints!, src, r.Ints!, dst, block);
        }
        return new[] { r };
    }

    // Float to float rounds once; integer to float rounds once; float to integer truncates (NaN, inf and
    // out-of-range values are errors); integer to integer wraps; to i1 is x != 0; i1 reads as 0 or 1.
    private static HostTensor[] Cast(KernelContext k)
    {
        var x = k.Input(0);
        var type = k.ResultType(0);
        var to = type.Element;
        var from = x.Type.Element;
        var r = new HostTensor(type);
        long n = x.Count;
        if (to.IsFloat)
        {
            if (from.IsFloat)
            {
                var v = Read(x);
                if (r.F64 is not null) Array.Copy(v, r.F64, n);
                else Narrow(v, r.F32!, to.Kind);
            }
            else
            {
                var ints = x.Ints!;
                for (long i = 0; i < n; i++)
                {
                    double d = Numerics.RoundInteger(ints[i], to);
                    if (r.F64 is not null) r.F64[i] = d;
                    else r.F32![i] = (float)d;   // exact: d is already a value of the type
                }
            }
            return new[] { r };
        }
        var dst = r.Ints!;
        if (from.IsFloat)
        {
            var (min, max) = Numerics.IntRange(to);
            for (long i = 0; i < n; i++)
            {
                double v = x.Get(i);
                if (to.Kind == ScalarKind.I1)
                {
                    dst[i] = v != 0 || double.IsNaN(v) ? 1 : 0;
                    continue;
                }
                if (!double.IsFinite(v))
                    throw k.Error($"cannot convert element {IndexText(i, x.Type.Shape)} = {Num(v)} of {from} to {to}: NaN and infinities have no integer value");
                double t = Math.Truncate(v);
                // [-2^63, 2^63) for i64 (2^63 itself is not a long); the exact bounds for narrower types.
                bool inRange = to.Kind is ScalarKind.I64 or ScalarKind.Index
                    ? t >= -9.2233720368547758e18 && t < 9.2233720368547758e18
                    : t >= min && t <= max;
                if (!inRange)
                    throw k.Error($"cannot convert element {IndexText(i, x.Type.Shape)} = {Num(v)} of {from} to {to}: out of its range [{min}, {max}]");
                dst[i] = (long)t;
            }
            return new[] { r };
        }
        var src = x.Ints!;
        for (long i = 0; i < n; i++)
            dst[i] = to.Kind == ScalarKind.I1 ? (src[i] != 0 ? 1 : 0) : Numerics.Wrap(src[i], to);
        return new[] { r };
    }

    private static HostTensor[] Constant(KernelContext k)
    {
        var type = k.ResultType(0);
        if (k.Op.GetAttr("value") is not DenseElementsAttr d)
            throw k.Error("has no dense 'value' attribute");
        var r = new HostTensor(type);
        long n = r.Count;
        if (r.Ints is not null)
        {
            var ints = d.Ints;
            for (long i = 0; i < n; i++)
                r.Ints[i] = ints.Length == 0 ? (long)d.GetDouble(d.IsSplat ? 0 : i) : ints[d.IsSplat ? 0 : (int)i];
        }
        else
            for (long i = 0; i < n; i++) r.Set(i, d.GetDouble(i));   // values of the element type already: exact
        return new[] { r };
    }
}
