using AutoSpIR.Dialects.Tensor;

namespace AutoSpIR.Lowering.Loops.Tensor;

/// <summary>
/// Loop lowerings of the row-normalization family: rms_norm, rms_norm_grad, rope, rope_grad, softmax and
/// softmax_grad (float tensors), with the conventions of the interpreter (<c>runtime/kernels/NormKernels.cs</c>,
/// <c>BackwardKernels.cs</c>).
/// <list type="bullet">
/// <item>Row statistics (sum of squares, max, sum of exponentials, dot products) are computed once per row by
/// a reduction (<see cref="Reduce"/>: f64 sums for every float type, <see cref="MaxLanes"/> independent
/// chains for the max), then one loop over the row writes it. Rows are a <c>loop.parallel</c>.</item>
/// <item>rms_norm_grad's dweight sums over all rows: without scratch memory, each row's r and
/// c = r^3/H * sum(dy w x) are first parked in the row's first two dx elements (phase 1, parallel over rows).
/// The columns past the first <see cref="DwChunk"/> are then done by chunks of DwChunk columns (phase 2,
/// parallel over chunks, a sequential loop over the rows that reads the parked values, writes dx and carries
/// one f64 dweight sum per column: no two iterations write the same element, none writes what another
/// reads). Last the first DwChunk columns: their dweight by columns (phase 3a), then their dx by rows over
/// the parked values (phase 3b, r and c read before the row is written). x and dy are read twice in all.</item>
/// <item>rope / rope_grad: rotate-half pairs (d, d + D/2) of [B, S, N, D]; position p = offset attribute +
/// offset operand (rank-0 i64/i32, loaded once) + s. The angles p * theta^(-2i/D) and their cos/sin are
/// computed in f64 once per (position, i) (theta^(-2i/D) by the recurrence inv[i+1] = inv[i] * theta^(-2/D)),
/// rounded to T and kept as a table in the first head's row of y (no scratch memory), shared by every batch
/// (when the loop is over positions) and head: the other heads are rotated with contiguous loops, the
/// first head last. A negative position (an operand value
/// below -offset), a run-time error in the interpreter, is not checked: the rotation is computed at that position.</item>
/// <item>softmax: max, then exp(x - max) written to y while summed, then y scaled by 1/sum; along a non-last
/// <c>dim</c> every (outer, inner) column is one parallel iteration with strided loops.</item>
/// </list>
/// rms_norm, softmax and softmax_grad read an element before writing the one at the same index, so they
/// would stay correct if a result shared its operand's buffer; rms_norm_grad and rope would not (they park
/// values in their result before the operands are read again), which is fine: memory-plan writes in place
/// only for elementwise ops.
/// </summary>
internal static class NormLowering
{
    public static readonly (string Op, OpLowering Lower)[] Rules =
    {
        ("tensor.rms_norm", RmsNorm),
        ("tensor.rms_norm_grad", RmsNormGrad),
        ("tensor.rope", (b, op, ins, outs) => Rope(b, op, ins, outs, grad: false)),
        ("tensor.rope_grad", (b, op, ins, outs) => Rope(b, op, ins, outs, grad: true)),
        ("tensor.softmax", Softmax),
        ("tensor.softmax_grad", SoftmaxGrad),
    };

    /// <summary>
    /// Independent accumulator chains of a max reduction: LLVM does not vectorize a maxnum reduction
    /// (NaN semantics), so eight chains give it instruction-level parallelism. Float sums are one chain:
    /// convert-to-llvm marks loops carrying a float for vectorization, which reassociates them.
    /// </summary>
    private const int MaxLanes = 8;

    /// <summary>Columns of dweight one parallel iteration of rms_norm_grad sums (carried f64 accumulators).</summary>
    private const int DwChunk = 16;

    // ------------------------------------------------------------------ rms_norm

    /// <summary>Per row: r = 1 / sqrt(sum(x^2) / H + eps) (f64), then y[h] = x[h] r w[h].</summary>
    private static void RmsNorm(LoopBuilder b, Operation op, Value[] ins, Value[] outs)
    {
        var t = (TensorType)ins[0].Type;
        var el = t.Element;
        long h = t.Shape[^1];
        if (t.NumElements == 0) return;
        long rows = t.NumElements / h;
        double eps = op.GetFloat("eps") ?? 0;
        var (x, y, w) = (b.Reinterpret(ins[0], rows, h), b.Reinterpret(outs[0], rows, h), ins[1]);
        var f64 = b.Ctx.F64;
        b.Parallel(new[] { rows }, iv =>
        {
            var row = iv[0];
            var ss = Reduce(b, 1, h, new[] { b.C(0, f64) }, j =>
            {
                var v = b.Cast(b.Load(x, row, j), f64);
                return new[] { b.Mul(v, v) };
            }, Add(b))[0];
            var r = b.Cast(InvRms(b, ss, h, eps), el);
            b.For(h, j => b.Store(b.Mul(b.Mul(b.Load(x, row, j), r), b.Load(w, j)), y, row, j));
        });
    }

