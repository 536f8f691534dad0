namespace AutoSpIR.IR;

/// <summary>A list of operations with block arguments, inside a <see cref="Region"/>.</summary>
public sealed class Block
{
    private readonly List<BlockArgument> _args = new();
    private bool _orderValid;

    public Region? Parent { get; internal set; }
    public Operation? ParentOp => Parent?.ParentOp;
    public Operation? First { get; private set; }
    public Operation? Last { get; private set; }

    /// <summary>The label from the source (without '^'), kept for printing.</summary>
    public string? NameHint { get; set; }

    public IReadOnlyList<BlockArgument> Arguments => _args;

    public BlockArgument AddArgument(Type type)
    {
        var a = new BlockArgument(this, _args.Count, type);
        _args.Add(a);
        return a;
    }

    /// <summary>Erases argument #<paramref name="index"/>; it must be unused.</summary>
    public void EraseArgument(int index)
    {
        if (_args[index].HasUses) throw new InvalidOperationException("cannot erase a block argument that has uses");
        _args.RemoveAt(index);
        for (int i = index; i < _args.Count; i++) _args[i].Index = i;
    }

    public bool IsEmpty => First is null;

    /// <summary>The ops in order. Erasing or moving the current op while iterating is safe.</summary>
    public IEnumerable<Operation> Ops
    {
        get
        {
            for (var op = First; op is not null;)
            {
                var next = op.NextInBlock;
                yield return op;
                op = next;
            }
        }
    }

    public int Count
    {
        get
        {
            int n = 0;
            for (var op = First; op is not null; op = op.NextInBlock) n++;
            return n;
        }
    }

    public Operation? Terminator => Last is { IsTerminator: true } t ? t : null;

    public void Append(Operation op) => InsertBefore(null, op);

    /// <summary>Inserts <paramref name="op"/> before <paramref name="anchor"/> (null: at the end).</summary>
    public void InsertBefore(Operation? anchor, Operation op)
    {
        if (op.Block is not null) throw new InvalidOperationException("op is already in a block");
        op.Block = this;
        op.NextInBlock = anchor;
        op.PrevInBlock = anchor is null ? Last : anchor.PrevInBlock;
        if (op.PrevInBlock is null) First = op; else op.PrevInBlock.NextInBlock = op;
        if (anchor is null) Last = op; else anchor.PrevInBlock = op;
        if (_orderValid)
        {
            // Appending keeps the numbering valid; inserting in the middle renumbers lazily.
            if (op.NextInBlock is null) op.OrderIndex = (op.PrevInBlock?.OrderIndex ?? 0) + 1;
            else _orderValid = false;
        }
    }

    public void InsertAfter(Operation anchor, Operation op) => InsertBefore(anchor.NextInBlock, op);

    internal void Unlink(Operation op)
    {
        if (op.PrevInBlock is null) First = op.NextInBlock; else op.PrevInBlock.NextInBlock = op.NextInBlock;
        if (op.NextInBlock is null) Last = op.PrevInBlock; else op.NextInBlock.PrevInBlock = op.PrevInBlock;
        op.PrevInBlock = op.NextInBlock = null;
        op.Block = null;
    }

    internal void EnsureOrder()
    {
        if (_orderValid) return;
        int i = 0;
        for (var op = First; op is not null; op = op.NextInBlock) op.OrderIndex = ++i;
        _orderValid = true;
    }

    /// <summary>Index of this block in its region.</summary>
    public int IndexInRegion => Parent is null ? -1 : Parent.IndexOf(this);
}

/// <summary>A list of blocks owned by an operation.</summary>
public sealed class Region
{
    private readonly List<Block> _blocks = new();

    internal Region(Operation parent) { ParentOp = parent; }

    public Operation ParentOp { get; }
    public IReadOnlyList<Block> Blocks => _blocks;
    public bool IsEmpty => _blocks.Count == 0;
    public Block? EntryBlock => _blocks.Count > 0 ? _blocks[0] : null;

    public Block AddBlock()
    {
        var b = new Block { Parent = this };
        _blocks.Add(b);
        return b;
    }

    public void AddBlock(Block b)
    {
        if (b.Parent is not null) throw new InvalidOperationException("block already belongs to a region");
        b.Parent = this;
        _blocks.Add(b);
    }

    internal int IndexOf(Block b) => _blocks.IndexOf(b);

    /// <summary>Appends copies of this region's blocks to <paramref name="dest"/>.</summary>
    public void CloneInto(Region dest, IRMapping mapping)
    {
        var clones = new List<Block>();
        foreach (var b in _blocks)
        {
            var nb = new Block { NameHint = b.NameHint };
            foreach (var a in b.Arguments)
            {
                var na = nb.AddArgument(a.Type);
                na.NameHint = a.NameHint;
                mapping.Map(a, na);
            }
            mapping.Map(b, nb);
            clones.Add(nb);
        }
        for (int i = 0; i < _blocks.Count; i++)
        {
            foreach (var op in _blocks[i].Ops) clones[i].Append(op.Clone(mapping));
            dest.AddBlock(clones[i]);
        }
    }

    /// <summary>Iterates every op in every block (not nested ones).</summary>
    public IEnumerable<Operation> Ops => _blocks.SelectMany(b => b.Ops);
}
