namespace AutoSpIR.IR;

[Flags]
public enum OpTraits
{
    None = 0,
    /// <summary>No side effects: may be CSE'd, hoisted or erased when unused.</summary>
    Pure = 1,
    Commutative = 2,
    /// <summary>All operands and results have one type; the custom form prints it once.</summary>
    SameOperandsAndResultType = 4,
    /// <summary>Ends its block.</summary>
    Terminator = 8,
    /// <summary>Regions cannot use values defined outside the op.</summary>
    IsolatedFromAbove = 16,
    /// <summary>Defines a symbol named by its <c>sym_name</c> attribute.</summary>
    Symbol = 32,
    /// <summary>Its region holds symbols with unique names.</summary>
    SymbolTable = 64,
    /// <summary>Its single block need not end in a terminator.</summary>
    NoTerminator = 128,
}

/// <summary>How a registered op is written in the custom form (see grammar/AspIR.g4).</summary>
public enum CustomForm { Uniform, Module, Func, Return, Call }

public enum AttrKind { Any, Integer, Float, String, Bool, Unit, Array, IntArray, Dictionary, Type, Symbol, Dense }

/// <summary>An attribute an op accepts: its name, kind and whether it is required.</summary>
public sealed record AttrSpec(string Name, AttrKind Kind, bool Required = false, string Doc = "");

/// <summary>What folding an op produced: an existing value, or a constant to materialize.</summary>
public readonly record struct FoldResult(Value? Value, Attribute? Constant)
{
    public static FoldResult Of(Value v) => new(v, null);
    public static FoldResult Of(Attribute c) => new(null, c);
}

/// <summary>
/// The single declaration of an op: its signature, traits, verifier, result-type
/// (shape) rule, cost model and folder. Dialects build these once; every pass,
/// the parser and the printer read them.
/// </summary>
public sealed class OpDef
{
    public required string Name { get; init; }
    public string Summary { get; init; } = "";

    /// <summary>Names of the operands, for diagnostics and documentation; the count is fixed unless <see cref="VariadicOperands"/>.</summary>
    public string[] Operands { get; init; } = Array.Empty<string>();
    /// <summary>Any number of operands, at least <see cref="Operands"/>.Length.</summary>
    public bool VariadicOperands { get; init; }
    public int NumResults { get; init; } = 1;
    public bool VariadicResults { get; init; }
    public int NumRegions { get; init; }
    public AttrSpec[] Attributes { get; init; } = Array.Empty<AttrSpec>();
    public OpTraits Traits { get; init; }
    public CustomForm Form { get; init; } = CustomForm.Uniform;

    /// <summary>An attribute written right after the op name in the custom form (<c>tensor.constant dense&lt;..&gt;</c>).</summary>
    public string? PositionalAttribute { get; init; }

    /// <summary>
    /// The shape rule: the result types implied by the operand types and attributes,
    /// or null after reporting why they are invalid through <see cref="OpState.Fail"/>.
    /// The verifier checks declared result types against it; builders use it to create ops.
    /// </summary>
    public Func<OpState, Type[]?>? InferResultTypes { get; init; }

    /// <summary>Checks beyond the shape rule; reports through <see cref="OpState.Fail"/> and returns false on error.</summary>
    public Func<Operation, OpState, bool>? Verify { get; init; }

    /// <summary>Floating-point operations of one execution (multiply-add = 2).</summary>
    public Func<OpState, long>? Flops { get; init; }

    /// <summary>Bytes moved to and from memory by one execution; defaults to operands read plus results written.</summary>
    public Func<OpState, long>? Bytes { get; init; }

    /// <summary>
    /// Bytes this rank sends to other ranks in one execution of a communication op, under the
    /// op's standard algorithm (ring all-reduce, ...); absent for ops that do not communicate.
    /// It takes the whole op, not an <see cref="OpState"/>: the group size comes from the mesh
    /// the op references elsewhere in the module. Call it on verified IR only.
    /// </summary>
    public Func<Operation, long>? CommBytes { get; init; }

