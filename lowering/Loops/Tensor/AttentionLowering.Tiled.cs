namespace AutoSpIR.Lowering.Loops.Tensor;

/// <summary>
/// The tiled (FlashAttention-2 style) lowerings of attention and attention_grad: tile products by
/// <c>loop.gemm</c> (BLAS) on sub-matrices of one head (the rows of a head are strided by H*D in the
/// [B, S, H, D] layout, a valid BLAS leading dimension), score tiles and row statistics in scratch memory.
/// <para>
/// Blocks: Bq query rows by Bk keys (<see cref="BlockSizes"/>; Bq = S when S is smaller, Bk = T likewise), so
/// every GEMM has static sizes. A last partial block is replaced by the full block ending at the sequence end
/// (rows r0 = min(ib, S - Bq), keys j0 = min(jb, T - Bk)); the rows or keys it repeats from the block before are
/// masked out (keys j &lt; jb get no weight; rows i &lt; ib are neither written nor, in the backward, counted).
/// </para>
/// <para>
/// Parallel loops run W = min(items, <see cref="Workers"/>) workers, worker w taking items w, w + W, ...; each
/// worker owns one slice of every scratch buffer (so scratch is bounded by W, not by the item count), and the
/// strided assignment (of items in zig-zag block order under causal) balances the causal work.
/// </para>
/// <para>
/// Forward, one item per (batch, head, query block): per key block up to the causal limit S = Q K^T (GEMM into
/// the worker's tile), scale, mask and online softmax per tile row (running max and sum per row in scratch),
/// rescale the row of the output accumulator (scratch Bq x Dv), O += P V (GEMM, beta 1); last, the owned rows
/// of o are the accumulator rows divided by the row sums.
/// </para>
/// <para>
/// Backward with T &lt;= <see cref="MaxRowKeys"/>: <see cref="BackwardRows"/> (whole score rows of a query block in
/// scratch: five GEMMs per tile, no statistics pass). Longer key sequences:
/// (A) the forward's pass per (batch, head, query block) gives every row's lse = m + log l and
/// delta = dO . O (O recomputed in the accumulator) into two scratch vectors; (B) one item per (batch, key/value
/// head g) owns dk and dv of g and dq of g's query heads (zeroed first, then accumulated by GEMMs with beta 1):
/// per key block, per query head of the group, per query block from the causal start: S = Q K^T and
/// dP = dO V^T (GEMMs), P = exp(scale S - lse) and dS = P (dP - delta) masked in place, then dV += P^T dO,
/// dK += scale dS^T Q and dQ += scale dS K (GEMMs). (B) has only B * Hkv items, so with B * Hkv = 1 the per-row
/// loop nests (<see cref="Backward"/>) are used instead.
/// </para>
/// </summary>
internal static partial class AttentionLowering
{
    /// <summary>Most workers of a tiled parallel loop (scratch slices).</summary>
    private const long Workers = 64;

    /// <summary>
    /// Query and key block sizes: 64 x 64, halved while Bq * Bk * max(D, Dv) reaches 2^18 (OpenBLAS's pthread build
    /// runs a GEMM below that many multiply-adds (SMP_THRESHOLD_MIN * GEMM_MULTITHREAD_THRESHOLD) single-threaded on
    /// the calling thread, so the OpenMP threads' tile GEMMs run concurrently; a larger one would hand its work to
    /// OpenBLAS's own thread pool, which concurrent callers oversubscribe and serialize on), clamped to S and T.
    /// </summary>
    private static (long Bq, long Bk) BlockSizes(Shape sh)
    {
        long bq = TileQ, bk = TileK, d = Math.Max(Math.Max(sh.D, sh.Dv), 1);
        while (bq * bk * d >= (1L << 18) && (bq > 8 || bk > 8))
        {
            if (bq >= bk) bq /= 2;
            else bk /= 2;
        }
        return (Math.Min(bq, sh.S), Math.Min(bk, sh.T));
    }

