using System.Text.RegularExpressions;
using AutoSpIR.Dialects.Dist;
using AutoSpIR.Dialects.Func;

namespace AutoSpIR.Passes.AutoSp;

/// <summary>
/// <c>sharding-propagation{sp=P,dp=D}</c>: decides how every value of a training step is
/// distributed over the mesh <c>["dp"=D, "sp"=P]</c> (<see cref="SpMesh"/>) and writes it as
/// the <c>#dist.sharding</c> encoding of its type, in the GLOBAL view (shapes unchanged):
/// <code>
/// %q = tensor.linear %h, %wq : (tensor&lt;1x64x64xf32, #dist.sharding&lt;@mesh, [{}, {"sp"}, {}]&gt;&gt;, tensor&lt;64x64xf32, #dist.sharding&lt;@mesh, [{}, {}]&gt;&gt;)
///                             -&gt; tensor&lt;1x64x64xf32, #dist.sharding&lt;@mesh, [{}, {"sp"}, {}]&gt;&gt;
/// </code>
/// <para>
/// Seeds: an input's <c>aspir.seq_dim</c> dimension is split over "sp" and, with D &gt; 1, its
/// dimension 0 (the batch) over "dp"; parameters and other inputs are replicated; values that
/// already carry a sharding (the <c>dist.reshard</c>s and attention ops the <c>ulysses</c> pass
/// placed) keep it. From there every op, in order, gets its shardings from its rule
/// (<see cref="OpDef.ShardingRule"/>, Shardy's factors): each factor takes the axes of the first
/// tensor dimension that is that factor and is split (the op's fixed results first, then its
/// operands in order), unless another factor already took one of those axes. Then the factor's
/// kind decides: a <see cref="FactorKind.NeedReplication"/> factor is never split; a
/// <see cref="FactorKind.Reduction"/> factor combining by anything but a sum is not split; a
/// <see cref="FactorKind.Positional"/> factor stays split only where <c>dist-partition</c>
/// knows the position it needs (rope's offset, tensor.shift's halo); a Reduction factor that
/// stays split leaves every result without it <c>partial</c> over its axes. An operand whose
/// sharding differs from what the op needs gets a <c>dist.reshard</c> (one per value and
/// target, placed before its first user): the conflict becomes an explicit reshard, which
/// <c>dist-partition</c> turns into a collective. A partial operand is only accepted by
/// <c>tensor.add</c>/<c>tensor.sub</c> of two operands partial over the same axes (the sum of
/// partial sums is a partial sum); elsewhere it is reduced first. Function results are
/// replicated (gradients of replicated weights come out partial and are all-reduced there).
/// A splat <c>tensor.constant</c> is replicated; reshards of it are free in the partitioner.
/// </para>
/// <para>
/// Every value depends on the arguments through the ops before it, so one pass in program order
/// reaches the fixed point: each value's sharding is decided once, from its operands' (forward)
/// and its fixed results' (backward, for the ops ulysses placed).
/// </para>
/// <para>
/// A reshard at the function's return carries <c>aspir.layer = N</c> when the result is the
/// gradient of a parameter named <c>...layers.N....</c>, for the per-layer communication report.
/// Errors: a function body with nested regions or calls; a batch not divisible by D; a
/// collective (local-view op) in the global program.
/// </para>
/// </summary>
public sealed class ShardingPropagation(long sp, long dp) : Pass
{
    public override string Name => "sharding-propagation";

    public override bool Run(Operation op, PassContext pc)
    {
        var module = SpMesh.ModuleOf(op);
        if (SpMesh.GetOrCreate(module, sp, dp, Name, pc) is not { } mesh) return false;
        bool ok = true;
        foreach (var func in SpMesh.ModelSteps(module)) ok &= new Propagator(func, mesh, pc).Run();
        return ok;
    }

    /// <summary>The ops whose Positional factors dist-partition can shard.</summary>
    public static bool PositionalSupported(Operation op) => op.Name is "tensor.rope" or "tensor.rope_grad" or "tensor.shift";

    private sealed class Propagator(Operation func, DeviceMesh mesh, PassContext pc)
    {
        private readonly Context _ctx = func.Context;
        private readonly Builder _b = new(func.Context);
        private readonly Dictionary<(Value, ShardingAttr), Value> _reshards = new();

        public bool Run()
        {
            var block = func.Region(0).EntryBlock!;
            foreach (var o in block.Ops)
                if (o.NumRegions > 0)
                    return Fail(o, "sharding-propagation: ops with regions are not supported in a training step");
            if (!SeedArguments(block)) return false;
            foreach (var o in block.Ops.ToList())
                if (!Visit(o)) return false;
            FuncDialect.SyncSignature(func);
            return true;
        }

        private bool Fail(Operation at, string message)
        {
            pc.Diagnostics.Error(at.Location, message);
            return false;
        }

