namespace AutoSpIR.IR;

/// <summary>
/// An SSA value: an op result or a block argument. Every use is an
/// <see cref="OpOperand"/> in an intrusive list, so replacing all uses and
/// erasing a use are cheap.
/// </summary>
public abstract class Value
{
    protected Value(Type type) { Type = type; }

    /// <summary>The value's type. Changing it is a rewrite; do it only through a Rewriter or while building.</summary>
    public Type Type { get; set; }

    /// <summary>The name from the source text (without '%'), kept for printing; the printer makes it unique.</summary>
    public string? NameHint { get; set; }

    internal OpOperand? FirstUse;

    // The name the last Printer gave this value, and which printer that was (see Printer).
    internal string? PrintedName;
    internal int PrintedBy;

    public bool HasUses => FirstUse is not null;
    public bool HasOneUse => FirstUse is not null && FirstUse.NextUse is null;

    public IEnumerable<OpOperand> Uses
    {
        get
        {
            for (var u = FirstUse; u is not null;)
            {
                var next = u.NextUse;   // allow the caller to drop this use
                yield return u;
                u = next;
            }
        }
    }

    public IEnumerable<Operation> Users => Uses.Select(u => u.Owner);

    public int UseCount
    {
        get
        {
            int n = 0;
            for (var u = FirstUse; u is not null; u = u.NextUse) n++;
            return n;
        }
    }

    /// <summary>Points every use of this value at <paramref name="replacement"/>.</summary>
    public void ReplaceAllUsesWith(Value replacement)
    {
        if (ReferenceEquals(replacement, this)) return;
        while (FirstUse is not null) FirstUse.Set(replacement);
    }

    /// <summary>The op that defines the value, or null for a block argument.</summary>
    public abstract Operation? DefiningOp { get; }

    /// <summary>The block the value is defined in (for a result, its op's block).</summary>
    public abstract Block? ParentBlock { get; }

    public TensorType? TensorType => Type as TensorType;
}

/// <summary>Result #<see cref="Index"/> of <see cref="Owner"/>.</summary>
public sealed class OpResult : Value
{
    internal OpResult(Operation owner, int index, Type type) : base(type)
    {
        Owner = owner;
        Index = index;
    }

    public Operation Owner { get; }
    public int Index { get; }
    public override Operation? DefiningOp => Owner;
    public override Block? ParentBlock => Owner.Block;
}

/// <summary>Argument #<see cref="Index"/> of <see cref="Owner"/>.</summary>
public sealed class BlockArgument : Value
{
    internal BlockArgument(Block owner, int index, Type type) : base(type)
    {
        Owner = owner;
        Index = index;
    }

    public Block Owner { get; }
    public int Index { get; internal set; }
    public override Operation? DefiningOp => null;
    public override Block? ParentBlock => Owner;
}

/// <summary>
/// A use of a value by an operation: operand #<see cref="Index"/> of <see cref="Owner"/>.
/// Setting <see cref="Value"/> moves the use from one value's use list to another's.
/// </summary>
public sealed class OpOperand
{
    internal OpOperand(Operation owner, int index, Value value)
    {
        Owner = owner;
        Index = index;
        _value = value;
        Link();
    }

    private Value _value;
    internal OpOperand? NextUse;
    internal OpOperand? PrevUse;

    public Operation Owner { get; }
    public int Index { get; internal set; }

    public Value Value
    {
        get => _value;
        set => Set(value);
    }

    internal void Set(Value v)
    {
        if (ReferenceEquals(v, _value)) return;
        Unlink();
        _value = v;
        Link();
    }

    private void Link()
    {
        NextUse = _value.FirstUse;
        if (NextUse is not null) NextUse.PrevUse = this;
        PrevUse = null;
        _value.FirstUse = this;
    }

    internal void Unlink()
    {
        if (PrevUse is not null) PrevUse.NextUse = NextUse;
        else _value.FirstUse = NextUse;
        if (NextUse is not null) NextUse.PrevUse = PrevUse;
        NextUse = PrevUse = null;
    }
}
