using System.Text;

namespace AutoSpIR.IR;

/// <summary>
/// Prints IR in the custom form of each registered op, or in the generic form
/// (<c>"dialect.op"(%a) {attrs} : (T) -> T</c>) for every op when asked. The output
/// always parses back to the same module; value names keep their source hints
/// where unique within an isolated scope and are numbered otherwise.
/// </summary>
public sealed class Printer
{
    private readonly StringBuilder _sb;
    private readonly bool _generic;
    // Value names live on the values themselves, stamped with this printer's generation, so a
    // module of a million values needs no million-entry table (and no large-object-heap churn).
    private static int _generations;
    private readonly int _generation = Interlocked.Increment(ref _generations);
    private readonly Dictionary<Block, string> _blockNames = new();
    private int _indent;

    // Per isolated scope: the names in use and the next number to try.
    private HashSet<string> _used = new();
    private readonly Stack<HashSet<string>> _freeNameSets = new();
    private int _nextNumber;

    private readonly TextWriter? _writer;

    public Printer(StringBuilder sb, bool generic = false)
    {
        _sb = sb;
        _generic = generic;
    }

    /// <summary>A printer that streams to <paramref name="writer"/> in pieces instead of building one string.</summary>
    public Printer(TextWriter writer, bool generic = false) : this(new StringBuilder(1 << 17), generic)
    {
        _writer = writer;
    }

    public static string Print(Operation op, bool generic = false)
    {
        var sb = new StringBuilder();
        var p = new Printer(sb, generic);
        p.PrintTopLevel(op);
        return sb.ToString();
    }

    /// <summary>Prints <paramref name="op"/> to <paramref name="writer"/> (large modules never become one string).</summary>
    public static void Print(Operation op, TextWriter writer, bool generic = false)
    {
        var p = new Printer(writer, generic);
        p.PrintTopLevel(op);
        p.Flush();
    }

    private void Flush()
    {
        if (_writer is null) return;
        foreach (var chunk in _sb.GetChunks()) _writer.Write(chunk.Span);
        _sb.Clear();
    }

    /// <summary>One op for messages; names are local to the op.</summary>
    public static string PrintOp(Operation op) => Print(op).TrimEnd();

    public void PrintTopLevel(Operation op)
    {
        NameScope(op, fresh: true);
        if (op.NumResults > 0) NameResults(op);   // an op printed alone (diagnostics, ToString)
        PrintOperation(op);
        _sb.Append('\n');
    }

    // ------------------------------------------------------------------ naming

    private void NameScope(Operation scopeOp, bool fresh)
    {
        if (fresh)
        {
            // Name sets are reused across isolated scopes (large functions put them on the
            // large object heap; a fresh one per function makes the GC rescan the IR).
            _used = _freeNameSets.Count > 0 ? _freeNameSets.Pop() : new HashSet<string>();
            _nextNumber = 0;
        }
        foreach (var r in scopeOp.Regions)
        {
            NameBlocks(r);
            foreach (var b in r.Blocks)
            {
                foreach (var a in b.Arguments) NameValue(a, a.NameHint ?? "arg" + a.Index);
                foreach (var op in b.Ops)
                {
                    if (op.NumResults > 0) NameResults(op);
                    if (op.NumRegions > 0)
                    {
                        if (op.HasTrait(OpTraits.IsolatedFromAbove))
                        {
                            var (used, next) = (_used, _nextNumber);
                            NameScope(op, fresh: true);
                            _used.Clear();
                            _freeNameSets.Push(_used);
                            (_used, _nextNumber) = (used, next);
                        }
                        else NameScope(op, fresh: false);
                    }
                }
            }
        }
    }

    /// <summary>Block labels are unique per region: source hints where free, then ^bb0, ^bb1, ...</summary>
    private void NameBlocks(Region r)
    {
        var used = new HashSet<string>();
        foreach (var b in r.Blocks)
            if (b.NameHint is { } h && SymbolRefAttr.IsSuffixIdentifier(h) && used.Add(h)) _blockNames[b] = h;
        int next = 0;
        foreach (var b in r.Blocks)
        {
            if (_blockNames.TryGetValue(b, out var name) && ReferenceEquals(name, b.NameHint)) continue;
            while (!used.Add("bb" + next)) next++;
            _blockNames[b] = "bb" + next++;
        }
    }

    private void NameResults(Operation op)
    {
        var hint = op.Result(0).NameHint;
        var name = Unique(hint);
        if (op.NumResults == 1) SetName(op.Result(0), name);
        else
            for (int i = 0; i < op.NumResults; i++) SetName(op.Result(i), name + "#" + i);
    }

    private void NameValue(Value v, string? hint) => SetName(v, Unique(hint));

    private void SetName(Value v, string name)
    {
        v.PrintedName = name;
        v.PrintedBy = _generation;
    }

