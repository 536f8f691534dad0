namespace AutoSpIR.Lowering.Loops.Tensor;

/// <summary>
/// Loop lowerings of the elementwise ops (add sub mul div neg exp log rsqrt silu gelu silu_grad gelu_grad
/// cast constant): one <c>loop.parallel</c> over the flat elements, computed in the element type (f32
/// math for f32; the interpreter computes in double and rounds once, so f32 results differ by rounding).
/// Reading element i before writing it keeps the planner's in-place writes correct.
/// </summary>
internal static class ElementwiseLowering
{
    public static readonly (string Op, OpLowering Lower)[] Rules =
    {
        ("tensor.add", Binary((b, x, y) => b.Add(x, y))),
        ("tensor.sub", Binary((b, x, y) => b.Sub(x, y))),
        ("tensor.mul", Binary((b, x, y) => b.Mul(x, y))),
        ("tensor.div", Binary((b, x, y) => b.Div(x, y))),
        ("tensor.neg", Unary((b, x) => b.Neg(x))),
        ("tensor.exp", Unary((b, x) => b.Exp(x))),
        ("tensor.log", Unary((b, x) => b.Log(x))),
        ("tensor.rsqrt", Unary((b, x) => b.Rsqrt(x))),
        ("tensor.silu", Unary((b, x) => b.Div(x, b.Add(One(b, x), b.Exp(b.Neg(x)))))),
        ("tensor.gelu", Unary((b, x) => b.Mul(b.Mul(Const(b, x, 0.5), x), b.Add(One(b, x), b.Erf(b.Mul(x, Const(b, x, 1 / Math.Sqrt(2)))))))),
        ("tensor.silu_grad", Binary(SiluGrad)),
        ("tensor.gelu_grad", Binary(GeluGrad)),
        ("tensor.cast", Unary((b, x) => x, cast: true)),
        ("tensor.constant", Constant),
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

    /// <summary>An elementwise lowering of a two-operand op: out[i] = f(a[i], b[i]).</summary>
    public static OpLowering Binary(Func<LoopBuilder, Value, Value, Value> f) => (b, op, ins, outs) =>
    {
        var (x, z, y) = (b.Flat(ins[0]), b.Flat(ins[1]), b.Flat(outs[0]));
        b.Parallel(new[] { ((TensorType)y.Type).NumElements }, i => b.Store(f(b, b.Load(x, i[0]), b.Load(z, i[0])), y, i[0]));
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