        private ShardingAttr Sharding(IEnumerable<IEnumerable<string>> dims, IEnumerable<string>? partial = null)
        {
            var p = partial?.Distinct().ToArray();
            return ShardingAttr.Get(_ctx, SpMesh.Name, dims, p is { Length: > 0 } ? p : null);
        }

        private ShardingAttr Replicated(int rank) => ShardingAttr.Replicated(_ctx, SpMesh.Name, rank);

        private bool HasAxis(string axis) => mesh.HasAxis(axis) && mesh.SizeOf(axis) > 1;

        private bool SeedArguments(Block block)
        {
            foreach (var a in block.Arguments)
            {
                if (a.Type is not TensorType t || ShardingAttr.Of(t) is not null) continue;
                var dims = Enumerable.Range(0, t.Rank).Select(_ => new List<string>()).ToArray();
                if (FuncDialect.ArgAttrs(func, a.Index).Get(SpDiscover.SeqDimAttr) is IntegerAttr { Value: var s } && s >= 0 && s < t.Rank)
                {
                    if (HasAxis(SpMesh.SeqAxis)) dims[s].Add(SpMesh.SeqAxis);
                    if (HasAxis(SpMesh.BatchAxis))
                    {
                        if (s == 0)
                            return Fail(func, $"sharding-propagation: argument #{a.Index} has its sequence in dimension 0, so there is no batch dimension to split over \"dp\"");
                        long d = mesh.SizeOf(SpMesh.BatchAxis);
                        if (t.Dim(0) != TensorType.Dynamic && t.Dim(0) % d != 0)
                            return Fail(func, $"sharding-propagation: argument #{a.Index} has batch size {t.Dim(0)}, which is not divisible by dp={d}");
                        dims[0].Add(SpMesh.BatchAxis);
                    }
                }
                a.Type = _ctx.WithEncoding(t, Sharding(dims));
            }
            return true;
        }

        private bool Visit(Operation op)
        {
            if (op.Name == FuncDialect.Return.Name)
            {
                for (int i = 0; i < op.NumOperands; i++)
                    if (op.Operand(i).Type is TensorType t)
                        Ensure(op, i, Replicated(t.Rank), LayerOfResult(i));
                return true;
            }
            if (op.Name == Reshard.Def.Name)
            {
                if (op.Result(0).Type is TensorType rt && ShardingAttr.Of(rt) is null)
                    op.Result(0).Type = _ctx.WithEncoding(rt, ShardingAttr.Of(op.Operand(0).Type) ?? Replicated(rt.Rank));
                return true;
            }
            if (op.Name == FuncDialect.Call.Name)
                return Fail(op, $"sharding-propagation: a training step that calls '{op.GetAttr("callee")}' is not supported; inline the callee first");
            if (op.DialectName == "dist")
                return Fail(op, $"sharding-propagation: '{op.Name}' is an op of the per-rank (local) view; the global program must not contain collectives");

            var rule = op.Def?.ShardingRule?.Invoke(OpState.Of(op));
            if (rule is null)
            {
                for (int i = 0; i < op.NumOperands; i++)
                    if (op.Operand(i).Type is TensorType t) Ensure(op, i, Replicated(t.Rank));
                foreach (var r in op.Results)
                    if (r.Type is TensorType t && ShardingAttr.Of(t) is null) r.Type = _ctx.WithEncoding(t, Replicated(t.Rank));
                return true;
            }

            var axesOf = AssignFactors(op, rule);
            var linearPartial = LinearPartial(op);
            for (int i = 0; i < op.NumOperands; i++)
                if (op.Operand(i).Type is TensorType)
                    Ensure(op, i, Sharding(DimsOf(rule.Dims(false, i), axesOf), linearPartial));

            for (int r = 0; r < op.NumResults; r++)
            {
                if (op.Result(r).Type is not TensorType t) continue;
                var partial = new List<string>(linearPartial ?? Enumerable.Empty<string>());
                for (int f = 0; f < rule.Factors.Count; f++)
                    if (rule.Factors[f].Kind == FactorKind.Reduction && axesOf[f] is { } ax && !rule.Dims(true, r).Any(d => d.Contains(f)))
                        partial.AddRange(ax);
                var want = _ctx.WithEncoding(t, Sharding(DimsOf(rule.Dims(true, r), axesOf), partial));
                if (ShardingAttr.Of(t) is not null && !ReferenceEquals(t, want))
                {
                    // A fixed result (placed by ulysses) that the operands cannot give: compute what
                    // they give and reshard it to the fixed type for the users.
                    var users = op.Result(r).Uses.Select(u => (u.Owner, u.Index)).ToList();
                    op.Result(r).Type = want;
                    _b.SetInsertionPointAfter(op);
                    var fixedValue = Reshard.Create(_b, op.Result(r), ShardingAttr.Of(t));
                    foreach (var (user, index) in users) user.SetOperand(index, fixedValue);
                }
                else op.Result(r).Type = want;
            }
            return true;
        }

