namespace AutoSpIR.IR;

/// <summary>
/// Creates ops at an insertion point. <see cref="Create(OpDef, IReadOnlyList{Value}, DictionaryAttr?)"/>
/// infers result types from the op's shape rule, so passes rarely spell types out.
/// </summary>
public class Builder
{
    public Builder(Context ctx) { Context = ctx; }

    public Context Context { get; }
    public Block? InsertionBlock { get; private set; }
    /// <summary>New ops go before this op; null means at the end of <see cref="InsertionBlock"/>.</summary>
    public Operation? InsertionPoint { get; private set; }
    public Location Location { get; set; } = Location.Unknown;

    public void SetInsertionPointToEnd(Block b) => (InsertionBlock, InsertionPoint) = (b, null);
    public void SetInsertionPointToStart(Block b) => (InsertionBlock, InsertionPoint) = (b, b.First);
    public void SetInsertionPoint(Operation before) => (InsertionBlock, InsertionPoint) = (before.Block, before);
    public void SetInsertionPointAfter(Operation after) => (InsertionBlock, InsertionPoint) = (after.Block, after.NextInBlock);

    /// <summary>Inserts an already created op at the insertion point.</summary>
    public virtual Operation Insert(Operation op)
    {
        InsertionBlock?.InsertBefore(InsertionPoint, op);
        return op;
    }

    /// <summary>Creates an op with explicit result types.</summary>
    public Operation Create(string name, IReadOnlyList<Value> operands, IReadOnlyList<Type> resultTypes,
        DictionaryAttr? attrs = null, int numRegions = 0) =>
        Insert(Operation.Create(Context, name, operands, resultTypes, attrs, numRegions, Location));

    /// <summary>
    /// Creates a registered op whose result types come from its shape rule.
    /// Throws <see cref="InvalidOperationException"/> when the rule rejects the operands: that is a
    /// bug in the pass that called it, not bad user input.
    /// </summary>
    public Operation Create(OpDef def, IReadOnlyList<Value> operands, DictionaryAttr? attrs = null)
    {
        attrs ??= Context.EmptyDictionary;
        var state = new OpState(Context, def, operands.Select(o => o.Type).ToArray(), attrs, loc: Location);
        var types = def.InferResultTypes?.Invoke(state)
                    ?? throw new InvalidOperationException(state.LastError ?? $"'{def.Name}' cannot infer its result types");
        return Insert(Operation.Create(Context, def.Name, operands, types, attrs, def.NumRegions, Location, def));
    }

    public Operation Create(OpDef def, params Value[] operands) => Create(def, operands, null);

    /// <summary>Builds a dictionary from (name, attribute) pairs.</summary>
    public DictionaryAttr Attrs(params (string Name, Attribute Value)[] entries) =>
        Context.Dictionary(entries.Select(e => new KeyValuePair<string, Attribute>(e.Name, e.Value)));
}

/// <summary>Told about every change a <see cref="Rewriter"/> makes (the greedy driver keeps its worklist with it).</summary>
public interface IRewriteListener
{
    void OnInserted(Operation op) { }
    void OnErased(Operation op) { }
    void OnReplaced(Operation op, IReadOnlyList<Value> replacements) { }
    void OnModified(Operation op) { }
}

/// <summary>
/// The only sanctioned way for passes to mutate IR: every insertion, replacement
/// and erasure goes through here, so use lists stay right and listeners hear of it.
/// </summary>
public sealed class Rewriter : Builder
{
    public Rewriter(Context ctx, IRewriteListener? listener = null) : base(ctx) { Listener = listener; }

    public IRewriteListener? Listener { get; set; }

    public override Operation Insert(Operation op)
    {
        base.Insert(op);
        Listener?.OnInserted(op);
        return op;
    }

    /// <summary>Replaces every use of <paramref name="op"/>'s results and erases it.</summary>
    public void ReplaceOp(Operation op, IReadOnlyList<Value> replacements)
    {
        if (replacements.Count != op.NumResults)
            throw new ArgumentException($"'{op.Name}' has {op.NumResults} results, got {replacements.Count} replacements");
        Listener?.OnReplaced(op, replacements);
        for (int i = 0; i < replacements.Count; i++)
        {
            foreach (var use in op.Result(i).Uses.ToArray()) Listener?.OnModified(use.Owner);
            op.Result(i).ReplaceAllUsesWith(replacements[i]);
        }
        EraseOp(op);
    }

    public void ReplaceOp(Operation op, Value replacement) => ReplaceOp(op, new[] { replacement });

    public void ReplaceAllUsesWith(Value from, Value to)
    {
        foreach (var use in from.Uses.ToArray()) Listener?.OnModified(use.Owner);
        from.ReplaceAllUsesWith(to);
    }

    /// <summary>Erases an op whose results are unused, and everything nested in it.</summary>
    public void EraseOp(Operation op)
    {
        if (Listener is not null)
        {
            op.WalkPostOrder(Listener.OnErased);
            Listener.OnErased(op);
            foreach (var operand in op.Operands)
                if (operand.DefiningOp is { } producer) Listener.OnModified(producer);
        }
        op.Erase();
    }

    /// <summary>Clones <paramref name="op"/> at the insertion point.</summary>
    public Operation Clone(Operation op, IRMapping? mapping = null) => Insert(op.Clone(mapping));

    public void MoveBefore(Operation op, Operation anchor)
    {
        op.MoveBefore(anchor);
        Listener?.OnModified(op);
    }

    public void MoveAfter(Operation op, Operation anchor)
    {
        op.MoveAfter(anchor);
        Listener?.OnModified(op);
    }

    /// <summary>Changes attributes or operands in place and tells the listener.</summary>
    public void ModifyInPlace(Operation op, Action change)
    {
        change();
        Listener?.OnModified(op);
    }
}
