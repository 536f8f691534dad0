using AutoSpIR.Dialects.Arith;
using AutoSpIR.Dialects.Loop;

namespace AutoSpIR.Lowering.Loops;

/// <summary>
/// Writes <c>loop</c> and <c>arith</c> ops at a <see cref="Builder"/>'s insertion point: the small language
/// the tensor op lowerings (<c>Loops/Tensor/*.cs</c>) are written in. Arithmetic picks the float or
/// integer op from the operand type (<see cref="Add"/> is <c>arith.addf</c> on f32, <c>arith.addi</c> on
/// i64); indices are i64. Loop bodies are C# lambdas given the induction variables.
/// </summary>
public sealed class LoopBuilder
{
    public LoopBuilder(Builder builder) { B = builder; }

    /// <summary>Where the op being lowered may put scratch buffers: the first byte after the planned arena.</summary>
    internal long ScratchBase { get; set; }

    /// <summary>Bytes of scratch the op being lowered has taken so far (reset for every op).</summary>
    internal long ScratchUsed { get; set; }

    public Builder B { get; }
    public Context Ctx => B.Context;
    public ScalarType I64 => Ctx.I64;

    // ------------------------------------------------------------------ constants

    /// <summary>An i64 constant.</summary>
    public Value I(long v) => Op("arith.constant", Array.Empty<Value>(), ("value", Ctx.Integer(v, Ctx.I64)));

    /// <summary>A constant of scalar type <paramref name="t"/> (float or integer).</summary>
    public Value C(double v, ScalarType t) =>
        Op("arith.constant", Array.Empty<Value>(), ("value", t.IsFloat ? Ctx.Float(v, t) : Ctx.Integer((long)v, t)));

    // ------------------------------------------------------------------ arithmetic

    public Value Add(Value a, Value b) => Bin(a, b, "addf", "addi");
    public Value Sub(Value a, Value b) => Bin(a, b, "subf", "subi");
    public Value Mul(Value a, Value b) => Bin(a, b, "mulf", "muli");
    public Value Div(Value a, Value b) => Bin(a, b, "divf", "divsi");
    public Value Rem(Value a, Value b) => Bin(a, b, null, "remsi");
    public Value Max(Value a, Value b) => Bin(a, b, "maxf", "maxsi");
    public Value Min(Value a, Value b) => Bin(a, b, "minf", "minsi");
    public Value Pow(Value a, Value b) => Bin(a, b, "powf", null);
    public Value Neg(Value a) => Un(a, "negf");
    public Value Exp(Value a) => Un(a, "exp");
    public Value Log(Value a) => Un(a, "log");
    public Value Sqrt(Value a) => Un(a, "sqrt");
    public Value Rsqrt(Value a) => Un(a, "rsqrt");
    public Value Tanh(Value a) => Un(a, "tanh");
    public Value Erf(Value a) => Un(a, "erf");
    public Value Cos(Value a) => Un(a, "cos");
    public Value Sin(Value a) => Un(a, "sin");
    public Value Abs(Value a) => Un(a, "absf");

    /// <summary>A comparison, an i1: float predicates oeq one olt ole ogt oge, integer eq ne slt sle sgt sge.</summary>
    public Value Cmp(string predicate, Value a, Value b) =>
        Op(((ScalarType)a.Type).IsFloat ? "arith.cmpf" : "arith.cmpi", new[] { a, b }, ("predicate", Ctx.String(predicate)));

    public Value Select(Value cond, Value a, Value b) => Op("arith.select", new[] { cond, a, b });

    /// <summary><paramref name="x"/> converted to <paramref name="t"/> (itself when it already has that type).</summary>
    public Value Cast(Value x, ScalarType t) =>
        ReferenceEquals(x.Type, t) ? x : B.Create("arith.cast", new[] { x }, new Type[] { t }).Result(0);

    // ------------------------------------------------------------------ memory

    /// <summary>The arena's bytes at <paramref name="offset"/>, as a buffer of type <paramref name="t"/>.</summary>
    public Value Buffer(long offset, TensorType t) =>
        B.Create(LoopDialect.Buffer.Name, Array.Empty<Value>(), new Type[] { Plain(t) }, B.Attrs(("offset", Ctx.Integer(offset)))).Result(0);

