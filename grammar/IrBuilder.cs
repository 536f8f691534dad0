using System.Globalization;
using System.Text;
using Antlr4.Runtime;
using AutoSpIR.Grammar.Generated;
using AutoSpIR.IR;
using static AutoSpIR.Grammar.Generated.AspIRParser;
using IrType = AutoSpIR.IR.Type;
using IrAttribute = AutoSpIR.IR.Attribute;

namespace AutoSpIR.Grammar;

/// <summary>
/// Turns an AspIR parse tree into IR. It resolves SSA names in nested scopes
/// (forward references become placeholders, resolved when the definition comes),
/// checks that every use agrees with its value's type, and reads each op's custom
/// form against its <see cref="OpDef"/>. It stops at the first error, which it
/// reports with file:line:col.
/// </summary>
internal sealed partial class IrBuilder
{
    private readonly Context _ctx;
    private readonly DiagnosticEngine _diag;
    private readonly string _file;
    private readonly int _lineOffset;
    private Scope _scope;

    public IrBuilder(Context ctx, DiagnosticEngine diag, string file, int lineOffset)
    {
        _ctx = ctx;
        _diag = diag;
        _file = file;
        _lineOffset = lineOffset;
        _scope = new Scope { Isolated = true };
    }

    // ------------------------------------------------------------------ errors

    private Location Loc(IToken t) => new(_file, t.Line + _lineOffset, t.Column + 1);
    private Location Loc(ParserRuleContext c) => Loc(c.Start);

    private ReportedErrorException Fail(Location loc, string message)
    {
        _diag.Error(loc, message);
        return new ReportedErrorException();
    }

    // ------------------------------------------------------------------ scopes

    /// <summary>Names visible in one region; lookups continue outward until an isolated scope.</summary>
    private sealed class Scope
    {
        public Scope? Parent { get; set; }
        public bool Isolated { get; set; }
        public Dictionary<string, (Value[] Values, Location Loc)> Names { get; } = new();
        public Dictionary<string, List<(ForwardRef Ref, Location Loc)>> Pending { get; } = new();
        public Dictionary<string, (Block Block, Location Loc, bool Defined)> Blocks { get; } = new();
    }

    // Scopes are reused: a function of many values grows its name table onto the large
    // object heap, and a fresh table per function would make the GC walk the whole IR often.
    private readonly Stack<Scope> _freeScopes = new();

    /// <summary>A placeholder for a value used before its definition.</summary>
    private sealed class ForwardRef : Value
    {
        public ForwardRef(IrType type) : base(type) { }
        public override Operation? DefiningOp => null;
        public override Block? ParentBlock => null;
    }

    private void PushScope(bool isolated)
    {
        var s = _freeScopes.Count > 0 ? _freeScopes.Pop() : new Scope();
        s.Parent = _scope;
        s.Isolated = isolated;
        _scope = s;
    }

    private void PopScope()
    {
        var s = _scope;
        _scope = s.Parent!;
        ReleaseScopeAfterChecks(s);
    }

    private void ReleaseScopeAfterChecks(Scope s)
    {
        CheckClosedScope(s);
        s.Names.Clear();
        s.Pending.Clear();
        s.Blocks.Clear();
        s.Parent = null;
        _freeScopes.Push(s);
    }

    private void CheckClosedScope(Scope s)
    {
        foreach (var (name, b) in s.Blocks)
            if (!b.Defined) throw Fail(b.Loc, $"reference to an undefined block '^{name}'");
        foreach (var (name, refs) in s.Pending)
        {
            if (s.Isolated || _scope is null)
                throw Fail(refs[0].Loc, $"use of undeclared SSA value name '%{name}'");
            // Not isolated: the name may still be defined later in the enclosing region.
            if (!_scope.Pending.TryGetValue(name, out var outer)) _scope.Pending[name] = outer = new();
            outer.AddRange(refs);
        }
    }

