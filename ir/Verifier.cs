namespace AutoSpIR.IR;

/// <summary>
/// Checks the invariants every pass may rely on. For each op, in order:
/// <list type="number">
/// <item>its dialect is registered (or unregistered dialects are allowed);</item>
/// <item>operand, result and region counts match its <see cref="OpDef"/>;</item>
/// <item>required attributes are present and every declared attribute has its kind;</item>
/// <item>the result types equal what the op's shape rule infers from operands and attributes;</item>
/// <item>the op's own verifier passes (e.g. func.return matches the function type);</item>
/// <item>every operand dominates its use: defined earlier in the same block, in a dominating
///       block of the same region, or in an enclosing region not cut off by an
///       IsolatedFromAbove op;</item>
/// <item>a terminator is last in its block, and blocks of ops without NoTerminator end in one;</item>
/// <item>symbol names are unique in a SymbolTable region;</item>
/// <item>successors are blocks of the same region, never its entry block.</item>
/// </list>
/// Errors go to the <see cref="DiagnosticEngine"/>; <see cref="Verify"/> returns false when any was reported.
/// </summary>
public sealed class Verifier
{
    private readonly DiagnosticEngine _diag;
    private readonly Dictionary<Region, Dictionary<Block, HashSet<Block>>> _dominators = new();

    private Verifier(DiagnosticEngine diag) { _diag = diag; }

    public static bool Verify(Operation root, DiagnosticEngine diag)
    {
        int before = diag.ErrorCount;
        new Verifier(diag).VerifyOp(root);
        return diag.ErrorCount == before;
    }

    private void Error(Operation op, string message) => _diag.Error(op.Location, $"'{op.Name}' op {message}");

    private void VerifyOp(Operation op)
    {
        bool structureOk = VerifyDefinition(op, out var state);
        VerifyOperandDominance(op);
        foreach (var region in op.Regions) VerifyRegion(op, region);
        if (structureOk && op.Def?.Verify is { } verify)
            verify(op, state ?? OpState.Of(op, _diag));
    }

    private bool VerifyDefinition(Operation op, out OpState? state)
    {
        state = null;
        var def = op.Def;
        if (def is null)
        {
            if (op.Context.AllowUnregisteredDialects) return true;
            var dialect = op.Context.LookupDialect(op.DialectName);
            _diag.Error(op.Location, dialect is null
                ? $"operation '{op.Name}' belongs to an unregistered dialect '{op.DialectName}'"
                : $"unregistered operation '{op.Name}' in dialect '{op.DialectName}'");
            return false;
        }

        bool ok = true;
        int want = def.Operands.Length;
        if (def.VariadicOperands ? op.NumOperands < want : op.NumOperands != want)
        {
            Error(op, $"expects {(def.VariadicOperands ? "at least " : "")}{want} operand{(want == 1 ? "" : "s")}, but got {op.NumOperands}");
            ok = false;
        }
        if (def.VariadicResults ? op.NumResults < def.NumResults : op.NumResults != def.NumResults)
        {
            Error(op, $"expects {(def.VariadicResults ? "at least " : "")}{def.NumResults} result{(def.NumResults == 1 ? "" : "s")}, but got {op.NumResults}");
            ok = false;
        }
        if (op.NumRegions != def.NumRegions)
        {
            Error(op, $"expects {def.NumRegions} region{(def.NumRegions == 1 ? "" : "s")}, but got {op.NumRegions}");
            ok = false;
        }
        if (op.Successors.Count > 0)
        {
            Error(op, "does not take successor blocks");
            ok = false;
        }
        foreach (var spec in def.Attributes)
        {
            var a = op.GetAttr(spec.Name);
            if (a is null)
            {
                if (spec.Required)
                {
                    Error(op, $"requires attribute '{spec.Name}'");
                    ok = false;
                }
                continue;
            }
            if (!AttrMatches(a, spec.Kind))
            {
                Error(op, $"attribute '{spec.Name}' must be {KindText(spec.Kind)}, but got {a}");
                ok = false;
            }
        }
        if (!ok) return false;

        if (def.InferResultTypes is { } infer)
        {
            state = OpState.Of(op, _diag);
            var inferred = infer(state);
            if (inferred is null) return false;
            for (int i = 0; i < inferred.Length && i < op.NumResults; i++)
            {
                if (!ReferenceEquals(inferred[i], op.Result(i).Type) && !SameModuloEncoding(inferred[i], op.Result(i).Type))
                {
                    Error(op, $"result #{i} has type {op.Result(i).Type}, but the operands imply {inferred[i]}");
                    ok = false;
                }
            }
        }
        return ok;
    }