    /// <summary>1 / sqrt(ss / H + eps) in f64.</summary>
    private static Value InvRms(LoopBuilder b, Value ss, long h, double eps)
    {
        var f64 = b.Ctx.F64;
        return b.Div(b.C(1, f64), b.Sqrt(b.Add(b.Div(ss, b.C(h, f64)), b.C(eps, f64))));
    }

    /// <summary>
    /// dx[h] = r w[h] dy[h] - x[h] c with c = r^3 / H * sum(dy w x), and dweight[h] = sum over rows of
    /// dy[h] x[h] r, in three phases (see the class comment): r and c parked in dx; dx and dweight of the
    /// columns past the first DwChunk by column chunks; dweight then dx of the first DwChunk columns.
    /// </summary>
    private static void RmsNormGrad(LoopBuilder b, Operation op, Value[] ins, Value[] outs)
    {
        var t = (TensorType)ins[0].Type;
        var el = t.Element;
        var f64 = b.Ctx.F64;
        long h = t.Shape[^1];
        if (h == 0) return;   // dx and dweight are empty
        long rows = t.NumElements / h;
        double eps = op.GetFloat("eps") ?? 0;
        var (x, w, dy) = (b.Reinterpret(ins[0], rows, h), ins[1], b.Reinterpret(ins[2], rows, h));
        var (dx, dw) = (b.Reinterpret(outs[0], rows, h), outs[1]);
        bool parkC = h >= 2;

        // Phase 1: per row, r (and c) into dx[row, 0] (and dx[row, 1]).
        if (rows > 0)
            b.Parallel(new[] { rows }, iv =>
            {
                var row = iv[0];
                var s = Reduce(b, 1, h, new[] { b.C(0, f64), b.C(0, f64) }, j =>
                {
                    var xv = b.Cast(b.Load(x, row, j), f64);
                    var term = b.Mul(b.Mul(b.Cast(b.Load(dy, row, j), f64), b.Cast(b.Load(w, j), f64)), xv);
                    return new[] { b.Mul(xv, xv), term };
                }, Add(b), Add(b));
                var r = InvRms(b, s[0], h, eps);
                b.Store(b.Cast(r, el), dx, row, b.I(0));
                if (parkC) b.Store(b.Cast(RmsC(b, r, s[1], h), el), dx, row, b.I(1));
            });

        // Columns [0, head) hold the parked values: their dx is written last, by rows (phase 3).
        long head = Math.Min(DwChunk, h), chunks = (h - head) / DwChunk, rest = (h - head) % DwChunk;

        // Phase 2: the columns past the head, DwChunk columns per parallel iteration (then the rest one per
        // iteration): a loop over the rows reads the parked r and c, writes dx and sums dweight (f64).
        if (chunks > 0)
            b.Parallel(new[] { chunks }, iv =>
            {
                ColumnsPass(b, x, w, dy, dx, dw, rows, b.Add(b.Mul(iv[0], b.I(DwChunk)), b.I(head)), DwChunk);
            });
        if (rest > 0)
            b.Parallel(new[] { rest }, iv => ColumnsPass(b, x, w, dy, dx, dw, rows, b.Add(iv[0], b.I(head + chunks * DwChunk)), 1));

        // Phase 3a: dweight of the head columns (reading the parked values, writing none).
        b.Parallel(new[] { head }, iv =>
        {
            var col = iv[0];
            var sum = b.Fold(b.I(0), b.I(rows), b.C(0, f64), (row, acc) =>
                b.Add(acc, DwTerm(b, x, dy, row, col, b.Cast(b.Load(dx, row, b.I(0)), f64))));
            b.Store(b.Cast(sum, el), dw, col);
        });

        // Phase 3b: dx of the head columns by rows, over the parked r and c (read before the row is written).
        if (rows > 0)
            b.Parallel(new[] { rows }, iv =>
            {
                var row = iv[0];
                var r = b.Load(dx, row, b.I(0));
                Value c;
                if (parkC) c = b.Load(dx, row, b.I(1));
                else
                {
                    // H == 1: the one-term dot product again.
                    var dot = b.Mul(b.Mul(b.Cast(b.Load(dy, row, b.I(0)), f64), b.Cast(b.Load(w, b.I(0)), f64)), b.Cast(b.Load(x, row, b.I(0)), f64));
                    c = b.Cast(RmsC(b, b.Cast(r, f64), dot, h), el);
                }
                b.For(head, j => b.Store(DxTerm(b, x, w, dy, row, j, r, c), dx, row, j));
            });
    }

