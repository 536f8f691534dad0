using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace AutoSpIR.Passes.Sac;

public sealed partial class Remat
{
    public sealed partial class Problem
    {
        /// <summary>Whether the last <see cref="SolveMilp"/> settled the problem.</summary>
        public bool MilpUsed { get; private set; }

        // The MILP's data (see SolveMilp).
        private sealed record DVal(Value V, int Producer, long Bytes, int Def, int LastFwd, int LastBwd, List<int> Consumers, bool Returned);
        private List<DVal> dvals = null!;
        private long[] milpBase = null!;
        private int[] groups = null!;          // the steps a clone can be inserted before (first backward uses of saved candidates)
        private Dictionary<int, int> fu = null!; // saved candidate -> its first backward use

        private void PrepareMilp()
        {
            if (dvals is not null) return;
            int n = Ops.Count;
            var ret = Ops[^1];
            var returned = new HashSet<Value>(ret.Operands);
            var candSet = new HashSet<int>(Candidates);
            var lastUse = new Dictionary<Value, int>();
            var lastFwd = new Dictionary<Value, int>();
            var lastBwd = new Dictionary<Value, int>();
            for (int i = 0; i < n; i++)
            {
                bool fwd = forward.Contains(Ops[i]);
                bool bwd = !fwd && i < n - 1;
                int ii = i;
                Ops[i].Walk(inner =>
                {
                    foreach (var v in inner.Operands)
                    {
                        lastUse[v] = ii;
                        if (fwd) lastFwd[v] = ii;
                        if (bwd) lastBwd[v] = ii;
                    }
                });
            }
            var baseLive = LiveAt(block, Ops);
            var list = new List<DVal>();
            for (int i = 0; i < n - 1; i++)
            {
                if (!forward.Contains(Ops[i])) continue;
                foreach (var v in Ops[i].Results)
                {
                    var cons = new List<int>();
                    foreach (var u in v.Uses)
                        if (Sac.InBlock(u.Owner, block) is { } top && index.TryGetValue(top, out var j) && candSet.Contains(j) && !cons.Contains(j)) cons.Add(j);
                    if (!candSet.Contains(i) && cons.Count == 0) continue;
                    long b = Sac.Bytes(v);
                    var d = new DVal(v, i, b, i, Math.Max(i, lastFwd.GetValueOrDefault(v, i)), lastBwd.GetValueOrDefault(v, -1), cons, returned.Contains(v));
                    list.Add(d);
                    // Remove the part of the original live range after the last forward use (the model adds it back).
                    if (!d.Returned && lastUse.TryGetValue(v, out var lu))
                        for (int t = d.LastFwd + 1; t <= Math.Min(lu, n - 2); t++) baseLive[t] -= b;
                }
            }
            dvals = list;
            milpBase = baseLive;
            fu = new Dictionary<int, int>();
            foreach (var c in savedOps)
                foreach (var v in Ops[c].Results)
                    if (savedFirstUse.TryGetValue(v, out var f)) fu[c] = Math.Min(fu.GetValueOrDefault(c, int.MaxValue), f);
            groups = fu.Values.Distinct().OrderBy(x => x).ToArray();
        }

        private int GroupOf(int t)
        {
            int k = Array.BinarySearch(groups, t);
            return k >= 0 ? k : ~k - 1;
        }

