using AutoSpIR.Dialects.Tensor;

namespace AutoSpIR.Lowering.Loops.Tensor;

/// <summary>
/// Loop lowerings of reduce_sum reduce_mean reduce_max reduce_max_grad count_valid.
/// <para>
/// The operand is first viewed without size-1 dimensions and with adjacent reduced (or kept) dimensions merged.
/// A reduction is a <c>loop.parallel</c> over its outputs (the kept dimensions) with sequential <c>loop.for</c>
/// nests over the reduced dimensions inside, in operand order (so a reduced last dimension is read
/// contiguously; a float sum there is a loop LLVM vectorizes and reassociates, convert-to-llvm marking it). When
/// the last dimension is kept, each parallel iteration takes a tile of a cache line of adjacent outputs along it
/// (16 f32, 8 f64) and carries one accumulator per column, so every step of the reduced loops reads a line
/// (column sums of a [rows, n] matrix walk its rows, not its columns). A max over a long reduced last dimension
/// (selects, which LLVM does not vectorize) keeps 8 partial maxima over interleaved elements, then combines them.
/// Fewer than 16 outputs of rows of 2^16 or more (a full reduction, a loss) are split: chunks of each row reduced
/// in parallel into per-op scratch, then combined in order per output.
/// f32 sums accumulate in f64 (the interpreter sums in double and rounds once); maxima are
/// exact in the element type.
/// </para>
/// <para>
/// Empty reductions: sum 0, mean NaN (0/0), max -inf; max propagates NaN (as torch.amax and the interpreter).
/// reduce_max_grad counts each group's maxima (ties; NaN counts as equal to a NaN maximum) in a first pass and
/// writes dy / ties to them, 0 elsewhere, in a second. count_valid counts labels != ignore_index sequentially
/// in i64 and converts once to the float result type.
/// </para>
/// </summary>
internal static class ReduceLowering
{
    public static readonly (string Op, OpLowering Lower)[] Rules =
    {
        ("tensor.reduce_sum", (b, op, ins, outs) => Reduce(b, op, ins, outs, Kind.Sum)),
        ("tensor.reduce_mean", (b, op, ins, outs) => Reduce(b, op, ins, outs, Kind.Mean)),
        ("tensor.reduce_max", (b, op, ins, outs) => Reduce(b, op, ins, outs, Kind.Max)),
        ("tensor.reduce_max_grad", ReduceMaxGrad),
        ("tensor.count_valid", CountValid),
    };

    private enum Kind { Sum, Mean, Max }

    /// <summary>A row at least this long, of fewer than <see cref="SplitOutputs"/> outputs, is reduced in parallel chunks (of at least SplitMin / 8).</summary>
    private const long SplitMin = 1 << 16, SplitOutputs = 16;

    /// <summary>Partial accumulators along a reduced last dimension (max).</summary>
    private const int Lanes = 8;

    /// <summary>Outputs per tile along a kept last dimension: a 64-byte cache line of elements (16 f32, 8 f64).</summary>
    private static int TileOf(ScalarType t) => t.Kind == ScalarKind.F32 ? 16 : 8;

