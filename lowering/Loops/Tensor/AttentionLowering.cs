using AutoSpIR.Dialects.Tensor;

namespace AutoSpIR.Lowering.Loops.Tensor;

/// <summary>
/// Loop lowerings of attention and attention_grad: flash-style loop nests with no S x T buffer (the
/// loop dialect has no scratch memory; output rows serve as accumulators). Math in the element type.
/// <para>
/// <c>tensor.attention</c>: a <c>loop.parallel</c> over the query rows (b, i, h); each walks its attended
/// keys (0..i+T-S under <c>causal</c>) once with the online softmax, a running max m and sum l in
/// registers and the output row o[b, i, h, :] itself as the accumulator (rescaled when the max grows,
/// divided by l at the end). One exp per key: e = exp(-|s - m|) is the new key's weight when s &lt;= m and
/// the old accumulator's rescale factor when s &gt; m.
/// </para>
/// <para>
/// <c>tensor.attention_grad</c>, three parallel nests: (A) per query row (b, i, h) one pass over its keys
/// gives the row's log-sum-exp lse and delta = sum_j p_j dp_j (online, like the forward), kept in
/// dq[b, i, h, 0] and dq[b, i, h, 1] (dq is written last); (B) per key row (b, j, g) dk and dv are
/// accumulated in their own rows over the query rows that attend to j and the query heads of g's group,
/// p = exp(s - lse) and ds = p (dp - delta) recomputed from the stored row statistics; (C) per query row
/// the statistics are read, then dq = scale sum_j ds_j k_j overwrites the row. With head dimension D = 1
/// (no room for two statistics) one nest per (b, g) runs the reference's row-by-row algorithm.
/// </para>
/// </summary>
internal static class AttentionLowering
{
    public static readonly (string Op, OpLowering Lower)[] Rules =
    {
        ("tensor.attention", Forward),
        ("tensor.attention_grad", Backward),
    };

    /// <summary>The shapes and attributes of an attention op (q, k, v are operands 0-2).</summary>
    private sealed record Shape(long B, long S, long Hq, long D, long T, long Hkv, long Dv, bool Causal, double Scale, ScalarType Elem)
    {
        public long Group => Hq / Hkv;

        public static Shape Of(Operation op)
        {
            var q = (TensorType)op.Operand(0).Type;
            var k = (TensorType)op.Operand(1).Type;
            var v = (TensorType)op.Operand(2).Type;
            if (!q.IsStatic || !k.IsStatic || !v.IsStatic)
                throw new NotSupportedException($"{op.Name}: the loop lowering needs static shapes, not {q}, {k}, {v}");
            if (!q.Element.IsFloat)
                throw new NotSupportedException($"{op.Name}: the loop lowering supports f32 and f64, not {q.Element}");
            return new Shape(q.Dim(0), q.Dim(1), q.Dim(2), q.Dim(3), k.Dim(1), k.Dim(2), v.Dim(3), op.HasAttr("causal"),
                Attention.ScaleOf(op), q.Element);
        }
    }

    // ------------------------------------------------------------------ forward

    private static void Forward(LoopBuilder b, Operation op, Value[] ins, Value[] outs)
    {
        var sh = Shape.Of(op);
        var (q, k, v, o) = (b.Flat(ins[0]), b.Flat(ins[1]), b.Flat(ins[2]), b.Flat(outs[0]));
        var et = sh.Elem;
        b.Parallel(new[] { sh.B, sh.S, sh.Hq }, ix =>
        {
            var (bi, i, h) = (ix[0], ix[1], ix[2]);
            var row = b.Flatten(ix, new[] { sh.B, sh.S, sh.Hq });
            var qo = b.Mul(row, b.I(sh.D));
            var oo = b.Mul(row, b.I(sh.Dv));
            var kv0 = KvRow0(b, sh, bi, h);
            var count = sh.Causal ? b.Add(i, b.I(sh.T - sh.S + 1)) : b.I(sh.T);
            var scale = b.C(sh.Scale, et);
            var one = b.C(1, et);

            // Key 0: m = s0, l = 1, o = v[0].
            var s0 = b.Mul(scale, Dot(b, q, qo, k, b.Mul(kv0, b.I(sh.D)), sh.D, et));
            var v0 = b.Mul(kv0, b.I(sh.Dv));
            b.For(sh.Dv, e => b.Store(b.Load(v, b.Add(v0, e)), o, b.Add(oo, e)));
            var ml = b.For(b.I(1), count, b.I(1), new[] { s0, one }, (j, c) =>
            {
                var (m, l) = (c[0], c[1]);
                var kvj = b.Add(kv0, b.Mul(j, b.I(sh.Hkv)));
                var s = b.Mul(scale, Dot(b, q, qo, k, b.Mul(kvj, b.I(sh.D)), sh.D, et));
                // e = exp(-|s - m|): s > m rescales the old terms by e and weighs the new key 1, else weighs it e.
                var grew = b.Cmp("ogt", s, m);
                var w = b.Exp(b.Neg(b.Abs(b.Sub(s, m))));
                var alpha = b.Select(grew, w, one);
                var p = b.Select(grew, one, w);
                var vo = b.Mul(kvj, b.I(sh.Dv));
                b.For(sh.Dv, e =>
                {
                    var at = b.Add(oo, e);
                    b.Store(b.Add(b.Mul(b.Load(o, at), alpha), b.Mul(p, b.Load(v, b.Add(vo, e)))), o, at);
                });
                return new[] { b.Max(m, s), b.Add(b.Mul(l, alpha), p) };
            });
            var inv = b.Div(one, ml[1]);
            b.For(sh.Dv, e =>
            {
                var at = b.Add(oo, e);
                b.Store(b.Mul(b.Load(o, at), inv), o, at);
            });
        });
    }

