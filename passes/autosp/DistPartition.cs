using AutoSpIR.Dialects.Dist;
using AutoSpIR.Dialects.Func;
using AutoSpIR.Dialects.Tensor;

namespace AutoSpIR.Passes.AutoSp;

/// <summary>
/// <c>dist-partition</c>: turns a sharded program of the GLOBAL view (every type with its
/// <c>#dist.sharding</c>, from <c>sharding-propagation</c>) into the program ONE rank runs: every
/// type becomes the local shape of its shard, without encoding, and every
/// <c>dist.reshard</c> becomes the collectives that move the data:
/// <list type="bullet">
/// <item>partial -&gt; not partial over axes A: <c>dist.all_reduce</c> (sum) over A;</item>
/// <item>dimension i split over A -&gt; dimension j split over A: one <c>dist.all_to_all</c>
/// (split j, concatenate i) over A: the Ulysses exchange;</item>
/// <item>dimension i split over A -&gt; whole: <c>dist.all_gather</c> along i over A;</item>
/// <item>whole -&gt; split: only for a splat constant, which is rebuilt at the shard's shape.</item>
/// </list>
/// A dimension split unevenly is padded at its end (each shard holds ceil(n/K) positions): the
/// exchanges pad a dimension with zeros before splitting it and slice the padding off after
/// joining it. Ops whose result depends on where a shard sits get that position: a
/// <c>tensor.rope</c>/<c>tensor.rope_grad</c> whose sequence is split gets the offset operand
/// <c>dist.axis_index * (local length)</c>; a <c>tensor.shift</c> along a split dimension (the
/// label shift) takes its first <c>amount</c> rows from the next rank with <c>dist.shift</c>
/// (the last rank gets <c>fill</c>). Every other op computes on its shard as it is (the
/// propagation left split only factors for which that is right; a Reduction factor leaves a
/// local partial sum, reduced where a reshard says so).
/// <para>
/// Arguments get their local types and the attributes <c>dist.sharding</c> (how the global
/// argument is cut, for <c>autosp-run --ranks</c>) and, when padded,
/// <c>aspir.global_shape</c>. Results must be replicated (the propagation makes them so).
/// Collectives inherit the reshard's <c>aspir.layer</c>.
/// </para>
/// <para>
/// Padding is exact for causal decoder training steps: padded positions come after every real
/// one, so causal attention never lets a real position see them; their labels are padded with
/// ignore_index (<c>aspir.pad_value</c>, set by <c>sp-legalize</c>), so the loss does not count
/// them and their gradients are zero, which keeps the partial sums of weight gradients exact.
/// The ulysses pass rejects non-causal attention over a padded sequence; a tensor.shift over a
/// padded argument whose pad value is not the shift's fill is rejected here.
/// </para>
/// <para>
/// Errors: a func without a mesh but with sharded types; a reshard that is none of the above;
/// attention whose query sequence is still split (run <c>ulysses</c>); an op whose result
/// sharding the partitioner cannot honour.
/// </para>
/// </summary>
public sealed class DistPartition : Pass
{
    public override string Name => "dist-partition";

    public const string ShardingArgAttr = "dist.sharding";
    public const string GlobalShapeAttr = "aspir.global_shape";

    public override bool Run(Operation op, PassContext pc)
    {
        var module = SpMesh.ModuleOf(op);
        var funcs = SpMesh.ModelSteps(module);
        if (funcs.Count == 0) return true;
        if (SpMesh.Find(module) is not { } mesh)
        {
            bool sharded = false;
            module.Walk(o => sharded |= o.Results.Any(r => ShardingAttr.Of(r.Type) is not null));
            if (!sharded) return true;
            pc.Diagnostics.Error(module.Location, $"dist-partition: the program has sharded types but no dist.mesh @{SpMesh.Name}");
            return false;
        }
        bool ok = true;
        foreach (var func in funcs) ok &= new Partitioner(func, mesh, pc).Run();
        return ok;
    }

    private sealed class Partitioner(Operation func, DeviceMesh mesh, PassContext pc)
    {
        private readonly Context _ctx = func.Context;
        private readonly Rewriter _b = new(func.Context);
        // The global type of every value of the function before partitioning (types are made local in place).
        private readonly Dictionary<Value, Type> _global = new();

        private Type G(Value v) => _global.TryGetValue(v, out var t) ? t : v.Type;

