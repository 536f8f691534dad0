using AutoSpIR.Dialects.Dist;
using AutoSpIR.Dialects.Func;
using AutoSpIR.Dialects.Tensor;

namespace AutoSpIR.Passes.AutoSp;

/// <summary>
/// <c>ulysses{sp=P,dp=D}</c>: DeepSpeed-Ulysses sequence parallelism for every attention of a
/// training step, in the GLOBAL view (runs before <c>sharding-propagation</c>). Around each
/// <c>tensor.attention</c> it places reshards from sequence-sharded to head-sharded and back:
/// <code>
/// %qh = dist.reshard %q : tensor&lt;1x64x4x16xf32&gt; -&gt; tensor&lt;1x64x4x16xf32, #dist.sharding&lt;@mesh, [{}, {}, {"sp"}, {}]&gt;&gt;
/// %kh = ..., %vh = ...
/// %oh = tensor.attention %qh, %kh, %vh {causal} : ... -&gt; tensor&lt;1x64x4x16xf32, #dist.sharding&lt;@mesh, [{}, {}, {"sp"}, {}]&gt;&gt;
/// %o  = dist.reshard %oh : ... -&gt; tensor&lt;1x64x4x16xf32, #dist.sharding&lt;@mesh, [{}, {"sp"}, {}, {}]&gt;&gt;
/// </code>
/// so each rank runs the whole sequence for H/P heads; <c>dist-partition</c> turns each reshard
/// into one all-to-all. <c>tensor.attention_grad</c> gets the same: its q, k, v are the
/// forward's head-sharded values (no new exchange), dO goes to heads, and dq, dk, dv come back
/// to sequence shards: four all-to-alls forward (q, k, v, o) and four backward (dO, dq, dk, dv).
/// With data parallelism the batch stays split over "dp" throughout.
/// <para>
/// Head layout (<see cref="HeadPlan"/>), with Hq = Hkv * g query heads in Hkv groups: when P
/// divides Hkv, every rank gets Hkv/P KV heads with their groups; when Hkv &lt; P and Hkv
/// divides P, each KV head is repeated f = P/Hkv times, so every rank receives exactly the one
/// KV head its query heads use (never all Hq), and a group of g query heads that f does not
/// divide is padded to ceil(g/f)*f heads with zeros (Qwen2-7B on 8 ranks: groups of 7 become
/// 8, each rank holds 4 query heads, 3 or 4 of them real, like DeepSpeed's uneven split, at 8/7
/// of its query bytes). The padded heads' outputs are dropped and their gradients are zero;
/// the gradients of the KV copies are summed back onto their head. Other KV head counts are
/// repeated to Hq (one per query head), and query heads P does not divide are then split in
/// padded shards of ceil(Hq/P). P above Hq is an error: it needs a head-and-sequence hybrid
/// layout. A sequence that does not divide over P is padded at its end, which is exact only
/// for causal attention (no real position sees a padded one): non-causal attention with such
/// a length is an error.
/// </para>
/// <para>
/// Every reshard it places carries <c>aspir.layer = L</c>, L counting attention ops in program
/// order (their gradients get the layer of the forward op with the same query).
/// </para>
/// </summary>
public sealed class Ulysses(long sp, long dp) : Pass
{
    public override string Name => "ulysses";

    public override bool Run(Operation op, PassContext pc)
    {
        var module = SpMesh.ModuleOf(op);
        if (SpMesh.GetOrCreate(module, sp, dp, Name, pc) is not { } mesh) return false;
        if (sp == 1) return true;
        bool ok = true;
        foreach (var func in SpMesh.ModelSteps(module)) ok &= new Rewrite(func, mesh, pc).Run();
        return ok;
    }

    /// <summary>Why an attention with these head counts cannot run over <paramref name="p"/> ranks, or null.</summary>
    public static string? Unsupported(long hq, long hkv, long p) =>
        hq < p ? $"{p} sequence-parallel ranks exceed the {hq} query heads of this attention; Ulysses gives every rank at least one head (a head-and-sequence hybrid layout is not supported yet)"
        : hkv < 1 || hq % hkv != 0 ? $"{hq} query heads are not a multiple of the {hkv} key/value heads"
        : null;

    /// <summary>
    /// How the heads of one attention are laid out for the exchange: each KV head repeated
    /// <see cref="KvRepeat"/> times, each group of query heads (the ones sharing a KV head) padded
    /// from <see cref="Group"/> to <see cref="PaddedGroup"/> heads.
    /// </summary>
    public sealed record HeadPlan(long KvRepeat, long Group, long PaddedGroup)
    {
        public static HeadPlan Of(long hq, long hkv, long p)
        {
            long g = hq / hkv;
            if (hkv % p == 0) return new HeadPlan(1, g, g);
            if (p % hkv == 0)
            {
                long f = p / hkv;
                return new HeadPlan(f, g, (g + f - 1) / f * f);
            }
            return new HeadPlan(g, g, g);   // one KV head per query head; the query heads split as they are (padded shards)
        }
    }

