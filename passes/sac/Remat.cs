using System.Globalization;
using System.Text;

namespace AutoSpIR.Passes.Sac;

/// <summary>
/// <c>remat{budget=BYTES, max-nodes=N}</c>: the recompute decisions of a joint forward+backward step
/// (the output of <c>autodiff</c>) that need the fewest recomputed FLOPs while the peak bytes live
/// stay within <c>budget</c>: the yardstick for <see cref="Sac"/>.
/// <para>
/// <b>The problem, precisely.</b> Forward ops, saved activations and first backward uses are
/// <see cref="Sac"/>'s. The candidates are the forward ops <c>sac</c> may clone (pure, no regions,
/// at least one operand and result, static tensor results, no <c>dist.*</c> collective) whose
/// results a backward op reads, or that feed another candidate (the intermediates of recompute
/// chains). A decision set R is a subset of the candidates; it is applied with <c>sac</c>'s own
/// mechanism: every saved activation whose op is in R is rebuilt before its first backward use by
/// cloning its op and, recursively, the operands' ops that are in R (operands outside R are read
/// from the forward and so live until then); clones are shared between activations. This is
/// exactly <c>sac</c>'s decision space (every <c>sac</c> policy produces such an R). The cost of R
/// is the FLOPs of the cloned ops (each op's registered <c>FlopsOf</c>, as <c>sac</c> reports them);
/// the constraint is <see cref="Sac.EstimatePeak"/> of the rewritten function (the reference
/// interpreter's accounting, which equals the measured <c>PeakBytes</c>) at most the budget.
/// The pass finds a minimum-FLOPs R, applies it and reports its FLOPs and peak, or fails when no
/// decision set fits.
/// </para>
/// <para>
/// <b>Exact search.</b> Depth-first branch and bound over the candidates in forward order, each
/// decided recompute first, then keep. The recomputed FLOPs only grow when a candidate is added
/// to R (the cloned set is the part of R reachable backwards from R's saved activations through
/// R), so the FLOPs of the ops decided "recompute" so far are a lower bound of every completion;
/// a branch whose bound is not below the best feasible FLOPs is cut. The peak is not monotone in
/// R (recomputing frees a forward value but can keep its sources alive and adds clones to the
/// backward), so the peak is cut with a lower bound (the bytes that the decisions made so far
/// certainly keep live, at each step of the original program: see <c>PrepareBound</c>), and
/// feasibility is decided only at the leaves, by rewriting a copy of the function and computing
/// its real peak (memoized by the set of cloned ops, which determines the program); the
/// program the pass then makes is that one, so its peak is the one checked. The search is exact: what it returns is optimal over the decision space above under
/// the FLOPs cost model. It is exponential in the worst case; <c>max-nodes</c> (default
/// 2,000,000) bounds the search tree, and the pass fails, claiming nothing, when it is exceeded.
/// "Optimal" is relative to that space: other schedules (reordering the backward, recomputing
/// in several places, offloading, in-place reuse) are outside it.
/// </para>
/// <para>
/// <b>MILP</b> (<c>solver=milp</c>, the default; passes/sac/RematMilp.cs): coinor-cbc on binaries x_o (op o
/// cloned, closed as <c>Cloned</c> is), z_o,k (o's clone inserted at or before the k-th first backward use of
/// a saved candidate, linearised exactly) and the liveness of each decision-dependent value (a forward value
/// after its last forward use, a clone's result) per step of the original program. That peak model is exact
/// at the original ops and ignores only the steps of the inserted clones themselves, so it is a lower bound
/// of <see cref="Sac.EstimatePeak"/> (checked on every solution). Each cbc optimum is applied and its real
/// peak computed; if above the budget it is cut off (a no-good cut) and cbc runs again, so the first one
/// that fits is optimal. Without cbc, or when the loop does not settle, the branch and bound runs instead.
/// </para>
/// </summary>
public sealed partial class Remat(long budget, long maxNodes, string solver = "milp", long seconds = 0) : Pass
{
    public override string Name => "remat";

    public static readonly PassOption[] Options =
    {
        new("budget", "int", "0", "the peak bytes live allowed (the interpreter's accounting, as sac reports it)"),
        new("max-nodes", "int", "2000000", "bound on the branch-and-bound search tree; exceeding it is an error"),
        new("seconds", "int", "0", "solver=milp: cbc's time limit per run in seconds (0: none); when it is hit, the branch and bound runs instead"),
        new("solver", "string", "milp", "milp (coinor-cbc on a relaxed peak model, exact by cutting off infeasible programs; falls back to bnb) or bnb (branch and bound only)"),
    };