    private const long TileQ = 64, TileK = 64;

    /// <summary>Whether the forward takes the tiled path (not for tiny problems, where BLAS calls cost more than they save).</summary>
    private static bool UseTiledForward(Shape sh) => sh.S * sh.T >= 64;

    /// <summary>Whether the backward takes the tiled path: it parallelizes over (batch, key/value head) only.</summary>
    private static bool UseTiledBackward(Shape sh) => sh.B * sh.Hkv >= 2 && sh.S * sh.T >= 64;

    /// <summary>
    /// A parallel loop of <paramref name="items"/> items over <paramref name="workers"/> workers, worker w taking items
    /// w, w + workers, ...; <paramref name="body"/> gets the worker and the item. With fewer than 32 workers the
    /// parallel dimension is stretched to 32 (R slots per worker, all but the first idle) so that convert-to-llvm
    /// (which runs a parallel loop of fewer than ParallelGrain / 1024 looping iterations on the calling thread)
    /// still spreads the workers over its threads.
    /// </summary>
    private static void Workshare(LoopBuilder b, long workers, long items, Action<Value, Value> body)
    {
        long r = workers >= MinParallel ? 1 : (MinParallel + workers - 1) / workers;
        b.Parallel(new[] { workers * r }, x =>
        {
            var w = r == 1 ? x[0] : b.Div(x[0], b.I(r));
            var end = r == 1 ? b.I(items) : b.Select(b.Cmp("eq", b.Rem(x[0], b.I(r)), b.I(0)), b.I(items), w);
            b.For(w, end, b.I(workers), Array.Empty<Value>(), (item, _) => { body(w, item); return Array.Empty<Value>(); });
        });
    }

    /// <summary>Parallel iterations below which convert-to-llvm keeps a looping parallel loop on one thread (ParallelGrain / 1024).</summary>
    private const long MinParallel = 32;

    /// <summary>Offset of row i of head h of batch bi in a [B, len, heads, width] tensor.</summary>
    private static Value RowOffset(LoopBuilder b, Value bi, Value i, Value h, long len, long heads, long width) =>
        b.Mul(b.Add(b.Mul(b.Add(b.Mul(bi, b.I(len)), i), b.I(heads)), h), b.I(width));

    private sealed record Tiles(long Bq, long Bk, long Nq);