        /// <summary>
        /// The MILP's peak for cloned set <paramref name="c"/>: the live bytes at each step of the original program
        /// in the rewritten one (clones counted from the step they are inserted before), without the steps of the
        /// clones themselves. A lower bound of <see cref="Peak"/>; equal when the peak is at an original op.
        /// </summary>
        public long ModelPeak(IReadOnlySet<int> cloned)
        {
            PrepareMilp();
            int n = Ops.Count;
            var g = new Dictionary<int, int>();
            foreach (var o in Candidates.Where(cloned.Contains).OrderByDescending(i => i))
            {
                int e = fu.TryGetValue(o, out var f) ? f : int.MaxValue;
                foreach (var d in dvals.Where(d => d.Producer == o))
                    foreach (var u in d.Consumers)
                        if (g.TryGetValue(u, out var gu)) e = Math.Min(e, gu);
                g[o] = e;
            }
            long best = 0;
            for (int t = 0; t < n - 1; t++)
            {
                long live = milpBase[t];
                foreach (var d in dvals)
                {
                    if (d.Returned || t <= d.LastFwd) goto clone;
                    bool xp = cloned.Contains(d.Producer);
                    if (!xp && (t <= d.LastBwd || d.Consumers.Any(u => g.TryGetValue(u, out var gu) && gu > t))) live += d.Bytes;
                    clone:
                    if (g.TryGetValue(d.Producer, out var go) && go <= t
                        && (t <= d.LastBwd || d.Consumers.Any(u => g.TryGetValue(u, out var gu) && gu > t))) live += d.Bytes;
                }
                best = Math.Max(best, live);
            }
            return best;
        }

        /// <summary>
        /// Exact minimum-FLOPs decision set by MILP (coinor-cbc). Variables: x_o (op o cloned), z_o,k (o's clone
        /// inserted at or before group point k), and the liveness of each decision-dependent value per group
        /// interval. The constraint at each original step is <see cref="ModelPeak"/> at most the budget, a
        /// relaxation of the real peak (the steps of inserted clones are not modelled). Each solution is applied
        /// and its real peak computed; one above the budget is cut off (a no-good cut on x) and the MILP solved
        /// again, so the first solution that fits is optimal over the decision space. Solved=false when cbc is
        /// missing, fails, or the loop exceeds its iterations (the caller falls back to branch and bound).
        /// </summary>
        public (bool Solved, HashSet<int>? Best, int Iterations, string? Error) SolveMilp(long budget, int maxIterations = 200, string cbc = "cbc", long seconds = 0)
        {
            MilpUsed = false;
            PrepareMilp();
            var cuts = new List<HashSet<int>>();
            for (int it = 1; it <= maxIterations; it++)
            {
                var lp = BuildLp(budget, cuts);
                var (status, x) = RunCbc(lp, cbc, seconds);
                if (status == "infeasible") { MilpUsed = true; return (true, null, it, null); }
                if (status != "optimal" || x is null) return (false, null, it, null);
                var cloned = Cloned(x);
                if (!cloned.SetEquals(x)) throw new InvalidOperationException("remat: the MILP's x is not a cloned set");
                long model = ModelPeak(x), real = Peak(x);
                if (model > budget + 0) throw new InvalidOperationException($"remat: cbc's solution has model peak {model} above the budget {budget}");
                if (model > real) throw new InvalidOperationException($"remat: model peak {model} above the real peak {real}: the model is not a relaxation");
                if (real <= budget) { MilpUsed = true; return (true, x, it, null); }
                cuts.Add(x);
            }
            return (false, null, maxIterations, null);
        }

        private static string VarName(string p, int a, int k) => k < 0 ? $"{p}{a}_m" : $"{p}{a}_{k}";

