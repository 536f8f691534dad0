namespace AutoSpIR.Passes;

/// <summary>
/// Applies folds and rewrite patterns until nothing changes (MLIR's greedy driver).
/// A worklist holds every op once; an op that changes, and the users and producers
/// it touches, go back on it. The number of full rounds is bounded, so a pattern set
/// that never converges cannot hang the compiler.
/// </summary>
public sealed class GreedyRewriteDriver : IRewriteListener
{
    private readonly Context _ctx;
    private readonly Dictionary<string, List<RewritePattern>> _patterns = new();
    private readonly Stack<Operation> _worklist = new();
    private readonly HashSet<Operation> _onList = new();
    private readonly HashSet<Operation> _erased = new();
    private readonly Rewriter _rewriter;
    private readonly OpDef? _constant;

    public GreedyRewriteDriver(Context ctx, IEnumerable<RewritePattern> patterns)
    {
        _ctx = ctx;
        foreach (var p in patterns)
        {
            if (!_patterns.TryGetValue(p.RootName, out var list)) _patterns[p.RootName] = list = new();
            list.Add(p);
        }
        _rewriter = new Rewriter(ctx, this);
        _constant = ctx.LookupOp(ConstantOpName);
    }

    /// <summary>The op that folded constants become.</summary>
    public const string ConstantOpName = "tensor.constant";

    /// <summary>Every registered op's canonicalization patterns.</summary>
    public static IEnumerable<RewritePattern> CanonicalizationPatterns(Context ctx) =>
        ctx.Dialects.SelectMany(d => d.Ops).SelectMany(op => op.CanonicalizationPatterns);

    /// <summary>Runs to a fixed point or <paramref name="maxIterations"/> rounds; returns whether it converged.</summary>
    public bool Run(Operation root, int maxIterations)
    {
        for (int round = 0; round < maxIterations; round++)
        {
            var ops = new List<Operation>();
            root.WalkPostOrder(ops.Add);
            for (int i = ops.Count - 1; i >= 0; i--) Push(ops[i]);   // first op on top
            bool changed = false;
            while (_worklist.Count > 0)
            {
                var op = _worklist.Pop();
                _onList.Remove(op);
                if (_erased.Contains(op) || op.Block is null) continue;
                changed |= Process(op);
            }
            if (!changed) return true;
        }
        return false;
    }

    private void Push(Operation op)
    {
        if (_onList.Add(op)) _worklist.Push(op);
    }

    private bool Process(Operation op)
    {
        if (op.HasTrait(OpTraits.Pure) && !op.HasResultUses && !op.IsTerminator && op.NumResults > 0)
        {
            _rewriter.EraseOp(op);
            return true;
        }
        if (op.Def?.Fold is { } fold && op.NumResults == 1 && op.Name != ConstantOpName)
        {
            var constants = op.Operands.Select(v => v.DefiningOp is { } d && d.Name == ConstantOpName ? d.GetAttr("value") : null).ToArray();
            if (fold(op, constants) is { } result)
            {
                Value replacement;
                if (result.Value is { } v) replacement = v;
                else if (_constant is not null && result.Constant is DenseElementsAttr dense)
                {
                    _rewriter.SetInsertionPoint(op);
                    _rewriter.Location = op.Location;
                    replacement = _rewriter.Create(ConstantOpName, Array.Empty<Value>(), new Type[] { dense.Type },
                        _rewriter.Attrs(("value", dense))).Result(0);
                }
                else return false;
                if (ReferenceEquals(replacement.Type, op.Result(0).Type) && !ReferenceEquals(replacement, op.Result(0)))
                {
                    _rewriter.ReplaceOp(op, replacement);
                    return true;
                }
            }
        }
        if (_patterns.TryGetValue(op.Name, out var patterns))
        {
            foreach (var p in patterns)
            {
                _rewriter.SetInsertionPoint(op);
                _rewriter.Location = op.Location;
                if (p.MatchAndRewrite(op, _rewriter)) return true;
            }
        }
        return false;
    }

    void IRewriteListener.OnInserted(Operation op) => Push(op);
    void IRewriteListener.OnErased(Operation op) => _erased.Add(op);
    void IRewriteListener.OnModified(Operation op)
    {
        Push(op);
        foreach (var r in op.Results) foreach (var u in r.Users) Push(u);
    }
    void IRewriteListener.OnReplaced(Operation op, IReadOnlyList<Value> replacements)
    {
        foreach (var v in replacements) if (v.DefiningOp is { } d) Push(d);
    }
}
