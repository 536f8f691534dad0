using System.Globalization;
using AutoSpIR.Dialects.Func;

namespace AutoSpIR.Passes.Sac;

/// <summary>The checkpointing policies of <see cref="Sac"/>.</summary>
public enum CheckpointPolicy { None, TorchDefault, Sac }

/// <summary>
/// <c>sac{policy=sac|torch-default|none, flops-per-byte=auto|N, recompute-collectives=false, per-value=false}</c>:
/// sequence-aware activation checkpointing of a joint forward+backward training step (the output
/// of <c>autodiff</c>, or the per-rank program after <c>autosp</c>).
/// <para>
/// The forward is every op the loss (result #0, <c>aspir.name = "loss"</c>) depends on; the
/// backward is every other op. A <em>saved activation</em> is a result of a forward op that a
/// backward op uses. For each one the pass decides: keep it (the forward value lives until its
/// last backward use, as autodiff leaves it), or recompute it: the forward ops that compute it
/// from kept values and arguments are cloned just before its first backward use, the backward
/// uses are pointed at the clone (fresh SSA values, named <c>%name_rc</c>, the op marked
/// <c>aspir.recompute</c>, which also keeps <c>cse</c> from merging it back), and the forward copy
/// dies after its last forward use. A value recomputed for one activation is reused by later ones.
/// Clones run the same kernels on the same inputs, so loss and gradients are bit-identical.
/// </para>
/// <para>
/// Which ops may be recomputed (never: ops without <c>Pure</c>, ops with regions, unregistered
/// ops, ops without operands such as constants, <c>dist.*</c> collectives unless
/// <c>recompute-collectives=true</c>):
/// <list type="bullet">
/// <item><c>policy=sac</c> (default): decided from costs at the program's own (local) shapes. With
/// T the threshold in FLOPs per byte, an op is cheap when its FLOPs per byte of result are at most
/// T; a value is recomputed when its op is cheap and the FLOPs of its whole recompute chain (the
/// cheap ops cloned to rebuild it, each counted once) per byte of the value are at most T.
/// <c>flops-per-byte=auto</c> sets T to twice the largest FLOPs per result byte of any
/// <c>tensor.linear</c>/<c>tensor.matmul</c> in the forward, so every projection is recomputed
/// (linears, norms, rope and elementwise ops are O(s)), while attention, whose FLOPs per byte grow
/// like s, is kept once the sequence is long (tiny-llama, f32: s above about 300) and recomputed
/// when short. Chains of several projections (a whole MLP feeding the residual stream) exceed T
/// and cut the chain: the residual stream is kept once per layer.</item>
/// <item><c>policy=torch-default</c>: what PyTorch's compile partitioner saves by default: outputs of
/// matmul-like ops (linear, matmul), attention, embedding and the loss are kept, pointwise ops,
/// views, norms and rope are recomputed, whatever the sequence length.</item>
/// <item><c>policy=none</c>: keep everything (the autodiff program); only the report.</item>
/// </list>
/// Both recomputing policies also follow a min-cut-like byte rule: a value is kept when its
/// recompute chain would need more bytes of kept values that are otherwise dead in the backward
/// (not saved themselves, nor needed by an earlier recompute) than the value itself has
/// (the residual stream is kept rather than rebuilt from all the layers before it).
/// </para>
/// <para>
/// Report (to the report stream): per function, the policy, T, the saved activations before and
/// after (count and bytes), the ops and FLOPs recomputed against the forward's FLOPs;
/// <c>per-value=true</c> lists each saved activation with its decision.
/// Functions that are not joint steps (no result named <c>loss</c>, or not one block ending in
/// func.return) are left alone.
/// </para>
/// </summary>
public sealed class Sac(CheckpointPolicy policy, double? flopsPerByte, bool recomputeCollectives, bool perValue) : Pass
{
    public override string Name => "sac";

    public static CheckpointPolicy? ParsePolicy(string s) => s switch
    {
        "sac" => CheckpointPolicy.Sac,
        "torch-default" => CheckpointPolicy.TorchDefault,
        "none" => CheckpointPolicy.None,
        _ => null,
    };