        private string BuildLp(long budget, List<HashSet<int>> cuts)
        {
            int n = Ops.Count, G = groups.Length;
            var candSet = new HashSet<int>(Candidates);
            var sb = new StringBuilder();
            var ci = CultureInfo.InvariantCulture;
            var rows = new List<string>();
            var bounds = new HashSet<string>();
            string X(int o) => "x" + o;
            string Z(int o, int k) => k < 0 ? "0" : VarName("z", o, k);
            var zUsed = new HashSet<(int, int)>();
            // Objective.
            sb.AppendLine("Minimize");
            sb.Append(" obj:");
            foreach (var o in Candidates) sb.Append(ci, $" + {flops[o]} {X(o)}\n");
            sb.AppendLine("Subject To");
            int rc = 0;
            void Row(List<(double C, string V)> terms, string sense, double rhs)
            {
                var r = new StringBuilder($" r{rc++}:");
                if (terms.Count == 0) terms.Add((0, Candidates.Count > 0 ? X(Candidates[0]) : "dummy"));
                foreach (var (c, v) in terms) r.Append(ci, $" {(c >= 0 ? "+" : "-")} {Math.Abs(c).ToString("R", ci)} {v}\n");
                r.Append(ci, $" {sense} {rhs.ToString("R", ci)}");
                rows.Add(r.ToString());
            }
            // Cloned-set closure: a non-saved candidate is cloned only for a cloned consumer.
            var consumers = new Dictionary<int, List<int>>();
            foreach (var d in dvals)
                if (candSet.Contains(d.Producer))
                {
                    if (!consumers.TryGetValue(d.Producer, out var l)) consumers[d.Producer] = l = new List<int>();
                    foreach (var u in d.Consumers) if (!l.Contains(u)) l.Add(u);
                }
            foreach (var o in Candidates)
                if (!savedOps.Contains(o))
                {
                    var t = new List<(double, string)> { (1, X(o)) };
                    foreach (var u in consumers.GetValueOrDefault(o, new())) t.Add((-1, X(u)));
                    Row(t, "<=", 0);
                }
            // z_o,k = x_o and (fu(o) <= groups[k] or some consumer's z_u,k).
            for (int k = 0; k < G; k++)
                foreach (var o in Candidates)
                {
                    zUsed.Add((o, k));
                    Row(new() { (1, Z(o, k)), (-1, X(o)) }, "<=", 0);
                    if (fu.TryGetValue(o, out var f) && f <= groups[k]) { Row(new() { (1, Z(o, k)), (-1, X(o)) }, ">=", 0); continue; }
                    var up = new List<(double, string)> { (1, Z(o, k)) };
                    foreach (var u in consumers.GetValueOrDefault(o, new()))
                    {
                        up.Add((-1, Z(u, k)));
                        Row(new() { (1, Z(o, k)), (-1, X(o)), (-1, Z(u, k)) }, ">=", -1);
                    }
                    Row(up, "<=", 0);
                }
            // Liveness auxiliaries, created on demand.
            var aux = new Dictionary<string, bool>();
            string FwdLive(int di, int k)
            {
                var d = dvals[di];
                var name = VarName("l", di, k);
                if (aux.TryAdd(name, true))
                    foreach (var u in d.Consumers)
                    {
                        // l >= x_u - z_u,k - x_p
                        var t = new List<(double, string)> { (1, name), (-1, X(u)) };
                        if (k >= 0) t.Add((1, Z(u, k)));
                        if (candSet.Contains(d.Producer)) t.Add((1, X(d.Producer)));
                        Row(t, ">=", 0);
                    }
                return name;
            }
            string CloneLive(int di, int k)
            {
                var d = dvals[di];
                var name = VarName("c", di, k);
                if (aux.TryAdd(name, true))
                    foreach (var u in d.Consumers)
                        Row(new() { (1, name), (-1, Z(d.Producer, k)), (-1, X(u)), (1, Z(u, k)) }, ">=", -1);
                return name;
            }
            // The peak constraint at each original step (identical rows merged, keeping the tightest).
            var stepRows = new Dictionary<string, (List<(double, string)> Terms, double Rhs)>();
            for (int t = 0; t < n - 1; t++)
            {
                double constant = milpBase[t];
                var terms = new Dictionary<string, double>();
                void Add(string v, double c) => terms[v] = terms.GetValueOrDefault(v) + c;
                int k = GroupOf(t);
                for (int di = 0; di < dvals.Count; di++)
                {
                    var d = dvals[di];
                    bool isCand = candSet.Contains(d.Producer);
                    if (!d.Returned && t > d.LastFwd)
                    {
                        if (t <= d.LastBwd) { constant += d.Bytes; if (isCand) Add(X(d.Producer), -d.Bytes); }
                        else if (d.Consumers.Count > 0) Add(FwdLive(di, k), d.Bytes);
                    }
                    if (isCand && k >= 0)
                    {
                        if (t <= d.LastBwd) Add(Z(d.Producer, k), d.Bytes);
                        else if (d.Consumers.Count > 0) Add(CloneLive(di, k), d.Bytes);
                    }
                }
                var list = terms.Where(e => e.Value != 0).OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => (e.Value, e.Key)).ToList();
                double rhs = budget - constant;
                if (list.Count == 0)
                {
                    if (rhs < 0) { rows.Add($" r{rc++}: + 1 {X(Candidates.Count > 0 ? Candidates[0] : 0)}\n - 1 {X(Candidates.Count > 0 ? Candidates[0] : 0)} >= 1"); }
                    continue;
                }
                var key = string.Join(",", list.Select(e => e.Key + ":" + e.Value.ToString("R", ci)));
                if (!stepRows.TryGetValue(key, out var prev) || rhs < prev.Rhs) stepRows[key] = (list, rhs);
            }
            foreach (var (_, (terms, rhs)) in stepRows) Row(terms, "<=", rhs);
            // No-good cuts: programs found too big.
            foreach (var cut in cuts)
            {
                var t = Candidates.Select(o => (cut.Contains(o) ? -1.0 : 1.0, X(o))).ToList();
                Row(t, ">=", 1 - cut.Count);
            }
            foreach (var r in rows) sb.AppendLine(r);
            sb.AppendLine("Bounds");
            foreach (var (o, k) in zUsed) sb.AppendLine($" 0 <= {Z(o, k)} <= 1");
            foreach (var a in aux.Keys) sb.AppendLine($" 0 <= {a} <= 1");
            sb.AppendLine("Binaries");
            foreach (var o in Candidates) sb.AppendLine(" " + X(o));
            sb.AppendLine("End");
            return sb.ToString();
        }