    /// <summary>
    /// The forward pass of one (batch, head, query block) item: the online softmax over its keys, leaving the
    /// unnormalized output rows in <paramref name="acc"/> [Bq, Dv] at <paramref name="accOff"/> and the running max
    /// and sum in <paramref name="ml"/> (m at mOff + r, l at mOff + Bq + r); returns (r0, ib): the first row of the
    /// block as computed and the first row it owns.
    /// </summary>
    private static (Value R0, Value Ib) ForwardItem(LoopBuilder b, Shape sh, Tiles t, Value q, Value k, Value v,
        Value bi, Value h, Value qb, Value tile, Value tileOff, Value acc, Value accOff, Value ml, Value mOff)
    {
        var et = sh.Elem;
        long bq = t.Bq, bk = t.Bk;
        var ib = b.Mul(qb, b.I(bq));
        var r0 = b.Min(ib, b.I(sh.S - bq));
        var g = sh.Group == 1 ? h : b.Div(h, b.I(sh.Group));
        var zero = b.C(0, et);
        var lowest = b.C(sh.Lowest, et);
        b.For(bq, r =>
        {
            b.Store(lowest, ml, b.Add(mOff, r));
            b.Store(zero, ml, b.Add(b.Add(mOff, b.I(bq)), r));
        });
        Fill(b, acc, accOff, bq * sh.Dv, zero);
        // Keys attended by the block's last row: r0 + Bq - 1 + T - S, inclusive.
        var kend = sh.Causal ? b.Add(r0, b.I(bq + sh.T - sh.S)) : b.I(sh.T);
        var qOff = RowOffset(b, bi, r0, h, sh.S, sh.Hq, sh.D);
        b.For(b.I(0), kend, b.I(bk), Array.Empty<Value>(), (jb, _) =>
        {
            var j0 = b.Min(jb, b.I(sh.T - bk));
            b.Gemm(q, k, tile, qOff, RowOffset(b, bi, j0, g, sh.T, sh.Hkv, sh.D), tileOff,
                bq, bk, sh.D, sh.Hq * sh.D, sh.Hkv * sh.D, bk, transA: false, transB: true, alpha: sh.Scale);
            var cmin = b.Sub(jb, j0);
            b.For(bq, r =>
            {
                var rowOff = b.Add(tileOff, b.Mul(r, b.I(bk)));
                // Column c is key j0 + c: valid iff c >= cmin and (causal) j0 + c <= r0 + r + T - S.
                var (lo, hi) = ValidColumns(b, sh, t, cmin, sh.Causal ? b.Sub(b.Add(b.Add(r0, r), b.I(sh.T - sh.S)), j0) : null);
                var mx = RangeMax(b, tile, rowOff, lo, hi, lowest, Lanes(bk));
                var mAt = b.Add(mOff, r);
                var lAt = b.Add(b.Add(mOff, b.I(bq)), r);
                var mOld = b.Load(ml, mAt);
                var mNew = b.Max(mOld, mx);
                var alpha = b.Exp(b.Sub(mOld, mNew));
                var sum = b.Fold(lo, hi, zero, (c, l) =>
                {
                    var at = b.Add(rowOff, c);
                    var p = b.Exp(b.Sub(b.Load(tile, at), mNew));
                    b.Store(p, tile, at);
                    return b.Add(l, p);
                });
                ZeroOutside(b, tile, rowOff, lo, hi, bk, zero);
                b.Store(b.Add(b.Mul(b.Load(ml, lAt), alpha), sum), ml, lAt);
                b.Store(mNew, ml, mAt);
                var accRow = b.Add(accOff, b.Mul(r, b.I(sh.Dv)));
                b.For(sh.Dv, e =>
                {
                    var at = b.Add(accRow, e);
                    b.Store(b.Mul(b.Load(acc, at), alpha), acc, at);
                });
            });
            b.Gemm(tile, v, acc, tileOff, RowOffset(b, bi, j0, g, sh.T, sh.Hkv, sh.Dv), accOff,
                bq, sh.Dv, bk, bk, sh.Hkv * sh.Dv, sh.Dv, transA: false, transB: false, beta: 1);
            return Array.Empty<Value>();
        });
        return (r0, ib);
    }

    /// <summary>Per-worker scratch of the forward item: score tile, output accumulator, running max and sum.</summary>
    private static (Value Tile, Value Acc, Value Ml) ForwardScratch(LoopBuilder b, Shape sh, Tiles t, long workers) =>
        (b.Scratch(b.Ctx.Tensor(new[] { workers * t.Bq * t.Bk }, sh.Elem)),
         b.Scratch(b.Ctx.Tensor(new[] { workers * t.Bq * sh.Dv }, sh.Elem)),
         b.Scratch(b.Ctx.Tensor(new[] { workers * 2 * t.Bq }, sh.Elem)));

