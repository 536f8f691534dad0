using AutoSpIR.IR;

namespace AutoSpIR.Dialects.Func;

/// <summary>The <c>func</c> dialect: functions, calls and returns, as in MLIR.</summary>
public static class FuncDialect
{
    /// <summary>
    /// <c>func.func [private] @name(%a: T {arg attrs}) -> T { body }</c>. The signature is the
    /// <c>function_type</c> attribute; per-argument attributes (<c>aspir.seq_dim</c>,
    /// <c>aspir.param</c>, <c>aspir.name</c>) live in <c>arg_attrs</c>.
    /// </summary>
    public static readonly OpDef FuncOp = new()
    {
        Name = "func.func",
        Summary = "A function: a symbol with a typed signature and a body region.",
        NumResults = 0,
        NumRegions = 1,
        Form = CustomForm.Func,
        Traits = OpTraits.IsolatedFromAbove | OpTraits.Symbol,
        Attributes = new[]
        {
            new AttrSpec("sym_name", AttrKind.String, Required: true),
            new AttrSpec("function_type", AttrKind.Type, Required: true),
            new AttrSpec("sym_visibility", AttrKind.String),
            new AttrSpec("arg_attrs", AttrKind.Array),
            new AttrSpec("res_attrs", AttrKind.Array),
        },
        Verify = VerifyFunc,
    };

    /// <summary><c>func.return %a, %b : T, T</c>: ends a function body with its results.</summary>
    public static readonly OpDef Return = new()
    {
        Name = "func.return",
        Summary = "Returns from the enclosing function.",
        VariadicOperands = true,
        NumResults = 0,
        Form = CustomForm.Return,
        Traits = OpTraits.Terminator | OpTraits.Pure,
        Verify = VerifyReturn,
    };

    /// <summary><c>%r = func.call @f(%a) : (T) -> T</c>.</summary>
    public static readonly OpDef Call = new()
    {
        Name = "func.call",
        Summary = "Calls a function of the enclosing module.",
        VariadicOperands = true,
        NumResults = 0,
        VariadicResults = true,
        Form = CustomForm.Call,
        Attributes = new[] { new AttrSpec("callee", AttrKind.Symbol, Required: true) },
        Verify = VerifyCall,
    };

    public static readonly Dialect Dialect = new("func", "Functions, calls and returns.", new[] { FuncOp, Return, Call });

    /// <summary>The function type of a func.func op.</summary>
    public static FunctionType Signature(Operation func) => (FunctionType)((TypeAttr)func.GetAttr("function_type")!).Value;

    /// <summary>The attribute dictionary of argument #i (empty when none).</summary>
    public static DictionaryAttr ArgAttrs(Operation func, int i) =>
        func.GetAttr("arg_attrs") is ArrayAttr a && i < a.Count && a[i] is DictionaryAttr d ? d : func.Context.EmptyDictionary;

    /// <summary>The attribute dictionary of result #i (empty when none).</summary>
    public static DictionaryAttr ResAttrs(Operation func, int i) =>
        func.GetAttr("res_attrs") is ArrayAttr a && i < a.Count && a[i] is DictionaryAttr d ? d : func.Context.EmptyDictionary;

    /// <summary>Sets (or, with null, removes) attribute <paramref name="name"/> of argument #i.</summary>
    public static void SetArgAttr(Operation func, int i, string name, Attribute? value) =>
        SetEntryAttr(func, "arg_attrs", Signature(func).Inputs.Count, i, name, value);

    /// <summary>Sets (or, with null, removes) attribute <paramref name="name"/> of result #i.</summary>
    public static void SetResAttr(Operation func, int i, string name, Attribute? value) =>
        SetEntryAttr(func, "res_attrs", Signature(func).Results.Count, i, name, value);

    /// <summary>
    /// Rewrites every argument's attribute dictionary at once with <paramref name="update"/>
    /// (index, old dictionary) -&gt; new dictionary: one array for the whole signature, where
    /// <see cref="SetArgAttr"/> per argument would rebuild it once per argument.
    /// </summary>
    public static void UpdateArgAttrs(Operation func, Func<int, DictionaryAttr, DictionaryAttr> update)
    {
        int count = Signature(func).Inputs.Count;
        var dicts = new Attribute[count];
        for (int i = 0; i < count; i++) dicts[i] = update(i, ArgAttrs(func, i));
        func.SetAttr("arg_attrs", func.Context.Array(dicts));
    }

    /// <summary><paramref name="attrs"/> with <paramref name="name"/> set to <paramref name="value"/> (removed when null).</summary>
    public static DictionaryAttr With(Context ctx, DictionaryAttr attrs, string name, Attribute? value)
    {
        var entries = attrs.Entries.Where(e => e.Key != name).ToList();
        if (value is not null) entries.Add(new KeyValuePair<string, Attribute>(name, value));
        return ctx.Dictionary(entries);
    }