    private static void Reduce(LoopBuilder b, Operation op, Value[] ins, Value[] outs, Kind kind)
    {
        var xt = (TensorType)ins[0].Type;
        var (shape, red) = Canonical(xt.Shape.ToArray(), Reduced(op, xt.Rank));
        var x = b.Reinterpret(ins[0], shape);
        var elem = xt.Element;
        var acc = kind == Kind.Max ? elem : b.Ctx.F64;
        long len = 1;
        for (int d = 0; d < shape.Length; d++) if (red[d]) len *= shape[d];
        var y = b.Reinterpret(outs[0], OutShape(shape, red));
        Func<Value, Value, Value> combine = kind == Kind.Max ? (m, v) => MaxNaN(b, m, v) : b.Add;
        Value Init() => kind == Kind.Max ? b.C(double.NegativeInfinity, acc) : b.C(0, acc);
        Value Finish(Value v) => b.Cast(kind == Kind.Mean ? b.Div(v, b.C(len, acc)) : v, elem);
        // Few outputs, each a long contiguous row (everything reduced, or [k, r] over r): the rows are split into
        // chunks reduced in parallel into scratch, then the chunks combined in order per output.
        if (shape[^1] >= SplitMin && red[^1] && (shape.Length == 1 || shape.Length == 2 && shape[0] < SplitOutputs))
        {
            long k = shape.Length == 2 ? shape[0] : 1, r = shape[^1], chunks = Math.Min(256, r / (SplitMin / 8));
            var rows = b.Reinterpret(x, k, r);
            var part = b.Scratch(b.Ctx.Tensor(new[] { k, chunks }, acc));
            b.Parallel(new[] { k, chunks }, i =>
            {
                var (n, c) = (b.I(r), b.I(chunks));
                var lo = b.Div(b.Mul(i[1], n), c);
                var hi = b.Div(b.Mul(b.Add(i[1], b.I(1)), n), c);
                b.Store(b.Fold(lo, hi, Init(), (j, s) => combine(s, b.Cast(b.Load(rows, i[0], j), acc))), part, i[0], i[1]);
            });
            var y1 = b.Reinterpret(y, k);
            b.Parallel(new[] { k }, i =>
                b.Store(Finish(b.Fold(b.I(0), b.I(chunks), Init(), (c, s) => combine(s, b.Load(part, i[0], c)))), y1, i[0]));
            return;
        }
        Groups(b, shape, red, TileOf(elem), g =>
        {
            var init = Init();
            // Split accumulators only for max: LLVM vectorizes (and reassociates) a float sum itself, not the NaN-aware max.
            var res = g.Loop(Enumerable.Repeat(init, g.Width).ToArray(),
                (xi, a) => a.Select((s, w) => combine(s, b.Cast(b.Load(x, xi(w)), acc))).ToArray(), kind == Kind.Max ? combine : null);
            for (int w = 0; w < g.Width; w++) b.Store(Finish(res[w]), y, g.Kept(w));
        });
    }

    /// <summary>
    /// dx[i] = dy[o] / n where x[i] is its group's maximum y[o] (n the group's elements equal to it; with a NaN
    /// maximum, the NaN elements), else 0: per group a counting pass, then a writing pass.
    /// </summary>
    private static void ReduceMaxGrad(LoopBuilder b, Operation op, Value[] ins, Value[] outs)
    {
        var xt = (TensorType)ins[0].Type;
        var (shape, red) = Canonical(xt.Shape.ToArray(), Reduced(op, xt.Rank));
        var (x, dx) = (b.Reinterpret(ins[0], shape), b.Reinterpret(outs[0], shape));
        var elem = xt.Element;
        var outShape = OutShape(shape, red);
        var (y, dy) = (b.Reinterpret(ins[1], outShape), b.Reinterpret(ins[2], outShape));
        Groups(b, shape, red, TileOf(elem), g =>
        {
            var (t, f) = (Bool(b, true), Bool(b, false));
            var ys = new Value[g.Width];
            var yNaN = new Value[g.Width];
            for (int w = 0; w < g.Width; w++)
            {
                ys[w] = b.Load(y, g.Kept(w));
                yNaN[w] = b.Select(b.Cmp("oeq", ys[w], ys[w]), f, t);
            }
            Value IsMax(Value x, int w) => b.Select(yNaN[w], b.Select(b.Cmp("oeq", x, x), f, t), b.Cmp("oeq", x, ys[w]));
            var (one, zeroI) = (b.I(1), b.I(0));
            var ties = g.Loop(Enumerable.Repeat(zeroI, g.Width).ToArray(),
                (xi, n) => n.Select((c, w) => b.Add(c, b.Select(IsMax(b.Load(x, xi(w)), w), one, zeroI))).ToArray(), null);
            var zero = b.C(0, elem);
            var share = new Value[g.Width];
            for (int w = 0; w < g.Width; w++) share[w] = b.Div(b.Load(dy, g.Kept(w)), b.Cast(ties[w], elem));
            g.Loop(Array.Empty<Value>(), (xi, _) =>
            {
                for (int w = 0; w < g.Width; w++)
                {
                    var idx = xi(w);
                    b.Store(b.Select(IsMax(b.Load(x, idx), w), share[w], zero), dx, idx);
                }
                return Array.Empty<Value>();
            }, null);
        });
    }

