namespace AutoSpIR.IR;

/// <summary>
/// An operation: a name, operands, results, an attribute dictionary, regions and
/// (rarely) successor blocks. Ops have identity; everything about what an op
/// means lives in its <see cref="OpDef"/>.
/// </summary>
public sealed class Operation
{
    private OpOperand[] _operands;
    private OpResult[] _results;
    private readonly Region[] _regions;
    private Block[] _successors;

    private Operation(Context ctx, string name, OpDef? def, Location loc, int numRegions, DictionaryAttr attrs)
    {
        Context = ctx;
        Name = name;
        Def = def;
        Location = loc;
        Attributes = attrs;
        _operands = Array.Empty<OpOperand>();
        _results = Array.Empty<OpResult>();
        _successors = Array.Empty<Block>();
        _regions = numRegions == 0 ? Array.Empty<Region>() : new Region[numRegions];
        for (int i = 0; i < numRegions; i++) _regions[i] = new Region(this);
    }

    /// <summary>Creates a detached op. <paramref name="def"/> is looked up by name when null.</summary>
    public static Operation Create(Context ctx, string name, IReadOnlyList<Value> operands, IReadOnlyList<Type> resultTypes,
        DictionaryAttr? attributes = null, int numRegions = 0, Location? loc = null, OpDef? def = null,
        IReadOnlyList<Block>? successors = null)
    {
        def ??= ctx.LookupOp(name);
        var op = new Operation(ctx, name, def, loc ?? Location.Unknown, numRegions, attributes ?? ctx.EmptyDictionary);
        op.SetOperands(operands);
        var results = new OpResult[resultTypes.Count];
        for (int i = 0; i < results.Length; i++) results[i] = new OpResult(op, i, resultTypes[i]);
        op._results = results;
        if (successors is { Count: > 0 }) op._successors = successors.ToArray();
        return op;
    }

    public Context Context { get; }
    public string Name { get; }
    /// <summary>The registered definition, or null for an op of an unregistered dialect.</summary>
    public OpDef? Def { get; }
    public Location Location { get; set; }
    public DictionaryAttr Attributes { get; set; }

    /// <summary>The dialect prefix of the name: "tensor" for "tensor.matmul".</summary>
    public string DialectName => Name.IndexOf('.') is var i and > 0 ? Name[..i] : "builtin";

    // ------------------------------------------------------------------ operands and results

    public int NumOperands => _operands.Length;
    public int NumResults => _results.Length;
    public IReadOnlyList<OpOperand> OpOperands => _operands;
    public IReadOnlyList<OpResult> Results => _results;
    public Value Operand(int i) => _operands[i].Value;
    public OpResult Result(int i) => _results[i];
    public IEnumerable<Value> Operands => _operands.Select(o => o.Value);
    public IEnumerable<Type> OperandTypes => _operands.Select(o => o.Value.Type);
    public IEnumerable<Type> ResultTypes => _results.Select(r => r.Type);

    public void SetOperand(int i, Value v) => _operands[i].Value = v;

    /// <summary>Replaces the whole operand list, keeping use lists right.</summary>
    public void SetOperands(IReadOnlyList<Value> values)
    {
        foreach (var o in _operands) o.Unlink();
        var ops = new OpOperand[values.Count];
        for (int i = 0; i < ops.Length; i++) ops[i] = new OpOperand(this, i, values[i]);
        _operands = ops;
    }

    public bool HasResultUses
    {
        get
        {
            foreach (var r in _results) if (r.HasUses) return true;
            return false;
        }
    }

    // ------------------------------------------------------------------ attributes

    public Attribute? GetAttr(string name) => Attributes.Get(name);
    public bool HasAttr(string name) => Attributes.Get(name) is not null;

    public void SetAttr(string name, Attribute value) =>
        Attributes = Context.Dictionary(Attributes.Entries.Where(e => e.Key != name).Append(new(name, value)));

    public void RemoveAttr(string name) =>
        Attributes = Context.Dictionary(Attributes.Entries.Where(e => e.Key != name));

    public long? GetInt(string name) => (GetAttr(name) as IntegerAttr)?.Value;
    public double? GetFloat(string name) => GetAttr(name) switch
    {
        FloatAttr f => f.Value,
        IntegerAttr i => i.Value,
        _ => null,
    };
    public string? GetString(string name) => (GetAttr(name) as StringAttr)?.Value;

    // ------------------------------------------------------------------ regions and successors

    public IReadOnlyList<Region> Regions => _regions;
    public Region Region(int i) => _regions[i];
    public int NumRegions => _regions.Length;
    public IReadOnlyList<Block> Successors => _successors;

