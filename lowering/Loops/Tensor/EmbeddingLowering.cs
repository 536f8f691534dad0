using AutoSpIR.Dialects.Tensor;

namespace AutoSpIR.Lowering.Loops.Tensor;

/// <summary>
/// Loop lowerings of embedding, embedding_grad, cross_entropy, cross_entropy_grad and adamw.
/// <para>
/// Ids and labels out of range: the interpreter reports an id outside [0, V) (and a counted label
/// outside [0, V)) as an error of the program; native code cannot, so it never reads or writes out of
/// bounds and does this instead: <c>embedding</c> writes a row of zeros for such an id,
/// <c>embedding_grad</c> skips its row (adds it nowhere), <c>cross_entropy</c> and
/// <c>cross_entropy_grad</c> treat such a target as ignored (not counted, gradient row 0). Valid
/// programs get the interpreter's results.
/// </para>
/// <list type="bullet">
/// <item>embedding: a parallel over the ids, each copying its table row (contiguous).</item>
/// <item>embedding_grad (a scatter-add: equal ids collide): the table zeroed, then a parallel over
/// disjoint tiles of the table (blocks of <see cref="GradBlock"/> columns x chunks of the vocabulary),
/// each a sequential loop over the tokens in order adding the block of a token's row when its id is in
/// the tile's chunk; so no two iterations write one element, and each element's sum is taken in
/// row-major token order, as the interpreter's (in the element type).</item>
/// <item>cross_entropy: a parallel over the rows (b, s &lt; S - shift), per counted row the max, then the
/// sum of exp(z - max) in f64, then the loss (f64) into a scratch buffer (0 for a row not counted);
/// then one sequential loop summing the losses in row-major order (as the interpreter) and counting
/// the counted rows, the mean divided once at the end.</item>
/// <item>cross_entropy_grad: the count N first (sequential over the labels, mean only), then a
/// parallel over the B * S rows: max, then the sum of exp storing each exp into the result row, then
/// one pass scaling the row in place (one exp per element); rows not counted are zero.</item>
/// <item>adamw: one parallel over the elements, the bias corrections folded into constants.</item>
/// </list>
/// </summary>
internal static class EmbeddingLowering
{
    /// <summary>Columns of H per parallel iteration of embedding_grad.</summary>
    public const long GradBlock = 64;

    /// <summary>About how many (vocabulary chunk, column block) tiles embedding_grad's parallel loop has.</summary>
    public const long GradTiles = 512;

    public static readonly (string Op, OpLowering Lower)[] Rules =
    {
        ("tensor.embedding", Embedding),
        ("tensor.embedding_grad", EmbeddingGrad),
        ("tensor.cross_entropy", CrossEntropy),
        ("tensor.cross_entropy_grad", CrossEntropyGrad),
        ("tensor.adamw", AdamW),
    };

    // ------------------------------------------------------------------ helpers

    private static TensorType T(Value v) => (TensorType)v.Type;

    /// <summary>a && b on i1 values (select(a, b, a)).</summary>
    private static Value And(LoopBuilder b, Value x, Value y) => b.Select(x, y, x);

    /// <summary>The id as i64, that id clamped into [0, n) (n &gt; 0), and whether it was in range.</summary>
    private static (Value Clamped, Value Valid) ClampId(LoopBuilder b, Value id, long n)
    {
        var c = b.Max(b.Min(id, b.I(n - 1)), b.I(0));
        return (c, b.Cmp("eq", c, id));
    }

    private static Value LoadId(LoopBuilder b, Value ids, params Value[] index) => b.Cast(b.Load(ids, index), b.I64);

    /// <summary>A zero fill of the whole buffer.</summary>
    private static void Zero(LoopBuilder b, Value buffer)
    {
        var flat = b.Flat(buffer);
        var zero = b.C(0, T(flat).Element);
        b.Parallel(new[] { T(flat).NumElements }, i => b.Store(zero, flat, i[0]));
    }

    // ------------------------------------------------------------------ embedding

    /// <summary>out[r, :] = table[ids[r], :] (a row of zeros for an id outside [0, V)).</summary>
    private static void Embedding(LoopBuilder b, Operation op, Value[] ins, Value[] outs)
    {
        var table = ins[0];
        long v = T(table).Shape[0], h = T(table).Shape[1];
        var ids = b.Flat(ins[1]);
        long n = T(ids).NumElements;
        if (n == 0 || h == 0) return;
        if (v == 0) { Zero(b, outs[0]); return; }
        var y = b.Reinterpret(outs[0], n, h);
        var zero = b.C(0, T(table).Element);
        b.Parallel(new[] { n }, r =>
        {
            var (id, valid) = ClampId(b, LoadId(b, ids, r[0]), v);
            b.For(h, j => b.Store(b.Select(valid, b.Load(table, id, j), zero), y, r[0], j));
        });
    }

