namespace AutoSpIR.Dialects.Arith;

/// <summary>
/// The <c>arith</c> dialect: scalar arithmetic on <c>f32</c>, <c>f64</c> and <c>i64</c>/<c>i32</c> values, the
/// bodies of the loop nests <c>convert-tensor-to-loops</c> writes. Every op is pure and lowers to one LLVM
/// instruction or intrinsic (<c>lowering/ConvertToLlvm.cs</c>).
/// <list type="bullet">
/// <item><c>%c = arith.constant {value = 1.5 : f32} : f32</c>: the attribute's value in its type.</item>
/// <item>float binaries <c>addf subf mulf divf maxf minf powf</c>, integer binaries <c>addi subi muli divsi
/// remsi maxsi minsi</c>: <c>%c = arith.addf %a, %b : f32</c> (one type for operands and result).</item>
/// <item>float unaries <c>negf exp log sqrt rsqrt tanh erf cos sin absf</c>.</item>
/// <item><c>%p = arith.cmpf %a, %b {predicate = "olt"} : (f32, f32) -> i1</c> (oeq one olt ole ogt oge),
/// <c>arith.cmpi</c> (eq ne slt sle sgt sge).</item>
/// <item><c>%r = arith.select %p, %a, %b : (i1, T, T) -> T</c>.</item>
/// <item><c>%r = arith.cast %x : i64 -> f32</c>: int to float, float to int (toward zero), float widening
/// and rounding (to nearest even), integer extension (signed) and truncation.</item>
/// </list>
/// </summary>
public static class ArithDialect
{
    public static readonly string[] FloatBinaries = { "addf", "subf", "mulf", "divf", "maxf", "minf", "powf" };
    public static readonly string[] IntBinaries = { "addi", "subi", "muli", "divsi", "remsi", "maxsi", "minsi" };
    public static readonly string[] FloatUnaries = { "negf", "exp", "log", "sqrt", "rsqrt", "tanh", "erf", "cos", "sin", "absf" };
    public static readonly string[] FloatPredicates = { "oeq", "one", "olt", "ole", "ogt", "oge" };
    public static readonly string[] IntPredicates = { "eq", "ne", "slt", "sle", "sgt", "sge" };

    public static readonly OpDef Constant = new()
    {
        Name = "arith.constant",
        Summary = "A scalar constant: the value attribute in its own type.",
        Attributes = new[] { new AttrSpec("value", AttrKind.Any, Required: true) },
        Traits = OpTraits.Pure,
        InferResultTypes = s => s.Attr("value") switch
        {
            FloatAttr f when f.Type.IsFloat => new Type[] { f.Type },
            IntegerAttr i when i.Type.IsInteger => new Type[] { i.Type },
            var a => s.Fail($"'value' must be a float or integer literal with its type (1.0 : f32, 3 : i64), but got {a}"),
        },
    };

    public static readonly OpDef Select = new()
    {
        Name = "arith.select",
        Summary = "cond ? a : b.",
        Operands = new[] { "cond", "true_value", "false_value" },
        Traits = OpTraits.Pure,
        InferResultTypes = s =>
        {
            if (s.OperandTypes[0] is not ScalarType { Kind: ScalarKind.I1 })
                return s.Fail($"the condition must be i1, but got {s.OperandTypes[0]}");
            if (s.OperandTypes[1] is not ScalarType t || !ReferenceEquals(t, s.OperandTypes[2]))
                return s.Fail($"both values must be scalars of one type, but got {s.OperandTypes[1]} and {s.OperandTypes[2]}");
            return new Type[] { t };
        },
    };

    public static readonly OpDef Cast = new()
    {
        Name = "arith.cast",
        Summary = "Converts a scalar to the result type (int <-> float, float widening/rounding, integer extension/truncation).",
        Operands = new[] { "input" },
        Traits = OpTraits.Pure,
        Verify = (op, s) => op.Operand(0).Type is ScalarType a && a.Kind != ScalarKind.I1 && op.Result(0).Type is ScalarType r && r.Kind != ScalarKind.I1
                            && a.Kind != ScalarKind.Index && r.Kind != ScalarKind.Index
                            || s.Error($"casts between f32, f64, bf16, f16 and integer scalars, not {op.Operand(0).Type} -> {op.Result(0).Type}"),
    };

    public static readonly OpDef[] Ops = BuildOps();

    public static readonly Dialect Dialect = new("arith", "Scalar arithmetic, the bodies of loop nests.", Ops);

    private static OpDef[] BuildOps()
    {
        var ops = new List<OpDef> { Constant, Select, Cast };
        foreach (var n in FloatBinaries) ops.Add(Binary(n, floats: true));
        foreach (var n in IntBinaries) ops.Add(Binary(n, floats: false));
        foreach (var n in FloatUnaries)
            ops.Add(new OpDef
            {
                Name = "arith." + n,
                Summary = $"Scalar {n}.",
                Operands = new[] { "input" },
                Traits = OpTraits.Pure | OpTraits.SameOperandsAndResultType,
                InferResultTypes = s => s.OperandTypes[0] is ScalarType { IsFloat: true } t ? new Type[] { t }
                    : s.Fail($"the operand must be a float scalar, but got {s.OperandTypes[0]}"),
            });
        ops.Add(Compare("cmpf", floats: true, FloatPredicates));
        ops.Add(Compare("cmpi", floats: false, IntPredicates));
        return ops.ToArray();
    }

    private static OpDef Binary(string name, bool floats) => new()
    {
        Name = "arith." + name,
        Summary = $"Scalar {name}.",
        Operands = new[] { "lhs", "rhs" },
        Traits = OpTraits.Pure | OpTraits.SameOperandsAndResultType,
        InferResultTypes = s =>
        {
            if (s.OperandTypes[0] is not ScalarType t || !ReferenceEquals(t, s.OperandTypes[1]))
                return s.Fail($"operands must be scalars of one type, but got {s.OperandTypes[0]} and {s.OperandTypes[1]}");
            if (floats ? !t.IsFloat : !t.IsInteger || t.Kind == ScalarKind.I1)
                return s.Fail($"operands must be {(floats ? "float" : "integer")} scalars, but got {t}");
            return new Type[] { t };
        },
    };

    private static OpDef Compare(string name, bool floats, string[] predicates) => new()
    {
        Name = "arith." + name,
        Summary = $"Scalar comparison ({string.Join(" ", predicates)}), an i1.",
        Operands = new[] { "lhs", "rhs" },
        Attributes = new[] { new AttrSpec("predicate", AttrKind.String, Required: true) },
        Traits = OpTraits.Pure,
        InferResultTypes = s =>
        {
            if (s.OperandTypes[0] is not ScalarType t || !ReferenceEquals(t, s.OperandTypes[1]) || (floats ? !t.IsFloat : !t.IsInteger))
                return s.Fail($"operands must be {(floats ? "float" : "integer")} scalars of one type, but got {s.OperandTypes[0]} and {s.OperandTypes[1]}");
            var p = (s.Attr("predicate") as StringAttr)?.Value;
            if (p is null || Array.IndexOf(predicates, p) < 0)
                return s.Fail($"'predicate' must be one of {string.Join(", ", predicates)}, but got {s.Attr("predicate")}");
            return new Type[] { s.Context.I1 };
        },
    };
}