    private static void ForwardTiled(LoopBuilder b, Shape sh, Value q, Value k, Value v, Value o)
    {
        var (bq, bk) = BlockSizes(sh);
        var t = new Tiles(bq, bk, (sh.S + bq - 1) / bq);
        long items = sh.B * sh.Hq * t.Nq, workers = Math.Min(items, Workers);
        var (tile, acc, ml) = ForwardScratch(b, sh, t, workers);
        Workshare(b, workers, items, (w, item) =>
        {
            var (bi, h, qb) = Position(b, item, sh.Hq, t.Nq, sh.Causal);
            var accOff = b.Mul(w, b.I(bq * sh.Dv));
            var mOff = b.Mul(w, b.I(2 * bq));
            var (r0, ib) = ForwardItem(b, sh, t, q, k, v, bi, h, qb, tile, b.Mul(w, b.I(bq * bk)), acc, accOff, ml, mOff);
            b.For(b.Sub(ib, r0), b.I(bq), b.I(1), Array.Empty<Value>(), (r, _) =>
            {
                var inv = b.Div(b.C(1, sh.Elem), b.Load(ml, b.Add(b.Add(mOff, b.I(bq)), r)));
                var oo = RowOffset(b, bi, b.Add(r0, r), h, sh.S, sh.Hq, sh.Dv);
                var accRow = b.Add(accOff, b.Mul(r, b.I(sh.Dv)));
                b.For(sh.Dv, e => b.Store(b.Mul(b.Load(acc, b.Add(accRow, e)), inv), o, b.Add(oo, e)));
                return Array.Empty<Value>();
            });
        });
    }