        private static (string Status, HashSet<int>? X) RunCbc(string lp, string cbc, long seconds)
        {
            var dir = Path.Combine(Path.GetTempPath(), "remat-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(dir);
            try
            {
                var lpPath = Path.Combine(dir, "m.lp");
                var solPath = Path.Combine(dir, "m.sol");
                File.WriteAllText(lpPath, lp);
                var psi = new ProcessStartInfo(cbc) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
                var args = new List<string> { lpPath, "ratio", "0", "allow", "0" };
                if (seconds > 0) args.AddRange(new[] { "sec", seconds.ToString(CultureInfo.InvariantCulture) });
                args.AddRange(new[] { "solve", "solu", solPath });
                foreach (var a in args) psi.ArgumentList.Add(a);
                Process proc;
                try { proc = Process.Start(psi)!; }
                catch (System.ComponentModel.Win32Exception) { return ("missing", null); }
                var so = proc.StandardOutput.ReadToEndAsync();
                var se = proc.StandardError.ReadToEndAsync();
                proc.WaitForExit();
                if (!File.Exists(solPath)) return ("error", null);
                var lines = File.ReadAllLines(solPath);
                if (lines.Length == 0) return ("error", null);
                var head = lines[0];
                if (head.StartsWith("Infeasible", StringComparison.Ordinal) || head.Contains("infeasible", StringComparison.OrdinalIgnoreCase)) return ("infeasible", null);
                if (!head.StartsWith("Optimal", StringComparison.Ordinal)) return ("error", null);
                var x = new HashSet<int>();
                foreach (var line in lines.Skip(1))
                {
                    var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    if (f.Length < 3) continue;
                    int o = f[0] == "**" ? 1 : 0;
                    var name = f[o + 1];
                    if (name.Length > 1 && name[0] == 'x' && int.TryParse(name.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out var op)
                        && double.Parse(f[o + 2], CultureInfo.InvariantCulture) > 0.5) x.Add(op);
                }
                return ("optimal", x);
            }
            finally { try { Directory.Delete(dir, true); } catch (IOException) { } }
        }
    }
}