    public static string PolicyName(CheckpointPolicy p) => p switch
    {
        CheckpointPolicy.Sac => "sac",
        CheckpointPolicy.TorchDefault => "torch-default",
        _ => "none",
    };

    /// <summary>Creates the pass from its textual options; a bad value is reported when the pass runs.</summary>
    public static Pass Create(PassOptions o)
    {
        string? error = null;
        var p = ParsePolicy(o.Get("policy"));
        if (p is null) error = $"sac: unknown policy '{o.Get("policy")}' (expected sac, torch-default or none)";
        var t = o.Get("flops-per-byte");
        double? threshold = null;
        if (t != "auto")
        {
            if (double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v >= 0) threshold = v;
            else error ??= $"sac: flops-per-byte must be 'auto' or a number >= 0, got '{t}'";
        }
        return new Sac(p ?? CheckpointPolicy.None, threshold, o.GetBool("recompute-collectives"), o.GetBool("per-value")) { OptionError = error };
    }

    private string? OptionError { get; init; }

    public static readonly PassOption[] Options =
    {
        new("policy", "string", "sac", "sac (cost-based, sequence-aware), torch-default (keep matmul, attention and embedding outputs; recompute pointwise ops and norms) or none (keep everything)"),
        new("flops-per-byte", "string", "auto", "policy=sac: recompute a value only when its recompute FLOPs per byte saved are at most this; auto = 2 x the largest FLOPs per result byte of a linear/matmul"),
        new("recompute-collectives", "bool", "false", "allow dist.* collectives to be recomputed in the backward"),
        new("per-value", "bool", "false", "list every saved activation and its decision in the report"),
    };

    public override bool Run(Operation root, PassContext pc)
    {
        if (OptionError is not null)
        {
            pc.Diagnostics.Error(root.Location, OptionError);
            return false;
        }
        var funcs = new List<Operation>();
        if (root.Name == "func.func") funcs.Add(root);
        else root.Walk(o => { if (o.Name == "func.func") funcs.Add(o); });
        foreach (var f in funcs) Checkpoint(f, pc.Report);
        return true;
    }

    /// <summary>The result of the decision for one function, for the report and for tests.</summary>
    public sealed record Summary(string Function, string Policy, double Threshold, int SavedBefore, long SavedBytesBefore,
        int SavedAfter, long SavedBytesAfter, int RecomputedOps, long RecomputedFlops, long ForwardFlops,
        long PeakBefore, long PeakAfter, string PeakAt, long ArgumentBytes);

    /// <summary>
    /// The peak bytes live of a single-block function under the reference interpreter's accounting
    /// (runtime/Interpreter.cs): arguments live throughout, every result a new buffer, a value freed
    /// after its last use (or at once when unused) unless returned, the peak taken after an op's
    /// results are allocated and before its dead operands are freed. Returns the peak and the op at it.
    /// </summary>
    public static (long Peak, Operation? At) EstimatePeak(Block block)
    {
        var ops = block.Ops.ToList();
        var ret = ops.Count > 0 ? ops[^1] : null;
        var lastUse = new Dictionary<Value, int>();
        for (int i = 0; i < ops.Count; i++)
            ops[i].Walk(inner => { foreach (var v in inner.Operands) lastUse[v] = i; });
        for (int i = 0; i < ops.Count; i++)
            foreach (var v in ops[i].Operands) lastUse[v] = i;
        var returned = new HashSet<Value>(ret?.Operands ?? Enumerable.Empty<Value>());
        long live = block.Arguments.Sum(a => Bytes(a)), peak = live;
        Operation? at = null;
        for (int i = 0; i < ops.Count - 1; i++)
        {
            var op = ops[i];
            foreach (var r in op.Results) live += Bytes(r);
            if (live > peak) { peak = live; at = op; }
            var freed = new HashSet<Value>();
            foreach (var v in op.Operands)
                if (lastUse[v] == i && v is OpResult && !returned.Contains(v) && freed.Add(v)) live -= Bytes(v);
            foreach (var r in op.Results)
                if (!r.HasUses) live -= Bytes(r);
        }
        return (peak, at);
    }