    /// <summary>
    /// A scratch buffer for the op being lowered alone (flash-attention tiles, per-thread partial sums): memory past
    /// the planned arena, valid only while this op runs, not shared with any other buffer of the op. Parallel
    /// iterations that need private scratch index a leading dimension of their own (one slice per iteration).
    /// The function's <c>loop.memory_size</c> (arena plus the largest scratch of any op) is what the runtime allocates.
    /// </summary>
    public Value Scratch(TensorType t)
    {
        long offset = ScratchBase + ScratchUsed;
        ScratchUsed += (t.ByteSize + 63) / 64 * 64;
        return Buffer(offset, t);
    }

    /// <summary>The same buffer as one of <paramref name="shape"/> (same element count).</summary>
    public Value Reinterpret(Value buffer, params long[] shape)
    {
        var t = (TensorType)buffer.Type;
        return t.Shape.SequenceEqual(shape) ? buffer
            : B.Create(LoopDialect.Reinterpret.Name, new[] { buffer }, new Type[] { Ctx.Tensor(shape, t.Element) }).Result(0);
    }

    /// <summary>The buffer as a 1-D buffer of all its elements.</summary>
    public Value Flat(Value buffer) => Reinterpret(buffer, ((TensorType)buffer.Type).NumElements);

    public Value Load(Value buffer, params Value[] index) =>
        B.Create(LoopDialect.Load.Name, new[] { buffer }.Concat(index).ToArray(), new Type[] { ((TensorType)buffer.Type).Element }).Result(0);

    public void Store(Value value, Value buffer, params Value[] index) =>
        B.Create(LoopDialect.Store.Name, new[] { value, buffer }.Concat(index).ToArray(), Array.Empty<Type>());

    // ------------------------------------------------------------------ loops

    /// <summary>A <c>loop.parallel</c> over [0, upper): <paramref name="body"/> gets one i64 per dimension.</summary>
    public void Parallel(long[] upper, Action<Value[]> body)
    {
        var op = B.Create(LoopDialect.Parallel.Name, Array.Empty<Value>(), Array.Empty<Type>(), B.Attrs(("upper", Ctx.IntArray(upper))), numRegions: 1);
        var block = op.Region(0).AddBlock();
        var ivs = upper.Select(_ => (Value)block.AddArgument(Ctx.I64)).ToArray();
        InBlock(block, () =>
        {
            body(ivs);
            B.Create(LoopDialect.Yield.Name, Array.Empty<Value>(), Array.Empty<Type>());
        });
    }

    /// <summary>
    /// A sequential <c>loop.for</c> from <paramref name="lower"/> while &lt; <paramref name="upper"/> by
    /// <paramref name="step"/> carrying <paramref name="inits"/>; <paramref name="body"/> gets the induction
    /// variable and the carried values and returns the next ones. Returns the final carried values.
    /// </summary>
    public Value[] For(Value lower, Value upper, Value step, Value[] inits, Func<Value, Value[], Value[]> body)
    {
        var op = B.Create(LoopDialect.For.Name, new[] { lower, upper, step }.Concat(inits).ToArray(), inits.Select(v => v.Type).ToArray(), numRegions: 1);
        var block = op.Region(0).AddBlock();
        var iv = block.AddArgument(Ctx.I64);
        var carried = inits.Select(v => (Value)block.AddArgument(v.Type)).ToArray();
        InBlock(block, () =>
        {
            var next = body(iv, carried);
            B.Create(LoopDialect.Yield.Name, next, Array.Empty<Type>());
        });
        return op.Results.Cast<Value>().ToArray();
    }

    /// <summary><see cref="For"/> from 0 to <paramref name="upper"/> by 1 carrying nothing.</summary>
    public void For(long upper, Action<Value> body) =>
        For(I(0), I(upper), I(1), Array.Empty<Value>(), (i, _) => { body(i); return Array.Empty<Value>(); });

