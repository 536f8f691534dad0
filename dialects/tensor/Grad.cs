using AutoSpIR.IR;

namespace AutoSpIR.Dialects.Tensor;

/// <summary>
/// Small builders the ops' gradient rules (<see cref="OpDef.Gradient"/>) share: each creates one
/// tensor op at the rule's insertion point and returns its result. Result types come from the
/// op's shape rule, or are given for the ops without one (reshape, cast). They throw
/// <see cref="InvalidOperationException"/> when a shape rule rejects what a rule built (a dynamic
/// size where a static one is needed); autodiff reports that at the forward op.
/// </summary>
public static class Grad
{
    public static Value Op(Builder b, OpDef def, params Value[] operands) => b.Create(def, operands).Result(0);

    public static Value Op(Builder b, OpDef def, Value[] operands, params (string Name, Attribute Value)[] attrs) =>
        b.Create(def, operands, b.Attrs(attrs)).Result(0);

    public static Value Add(Builder b, Value x, Value y) => Op(b, Elementwise.Add, x, y);
    public static Value Mul(Builder b, Value x, Value y) => Op(b, Elementwise.Mul, x, y);
    public static Value Div(Builder b, Value x, Value y) => Op(b, Elementwise.Div, x, y);
    public static Value Neg(Builder b, Value x) => Op(b, Elementwise.Neg, x);

    /// <summary>A <c>tensor.constant</c> splat of <paramref name="type"/> (static shapes only).</summary>
    public static Value Splat(Builder b, TensorType type, double value)
    {
        if (!type.IsStatic) throw new InvalidOperationException($"cannot build a constant of the dynamic type {type}");
        return Op(b, Constant.Def, Array.Empty<Value>(), ("value", b.Context.Splat(type, value)));
    }

    /// <summary>x * c with c a splat constant of x's type.</summary>
    public static Value Scale(Builder b, Value x, double c) => Mul(b, x, Splat(b, (TensorType)x.Type, c));

    /// <summary><c>tensor.reshape</c> to <paramref name="type"/>; the value itself when it already has it.</summary>
    public static Value Reshape(Builder b, Value x, TensorType type) =>
        ReferenceEquals(x.Type, type) ? x : b.Create(Tensor.Reshape.Def.Name, new[] { x }, new Type[] { type }).Result(0);

    public static Value Cast(Builder b, Value x, TensorType type) =>
        b.Create(Tensor.Cast.Def.Name, new[] { x }, new Type[] { type }).Result(0);

    public static Value Transpose(Builder b, Value x, long[] perm) =>
        Op(b, Tensor.Transpose.Def, new[] { x }, ("perm", b.Context.IntArray(perm)));

    /// <summary>Swaps the last two dimensions (a batched matrix transpose).</summary>
    public static Value TransposeLast2(Builder b, Value x)
    {
        int r = ((TensorType)x.Type).Rank;
        var perm = Enumerable.Range(0, r).Select(i => (long)i).ToArray();
        (perm[r - 2], perm[r - 1]) = (perm[r - 1], perm[r - 2]);
        return Transpose(b, x, perm);
    }

    public static Value ReduceSum(Builder b, Value x, IEnumerable<int> dims) =>
        Op(b, Reduce.Sum, new[] { x }, ("dims", b.Context.IntArray(dims.Select(d => (long)d))));

    public static Value Broadcast(Builder b, Value x, ReadOnlySpan<long> shape, IEnumerable<int> dims) =>
        Op(b, Tensor.Broadcast.Def, new[] { x },
            ("shape", b.Context.IntArray(shape.ToArray())), ("dims", b.Context.IntArray(dims.Select(d => (long)d))));

    /// <summary>Copies the named attributes of the forward op that are present, for a backward op.</summary>
    public static (string, Attribute)[] CopyAttrs(Operation op, params string[] names) =>
        names.Where(op.HasAttr).Select(n => (n, op.GetAttr(n)!)).ToArray();
}
