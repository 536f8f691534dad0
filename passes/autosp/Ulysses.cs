using AutoSpIR.Dialects.Dist;
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
/// Key/value heads (grouped-query attention, Hkv &lt; Hq): split as they are when Hkv % P == 0;
/// when Hkv &lt; P and P % Hkv == 0 each KV head is first repeated P/Hkv times, so every rank
/// receives exactly the one KV head its query heads use (never all Hq); the gradients of the
/// copies are summed back onto their head. Any other KV head count is repeated to Hq (one KV
/// head per query head).
/// </para>
/// <para>
/// Query heads that do not divide over P (Hq % P != 0) are split in padded shards of
/// ceil(Hq/P) heads (the last ranks hold zero heads that are dropped on the way back; their
/// gradients are zero), with the KV heads repeated to Hq so each rank's heads pair up. P above
/// Hq is an error: it needs a head-and-sequence hybrid layout. A sequence that does not divide
/// over P is padded at its end, which is exact only for causal attention (no real position sees
/// a padded one): non-causal attention with such a length is an error.
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

    /// <summary>How many times each KV head is repeated before the exchange.</summary>
    public static long KvRepeat(long hq, long hkv, long p) =>
        hq % p == 0 && hkv % p == 0 ? 1
        : hq % p == 0 && p % hkv == 0 ? p / hkv
        : hq / hkv;

    private sealed class Rewrite(Operation func, DeviceMesh mesh, PassContext pc)
    {
        private readonly Context _ctx = func.Context;
        private readonly Rewriter _b = new(func.Context);
        private readonly Dictionary<(Value, Type), Value> _reshards = new();
        private readonly Dictionary<(Value, long), Value> _repeats = new();
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

        private long RepeatOf(Operation op) =>
            KvRepeat(((TensorType)op.Operand(0).Type).Dim(2), ((TensorType)op.Operand(1).Type).Dim(2), _p);

        private void Forward(Operation op, long layer)
        {
            _b.SetInsertionPoint(op);
            _b.Location = op.Location;
            long f = RepeatOf(op);
            var qh = ToHeads(op.Operand(0), layer);
            var kh = ToHeads(Repeat(op.Operand(1), f), layer);
            var vh = ToHeads(Repeat(op.Operand(2), f), layer);
            var outType = (TensorType)op.Result(0).Type;
            var oh = _b.Create(op.Name, new[] { qh, kh, vh }, new Type[] { Heads(outType) }, op.Attributes).Result(0);
            _b.ReplaceOp(op, Reshard(oh, Sequence(outType), layer));
        }

        private void Backward(Operation op, long layer)
        {
            _b.SetInsertionPoint(op);
            _b.Location = op.Location;
            long f = RepeatOf(op);
            var qh = ToHeads(op.Operand(0), layer);
            var kr = Repeat(op.Operand(1), f);
            var vr = Repeat(op.Operand(2), f);
            var kh = ToHeads(kr, layer);
            var vh = ToHeads(vr, layer);
            var doh = ToHeads(op.Operand(3), layer);
            var grads = _b.Create(op.Name, new[] { qh, kh, vh, doh },
                new Type[] { qh.Type, kh.Type, vh.Type }, op.Attributes);
            var dq = Reshard(grads.Result(0), Sequence((TensorType)op.Result(0).Type), layer);
            var dk = SumRepeats(Reshard(grads.Result(1), Sequence((TensorType)kr.Type), layer), (TensorType)op.Operand(1).Type, f);
            var dv = SumRepeats(Reshard(grads.Result(2), Sequence((TensorType)vr.Type), layer), (TensorType)op.Operand(2).Type, f);
            _b.ReplaceOp(op, new[] { dq, dk, dv });
        }
    }
}