        public bool Run()
        {
            var block = func.Region(0).EntryBlock!;
            foreach (var a in block.Arguments) _global[a] = a.Type;
            foreach (var o in block.Ops)
                foreach (var r in o.Results) _global[r] = r.Type;
            foreach (var a in block.Arguments)
            {
                if (a.Type is not TensorType t || ShardingAttr.Of(t) is not { } sh) continue;
                if (sh.IsPartial) return Fail(func, $"dist-partition: argument #{a.Index} is partial; arguments must be split or replicated");
                if (!sh.IsReplicated)
                {
                    FuncDialect.SetArgAttr(func, a.Index, ShardingArgAttr, sh);
                    if (sh.IsPadded(t.Shape, mesh.AxisSizes))
                        FuncDialect.SetArgAttr(func, a.Index, GlobalShapeAttr, _ctx.IntArray(t.Shape.ToArray()));
                }
                a.Type = Local(t);
            }
            foreach (var op in block.Ops.ToList())
                if (!Visit(op)) return false;
            FuncDialect.SyncSignature(func);
            return true;
        }

        private bool Fail(Operation at, string message)
        {
            pc.Diagnostics.Error(at.Location, message);
            return false;
        }

        private TensorType Local(TensorType t) =>
            ShardingAttr.Of(t) is { } sh ? _ctx.Tensor(sh.LocalShape(t.Shape, mesh), t.Element) : _ctx.WithEncoding(t, null);

        private Type Local(Type t) => t is TensorType tt ? Local(tt) : t;

        /// <summary>The sequence-like split of dimension <paramref name="dim"/> of a global type: its axes, shard count, local size.</summary>
        private (string[] Axes, long K, long Local, bool Padded)? SplitOf(Type t, int dim)
        {
            if (ShardingAttr.Of(t) is not { } sh || sh.AxesOf(dim).Count == 0) return null;
            var axes = sh.AxesOf(dim).ToArray();
            long k = axes.Aggregate(1L, (p, a) => p * mesh.SizeOf(a));
            long n = ((TensorType)t).Dim(dim);
            long c = (n + k - 1) / k;
            return (axes, k, c, c * k != n);
        }

        private bool Visit(Operation op)
        {
            _b.SetInsertionPoint(op);
            _b.Location = op.Location;
            switch (op.Name)
            {
                case "func.return":
                    // The global type: arguments and earlier results are already local here.
                    foreach (var v in op.Operands)
                        if (ShardingAttr.Of(G(v)) is { IsReplicated: false })
                            return Fail(op, "dist-partition: a function result is still sharded or partial; results must be replicated");
                    return true;
                case "dist.reshard":
                    return LowerReshard(op);
                case "tensor.constant":
                    return LowerConstant(op);
                case "tensor.attention" or "tensor.attention_grad" when SplitOf(G(op.Operand(0)), 1) is not null:
                    return Fail(op, $"dist-partition: '{op.Name}' has its query sequence split; run the ulysses pass first (autosp does)");
                case "tensor.embedding_grad" when SplitOf(op.Result(0).Type, 0) is not null:
                    return Fail(op, "dist-partition: an embedding gradient with its table rows split is not supported");
                case "tensor.rope" or "tensor.rope_grad" when SplitOf(G(op.Operand(0)), 1) is { } split:
                    return LowerRope(op, split);
                case "tensor.shift" when SplitOf(G(op.Operand(0)), ShiftDim(op)) is { } split:
                    return LowerShift(op, split);
            }
            foreach (var r in op.Results) r.Type = Local(r.Type);
            // Attributes that spell out the result shape: a split dimension is a Parallel factor
            // (for a slice: taken whole), so the local size replaces the global one.
            if (op.Name == "tensor.broadcast")
                op.SetAttr("shape", _ctx.IntArray(((TensorType)op.Result(0).Type).Shape.ToArray()));
            if (op.Name == "tensor.slice")
                op.SetAttr("sizes", _ctx.IntArray(((TensorType)op.Result(0).Type).Shape.ToArray()));
            return true;
        }

        private static int ShiftDim(Operation op)
        {
            long d = op.GetInt("dim") ?? 0;
            int rank = ((TensorType)op.Operand(0).Type).Rank;
            return (int)(d < 0 ? d + rank : d);
        }