    internal static bool IsJointStep(Operation func, out Block block, out Operation ret)
    {
        block = null!;
        ret = null!;
        if (func.NumRegions != 1 || func.Region(0).Blocks.Count != 1) return false;
        block = func.Region(0).Blocks[0];
        if (block.Terminator is not { Name: "func.return" } r || r.NumOperands == 0) return false;
        ret = r;
        if (func.GetAttr("function_type") is not TypeAttr { Value: FunctionType }) return false;
        return FuncDialect.ResAttrs(func, 0).Get("aspir.name") is StringAttr { Value: "loss" };
    }

    internal static long Bytes(Value v) => v.Type is TensorType t ? Math.Max(0, t.ByteSize) : 0;

    internal static long FlopsOf(Operation op)
    {
        if (op.Def is null) return 0;
        try { return op.Def.FlopsOf(OpState.Of(op)); }
        catch (Exception e) when (e is InvalidOperationException or InvalidCastException or NullReferenceException or IndexOutOfRangeException) { return 0; }
    }

    /// <summary>Ops torch's partitioner does not recompute by default (matmul-like, attention, gathers, the loss).</summary>
    private static readonly HashSet<string> TorchBanned = new()
    {
        "tensor.linear", "tensor.matmul", "tensor.attention", "tensor.embedding", "tensor.cross_entropy", "tensor.count_valid",
    };

    /// <summary>Whether <paramref name="op"/> may be cloned at all (before any cost rule).</summary>
    private bool MayClone(Operation op)
    {
        if (op.Def is null || !op.HasTrait(OpTraits.Pure) || op.NumRegions > 0 || op.NumOperands == 0 || op.NumResults == 0) return false;
        if (op.Name.StartsWith("dist.", StringComparison.Ordinal) && !recomputeCollectives) return false;
        foreach (var r in op.Results)
            if (r.Type is not TensorType { IsStatic: true }) return false;
        return true;
    }

    /// <summary>The top-level op of <paramref name="block"/> that holds <paramref name="op"/>.</summary>
    internal static Operation? InBlock(Operation op, Block block)
    {
        for (Operation? o = op; o is not null; o = o.ParentOp)
            if (o.Block == block) return o;
        return null;
    }