    /// <summary>
    /// dx and dweight of the <paramref name="count"/> columns from <paramref name="h0"/> (none of them parked):
    /// a loop over the rows carrying one f64 sum per column. Each row writes dx
    /// with an inner loop over the columns (contiguous), which also keeps LLVM from vectorizing the row loop
    /// (strided gathers and scatters) instead of the columns.
    /// </summary>
    private static void ColumnsPass(LoopBuilder b, Value x, Value w, Value dy, Value dx, Value dw, long rows, Value h0, int count)
    {
        var f64 = b.Ctx.F64;
        var el = ((TensorType)dw.Type).Element;
        var cols = Enumerable.Range(0, count).Select(u => u == 0 ? h0 : b.Add(h0, b.I(u))).ToArray();
        var sums = b.For(b.I(0), b.I(rows), b.I(1), cols.Select(_ => b.C(0, f64)).ToArray(), (row, acc) =>
        {
            var r = b.Load(dx, row, b.I(0));
            var c = b.Load(dx, row, b.I(1));
            b.For(count, u =>
            {
                var col = b.Add(h0, u);
                b.Store(DxTerm(b, x, w, dy, row, col, r, c), dx, row, col);
            });
            var r64 = b.Cast(r, f64);
            return Enumerable.Range(0, count).Select(u => b.Add(acc[u], DwTerm(b, x, dy, row, cols[u], r64))).ToArray();
        });
        for (int u = 0; u < count; u++) b.Store(b.Cast(sums[u], el), dw, cols[u]);
    }

    /// <summary>dx[row, j] = r w[j] dy[row, j] - x[row, j] c (in T).</summary>
    private static Value DxTerm(LoopBuilder b, Value x, Value w, Value dy, Value row, Value j, Value r, Value c) =>
        b.Sub(b.Mul(b.Mul(r, b.Load(w, j)), b.Load(dy, row, j)), b.Mul(b.Load(x, row, j), c));

    /// <summary>c = r^3 / H * dot (f64).</summary>
    private static Value RmsC(LoopBuilder b, Value r, Value dot, long h) =>
        b.Mul(b.Div(b.Mul(b.Mul(r, r), r), b.C(h, b.Ctx.F64)), dot);

    /// <summary>dy[row, col] x[row, col] r in f64.</summary>
    private static Value DwTerm(LoopBuilder b, Value x, Value dy, Value row, Value col, Value r)
    {
        var f64 = b.Ctx.F64;
        return b.Mul(b.Mul(b.Cast(b.Load(dy, row, col), f64), b.Cast(b.Load(x, row, col), f64)), r);
    }

    // ------------------------------------------------------------------ rope