    public static Pass Create(PassOptions o) => new Remat(o.GetInt("budget"), o.GetInt("max-nodes"), o.Get("solver"), o.GetInt("seconds"));

    /// <summary>The result for one function: the optimal decision set's recomputed FLOPs and peak, and the search's size.</summary>
    public sealed record Result(string Function, long Budget, int Candidates, long Flops, int ClonedOps, long Peak, long PeakBefore,
        long Nodes, int Evaluations);

    public override bool Run(Operation root, PassContext pc)
    {
        var funcs = new List<Operation>();
        if (root.Name == "func.func") funcs.Add(root);
        else root.Walk(o => { if (o.Name == "func.func") funcs.Add(o); });
        foreach (var f in funcs)
        {
            var p = Problem.Of(f);
            if (p is null) continue;
            HashSet<int>? best = null;
            long nodes = 0;
            int evals = 0;
            string? err = null;
            bool solved = false;
            if (solver == "milp")
            {
                var m = p.SolveMilp(budget, seconds: seconds);
                if (m.Solved) { solved = true; best = m.Best; evals = p.Evaluations; err = m.Error; nodes = m.Iterations; }
            }
            else if (solver != "bnb")
            {
                pc.Diagnostics.Error(f.Location, $"remat: unknown solver '{solver}' (expected milp or bnb)");
                return false;
            }
            if (!solved) (best, nodes, evals, err) = p.Solve(budget, maxNodes);
            if (best is null)
            {
                pc.Diagnostics.Error(f.Location, err ?? $"remat: no decision set fits the budget of {budget} bytes");
                return false;
            }
            var (flops, cloned, peak) = p.Apply(f, best);
            if (peak > budget) throw new InvalidOperationException($"remat: peak {peak} above the budget {budget}");
            var r = new Result(p.Name, budget, p.Candidates.Count, flops, cloned, peak, p.PeakBefore, nodes, evals);
            Write(pc.Report, r, solver == "milp" && p.MilpUsed);
        }
        return true;
    }

