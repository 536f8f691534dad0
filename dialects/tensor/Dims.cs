namespace AutoSpIR.Dialects.Tensor;

/// <summary>
/// Shape helpers shared by the tensor dialect's shape rules (and by whatever later
/// interprets or differentiates the ops, so that every consumer normalizes the same way).
/// <para>
/// Dimension attributes (<c>dim</c>, <c>dims</c>) may be negative and then count from
/// the end: -1 is the last dimension, -rank the first. <see cref="Normalize"/> is the
/// one place that rule lives. Dynamic sizes (<see cref="TensorType.Dynamic"/>) propagate
/// through arithmetic and are compared as written (two dynamic sizes are equal).
/// </para>
/// </summary>
public static class Dims
{
    /// <summary>Dimension <paramref name="d"/> of a rank-<paramref name="rank"/> tensor counted from 0, or -1 when out of range.</summary>
    public static int Normalize(long d, int rank) => d < -rank || d >= rank ? -1 : (int)(d < 0 ? d + rank : d);

    /// <summary>The number of elements of <paramref name="t"/>, 0 when a size is dynamic (for cost models).</summary>
    public static long Numel(TensorType t) => Math.Max(0, t.NumElements);

    /// <summary>A + b, dynamic when either is.</summary>
    public static long Add(long a, long b) => a == TensorType.Dynamic || b == TensorType.Dynamic ? TensorType.Dynamic : a + b;

    /// <summary>A size as text: <c>?</c> when dynamic.</summary>
    public static string Text(long d) => d == TensorType.Dynamic ? "?" : d.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A shape as text, <c>2x?x64</c>, or <c>scalar</c> for rank 0.</summary>
    public static string Text(ReadOnlySpan<long> shape)
    {
        if (shape.Length == 0) return "scalar";
        var parts = new string[shape.Length];
        for (int i = 0; i < parts.Length; i++) parts[i] = Text(shape[i]);
        return string.Join("x", parts);
    }

    /// <summary>An integer list as text: <c>[0, 2, 1]</c>.</summary>
    public static string List(IEnumerable<long> values) => "[" + string.Join(", ", values) + "]";

    /// <summary>The operand reference of diagnostics: <c>operand #1 ('weight')</c>.</summary>
    public static string Operand(OpState s, int i) => $"operand #{i} ('{s.OperandName(i)}')";

    // ------------------------------------------------------------------ attributes

    /// <summary>A required integer attribute, or a failure naming it.</summary>
    public static bool RequireInt(OpState s, string name, out long value)
    {
        if (s.Int(name) is { } v)
        {
            value = v;
            return true;
        }
        value = 0;
        return s.Error(s.Attr(name) is null ? $"requires attribute '{name}'" : $"attribute '{name}' must be an integer, but got {s.Attr(name)}");
    }

    /// <summary>A required array-of-integers attribute, or null after a failure naming it.</summary>
    public static long[]? RequireInts(OpState s, string name)
    {
        if (s.Ints(name) is { } v) return v;
        s.Fail(s.Attr(name) is null ? $"requires attribute '{name}'" : $"attribute '{name}' must be an array of integers, but got {s.Attr(name)}");
        return null;
    }

    /// <summary>A required number attribute, or a failure naming it.</summary>
    public static bool RequireFloat(OpState s, string name, out double value)
    {
        if (s.Float(name) is { } v)
        {
            value = v;
            return true;
        }
        value = 0;
        return s.Error(s.Attr(name) is null ? $"requires attribute '{name}'" : $"attribute '{name}' must be a number, but got {s.Attr(name)}");
    }

    /// <summary>An optional integer attribute with its default; fails when present with another kind.</summary>
    public static bool OptionalInt(OpState s, string name, long fallback, out long value)
    {
        value = fallback;
        var a = s.Attr(name);
        if (a is null) return true;
        if (a is IntegerAttr i)
        {
            value = i.Value;
            return true;
        }
        return s.Error($"attribute '{name}' must be an integer, but got {a}");
    }

    /// <summary>
    /// Normalizes the dimension attribute <paramref name="attr"/> = <paramref name="d"/> of a
    /// rank-<paramref name="rank"/> tensor (<paramref name="of"/> names it), or fails:
    /// <c>'dim' is 3, out of range for operand #0 ('input') of rank 3 (expected -3 &lt;= dim &lt; 3)</c>.
    /// </summary>
    public static bool NormalizeAttr(OpState s, string attr, long d, int rank, string of, out int dim)
    {
        dim = Normalize(d, rank);
        if (dim >= 0) return true;
        return s.Error(rank == 0
            ? $"'{attr}' is {d}, but {of} has rank 0 and no dimensions"
            : $"'{attr}' is {d}, out of range for {of} of rank {rank} (expected {-rank} <= dim < {rank})");
    }