    private string Unique(string? hint)
    {
        if (hint is not null && SymbolRefAttr.IsSuffixIdentifier(hint) && !IsNumber(hint) && _used.Add(hint))
            return hint;
        if (hint is not null && SymbolRefAttr.IsSuffixIdentifier(hint) && !IsNumber(hint))
        {
            for (int k = 1; ; k++)
                if (_used.Add(hint + "_" + k)) return hint + "_" + k;
        }
        while (!_used.Add(_nextNumber.ToString())) _nextNumber++;
        return (_nextNumber++).ToString();
    }

    private static bool IsNumber(string s) => s.Length > 0 && char.IsAsciiDigit(s[0]);

    private string NameOf(Value v) => v.PrintedBy == _generation ? v.PrintedName! : "<<UNKNOWN SSA VALUE>>";

    // ------------------------------------------------------------------ operations

    private void Indent() => _sb.Append(' ', _indent * 2);

    private void PrintOperation(Operation op)
    {
        var form = _generic || op.Def is null ? (CustomForm?)null : op.Def.Form;
        if (form == CustomForm.Uniform && !FitsUniform(op)) form = null;
        if (form is CustomForm.Module or CustomForm.Func && !FitsRegionForm(op)) form = null;

        if (op.NumResults > 0 && form != CustomForm.Return)
        {
            var first = NameOf(op.Result(0));
            if (op.NumResults == 1) _sb.Append('%').Append(first);
            else _sb.Append('%').Append(first.IndexOf('#') is var hash and >= 0 ? first[..hash] : first).Append(':').Append(op.NumResults);
            _sb.Append(" = ");
        }

        switch (form)
        {
            case null: PrintGeneric(op); break;
            case CustomForm.Module: PrintModule(op); break;
            case CustomForm.Func: PrintFunc(op); break;
            case CustomForm.Return: PrintReturn(op); break;
            case CustomForm.Call: PrintCall(op); break;
            default: PrintUniform(op); break;
        }
    }

    private static bool FitsUniform(Operation op) =>
        op.NumRegions == 0 && op.Successors.Count == 0
        && (op.Def!.PositionalAttribute is null || op.NumOperands == 0);

    private static bool FitsRegionForm(Operation op) =>
        op.NumRegions == 1 && op.Successors.Count == 0 && op.NumOperands == 0
        && op.NumResults == 0 && (op.Def!.Form != CustomForm.Func || FuncShape(op) is not null)
        && (op.Def.Form != CustomForm.Module || op.Region(0).Blocks is [{ Arguments.Count: 0 }]);

    /// <summary>The function type of a func.func whose entry block agrees with it, else null.</summary>
    private static FunctionType? FuncShape(Operation op)
    {
        if (op.GetAttr("function_type") is not TypeAttr { Value: FunctionType ft }) return null;
        if (op.GetAttr("sym_name") is not StringAttr) return null;
        if (op.GetAttr("sym_visibility") is { } v && v is not StringAttr { Value: "public" or "private" or "nested" }) return null;
        var entry = op.Region(0).EntryBlock;
        if (entry is null) return ft;
        if (entry.Arguments.Count != ft.Inputs.Count) return null;
        for (int i = 0; i < ft.Inputs.Count; i++)
            if (!ReferenceEquals(entry.Arguments[i].Type, ft.Inputs[i])) return null;
        if (op.GetAttr("arg_attrs") is { } aa && (aa is not ArrayAttr a || a.Count != ft.Inputs.Count)) return null;
        if (op.GetAttr("res_attrs") is { } ra && (ra is not ArrayAttr r || r.Count != ft.Results.Count)) return null;
        return ft;
    }

    private void PrintGeneric(Operation op)
    {
        StringAttr.PrintQuoted(_sb, op.Name);
        _sb.Append('(');
        PrintOperandList(op);
        _sb.Append(')');
        if (op.Successors.Count > 0)
        {
            _sb.Append(" [");
            for (int i = 0; i < op.Successors.Count; i++)
            {
                if (i > 0) _sb.Append(", ");
                _sb.Append('^').Append(_blockNames.GetValueOrDefault(op.Successors[i], "<<UNKNOWN BLOCK>>"));
            }
            _sb.Append(']');
        }
        if (op.NumRegions > 0)
        {
            _sb.Append(" (");
            for (int i = 0; i < op.NumRegions; i++)
            {
                if (i > 0) _sb.Append(", ");
                PrintRegion(op.Region(i), printEntryLabel: true);
            }
            _sb.Append(')');
        }
        if (op.Attributes.Count > 0)
        {
            _sb.Append(' ');
            op.Attributes.Print(_sb);
        }
        _sb.Append(" : (");
        for (int i = 0; i < op.NumOperands; i++)
        {
            if (i > 0) _sb.Append(", ");
            PrintType(op.Operand(i).Type);
        }
        _sb.Append(") -> ");
        if (op.NumResults == 1 && op.Result(0).Type is not FunctionType) PrintType(op.Result(0).Type);
        else FunctionType.PrintResults(_sb, op.ResultTypes.ToArray());
    }