    // ------------------------------------------------------------------ backward

    private static void Backward(LoopBuilder b, Operation op, Value[] ins, Value[] outs)
    {
        var sh = Shape.Of(op);
        var (q, k, v, dO) = (b.Flat(ins[0]), b.Flat(ins[1]), b.Flat(ins[2]), b.Flat(ins[3]));
        var (dq, dk, dv) = (b.Flat(outs[0]), b.Flat(outs[1]), b.Flat(outs[2]));
        if (sh.D < 2)
        {
            BackwardByGroup(b, sh, q, k, v, dO, dq, dk, dv);
            return;
        }
        var et = sh.Elem;
        var qShape = new[] { sh.B, sh.S, sh.Hq };

        // (A) Row statistics of every query row into dq[row, 0] (lse) and dq[row, 1] (delta).
        b.Parallel(qShape, ix =>
        {
            var (bi, i, h) = (ix[0], ix[1], ix[2]);
            var row = b.Flatten(ix, qShape);
            var qo = b.Mul(row, b.I(sh.D));
            var oo = b.Mul(row, b.I(sh.Dv));
            var kv0 = KvRow0(b, sh, bi, h);
            var count = KeyCount(b, sh, i);
            var scale = b.C(sh.Scale, et);
            var one = b.C(1, et);
            var s0 = b.Mul(scale, Dot(b, q, qo, k, b.Mul(kv0, b.I(sh.D)), sh.D, et));
            var dp0 = Dot(b, dO, oo, v, b.Mul(kv0, b.I(sh.Dv)), sh.Dv, et);
            // m: running max, l: sum of exp(s - m), a: sum of exp(s - m) dp.
            var st = b.For(b.I(1), count, b.I(1), new[] { s0, one, dp0 }, (j, c) =>
            {
                var (m, l, a) = (c[0], c[1], c[2]);
                var kvj = b.Add(kv0, b.Mul(j, b.I(sh.Hkv)));
                var s = b.Mul(scale, Dot(b, q, qo, k, b.Mul(kvj, b.I(sh.D)), sh.D, et));
                var dp = Dot(b, dO, oo, v, b.Mul(kvj, b.I(sh.Dv)), sh.Dv, et);
                var grew = b.Cmp("ogt", s, m);
                var w = b.Exp(b.Neg(b.Abs(b.Sub(s, m))));
                var alpha = b.Select(grew, w, one);
                var p = b.Select(grew, one, w);
                return new[] { b.Max(m, s), b.Add(b.Mul(l, alpha), p), b.Add(b.Mul(a, alpha), b.Mul(p, dp)) };
            });
            b.Store(b.Add(st[0], b.Log(st[1])), dq, qo);
            b.Store(b.Div(st[2], st[1]), dq, b.Add(qo, b.I(1)));
        });

        // (B) dk and dv, one key row (b, j, g) per iteration, over the query rows attending to j.
        b.Parallel(new[] { sh.B, sh.T, sh.Hkv }, ix =>
        {
            var (bi, j, g) = (ix[0], ix[1], ix[2]);
            var krow = b.Flatten(ix, new[] { sh.B, sh.T, sh.Hkv });
            var ko = b.Mul(krow, b.I(sh.D));
            var vo = b.Mul(krow, b.I(sh.Dv));
            var zero = b.C(0, et);
            var scale = b.C(sh.Scale, et);
            b.For(sh.D, e => b.Store(zero, dk, b.Add(ko, e)));
            b.For(sh.Dv, e => b.Store(zero, dv, b.Add(vo, e)));
            // Query i attends key j iff j <= i + T - S (causal), so i runs from max(0, j - (T - S)).
            var first = sh.Causal ? b.Max(b.Sub(j, b.I(sh.T - sh.S)), b.I(0)) : b.I(0);
            var h0 = b.Mul(g, b.I(sh.Group));
            b.For(first, b.I(sh.S), b.I(1), Array.Empty<Value>(), (i, _) =>
            {
                var row0 = b.Add(b.Mul(b.Add(b.Mul(bi, b.I(sh.S)), i), b.I(sh.Hq)), h0);
                b.For(sh.Group, hh =>
                {
                    var row = b.Add(row0, hh);
                    var qo = b.Mul(row, b.I(sh.D));
                    var oo = b.Mul(row, b.I(sh.Dv));
                    var lse = b.Load(dq, qo);
                    var delta = b.Load(dq, b.Add(qo, b.I(1)));
                    var s = b.Mul(scale, Dot(b, q, qo, k, ko, sh.D, et));
                    var p = b.Exp(b.Sub(s, lse));
                    var dp = Dot(b, dO, oo, v, vo, sh.Dv, et);
                    var ds = b.Mul(b.Mul(scale, p), b.Sub(dp, delta));
                    Axpy(b, p, dO, oo, dv, vo, sh.Dv);
                    Axpy(b, ds, q, qo, dk, ko, sh.D);
                });
                return Array.Empty<Value>();
            });
        });

        // (C) dq, one query row per iteration: its statistics are read first, then the row is overwritten.
        b.Parallel(qShape, ix =>
        {
            var (bi, i, h) = (ix[0], ix[1], ix[2]);
            var row = b.Flatten(ix, qShape);
            var qo = b.Mul(row, b.I(sh.D));
            var oo = b.Mul(row, b.I(sh.Dv));
            var kv0 = KvRow0(b, sh, bi, h);
            var count = KeyCount(b, sh, i);
            var scale = b.C(sh.Scale, et);
            var lse = b.Load(dq, qo);
            var delta = b.Load(dq, b.Add(qo, b.I(1)));
            var zero = b.C(0, et);
            b.For(sh.D, e => b.Store(zero, dq, b.Add(qo, e)));
            b.For(b.I(0), count, b.I(1), Array.Empty<Value>(), (j, _) =>
            {
                var kvj = b.Add(kv0, b.Mul(j, b.I(sh.Hkv)));
                var ko = b.Mul(kvj, b.I(sh.D));
                var s = b.Mul(scale, Dot(b, q, qo, k, ko, sh.D, et));
                var p = b.Exp(b.Sub(s, lse));
                var dp = Dot(b, dO, oo, v, b.Mul(kvj, b.I(sh.Dv)), sh.Dv, et);
                var ds = b.Mul(b.Mul(scale, p), b.Sub(dp, delta));
                Axpy(b, ds, k, ko, dq, qo, sh.D);
                return Array.Empty<Value>();
            });
        });
    }