    // ------------------------------------------------------------------ embedding_grad

    /// <summary>
    /// dtable = 0, then a parallel over tiles (vocabulary chunk q x column block k: disjoint parts of the
    /// table), each a sequential loop over the tokens in order adding the block of dout[r] into row ids[r]
    /// when that id lies in the tile's chunk. Every element's sum is taken in token order, no two
    /// iterations write one element, and a token with an id outside [0, V) lies in no chunk (adds nothing).
    /// There are about <see cref="GradTiles"/> tiles (column blocks first, so threads split columns
    /// evenly; vocabulary chunks added when H has few blocks), each scanning the ids; so that scanning
    /// stays below the adds, vocabulary chunks only when the tiles are at most H (H &gt;= 512: smaller
    /// tables take one chunk, the column blocks alone).
    /// </summary>
    private static void EmbeddingGrad(LoopBuilder b, Operation op, Value[] ins, Value[] outs)
    {
        var table = outs[0];
        long v = T(table).Shape[0], h = T(table).Shape[1];
        var ids = b.Flat(ins[1]);
        long n = T(ids).NumElements;
        if (v == 0 || h == 0) return;
        Zero(b, table);
        if (n == 0) return;
        var dout = b.Reinterpret(ins[0], n, h);
        long block = Math.Min(GradBlock, h), blocks = (h + block - 1) / block;
        // Every tile scans all n ids: vocabulary chunks only while tiles <= H (scans <= the n * H adds).
        long chunks = (GradTiles + blocks - 1) / blocks;
        chunks = chunks * blocks <= h ? Math.Clamp(chunks, 1, v) : 1;
        long rows = (v + chunks - 1) / chunks;
        chunks = (v + rows - 1) / rows;
        b.Parallel(new[] { blocks * chunks }, i =>
        {
            var (k, q) = chunks == 1 ? (i[0], b.I(0)) : (b.Div(i[0], b.I(chunks)), b.Rem(i[0], b.I(chunks)));
            var lo = b.Mul(k, b.I(block));
            var hi = blocks * block == h ? b.Add(lo, b.I(block)) : b.Min(b.Add(lo, b.I(block)), b.I(h));
            var vlo = b.Mul(q, b.I(rows));
            var vhi = chunks * rows == v ? b.Add(vlo, b.I(rows)) : b.Min(b.Add(vlo, b.I(rows)), b.I(v));
            b.For(n, r =>
            {
                var id = LoadId(b, ids, r);
                var mine = And(b, b.Cmp("sge", id, vlo), b.Cmp("slt", id, vhi));
                var end = b.Select(mine, hi, lo);   // not this tile's row (or out of range): no columns
                b.For(lo, end, b.I(1), Array.Empty<Value>(), (j, _) =>
                {
                    b.Store(b.Add(b.Load(table, id, j), b.Load(dout, r, j)), table, id, j);
                    return Array.Empty<Value>();
                });
            });
        });
    }

    // ------------------------------------------------------------------ cross_entropy

    /// <summary>
    /// The target of row (bi, s): t = labels[bi, s + shift] clamped into [0, V), and whether the row counts
    /// (s &lt; S - shift when <paramref name="inSeq"/> is given, t != ignore_index, t in range).
    /// </summary>
    private static (Value Target, Value Counted) Target(LoopBuilder b, Value labels, Value bi, Value s, long seq, long shift, long ignore, long v,
        Value? inSeq)
    {
        var at = inSeq is null ? b.Add(s, b.I(shift)) : b.Min(b.Add(s, b.I(shift)), b.I(seq - 1));
        var t = LoadId(b, labels, bi, at);
        var (tc, valid) = ClampId(b, t, v);
        var counted = And(b, b.Cmp("ne", t, b.I(ignore)), valid);
        if (inSeq is not null) counted = And(b, inSeq, counted);
        return (tc, counted);
    }

    /// <summary>Independent max chains of the row max (LLVM does not vectorize a maxnum reduction loop).</summary>
    private const int Lanes = 8;