    private Value ResolveUse(IToken node, IrType expected)
    {
        var text = node.Text;
        int hash = text.IndexOf('#');
        var nameSpan = hash < 0 ? text.AsSpan(1) : text.AsSpan(1, hash - 1);
        int index = -1;
        if (hash >= 0 && !int.TryParse(text.AsSpan(hash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out index))
            throw Fail(Loc(node), $"result number in '{text}' is too large");
        for (var s = _scope; s is not null; s = s.Parent)
        {
            if (s.Names.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(nameSpan, out var def))
            {
                int i = index < 0 ? 0 : index;
                if (i >= def.Values.Length)
                    throw Fail(Loc(node), $"result number {i} of '%{nameSpan}' is out of range: it has {def.Values.Length} result{(def.Values.Length == 1 ? "" : "s")}");
                var v = def.Values[i];
                if (!ReferenceEquals(v.Type, expected))
                    throw Fail(Loc(node), $"use of value '{text}' expects different type than prior uses: '{expected}' vs '{v.Type}'");
                return v;
            }
            if (s.Isolated) break;
        }
        if (index > 0)
            throw Fail(Loc(node), $"use of undeclared SSA value name '{text}'");
        // A forward reference: legal across blocks; the verifier reports a use that its definition does not dominate.
        var name = nameSpan.ToString();
        if (!_scope.Pending.TryGetValue(name, out var list)) _scope.Pending[name] = list = new();
        foreach (var (prior, _) in list)
            if (!ReferenceEquals(prior.Type, expected))
                throw Fail(Loc(node), $"use of value '{text}' expects different type than prior uses: '{expected}' vs '{prior.Type}'");
        var fwd = new ForwardRef(expected);
        list.Add((fwd, Loc(node)));
        return fwd;
    }

    private void Define(string name, Value[] values, Location loc)
    {
        for (var s = _scope; s is not null; s = s.Parent)
        {
            if (s.Names.TryGetValue(name, out var prior))
            {
                _diag.Error(loc, $"redefinition of SSA value '%{name}'").AttachNote(prior.Loc, "previously defined here");
                throw new ReportedErrorException();
            }
            if (s.Isolated) break;
        }
        _scope.Names[name] = (values, loc);
        foreach (var v in values) v.NameHint = name;
        // Resolve forward references made in this scope or nested ones that bubbled up here.
        if (_scope.Pending.Remove(name, out var refs))
        {
            foreach (var (fwd, useLoc) in refs)
            {
                if (!ReferenceEquals(fwd.Type, values[0].Type))
                    throw Fail(useLoc, $"use of value '%{name}' expects different type than its definition: '{fwd.Type}' vs '{values[0].Type}'");
                fwd.ReplaceAllUsesWith(values[0]);
            }
        }
    }

    private Block BlockRef(IToken node, bool defining)
    {
        var name = node.Text[1..];
        if (_scope.Blocks.TryGetValue(name, out var entry))
        {
            if (defining)
            {
                if (entry.Defined) throw Fail(Loc(node), $"redefinition of block '^{name}'");
                _scope.Blocks[name] = (entry.Block, entry.Loc, true);
            }
            return entry.Block;
        }
        var b = new Block { NameHint = name };
        _scope.Blocks[name] = (b, Loc(node), defining);
        return b;
    }

    // ------------------------------------------------------------------ top level and open regions

    // Ops are built into the innermost open region. The parser driver opens and
    // closes modules and functions piece by piece (one op's parse tree at a time);
    // the tree path (an op nested in a generic op) opens and closes them the same way.
    private readonly Block _topBlock = new();
    private readonly Stack<RegionCursor> _open = new();

    /// <summary>An open region: where its next op goes, and how its entry block is made.</summary>
    private sealed class RegionCursor(Operation owner, Region region, (string Name, IrType Type, Location Loc)[]? entryArgs)
    {
        public Operation Owner { get; } = owner;
        public Region Region { get; } = region;
        public (string Name, IrType Type, Location Loc)[]? EntryArgs { get; } = entryArgs;
        public Block? Current { get; set; }
    }

    private Block CurrentBlock()
    {
        if (_open.Count == 0) return _topBlock;
        var cursor = _open.Peek();
        if (cursor.Current is null)
        {
            // Unlabeled ops at the start of a region form its entry block.
            cursor.Current = new Block();
            cursor.Region.AddBlock(cursor.Current);
            AddEntryArgs(cursor.Current, cursor.EntryArgs);
        }
        return cursor.Current;
    }

    /// <summary>Builds one op into the innermost open region (or the top level).</summary>
    public void AddOp(OperationContext op) => BuildOperation(op, CurrentBlock());

    /// <summary>Starts a labeled block in the innermost open region.</summary>
    public void StartBlock(BlockLabelContext label)
    {
        var cursor = _open.Peek();
        var b = BlockRef(label.name, defining: true);
        bool isEntry = cursor.Region.IsEmpty;
        cursor.Region.AddBlock(b);
        cursor.Current = b;
        if (isEntry && cursor.EntryArgs is not null)
        {
            // func.func @f(%a: T) { ^bb0: ... }: the labeled block is the entry; the signature gives its arguments.
            if (label._args.Count > 0)
                throw Fail(Loc(label), "the entry block of a function takes its arguments from the signature; its label cannot list them");
            AddEntryArgs(b, cursor.EntryArgs);
        }
        foreach (var ba in label._args)
        {
            var a = b.AddArgument(BuildType(ba.ty));
            Define(ba.name.Text[1..], new Value[] { a }, Loc(ba.name));
        }
    }

    private void OpenRegion(Operation owner, Region region, bool isolated, (string Name, IrType Type, Location Loc)[]? entryArgs)
    {
        PushScope(isolated);
        _open.Push(new RegionCursor(owner, region, entryArgs));
    }

    private void CloseRegion()
    {
        var cursor = _open.Pop();
        // A function body with nothing in it still has its entry block (the verifier then asks for a terminator).
        if (cursor.Region.IsEmpty && (cursor.EntryArgs is not null || cursor.Owner.HasTrait(OpTraits.NoTerminator)))
        {
            var entry = new Block();
            cursor.Region.AddBlock(entry);
            AddEntryArgs(entry, cursor.EntryArgs);
        }
        PopScope();
    }

    /// <summary>Starts a module; its body follows through <see cref="AddOp"/>, ended by <see cref="EndModule"/>.</summary>
    public void BeginModule(ModuleHeaderContext header)
    {
        var module = CreateModule(header);
        CurrentBlock().Append(module);
        OpenRegion(module, module.Region(0), isolated: true, entryArgs: null);
    }

    public void EndModule() => CloseRegion();

    /// <summary>
    /// Starts a function. With a body, its ops follow through <see cref="AddOp"/> and
    /// <see cref="StartBlock"/>, ended by <see cref="EndFunc"/>; without one it is a declaration.
    /// </summary>
    public void BeginFunc(FuncHeaderContext header, bool hasBody)
    {
        var (func, args) = CreateFunc(header, hasBody);
        CurrentBlock().Append(func);
        if (hasBody) OpenRegion(func, func.Region(0), isolated: true, args);
    }

    public void EndFunc() => CloseRegion();

    /// <summary>The module of the file: its single top-level module, or one wrapping its top-level ops.</summary>
    public Operation Finish()
    {
        foreach (var (name, refs) in _scope.Pending)
            throw Fail(refs[0].Loc, $"use of undeclared SSA value name '%{name}'");
        if (_topBlock.First is { Name: "module" } only && only.NextInBlock is null)
        {
            only.Remove();
            return only;
        }
        var module = Operation.Create(_ctx, "module", Array.Empty<Value>(), Array.Empty<IrType>(), null, 1,
            new Location(_file, 1 + _lineOffset, 1));
        module.Region(0).AddBlock(_topBlock);
        return module;
    }

    // ------------------------------------------------------------------ operations

    private Operation BuildOperation(OperationContext ctx, Block block)
    {
        if ((ctx.module is not null || ctx.func is not null) && ctx.results is { } named)
            throw Fail(Loc(named), $"operation defines 0 results but was provided {ReadResultDefs(named).Sum(r => r.Count)} to bind");
        if (ctx.module is { } m)
        {
            BeginModule(m.header);
            BuildRegionBody(m.body);
            EndModule();
            return block.Last!;
        }
        if (ctx.func is { } f)
        {
            BeginFunc(f.header, f.body is not null);
            if (f.body is { } body)
            {
                BuildRegionBody(body);
                EndFunc();
            }
            return block.Last!;
        }
        var results = ReadResultDefs(ctx.results);
        Operation op;
        if (ctx.generic is { } g) op = BuildGeneric(g, results.Count);
        else if (ctx.ret is { } r) op = BuildReturn(r);
        else if (ctx.call is { } c) op = BuildCall(c);
        else op = BuildCustom(ctx.custom, results.Count);

        int bound = 0;
        foreach (var r in results) bound += r.Count;
        if (bound != op.NumResults)
            throw Fail(Loc(ctx), $"operation defines {op.NumResults} result{(op.NumResults == 1 ? "" : "s")} but was provided {bound} to bind");
        block.Append(op);
        int next = 0;
        foreach (var r in results)
        {
            var vals = new Value[r.Count];
            for (int i = 0; i < r.Count; i++) vals[i] = op.Result(next++);
            Define(r.Name, vals, r.Loc);
        }
        return op;
    }

    private readonly record struct ResultDef(string Name, int Count, Location Loc);

    private List<ResultDef> ReadResultDefs(ResultListContext? list)
    {
        var defs = new List<ResultDef>();
        if (list is null) return defs;
        foreach (var d in list._defs)
        {
            var text = d.name.Text;
            if (text.Contains('#')) throw Fail(Loc(d.name), $"expected a result name without '#', found '{text}'");
            int count = 1;
            if (d.count is { } n && (!int.TryParse(n.Text, out count) || count < 1))
                throw Fail(Loc(n), $"expected a positive result count, found '{n.Text}'");
            defs.Add(new ResultDef(text[1..], count, Loc(d.name)));
        }
        return defs;
    }

    private OpDef? LookupDef(string name, Location loc)
    {
        var def = _ctx.LookupOp(name);
        if (def is not null || _ctx.AllowUnregisteredDialects) return def;
        int dot = name.IndexOf('.');
        var dialect = dot > 0 ? name[..dot] : name;
        if (_ctx.LookupDialect(dialect) is null)
            throw Fail(loc, dot > 0
                ? $"operation '{name}' belongs to an unregistered dialect '{dialect}' (use --allow-unregistered-dialect to accept it)"
                : $"unknown operation '{name}'");
        throw Fail(loc, $"unregistered operation '{name}' in dialect '{dialect}'");
    }

    private Operation BuildGeneric(GenericOperationContext g, int expectedResults)
    {
        var name = UnquoteString(g.name);
        var loc = Loc(g.name);
        var def = LookupDef(name, loc);
        var fnType = BuildFunctionType(g.fnType);
        var uses = Uses(g.operands);
        if (uses.Count != fnType.Inputs.Count)
            throw Fail(Loc(g.fnType), $"'{name}' has {uses.Count} operand{(uses.Count == 1 ? "" : "s")} but its type lists {fnType.Inputs.Count}");
        var operands = new Value[uses.Count];
        for (int i = 0; i < uses.Count; i++) operands[i] = ResolveUse(uses[i], fnType.Inputs[i]);
        var successors = g.succ?._blocks.Select(b => BlockRef(b, defining: false)).ToArray();
        var attrs = g.attrs is { } ad ? BuildAttrDict(ad) : _ctx.EmptyDictionary;
        var regions = g.regs?._regions ?? (IList<RegionContext>)Array.Empty<RegionContext>();
        var op = Operation.Create(_ctx, name, operands, fnType.Results, attrs, regions.Count, loc, def, successors);
        bool isolated = def?.HasTrait(OpTraits.IsolatedFromAbove) ?? false;
        for (int i = 0; i < regions.Count; i++)
        {
            BuildRegion(regions[i], op, op.Region(i), isolated);
        }
        return op;
    }

    private Operation CreateModule(ModuleHeaderContext h)
    {
        var entries = new List<KeyValuePair<string, IrAttribute>>();
        if (h.attrs is { } attrs) entries.AddRange(BuildAttrDict(attrs).Entries);
        if (h.sym is { } symbol) entries.Add(new("sym_name", _ctx.String(SymbolName(symbol))));
        return Operation.Create(_ctx, "module", Array.Empty<Value>(), Array.Empty<IrType>(), _ctx.Dictionary(entries), 1,
            Loc(h.kw));
    }

    private (Operation Func, (string Name, IrType Type, Location Loc)[] Args) CreateFunc(FuncHeaderContext f, bool hasBody)
    {
        var loc = Loc(f.kw);
        var name = SymbolName(f.sym);
        var args = f._args;
        var argTypes = new IrType[args.Count];
        var argAttrs = new IrAttribute[args.Count];
        for (int i = 0; i < args.Count; i++)
        {
            argTypes[i] = BuildType(args[i].ty);
            argAttrs[i] = args[i].attrs is { } d ? BuildAttrDict(d) : _ctx.EmptyDictionary;
        }
        var resultTypes = new List<IrType>();
        var resAttrs = new List<IrAttribute>();
        if (f.results is { } fr)
        {
            if (fr.single is { } single)
            {
                resultTypes.Add(BuildNonFunctionType(single));
                resAttrs.Add(_ctx.EmptyDictionary);
            }
            else
                foreach (var r in fr._items)
                {
                    resultTypes.Add(BuildType(r.ty));
                    resAttrs.Add(r.attrs is { } d ? BuildAttrDict(d) : _ctx.EmptyDictionary);
                }
        }
        var entries = new List<KeyValuePair<string, IrAttribute>>();
        if (f.attrs is { } extra)
        {
            foreach (var e in BuildAttrDict(extra).Entries)
            {
                if (e.Key is "sym_name" or "function_type" or "sym_visibility" or "arg_attrs" or "res_attrs")
                    throw Fail(Loc(extra), $"'{e.Key}' is given by the func.func syntax and may not appear in its attributes");
                entries.Add(e);
            }
        }
        entries.Add(new("sym_name", _ctx.String(name)));
        entries.Add(new("function_type", _ctx.TypeAttr(_ctx.Function(argTypes, resultTypes))));
        if (f.visibility is { } vis)
        {
            if (vis.Text is not ("private" or "public" or "nested"))
                throw Fail(Loc(vis), $"expected visibility 'private', 'public' or 'nested', found '{vis.Text}'");
            entries.Add(new("sym_visibility", _ctx.String(vis.Text)));
        }
        if (argAttrs.Any(a => a is DictionaryAttr { Count: > 0 })) entries.Add(new("arg_attrs", _ctx.Array(argAttrs)));
        if (resAttrs.Any(a => a is DictionaryAttr { Count: > 0 })) entries.Add(new("res_attrs", _ctx.Array(resAttrs.ToArray())));

        var op = Operation.Create(_ctx, "func.func", Array.Empty<Value>(), Array.Empty<IrType>(), _ctx.Dictionary(entries), 1, loc);
        var named = new (string Name, IrType Type, Location Loc)[args.Count];
        if (hasBody)
        {
            if (args.FirstOrDefault(a => a.name is null) is { } unnamed)
                throw Fail(Loc(unnamed), "a function with a body must name its arguments (%name: type)");
            for (int i = 0; i < args.Count; i++)
                named[i] = (args[i].name.Text, argTypes[i], Loc(args[i].name));
        }
        else if (args.FirstOrDefault(a => a.name is not null) is { } withName)
            throw Fail(Loc(withName), "a function declaration (no body) lists argument types only, without names");
        return (op, named);
    }

    private Operation BuildReturn(ReturnOperationContext r)
    {
        var loc = Loc(r.kw);
        var uses = Uses(r.operands);
        var types = BuildTypeList(r.types);
        if (uses.Count != types.Length)
            throw Fail(loc, $"'func.return' has {uses.Count} operand{(uses.Count == 1 ? "" : "s")} but {types.Length} type{(types.Length == 1 ? "" : "s")}");
        var operands = new Value[uses.Count];
        for (int i = 0; i < uses.Count; i++) operands[i] = ResolveUse(uses[i], types[i]);
        return Operation.Create(_ctx, "func.return", operands, Array.Empty<IrType>(), null, 0, loc);
    }

    private Operation BuildCall(CallOperationContext c)
    {
        var loc = Loc(c.kw);
        var fnType = BuildFunctionType(c.fnType);
        var uses = Uses(c.operands);
        if (uses.Count != fnType.Inputs.Count)
            throw Fail(Loc(c.fnType), $"'func.call' has {uses.Count} operand{(uses.Count == 1 ? "" : "s")} but its type lists {fnType.Inputs.Count}");
        var operands = new Value[uses.Count];
        for (int i = 0; i < uses.Count; i++) operands[i] = ResolveUse(uses[i], fnType.Inputs[i]);
        var entries = new List<KeyValuePair<string, IrAttribute>>();
        if (c.attrs is { } ad) entries.AddRange(BuildAttrDict(ad).Entries);
        entries.Add(new("callee", _ctx.Symbol(SymbolName(c.callee))));
        return Operation.Create(_ctx, "func.call", operands, fnType.Results, _ctx.Dictionary(entries), 0, loc);
    }

    /// <summary>The uniform custom form; the op's definition says how to read the types.</summary>
    private Operation BuildCustom(CustomOperationContext c, int boundResults)
    {
        var nameTok = c.name;
        var name = nameTok.Text;
        var loc = Loc(nameTok);
        var def = _ctx.LookupOp(name);
        if (def is null)
        {
            LookupDef(name, loc);   // reports unknown dialects and ops
            throw Fail(loc, $"custom form of unregistered operation '{name}': write it in the generic form \"{name}\"(...)");
        }
        if (def.Form != CustomForm.Uniform)
            throw Fail(loc, $"'{name}' has a custom form of its own; this is not it");
        var uses = Uses(c.operands);

        IrType[] operandTypes;
        IrType[] resultTypes;
        var spec = c.spec;
        switch (spec)
        {
            case null:
                operandTypes = Array.Empty<IrType>();
                resultTypes = Array.Empty<IrType>();
                if (uses.Count > 0 || boundResults > 0 || def.NumResults > 0)
                    throw Fail(loc, $"expected ':' and the type of '{name}'");
                break;
            case FullFunctionTypeSpecContext full:
                operandTypes = BuildTypeList(full.operandTypes);
                resultTypes = BuildResultTypes(full.results);
                break;
            case ShortTypeSpecContext shortSpec:
            {
                var t = BuildNonFunctionType(shortSpec.operandType);
                if (shortSpec.results is { } rt)
                {
                    operandTypes = new[] { t };
                    resultTypes = BuildResultTypes(rt);
                }
                else if (def.HasTrait(OpTraits.SameOperandsAndResultType))
                {
                    operandTypes = Repeat(t, uses.Count);
                    resultTypes = Repeat(t, def.VariadicResults ? boundResults : def.NumResults);
                }
                else if (uses.Count == 0)
                {
                    operandTypes = Array.Empty<IrType>();
                    resultTypes = Repeat(t, def.VariadicResults ? boundResults : def.NumResults);
                }
                else
                    throw Fail(Loc(spec), $"expected a function type '(operand types) -> result types' for '{name}'");
                break;
            }
            default:
                throw Fail(Loc(spec), "unexpected type specification");
        }

        if (uses.Count != operandTypes.Length)
            throw Fail(Loc((ParserRuleContext?)spec ?? c), $"'{name}' has {uses.Count} operand{(uses.Count == 1 ? "" : "s")} but its type lists {operandTypes.Length}");
        var operands = new Value[uses.Count];
        for (int i = 0; i < uses.Count; i++) operands[i] = ResolveUse(uses[i], operandTypes[i]);

        var attrs = c.attrs is { } ad ? BuildAttrDict(ad) : _ctx.EmptyDictionary;
        if (c.pos is { } pa)
        {
            if (def.PositionalAttribute is not { } posName)
                throw Fail(Loc(pa), $"'{name}' takes no positional attribute; expected operands or an attribute dictionary");
            if (attrs.Get(posName) is not null)
                throw Fail(Loc(pa), $"'{posName}' is given twice: positionally and in the attribute dictionary");
            var value = BuildPositional(pa, posName, resultTypes.Length > 0 ? resultTypes[0] : null);
            attrs = _ctx.Dictionary(attrs.Entries.Append(new(posName, value)));
        }
        return Operation.Create(_ctx, name, operands, resultTypes, attrs, 0, loc, def);
    }

    /// <summary>The SSA names of a value list (none when the list is absent).</summary>
    private static IList<IToken> Uses(ValueListContext? list) => list?._ids ?? (IList<IToken>)Array.Empty<IToken>();

    private IrAttribute BuildPositional(PositionalAttrContext pa, string posName, IrType? resultType)
    {
        var tensor = resultType as TensorType;
        if (pa.dense is not null)
        {
            if (tensor is null) throw Fail(Loc(pa), "a dense literal needs a tensor result type");
            return BuildDense(pa.literal, tensor, Loc(pa));
        }
        var tok = pa.tok;
        switch (tok.Type)
        {
            case AspIRLexer.INT:
                return tensor is { Element.IsFloat: true } ? _ctx.Float(ParseDouble(tok)) : _ctx.Integer(ParseLong(tok));
            case AspIRLexer.FLOAT: return _ctx.Float(ParseDouble(tok));
            case AspIRLexer.STRING: return _ctx.String(UnquoteString(tok));
            // The symbol an op defines (dist.mesh @mesh) is its sym_name, a string.
            case AspIRLexer.SYMBOL_ID:
                return posName == "sym_name" ? _ctx.String(SymbolName(tok)) : _ctx.Symbol(SymbolName(tok));
            default: return _ctx.Bool(tok.Type == AspIRLexer.KW_TRUE);
        }
    }

    // ------------------------------------------------------------------ regions

    /// <summary>
    /// Builds a region from its parse tree. Unlabeled ops at the start form the entry
    /// block; when there are none, the first labeled block is the entry.
    /// </summary>
    private void BuildRegion(RegionContext rc, Operation owner, Region region, bool isolated)
    {
        OpenRegion(owner, region, isolated, entryArgs: null);
        BuildRegionBody(rc);
        CloseRegion();
    }

    private void BuildRegionBody(RegionContext rc)
    {
        foreach (var o in rc._ops) AddOp(o);
        foreach (var bc in rc._blocks)
        {
            StartBlock(bc.label);
            foreach (var o in bc._ops) AddOp(o);
        }
    }

    private void AddEntryArgs(Block entry, (string Name, IrType Type, Location Loc)[]? entryArgs)
    {
        if (entryArgs is null) return;
        foreach (var (name, type, loc) in entryArgs)
        {
            var a = entry.AddArgument(type);
            Define(name[1..], new Value[] { a }, loc);
        }
    }
}