    private static void BackwardTiled(LoopBuilder b, Shape sh, Value q, Value k, Value v, Value dO, Value dq, Value dk, Value dv)
    {
        if (sh.T <= MaxRowKeys)
        {
            BackwardRows(b, sh, q, k, v, dO, dq, dk, dv);
            return;
        }
        var et = sh.Elem;
        var (bq, bk) = BlockSizes(sh);
        var t = new Tiles(bq, bk, (sh.S + bq - 1) / bq);
        long rows = sh.B * sh.Hq * sh.S;
        // Row statistics, row (b, h, i) at (b * Hq + h) * S + i.
        var lse = b.Scratch(b.Ctx.Tensor(new[] { rows }, et));
        var delta = b.Scratch(b.Ctx.Tensor(new[] { rows }, et));
        Value StatAt(Value bi, Value h, Value i) => b.Add(b.Mul(b.Add(b.Mul(bi, b.I(sh.Hq)), h), b.I(sh.S)), i);

        // (A) lse and delta of every query row.
        long items = sh.B * sh.Hq * t.Nq, workers = Math.Min(items, Workers);
        var (tile, acc, ml) = ForwardScratch(b, sh, t, workers);
        Workshare(b, workers, items, (w, item) =>
        {
            var (bi, h, qb) = Position(b, item, sh.Hq, t.Nq, sh.Causal);
            var accOff = b.Mul(w, b.I(bq * sh.Dv));
            var mOff = b.Mul(w, b.I(2 * bq));
            var (r0, ib) = ForwardItem(b, sh, t, q, k, v, bi, h, qb, tile, b.Mul(w, b.I(bq * bk)), acc, accOff, ml, mOff);
            b.For(b.Sub(ib, r0), b.I(bq), b.I(1), Array.Empty<Value>(), (r, _) =>
            {
                var i = b.Add(r0, r);
                var m = b.Load(ml, b.Add(mOff, r));
                var l = b.Load(ml, b.Add(b.Add(mOff, b.I(bq)), r));
                var oo = RowOffset(b, bi, i, h, sh.S, sh.Hq, sh.Dv);
                var accRow = b.Add(accOff, b.Mul(r, b.I(sh.Dv)));
                var dot = b.Sum(sh.Dv, et, e => b.Mul(b.Load(dO, b.Add(oo, e)), b.Load(acc, b.Add(accRow, e))));
                var at = StatAt(bi, h, i);
                b.Store(b.Add(m, b.Log(l)), lse, at);
                b.Store(b.Div(dot, l), delta, at);
                return Array.Empty<Value>();
            });
        });

        // (B) dq, dk, dv per (batch, key/value head).
        long nk = (sh.T + bk - 1) / bk;
        long kvItems = sh.B * sh.Hkv, kvWorkers = Math.Min(kvItems, Workers);
        var pt = b.Scratch(b.Ctx.Tensor(new[] { kvWorkers * bq * bk }, et));
        var dst = b.Scratch(b.Ctx.Tensor(new[] { kvWorkers * bq * bk }, et));
        Workshare(b, kvWorkers, kvItems, (w, item) =>
        {
            var (bi, g) = (b.Div(item, b.I(sh.Hkv)), b.Rem(item, b.I(sh.Hkv)));
            var zero = b.C(0, et);
            var tileOff = b.Mul(w, b.I(bq * bk));
            b.For(sh.T, j =>
            {
                Fill(b, dk, RowOffset(b, bi, j, g, sh.T, sh.Hkv, sh.D), sh.D, zero);
                Fill(b, dv, RowOffset(b, bi, j, g, sh.T, sh.Hkv, sh.Dv), sh.Dv, zero);
            });
            b.For(sh.S, i => b.For(sh.Group, hh =>
                Fill(b, dq, RowOffset(b, bi, i, b.Add(b.Mul(g, b.I(sh.Group)), hh), sh.S, sh.Hq, sh.D), sh.D, zero)));
            b.For(nk, kbi =>
            {
                var kb = b.Mul(kbi, b.I(bk));
                var j0 = b.Min(kb, b.I(sh.T - bk));
                var kOff = RowOffset(b, bi, j0, g, sh.T, sh.Hkv, sh.D);
                var vOff = RowOffset(b, bi, j0, g, sh.T, sh.Hkv, sh.Dv);
                var cmin = b.Sub(kb, j0);
                // Queries attending key kb or later: i >= kb - (T - S); their first block.
                var ibStart = sh.Causal
                    ? b.Mul(b.Div(b.Max(b.Sub(kb, b.I(sh.T - sh.S)), b.I(0)), b.I(bq)), b.I(bq))
                    : b.I(0);
                b.For(sh.Group, hh =>
                {
                    var h = b.Add(b.Mul(g, b.I(sh.Group)), hh);
                    b.For(ibStart, b.I(sh.S), b.I(bq), Array.Empty<Value>(), (ib, _) =>
                    {
                        var r0 = b.Min(ib, b.I(sh.S - bq));
                        var qOff = RowOffset(b, bi, r0, h, sh.S, sh.Hq, sh.D);
                        var oOff = RowOffset(b, bi, r0, h, sh.S, sh.Hq, sh.Dv);
                        b.Gemm(q, k, pt, qOff, kOff, tileOff, bq, bk, sh.D, sh.Hq * sh.D, sh.Hkv * sh.D, bk, false, true, alpha: sh.Scale);
                        b.Gemm(dO, v, dst, oOff, vOff, tileOff, bq, bk, sh.Dv, sh.Hq * sh.Dv, sh.Hkv * sh.Dv, bk, false, true);
                        var rmin = b.Sub(ib, r0);
                        b.For(bq, r =>
                        {
                            var i = b.Add(r0, r);
                            var at0 = StatAt(bi, h, i);
                            var rowLse = b.Load(lse, at0);
                            var rowDelta = b.Load(delta, at0);
                            // Valid columns [lo, hi); rows before ib (repeated from the block before) none.
                            var cmax = sh.Causal ? b.Sub(b.Add(i, b.I(sh.T - sh.S)), j0) : b.I(bk - 1);
                            cmax = b.Select(b.Cmp("sge", r, rmin), cmax, b.I(-1));
                            var (lo, hi) = ValidColumns(b, sh, t, cmin, cmax);
                            var rowOff = b.Add(tileOff, b.Mul(r, b.I(bk)));
                            b.For(lo, hi, b.I(1), Array.Empty<Value>(), (c, _) =>
                            {
                                var at = b.Add(rowOff, c);
                                var p = b.Exp(b.Sub(b.Load(pt, at), rowLse));
                                b.Store(p, pt, at);
                                b.Store(b.Mul(p, b.Sub(b.Load(dst, at), rowDelta)), dst, at);
                                return Array.Empty<Value>();
                            });
                            ZeroOutside(b, pt, rowOff, lo, hi, bk, zero);
                            ZeroOutside(b, dst, rowOff, lo, hi, bk, zero);
                        });
                        b.Gemm(pt, dO, dv, tileOff, oOff, vOff, bk, sh.Dv, bq, bk, sh.Hq * sh.Dv, sh.Hkv * sh.Dv, true, false, beta: 1);
                        b.Gemm(dst, q, dk, tileOff, qOff, kOff, bk, sh.D, bq, bk, sh.Hq * sh.D, sh.Hkv * sh.D, true, false, alpha: sh.Scale, beta: 1);
                        b.Gemm(dst, k, dq, tileOff, kOff, qOff, bq, sh.D, bk, bk, sh.Hkv * sh.D, sh.Hq * sh.D, false, false, alpha: sh.Scale, beta: 1);
                        return Array.Empty<Value>();
                    });
                });
            });
        });
    }
    /// <summary>Longest key sequence for which <see cref="BackwardRows"/> keeps whole score rows of a query block (2 x Bq x T per worker).</summary>
    private const long MaxRowKeys = 8192;

