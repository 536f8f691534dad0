namespace AutoSpIR.IR;

/// <summary>
/// The view of an op that shape rules, verifiers and cost functions see: its
/// operand and result types and attributes, with error reporting that prefixes
/// <c>'op.name' op</c> and carries the op's location. It exists before the op
/// does, so builders can infer result types.
/// </summary>
public sealed class OpState
{
    public OpState(Context ctx, OpDef def, IReadOnlyList<Type> operandTypes, DictionaryAttr attributes,
        IReadOnlyList<Type>? resultTypes = null, Location? loc = null, DiagnosticEngine? diagnostics = null)
    {
        Context = ctx;
        Def = def;
        OperandTypes = operandTypes;
        Attributes = attributes;
        ResultTypes = resultTypes ?? Array.Empty<Type>();
        Location = loc ?? Location.Unknown;
        Diagnostics = diagnostics;
    }

    public static OpState Of(Operation op, DiagnosticEngine? diagnostics = null)
    {
        var def = op.Def ?? throw new InvalidOperationException($"'{op.Name}' is not registered");
        var operands = op.NumOperands == 0 ? Array.Empty<Type>() : new Type[op.NumOperands];
        for (int i = 0; i < operands.Length; i++) operands[i] = Plain(op.Context, def, op.Operand(i).Type);
        var results = op.NumResults == 0 ? Array.Empty<Type>() : new Type[op.NumResults];
        for (int i = 0; i < results.Length; i++) results[i] = Plain(op.Context, def, op.Result(i).Type);
        return new OpState(op.Context, def, operands, op.Attributes, results, op.Location, diagnostics);
    }

    /// <summary>The type as the op's rules see it: without its encoding unless <see cref="OpDef.SeesEncodings"/>.</summary>
    private static Type Plain(Context ctx, OpDef def, Type t) =>
        !def.SeesEncodings && t is TensorType { Encoding: not null } tt ? ctx.WithEncoding(tt, null) : t;

    public Context Context { get; }
    public OpDef Def { get; }
    public IReadOnlyList<Type> OperandTypes { get; }
    public IReadOnlyList<Type> ResultTypes { get; }
    public DictionaryAttr Attributes { get; }
    public Location Location { get; }
    public DiagnosticEngine? Diagnostics { get; }

    /// <summary>The message of the last failure, when no engine is attached.</summary>
    public string? LastError { get; private set; }

    /// <summary>Reports <c>'name' op message</c>; returns null so rules can <c>return s.Fail(...)</c>.</summary>
    public Type[]? Fail(string message)
    {
        LastError = $"'{Def.Name}' op {message}";
        Diagnostics?.Error(Location, LastError);
        return null;
    }

    /// <summary>Reports like <see cref="Fail"/> and returns false.</summary>
    public bool Error(string message)
    {
        Fail(message);
        return false;
    }

    public TensorType? Tensor(int operand) => OperandTypes[operand] as TensorType;
    public TensorType ResultTensor(int result) => (TensorType)ResultTypes[result];

    public Attribute? Attr(string name) => Attributes.Get(name);
    public bool Flag(string name) => Attributes.Get(name) is UnitAttr or BoolAttr { Value: true };
    public long? Int(string name) => (Attributes.Get(name) as IntegerAttr)?.Value;
    public double? Float(string name) => Attributes.Get(name) switch
    {
        FloatAttr f => f.Value,
        IntegerAttr i => i.Value,
        _ => null,
    };
    public long[]? Ints(string name) => (Attributes.Get(name) as ArrayAttr)?.AsInts();

    /// <summary>Operand #i as a tensor, or a failure naming it.</summary>
    public bool RequireTensor(int i, out TensorType t)
    {
        if (OperandTypes[i] is TensorType tt)
        {
            t = tt;
            return true;
        }
        t = null!;
        return Error($"operand #{i} ('{OperandName(i)}') must be a tensor, but has type {OperandTypes[i]}");
    }

    public string OperandName(int i) => i < Def.Operands.Length ? Def.Operands[i] : Def.Operands.Length > 0 ? Def.Operands[^1] : "operand";
}