    /// <summary>
    /// Rotate-half RoPE (or its gradient, the rotation by -angle) over [B, S, N, D]: for every position the
    /// D/2 angles' cos and sin (f64, cast to T) once into a table in y[b0, s, 0, :], then every head (and
    /// batch) of that position, the table's own head last.
    /// </summary>
    private static void Rope(LoopBuilder b, Operation op, Value[] ins, Value[] outs, bool grad)
    {
        var t = (TensorType)ins[0].Type;
        var el = t.Element;
        var f64 = b.Ctx.F64;
        if (t.Rank != 4) throw new NotSupportedException($"{op.Name}: the loop lowering takes an input of rank 4 [B, S, N, D], not {t}");
        long bs = t.Shape[0], s = t.Shape[1], n = t.Shape[2], d = t.Shape[3], half = d / 2;
        if (t.NumElements == 0) return;
        double theta = op.GetFloat("theta") ?? 10000.0;
        long attr = AutoSpIR.Dialects.Tensor.Rope.OffsetOf(op);
        var (x, y) = (ins[0], outs[0]);
        // Position of sequence row 0: the attribute plus the operand's value (loaded once).
        Value start = b.I(attr);
        if (ins.Length > 1) start = b.Add(start, b.Cast(b.Load(ins[1]), b.I64));
        double ratio = Math.Pow(theta, -2.0 / d);

        // One parallel iteration per position (every batch inside: the fewest cos/sin) unless the
        // positions are few and there are several batches.
        bool perPosition = bs == 1 || s >= 64;
        long heads = perPosition ? bs * n : n;
        b.Parallel(perPosition ? new[] { s } : new[] { bs, s }, iv =>
        {
            var si = perPosition ? iv[0] : iv[1];
            var tb = perPosition ? b.I(0) : iv[0];
            var zero = b.I(0);
            // The table: cos and sin of the D/2 angles (f64, rounded to T) in the first head's row of y.
            var p = b.Cast(b.Add(start, si), f64);
            b.For(b.I(0), b.I(half), b.I(1), new[] { b.C(1, f64) }, (i, inv) =>
            {
                var angle = b.Mul(p, inv[0]);
                b.Store(b.Cast(b.Cos(angle), el), y, tb, si, zero, i);
                b.Store(b.Cast(b.Sin(angle), el), y, tb, si, zero, b.Add(i, b.I(half)));
                return new[] { b.Mul(inv[0], b.C(ratio, f64)) };
            });
            // Every other head (and batch) of the position, contiguous loops over the pairs; the first head
            // last, each pair reading its table entries before overwriting them.
            void Rotate(Value bi, Value ni) => b.For(half, i =>
            {
                var hi = b.Add(i, b.I(half));
                var (cos, sin) = (b.Load(y, tb, si, zero, i), b.Load(y, tb, si, zero, hi));
                var (lo, up) = (b.Load(x, bi, si, ni, i), b.Load(x, bi, si, ni, hi));
                // rope: y[i] = lo cos - up sin, y[i + D/2] = up cos + lo sin; rope_grad: the signs of sin swapped.
                b.Store(grad ? b.Add(b.Mul(lo, cos), b.Mul(up, sin)) : b.Sub(b.Mul(lo, cos), b.Mul(up, sin)), y, bi, si, ni, i);
                b.Store(grad ? b.Sub(b.Mul(up, cos), b.Mul(lo, sin)) : b.Add(b.Mul(up, cos), b.Mul(lo, sin)), y, bi, si, ni, hi);
            });
            if (heads > 1)
                b.For(b.I(1), b.I(heads), b.I(1), Array.Empty<Value>(), (k, _) =>
                {
                    if (!perPosition) Rotate(tb, k);
                    else if (bs == 1) Rotate(zero, k);
                    else Rotate(b.Div(k, b.I(n)), b.Rem(k, b.I(n)));
                    return Array.Empty<Value>();
                });
            Rotate(tb, zero);
        });
    }

    // ------------------------------------------------------------------ softmax

    /// <summary>The [outer, len, inner] view of a buffer around <paramref name="dim"/>.</summary>
    private static (long Outer, long Len, long Inner) Split(TensorType t, int dim)
    {
        long outer = 1, inner = 1;
        for (int i = 0; i < dim; i++) outer *= t.Shape[i];
        for (int i = dim + 1; i < t.Rank; i++) inner *= t.Shape[i];
        return (outer, t.Shape[dim], inner);
    }

    /// <summary>
    /// A loop.parallel over the rows along <paramref name="dim"/>: <paramref name="body"/> gets, per row, the
    /// buffer views and an index function j -> the element indices of position j of the row.
    /// </summary>
    private static void Rows(LoopBuilder b, Operation op, Value[] bufs, Action<Value[], Func<Value, Value[]>, long> body)
    {
        var t = (TensorType)bufs[0].Type;
        int dim = AutoSpIR.Dialects.Tensor.Softmax.DimOf(op, t.Rank);
        if (dim < 0) throw new NotSupportedException($"{op.Name}: 'dim' {op.GetInt("dim")} is out of range for {t}");
        var (outer, len, inner) = Split(t, dim);
        if (t.NumElements == 0) return;
        if (inner == 1)
        {
            var views = bufs.Select(v => b.Reinterpret(v, outer, len)).ToArray();
            b.Parallel(new[] { outer }, iv => body(views, j => new[] { iv[0], j }, len));
        }
        else
        {
            var views = bufs.Select(v => b.Reinterpret(v, outer, len, inner)).ToArray();
            b.Parallel(new[] { outer, inner }, iv => body(views, j => new[] { iv[0], j, iv[1] }, len));
        }
    }