    /// <summary>
    /// attention_grad with whole score rows (T &lt;= <see cref="MaxRowKeys"/>): one item per (batch, key/value head g)
    /// owns dk and dv of g and dq of g's query heads (zeroed, then accumulated by GEMMs with beta 1). Per query head
    /// of the group and query block: S = scale Q K^T and dP = dO V^T for every key block up to the causal limit
    /// (GEMMs into two Bq x T scratch rows per worker, keys in full blocks of Bk and a last block of T mod Bk, so
    /// no key is counted twice); per row the max, l = sum exp(s - max), P = exp(s - max) / l, delta = sum P dP and
    /// dS = P (dP - delta) over the attended keys (zeros past them, and in rows repeated from the query block
    /// before); then per key block dV += P^T dO, dK += scale dS^T Q and dQ += scale dS K. Five GEMMs per tile, no
    /// statistics pass.
    /// </summary>
    private static void BackwardRows(LoopBuilder b, Shape sh, Value q, Value k, Value v, Value dO, Value dq, Value dk, Value dv)
    {
        var et = sh.Elem;
        var (bq, bk) = BlockSizes(sh);
        long fullEnd = sh.T / bk * bk, tail = sh.T - fullEnd;
        long items = sh.B * sh.Hkv, workers = Math.Min(items, Workers / 2);
        var sp = b.Scratch(b.Ctx.Tensor(new[] { workers * bq * sh.T }, et));
        var ds = b.Scratch(b.Ctx.Tensor(new[] { workers * bq * sh.T }, et));
        Workshare(b, workers, items, (w, item) =>
        {
            var (bi, g) = (b.Div(item, b.I(sh.Hkv)), b.Rem(item, b.I(sh.Hkv)));
            var zero = b.C(0, et);
            var one = b.C(1, et);
            var lowest = b.C(sh.Lowest, et);
            var rows0 = b.Mul(w, b.I(bq * sh.T));
            b.For(sh.T, j =>
            {
                Fill(b, dk, RowOffset(b, bi, j, g, sh.T, sh.Hkv, sh.D), sh.D, zero);
                Fill(b, dv, RowOffset(b, bi, j, g, sh.T, sh.Hkv, sh.Dv), sh.Dv, zero);
            });
            b.For(sh.S, i => b.For(sh.Group, hh =>
                Fill(b, dq, RowOffset(b, bi, i, b.Add(b.Mul(g, b.I(sh.Group)), hh), sh.S, sh.Hq, sh.D), sh.D, zero)));
            b.For(sh.Group, hh =>
            {
                var h = b.Add(b.Mul(g, b.I(sh.Group)), hh);
                b.For(b.I(0), b.I(sh.S), b.I(bq), Array.Empty<Value>(), (ib, _) =>
                {
                    var r0 = b.Min(ib, b.I(sh.S - bq));
                    var rmin = b.Sub(ib, r0);
                    var qOff = RowOffset(b, bi, r0, h, sh.S, sh.Hq, sh.D);
                    var oOff = RowOffset(b, bi, r0, h, sh.S, sh.Hq, sh.Dv);
                    // Keys the block's last row attends: [0, kend); computed columns: whole key blocks, [0, cols).
                    var kend = sh.Causal ? b.Add(r0, b.I(bq + sh.T - sh.S)) : b.I(sh.T);
                    var cols = sh.Causal ? b.Min(b.Mul(b.Div(b.Add(kend, b.I(bk - 1)), b.I(bk)), b.I(bk)), b.I(sh.T)) : b.I(sh.T);
                    void KeyBlocks(Action<Value, long> body)
                    {
                        b.For(b.I(0), b.Min(kend, b.I(fullEnd)), b.I(bk), Array.Empty<Value>(), (jb, _) => { body(jb, bk); return Array.Empty<Value>(); });
                        if (tail > 0)
                            b.For(b.I(0), b.Select(b.Cmp("sgt", kend, b.I(fullEnd)), b.I(1), b.I(0)), b.I(1), Array.Empty<Value>(),
                                (_, _) => { body(b.I(fullEnd), tail); return Array.Empty<Value>(); });
                    }
                    KeyBlocks((jb, n) =>
                    {
                        var c0 = b.Add(rows0, jb);
                        b.Gemm(q, k, sp, qOff, RowOffset(b, bi, jb, g, sh.T, sh.Hkv, sh.D), c0, bq, n, sh.D, sh.Hq * sh.D, sh.Hkv * sh.D, sh.T,
                            false, true, alpha: sh.Scale);
                        b.Gemm(dO, v, ds, oOff, RowOffset(b, bi, jb, g, sh.T, sh.Hkv, sh.Dv), c0, bq, n, sh.Dv, sh.Hq * sh.Dv, sh.Hkv * sh.Dv, sh.T,
                            false, true);
                    });
                    b.For(bq, r =>
                    {
                        var rowOff = b.Add(rows0, b.Mul(r, b.I(sh.T)));
                        // Attended keys [0, hi): none in rows repeated from the block before.
                        var hi = sh.Causal ? b.Add(b.Add(r0, r), b.I(sh.T - sh.S + 1)) : b.I(sh.T);
                        hi = b.Select(b.Cmp("sge", r, rmin), hi, b.I(0));
                        var m = RangeMax(b, sp, rowOff, b.I(0), hi, lowest, 16);
                        var l = b.Fold(b.I(0), hi, zero, (c, acc) =>
                        {
                            var at = b.Add(rowOff, c);
                            var e = b.Exp(b.Sub(b.Load(sp, at), m));
                            b.Store(e, sp, at);
                            return b.Add(acc, e);
                        });
                        var inv = b.Div(one, b.Max(l, b.C(1e-30, et)));
                        var delta = b.Fold(b.I(0), hi, zero, (c, acc) =>
                        {
                            var at = b.Add(rowOff, c);
                            var p = b.Mul(b.Load(sp, at), inv);
                            b.Store(p, sp, at);
                            return b.Add(acc, b.Mul(p, b.Load(ds, at)));
                        });
                        b.For(b.I(0), hi, b.I(1), Array.Empty<Value>(), (c, _) =>
                        {
                            var at = b.Add(rowOff, c);
                            b.Store(b.Mul(b.Load(sp, at), b.Sub(b.Load(ds, at), delta)), ds, at);
                            return Array.Empty<Value>();
                        });
                        foreach (var t in new[] { sp, ds })
                            b.For(hi, cols, b.I(1), Array.Empty<Value>(), (c, _) => { b.Store(zero, t, b.Add(rowOff, c)); return Array.Empty<Value>(); });
                    });
                    KeyBlocks((jb, n) =>
                    {
                        var a0 = b.Add(rows0, jb);
                        var kOff = RowOffset(b, bi, jb, g, sh.T, sh.Hkv, sh.D);
                        var vOff = RowOffset(b, bi, jb, g, sh.T, sh.Hkv, sh.Dv);
                        b.Gemm(sp, dO, dv, a0, oOff, vOff, n, sh.Dv, bq, sh.T, sh.Hq * sh.Dv, sh.Hkv * sh.Dv, true, false, beta: 1);
                        b.Gemm(ds, q, dk, a0, qOff, kOff, n, sh.D, bq, sh.T, sh.Hq * sh.D, sh.Hkv * sh.D, true, false, alpha: sh.Scale, beta: 1);
                        b.Gemm(ds, k, dq, a0, kOff, qOff, bq, sh.D, n, sh.T, sh.Hkv * sh.D, sh.Hq * sh.D, false, false, alpha: sh.Scale, beta: 1);
                    });
                    return Array.Empty<Value>();
                });
            });
        });
    }

