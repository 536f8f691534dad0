using AutoSpIR.Dialects.Dist;
using AutoSpIR.Dialects.Func;
using AutoSpIR.Dialects.Tensor;
using AutoSpIR.Passes.Optimizer;
using TensorGrad = AutoSpIR.Dialects.Tensor.Grad;

namespace AutoSpIR.Passes.Zero;

/// <summary>
/// <c>zero{stage=1|3}</c>: ZeRO (Rajbhandari et al., DeepSpeed) on the per-rank training step that
/// <c>autosp{sp,dp}</c> and <c>optimizer</c> made: the optimizer's data sharded over the whole
/// mesh, the group G of every rank (data- and sequence-parallel: the ranks of a sequence-parallel
/// group hold the same weights too, so they share the state as DeepSpeed's AutoSP does).
/// <para>
/// Layout: a tensor of N elements (any shape) is flattened row-major and padded with zeros to
/// G*S elements, S = ceil(N/G); rank r (its position over all mesh axes, = the rank) holds the
/// flat elements r*S .. r*S + S. Such a shard is a <c>tensor&lt;SxT&gt;</c> argument or result with
/// <c>dist.sharding = #dist.sharding&lt;@mesh, [{"dp", "sp"}]&gt;</c>, <c>aspir.global_shape = [N]</c>
/// and <c>aspir.flat_shape</c> = the tensor's shape, which autosp-run (runtime/comm/SpmdIO.cs)
/// reads to give each rank its shard from the files and to assemble results at their shapes.
/// </para>
/// <para>
/// Stage 1 (optimizer state): each parameter's m and v become flat shards; its gradient's
/// <c>dist.all_reduce</c> becomes a <c>dist.reduce_scatter</c> of the flattened, padded partial
/// gradient (each rank gets the sum of its shard); the rank's shard of the (replicated) parameter
/// is picked from the flattened parameter by <c>tensor.embedding</c> of a [G, S] view at
/// <c>dist.axis_index</c>; <c>tensor.adamw</c> runs on the shards; a <c>dist.all_gather</c> of the
/// new shard (sliced to N, reshaped) rebuilds the full updated parameter, returned replicated.
/// Under ring algorithms reduce_scatter + all_gather send (G-1)*bytes(padded)/G + (G-1)*bytes(shard)
/// = 2*(G-1)*bytes(padded)/G bytes, what the all_reduce sent when G divides N.
/// </para>
/// <para>
/// Stage 3 (also parameters, and so gradients as in stage 2): each parameter argument becomes its
/// flat shard; an all_gather (sliced, reshaped) before its first use in the forward part gives the
/// full parameter to the forward uses only (its lifetime ends at the last forward use), and a
/// second all_gather before its first use in the backward part serves the backward uses. The
/// forward part is every op up to the last op the loss (result #0) depends on. The update takes
/// the parameter shard directly, and the new parameter is returned as a flat shard.
/// </para>
/// <para>
/// With <c>optimizer{master-dtype=f32}</c> (a bf16/f16 parameter p updated through an f32 master
/// copy, <c>aspir.opt_state = "master"</c>): the master is sharded like m and v (both stages); the
/// reduce_scatter sums the gradient in p's type (what the all_reduce summed) and its shard is cast
/// to f32; the update runs on the master shard; the new p is the cast of the new master shard,
/// all-gathered in p's type at stage 1 (the gather sends bf16), returned as a flat shard at stage 3,
/// where p's argument is sharded and gathered for the forward and backward as without a master.
/// </para>
/// <para>
/// Preconditions: the module holds one <c>dist.mesh</c>; every updated parameter is a function
/// argument. A function without <c>tensor.adamw</c> is left alone.
/// </para>
/// </summary>
public sealed class ZeroPass(long stage) : Pass
{
    public override string Name => "zero";

    public static readonly PassOption[] Options =
    {
        new("stage", "int", "1", "1: optimizer state sharded; 3: also parameters (gathered before use, released after)"),
    };

    public const string FlatShapeAttr = "aspir.flat_shape";