        private bool LowerConstant(Operation op)
        {
            var global = (TensorType)op.Result(0).Type;
            var local = Local(global);
            if (!ReferenceEquals(local, global) && op.GetAttr("value") is DenseElementsAttr d && !ReferenceEquals(d.Type, local))
            {
                if (!d.IsSplat) return Fail(op, "dist-partition: a non-splat constant cannot be split across ranks");
                op.SetAttr("value", _ctx.Splat(local, d.GetDouble(0)));
            }
            op.Result(0).Type = local;
            return true;
        }

        private Group GroupOf(IEnumerable<string> axes) => Group.Get(mesh, axes.OrderBy(mesh.AxisIndex).ToArray());

        private Value Tag(Value v, Operation reshard)
        {
            if (reshard.GetAttr(SpMesh.LayerAttr) is { } layer && v.DefiningOp is { DialectName: "dist" } c) c.SetAttr(SpMesh.LayerAttr, layer);
            return v;
        }

        private bool LowerReshard(Operation op)
        {
            var srcType = (TensorType)G(op.Operand(0));
            var dstType = (TensorType)op.Result(0).Type;
            var src = ShardingAttr.Of(srcType) ?? ShardingAttr.Replicated(_ctx, SpMesh.Name, srcType.Rank);
            var dst = ShardingAttr.Of(dstType) ?? ShardingAttr.Replicated(_ctx, SpMesh.Name, dstType.Rank);
            var x = op.Operand(0);
            var globalShape = dstType.Shape.ToArray();

            // Splat constants: rebuilt at the target's local shape, no communication.
            if (x.DefiningOp is { Name: "tensor.constant" } c && c.GetAttr("value") is DenseElementsAttr { IsSplat: true } splat && !dst.IsPartial)
            {
                var local = Local(dstType);
                var v = _b.Create(c.Name, Array.Empty<Value>(), new Type[] { local }, _b.Attrs(("value", _ctx.Splat(local, splat.GetDouble(0))))).Result(0);
                Replace(op, v);
                return true;
            }

            if (dst.PartialAxes.Except(src.PartialAxes).Any())
                return Fail(op, $"dist-partition: cannot make a value partial over {DistVerify.AxesText(dst.PartialAxes)} by resharding");
            var reduce = src.PartialAxes.Except(dst.PartialAxes).ToArray();
            if (reduce.Length > 0) x = Tag(AllReduce.Create(_b, x, GroupOf(reduce)), op);

            var cur = Enumerable.Range(0, src.Rank).Select(d => src.AxesOf(d).ToArray()).ToArray();
            var want = Enumerable.Range(0, dst.Rank).Select(d => dst.AxesOf(d).ToArray()).ToArray();
            long K(string[] axes) => axes.Aggregate(1L, (p, a) => p * mesh.SizeOf(a));
            long Ceil(long n, long k) => (n + k - 1) / k;

            // Dimension i split over A going to dimension j (whole before): one all-to-all.
            for (int i = 0; i < cur.Length; i++)
            {
                if (cur[i].Length == 0 || cur[i].SequenceEqual(want[i])) continue;
                int j = Array.FindIndex(want, w => w.SequenceEqual(cur[i]));
                if (j < 0 || j == i || cur[j].Length != 0 || want[i].Length != 0) continue;
                long k = K(cur[i]);
                long nj = globalShape[j], ni = globalShape[i];
                if (nj % k != 0) x = PadDim(x, j, Ceil(nj, k) * k - nj);
                x = Tag(AllToAll.Create(_b, x, Group.Get(mesh, cur[i]), splitDim: j, concatDim: i), op);
                if (ni % k != 0) x = SliceDim(x, i, ni);
                (cur[j], cur[i]) = (cur[i], Array.Empty<string>());
            }
            // Split -> whole: all-gather.
            for (int i = 0; i < cur.Length; i++)
            {
                if (cur[i].Length == 0 || cur[i].SequenceEqual(want[i])) continue;
                if (want[i].Length != 0)
                    return Fail(op, $"dist-partition: cannot reshard dimension {i} from {DistVerify.AxesText(cur[i])} to {DistVerify.AxesText(want[i])}");
                long k = K(cur[i]);
                x = Tag(AllGather.Create(_b, x, Group.Get(mesh, cur[i]), i), op);
                if (globalShape[i] % k != 0) x = SliceDim(x, i, globalShape[i]);
                cur[i] = Array.Empty<string>();
            }
            for (int i = 0; i < cur.Length; i++)
                if (!cur[i].SequenceEqual(want[i]))
                    return Fail(op, $"dist-partition: cannot split dimension {i} of a whole value over {DistVerify.AxesText(want[i])} (only splat constants are split without communication)");
            Replace(op, x);
            return true;
        }