    private static void SetEntryAttr(Operation func, string key, int count, int i, string name, Attribute? value)
    {
        var ctx = func.Context;
        var dicts = Enumerable.Range(0, count)
            .Select(j => func.GetAttr(key) is ArrayAttr a && j < a.Count && a[j] is DictionaryAttr d ? d : ctx.EmptyDictionary).ToArray();
        var entries = dicts[i].Entries.Where(e => e.Key != name).ToList();
        if (value is not null) entries.Add(new KeyValuePair<string, Attribute>(name, value));
        dicts[i] = ctx.Dictionary(entries);
        func.SetAttr(key, ctx.Array(dicts.Cast<Attribute>().ToArray()));
    }

    /// <summary>
    /// Rewrites <c>function_type</c> from the entry block's argument types and the
    /// <c>func.return</c> operand types, after a pass changed them.
    /// </summary>
    public static void SyncSignature(Operation func)
    {
        var block = func.Region(0).EntryBlock!;
        var ret = block.Last!;
        func.SetAttr("function_type", func.Context.TypeAttr(func.Context.Function(
            block.Arguments.Select(a => a.Type).ToArray(), ret.OperandTypes.ToArray())));
    }

    public static string SymName(Operation op) => ((StringAttr)op.GetAttr("sym_name")!).Value;

    private static bool VerifyFunc(Operation op, OpState s)
    {
        if (op.GetAttr("function_type") is not TypeAttr { Value: FunctionType ft })
            return s.Error("attribute 'function_type' must be a function type");
        if (op.GetAttr("sym_visibility") is StringAttr { Value: not ("public" or "private" or "nested") } vis)
            return s.Error($"attribute 'sym_visibility' must be \"public\", \"private\" or \"nested\", not \"{vis.Value}\"");
        var body = op.Region(0);
        if (body.IsEmpty)
        {
            if (op.GetString("sym_visibility") != "private")
                return s.Error("a function declaration (no body) must be 'private'");
            return true;
        }
        var entry = body.EntryBlock!;
        if (entry.Arguments.Count != ft.Inputs.Count)
            return s.Error($"entry block has {entry.Arguments.Count} arguments, but the function type has {ft.Inputs.Count} inputs");
        for (int i = 0; i < ft.Inputs.Count; i++)
            if (!ReferenceEquals(entry.Arguments[i].Type, ft.Inputs[i]))
                return s.Error($"entry block argument #{i} has type {entry.Arguments[i].Type}, but the function type says {ft.Inputs[i]}");
        if (op.GetAttr("arg_attrs") is ArrayAttr aa && (aa.Count != ft.Inputs.Count || aa.Elements.Any(e => e is not DictionaryAttr)))
            return s.Error($"'arg_attrs' must hold one dictionary per argument ({ft.Inputs.Count})");
        if (op.GetAttr("res_attrs") is ArrayAttr ra && (ra.Count != ft.Results.Count || ra.Elements.Any(e => e is not DictionaryAttr)))
            return s.Error($"'res_attrs' must hold one dictionary per result ({ft.Results.Count})");
        return true;
    }

    private static bool VerifyReturn(Operation op, OpState s)
    {
        var func = op.ParentOp;
        if (func is null || func.Name != "func.func")
            return s.Error("must be inside a 'func.func'");
        if (func.GetAttr("function_type") is not TypeAttr { Value: FunctionType ft }) return true;
        if (op.NumOperands != ft.Results.Count)
            return s.Error($"has {op.NumOperands} operand{(op.NumOperands == 1 ? "" : "s")}, but the enclosing function returns {ft.Results.Count}");
        for (int i = 0; i < op.NumOperands; i++)
            if (!ReferenceEquals(op.Operand(i).Type, ft.Results[i]))
                return s.Error($"type of return operand #{i} ({op.Operand(i).Type}) does not match the function result type ({ft.Results[i]})");
        return true;
    }

    private static bool VerifyCall(Operation op, OpState s)
    {
        var callee = ((SymbolRefAttr)op.GetAttr("callee")!).Name;
        Operation? module = op.ParentOp;
        while (module is not null && !module.HasTrait(OpTraits.SymbolTable)) module = module.ParentOp;
        var target = module?.Region(0).Ops.FirstOrDefault(o => o.Name == "func.func" && o.GetString("sym_name") == callee);
        if (target is null) return s.Error($"'@{callee}' does not reference a valid function");
        if (target.GetAttr("function_type") is not TypeAttr { Value: FunctionType ft })
            return s.Error($"'@{callee}' has no valid function type");
        if (op.NumOperands != ft.Inputs.Count)
            return s.Error($"passes {op.NumOperands} operands, but '@{callee}' takes {ft.Inputs.Count}");
        for (int i = 0; i < op.NumOperands; i++)
            if (!ReferenceEquals(op.Operand(i).Type, ft.Inputs[i]))
                return s.Error($"operand #{i} has type {op.Operand(i).Type}, but '@{callee}' expects {ft.Inputs[i]}");
        if (op.NumResults != ft.Results.Count)
            return s.Error($"has {op.NumResults} results, but '@{callee}' returns {ft.Results.Count}");
        for (int i = 0; i < op.NumResults; i++)
            if (!ReferenceEquals(op.Result(i).Type, ft.Results[i]))
                return s.Error($"result #{i} has type {op.Result(i).Type}, but '@{callee}' returns {ft.Results[i]}");
        return true;
    }
}
