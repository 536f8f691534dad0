using AutoSpIR.Dialects.Tensor;

namespace AutoSpIR.Lowering.Loops.Tensor;

/// <summary>
/// Loop lowerings of the data-movement ops reshape transpose broadcast slice concat pad shift, any element
/// type (floats, integers, i1). Every op is one or a few <c>loop.parallel</c> nests over the elements they
/// write, each element written once, the innermost loop over the result's last (contiguous) dimension.
/// None of these ops is planned in place, so no result buffer overlaps an operand's.
/// </summary>
internal static class ShapeLowering
{
    public static readonly (string Op, OpLowering Lower)[] Rules =
    {
        ("tensor.reshape", Reshape),
        ("tensor.transpose", Transpose),
        ("tensor.broadcast", Broadcast),
        ("tensor.slice", Slice),
        ("tensor.concat", Concat),
        ("tensor.pad", Pad),
        ("tensor.shift", Shift),
    };

    /// <summary>Row-major reinterpretation: the result (its own planned buffer) is a flat copy of the operand.</summary>
    private static void Reshape(LoopBuilder b, Operation op, Value[] ins, Value[] outs)
    {
        var (x, y) = (b.Flat(ins[0]), b.Flat(outs[0]));
        long n = ((TensorType)y.Type).NumElements;
        if (n > 0) b.Parallel(new[] { n }, i => b.Store(b.Load(x, i[0]), y, i[0]));
    }

    /// <summary>
    /// y[j] = x[k] with k[perm[i]] = j_i, parallel over the result index (its last dimension innermost, written
    /// contiguously). Size-1 dimensions are dropped and runs of dimensions that stay adjacent and in order are
    /// merged first, so [B, S, H, D] with perm [0, 2, 1, 3] is a rank-4 nest but [B, S, H*D] -&gt; [B, H*D, S] is rank 3.
    /// When the result's last dimension is not the operand's (a real transpose of the innermost data), the nest walks
    /// tiles of a cache line by a cache line (16 x 16 f32) over the two result dimensions that are contiguous in the
    /// result and in the operand.
    /// </summary>
    private static void Transpose(LoopBuilder b, Operation op, Value[] ins, Value[] outs)
    {
        var xt = (TensorType)ins[0].Type;
        var perm = Ints(op, "perm");
        var xShape = xt.Shape.ToArray();
        if (xt.NumElements == 0) return;
        // Operand dimensions in result order, without size-1 ones, then merged into groups.
        var order = perm.Select(p => (int)p).Where(p => xShape[p] != 1).ToList();
        var groups = new List<List<int>>();   // each: consecutive operand dims, in result order
        foreach (var d in order)
            if (groups.Count > 0 && groups[^1][^1] == d - 1) groups[^1].Add(d);
            else groups.Add(new List<int> { d });
        if (groups.Count == 0) { Copy1(b, ins[0], outs[0]); return; }
        // The operand as the groups in operand order; the result as the groups in result order.
        var byOperand = groups.OrderBy(g => g[0]).ToList();
        var xs = byOperand.Select(g => g.Aggregate(1L, (a, d) => a * xShape[d])).ToArray();
        var ys = groups.Select(g => g.Aggregate(1L, (a, d) => a * xShape[d])).ToArray();
        var x = b.Reinterpret(ins[0], xs);
        var y = b.Reinterpret(outs[0], ys);
        var where = groups.Select(g => byOperand.IndexOf(g)).ToArray();   // result group i is operand group where[i]
        int last = ys.Length - 1, p = Array.IndexOf(where, xs.Length - 1);   // the result dimension read contiguously
        long tile = 64 / Math.Max(1, ElementBytes(xt.Element));
        if (p != last && ys[p] >= tile && ys[last] >= tile)
        {
            // Tiles of tile x tile over result dimensions p and last: the operand's lines (along p) and the result's
            // (along last) both stay in cache while a tile is copied; ragged edge tiles end at min(start + tile, size).
            var upper = (long[])ys.Clone();
            upper[p] = (ys[p] + tile - 1) / tile;
            upper[last] = (ys[last] + tile - 1) / tile;
            b.Parallel(upper, t =>
            {
                var (ps, cs) = (b.Mul(t[p], b.I(tile)), b.Mul(t[last], b.I(tile)));
                var (pe, ce) = (b.Min(b.Add(ps, b.I(tile)), b.I(ys[p])), b.Min(b.Add(cs, b.I(tile)), b.I(ys[last])));
                For(b, ps, pe, b.I(1), Array.Empty<Value>(), (pi, _) =>
                {
                    For(b, cs, ce, b.I(1), Array.Empty<Value>(), (ci, _) =>
                    {
                        var j = (Value[])t.Clone();
                        (j[p], j[last]) = (pi, ci);
                        var k = new Value[xs.Length];
                        for (int i = 0; i < ys.Length; i++) k[where[i]] = j[i];
                        b.Store(b.Load(x, k), y, j);
                        return Array.Empty<Value>();
                    });
                    return Array.Empty<Value>();
                });
            });
            return;
        }
        b.Parallel(ys, j =>
        {
            var k = new Value[xs.Length];
            for (int i = 0; i < ys.Length; i++) k[where[i]] = j[i];
            b.Store(b.Load(x, k), y, j);
        });
    }