    /// <summary>Folds the op given the constant values of its operands (null where not constant).</summary>
    public Func<Operation, Attribute?[], FoldResult?>? Fold { get; init; }

    /// <summary>
    /// The reverse-mode gradient rule: given the gradients of the op's results (null where a
    /// result does not reach the loss), it builds, at <see cref="GradientContext.Builder"/>'s
    /// insertion point, ops computing the gradient of each operand, and returns them (null for
    /// an operand that is not differentiable, such as token ids and labels). Absent when the
    /// op has no gradient; autodiff then reports the op.
    /// </summary>
    public Func<GradientContext, Value?[]>? Gradient { get; init; }

    /// <summary>
    /// The op's sharding rule (Shardy's factor-based rule, <see cref="IR.ShardingRule"/>) for the
    /// instance described by the <see cref="OpState"/>: which dimensions of its operands and results
    /// are one iteration factor, and what sharding each factor does to the op (pass-through,
    /// reduction, needs replication, positional). Sharding discovery and propagation follow it.
    /// Called on verified ops; the function returns null for an instance it has no rule for
    /// (tensor.constant: no operands to relate). Absent for ops outside the tensor dialect.
    /// </summary>
    public Func<OpState, ShardingRule?>? ShardingRule { get; init; }

    /// <summary>
    /// Whether the op's rules see the encodings of its types. Most ops do not: their shape rule,
    /// verifier, costs and sharding rule speak of shapes and element types, and a global-view
    /// program carries a <c>#dist.sharding</c> in every type, so <see cref="OpState.Of"/> hands
    /// them the types without encoding. The dist dialect's ops set it: their rules are about
    /// encodings (a reshard changes one; a collective rejects one).
    /// </summary>
    public bool SeesEncodings { get; init; }

    /// <summary>Rewrites that canonicalize build new ops for (folds cover the rest).</summary>
    public RewritePattern[] CanonicalizationPatterns { get; init; } = Array.Empty<RewritePattern>();

    public bool HasTrait(OpTraits t) => (Traits & t) == t;

    public AttrSpec? FindAttribute(string name) => Array.Find(Attributes, a => a.Name == name);

    public long FlopsOf(OpState s) => Flops?.Invoke(s) ?? 0;

    /// <summary>Bytes this rank sends in one execution of <paramref name="op"/>; 0 for ops that do not communicate.</summary>
    public long CommBytesOf(Operation op) => CommBytes?.Invoke(op) ?? 0;

    public long BytesOf(OpState s)
    {
        if (Bytes is not null) return Bytes(s);
        long total = 0;
        foreach (var t in s.OperandTypes) total += Math.Max(0, (t as TensorType)?.ByteSize ?? 0);
        foreach (var t in s.ResultTypes) total += Math.Max(0, (t as TensorType)?.ByteSize ?? 0);
        return total;
    }

    public override string ToString() => Name;
}

/// <summary>A named set of ops (<c>tensor</c>, <c>func</c>, <c>dist</c>, ...).</summary>
public sealed class Dialect
{
    public Dialect(string name, string summary, IEnumerable<OpDef> ops)
    {
        Name = name;
        Summary = summary;
        Ops = ops.ToArray();
        foreach (var op in Ops)
            if (!op.Name.StartsWith(name + ".", StringComparison.Ordinal) && name != "builtin")
                throw new ArgumentException($"op '{op.Name}' does not belong to dialect '{name}'");
    }

    public string Name { get; }
    public string Summary { get; }
    public IReadOnlyList<OpDef> Ops { get; }

    /// <summary>
    /// Reads the body of <c>#dialect.name&lt;...&gt;</c> (text between and including the angle
    /// brackets, normalized) into a typed attribute; returns the attribute or an error message.
    /// Without a parser, such attributes stay <see cref="OpaqueAttr"/>.
    /// </summary>
    public Func<Context, string, string, (Attribute? Attribute, string? Error)>? AttributeParser { get; init; }
}