    public bool HasTrait(OpTraits t) => Def is not null && (Def.Traits & t) == t;
    public bool IsTerminator => HasTrait(OpTraits.Terminator);

    // ------------------------------------------------------------------ placement

    public Block? Block { get; internal set; }
    public Operation? PrevInBlock { get; internal set; }
    public Operation? NextInBlock { get; internal set; }
    internal int OrderIndex;

    /// <summary>The op whose region holds this op, or null at top level.</summary>
    public Operation? ParentOp => Block?.Parent?.ParentOp;

    /// <summary>The nearest enclosing op with the given name (func.func, module).</summary>
    public Operation? GetParentOfName(string name)
    {
        for (var p = ParentOp; p is not null; p = p.ParentOp)
            if (p.Name == name) return p;
        return null;
    }

    /// <summary>True when this op contains <paramref name="other"/> in one of its regions, at any depth (or is it).</summary>
    public bool IsAncestorOf(Operation other)
    {
        for (Operation? p = other; p is not null; p = p.ParentOp)
            if (ReferenceEquals(p, this)) return true;
        return false;
    }

    /// <summary>True when this op comes before <paramref name="other"/> in the same block.</summary>
    public bool IsBeforeInBlock(Operation other)
    {
        if (Block is null || !ReferenceEquals(Block, other.Block))
            throw new InvalidOperationException("ops are not in the same block");
        Block.EnsureOrder();
        return OrderIndex < other.OrderIndex;
    }

    /// <summary>Unlinks the op from its block without destroying it.</summary>
    public void Remove() => Block?.Unlink(this);

    public void MoveBefore(Operation other)
    {
        Remove();
        other.Block!.InsertBefore(other, this);
    }

    public void MoveAfter(Operation other)
    {
        Remove();
        other.Block!.InsertAfter(other, this);
    }

    /// <summary>Drops the uses this op (and everything nested in it) makes of other values.</summary>
    public void DropAllReferences()
    {
        foreach (var o in _operands) o.Unlink();
        _operands = Array.Empty<OpOperand>();
        foreach (var r in _regions)
            foreach (var b in r.Blocks)
                foreach (var op in b.Ops) op.DropAllReferences();
    }

    /// <summary>Removes the op from its block and releases its operands. Its results must be unused.</summary>
    public void Erase()
    {
        if (HasResultUses)
            throw new InvalidOperationException($"cannot erase '{Name}': a result still has uses");
        Remove();
        DropAllReferences();
    }

    // ------------------------------------------------------------------ traversal

    /// <summary>Visits this op and every nested op, parents before children.</summary>
    public void Walk(Action<Operation> visit)
    {
        visit(this);
        foreach (var r in _regions)
            foreach (var b in r.Blocks)
                for (var op = b.First; op is not null;)
                {
                    var next = op.NextInBlock;
                    op.Walk(visit);
                    op = next;
                }
    }

    /// <summary>Visits every nested op (not this one), children before parents.</summary>
    public void WalkPostOrder(Action<Operation> visit)
    {
        foreach (var r in _regions)
            foreach (var b in r.Blocks)
                for (var op = b.First; op is not null;)
                {
                    var next = op.NextInBlock;
                    op.WalkPostOrder(visit);
                    visit(op);
                    op = next;
                }
    }

    /// <summary>Deep copy; operands defined outside the op are mapped through <paramref name="mapping"/> when present there.</summary>
    public Operation Clone(IRMapping? mapping = null)
    {
        mapping ??= new IRMapping();
        var operands = _operands.Select(o => mapping.Lookup(o.Value)).ToArray();
        var succ = _successors.Select(mapping.Lookup).ToArray();
        var clone = Create(Context, Name, operands, _results.Select(r => r.Type).ToArray(), Attributes,
            _regions.Length, Location, Def, succ);
        for (int i = 0; i < _results.Length; i++)
        {
            clone._results[i].NameHint = _results[i].NameHint;
            mapping.Map(_results[i], clone._results[i]);
        }
        for (int i = 0; i < _regions.Length; i++) _regions[i].CloneInto(clone._regions[i], mapping);
        return clone;
    }

    public override string ToString() => Printer.PrintOp(this);
}

/// <summary>Maps values and blocks of an original to their clones.</summary>
public sealed class IRMapping
{
    private readonly Dictionary<Value, Value> _values = new();
    private readonly Dictionary<Block, Block> _blocks = new();

    public void Map(Value from, Value to) => _values[from] = to;
    public void Map(Block from, Block to) => _blocks[from] = to;
    public Value Lookup(Value v) => _values.GetValueOrDefault(v, v);
    public Block Lookup(Block b) => _blocks.GetValueOrDefault(b, b);
    public bool Contains(Value v) => _values.ContainsKey(v);
}