    private static int ElementBytes(ScalarType t) => t.Kind switch
    {
        ScalarKind.F64 or ScalarKind.I64 => 8,
        ScalarKind.F32 or ScalarKind.I32 => 4,
        _ => 1,
    };

    /// <summary>y[j] = x[k] with k_i = (x.dim(i) == 1 ? 0 : j_{dims[i]}), parallel over the result index.</summary>
    private static void Broadcast(LoopBuilder b, Operation op, Value[] ins, Value[] outs)
    {
        var xt = (TensorType)ins[0].Type;
        var yt = (TensorType)outs[0].Type;
        var dims = Ints(op, "dims").Select(d => Dims.Normalize(d, yt.Rank)).ToArray();
        Each(b, yt.Shape.ToArray(), j =>
        {
            var zero = b.I(0);
            var k = new Value[xt.Rank];
            for (int i = 0; i < xt.Rank; i++) k[i] = xt.Dim(i) == 1 ? zero : j[dims[i]];
            b.Store(b.Load(ins[0], k), outs[0], j);
        });
    }

    /// <summary>y[j] = x[offsets + j], parallel over the result index.</summary>
    private static void Slice(LoopBuilder b, Operation op, Value[] ins, Value[] outs)
    {
        var offsets = Ints(op, "offsets");
        Each(b, ((TensorType)outs[0].Type).Shape.ToArray(), j =>
        {
            var k = new Value[j.Length];
            for (int i = 0; i < j.Length; i++) k[i] = offsets[i] == 0 ? j[i] : b.Add(j[i], b.I(offsets[i]));
            b.Store(b.Load(ins[0], k), outs[0], j);
        });
    }

    /// <summary>
    /// One parallel nest per operand, writing its slab: as [outer, size_k * inner] rows, operand k's row r goes to
    /// columns o_k * inner .. of the result's row r (o_k the sizes of the operands before k along dim).
    /// </summary>
    private static void Concat(LoopBuilder b, Operation op, Value[] ins, Value[] outs)
    {
        var yt = (TensorType)outs[0].Type;
        int dim = Dims.Normalize(op.GetInt("dim")!.Value, yt.Rank);
        var shape = yt.Shape.ToArray();
        long outer = Prod(shape, 0, dim), inner = Prod(shape, dim + 1, shape.Length), row = shape[dim] * inner;
        var y = b.Reinterpret(outs[0], outer, row);
        long offset = 0;
        foreach (var input in ins)
        {
            long block = ((TensorType)input.Type).Dim(dim) * inner;
            if (outer > 0 && block > 0)
            {
                var x = b.Reinterpret(input, outer, block);
                long at = offset;
                b.Parallel(new[] { outer, block }, i => b.Store(b.Load(x, i[0], i[1]), y, i[0], at == 0 ? i[1] : b.Add(i[1], b.I(at))));
            }
            offset += block;
        }
    }

    /// <summary>
    /// y[j] = x[j - low] inside the box, 0 elsewhere: parallel over the result's rows (every dimension but the last);
    /// a row inside the box in all those dimensions is zeros, the operand's row, zeros (three sequential loops whose
    /// bounds depend on whether the row is inside), a row outside is all zeros.
    /// </summary>
    private static void Pad(LoopBuilder b, Operation op, Value[] ins, Value[] outs)
    {
        var xt = (TensorType)ins[0].Type;
        var yt = (TensorType)outs[0].Type;
        var low = Ints(op, "low");
        var elem = yt.Element;
        if (yt.Rank == 0) { Copy1(b, ins[0], outs[0]); return; }
        if (yt.NumElements == 0) return;
        int r = yt.Rank;
        long n = xt.Dim(r - 1), last = yt.Dim(r - 1), lo = low[r - 1];
        var rows = yt.Shape.ToArray()[..(r - 1)];
        var y = b.Reinterpret(outs[0], rows.Append(last).ToArray());
        var x = b.Reinterpret(ins[0], xt.Shape.ToArray());
        Each(b, rows.Length == 0 ? new long[] { 1 } : rows, j =>
        {
            if (rows.Length == 0) j = Array.Empty<Value>();
            var zero = b.C(0, elem);
            Value count = b.I(n);                        // the operand elements of this row: n inside, 0 outside
            var src = new Value[r];
            for (int d = 0; d < r - 1; d++)
            {
                src[d] = low[d] == 0 ? j[d] : b.Sub(j[d], b.I(low[d]));
                if (low[d] == 0 && xt.Dim(d) == yt.Dim(d)) continue;
                var inside = b.Cmp("slt", b.Sub(j[d], b.I(low[d])), b.I(xt.Dim(d)));
                var above = b.Cmp("sge", j[d], b.I(low[d]));
                count = b.Select(inside, b.Select(above, count, b.I(0)), b.I(0));
            }
            Value[] Idx(Value c) => j.Append(c).ToArray();
            var end = b.Add(b.I(lo), count);
            if (lo > 0) For(b, b.I(0), b.I(lo), b.I(1), Array.Empty<Value>(), (c, _) => { b.Store(zero, y, Idx(c)); return Array.Empty<Value>(); });
            For(b, b.I(lo), end, b.I(1), Array.Empty<Value>(), (c, _) =>
            {
                src[r - 1] = lo == 0 ? c : b.Sub(c, b.I(lo));
                b.Store(b.Load(x, src), y, Idx(c));
                return Array.Empty<Value>();
            });
            For(b, end, b.I(last), b.I(1), Array.Empty<Value>(), (c, _) => { b.Store(zero, y, Idx(c)); return Array.Empty<Value>(); });
        });
    }

