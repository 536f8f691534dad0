namespace AutoSpIR.Lowering.Loops.Tensor;

/// <summary>
/// Loop lowerings of the elementwise ops (add sub mul div neg exp log rsqrt silu gelu silu_grad gelu_grad
/// cast constant): one <c>loop.parallel</c> over the flat elements, computed in the element type (f32
/// math for f32; the interpreter computes in double and rounds once, so f32 results differ by rounding).
/// Reading element i before writing it keeps the planner's in-place writes correct. A chain of them, each
/// feeding only the next, is one loop (<see cref="Fused"/>).
/// </summary>
internal static class ElementwiseLowering
{
    /// <summary>
    /// The ops whose result element is a function of their operands' elements at the same index, with that
    /// function: what <c>convert-tensor-to-loops</c> fuses into one loop when one feeds the next.
    /// </summary>
    public static readonly Dictionary<string, Func<LoopBuilder, Value[], Value>> Scalar = new(StringComparer.Ordinal)
    {
        ["tensor.add"] = (b, v) => b.Add(v[0], v[1]),
        ["tensor.sub"] = (b, v) => b.Sub(v[0], v[1]),
        ["tensor.mul"] = (b, v) => b.Mul(v[0], v[1]),
        ["tensor.div"] = (b, v) => b.Div(v[0], v[1]),
        ["tensor.neg"] = (b, v) => b.Neg(v[0]),
        ["tensor.exp"] = (b, v) => b.Exp(v[0]),
        ["tensor.log"] = (b, v) => b.Log(v[0]),
        ["tensor.rsqrt"] = (b, v) => b.Rsqrt(v[0]),
        ["tensor.silu"] = (b, v) => b.Div(v[0], b.Add(One(b, v[0]), b.Exp(b.Neg(v[0])))),
        ["tensor.gelu"] = (b, v) => b.Mul(b.Mul(Const(b, v[0], 0.5), v[0]), b.Add(One(b, v[0]), b.Erf(b.Mul(v[0], Const(b, v[0], 1 / Math.Sqrt(2)))))),
        ["tensor.silu_grad"] = (b, v) => SiluGrad(b, v[0], v[1]),
        ["tensor.gelu_grad"] = (b, v) => GeluGrad(b, v[0], v[1]),
    };

    public static readonly (string Op, OpLowering Lower)[] Rules =
        Scalar.Select(e => (e.Key, Fused(Array.Empty<Operation>(), _ => throw new InvalidOperationException("no fused producers"), e.Value)))
            .Append(("tensor.cast", Unary((b, x) => x, cast: true)))
            .Append(("tensor.constant", (OpLowering)Constant))
            .ToArray();

    /// <summary>
    /// An elementwise op, with the producers in <paramref name="fused"/> computed inside its loop instead of
    /// read from their buffers: out[i] = f(operands[i]), an operand made by a fused producer being that
    /// producer's function of its own operands at i (recursively); <paramref name="bufferOf"/> gives the
    /// buffers of the values the fused producers read. The caller guarantees that those buffers stay live
    /// until the op (the fused producers free none).
    /// </summary>
    public static OpLowering Fused(IReadOnlyCollection<Operation> fused, Func<Value, Value> bufferOf, Func<LoopBuilder, Value[], Value> f) =>
        (b, op, ins, outs) =>
        {
            var y = b.Flat(outs[0]);
            var buffers = new Dictionary<Value, Value>();
            for (int k = 0; k < op.NumOperands; k++)
                if (op.Operand(k).DefiningOp is not { } producer || !fused.Contains(producer)) buffers.TryAdd(op.Operand(k), b.Flat(ins[k]));
            foreach (var d in fused)
                foreach (var v in d.Operands)
                    if ((v.DefiningOp is not { } p || !fused.Contains(p)) && !buffers.ContainsKey(v)) buffers[v] = b.Flat(bufferOf(v));
            b.Parallel(new[] { ((TensorType)y.Type).NumElements }, i =>
            {
                var memo = new Dictionary<Value, Value>();
                Value Element(Value v)
                {
                    if (memo.TryGetValue(v, out var x)) return x;
                    x = v.DefiningOp is { } d && fused.Contains(d)
                        ? Scalar[d.Name](b, d.Operands.Select(Element).ToArray())
                        : b.Load(buffers[v], i[0]);
                    return memo[v] = x;
                }
                b.Store(f(b, op.Operands.Select(Element).ToArray()), y, i[0]);
            });
        };

    /// <summary>An elementwise lowering of a one-operand op: out[i] = f(in[i]).</summary>
    public static OpLowering Unary(Func<LoopBuilder, Value, Value> f, bool cast = false) => (b, op, ins, outs) =>
    {
        var (x, y) = (b.Flat(ins[0]), b.Flat(outs[0]));
        var to = ((TensorType)y.Type).Element;
        b.Parallel(new[] { ((TensorType)y.Type).NumElements }, i =>
        {
            var v = b.Load(x, i[0]);
            b.Store(cast ? CastElement(b, v, to) : f(b, v), y, i[0]);
        });
    };

    /// <summary>dx = dy s (1 + x (1 - s)), s = 1 / (1 + e^-x).</summary>
    private static Value SiluGrad(LoopBuilder b, Value x, Value dy)
    {
        var one = One(b, x);
        var s = b.Div(one, b.Add(one, b.Exp(b.Neg(x))));
        return b.Mul(b.Mul(dy, s), b.Add(one, b.Mul(x, b.Sub(one, s))));
    }

    /// <summary>dx = dy (Phi(x) + x phi(x)), Phi(x) = (1 + erf(x / sqrt 2)) / 2, phi(x) = e^(-x^2/2) / sqrt(2 pi).</summary>
    private static Value GeluGrad(LoopBuilder b, Value x, Value dy)
    {
        var phiUpper = b.Mul(Const(b, x, 0.5), b.Add(One(b, x), b.Erf(b.Mul(x, Const(b, x, 1 / Math.Sqrt(2))))));
        var phi = b.Mul(b.Exp(b.Mul(b.Mul(x, x), Const(b, x, -0.5))), Const(b, x, 1 / Math.Sqrt(2 * Math.PI)));
        return b.Mul(dy, b.Add(phiUpper, b.Mul(x, phi)));
    }

    /// <summary>tensor.cast per element: to i1 is x != 0; the rest is <c>arith.cast</c>.</summary>
    private static Value CastElement(LoopBuilder b, Value v, ScalarType to)
    {
        if (to.Kind != ScalarKind.I1) return b.Cast(v, to);
        var from = (ScalarType)v.Type;
        return b.Cmp(from.IsFloat ? "one" : "ne", v, b.C(0, from));
    }

    /// <summary>tensor.constant: a splat fills with one loop; other constants are stored element by element.</summary>
    private static void Constant(LoopBuilder b, Operation op, Value[] ins, Value[] outs)
    {
        var dense = (DenseElementsAttr)op.GetAttr("value")!;
        var y = b.Flat(outs[0]);
        var t = ((TensorType)y.Type).Element;
        if (dense.IsSplat)
        {
            var v = b.C(dense.GetDouble(0), t);
            b.Parallel(new[] { ((TensorType)y.Type).NumElements }, i => b.Store(v, y, i[0]));
            return;
        }
        for (int i = 0; i < dense.Count; i++) b.Store(b.C(dense.GetDouble(i), t), y, b.I(i));
    }

    private static Value One(LoopBuilder b, Value like) => Const(b, like, 1);

    private static Value Const(LoopBuilder b, Value like, double v) => b.C(v, (ScalarType)like.Type);
}