    private void PrintOperandList(Operation op)
    {
        for (int i = 0; i < op.NumOperands; i++)
        {
            if (i > 0) _sb.Append(", ");
            _sb.Append('%').Append(NameOf(op.Operand(i)));
        }
    }

    private void PrintUniform(Operation op)
    {
        var def = op.Def!;
        _sb.Append(op.Name);
        var attrs = op.Attributes;
        if (def.PositionalAttribute is { } pos && attrs.Get(pos) is { } posAttr && IsPositionalPrintable(posAttr))
        {
            _sb.Append(' ');
            if (pos == "sym_name" && posAttr is StringAttr symbol) SymbolRefAttr.PrintSymbol(_sb, symbol.Value);
            else PrintPositional(posAttr);
            attrs = op.Context.Dictionary(attrs.Entries.Where(e => e.Key != pos));
        }
        else if (op.NumOperands > 0)
        {
            _sb.Append(' ');
            PrintOperandList(op);
        }
        if (attrs.Count > 0)
        {
            _sb.Append(' ');
            attrs.Print(_sb);
        }
        if (op.NumOperands == 0 && op.NumResults == 0) return;
        _sb.Append(" : ");
        var operandTypes = new Type[op.NumOperands];
        for (int i = 0; i < operandTypes.Length; i++) operandTypes[i] = op.Operand(i).Type;
        var resultTypes = new Type[op.NumResults];
        for (int i = 0; i < resultTypes.Length; i++) resultTypes[i] = op.Result(i).Type;
        if (def.HasTrait(OpTraits.SameOperandsAndResultType) && AllSame(operandTypes, resultTypes))
            PrintType(operandTypes.Length > 0 ? operandTypes[0] : resultTypes[0]);
        else if (operandTypes.Length == 0 && AllSame(resultTypes, resultTypes) && resultTypes.Length == def.NumResults && !def.VariadicResults && resultTypes[0] is not FunctionType)
            PrintType(resultTypes[0]);
        else if (operandTypes.Length == 1 && operandTypes[0] is not FunctionType)
        {
            PrintType(operandTypes[0]);
            _sb.Append(" -> ");
            if (resultTypes.Length == 1 && resultTypes[0] is not FunctionType) PrintType(resultTypes[0]);
            else FunctionType.PrintResults(_sb, resultTypes);
        }
        else PrintType(op.Context.Function(operandTypes, resultTypes));
    }

    private static bool AllSame(Type[] a, Type[] b)
    {
        var first = a.Length > 0 ? a[0] : b.Length > 0 ? b[0] : null;
        if (first is null) return false;
        foreach (var t in a) if (!ReferenceEquals(t, first)) return false;
        foreach (var t in b) if (!ReferenceEquals(t, first)) return false;
        return true;
    }

    /// <summary>Types repeat a lot; their text is cached per printer.</summary>
    private readonly Dictionary<Type, string> _typeText = new(ReferenceEqualityComparer.Instance);

    private void PrintType(Type t)
    {
        if (!_typeText.TryGetValue(t, out var text)) _typeText[t] = text = t.ToString();
        _sb.Append(text);
    }

    /// <summary>Positional attributes print without their type (the op's result type gives it).</summary>
    private static bool IsPositionalPrintable(Attribute a) => a switch
    {
        IntegerAttr { Type.Kind: ScalarKind.I64 } => true,
        FloatAttr { Type.Kind: ScalarKind.F64 } => true,
        StringAttr or BoolAttr or SymbolRefAttr => true,
        DenseElementsAttr => true,
        _ => false,
    };

    private void PrintPositional(Attribute a)
    {
        if (a is DenseElementsAttr d)
        {
            _sb.Append("dense<");
            d.PrintLiteral(_sb);
            _sb.Append('>');
        }
        else a.Print(_sb);
    }

    private void PrintModule(Operation op)
    {
        _sb.Append("module");
        if (op.GetAttr("sym_name") is StringAttr name)
        {
            _sb.Append(' ');
            SymbolRefAttr.PrintSymbol(_sb, name.Value);
        }
        PrintAttributesExcept(op, "sym_name");
        _sb.Append(' ');
        PrintRegion(op.Region(0), printEntryLabel: false);
    }