    /// <summary>
    /// y[.., s, ..] = x[.., s + amount, ..] where 0 &lt;= s + amount &lt; n, else fill: as [outer, n, inner] ([outer, n] when
    /// dim is the last), a copy
    /// nest over the rows s in [lo, hi) that have a source and fill nests over the rows before and after
    /// (never a load out of bounds).
    /// </summary>
    private static void Shift(LoopBuilder b, Operation op, Value[] ins, Value[] outs)
    {
        var t = (TensorType)outs[0].Type;
        var shape = t.Shape.ToArray();
        int dim = Dialects.Tensor.Shift.DimOf(op, t.Rank);
        long amount = op.GetInt("amount")!.Value;
        long outer = Prod(shape, 0, dim), n = shape[dim], inner = Prod(shape, dim + 1, shape.Length);
        if (outer * n * inner == 0) return;
        var fillAttr = op.GetAttr("fill");
        Value fill = t.Element.IsFloat ? b.C(fillAttr is null ? 0 : op.GetFloat("fill")!.Value, t.Element)
            : IntConst(b, (fillAttr as IntegerAttr)?.Value ?? 0, t.Element);
        // [outer, n, inner], or [outer, n] when the shifted dimension is the last
        long[] Shape3(long rows) => inner == 1 ? new[] { outer, rows } : new[] { outer, rows, inner };
        Value[] At(Value[] i, Value row) => inner == 1 ? new[] { i[0], row } : new[] { i[0], row, i[2] };
        var x = b.Reinterpret(ins[0], Shape3(n));
        var y = b.Reinterpret(outs[0], Shape3(n));
        long lo = amount >= 0 ? 0 : Math.Min(n, amount == long.MinValue ? n : -amount);
        long hi = amount <= 0 ? n : Math.Max(0, n - Math.Min(n, amount));
        void FillRows(long from, long to)
        {
            if (to > from)
                b.Parallel(Shape3(to - from), i => b.Store(fill, y, At(i, from == 0 ? i[1] : b.Add(i[1], b.I(from)))));
        }
        FillRows(0, lo);
        if (hi > lo)
        {
            long src = lo + amount;   // in [0, n): the first source row
            b.Parallel(Shape3(hi - lo), i =>
                b.Store(b.Load(x, At(i, src == 0 ? i[1] : b.Add(i[1], b.I(src)))), y, At(i, lo == 0 ? i[1] : b.Add(i[1], b.I(lo)))));
        }
        FillRows(Math.Max(hi, lo), n);
    }

    // ------------------------------------------------------------------ helpers

    /// <summary>A <c>loop.parallel</c> over <paramref name="shape"/>; nothing when it has no elements; the body once, with no indices, for rank 0.</summary>
    private static void Each(LoopBuilder b, long[] shape, Action<Value[]> body)
    {
        if (shape.Length == 0) body(Array.Empty<Value>());
        else if (shape.All(d => d > 0)) b.Parallel(shape, body);
    }

    /// <summary>Copies the single element of <paramref name="x"/> (any shape of one element) to <paramref name="y"/>.</summary>
    private static void Copy1(LoopBuilder b, Value x, Value y)
    {
        var zero = b.I(0);
        b.Store(b.Load(b.Flat(x), zero), b.Flat(y), zero);
    }

    /// <summary><see cref="LoopBuilder.For(Value, Value, Value, Value[], Func{Value, Value[], Value[]})"/> (possibly carrying nothing).</summary>
    internal static Value[] For(LoopBuilder b, Value lower, Value upper, Value step, Value[] inits, Func<Value, Value[], Value[]> body) =>
        b.For(lower, upper, step, inits, body);

    /// <summary>An exact integer constant of integer type <paramref name="t"/> (i64 values beyond 2^53 included).</summary>
    internal static Value IntConst(LoopBuilder b, long v, ScalarType t) =>
        b.B.Create(b.Ctx.LookupOp("arith.constant")!, Array.Empty<Value>(), b.B.Attrs(("value", b.Ctx.Integer(v, t)))).Result(0);

    internal static long[] Ints(Operation op, string name) => ((ArrayAttr)op.GetAttr(name)!).AsInts()!;

    private static long Prod(long[] shape, int from, int to)
    {
        long p = 1;
        for (int i = from; i < to; i++) p *= shape[i];
        return p;
    }
}