        /// <summary>Replaces a one-result op, keeping the record of the global type for the replacement.</summary>
        private void Replace(Operation op, Value replacement)
        {
            _global[replacement] = _global[op.Result(0)];
            _b.ReplaceOp(op, replacement);
        }

        private Value PadDim(Value x, int dim, long extra)
        {
            var t = (TensorType)x.Type;
            var low = new long[t.Rank];
            var high = new long[t.Rank];
            high[dim] = extra;
            var shape = t.Shape.ToArray();
            shape[dim] += extra;
            return _b.Create("tensor.pad", new[] { x }, new Type[] { _ctx.Tensor(shape, t.Element) },
                _b.Attrs(("low", _ctx.IntArray(low)), ("high", _ctx.IntArray(high)))).Result(0);
        }

        private Value SliceDim(Value x, int dim, long size, long offset = 0)
        {
            var t = (TensorType)x.Type;
            var offsets = new long[t.Rank];
            offsets[dim] = offset;
            var sizes = t.Shape.ToArray();
            sizes[dim] = size;
            return _b.Create("tensor.slice", new[] { x }, new Type[] { _ctx.Tensor(sizes, t.Element) },
                _b.Attrs(("offsets", _ctx.IntArray(offsets)), ("sizes", _ctx.IntArray(sizes)))).Result(0);
        }

        /// <summary>rope on a sequence shard: position offset = this rank's index along the axes times the local length.</summary>
        private bool LowerRope(Operation op, (string[] Axes, long K, long Local, bool Padded) split)
        {
            if (op.NumOperands > 1) return Fail(op, $"dist-partition: '{op.Name}' already has an offset operand");
            var index = AxisIndex.Create(_b, Group.Get(mesh, split.Axes));
            var stride = _b.Create("tensor.constant", Array.Empty<Value>(), new Type[] { index.Type },
                _b.Attrs(("value", _ctx.DenseInts((TensorType)index.Type, new[] { split.Local })))).Result(0);
            var offset = _b.Create("tensor.mul", new[] { index, stride }, new Type[] { index.Type }).Result(0);
            var local = _b.Create(op.Name, new[] { op.Operand(0), offset }, new[] { Local(op.Result(0).Type) }, op.Attributes).Result(0);
            Replace(op, local);
            return true;
        }

        /// <summary>tensor.shift along a split dimension: the first <c>amount</c> rows of the next shard fill the end.</summary>
        private bool LowerShift(Operation op, (string[] Axes, long K, long Local, bool Padded) split)
        {
            int dim = ShiftDim(op);
            long amount = op.GetInt("amount") ?? 0;
            var fill = op.GetAttr("fill") ?? _ctx.Integer(0);
            if (amount < 0 || amount > split.Local)
                return Fail(op, $"dist-partition: a shift by {amount} along a dimension split into shards of {split.Local} is not supported (0 <= amount <= shard length)");
            if (split.Padded && op.Operand(0) is BlockArgument arg
                && !Equals(NumberOf(FuncDialect.ArgAttrs(func, arg.Index).Get(SpLegalize.PadValueAttr)) ?? 0.0, NumberOf(fill)))
                return Fail(op, $"dist-partition: argument #{arg.Index} is padded with a value other than the shift's fill {fill}; set its {SpLegalize.PadValueAttr} to the fill");
            var x = op.Operand(0);
            var resultType = Local(op.Result(0).Type);
            if (amount == 0)
            {
                Replace(op, x);
                return true;
            }
            var head = SliceDim(x, dim, amount);
            var halo = _b.Create(Dialects.Dist.Shift.Def.Name, new[] { head }, new[] { head.Type },
                _b.Attrs(("mesh", _ctx.Symbol(mesh.Name)), ("axes", DistDialect.Axes(_ctx, split.Axes)),
                    ("offset", _ctx.Integer(-1)), ("fill", fill))).Result(0);
            var rest = SliceDim(x, dim, split.Local - amount, amount);
            var y = _b.Create(Concat.Def.Name, new[] { rest, halo }, new Type[] { resultType }, _b.Attrs(("dim", _ctx.Integer(dim)))).Result(0);
            Replace(op, y);
            return true;
        }

        private static double? NumberOf(Attribute? a) => a switch
        {
            IntegerAttr i => i.Value,
            FloatAttr f => f.Value,
            _ => null,
        };
    }
}