    private sealed class Rewrite(Operation func, DeviceMesh mesh, PassContext pc)
    {
        private readonly Context _ctx = func.Context;
        private readonly Rewriter _b = new(func.Context);
        private readonly Dictionary<(Value, Type), Value> _reshards = new();
        private readonly Dictionary<(Value, long), Value> _repeats = new();
        private readonly Dictionary<Value, Value> _padded = new();
        private readonly Dictionary<Value, long> _layerOfQuery = new();
        private long _p;

        public bool Run()
        {
            _p = mesh.SizeOf(SpMesh.SeqAxis);
            long layer = 0;
            foreach (var op in func.Region(0).EntryBlock!.Ops.ToList())
            {
                if (op.Name == Attention.Def.Name)
                {
                    if (!Check(op)) return false;
                    _layerOfQuery[op.Operand(0)] = layer;
                    Forward(op, layer++);
                }
                else if (op.Name == AttentionGrad.Def.Name)
                {
                    if (!Check(op)) return false;
                    Backward(op, _layerOfQuery.TryGetValue(op.Operand(0), out var l) ? l : layer++);
                }
            }
            // A result that is an attention's output (or gradient) is now sequence-sharded.
            FuncDialect.SyncSignature(func);
            return true;
        }

        private bool Check(Operation op)
        {
            var q = (TensorType)op.Operand(0).Type;
            var k = (TensorType)op.Operand(1).Type;
            if (Unsupported(q.Dim(2), k.Dim(2), _p) is { } why)
            {
                pc.Diagnostics.Error(op.Location, $"ulysses: {why}");
                return false;
            }
            if (q.Dim(1) % _p != 0 && !op.HasAttr("causal"))
            {
                pc.Diagnostics.Error(op.Location,
                    $"ulysses: the sequence length {q.Dim(1)} does not divide over {_p} ranks and this attention is not causal: padding the sequence would let real positions attend to padded ones");
                return false;
            }
            return true;
        }

        private string[] BatchAxes => mesh.HasAxis(SpMesh.BatchAxis) ? new[] { SpMesh.BatchAxis } : Array.Empty<string>();

        private TensorType Heads(TensorType t) => _ctx.WithEncoding(t,
            ShardingAttr.Get(_ctx, SpMesh.Name, new[] { BatchAxes, Array.Empty<string>(), new[] { SpMesh.SeqAxis }, Array.Empty<string>() }));

        private TensorType Sequence(TensorType t) => _ctx.WithEncoding(t,
            ShardingAttr.Get(_ctx, SpMesh.Name, new[] { BatchAxes, new[] { SpMesh.SeqAxis }, Array.Empty<string>(), Array.Empty<string>() }));

        private Value ToHeads(Value x, long layer)
        {
            var type = Heads((TensorType)x.Type);
            if (_reshards.TryGetValue((x, type), out var r)) return r;
            return _reshards[(x, type)] = Reshard(x, type, layer);
        }

        private Value Reshard(Value x, TensorType type, long layer)
        {
            var r = _b.Create(Dialects.Dist.Reshard.Def.Name, new[] { x }, new Type[] { type });
            r.SetAttr(SpMesh.LayerAttr, _ctx.Integer(layer));
            return r.Result(0);
        }

        /// <summary>[B, S, H, D] -&gt; [B, S, H*f, D], head h*f + j a copy of head h.</summary>
        private Value Repeat(Value x, long f)
        {
            if (f == 1) return x;
            if (_repeats.TryGetValue((x, f), out var r)) return r;
            var t = (TensorType)x.Type;
            var wide = Grad.Broadcast(_b, x, new[] { t.Dim(0), t.Dim(1), t.Dim(2), f, t.Dim(3) }, new[] { 0, 1, 2, 4 });
            return _repeats[(x, f)] = Grad.Reshape(_b, wide, _ctx.Tensor(new[] { t.Dim(0), t.Dim(1), t.Dim(2) * f, t.Dim(3) }, t.Element));
        }

        /// <summary>The gradient of <see cref="Repeat"/>: the copies' gradients summed onto their head.</summary>
        private Value SumRepeats(Value dx, TensorType original, long f)
        {
            if (f == 1) return dx;
            var t = (TensorType)dx.Type;
            var split = Grad.Reshape(_b, dx, _ctx.Tensor(new[] { t.Dim(0), t.Dim(1), original.Dim(2), f, t.Dim(3) }, t.Element));
            return Grad.ReduceSum(_b, split, new[] { 3 });
        }

        private HeadPlan PlanOf(Operation op) =>
            HeadPlan.Of(((TensorType)op.Operand(0).Type).Dim(2), ((TensorType)op.Operand(1).Type).Dim(2), _p);