    private void PrintFunc(Operation op)
    {
        var ft = FuncShape(op)!;
        var argAttrs = op.GetAttr("arg_attrs") as ArrayAttr;
        var resAttrs = op.GetAttr("res_attrs") as ArrayAttr;
        _sb.Append("func.func ");
        if (op.GetAttr("sym_visibility") is StringAttr vis) _sb.Append(vis.Value).Append(' ');
        SymbolRefAttr.PrintSymbol(_sb, ((StringAttr)op.GetAttr("sym_name")!).Value);
        _sb.Append('(');
        var entry = op.Region(0).EntryBlock;
        for (int i = 0; i < ft.Inputs.Count; i++)
        {
            if (i > 0) _sb.Append(", ");
            if (entry is not null) _sb.Append('%').Append(NameOf(entry.Arguments[i])).Append(": ");
            ft.Inputs[i].Print(_sb);
            if (argAttrs?[i] is DictionaryAttr { Count: > 0 } d)
            {
                _sb.Append(' ');
                d.Print(_sb);
            }
        }
        _sb.Append(')');
        bool anyResAttr = resAttrs is not null && resAttrs.Elements.Any(a => a is DictionaryAttr { Count: > 0 });
        if (ft.Results.Count > 0)
        {
            _sb.Append(" -> ");
            if (ft.Results.Count == 1 && !anyResAttr && ft.Results[0] is not FunctionType) ft.Results[0].Print(_sb);
            else
            {
                _sb.Append('(');
                for (int i = 0; i < ft.Results.Count; i++)
                {
                    if (i > 0) _sb.Append(", ");
                    ft.Results[i].Print(_sb);
                    if (resAttrs?[i] is DictionaryAttr { Count: > 0 } d)
                    {
                        _sb.Append(' ');
                        d.Print(_sb);
                    }
                }
                _sb.Append(')');
            }
        }
        PrintAttributesExcept(op, "sym_name", "function_type", "sym_visibility", "arg_attrs", "res_attrs");
        if (entry is not null)
        {
            _sb.Append(' ');
            PrintRegion(op.Region(0), printEntryLabel: false);
        }
    }

    private void PrintAttributesExcept(Operation op, params string[] skip)
    {
        var rest = op.Attributes.Entries.Where(e => Array.IndexOf(skip, e.Key) < 0).ToArray();
        if (rest.Length == 0) return;
        _sb.Append(" attributes ");
        op.Context.Dictionary(rest).Print(_sb);
    }

    private void PrintReturn(Operation op)
    {
        _sb.Append(op.Name);
        if (op.NumOperands == 0) return;
        _sb.Append(' ');
        PrintOperandList(op);
        _sb.Append(" : ");
        for (int i = 0; i < op.NumOperands; i++)
        {
            if (i > 0) _sb.Append(", ");
            PrintType(op.Operand(i).Type);
        }
    }

    private void PrintCall(Operation op)
    {
        _sb.Append(op.Name).Append(' ');
        if (op.GetAttr("callee") is SymbolRefAttr callee) callee.Print(_sb);
        else _sb.Append("@<<MISSING CALLEE>>");
        _sb.Append('(');
        PrintOperandList(op);
        _sb.Append(')');
        var rest = op.Attributes.Entries.Where(e => e.Key != "callee").ToArray();
        if (rest.Length > 0)
        {
            _sb.Append(' ');
            op.Context.Dictionary(rest).Print(_sb);
        }
        _sb.Append(" : ");
        op.Context.Function(op.OperandTypes.ToArray(), op.ResultTypes.ToArray()).Print(_sb);
    }

    // ------------------------------------------------------------------ regions

    private void PrintRegion(Region region, bool printEntryLabel)
    {
        _sb.Append("{\n");
        _indent++;
        for (int bi = 0; bi < region.Blocks.Count; bi++)
        {
            var b = region.Blocks[bi];
            // The entry block needs its label when it has arguments the op's form does not
            // show, or when it is empty (a bare "{}" is a region with no blocks).
            bool emptyEntry = bi == 0 && b.IsEmpty && !region.ParentOp.HasTrait(OpTraits.NoTerminator);
            if (bi > 0 || emptyEntry || (printEntryLabel && b.Arguments.Count > 0))
                PrintBlockLabel(b);
            foreach (var op in b.Ops)
            {
                Indent();
                PrintOperation(op);
                _sb.Append('\n');
                if (_writer is not null && _sb.Length > 1 << 16) Flush();
            }
        }
        _indent--;
        Indent();
        _sb.Append('}');
    }

    private void PrintBlockLabel(Block b)
    {
        _sb.Append(' ', Math.Max(0, _indent - 1) * 2);
        _sb.Append('^').Append(_blockNames[b]);
        if (b.Arguments.Count > 0)
        {
            _sb.Append('(');
            for (int i = 0; i < b.Arguments.Count; i++)
            {
                if (i > 0) _sb.Append(", ");
                _sb.Append('%').Append(NameOf(b.Arguments[i])).Append(": ");
                b.Arguments[i].Type.Print(_sb);
            }
            _sb.Append(')');
        }
        _sb.Append(":\n");
    }
}