    /// <summary>
    /// max over row[0, end) (-inf when empty; end is 0 or <paramref name="v"/>) in <see cref="Lanes"/> chains,
    /// and the f64 sum of exp(row[c] - max) (each exp also stored at row c of <paramref name="exps"/> when given).
    /// </summary>
    private static (Value Max, Value Sum) RowStats(LoopBuilder b, Value z, Value bi, Value s, Value end, long v, Value? exps = null)
    {
        var et = T(z).Element;
        var f64 = b.Ctx.F64;
        var ninf = b.C(double.NegativeInfinity, et);
        Value m;
        long main = v - v % Lanes;
        if (main >= 2 * Lanes)
        {
            var mainEnd = b.Min(end, b.I(main));
            var lanes = b.For(b.I(0), mainEnd, b.I(Lanes), Enumerable.Repeat(ninf, Lanes).ToArray(), (c, acc) =>
                Enumerable.Range(0, Lanes).Select(u => b.Max(acc[u], b.Load(z, bi, s, u == 0 ? c : b.Add(c, b.I(u))))).ToArray());
            for (int w = Lanes / 2; w >= 1; w /= 2)
                for (int u = 0; u < w; u++) lanes[u] = b.Max(lanes[u], lanes[u + w]);
            m = main == v ? lanes[0] : b.Fold(mainEnd, end, lanes[0], (c, acc) => b.Max(acc, b.Load(z, bi, s, c)));
        }
        else m = b.Fold(b.I(0), end, ninf, (c, acc) => b.Max(acc, b.Load(z, bi, s, c)));
        var sum = b.Fold(b.I(0), end, b.C(0, f64), (c, acc) =>
        {
            var e = b.Exp(b.Sub(b.Load(z, bi, s, c), m));
            if (exps is not null) b.Store(e, exps, bi, s, c);
            return b.Add(acc, b.Cast(e, f64));
        });
        return (m, sum);
    }

    /// <summary>
    /// Parallel over the rows (b, s &lt; S - shift): a counted row's loss m + log(sum exp(z - m)) - z[t] (in
    /// f64) into scratch; then sequentially the total of the losses and the count; "sum" stores the total,
    /// "mean" the total / count (NaN when none counts).
    /// </summary>
    private static void CrossEntropy(LoopBuilder b, Operation op, Value[] ins, Value[] outs)
    {
        var (z, labels, y) = (ins[0], ins[1], outs[0]);
        long batch = T(z).Shape[0], seq = T(z).Shape[1], v = T(z).Shape[2];
        long shift = Dialects.Tensor.CrossEntropy.ShiftOf(op), ignore = Dialects.Tensor.CrossEntropy.IgnoreIndexOf(op);
        bool sum = Dialects.Tensor.CrossEntropy.IsSum(op);
        var et = T(z).Element;
        var f64 = b.Ctx.F64;
        if (v == 0 || batch == 0 || seq - shift <= 0)
        {
            // No row can count (an id in [0, 0) does not exist): the empty sum, or its mean NaN.
            b.Store(b.C(sum ? 0 : double.NaN, et), y);
            return;
        }
        var zeroF = b.C(0, f64);
        var (one, zeroI) = (b.I(1), b.I(0));
        long len = seq - shift, rows = batch * len;
        (Value Bi, Value S) Row(Value r) => batch == 1 ? (zeroI, r) : (b.Div(r, b.I(len)), b.Rem(r, b.I(len)));
        // Every row's loss (0 when it does not count) into scratch, rows in parallel...
        var losses = b.Scratch(b.Ctx.Tensor(new[] { rows }, f64));
        b.Parallel(new[] { rows }, r =>
        {
            var (bi, s) = Row(r[0]);
            var (t, counted) = Target(b, labels, bi, s, seq, shift, ignore, v, inSeq: null);
            var (m, se) = RowStats(b, z, bi, s, b.Select(counted, b.I(v), zeroI), v);
            var loss = b.Sub(b.Add(b.Cast(m, f64), b.Log(se)), b.Cast(b.Load(z, bi, s, t), f64));
            b.Store(b.Select(counted, loss, zeroF), losses, r[0]);
        });
        // ...then summed in row-major order (as the interpreter; adding a 0 changes nothing) with the count.
        var final = b.For(b.I(0), b.I(rows), one, new[] { zeroF, zeroI }, (r, acc) =>
        {
            var (bi, s) = Row(r);
            var (_, counted) = Target(b, labels, bi, s, seq, shift, ignore, v, inSeq: null);
            return new[] { b.Add(acc[0], b.Load(losses, r)), b.Add(acc[1], b.Select(counted, one, zeroI)) };
        });
        var total = sum ? final[0] : b.Div(final[0], b.Cast(final[1], f64));
        b.Store(b.Cast(total, et), y);
    }

    // ------------------------------------------------------------------ cross_entropy_grad

