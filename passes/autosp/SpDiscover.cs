using AutoSpIR.Dialects.Func;

namespace AutoSpIR.Passes.AutoSp;

/// <summary>
/// <c>sp-discover</c>: finds the sequence dimension of every input of a function and writes it
/// as <c>aspir.seq_dim = d</c> into the argument's attributes, for the sequence-parallel passes
/// that follow (sharding propagation shards that dimension).
/// <code>
/// func.func @train_step(%ids: tensor&lt;2x16xi64&gt;, %labels: tensor&lt;2x16xi64&gt;, %emb: ... {aspir.param = "..."}, ...)
/// </code>
/// becomes
/// <code>
/// func.func @train_step(%ids: tensor&lt;2x16xi64&gt; {aspir.seq_dim = 1}, %labels: tensor&lt;2x16xi64&gt; {aspir.seq_dim = 1}, ...)
/// </code>
/// <para>
/// An argument that has <c>aspir.seq_dim</c> keeps it; it must be an integer d with
/// 0 &lt;= d &lt; rank, and the argument no parameter. Parameters (<c>aspir.param</c>) are never
/// sequence-sharded and rank-0 inputs have no dimension: both are left alone. Every other input
/// is classified from the ops' sharding rules (<see cref="OpDef.ShardingRule"/>): a union-find
/// over (value, dimension) joins, for every op of the function (forward and backward ops alike),
/// the dimensions that are exactly one and the same factor of its rule, so a class is a set of
/// dimensions that iterate over one index, followed through the whole function in both
/// directions. The class of the query sequence (dimension 1 of q) of a <c>tensor.attention</c>
/// or <c>tensor.attention_grad</c> op is the sequence; an input with exactly one dimension in such
/// a class gets <c>aspir.seq_dim</c> = that dimension. Labels reach it through cross_entropy's
/// rule (the labels share the logits' batch and sequence factors). A dimension made of several
/// factors (a reshape merging batch and sequence) is joined to nothing: the rule says which part
/// is which, but not how to split a sharding of the merged dimension.
/// </para>
/// <para>
/// Which functions: the one named by option <c>entry</c>, or by default every func.func with a
/// body that has an argument with <c>aspir.param</c> or <c>aspir.seq_dim</c> (the step of a model;
/// other functions are left alone).
/// </para>
/// <para>
/// Errors, located at the function, which is then left unchanged: no function named by
/// <c>entry</c>; an input that no dimension
/// classifies (<c>argument #1 ('labels') has no aspir.seq_dim and its dimensions do not reach an
/// attention op's sequence; add {aspir.seq_dim = N}</c>) or with several dimensions in the
/// sequence; inputs to classify in a function without attention op; an out-of-range or
/// non-integer <c>aspir.seq_dim</c>; <c>aspir.seq_dim</c> on a parameter.
/// </para>
/// </summary>
public sealed class SpDiscover(string entry = "") : Pass
{
    public override string Name => "sp-discover";

    public const string SeqDimAttr = "aspir.seq_dim";

    public override bool Run(Operation op, PassContext pc)
    {
        var funcs = new List<Operation>();
        op.Walk(o => { if (o.Name == FuncDialect.FuncOp.Name && !o.Region(0).IsEmpty) funcs.Add(o); });
        if (entry.Length > 0)
        {
            var f = funcs.FirstOrDefault(o => o.GetString("sym_name") == entry);
            if (f is null)
            {
                pc.Diagnostics.Error(op.Location, $"sp-discover: no function named '@{entry}'");
                return false;
            }
            return Discover(f, pc);
        }
        bool ok = true;
        foreach (var f in funcs.Where(IsModelStep)) ok &= Discover(f, pc);
        return ok;
    }

    /// <summary>The default selection: an argument is a parameter or has a sequence dimension.</summary>
    private static bool IsModelStep(Operation func) =>
        func.Region(0).EntryBlock!.Arguments.Any(a =>
            FuncDialect.ArgAttrs(func, a.Index) is var attrs && (attrs.Get("aspir.param") is not null || attrs.Get(SeqDimAttr) is not null));

    /// <summary>How diagnostics name argument #i: <c>argument #1 ('labels')</c>, by aspir.name or the SSA name.</summary>
    private static string Describe(Operation func, BlockArgument arg)
    {
        var name = (FuncDialect.ArgAttrs(func, arg.Index).Get("aspir.name") as StringAttr)?.Value ?? arg.NameHint;
        return name is null ? $"argument #{arg.Index}" : $"argument #{arg.Index} ('{name}')";
    }