    private static string Num(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    private static void Write(TextWriter w, Result r, bool milp)
    {
        if (milp)
            w.WriteLine($"remat @{r.Function} budget={Num(r.Budget)}: optimal over {r.Candidates} candidates (milp: {Num(r.Nodes)} cbc solves, {r.Evaluations} programs evaluated)");
        else
            w.WriteLine($"remat @{r.Function} budget={Num(r.Budget)}: optimal over {r.Candidates} candidates ({Num(r.Nodes)} search nodes, {r.Evaluations} programs evaluated)");
        w.WriteLine($"  recompute flops: {Num(r.Flops)} ({r.ClonedOps} ops)");
        w.WriteLine($"  peak bytes live (interpreter accounting): {Num(r.PeakBefore)} before, {Num(r.Peak)} after");
    }

    /// <summary>The decision problem of one joint step (analysis only; the function is not changed).</summary>
    public sealed partial class Problem
    {
        public string Name { get; private init; } = "";
        public List<Operation> Ops { get; private init; } = null!;
        /// <summary>Candidate ops (indices into <see cref="Ops"/>), in forward order.</summary>
        public List<int> Candidates { get; private set; } = null!;
        public long PeakBefore { get; private init; }
        private Dictionary<Operation, int> index = null!;
        private HashSet<int> savedOps = null!;                    // candidate ops with a saved result
        private List<(int Op, int Result, int FirstUse)> saved = null!; // saved activations of any forward op
        private HashSet<Operation> forward = null!;
        private Block block = null!;
        private long[] flops = null!;
        private Dictionary<string, long> peakMemo = new();
        private int firstBackward;            // B: the first step a clone can be inserted before
        private long[] baseLive = null!;      // live bytes at each original step without the decision-dependent parts
        private Dictionary<Value, (int From, int To)> extra = null!; // forward value -> the steps it is live only if kept for the backward
        private Dictionary<int, int> candPos = null!;
        private Dictionary<int, int> earliest = null!;  // candidate -> the earliest step a clone of it can be inserted before
        private Dictionary<Value, int> savedFirstUse = null!;
        public int Evaluations => peakMemo.Count;

        public static Problem? Of(Operation func)
        {
            if (!Sac.IsJointStep(func, out var block, out var ret)) return null;
            var ops = block.Ops.ToList();
            var index = new Dictionary<Operation, int>();
            for (int i = 0; i < ops.Count; i++) index[ops[i]] = i;
            var forward = new HashSet<Operation>();
            var work = new Stack<Value>();
            work.Push(ret.Operand(0));
            while (work.Count > 0)
            {
                var v = work.Pop();
                if (v.DefiningOp is not { } d || Sac.InBlock(d, block) is not { } top || !forward.Add(top)) continue;
                top.Walk(inner => { foreach (var u in inner.Operands) work.Push(u); });
                foreach (var u in top.Operands) work.Push(u);
            }
            bool IsBackward(Operation user) => Sac.InBlock(user, block) is { } top && top != ret && !forward.Contains(top);
            var saved = new List<(int, int, int)>();
            var savedOps = new HashSet<int>();
            for (int i = 0; i < ops.Count; i++)
            {
                if (!forward.Contains(ops[i])) continue;
                for (int k = 0; k < ops[i].NumResults; k++)
                {
                    int first = int.MaxValue;
                    foreach (var u in ops[i].Result(k).Uses)
                        if (IsBackward(u.Owner)) first = Math.Min(first, index[Sac.InBlock(u.Owner, block)!]);
                    if (first == int.MaxValue) continue;
                    saved.Add((i, k, first));
                    if (MayClone(ops[i])) savedOps.Add(i);
                }
            }
            // Candidates: cloneable forward ops that are saved or feed (transitively) a saved candidate through cloneable ops.
            var cand = new HashSet<int>(savedOps);
            for (int i = ops.Count - 1; i >= 0; i--)
            {
                if (!cand.Contains(i)) continue;
                foreach (var u in ops[i].Operands)
                    if (u.DefiningOp is { } d && d.Block == block && forward.Contains(d) && MayClone(d)) cand.Add(index[d]);
            }
            var pr = new Problem
            {
                Name = func.GetString("sym_name") ?? "?",
                Ops = ops,
                Candidates = cand.OrderBy(i => i).ToList(),
                PeakBefore = Sac.EstimatePeak(block).Peak,
                index = index,
                savedOps = savedOps,
                saved = saved,
                forward = forward,
                block = block,
                flops = ops.Select(Sac.FlopsOf).ToArray(),
            };
            pr.PrepareBound(ret);
            return pr;
        }

        /// <summary>
        /// Prepares the peak bound. The program R makes runs the original ops in their order, with clones
        /// inserted before backward ops only (at or after B, the first backward use of any saved value). At the
        /// step of an original op t its live bytes are at least base(t) plus the bytes of the forward values that
        /// R keeps for the backward and that are live at t only for that: a saved value kept lives from after its
        /// last forward use to its first backward use (from there on it, or its clone, is live in any case, and
        /// base counts it), and the source of a clone lives at least until the clone, which is not before the
        /// first backward use of any saved candidate the cloned op can feed. The values that the decided
        /// part of R certainly keeps (saved values decided "keep" or not candidates; operands, not rebuilt, of
        /// ops certainly cloned) give a lower bound of the peak that only grows as more is decided.
        /// </summary>
        private void PrepareBound(Operation ret)
        {
            firstBackward = saved.Count == 0 ? Ops.Count : saved.Min(s => s.FirstUse);
            var live = LiveAt(block, Ops);
            var returned = new HashSet<Value>(ret.Operands);
            var firstUse = new Dictionary<Value, int>();
            foreach (var (opi, k, f) in saved) firstUse[Ops[opi].Result(k)] = f;
            extra = new Dictionary<Value, (int, int)>();
            for (int i = 0; i < Ops.Count; i++)
            {
                if (!forward.Contains(Ops[i])) continue;
                foreach (var v in Ops[i].Results)
                {
                    if (returned.Contains(v)) continue;
                    int last = i;
                    foreach (var u in v.Uses)
                        if (Sac.InBlock(u.Owner, block) is { } top && forward.Contains(top)) last = Math.Max(last, index[top]);
                    if (firstUse.TryGetValue(v, out var f)) { if (last + 1 < f) extra[v] = (last + 1, f); }
                    else extra[v] = (last + 1, firstBackward);
                }
            }
            baseLive = live;
            foreach (var (opi, k, _) in saved)
                if (extra.TryGetValue(Ops[opi].Result(k), out var iv))
                    for (int t = iv.From; t < iv.To; t++) baseLive[t] -= Sac.Bytes(Ops[opi].Result(k));
            savedFirstUse = firstUse;
            Index();
        }

        /// <summary>Candidate positions, and for each candidate the first backward use of any saved candidate it can feed through candidates.</summary>
        private void Index()
        {
            candPos = new Dictionary<int, int>();
            for (int p = 0; p < Candidates.Count; p++) candPos[Candidates[p]] = p;
            earliest = new Dictionary<int, int>();
            foreach (var c in Candidates.OrderByDescending(i => i))
            {
                int e = int.MaxValue;
                if (savedOps.Contains(c))
                    foreach (var v in Ops[c].Results)
                        if (savedFirstUse.TryGetValue(v, out var f)) e = Math.Min(e, f);
                foreach (var v in Ops[c].Results)
                    foreach (var u in v.Uses)
                        if (Sac.InBlock(u.Owner, block) is { } top && index.TryGetValue(top, out var d) && earliest.TryGetValue(d, out var ed))
                            e = Math.Min(e, ed);
                earliest[c] = e;
            }
        }

        /// <summary>The live bytes at each step (after the op's results are allocated), as <see cref="Sac.EstimatePeak"/> counts them.</summary>
        private static long[] LiveAt(Block block, List<Operation> ops)
        {
            var ret = ops[^1];
            var lastUse = new Dictionary<Value, int>();
            for (int i = 0; i < ops.Count; i++)
                ops[i].Walk(inner => { foreach (var v in inner.Operands) lastUse[v] = i; });
            for (int i = 0; i < ops.Count; i++)
                foreach (var v in ops[i].Operands) lastUse[v] = i;
            var returned = new HashSet<Value>(ret.Operands);
            long live = block.Arguments.Sum(a => Sac.Bytes(a));
            var at = new long[ops.Count];
            for (int i = 0; i < ops.Count - 1; i++)
            {
                var op = ops[i];
                foreach (var r in op.Results) live += Sac.Bytes(r);
                at[i] = live;
                var freed = new HashSet<Value>();
                foreach (var v in op.Operands)
                    if (lastUse[v] == i && v is OpResult && !returned.Contains(v) && freed.Add(v)) live -= Sac.Bytes(v);
                foreach (var r in op.Results)
                    if (!r.HasUses) live -= Sac.Bytes(r);
            }
            return at;
        }

        /// <summary>The forward-phase peak bound for decision prefix of length <paramref name="k"/> whose "recompute" ops are <paramref name="r"/>.</summary>
        public long PeakBound(IReadOnlySet<int> r, int k)
        {
            bool SurelyKept(int opi) => !r.Contains(opi) && (!candPos.TryGetValue(opi, out var p) || p < k);
            var delta = new long[Ops.Count + 1];
            var until = new Dictionary<Value, int>();
            void Need(Value v, int end)
            {
                if (!extra.TryGetValue(v, out var iv)) return;
                // A kept saved value surely lives until its first backward use; the source of a clone until the clone.
                end = savedFirstUse.ContainsKey(v) ? iv.To : Math.Max(iv.To, Math.Min(end, Ops.Count - 1));
                if (!until.TryGetValue(v, out var e) || end > e) until[v] = end;
            }
            foreach (var (opi, res, _) in saved)
                if (SurelyKept(opi)) Need(Ops[opi].Result(res), 0);
            foreach (var c in Cloned(r))
                foreach (var w in Ops[c].Operands)
                    if (w.DefiningOp is { } d && index.TryGetValue(d, out var j) && SurelyKept(j)) Need(w, earliest[c]);
            foreach (var (v, end) in until)
            {
                int from = extra[v].From;
                if (from >= end) continue;
                delta[from] += Sac.Bytes(v);
                delta[end] -= Sac.Bytes(v);
            }
            long best = 0, acc = 0;
            for (int t = 0; t < Ops.Count - 1; t++)
            {
                acc += delta[t];
                best = Math.Max(best, baseLive[t] + acc);
            }
            return best;
        }

        /// <summary>
        /// The same problem with only the candidates <paramref name="which"/> selects left as decisions (the others
        /// always kept): a smaller decision space, for checking the search against enumeration.
        /// </summary>
        public Problem Restrict(Func<int, bool> which)
        {
            var q = (Problem)MemberwiseClone();
            q.Candidates = Candidates.Where(which).ToList();
            q.savedOps = new HashSet<int>(savedOps.Where(q.Candidates.Contains));
            q.peakMemo = new Dictionary<string, long>();
            q.dvals = null!;
            q.fu = null!;
            q.Index();
            return q;
        }

        /// <summary>sac's legality rule with recompute-collectives=false.</summary>
        private static bool MayClone(Operation op)
        {
            if (op.Def is null || !op.HasTrait(OpTraits.Pure) || op.NumRegions > 0 || op.NumOperands == 0 || op.NumResults == 0) return false;
            if (op.Name.StartsWith("dist.", StringComparison.Ordinal)) return false;
            foreach (var r in op.Results)
                if (r.Type is not TensorType { IsStatic: true }) return false;
            return true;
        }

        /// <summary>The ops cloned for decision set <paramref name="r"/> (op indices): R reachable backwards from R's saved ops through R.</summary>
        public SortedSet<int> Cloned(IReadOnlySet<int> r)
        {
            var set = new SortedSet<int>();
            var stack = new Stack<int>(savedOps.Where(r.Contains));
            while (stack.Count > 0)
            {
                int i = stack.Pop();
                if (!set.Add(i)) continue;
                foreach (var u in Ops[i].Operands)
                    if (u.DefiningOp is { } d && d.Block == block && index.TryGetValue(d, out var j) && r.Contains(j)) stack.Push(j);
            }
            return set;
        }

        public long Flops(IReadOnlySet<int> r) => Cloned(r).Sum(i => flops[i]);

        /// <summary>The real peak of the program that decision set <paramref name="r"/> makes (a rewritten copy; memoized).</summary>
        public long Peak(IReadOnlySet<int> r)
        {
            var cloned = Cloned(r);
            var key = string.Join(",", cloned);
            if (peakMemo.TryGetValue(key, out var p)) return p;
            var func = block.ParentOp!;
            var copy = func.Clone(new IRMapping());
            var copyOps = copy.Region(0).Blocks[0].Ops.ToList();
            Rewrite(copy.Region(0).Blocks[0], copyOps, cloned);
            p = Sac.EstimatePeak(copy.Region(0).Blocks[0]).Peak;
            peakMemo[key] = p;
            return p;
        }

        /// <summary>
        /// Applies a decision set, given by the ops to clone, to <paramref name="b"/> (whose ops, listed in
        /// <paramref name="ops"/>, correspond one to one with this problem's): sac's rewrite (clone before the
        /// first backward use, in order of first use, clones shared, marked aspir.recompute, named %x_rc).
        /// Returns the cloned ops and FLOPs.
        /// </summary>
        private (int Ops, long Flops) Rewrite(Block b, List<Operation> ops, SortedSet<int> cloned)
        {
            var recompute = new HashSet<Value>();
            foreach (var i in cloned)
                foreach (var res in ops[i].Results) recompute.Add(res);
            var fwd = new HashSet<Operation>(forward.Select(o => ops[index[o]]));
            var ret = ops[^1];
            bool IsBackward(Operation user) => Sac.InBlock(user, b) is { } top && top != ret && !fwd.Contains(top);
            return Sac.CloneBeforeBackwardUses(b, recompute,
                saved.Where(s => cloned.Contains(s.Op)).OrderBy(s => s.FirstUse).Select(s => ((Value)ops[s.Op].Result(s.Result), ops[s.FirstUse])), IsBackward);
        }

        /// <summary>Applies decision set <paramref name="r"/> to the function itself; returns the FLOPs, cloned ops and the peak after.</summary>
        public (long Flops, int ClonedOps, long Peak) Apply(Operation func, IReadOnlySet<int> r)
        {
            long expected = Peak(r);
            var (n, f) = Rewrite(block, Ops, Cloned(r));
            long peak = Sac.EstimatePeak(block).Peak;
            if (peak != expected || f != Flops(r))
                throw new InvalidOperationException($"remat: the applied program's peak {peak} / flops {f} differ from the evaluated {expected} / {Flops(r)}");
            return (f, n, peak);
        }

        /// <summary>
        /// Branch and bound (see the class comment). Returns a minimum-FLOPs decision set with peak at most
        /// <paramref name="budget"/> (null when none fits, or when the search exceeded <paramref name="maxNodes"/>, with an error).
        /// </summary>
        public (HashSet<int>? Best, long Nodes, int Evaluations, string? Error) Solve(long budget, long maxNodes)
        {
            HashSet<int>? best = null;
            long bestFlops = long.MaxValue, nodes = 0;
            var r = new HashSet<int>();
            bool aborted = false;
            void Dfs(int k)
            {
                if (aborted) return;
                if (++nodes > maxNodes) { aborted = true; return; }
                if (Flops(r) >= bestFlops) return;
                if (PeakBound(r, k) > budget) return;
                if (k == Candidates.Count)
                {
                    if (Peak(r) <= budget) { best = new HashSet<int>(r); bestFlops = Flops(r); }
                    return;
                }
                int c = Candidates[k];
                r.Add(c);
                Dfs(k + 1);
                r.Remove(c);
                Dfs(k + 1);
            }
            Dfs(0);
            if (aborted) return (null, nodes, Evaluations, $"remat: the search exceeded max-nodes={maxNodes} over {Candidates.Count} candidates; no optimum proven");
            return (best, nodes, Evaluations, null);
        }
    }
}