    /// <summary>
    /// The valid columns [lo, hi) of a tile row: from <paramref name="cmin"/> (keys before it were in the block
    /// before) to <paramref name="cmax"/> inclusive (the causal limit; null: the whole block), hi &gt;= lo.
    /// </summary>
    private static (Value Lo, Value Hi) ValidColumns(LoopBuilder b, Shape sh, Tiles t, Value cmin, Value? cmax)
    {
        var hi = cmax is null ? b.I(t.Bk) : b.Min(b.Max(b.Add(cmax, b.I(1)), cmin), b.I(t.Bk));
        return (cmin, hi);
    }

    /// <summary>Stores zero into row[off + c] for c in [0, lo) and [hi, n).</summary>
    private static void ZeroOutside(LoopBuilder b, Value row, Value off, Value lo, Value hi, long n, Value zero)
    {
        b.For(b.I(0), lo, b.I(1), Array.Empty<Value>(), (c, _) => { b.Store(zero, row, b.Add(off, c)); return Array.Empty<Value>(); });
        b.For(hi, b.I(n), b.I(1), Array.Empty<Value>(), (c, _) => { b.Store(zero, row, b.Add(off, c)); return Array.Empty<Value>(); });
    }

    /// <summary>Independent chains of a tile row max (LLVM does not vectorize a maxnum reduction): the largest of 16, 8, 4, 2, 1 dividing n.</summary>
    private static int Lanes(long n) => new[] { 16, 8, 4, 2, 1 }.First(l => n % l == 0);

    /// <summary>max(init, row[off + c] for c in [lo, hi)) in <paramref name="lanes"/> chains, then a remainder loop.</summary>
    private static Value RangeMax(LoopBuilder b, Value row, Value off, Value lo, Value hi, Value init, int lanes)
    {
        var full = b.Add(lo, b.Mul(b.Div(b.Sub(hi, lo), b.I(lanes)), b.I(lanes)));
        var chains = b.For(lo, full, b.I(lanes), Enumerable.Repeat(init, lanes).ToArray(), (c, acc) =>
        {
            var at = b.Add(off, c);
            return acc.Select((a, u) => b.Max(a, b.Load(row, u == 0 ? at : b.Add(at, b.I(u))))).ToArray();
        }).ToList();
        while (chains.Count > 1)
        {
            var next = new List<Value>();
            for (int u = 0; u < chains.Count; u += 2) next.Add(b.Max(chains[u], chains[u + 1]));
            chains = next;
        }
        return b.Fold(full, hi, chains[0], (c, m) => b.Max(m, b.Load(row, b.Add(off, c))));
    }
}