    public override bool Run(Operation root, PassContext pc)
    {
        if (stage is not (1 or 3))
        {
            pc.Diagnostics.Error(root.Location, $"zero: stage must be 1 or 3, not {stage}");
            return false;
        }
        var funcs = new List<Operation>();
        root.Walk(o => { if (o.Name == "func.func" && !o.Region(0).IsEmpty && o.Region(0).Ops.Any(x => x.Name == AdamW.Def.Name)) funcs.Add(o); });
        foreach (var f in funcs)
            if (!RunOn(f, pc)) return false;
        return true;
    }

    private sealed record Layout(TensorType Full, long N, long S, TensorType Flat, TensorType Padded, TensorType Shard);

    private bool RunOn(Operation func, PassContext pc)
    {
        var ctx = func.Context;
        var module = func.ParentOp;
        var meshOps = module?.Region(0).Ops.Where(o => o.Name == Mesh.Def.Name).ToList() ?? new List<Operation>();
        if (meshOps.Count != 1 || !DeviceMesh.TryRead(meshOps[0], out var mesh, out _) || mesh is null)
        {
            pc.Diagnostics.Error(func.Location, $"zero: needs the per-rank program of autosp{{sp,dp}} with one dist.mesh, but the module has {meshOps.Count}");
            return false;
        }
        var group = Group.Get(mesh, mesh.Axes);
        long g = group.Size;
        var sharding = ShardingAttr.Get(ctx, mesh.Name, new[] { mesh.Axes });
        var block = func.Region(0).EntryBlock!;
        var ret = block.Terminator!;
        var b = new Builder(ctx);

        Layout LayoutOf(TensorType t)
        {
            long n = t.NumElements, s = (n + g - 1) / g;
            return new Layout(t, n, s, ctx.Tensor(new[] { n }, t.Element), ctx.Tensor(new[] { s * g }, t.Element), ctx.Tensor(new[] { s }, t.Element));
        }
        // The flat-shard attributes of an argument or result (its other attributes kept).
        DictionaryAttr ShardAttrs(DictionaryAttr old, Layout l) => ctx.Dictionary(old.Entries
            .Where(e => e.Key is not ("dist.sharding" or "aspir.global_shape" or FlatShapeAttr))
            .Append(new("dist.sharding", sharding))
            .Append(new("aspir.global_shape", ctx.IntArray(new[] { l.N })))
            .Append(new(FlatShapeAttr, ctx.IntArray(l.Full.Shape.ToArray()))));
        // x (l.Full) -> flat, padded to G*S.
        Value FlatPadded(Value x, Layout l)
        {
            var flat = TensorGrad.Reshape(b, x, l.Flat);
            return l.S * g == l.N ? flat
                : b.Create(Pad.Def, new[] { flat }, b.Attrs(("low", ctx.IntArray(new[] { 0L })), ("high", ctx.IntArray(new[] { l.S * g - l.N })))).Result(0);
        }
        // This rank's shard of a replicated x: row axis_index of the [G, S] view.
        Value LocalShard(Value x, Layout l)
        {
            var rows = ctx.Tensor(new[] { g, l.S }, l.Full.Element);
            var table = TensorGrad.Reshape(b, l.S * g == l.N ? x : FlatPadded(x, l), rows);
            var index = AxisIndex.Create(b, group);
            return b.Create(Embedding.Def, new[] { table, index }).Result(0);
        }
        // The full tensor from the shards: all_gather, the padding sliced off, reshaped.
        Attribute? layer = null;   // the aspir.layer of the parameter being rewritten (comm-report's per-layer table)
        Value Gathered(Value shard, Layout l)
        {
            var all = AllGather.Create(b, shard, group, 0);
            if (layer is not null) all.DefiningOp!.SetAttr("aspir.layer", layer);
            var flat = l.S * g == l.N ? all
                : b.Create(Slice.Def, new[] { all }, b.Attrs(("offsets", ctx.IntArray(new[] { 0L })), ("sizes", ctx.IntArray(new[] { l.N })))).Result(0);
            return TensorGrad.Reshape(b, flat, l.Full);
        }

        // Stage 3: the forward part ends at the last op the loss depends on.
        var position = new Dictionary<Operation, int>();
        int k = 0;
        foreach (var o in block.Ops) position[o] = k++;
        int lastForward = -1;
        if (stage == 3 && ret.NumOperands > 0)
        {
            var seen = new HashSet<Operation>();
            var work = new Stack<Value>();
            work.Push(ret.Operand(0));
            while (work.Count > 0)
                if (work.Pop().DefiningOp is { } d && seen.Add(d))
                {
                    lastForward = Math.Max(lastForward, position[d]);
                    foreach (var v in d.Operands) work.Push(v);
                }
        }

        var argAttrs = Enumerable.Range(0, block.Arguments.Count).Select(i => FuncDialect.ArgAttrs(func, i)).ToArray();
        var resAttrs = Enumerable.Range(0, ret.NumOperands).Select(i => FuncDialect.ResAttrs(func, i)).ToArray();
        var updates = block.Ops.Where(o => o.Name == AdamW.Def.Name).ToList();
        foreach (var update in updates)
        {
            if (update.Operand(0) is not BlockArgument first || update.Operand(2) is not BlockArgument m || update.Operand(3) is not BlockArgument v
                || m.Owner != block || v.Owner != block || first.Owner != block)
            {
                pc.Diagnostics.Error(update.Location, "zero: the parameter and optimizer state of a tensor.adamw must be arguments of the function (run optimizer right before zero)");
                return false;
            }
            // optimizer{master-dtype=f32}: the update runs on an f32 master copy (an opt_state argument,
            // sharded like m and v) of a narrower parameter p, fed the cast gradient; p' = cast(master').
            BlockArgument? master = null, param = first;
            Operation? paramCast = null;
            if (argAttrs[first.Index].Get(OptimizerPass.OptStateAttr) is StringAttr { Value: "master" })
            {
                master = first;
                string? name = (argAttrs[first.Index].Get("aspir.param") as StringAttr)?.Value;
                int pi = Array.FindIndex(argAttrs, a => a.Get("aspir.param") is StringAttr p && p.Value == name && a.Get(OptimizerPass.OptStateAttr) is null);
                var casts = update.Result(0).Uses.Where(u => u.Owner.Name == Cast.Def.Name).Select(u => u.Owner).ToList();
                if (pi < 0 || casts.Count != 1 || casts[0].Result(0).Uses.Any(u => u.Owner != ret))
                {
                    pc.Diagnostics.Error(update.Location, $"zero: the tensor.adamw updates the master copy of '{name}', but " +
                        (pi < 0 ? "no argument is that parameter" : "its new value is not returned as one tensor.cast to the parameter's type") + " (run optimizer{master-dtype=f32} right before zero)");
                    return false;
                }
                param = block.Arguments[pi];
                paramCast = casts[0];
            }
            if (param.Type is not TensorType { IsStatic: true } full)
            {
                pc.Diagnostics.Error(update.Location, $"zero: the parameter has the type {param.Type}; zero needs a static shape");
                return false;
            }
            if (argAttrs[param.Index].Get("dist.sharding") is not null)
            {
                pc.Diagnostics.Error(update.Location, $"zero: the parameter (argument #{param.Index}) is sharded already ({argAttrs[param.Index].Get("dist.sharding")}); zero shards replicated parameters");
                return false;
            }
            var l = LayoutOf(full);                                              // the parameter's (and its gradient's)
            var ls = master is null ? l : LayoutOf((TensorType)master.Type);     // the state's
            b.Location = update.Location;
            b.SetInsertionPoint(update);

            // The gradient: reduce_scatter of the partial sum the all_reduce summed, else the local shard of a replicated one.
            // With a master, the gradient in the parameter's type is scattered and its shard cast to the master's.
            var grad = update.Operand(1);
            Operation? gradCast = null;
            if (master is not null && grad.DefiningOp is { Name: "tensor.cast" } gc && ReferenceEquals(gc.Operand(0).Type, full))
            {
                gradCast = gc;
                grad = gc.Operand(0);
            }
            var gl = gradCast is null ? ls : l;
            layer = grad.DefiningOp?.GetAttr("aspir.layer");
            Value gradShard;
            if (grad.DefiningOp is { Name: "dist.all_reduce" } ar && ar.GetString("reduction") == "sum"
                && Group.Of(ar) is { } arGroup && arGroup.Size == g)   // over every rank (axes of size 1 may be left out)
            {
                gradShard = ReduceScatter.Create(b, FlatPadded(ar.Operand(0), gl), group, 0);
                if (layer is not null) gradShard.DefiningOp!.SetAttr("aspir.layer", layer);
            }
            else gradShard = LocalShard(grad, gl);
            if (gradCast is not null) gradShard = TensorGrad.Cast(b, gradShard, ls.Shard);

            Value paramShard;
            if (master is not null) paramShard = master;
            else if (stage == 1) paramShard = LocalShard(param, l);
            else paramShard = param;
            if (stage == 3)
            {
                // The argument becomes the shard; forward and backward uses get their own gather.
                var uses = param.Uses.Where(u => u.Owner != update).ToList();
                param.Type = l.Shard;
                argAttrs[param.Index] = ShardAttrs(argAttrs[param.Index], l);
                foreach (var part in uses.GroupBy(u => position.TryGetValue(u.Owner, out var p) && p <= lastForward))
                {
                    var firstUse = part.OrderBy(u => position.GetValueOrDefault(u.Owner, int.MaxValue)).First().Owner;
                    b.SetInsertionPoint(firstUse);
                    b.Location = firstUse.Location;
                    var whole = Gathered(param, l);
                    foreach (var u in part) u.Value = whole;
                }
                b.SetInsertionPoint(update);
                b.Location = update.Location;
            }

            foreach (var state in master is null ? new[] { m, v } : new[] { master, m, v })
            {
                state.Type = ls.Shard;
                argAttrs[state.Index] = ShardAttrs(argAttrs[state.Index], ls);
            }
            var sharded = b.Create(AdamW.Def, new[] { paramShard, gradShard, (Value)m, v }, update.Attributes);
            // The new parameter's shard (cast from the master's), all-gathered at stage 1.
            Value newShard = master is null ? sharded.Result(0) : TensorGrad.Cast(b, sharded.Result(0), l.Shard);
            Value newParam = stage == 1 ? Gathered(newShard, l) : newShard;

            // Rewire the results (the optimizer returns each of them once).
            for (int i = 0; i < ret.NumOperands; i++)
            {
                var operand = ret.Operand(i);
                if (paramCast is not null && operand is OpResult c && c.Owner == paramCast)
                {
                    ret.SetOperand(i, newParam);
                    if (stage == 3) resAttrs[i] = ShardAttrs(resAttrs[i], l);
                    continue;
                }
                if (operand is not OpResult r || r.Owner != update) continue;
                if (r.Index == 0 && master is null)
                {
                    ret.SetOperand(i, newParam);
                    if (stage == 3) resAttrs[i] = ShardAttrs(resAttrs[i], l);
                }
                else
                {
                    ret.SetOperand(i, sharded.Result(r.Index));
                    resAttrs[i] = ShardAttrs(resAttrs[i], ls);
                }
            }
            if (paramCast is not null && !paramCast.HasResultUses) paramCast.Erase();
            if (update.HasResultUses)
            {
                pc.Diagnostics.Error(update.Location, "zero: a result of the tensor.adamw is used by something other than func.return");
                return false;
            }
            update.Erase();
            if (gradCast is not null && !gradCast.HasResultUses) gradCast.Erase();
            if (grad.DefiningOp is { Name: "dist.all_reduce" } old && !old.HasResultUses) old.Erase();
        }
        FuncDialect.SyncSignature(func);
        func.SetAttr("arg_attrs", ctx.Array(argAttrs.Cast<Attribute>().ToArray()));
        func.SetAttr("res_attrs", ctx.Array(resAttrs.Cast<Attribute>().ToArray()));
        return true;
    }
}