    /// <summary>Decides and rewrites one function; returns what it did (null when the function is not a joint step).</summary>
    public Summary? Checkpoint(Operation func, TextWriter report)
    {
        if (!IsJointStep(func, out var block, out var ret)) return null;
        var name = func.GetString("sym_name") ?? "?";
        var ops = block.Ops.ToList();
        long peakBefore = EstimatePeak(block).Peak;
        var index = new Dictionary<Operation, int>();
        for (int i = 0; i < ops.Count; i++) index[ops[i]] = i;

        // Forward: the ops the loss depends on.
        var forward = new HashSet<Operation>();
        var work = new Stack<Value>();
        work.Push(ret.Operand(0));
        while (work.Count > 0)
        {
            var v = work.Pop();
            if (v.DefiningOp is not { } d || InBlock(d, block) is not { } top || !forward.Add(top)) continue;
            top.Walk(inner => { foreach (var u in inner.Operands) work.Push(u); });
            foreach (var u in top.Operands) work.Push(u);
        }
        bool IsBackward(Operation user) => InBlock(user, block) is { } top && top != ret && !forward.Contains(top);

        // Saved activations and the index of their first backward use.
        var firstUse = new Dictionary<Value, int>();
        var savedOrder = new List<Value>();
        foreach (var op in ops)
        {
            if (!forward.Contains(op)) continue;
            foreach (var r in op.Results)
            {
                int first = int.MaxValue;
                foreach (var u in r.Uses)
                    if (IsBackward(u.Owner)) first = Math.Min(first, index[InBlock(u.Owner, block)!]);
                if (first == int.MaxValue) continue;
                firstUse[r] = first;
                savedOrder.Add(r);
            }
        }
        long savedBytesBefore = savedOrder.Sum(Bytes);
        long forwardFlops = ops.Where(forward.Contains).Sum(FlopsOf);

        // The threshold (policy=sac).
        double threshold = double.PositiveInfinity;
        if (policy == CheckpointPolicy.Sac)
        {
            if (flopsPerByte is { } t) threshold = t;
            else
            {
                double maxLinear = 0;
                foreach (var op in ops)
                    if (forward.Contains(op) && op.Name is "tensor.linear" or "tensor.matmul" && op.NumResults == 1 && Bytes(op.Result(0)) > 0)
                        maxLinear = Math.Max(maxLinear, (double)FlopsOf(op) / Bytes(op.Result(0)));
                threshold = maxLinear > 0 ? 2 * maxLinear : 64;
            }
        }

        // Decide, in forward order.
        var recompute = new HashSet<Value>();                       // values that are rebuilt when the backward needs them
        var chain = new Dictionary<Operation, HashSet<Operation>>(); // recompute chain of a recomputable op (itself included)
        var sources = new Dictionary<Operation, HashSet<Value>>();   // the kept op results that chain reads
        var retained = new HashSet<Value>();                         // kept values live in the backward anyway
        var decision = new Dictionary<Value, string>();
        if (policy != CheckpointPolicy.None)
            foreach (var op in ops)
            {
                if (!forward.Contains(op)) continue;
                bool can = MayClone(op) && (policy != CheckpointPolicy.TorchDefault || !TorchBanned.Contains(op.Name));
                long outBytes = op.Results.Sum(Bytes);
                string why = can ? "" : "not recomputable";
                HashSet<Operation>? ch = null;
                HashSet<Value>? src = null;
                if (can)
                {
                    ch = new HashSet<Operation> { op };
                    src = new HashSet<Value>();
                    foreach (var u in op.Operands)
                    {
                        if (recompute.Contains(u))
                        {
                            ch.UnionWith(chain[u.DefiningOp!]);
                            src.UnionWith(sources[u.DefiningOp!]);
                        }
                        else if (u is OpResult) src.Add(u);
                    }
                    if (policy == CheckpointPolicy.Sac)
                    {
                        double own = outBytes == 0 ? double.PositiveInfinity : (double)FlopsOf(op) / outBytes;
                        double whole = outBytes == 0 ? double.PositiveInfinity : (double)ch.Sum(FlopsOf) / outBytes;
                        if (own > threshold) { can = false; why = $"{own:0.#} flops/byte > {threshold:0.#}"; }
                        else if (whole > threshold) { can = false; why = $"chain {whole:0.#} flops/byte > {threshold:0.#}"; }
                    }
                }
                bool saved = op.Results.Any(firstUse.ContainsKey);
                if (can && saved)
                {
                    var extra = src!.Where(s => !retained.Contains(s)).ToList();
                    long marginal = extra.Sum(Bytes);
                    if (marginal >= outBytes)
                    {
                        can = false;
                        why = $"recomputing it would keep {string.Join(", ", extra.Select(Describe))}: {marginal} bytes";
                    }
                }
                if (can)
                {
                    chain[op] = ch!;
                    sources[op] = src!;
                    foreach (var r in op.Results) recompute.Add(r);
                    if (saved) retained.UnionWith(src!);
                }
                else if (saved)
                    foreach (var r in op.Results)
                        if (firstUse.ContainsKey(r)) retained.Add(r);
                foreach (var r in op.Results)
                    if (firstUse.ContainsKey(r)) decision[r] = can ? "recompute" : "keep (" + why + ")";
            }

        // Rewrite: in order of first backward use, clone the chain before that use.
        var (clonedOps, clonedFlops) = CloneBeforeBackwardUses(block, recompute,
            savedOrder.Where(recompute.Contains).OrderBy(v => firstUse[v]).Select(v => (v, ops[firstUse[v]])), IsBackward);

        // After: forward results still used outside the forward.
        int savedAfter = 0;
        long savedBytesAfter = 0;
        foreach (var op in ops)
            if (forward.Contains(op))
                foreach (var r in op.Results)
                    if (r.Uses.Any(u => InBlock(u.Owner, block) is { } top && !forward.Contains(top) && top != ret))
                    {
                        savedAfter++;
                        savedBytesAfter += Bytes(r);
                    }

        var (peakAfter, peakOp) = EstimatePeak(block);
        var peakAt = peakOp is null ? "the arguments"
            : $"'{peakOp.Name}'" + (peakOp.NumResults > 0 && peakOp.Result(0).NameHint is { } ph ? $" (%{ph})" : "")
              + (peakOp.Location.IsKnown ? $" at line {peakOp.Location.Line}" : "");
        var summary = new Summary(name, PolicyName(policy), threshold, savedOrder.Count, savedBytesBefore, savedAfter, savedBytesAfter,
            clonedOps, clonedFlops, forwardFlops, peakBefore, peakAfter, peakAt, block.Arguments.Sum(a => Bytes(a)));
        Write(report, summary, perValue ? savedOrder.Select(v => (v, decision.GetValueOrDefault(v, "keep"))).ToList() : null);
        return summary;
    }