    /// <summary>
    /// attention_grad when dq rows cannot hold the two row statistics (D = 1): one parallel iteration per
    /// (b, g) owns dk and dv of its key/value head and runs every query row of its group in order, as the
    /// reference does (statistics pass, then dq, dk and dv per key).
    /// </summary>
    private static void BackwardByGroup(LoopBuilder b, Shape sh, Value q, Value k, Value v, Value dO, Value dq, Value dk, Value dv)
    {
        var et = sh.Elem;
        b.Parallel(new[] { sh.B, sh.Hkv }, ix =>
        {
            var (bi, g) = (ix[0], ix[1]);
            var zero = b.C(0, et);
            var one = b.C(1, et);
            var scale = b.C(sh.Scale, et);
            var kv0 = b.Add(b.Mul(bi, b.I(sh.T * sh.Hkv)), g);
            b.For(sh.T, j =>
            {
                var kvj = b.Add(kv0, b.Mul(j, b.I(sh.Hkv)));
                b.For(sh.D, e => b.Store(zero, dk, b.Add(b.Mul(kvj, b.I(sh.D)), e)));
                b.For(sh.Dv, e => b.Store(zero, dv, b.Add(b.Mul(kvj, b.I(sh.Dv)), e)));
            });
            b.For(sh.S, i =>
            {
                var count = KeyCount(b, sh, i);
                b.For(sh.Group, hh =>
                {
                    var h = b.Add(b.Mul(g, b.I(sh.Group)), hh);
                    var row = b.Flatten(new[] { bi, i, h }, new[] { sh.B, sh.S, sh.Hq });
                    var qo = b.Mul(row, b.I(sh.D));
                    var oo = b.Mul(row, b.I(sh.Dv));
                    var s0 = b.Mul(scale, Dot(b, q, qo, k, b.Mul(kv0, b.I(sh.D)), sh.D, et));
                    var dp0 = Dot(b, dO, oo, v, b.Mul(kv0, b.I(sh.Dv)), sh.Dv, et);
                    var st = b.For(b.I(1), count, b.I(1), new[] { s0, one, dp0 }, (j, c) =>
                    {
                        var (m, l, a) = (c[0], c[1], c[2]);
                        var kvj = b.Add(kv0, b.Mul(j, b.I(sh.Hkv)));
                        var s = b.Mul(scale, Dot(b, q, qo, k, b.Mul(kvj, b.I(sh.D)), sh.D, et));
                        var dp = Dot(b, dO, oo, v, b.Mul(kvj, b.I(sh.Dv)), sh.Dv, et);
                        var grew = b.Cmp("ogt", s, m);
                        var w = b.Exp(b.Neg(b.Abs(b.Sub(s, m))));
                        var alpha = b.Select(grew, w, one);
                        var p = b.Select(grew, one, w);
                        return new[] { b.Max(m, s), b.Add(b.Mul(l, alpha), p), b.Add(b.Mul(a, alpha), b.Mul(p, dp)) };
                    });
                    var lse = b.Add(st[0], b.Log(st[1]));
                    var delta = b.Div(st[2], st[1]);
                    b.For(sh.D, e => b.Store(zero, dq, b.Add(qo, e)));
                    b.For(b.I(0), count, b.I(1), Array.Empty<Value>(), (j, _) =>
                    {
                        var kvj = b.Add(kv0, b.Mul(j, b.I(sh.Hkv)));
                        var ko = b.Mul(kvj, b.I(sh.D));
                        var vo = b.Mul(kvj, b.I(sh.Dv));
                        var s = b.Mul(scale, Dot(b, q, qo, k, ko, sh.D, et));
                        var p = b.Exp(b.Sub(s, lse));
                        var dp = Dot(b, dO, oo, v, vo, sh.Dv, et);
                        var ds = b.Mul(b.Mul(scale, p), b.Sub(dp, delta));
                        Axpy(b, ds, k, ko, dq, qo, sh.D);
                        Axpy(b, ds, q, qo, dk, ko, sh.D);
                        Axpy(b, p, dO, oo, dv, vo, sh.Dv);
                        return Array.Empty<Value>();
                    });
                });
            });
        });
    }