        /// <summary>[B, S, Hkv*g, D] -&gt; [B, S, Hkv*g', D]: each group of query heads padded with zero heads at its end.</summary>
        private Value PadGroups(Value x, long hkv, HeadPlan plan)
        {
            if (plan.PaddedGroup == plan.Group) return x;
            var t = (TensorType)x.Type;
            var grouped = Grad.Reshape(_b, x, _ctx.Tensor(new[] { t.Dim(0), t.Dim(1), hkv, plan.Group, t.Dim(3) }, t.Element));
            var padded = _b.Create(Pad.Def.Name, new[] { grouped },
                new Type[] { _ctx.Tensor(new[] { t.Dim(0), t.Dim(1), hkv, plan.PaddedGroup, t.Dim(3) }, t.Element) },
                _b.Attrs(("low", _ctx.IntArray(new long[5])), ("high", _ctx.IntArray(new long[] { 0, 0, 0, plan.PaddedGroup - plan.Group, 0 })))).Result(0);
            return Grad.Reshape(_b, padded, _ctx.Tensor(new[] { t.Dim(0), t.Dim(1), hkv * plan.PaddedGroup, t.Dim(3) }, t.Element));
        }

        /// <summary>The inverse of <see cref="PadGroups"/>: the padding heads dropped.</summary>
        private Value UnpadGroups(Value x, long hkv, HeadPlan plan)
        {
            if (plan.PaddedGroup == plan.Group) return x;
            var t = (TensorType)x.Type;
            var grouped = Grad.Reshape(_b, x, _ctx.Tensor(new[] { t.Dim(0), t.Dim(1), hkv, plan.PaddedGroup, t.Dim(3) }, t.Element));
            var sliced = _b.Create(Slice.Def.Name, new[] { grouped },
                new Type[] { _ctx.Tensor(new[] { t.Dim(0), t.Dim(1), hkv, plan.Group, t.Dim(3) }, t.Element) },
                _b.Attrs(("offsets", _ctx.IntArray(new long[5])), ("sizes", _ctx.IntArray(new[] { t.Dim(0), t.Dim(1), hkv, plan.Group, t.Dim(3) })))).Result(0);
            return Grad.Reshape(_b, sliced, _ctx.Tensor(new[] { t.Dim(0), t.Dim(1), hkv * plan.Group, t.Dim(3) }, t.Element));
        }

        private static long KvHeads(Operation op) => ((TensorType)op.Operand(1).Type).Dim(2);

        /// <summary>The query-like operand <paramref name="x"/> (q or dO) padded and exchanged to heads, shared between forward and backward.</summary>
        private Value QueryToHeads(Value x, long hkv, HeadPlan plan, long layer)
        {
            if (plan.PaddedGroup == plan.Group) return ToHeads(x, layer);
            if (!_padded.TryGetValue(x, out var p)) _padded[x] = p = PadGroups(x, hkv, plan);
            return ToHeads(p, layer);
        }

        private void Forward(Operation op, long layer)
        {
            _b.SetInsertionPoint(op);
            _b.Location = op.Location;
            var plan = PlanOf(op);
            long hkv = KvHeads(op);
            var qh = QueryToHeads(op.Operand(0), hkv, plan, layer);
            var kh = ToHeads(Repeat(op.Operand(1), plan.KvRepeat), layer);
            var vh = ToHeads(Repeat(op.Operand(2), plan.KvRepeat), layer);
            var outType = (TensorType)op.Result(0).Type;
            var paddedOut = _ctx.Tensor(new[] { outType.Dim(0), outType.Dim(1), hkv * plan.PaddedGroup, outType.Dim(3) }, outType.Element);
            var oh = _b.Create(op.Name, new[] { qh, kh, vh }, new Type[] { Heads(paddedOut) }, op.Attributes).Result(0);
            var o = Reshard(oh, Sequence(paddedOut), layer);
            _b.ReplaceOp(op, UnpadGroups(o, hkv, plan));
        }

        private void Backward(Operation op, long layer)
        {
            _b.SetInsertionPoint(op);
            _b.Location = op.Location;
            var plan = PlanOf(op);
            long hkv = KvHeads(op);
            var qh = QueryToHeads(op.Operand(0), hkv, plan, layer);
            var kr = Repeat(op.Operand(1), plan.KvRepeat);
            var vr = Repeat(op.Operand(2), plan.KvRepeat);
            var kh = ToHeads(kr, layer);
            var vh = ToHeads(vr, layer);
            var doh = QueryToHeads(op.Operand(3), hkv, plan, layer);
            var grads = _b.Create(op.Name, new[] { qh, kh, vh, doh },
                new Type[] { qh.Type, kh.Type, vh.Type }, op.Attributes);
            var dq = UnpadGroups(Reshard(grads.Result(0), Sequence(Plain(qh.Type)), layer), hkv, plan);
            var dk = SumRepeats(Reshard(grads.Result(1), Sequence((TensorType)kr.Type), layer), (TensorType)op.Operand(1).Type, plan.KvRepeat);
            var dv = SumRepeats(Reshard(grads.Result(2), Sequence((TensorType)vr.Type), layer), (TensorType)op.Operand(2).Type, plan.KvRepeat);
            _b.ReplaceOp(op, new[] { dq, dk, dv });
        }

        private TensorType Plain(Type t) => _ctx.WithEncoding((TensorType)t, null);
    }
}