    /// <summary>Per row: m = max(x); y = exp(x - m) while sum += y (f64); then y *= 1 / sum.</summary>
    private static void Softmax(LoopBuilder b, Operation op, Value[] ins, Value[] outs)
    {
        var el = ((TensorType)ins[0].Type).Element;
        var f64 = b.Ctx.F64;
        Rows(b, op, new[] { ins[0], outs[0] }, (v, at, len) =>
        {
            var (x, y) = (v[0], v[1]);
            var first = b.Load(x, at(b.I(0)));
            var m = Reduce(b, MaxLanes, len, new[] { first }, j => new[] { b.Load(x, at(j)) }, (p, q) => b.Max(p, q))[0];
            var sum = Reduce(b, 1, len, new[] { b.C(0, f64) }, j =>
            {
                var e = b.Exp(b.Sub(b.Load(x, at(j)), m));
                b.Store(e, y, at(j));
                return new[] { b.Cast(e, f64) };
            }, Add(b))[0];
            var inv = b.Cast(b.Div(b.C(1, f64), sum), el);
            b.For(len, j => b.Store(b.Mul(b.Load(y, at(j)), inv), y, at(j)));
        });
    }

    /// <summary>Per row: dot = sum(y dy) (f64); dx = y (dy - dot).</summary>
    private static void SoftmaxGrad(LoopBuilder b, Operation op, Value[] ins, Value[] outs)
    {
        var el = ((TensorType)ins[0].Type).Element;
        var f64 = b.Ctx.F64;
        Rows(b, op, new[] { ins[0], ins[1], outs[0] }, (v, at, len) =>
        {
            var (y, dy, dx) = (v[0], v[1], v[2]);
            var dot = Reduce(b, 1, len, new[] { b.C(0, f64) }, j =>
                new[] { b.Mul(b.Cast(b.Load(y, at(j)), f64), b.Cast(b.Load(dy, at(j)), f64)) }, Add(b))[0];
            var dotT = b.Cast(dot, el);
            b.For(len, j => b.Store(b.Mul(b.Load(y, at(j)), b.Sub(b.Load(dy, at(j)), dotT)), dx, at(j)));
        });
    }

    // ------------------------------------------------------------------ reductions

    private static Func<Value, Value, Value> Add(LoopBuilder b) => (p, q) => b.Add(p, q);

    /// <summary>
    /// Reductions over j in [0, <paramref name="n"/>): accumulator k starts at <paramref name="inits"/>[k] (an
    /// identity of <paramref name="combine"/>[k], or any element for max) and takes combine[k](acc, terms(j)[k]).
    /// With <paramref name="lanes"/> &gt; 1 the main loop runs that many independent chains by steps of lanes,
    /// a loop takes the remainder, and the chains are combined pairwise at the end; with 1, one loop.
    /// </summary>
    private static Value[] Reduce(LoopBuilder b, int lanes, long n, Value[] inits, Func<Value, Value[]> terms, params Func<Value, Value, Value>[] combine)
    {
        int k = inits.Length;
        var acc = inits;
        long main = n - n % lanes;
        if (main > 0)
        {
            var all = b.For(b.I(0), b.I(main), b.I(lanes), Enumerable.Range(0, lanes).SelectMany(_ => inits).ToArray(), (iv, c) =>
            {
                var next = new Value[lanes * k];
                for (int u = 0; u < lanes; u++)
                {
                    var t = terms(u == 0 ? iv : b.Add(iv, b.I(u)));
                    for (int q = 0; q < k; q++) next[u * k + q] = combine[q](c[u * k + q], t[q]);
                }
                return next;
            });
            var chains = Enumerable.Range(0, lanes).Select(u => all.Skip(u * k).Take(k).ToArray()).ToList();
            while (chains.Count > 1)
            {
                var merged = new List<Value[]>();
                for (int u = 0; u < chains.Count; u += 2)
                    merged.Add(u + 1 < chains.Count
                        ? Enumerable.Range(0, k).Select(q => combine[q](chains[u][q], chains[u + 1][q])).ToArray()
                        : chains[u]);
                chains = merged;
            }
            acc = chains[0];
        }
        if (main < n)
            acc = b.For(b.I(main), b.I(n), b.I(1), acc, (iv, c) =>
            {
                var t = terms(iv);
                return Enumerable.Range(0, k).Select(q => combine[q](c[q], t[q])).ToArray();
            });
        return acc;
    }
}