    /// <summary>
    /// Two tensor types of one shape and element type. A shape rule speaks of shapes and element
    /// types only; a tensor's encoding (a <c>#dist.sharding</c> of the global view: where the
    /// pieces live, possibly <c>partial</c>) is chosen by sharding propagation and checked by
    /// the dist dialect, so it is not compared against the rule's.
    /// </summary>
    private static bool SameModuloEncoding(Type a, Type b) =>
        a is TensorType ta && b is TensorType tb && (ta.Encoding is not null || tb.Encoding is not null)
        && ta.Element == tb.Element && ta.Shape.SequenceEqual(tb.Shape);

    public static bool AttrMatches(Attribute a, AttrKind kind) => kind switch
    {
        AttrKind.Any => true,
        AttrKind.Integer => a is IntegerAttr,
        AttrKind.Float => a is FloatAttr or IntegerAttr,
        AttrKind.String => a is StringAttr,
        AttrKind.Bool => a is BoolAttr,
        AttrKind.Unit => a is UnitAttr,
        AttrKind.Array => a is ArrayAttr,
        AttrKind.IntArray => a is ArrayAttr arr && arr.AsInts() is not null,
        AttrKind.Dictionary => a is DictionaryAttr,
        AttrKind.Type => a is TypeAttr,
        AttrKind.Symbol => a is SymbolRefAttr,
        AttrKind.Dense => a is DenseElementsAttr,
        _ => false,
    };

    public static string KindText(AttrKind k) => k switch
    {
        AttrKind.Integer => "an integer",
        AttrKind.Float => "a number",
        AttrKind.String => "a string",
        AttrKind.Bool => "true or false",
        AttrKind.Unit => "a unit flag",
        AttrKind.Array => "an array",
        AttrKind.IntArray => "an array of integers",
        AttrKind.Dictionary => "a dictionary",
        AttrKind.Type => "a type",
        AttrKind.Symbol => "a symbol reference",
        AttrKind.Dense => "dense elements",
        _ => "an attribute",
    };

    private void VerifyRegion(Operation parent, Region region)
    {
        bool needsTerminator = parent.Def is not null && !parent.HasTrait(OpTraits.NoTerminator);
        if (parent.HasTrait(OpTraits.NoTerminator) && region.Blocks.Count > 1)
            Error(parent, "expects a single block in its region");
        Dictionary<string, Operation>? symbols = parent.HasTrait(OpTraits.SymbolTable) ? new() : null;

        foreach (var block in region.Blocks)
        {
            for (var op = block.First; op is not null; op = op.NextInBlock)
            {
                foreach (var succ in op.Successors)
                {
                    if (!ReferenceEquals(succ.Parent, region))
                        Error(op, "branches to a block of another region");
                    else if (ReferenceEquals(succ, region.EntryBlock))
                        Error(op, "branches to the entry block of its region, which may not have predecessors");
                }
                if (op.IsTerminator && op.NextInBlock is not null)
                    Error(op, "must be the last operation in the parent block");
                if (symbols is not null && op.HasTrait(OpTraits.Symbol) && op.GetAttr("sym_name") is StringAttr name)
                {
                    if (symbols.TryGetValue(name.Value, out var prev))
                        _diag.Error(op.Location, $"redefinition of symbol named '{name.Value}'")
                             .AttachNote(prev.Location, "see existing symbol definition here");
                    else symbols[name.Value] = op;
                }
                VerifyOp(op);
            }
            if (needsTerminator)
            {
                var last = block.Last;
                if (last is null)
                    Error(parent, "expects a non-empty block in its region, ending in a terminator");
                else if (last.Def is not null && !last.IsTerminator)
                    _diag.Error(last.Location, $"block in '{parent.Name}' must end in a terminator such as 'func.return', but ends in '{last.Name}'");
            }
        }
    }