    /// <summary>
    /// coef = dloss / N ("mean", N counted sequentially first) or dloss ("sum"); then per row (parallel):
    /// dz[c] = coef (exp(z[c] - m) / sum - (c == t)) on a counted row, 0 on the others.
    /// </summary>
    private static void CrossEntropyGrad(LoopBuilder b, Operation op, Value[] ins, Value[] outs)
    {
        var (z, labels, dloss, dz) = (ins[0], ins[1], ins[2], outs[0]);
        long batch = T(z).Shape[0], seq = T(z).Shape[1], v = T(z).Shape[2];
        long shift = Dialects.Tensor.CrossEntropy.ShiftOf(op), ignore = Dialects.Tensor.CrossEntropy.IgnoreIndexOf(op);
        bool sum = Dialects.Tensor.CrossEntropy.IsSum(op);
        var et = T(z).Element;
        var f64 = b.Ctx.F64;
        if (batch == 0 || seq == 0 || v == 0) return;
        if (seq - shift <= 0) { Zero(b, dz); return; }
        var (one, zeroI) = (b.I(1), b.I(0));
        var coef = b.Cast(b.Load(dloss), f64);
        if (!sum)
        {
            var count = b.For(b.I(0), b.I(batch), one, new[] { zeroI }, (bi, acc0) =>
                b.For(b.I(0), b.I(seq - shift), one, acc0, (s, acc) =>
                {
                    var (_, counted) = Target(b, labels, bi, s, seq, shift, ignore, v, inSeq: null);
                    return new[] { b.Add(acc[0], b.Select(counted, one, zeroI)) };
                }))[0];
            coef = b.Div(coef, b.Cast(count, f64));   // N = 0: no row counts, coef unused
        }
        var coefT = b.Cast(coef, et);
        var zero = b.C(0, et);
        b.Parallel(new[] { batch * seq }, i =>   // one flat dimension: threads split all rows, even when B = 1
        {
            var (bi, s) = batch == 1 ? (b.I(0), i[0]) : (b.Div(i[0], b.I(seq)), b.Rem(i[0], b.I(seq)));
            var inSeq = b.Cmp("slt", s, b.I(seq - shift));
            var (t, counted) = Target(b, labels, bi, s, seq, shift, ignore, v, inSeq);
            var zt = b.Load(z, bi, s, t);   // read before the row is written
            // A counted row's exps go into dz (one exp per element), then dz is scaled in place; every other
            // row is only written with zeros (its dz is read uninitialized and discarded by the select).
            var (m, se) = RowStats(b, z, bi, s, b.Select(counted, b.I(v), zeroI), v, exps: dz);
            var inv = b.Cast(b.Div(b.C(1, f64), se), et);
            var pt = b.Mul(b.Exp(b.Sub(zt, m)), inv);
            b.For(v, c =>
            {
                var g = b.Mul(coefT, b.Mul(b.Load(dz, bi, s, c), inv));
                b.Store(b.Select(counted, g, zero), dz, bi, s, c);
            });
            b.Store(b.Select(counted, b.Mul(coefT, b.Sub(pt, b.C(1, et))), zero), dz, bi, s, t);
        });
    }

    // ------------------------------------------------------------------ adamw

    /// <summary>
    /// Per element (in the element type, every operand read before any result is written):
    /// p' = p (1 - lr wd) - lr / bc1 * m' / (sqrt(v') / sqrt(bc2) + eps), m' = b1 m + (1 - b1) g,
    /// v' = b2 v + (1 - b2) g g.
    /// </summary>
    private static void AdamW(LoopBuilder b, Operation op, Value[] ins, Value[] outs)
    {
        var h = Dialects.Tensor.AdamW.Read(op);
        var (p, g, m, v) = (b.Flat(ins[0]), b.Flat(ins[1]), b.Flat(ins[2]), b.Flat(ins[3]));
        var (p2, m2, v2) = (b.Flat(outs[0]), b.Flat(outs[1]), b.Flat(outs[2]));
        var et = T(p).Element;
        double bc1 = 1 - Math.Pow(h.Beta1, h.Step), bc2 = 1 - Math.Pow(h.Beta2, h.Step);
        var decay = b.C(1 - h.Lr * h.WeightDecay, et);
        var (beta1, oneMinusBeta1) = (b.C(h.Beta1, et), b.C(1 - h.Beta1, et));
        var (beta2, oneMinusBeta2) = (b.C(h.Beta2, et), b.C(1 - h.Beta2, et));
        var invSqrtBc2 = b.C(1 / Math.Sqrt(bc2), et);
        var stepSize = b.C(h.Lr / bc1, et);
        var eps = b.C(h.Eps, et);
        b.Parallel(new[] { T(p).NumElements }, i =>
        {
            var (pi, gi, mi, vi) = (b.Load(p, i[0]), b.Load(g, i[0]), b.Load(m, i[0]), b.Load(v, i[0]));
            var mNew = b.Add(b.Mul(beta1, mi), b.Mul(oneMinusBeta1, gi));
            var vNew = b.Add(b.Mul(beta2, vi), b.Mul(b.Mul(oneMinusBeta2, gi), gi));
            var denom = b.Add(b.Mul(b.Sqrt(vNew), invSqrtBc2), eps);
            var pNew = b.Sub(b.Mul(pi, decay), b.Div(b.Mul(stepSize, mNew), denom));
            b.Store(pNew, p2, i[0]);
            b.Store(mNew, m2, i[0]);
            b.Store(vNew, v2, i[0]);
        });
    }
}