    // ------------------------------------------------------------------ helpers

    /// <summary>The flat row (b, 0, g) of k and v, g = h / group: key row j is this + j * Hkv.</summary>
    private static Value KvRow0(LoopBuilder b, Shape sh, Value bi, Value h)
    {
        var g = sh.Group == 1 ? h : b.Div(h, b.I(sh.Group));
        return b.Add(b.Mul(bi, b.I(sh.T * sh.Hkv)), g);
    }

    /// <summary>The number of keys query i attends: T, or i + T - S + 1 under causal.</summary>
    private static Value KeyCount(LoopBuilder b, Shape sh, Value i) =>
        sh.Causal ? b.Add(i, b.I(sh.T - sh.S + 1)) : b.I(sh.T);

    /// <summary>sum_e x[xo + e] y[yo + e] over e &lt; n, in <paramref name="t"/>.</summary>
    private static Value Dot(LoopBuilder b, Value x, Value xo, Value y, Value yo, long n, ScalarType t) =>
        b.Sum(n, t, e => b.Mul(b.Load(x, b.Add(xo, e)), b.Load(y, b.Add(yo, e))));

    /// <summary>y[yo + e] += a x[xo + e] for e &lt; n.</summary>
    private static void Axpy(LoopBuilder b, Value a, Value x, Value xo, Value y, Value yo, long n) =>
        b.For(n, e =>
        {
            var at = b.Add(yo, e);
            b.Store(b.Add(b.Load(y, at), b.Mul(a, b.Load(x, b.Add(xo, e)))), y, at);
        });
}