    /// <summary>n = #{labels != ignore_index} in i64 (sequential), converted once to the result's float type.</summary>
    private static void CountValid(LoopBuilder b, Operation op, Value[] ins, Value[] outs)
    {
        var lt = (TensorType)ins[0].Type;
        var rt = ((TensorType)outs[0].Type).Element;
        long ignore = Dialects.Tensor.CountValid.IgnoreIndexOf(op);
        var (min, max) = lt.Element.Kind switch
        {
            ScalarKind.I1 => (0L, 1L),
            ScalarKind.I8 => (sbyte.MinValue, sbyte.MaxValue),
            ScalarKind.I32 => (int.MinValue, int.MaxValue),
            _ => (long.MinValue, long.MaxValue),
        };
        Value count;
        if (ignore < min || ignore > max) count = b.I(lt.NumElements);   // no label can equal it
        else
        {
            var x = b.Flat(ins[0]);
            var ig = ShapeLowering.IntConst(b, ignore, lt.Element);
            var (one, zero) = (b.I(1), b.I(0));
            count = b.Fold(b.I(0), b.I(lt.NumElements), b.I(0), (i, n) => b.Add(n, b.Select(b.Cmp("ne", b.Load(x, i), ig), one, zero)));
        }
        b.Store(b.Cast(count, rt), outs[0]);
    }

    // ------------------------------------------------------------------ groups

    /// <summary>Steps a reduction: <c>xIndex(w)</c> is the operand index of column w at the current reduced indices.</summary>
    private delegate Value[] Step(Func<int, Value[]> xIndex, Value[] acc);

    /// <summary>One parallel iteration: <see cref="Width"/> adjacent outputs (columns) of a tile.</summary>
    private sealed class Group
    {
        public required int Width { get; init; }

        /// <summary>The output index (over the kept dimensions, or [0] when none) of column w.</summary>
        public required Func<int, Value[]> Kept { get; init; }

        /// <summary>Loops over the reduced dimensions carrying values (per column as the step decides) from the inits;
        /// with a combine (associative, inits its identity) a long reduced last dimension is split into partial lanes.</summary>
        public required Func<Value[], Step, Func<Value, Value, Value>?, Value[]> Loop { get; init; }
    }

    /// <summary>The kept dimensions' sizes (the output buffer's shape), [1] when every dimension is reduced.</summary>
    private static long[] OutShape(long[] shape, bool[] red)
    {
        var s = shape.Where((_, d) => !red[d]).ToArray();
        return s.Length == 0 ? new long[] { 1 } : s;
    }

    /// <summary>
    /// The operand shape without its size-1 dimensions and with adjacent dimensions of the same kind (both reduced
    /// or both kept) merged: the same row-major elements and the same output order ([3, 5, 7] over [1, 2] is
    /// [3, 35] over [1]); [1] kept when nothing is left.
    /// </summary>
    private static (long[] Shape, bool[] Red) Canonical(long[] shape, bool[] red)
    {
        var s = new List<long>();
        var m = new List<bool>();
        for (int d = 0; d < shape.Length; d++)
        {
            if (shape[d] == 1) continue;
            if (s.Count > 0 && m[^1] == red[d]) s[^1] *= shape[d];
            else { s.Add(shape[d]); m.Add(red[d]); }
        }
        return s.Count == 0 ? (new long[] { 1 }, new[] { false }) : (s.ToArray(), m.ToArray());
    }

    private static bool[] Reduced(Operation op, int rank)
    {
        var red = new bool[rank];
        foreach (var d in ShapeLowering.Ints(op, "dims")) red[Dims.Normalize(d, rank)] = true;
        return red;
    }