    private static bool Discover(Operation func, PassContext pc)
    {
        var entry = func.Region(0).EntryBlock!;
        var fname = FuncDialect.SymName(func);
        bool ok = true;
        bool Fail(string message)
        {
            pc.Diagnostics.Error(func.Location, "sp-discover: " + message);
            return ok = false;
        }

        // Which arguments keep their sequence dimension, and which need one.
        var pending = new List<BlockArgument>();
        foreach (var arg in entry.Arguments)
        {
            var attrs = FuncDialect.ArgAttrs(func, arg.Index);
            bool param = attrs.Get("aspir.param") is not null;
            if (attrs.Get(SeqDimAttr) is { } seq)
            {
                if (param)
                    Fail($"{Describe(func, arg)} is a parameter (aspir.param) but has {SeqDimAttr} = {seq}; parameters are never sequence-sharded");
                else if (seq is not IntegerAttr { Value: var d })
                    Fail($"{SeqDimAttr} of {Describe(func, arg)} must be an integer, but is {seq}");
                else if (arg.Type is not TensorType { Rank: > 0 } t)
                    Fail($"{Describe(func, arg)} has {SeqDimAttr} = {d}, but its type {arg.Type} has no dimension to shard");
                else if (d < 0 || d >= t.Rank)
                    Fail($"{Describe(func, arg)} has {SeqDimAttr} = {d}, out of range for its type {t} of rank {t.Rank} (expected 0 <= {SeqDimAttr} < {t.Rank})");
                continue;
            }
            if (!param && arg.Type is TensorType { Rank: > 0 }) pending.Add(arg);
        }
        if (!ok || pending.Count == 0) return ok;

        var classes = new DimClasses();
        var sequences = new HashSet<int>();
        bool failed = false;
        func.Walk(o =>
        {
            if (failed || o == func || o.Def?.ShardingRule is not { } ruleOf) return;
            var state = OpState.Of(o);
            ShardingRule? rule;
            try
            {
                rule = ruleOf(state);
            }
            catch (Exception e)
            {
                // A bug in the op's rule, reported rather than thrown.
                pc.Diagnostics.Error(o.Location, $"'{o.Name}' op: its sharding rule failed: {e.Message}");
                failed = true;
                return;
            }
            if (rule is null) return;
            if (rule.Check(state) is { } mismatch)
            {
                pc.Diagnostics.Error(o.Location, $"'{o.Name}' op: its sharding rule {rule} does not fit it: {mismatch}");
                failed = true;
                return;
            }
            for (int f = 0; f < rule.Factors.Count; f++)
            {
                int first = -1;
                foreach (var use in rule.Uses(f))
                {
                    if (use.Count != 1) continue;   // part of a merged dimension
                    var v = use.IsResult ? (Value)o.Result(use.Tensor) : o.Operand(use.Tensor);
                    int node = classes.Node(v, use.Dim);
                    if (first < 0) first = node;
                    else classes.Union(first, node);
                }
            }
            if (o.Name is "tensor.attention" or "tensor.attention_grad" && o.Operand(0).Type is TensorType { Rank: 4 })
                sequences.Add(classes.Node(o.Operand(0), 1));
        });
        if (failed) return false;

        if (sequences.Count == 0)
            return Fail($"'@{fname}' has no attention op to infer the sequence dimension from; add {{{SeqDimAttr} = N}} to " +
                        string.Join(", ", pending.Select(a => Describe(func, a))));
        var roots = sequences.Select(classes.Find).ToHashSet();

        var found = new Dictionary<int, long>();
        foreach (var arg in pending)
        {
            var t = (TensorType)arg.Type;
            var dims = Enumerable.Range(0, t.Rank).Where(d => classes.Has(arg) && roots.Contains(classes.Find(classes.Node(arg, d)))).ToArray();
            if (dims.Length == 1) found[arg.Index] = dims[0];
            else if (dims.Length == 0)
                Fail($"{Describe(func, arg)} has no {SeqDimAttr} and its dimensions do not reach an attention op's sequence; add {{{SeqDimAttr} = N}}");
            else
                Fail($"{Describe(func, arg)} has no {SeqDimAttr} and its dimensions {string.Join(", ", dims[..^1])} and {dims[^1]} " +
                     $"{(dims.Length == 2 ? "both" : "all")} reach an attention op's sequence; add {{{SeqDimAttr} = N}}");
        }
        if (!ok) return false;

        var ctx = func.Context;
        var argAttrs = new Attribute[entry.Arguments.Count];
        for (int i = 0; i < argAttrs.Length; i++)
        {
            var attrs = FuncDialect.ArgAttrs(func, i);
            argAttrs[i] = found.TryGetValue(i, out var d)
                ? ctx.Dictionary(attrs.Entries.Append(new(SeqDimAttr, ctx.Integer(d))))
                : attrs;
        }
        func.SetAttr("arg_attrs", ctx.Array(argAttrs));
        return true;
    }

    /// <summary>A union-find over (value, dimension) nodes, created on first use.</summary>
    private sealed class DimClasses
    {
        private readonly Dictionary<Value, int> _first = new();
        private readonly List<int> _parent = new();

        public bool Has(Value v) => _first.ContainsKey(v);

        public int Node(Value v, int dim)
        {
            if (!_first.TryGetValue(v, out int first))
            {
                first = _parent.Count;
                _first[v] = first;
                int rank = (v.Type as TensorType)?.Rank ?? 0;
                for (int d = 0; d < rank; d++) _parent.Add(_parent.Count);
            }
            return first + dim;
        }

        public int Find(int x)
        {
            while (_parent[x] != x)
            {
                _parent[x] = _parent[_parent[x]];
                x = _parent[x];
            }
            return x;
        }

        public void Union(int a, int b)
        {
            a = Find(a);
            b = Find(b);
            if (a != b) _parent[Math.Max(a, b)] = Math.Min(a, b);
        }
    }
}