    private void VerifyOperandDominance(Operation user)
    {
        for (int i = 0; i < user.NumOperands; i++)
        {
            var v = user.Operand(i);
            var defBlock = v.ParentBlock;
            if (defBlock is null || defBlock.Parent is null)
            {
                Error(user, $"operand #{i} is defined by an operation that is not in the IR");
                continue;
            }
            if (!Dominates(v, defBlock, user, out var why))
            {
                var d = _diag.Error(user.Location, $"'{user.Name}' op operand #{i} {why}");
                if (v.DefiningOp is { } defOp && defOp.Location.IsKnown) d.AttachNote(defOp.Location, "operand defined here");
            }
        }
    }

    private bool Dominates(Value v, Block defBlock, Operation user, out string why)
    {
        why = "";
        var defRegion = defBlock.Parent!;
        // Climb from the user to the op that sits in the defining region.
        Operation anchor = user;
        while (!ReferenceEquals(anchor.Block?.Parent, defRegion))
        {
            var parent = anchor.ParentOp;
            if (parent is null)
            {
                why = "is not visible here: it is defined in a region that does not enclose this use";
                return false;
            }
            if (parent.HasTrait(OpTraits.IsolatedFromAbove) && !ReferenceEquals(parent, v.DefiningOp))
            {
                why = $"uses a value defined outside the region of '{parent.Name}', which is isolated from above";
                return false;
            }
            anchor = parent;
        }

        if (ReferenceEquals(anchor.Block, defBlock))
        {
            if (v is BlockArgument) return true;
            var defOp = v.DefiningOp!;
            if (ReferenceEquals(defOp, anchor))
            {
                why = "is the op's own result";
                return false;
            }
            if (defOp.IsBeforeInBlock(anchor)) return true;
            why = "does not dominate this use: it is defined later in the block";
            return false;
        }
        if (BlockDominates(defRegion, defBlock, anchor.Block!)) return true;
        why = "does not dominate this use: its block does not dominate the using block";
        return false;
    }

    /// <summary>Block dominance in a region's successor graph (unreachable blocks are dominated by everything).</summary>
    private bool BlockDominates(Region region, Block a, Block b)
    {
        if (!_dominators.TryGetValue(region, out var dom))
            _dominators[region] = dom = ComputeDominators(region);
        return !dom.TryGetValue(b, out var set) || set.Contains(a);
    }

    private static Dictionary<Block, HashSet<Block>> ComputeDominators(Region region)
    {
        // The classic iterative data-flow solution; regions here have few blocks.
        var blocks = region.Blocks;
        var preds = blocks.ToDictionary(b => b, _ => new List<Block>());
        foreach (var b in blocks)
            if (b.Last is { } term)
                foreach (var s in term.Successors)
                    if (preds.TryGetValue(s, out var list)) list.Add(b);

        var reachable = new HashSet<Block>();
        var stack = new Stack<Block>();
        stack.Push(blocks[0]);
        while (stack.Count > 0)
        {
            var b = stack.Pop();
            if (!reachable.Add(b)) continue;
            if (b.Last is { } t) foreach (var s in t.Successors) if (preds.ContainsKey(s)) stack.Push(s);
        }

        var dom = new Dictionary<Block, HashSet<Block>>();
        foreach (var b in blocks.Where(reachable.Contains))
            dom[b] = ReferenceEquals(b, blocks[0]) ? new HashSet<Block> { b } : new HashSet<Block>(reachable);
        bool changed = true;
        while (changed)
        {
            changed = false;
            foreach (var b in blocks)
            {
                if (ReferenceEquals(b, blocks[0]) || !reachable.Contains(b)) continue;
                HashSet<Block>? meet = null;
                foreach (var p in preds[b].Where(reachable.Contains))
                {
                    if (meet is null) meet = new HashSet<Block>(dom[p]);
                    else meet.IntersectWith(dom[p]);
                }
                meet ??= new HashSet<Block>();
                meet.Add(b);
                if (!meet.SetEquals(dom[b]))
                {
                    dom[b] = meet;
                    changed = true;
                }
            }
        }
        return dom;
    }
}