    /// <summary>
    /// Emits the parallel nests over the outputs of a reduction of <paramref name="shape"/> over <paramref name="red"/>:
    /// tiles of <paramref name="tile"/> columns along a kept last dimension (and one of the remainder), else one output each.
    /// </summary>
    private static void Groups(LoopBuilder b, long[] shape, bool[] red, int tile, Action<Group> body)
    {
        int r = shape.Length;
        var kept = Enumerable.Range(0, r).Where(d => !red[d]).ToArray();
        var reduced = Enumerable.Range(0, r).Where(d => red[d]).ToArray();
        if (kept.Any(d => shape[d] == 0)) return;   // no outputs
        bool tiled = r > 0 && !red[r - 1];
        long last = tiled ? shape[r - 1] : 1;
        int width = tiled ? (int)Math.Min(tile, last) : 1;

        void Emit(int w0, long tiles, long start)
        {
            var upper = kept.Select(d => shape[d]).ToArray();
            if (tiled) upper[^1] = tiles;
            b.Parallel(upper.Length == 0 ? new long[] { 1 } : upper, iv =>
            {
                var keptIv = upper.Length == 0 ? Array.Empty<Value>() : iv;
                // the first column of this tile along the last dimension
                Value? first = tiled ? (tiles == 1 ? b.I(start) : b.Mul(keptIv[^1], b.I(w0))) : null;
                if (tiled && tiles != 1 && start != 0) first = b.Add(first!, b.I(start));
                // every column's index up front, at the top of the body (dominating the loops below)
                var cols = tiled ? Enumerable.Range(0, w0).Select(w => w == 0 ? first! : b.Add(first!, b.I(w))).ToArray() : Array.Empty<Value>();
                Value Col(int w) => cols[w];
                Value[] Kept(int w)
                {
                    if (keptIv.Length == 0) return new[] { b.I(0) };
                    var k = (Value[])keptIv.Clone();
                    if (tiled) k[^1] = Col(w);
                    return k;
                }
                var redIv = new Value[reduced.Length];
                Value[] XIndex(int w)
                {
                    var idx = new Value[r];
                    int ki = 0, ri = 0;
                    for (int d = 0; d < r; d++) idx[d] = red[d] ? redIv[ri++] : (tiled && d == r - 1 ? Col(w) : keptIv[ki++]);
                    return idx;
                }
                Value[] Loop(Value[] inits, Step step, Func<Value, Value, Value>? combine)
                {
                    Value[] Rec(int l, Value[] acc)
                    {
                        if (l == reduced.Length) return step(XIndex, acc);
                        long size = shape[reduced[l]];
                        bool lanes = combine is not null && inits.Length > 0 && !tiled && l == reduced.Length - 1 && reduced[l] == r - 1 && size >= 2 * Lanes;
                        if (!lanes)
                            return ShapeLowering.For(b, b.I(0), b.I(size), b.I(1), acc, (i, c) => { redIv[l] = i; return Rec(l + 1, c); });
                        // Lanes partial accumulators over elements i, i+1, ..., i+Lanes-1; lane 0 continues acc, the others start at the identity.
                        int k = acc.Length;
                        long main = size - size % Lanes;
                        var laneInit = acc.Concat(Enumerable.Range(1, Lanes - 1).SelectMany(_ => inits)).ToArray();
                        var res = b.For(b.I(0), b.I(main), b.I(Lanes), laneInit, (i, c) =>
                        {
                            var next = new List<Value>(c.Length);
                            for (int u = 0; u < Lanes; u++)
                            {
                                redIv[l] = u == 0 ? i : b.Add(i, b.I(u));
                                next.AddRange(step(XIndex, c.Skip(u * k).Take(k).ToArray()));
                            }
                            return next.ToArray();
                        });
                        var parts = Enumerable.Range(0, Lanes).Select(u => res.Skip(u * k).Take(k).ToArray()).ToList();
                        while (parts.Count > 1)
                        {
                            var merged = new List<Value[]>();
                            for (int p = 0; p + 1 < parts.Count; p += 2)
                                merged.Add(parts[p].Zip(parts[p + 1], combine!).ToArray());
                            if (parts.Count % 2 == 1) merged.Add(parts[^1]);
                            parts = merged;
                        }
                        if (main == size) return parts[0];
                        return b.For(b.I(main), b.I(size), b.I(1), parts[0], (i, c) => { redIv[l] = i; return step(XIndex, c); });
                    }
                    return Rec(0, inits);
                }
                body(new Group { Width = w0, Kept = Kept, Loop = Loop });
            });
        }

        if (!tiled) { Emit(1, 1, 0); return; }
        long full = last / width, rest = last % width;
        if (full > 0) Emit(width, full, 0);
        if (rest > 0) Emit((int)rest, 1, full * width);
    }

    /// <summary>max(m, v) that propagates a NaN of either: v when v is NaN, else the larger (m stays NaN once it is).</summary>
    private static Value MaxNaN(LoopBuilder b, Value m, Value v) =>
        b.Select(b.Cmp("oeq", v, v), b.Select(b.Cmp("ogt", v, m), v, m), v);

    private static Value Bool(LoopBuilder b, bool v) => ShapeLowering.IntConst(b, v ? 1 : 0, b.Ctx.I1);
}