    /// <summary><see cref="For"/> with one carried value.</summary>
    public Value Fold(Value lower, Value upper, Value init, Func<Value, Value, Value> body) =>
        For(lower, upper, I(1), new[] { init }, (i, c) => new[] { body(i, c[0]) })[0];

    /// <summary>A sum over [0, n) of <paramref name="term"/>, accumulated in <paramref name="acc"/>'s type from 0.</summary>
    public Value Sum(long n, ScalarType acc, Func<Value, Value> term) =>
        Fold(I(0), I(n), C(0, acc), (i, s) => Add(s, Cast(term(i), acc)));

    /// <summary>
    /// <c>loop.gemm</c>: row-major C[m, n] = alpha op(A) op(B) + beta C, sub-matrices at element offsets
    /// <paramref name="aOffset"/>... (i64 values) with leading dimensions lda, ldb, ldc.
    /// </summary>
    public void Gemm(Value a, Value b, Value c, Value aOffset, Value bOffset, Value cOffset, long m, long n, long k,
        long lda, long ldb, long ldc, bool transA, bool transB, double alpha = 1, double beta = 0) =>
        B.Create(LoopDialect.Gemm.Name, new[] { a, b, c, aOffset, bOffset, cOffset }, Array.Empty<Type>(), B.Attrs(
            ("m", Ctx.Integer(m)), ("n", Ctx.Integer(n)), ("k", Ctx.Integer(k)),
            ("lda", Ctx.Integer(lda)), ("ldb", Ctx.Integer(ldb)), ("ldc", Ctx.Integer(ldc)),
            ("trans_a", Ctx.Bool(transA)), ("trans_b", Ctx.Bool(transB)),
            ("alpha", Ctx.Float(alpha)), ("beta", Ctx.Float(beta))));

    // ------------------------------------------------------------------ index helpers

    /// <summary>The row-major multi-index of flat index <paramref name="flat"/> in <paramref name="shape"/>.</summary>
    public Value[] Unflatten(Value flat, IReadOnlyList<long> shape)
    {
        var idx = new Value[shape.Count];
        for (int d = shape.Count - 1; d >= 0; d--)
        {
            idx[d] = d == 0 ? flat : Rem(flat, I(shape[d]));
            if (d > 0) flat = Div(flat, I(shape[d]));
        }
        return idx;
    }

    /// <summary>The row-major flat index of <paramref name="idx"/> in <paramref name="shape"/>.</summary>
    public Value Flatten(IReadOnlyList<Value> idx, IReadOnlyList<long> shape)
    {
        Value flat = idx.Count == 0 ? I(0) : idx[0];
        for (int d = 1; d < idx.Count; d++) flat = Add(Mul(flat, I(shape[d])), idx[d]);
        return flat;
    }

    /// <summary>The type without an encoding (buffers carry none).</summary>
    public TensorType Plain(TensorType t) => t.Encoding is null ? t : Ctx.Tensor(t.Shape, t.Element);

    private void InBlock(Block block, Action emit)
    {
        var (savedBlock, savedPoint) = (B.InsertionBlock, B.InsertionPoint);
        B.SetInsertionPointToEnd(block);
        try { emit(); }
        finally
        {
            if (savedBlock is not null)
            {
                if (savedPoint is null) B.SetInsertionPointToEnd(savedBlock);
                else B.SetInsertionPoint(savedPoint);
            }
        }
    }

    private Value Bin(Value a, Value b, string? f, string? i)
    {
        var t = (ScalarType)a.Type;
        var name = t.IsFloat ? f : i;
        if (name is null) throw new InvalidOperationException($"no {(t.IsFloat ? "float" : "integer")} form of this operation for {t}");
        return Op("arith." + name, new[] { a, b });
    }

    private Value Un(Value a, string name) => Op("arith." + name, new[] { a });

    private Value Op(string name, Value[] operands, params (string, Attribute)[] attrs)
    {
        var def = Ctx.LookupOp(name) ?? throw new InvalidOperationException($"'{name}' is not registered");
        return B.Create(def, operands, attrs.Length == 0 ? null : B.Attrs(attrs)).Result(0);
    }
}
