using AutoSpIR.IR;

namespace AutoSpIR.Dialects.Tensor;

/// <summary>Helpers for folding over <see cref="DenseElementsAttr"/> constants.</summary>
public static class Constants
{
    /// <summary>True when <paramref name="a"/> is a constant whose every element equals <paramref name="value"/>.</summary>
    public static bool IsSplat(Attribute? a, double value)
    {
        if (a is not DenseElementsAttr d) return false;
        if (d.IsSplat) return d.GetDouble(0) == value;
        for (int i = 0; i < d.Count; i++)
            if (d.GetDouble(i) != value) return false;
        return true;
    }

    /// <summary>Applies <paramref name="f"/> to every element, giving a constant of the op's result type.</summary>
    public static DenseElementsAttr Map(Operation op, DenseElementsAttr d, Func<double, double> f)
    {
        var type = (TensorType)op.Result(0).Type;
        var values = new double[d.Count];
        for (int i = 0; i < values.Length; i++) values[i] = f(d.GetDouble(i));
        return op.Context.DenseFloats(type, values);
    }

    /// <summary>Folds a binary elementwise op whose operands are both constants.</summary>
    public static FoldResult? FoldBinary(Operation op, Attribute?[] c, Func<double, double, double> f)
    {
        if (c[0] is not DenseElementsAttr a || c[1] is not DenseElementsAttr b) return null;
        var type = (TensorType)op.Result(0).Type;
        int n = a.IsSplat && b.IsSplat ? 1 : (int)type.NumElements;
        var values = new double[n];
        for (int i = 0; i < n; i++) values[i] = f(a.GetDouble(i), b.GetDouble(i));
        return FoldResult.Of(op.Context.DenseFloats(type, values));
    }

    /// <summary>
    /// The elements of <paramref name="d"/> (row-major, or its splat) under another type with
    /// the same element type and number of elements, or any shape when <paramref name="d"/> is a splat.
    /// </summary>
    public static DenseElementsAttr Reshape(Context ctx, DenseElementsAttr d, TensorType type)
    {
        if (!d.IsSplat && d.Count != type.NumElements)
            throw new ArgumentException($"cannot reshape {d.Count} elements to {type}");
        if (d.Ints.Length > 0) return ctx.DenseInts(type, d.Ints.ToArray());
        if (d.Floats.Length > 0) return ctx.DenseFloats(type, d.Floats.ToArray());
        return type.Element.IsFloat ? ctx.DenseFloats(type, Array.Empty<double>()) : ctx.DenseInts(type, Array.Empty<long>());
    }
}
