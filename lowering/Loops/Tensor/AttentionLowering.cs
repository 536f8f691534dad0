using AutoSpIR.Dialects.Tensor;

namespace AutoSpIR.Lowering.Loops.Tensor;

/// <summary>
/// Loop lowerings of attention and attention_grad. Problems with S * T &gt;= 64 (and, for attention_grad, at least
/// two (batch, key/value head) pairs) take the tiled FlashAttention-2 path of <c>AttentionLowering.Tiled.cs</c>
/// (BLAS tile GEMMs, scratch tiles and row statistics); the others take the per-row nests below: flash-style
/// loop nests with no S x T buffer (output rows serve as accumulators, a few scores live in registers).
/// Math in the element type. Every nest is one flat <c>loop.parallel</c> (the code generator splits the
/// first dimension over threads) over rows ordered (batch, head, position); under <c>causal</c> the
/// positions are visited zig-zag (0, L-1, 1, L-2, ...) so that contiguous slices of the range carry
/// equal work although a row's work grows (queries) or shrinks (keys) with its position.
/// <para>
/// <c>tensor.attention</c>: one iteration per query row (b, i, h) walks its attended keys (0..i+T-S under
/// <c>causal</c>) in blocks of <see cref="Block"/>: the block's scores come from one loop over the head
/// dimension (q[e] loaded once, one accumulator per key), then the online softmax (running max m and sum l
/// in registers) rescales the output row o[b, i, h, :] (zeroed first, it is the accumulator) once per block
/// and adds the block's p v in one loop; o is divided by l at the end. A last partial block repeats the
/// last key with its weight masked to 0.
/// </para>
/// <para>
/// <c>tensor.attention_grad</c>, three parallel nests: (A) per query row one blocked pass over its keys
/// gives the row's log-sum-exp lse and delta = sum_j p_j dp_j (online, like the forward), kept in
/// dq[b, i, h, 0] and dq[b, i, h, 1] (dq is written last); (B) per key row (b, j, g) dk and dv are
/// accumulated in their own rows over the (query row, head of g's group) pairs attending to j, in blocks,
/// with p = exp(s - lse) and ds = p (dp - delta) from the stored row statistics; (C) per query row the
/// statistics are read, then dq = scale sum_j ds_j k_j overwrites the row. With head dimension D = 1 (no
/// room for two statistics) one nest per (b, g) runs the reference's row-by-row algorithm instead.
/// </para>
/// </summary>
internal static partial class AttentionLowering
{
    public static readonly (string Op, OpLowering Lower)[] Rules =
    {
        ("tensor.attention", Forward),
        ("tensor.attention_grad", Backward),
    };

    /// <summary>Keys (forward, dq, statistics) or query rows (dk, dv) handled together per step.</summary>
    private const int Block = 8;

    /// <summary>The shapes and attributes of an attention op (q, k, v are operands 0-2).</summary>
    private sealed record Shape(long B, long S, long Hq, long D, long T, long Hkv, long Dv, bool Causal, double Scale, ScalarType Elem)
    {
        public long Group => Hq / Hkv;

        /// <summary>A finite stand-in for -inf: exp(Lowest - x) is 0 for every score x.</summary>
        public double Lowest => Elem.Kind == ScalarKind.F32 ? -3.0e38 : -1.0e300;