        /// <summary>Per factor, the mesh axes it is split over (null: not split).</summary>
        private string[]?[] AssignFactors(Operation op, ShardingRule rule)
        {
            var axesOf = new string[]?[rule.Factors.Count];
            var used = new HashSet<string>();
            void Offer(Type type, IReadOnlyList<IReadOnlyList<int>> dims)
            {
                if (ShardingAttr.Of(type) is not { } sh || sh.Rank != dims.Count) return;
                for (int d = 0; d < dims.Count; d++)
                {
                    var axes = sh.AxesOf(d);
                    if (axes.Count == 0 || MajorFactor(rule, dims[d]) is not { } f) continue;
                    if (axesOf[f] is not null || axes.Any(used.Contains)) continue;
                    axesOf[f] = axes.ToArray();
                    used.UnionWith(axes);
                }
            }
            for (int r = 0; r < op.NumResults; r++) Offer(op.Result(r).Type, rule.Dims(true, r));
            for (int i = 0; i < op.NumOperands; i++) Offer(op.Operand(i).Type, rule.Dims(false, i));

            for (int f = 0; f < axesOf.Length; f++)
            {
                if (axesOf[f] is not { } axes) continue;
                var factor = rule.Factors[f];
                bool keep = factor.Kind switch
                {
                    FactorKind.NeedReplication => false,
                    FactorKind.Reduction => rule.Combine == PartialCombine.Sum,
                    FactorKind.Positional => PositionalSupported(op),
                    _ => true,
                };
                long k = axes.Aggregate(1L, (p, a) => p * mesh.SizeOf(a));
                // A factor that shares a dimension with other non-unit factors (a reshape merging
                // or splitting it) can only be split where it divides evenly and is the major one.
                if (keep && InCompoundDim(rule, f) && (factor.Size == TensorType.Dynamic || factor.Size % k != 0 || !IsMajorEverywhere(rule, f)))
                    keep = false;
                if (!keep) axesOf[f] = null;
            }
            return axesOf;
        }

        private static int? MajorFactor(ShardingRule rule, IReadOnlyList<int> dim)
        {
            foreach (var f in dim) if (rule.Factors[f].Size != 1) return f;
            return null;
        }

        private static bool InCompoundDim(ShardingRule rule, int f) =>
            AllDims(rule).Any(d => d.Contains(f) && d.Count(g => rule.Factors[g].Size != 1) > 1);

        private static bool IsMajorEverywhere(ShardingRule rule, int f) =>
            AllDims(rule).Where(d => d.Contains(f)).All(d => MajorFactor(rule, d) == f);

        private static IEnumerable<IReadOnlyList<int>> AllDims(ShardingRule rule)
        {
            for (int i = 0; i < rule.NumOperands; i++) foreach (var d in rule.Dims(false, i)) yield return d;
            for (int r = 0; r < rule.NumResults; r++) foreach (var d in rule.Dims(true, r)) yield return d;
        }

        private static IEnumerable<IEnumerable<string>> DimsOf(IReadOnlyList<IReadOnlyList<int>> dims, string[]?[] axesOf) =>
            dims.Select(d => d.SelectMany(f => axesOf[f] ?? Array.Empty<string>()).ToArray());

        /// <summary>The partial axes an add/sub passes through: both operands partial over the same axes.</summary>
        private static string[]? LinearPartial(Operation op)
        {
            if (op.Name is not ("tensor.add" or "tensor.sub")) return null;
            var a = ShardingAttr.Of(op.Operand(0).Type);
            var c = ShardingAttr.Of(op.Operand(1).Type);
            if (a is not { IsPartial: true } || c is null || !a.PartialAxes.SequenceEqual(c.PartialAxes)) return null;
            return a.PartialAxes.ToArray();
        }

        /// <summary>Makes operand #i of <paramref name="op"/> have sharding <paramref name="want"/>, with a (shared) reshard when it has not.</summary>
        private void Ensure(Operation op, int i, ShardingAttr want, long? layer = null)
        {
            var v = op.Operand(i);
            var cur = ShardingAttr.Of(v.Type) ?? Replicated(want.Rank);
            if (ReferenceEquals(cur, want)) return;
            if (!_reshards.TryGetValue((v, want), out var r))
            {
                _b.SetInsertionPoint(op);
                _b.Location = op.Location;
                r = Reshard.Create(_b, v, want);
                if (layer is { } l) r.DefiningOp!.SetAttr(SpMesh.LayerAttr, _ctx.Integer(l));
                _reshards[(v, want)] = r;
            }
            op.SetOperand(i, r);
        }

        private static readonly Regex LayerName = new(@"(?:^|\.)layers\.(\d+)\.", RegexOptions.CultureInvariant);

        /// <summary>The layer of result #i: N when it is the gradient of a parameter named ...layers.N....</summary>
        private long? LayerOfResult(int i) =>
            FuncDialect.ResAttrs(func, i).Get("aspir.grad") is StringAttr { Value: var name } && LayerName.Match(name) is { Success: true } m
                ? long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)
                : null;
    }
}