    /// <summary>
    /// The rewrite sac and remat share: for each value of <paramref name="order"/> (value, its first backward
    /// use), clones the chain of <paramref name="recompute"/> ops that makes it just before that use (clones
    /// shared, marked <c>aspir.recompute</c>, which also keeps cse from merging them back, named <c>%x_rc</c>)
    /// and points the value's backward uses at the clone. Returns the cloned ops and their FLOPs.
    /// </summary>
    internal static (int Ops, long Flops) CloneBeforeBackwardUses(Block block, IReadOnlySet<Value> recompute,
        IEnumerable<(Value Value, Operation FirstUse)> order, Func<Operation, bool> isBackward)
    {
        var memo = new Dictionary<Value, Value>();
        int clonedOps = 0;
        long clonedFlops = 0;
        Value Materialize(Value u, Operation before)
        {
            if (!recompute.Contains(u)) return u;
            if (memo.TryGetValue(u, out var done)) return done;
            var op = u.DefiningOp!;
            var mapping = new IRMapping();
            foreach (var w in op.Operands) mapping.Map(w, Materialize(w, before));
            var clone = op.Clone(mapping);
            clone.SetAttr("aspir.recompute", clone.Context.Unit);
            block.InsertBefore(before, clone);
            clonedOps++;
            clonedFlops += FlopsOf(clone);
            for (int i = 0; i < op.NumResults; i++)
            {
                clone.Result(i).NameHint = op.Result(i).NameHint is { } h ? h + "_rc" : "rc";
                memo[op.Result(i)] = clone.Result(i);
            }
            return memo[u];
        }
        foreach (var (v, first) in order)
        {
            var fresh = Materialize(v, first);
            foreach (var use in v.Uses.ToList())
                if (isBackward(use.Owner)) use.Value = fresh;
        }
        return (clonedOps, clonedFlops);
    }

    private static string Describe(Value v) => $"%{v.NameHint ?? "?"} ({v.DefiningOp?.Name})";

    private static string Num(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    private static void Write(TextWriter w, Summary s, List<(Value Value, string Decision)>? values)
    {
        var t = double.IsPositiveInfinity(s.Threshold) ? "-" : s.Threshold.ToString("0.###", CultureInfo.InvariantCulture);
        w.WriteLine($"sac @{s.Function} policy={s.Policy} flops-per-byte={t}");
        w.WriteLine($"  saved activations before: {s.SavedBefore,6} values {Num(s.SavedBytesBefore),16} bytes");
        w.WriteLine($"  saved activations after:  {s.SavedAfter,6} values {Num(s.SavedBytesAfter),16} bytes");
        double pct = s.ForwardFlops > 0 ? 100.0 * s.RecomputedFlops / s.ForwardFlops : 0;
        w.WriteLine($"  recomputed: {s.RecomputedOps} ops, {Num(s.RecomputedFlops)} flops ({pct.ToString("0.0", CultureInfo.InvariantCulture)}% of the forward's {Num(s.ForwardFlops)})");
        w.WriteLine($"  peak bytes live (interpreter accounting): {Num(s.PeakBefore)} before, {Num(s.PeakAfter)} after, at {s.PeakAt}; arguments {Num(s.ArgumentBytes)}");
        if (values is null) return;
        foreach (var (v, d) in values)
            w.WriteLine($"    %{v.NameHint ?? "?"} {v.DefiningOp?.Name} {Num(Bytes(v))} bytes: {d}");
    }
}