    /// <summary>
    /// Normalizes every entry of the dimension list <paramref name="attr"/>; fails on an entry
    /// out of range, a repeated dimension, or (when <paramref name="increasing"/>) entries
    /// that are not strictly increasing after normalization.
    /// </summary>
    public static int[]? NormalizeList(OpState s, string attr, long[] ds, int rank, string of, bool increasing = false)
    {
        var r = new int[ds.Length];
        var seen = new bool[rank];
        for (int i = 0; i < ds.Length; i++)
        {
            r[i] = Normalize(ds[i], rank);
            if (r[i] < 0)
            {
                s.Fail(rank == 0
                    ? $"'{attr}' entry #{i} is {ds[i]}, but {of} has rank 0 and no dimensions"
                    : $"'{attr}' entry #{i} is {ds[i]}, out of range for {of} of rank {rank} (expected {-rank} <= dim < {rank})");
                return null;
            }
            if (seen[r[i]])
            {
                s.Fail($"'{attr}' names dimension {r[i]} twice");
                return null;
            }
            seen[r[i]] = true;
            if (increasing && i > 0 && r[i] <= r[i - 1])
            {
                s.Fail($"'{attr}' must be strictly increasing, but entry #{i} (dimension {r[i]}) follows dimension {r[i - 1]}");
                return null;
            }
        }
        return r;
    }

    // ------------------------------------------------------------------ operands

    /// <summary>Operand #i as a tensor with a floating-point element type, or a failure naming it.</summary>
    public static bool RequireFloatTensor(OpState s, int i, out TensorType t)
    {
        if (!s.RequireTensor(i, out t)) return false;
        if (t.Element.IsFloat) return true;
        return s.Error($"{Operand(s, i)} must have a floating-point element type, but has {t.Element}");
    }

    /// <summary>Operand #i as a tensor of i32 or i64, or a failure naming it.</summary>
    public static bool RequireIndexTensor(OpState s, int i, out TensorType t)
    {
        if (!s.RequireTensor(i, out t)) return false;
        if (t.Element.Kind is ScalarKind.I32 or ScalarKind.I64) return true;
        return s.Error($"{Operand(s, i)} must have element type i32 or i64, but has {t.Element}");
    }

    /// <summary>Fails unless <paramref name="t"/> (operand #i) has exactly rank <paramref name="rank"/>.</summary>
    public static bool RequireRank(OpState s, int i, TensorType t, int rank)
    {
        if (t.Rank == rank) return true;
        return s.Error($"{Operand(s, i)} must have rank {rank}, but has rank {t.Rank} ({t})");
    }

    /// <summary>Fails unless <paramref name="t"/> (operand #i) has rank <paramref name="rank"/> or more.</summary>
    public static bool RequireMinRank(OpState s, int i, TensorType t, int rank)
    {
        if (t.Rank >= rank) return true;
        return s.Error($"{Operand(s, i)} must have rank {rank} or more, but has rank {t.Rank} ({t})");
    }

    /// <summary>Fails unless operand #i has the element type of operand #0.</summary>
    public static bool RequireSameElement(OpState s, int i, TensorType t, TensorType first)
    {
        if (t.Element == first.Element) return true;
        return s.Error($"{Operand(s, i)} has element type {t.Element}, expected {first.Element} (the element type of {Operand(s, 0)})");
    }

    /// <summary>
    /// Checks an optional number attribute <c>fill</c> against the element type of
    /// <paramref name="x"/> (<paramref name="of"/> names it): an integer within the range of an
    /// integer element type, any number for a float one.
    /// </summary>
    public static bool CheckFill(OpState s, TensorType x, string of)
    {
        switch (s.Attr("fill"))
        {
            case null:
                return true;
            case IntegerAttr i when x.Element.IsInteger:
                var (min, max) = x.Element.Kind switch
                {
                    ScalarKind.I1 => (0L, 1L),
                    ScalarKind.I8 => (sbyte.MinValue, sbyte.MaxValue),
                    ScalarKind.I32 => (int.MinValue, int.MaxValue),
                    _ => (long.MinValue, long.MaxValue),
                };
                return i.Value >= min && i.Value <= max
                    || s.Error($"'fill' is {i.Value}, out of range for the element type {x.Element} of {of} (expected {min} <= fill <= {max})");
            case FloatAttr f when x.Element.IsInteger:
                return s.Error($"'fill' is {Attribute.FormatFloat(f.Value)}, but {of} has the integer element type {x.Element}: fill must be an integer");
            case IntegerAttr or FloatAttr:
                return true;
            case var other:
                return s.Error($"attribute 'fill' must be a number, but got {other}");
        }
    }
}