        public static Shape Of(Operation op)
        {
            var q = (TensorType)op.Operand(0).Type;
            var k = (TensorType)op.Operand(1).Type;
            var v = (TensorType)op.Operand(2).Type;
            if (!q.IsStatic || !k.IsStatic || !v.IsStatic)
                throw new NotSupportedException($"{op.Name}: the loop lowering needs static shapes, not {q}, {k}, {v}");
            if (q.Element.Kind is not (ScalarKind.F32 or ScalarKind.F64))
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
        if (UseTiledForward(sh))
        {
            ForwardTiled(b, sh, q, k, v, o);
            return;
        }
        var et = sh.Elem;
        b.Parallel(new[] { sh.B * sh.Hq * sh.S }, ix =>
        {
            var (i, qo, oo, kv0, count, scale, zero) = QueryRow(b, sh, ix[0]);
            Fill(b, o, oo, sh.Dv, zero);
            var ml = b.For(b.I(0), count, b.I(Block), new[] { b.C(sh.Lowest, et), zero }, (jb, c) =>
            {
                var (m, l) = (c[0], c[1]);
                var (kvj, valid) = KeyBlock(b, sh, kv0, jb, count);
                var s = Dots(b, q, qo, k, kvj.Select(r => b.Mul(r, b.I(sh.D))).ToArray(), sh.D, et);
                for (int c2 = 0; c2 < Block; c2++) s[c2] = Mask(b, valid[c2], b.Mul(scale, s[c2]), b.C(sh.Lowest, et));
                var mb = s.Aggregate(m, b.Max);
                var alpha = b.Exp(b.Sub(m, mb));
                var p = s.Select(x => b.Exp(b.Sub(x, mb))).ToArray();
                Update(b, o, oo, sh.Dv, alpha, p, v, kvj.Select(r => b.Mul(r, b.I(sh.Dv))).ToArray());
                return new[] { mb, p.Aggregate(b.Mul(l, alpha), b.Add) };
            });
            var inv = b.Div(b.C(1, et), ml[1]);
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
        if (UseTiledBackward(sh))
        {
            BackwardTiled(b, sh, q, k, v, dO, dq, dk, dv);
            return;
        }
        if (sh.D < 2)
        {
            BackwardByGroup(b, sh, q, k, v, dO, dq, dk, dv);
            return;
        }
        var et = sh.Elem;

        // (A) Row statistics of every query row into dq[row, 0] (lse) and dq[row, 1] (delta).
        b.Parallel(new[] { sh.B * sh.Hq * sh.S }, ix =>
        {
            var (i, qo, oo, kv0, count, scale, zero) = QueryRow(b, sh, ix[0]);
            // m: running max, l: sum of exp(s - m), a: sum of exp(s - m) dp.
            var st = b.For(b.I(0), count, b.I(Block), new[] { b.C(sh.Lowest, et), zero, zero }, (jb, c) =>
            {
                var (m, l, a) = (c[0], c[1], c[2]);
                var (kvj, valid) = KeyBlock(b, sh, kv0, jb, count);
                var s = Dots(b, q, qo, k, kvj.Select(r => b.Mul(r, b.I(sh.D))).ToArray(), sh.D, et);
                var dp = Dots(b, dO, oo, v, kvj.Select(r => b.Mul(r, b.I(sh.Dv))).ToArray(), sh.Dv, et);
                for (int c2 = 0; c2 < Block; c2++) s[c2] = Mask(b, valid[c2], b.Mul(scale, s[c2]), b.C(sh.Lowest, et));
                var mb = s.Aggregate(m, b.Max);
                var alpha = b.Exp(b.Sub(m, mb));
                var p = s.Select(x => b.Exp(b.Sub(x, mb))).ToArray();
                var l2 = p.Aggregate(b.Mul(l, alpha), b.Add);
                var a2 = p.Zip(dp).Aggregate(b.Mul(a, alpha), (acc, t) => b.Add(acc, b.Mul(t.First, t.Second)));
                return new[] { mb, l2, a2 };
            });
            b.Store(b.Add(st[0], b.Log(st[1])), dq, qo);
            b.Store(b.Div(st[2], st[1]), dq, b.Add(qo, b.I(1)));
        });

        // (B) dk and dv, one key row (b, g, j) per iteration, over the (query row, group head) pairs attending to j.
        b.Parallel(new[] { sh.B * sh.Hkv * sh.T }, ix =>
        {
            var (bi, g, j) = Position(b, ix[0], sh.Hkv, sh.T, sh.Causal);
            var krow = b.Add(b.Mul(b.Add(b.Mul(bi, b.I(sh.T)), j), b.I(sh.Hkv)), g);
            var ko = b.Mul(krow, b.I(sh.D));
            var vo = b.Mul(krow, b.I(sh.Dv));
            var zero = b.C(0, et);
            var scale = b.C(sh.Scale, et);
            Fill(b, dk, ko, sh.D, zero);
            Fill(b, dv, vo, sh.Dv, zero);
            // Query i attends key j iff j <= i + T - S (causal): pairs idx = i * G + hh from max(0, j - (T - S)) * G.
            long group = sh.Group, pairs = sh.S * group;
            var first = sh.Causal ? b.Mul(b.Max(b.Sub(j, b.I(sh.T - sh.S)), b.I(0)), b.I(group)) : b.I(0);
            var row0 = b.Add(b.Mul(bi, b.I(sh.S * sh.Hq)), b.Mul(g, b.I(group)));   // the row of (i = 0, hh = 0)
            var end = b.I(pairs);
            bool exact = !sh.Causal && pairs % Block == 0;   // every block full: no masks
            b.For(first, end, b.I(Block), Array.Empty<Value>(), (ib, _) =>
            {
                var qo = new Value[Block];
                var oo = new Value[Block];
                var valid = new Value?[Block];
                for (int r = 0; r < Block; r++)
                {
                    var idx = b.Add(ib, b.I(r));
                    if (r > 0 && !exact)
                    {
                        valid[r] = b.Cmp("slt", idx, end);
                        idx = b.Min(idx, b.I(pairs - 1));
                    }
                    var row = group == 1 ? b.Add(row0, b.Mul(idx, b.I(sh.Hq)))
                        : b.Add(row0, b.Add(b.Mul(b.Div(idx, b.I(group)), b.I(sh.Hq)), b.Rem(idx, b.I(group))));
                    qo[r] = b.Mul(row, b.I(sh.D));
                    oo[r] = b.Mul(row, b.I(sh.Dv));
                }
                var s = Dots(b, k, ko, q, qo, sh.D, et);
                var dp = Dots(b, v, vo, dO, oo, sh.Dv, et);
                var p = new Value[Block];
                var ds = new Value[Block];
                for (int r = 0; r < Block; r++)
                {
                    var lse = b.Load(dq, qo[r]);
                    var delta = b.Load(dq, b.Add(qo[r], b.I(1)));
                    p[r] = Mask(b, valid[r], b.Exp(b.Sub(b.Mul(scale, s[r]), lse)), zero);
                    ds[r] = b.Mul(b.Mul(scale, p[r]), b.Sub(dp[r], delta));
                }
                Update(b, dv, vo, sh.Dv, null, p, dO, oo);
                Update(b, dk, ko, sh.D, null, ds, q, qo);
                return Array.Empty<Value>();
            });
        });

        // (C) dq, one query row per iteration: its statistics are read first, then the row is overwritten.
        b.Parallel(new[] { sh.B * sh.Hq * sh.S }, ix =>
        {
            var (i, qo, oo, kv0, count, scale, zero) = QueryRow(b, sh, ix[0]);
            var lse = b.Load(dq, qo);
            var delta = b.Load(dq, b.Add(qo, b.I(1)));
            Fill(b, dq, qo, sh.D, zero);
            b.For(b.I(0), count, b.I(Block), Array.Empty<Value>(), (jb, _) =>
            {
                var (kvj, valid) = KeyBlock(b, sh, kv0, jb, count);
                var ko = kvj.Select(r => b.Mul(r, b.I(sh.D))).ToArray();
                var s = Dots(b, q, qo, k, ko, sh.D, et);
                var dp = Dots(b, dO, oo, v, kvj.Select(r => b.Mul(r, b.I(sh.Dv))).ToArray(), sh.Dv, et);
                var ds = new Value[Block];
                for (int c = 0; c < Block; c++)
                {
                    var p = Mask(b, valid[c], b.Exp(b.Sub(b.Mul(scale, s[c]), lse)), zero);
                    ds[c] = b.Mul(b.Mul(scale, p), b.Sub(dp[c], delta));
                }
                Update(b, dq, qo, sh.D, null, ds, k, ko);
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
        b.Parallel(new[] { sh.B * sh.Hkv }, ix =>
        {
            var (bi, g) = (b.Div(ix[0], b.I(sh.Hkv)), b.Rem(ix[0], b.I(sh.Hkv)));
            var zero = b.C(0, et);
            var one = b.C(1, et);
            var scale = b.C(sh.Scale, et);
            var kv0 = b.Add(b.Mul(bi, b.I(sh.T * sh.Hkv)), g);
            b.For(sh.T, j =>
            {
                var kvj = b.Add(kv0, b.Mul(j, b.I(sh.Hkv)));
                Fill(b, dk, b.Mul(kvj, b.I(sh.D)), sh.D, zero);
                Fill(b, dv, b.Mul(kvj, b.I(sh.Dv)), sh.Dv, zero);
            });
            b.For(sh.S, i =>
            {
                var count = KeyCount(b, sh, i);
                b.For(sh.Group, hh =>
                {
                    var h = b.Add(b.Mul(g, b.I(sh.Group)), hh);
                    var row = b.Add(b.Mul(b.Add(b.Mul(bi, b.I(sh.S)), i), b.I(sh.Hq)), h);
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
                        var mb = b.Max(m, s);
                        var alpha = b.Exp(b.Sub(m, mb));
                        var p = b.Exp(b.Sub(s, mb));
                        return new[] { mb, b.Add(b.Mul(l, alpha), p), b.Add(b.Mul(a, alpha), b.Mul(p, dp)) };
                    });
                    var lse = b.Add(st[0], b.Log(st[1]));
                    var delta = b.Div(st[2], st[1]);
                    Fill(b, dq, qo, sh.D, zero);
                    b.For(b.I(0), count, b.I(1), Array.Empty<Value>(), (j, _) =>
                    {
                        var kvj = b.Add(kv0, b.Mul(j, b.I(sh.Hkv)));
                        var ko = b.Mul(kvj, b.I(sh.D));
                        var vo = b.Mul(kvj, b.I(sh.Dv));
                        var s = b.Mul(scale, Dot(b, q, qo, k, ko, sh.D, et));
                        var p = b.Exp(b.Sub(s, lse));
                        var dp = Dot(b, dO, oo, v, vo, sh.Dv, et);
                        var ds = b.Mul(b.Mul(scale, p), b.Sub(dp, delta));
                        Update(b, dq, qo, sh.D, null, new[] { ds }, k, new[] { ko });
                        Update(b, dk, ko, sh.D, null, new[] { ds }, q, new[] { qo });
                        Update(b, dv, vo, sh.Dv, null, new[] { p }, dO, new[] { oo });
                        return Array.Empty<Value>();
                    });
                });
            });
        });
    }

    // ------------------------------------------------------------------ helpers

    /// <summary>
    /// The (batch, head, position) of flat index <paramref name="flat"/> of [B, heads, len], positions
    /// zig-zag under <paramref name="zigzag"/> (0, len-1, 1, len-2, ...: a bijection of [0, len)).
    /// </summary>
    /// <summary>
    /// What a per-query-row iteration of the row-by-row path starts from: its position i, the element offsets of
    /// its q (and dq) row and of its output row, the first KV row it reads, how many keys it attends, the scale
    /// and zero in the element type.
    /// </summary>
    private static (Value I, Value Qo, Value Oo, Value Kv0, Value Count, Value Scale, Value Zero) QueryRow(LoopBuilder b, Shape sh, Value flat)
    {
        var (bi, h, i) = Position(b, flat, sh.Hq, sh.S, sh.Causal);
        var row = b.Add(b.Mul(b.Add(b.Mul(bi, b.I(sh.S)), i), b.I(sh.Hq)), h);
        return (i, b.Mul(row, b.I(sh.D)), b.Mul(row, b.I(sh.Dv)), KvRow0(b, sh, bi, h), KeyCount(b, sh, i),
            b.C(sh.Scale, sh.Elem), b.C(0, sh.Elem));
    }

    private static (Value Batch, Value Head, Value Pos) Position(LoopBuilder b, Value flat, long heads, long len, bool zigzag)
    {
        var pos = b.Rem(flat, b.I(len));
        var bh = b.Div(flat, b.I(len));
        var (bi, h) = (b.Div(bh, b.I(heads)), b.Rem(bh, b.I(heads)));
        if (zigzag)
        {
            var half = b.Div(pos, b.I(2));
            pos = b.Select(b.Cmp("eq", b.Rem(pos, b.I(2)), b.I(0)), half, b.Sub(b.I(len - 1), half));
        }
        return (bi, h, pos);
    }

    /// <summary>The flat row (b, 0, g) of k and v, g = h / group: key row j is this + j * Hkv.</summary>
    private static Value KvRow0(LoopBuilder b, Shape sh, Value bi, Value h)
    {
        var g = sh.Group == 1 ? h : b.Div(h, b.I(sh.Group));
        return b.Add(b.Mul(bi, b.I(sh.T * sh.Hkv)), g);
    }

    /// <summary>The number of keys query i attends: T, or i + T - S + 1 under causal.</summary>
    private static Value KeyCount(LoopBuilder b, Shape sh, Value i) =>
        sh.Causal ? b.Add(i, b.I(sh.T - sh.S + 1)) : b.I(sh.T);

    /// <summary>
    /// The k/v rows of keys jb .. jb+Block-1 (clamped to count - 1) and whether each is below count (null:
    /// always, the first key of a block and every key when count is statically a multiple of the block).
    /// </summary>
    private static (Value[] Rows, Value?[] Valid) KeyBlock(LoopBuilder b, Shape sh, Value kv0, Value jb, Value count)
    {
        bool exact = !sh.Causal && sh.T % Block == 0;
        var rows = new Value[Block];
        var valid = new Value?[Block];
        var last = exact ? null : b.Sub(count, b.I(1));
        for (int c = 0; c < Block; c++)
        {
            var j = b.Add(jb, b.I(c));
            if (c > 0 && !exact)
            {
                valid[c] = b.Cmp("slt", j, count);
                j = b.Min(j, last!);
            }
            rows[c] = b.Add(kv0, b.Mul(j, b.I(sh.Hkv)));
        }
        return (rows, valid);
    }

    private static Value Mask(LoopBuilder b, Value? valid, Value x, Value otherwise) => valid is null ? x : b.Select(valid, x, otherwise);

    /// <summary>sum_e x[xo + e] y[yo + e] over e &lt; n, in <paramref name="t"/>.</summary>
    private static Value Dot(LoopBuilder b, Value x, Value xo, Value y, Value yo, long n, ScalarType t) =>
        b.Sum(n, t, e => b.Mul(b.Load(x, b.Add(xo, e)), b.Load(y, b.Add(yo, e))));

    /// <summary>sum_e x[xo + e] y[yos[c] + e] for every c, in one loop over e &lt; n (x loaded once).</summary>
    private static Value[] Dots(LoopBuilder b, Value x, Value xo, Value y, Value[] yos, long n, ScalarType t)
    {
        var zero = b.C(0, t);
        return b.For(b.I(0), b.I(n), b.I(1), yos.Select(_ => zero).ToArray(), (e, acc) =>
        {
            var xe = b.Load(x, b.Add(xo, e));
            return acc.Select((a, c) => b.Add(a, b.Mul(xe, b.Load(y, b.Add(yos[c], e))))).ToArray();
        });
    }

    /// <summary>y[yo + e] = y[yo + e] alpha (or y[yo + e] when alpha is null) + sum_c coef[c] x[xos[c] + e] for e &lt; n.</summary>
    private static void Update(LoopBuilder b, Value y, Value yo, long n, Value? alpha, Value[] coef, Value x, Value[] xos) =>
        b.For(n, e =>
        {
            var at = b.Add(yo, e);
            var acc = b.Load(y, at);
            if (alpha is not null) acc = b.Mul(acc, alpha);
            for (int c = 0; c < coef.Length; c++) acc = b.Add(acc, b.Mul(coef[c], b.Load(x, b.Add(xos[c], e))));
            b.Store(acc, y, at);
        });

    /// <summary>y[yo + e] = value for e &lt; n.</summary>
    private static void Fill(LoopBuilder b, Value y, Value yo, long n, Value value) =>
        b.For(n, e => b.Store(value, y, b.Add(yo, e)));
}
