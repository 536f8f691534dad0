using AutoSpIR.IR;

namespace AutoSpIR.Dialects.Tensor;

/// <summary>
/// Elementwise arithmetic and activations. Operands and result share one type
/// (no implicit broadcasting: use <c>tensor.broadcast</c>), so the custom form
/// prints it once: <c>%c = tensor.add %a, %b : tensor&lt;4x8xf32&gt;</c>.
/// Sharding rule (<see cref="ShardingRules.Pointwise"/>): every dimension is one Parallel
/// factor shared by the operands and the result.
/// </summary>
public static class Elementwise
{
    // Binary ops. FLOPs per element: 1.
    // Gradients, with g = d(result): add (g, g); sub (g, -g); mul (g b, g a); div (g / b, -(g / b) y).
    // add, sub and mul also take integer tensors (exact, wrapping two's-complement arithmetic of
    // the element width): position offsets of sequence shards are computed with them.
    public static readonly OpDef Add = Binary("tensor.add", "a + b", commutative: true, FoldAdd,
        g => new Value?[] { g.Grad(), g.Grad() });
    public static readonly OpDef Sub = Binary("tensor.sub", "a - b", commutative: false, FoldSub,
        g => new Value?[] { g.Grad(), Grad.Neg(g.Builder, g.Grad()!) });
    public static readonly OpDef Mul = Binary("tensor.mul", "a * b", commutative: true, FoldMul,
        g => new Value?[] { Grad.Mul(g.Builder, g.Grad()!, g.Operand(1)), Grad.Mul(g.Builder, g.Grad()!, g.Operand(0)) });
    public static readonly OpDef Div = Binary("tensor.div", "a / b", commutative: false, FoldDiv, integers: false, g =>
    {
        var da = Grad.Div(g.Builder, g.Grad()!, g.Operand(1));
        return new Value?[] { da, Grad.Neg(g.Builder, Grad.Mul(g.Builder, da, g.Result())) };
    });

    // Unary ops with their FLOPs per element (transcendentals count as a few FLOPs, as roofline models do),
    // and their gradients with g = d(result), y = result: neg -g; exp g y; log g / x; rsqrt -0.5 g y / x;
    // silu silu_grad(x, g); gelu gelu_grad(x, g).
    public static readonly OpDef Neg = Unary("tensor.neg", "-x", 1, FoldNeg,
        g => new Value?[] { Grad.Neg(g.Builder, g.Grad()!) });
    public static readonly OpDef Exp = Unary("tensor.exp", "e^x", 4, Math.Exp,
        g => new Value?[] { Grad.Mul(g.Builder, g.Grad()!, g.Result()) });
    public static readonly OpDef Log = Unary("tensor.log", "ln x", 4, Math.Log,
        g => new Value?[] { Grad.Div(g.Builder, g.Grad()!, g.Operand(0)) });
    public static readonly OpDef Rsqrt = Unary("tensor.rsqrt", "1 / sqrt(x)", 2, x => 1.0 / Math.Sqrt(x),
        g => new Value?[] { Grad.Scale(g.Builder, Grad.Div(g.Builder, Grad.Mul(g.Builder, g.Grad()!, g.Result()), g.Operand(0)), -0.5) });
    /// <summary>silu(x) = x * sigmoid(x) = x / (1 + e^-x).</summary>
    public static readonly OpDef Silu = Unary("tensor.silu", "x * sigmoid(x)", 6, x => x / (1.0 + Math.Exp(-x)),
        g => new Value?[] { Grad.Op(g.Builder, ActivationGrad.SiluGrad, g.Operand(0), g.Grad()!) });
    /// <summary>gelu(x) = 0.5 x (1 + erf(x / sqrt 2)), the exact form (PyTorch's default).</summary>
    public static readonly OpDef Gelu = Unary("tensor.gelu", "0.5 x (1 + erf(x / sqrt 2))", 8, x => 0.5 * x * (1.0 + Erf(x / Math.Sqrt(2.0))),
        g => new Value?[] { Grad.Op(g.Builder, ActivationGrad.GeluGrad, g.Operand(0), g.Grad()!) });

    public static readonly OpDef[] All = { Add, Sub, Mul, Div, Neg, Exp, Log, Rsqrt, Silu, Gelu };

    private static OpDef Binary(string name, string law, bool commutative, Func<Operation, Attribute?[], FoldResult?> fold,
        Func<GradientContext, Value?[]> gradient) => Binary(name, law, commutative, fold, integers: true, gradient);

    private static OpDef Binary(string name, string law, bool commutative, Func<Operation, Attribute?[], FoldResult?> fold,
        bool integers, Func<GradientContext, Value?[]> gradient) => new()
    {
        Name = name,
        Summary = $"Elementwise {law}.",
        Operands = new[] { "lhs", "rhs" },
        Traits = OpTraits.Pure | OpTraits.SameOperandsAndResultType | (commutative ? OpTraits.Commutative : 0),
        InferResultTypes = s =>
        {
            if (!s.RequireTensor(0, out var a) || !s.RequireTensor(1, out var b)) return null;
            if (!ReferenceEquals(a, b))
                return s.Fail($"operands must have the same type, but got {a} and {b} (broadcast explicitly with tensor.broadcast)");
            if (!a.Element.IsFloat && !(integers && a.Element.IsInteger))
                return s.Fail($"operands must have a floating-point{(integers ? " or integer" : "")} element type, but got {a.Element}");
            return new Type[] { a };
        },
        Flops = s => Math.Max(0, s.ResultTensor(0).NumElements),
        Fold = fold,
        Gradient = gradient,
        ShardingRule = ShardingRules.Pointwise,
    };

    private static OpDef Unary(string name, string law, int flopsPerElement, Func<Operation, Attribute?[], FoldResult?>? fold,
        Func<GradientContext, Value?[]> gradient) => new()
    {
        Name = name,
        Summary = $"Elementwise {law}.",
        Operands = new[] { "input" },
        Traits = OpTraits.Pure | OpTraits.SameOperandsAndResultType,
        InferResultTypes = s =>
        {
            if (!s.RequireTensor(0, out var a)) return null;
            if (!a.Element.IsFloat) return s.Fail($"operand must have a floating-point element type, but got {a.Element}");
            return new Type[] { a };
        },
        Flops = s => flopsPerElement * Math.Max(0, s.ResultTensor(0).NumElements),
        Fold = fold,
        Gradient = gradient,
        ShardingRule = ShardingRules.Pointwise,
    };

    private static OpDef Unary(string name, string law, int flopsPerElement, Func<double, double> f, Func<GradientContext, Value?[]> gradient) =>
        Unary(name, law, flopsPerElement, (op, c) => c[0] is DenseElementsAttr d ? FoldResult.Of(Constants.Map(op, d, f)) : null, gradient);

    // ------------------------------------------------------------------ folds

    // add(c0, c1) -> c0 + c1;  add(x, 0) -> x;  add(0, x) -> x
    private static FoldResult? FoldAdd(Operation op, Attribute?[] c) =>
        Constants.FoldBinary(op, c, (a, b) => a + b)
        ?? (Constants.IsSplat(c[1], 0) ? FoldResult.Of(op.Operand(0)) : (FoldResult?)null)
        ?? (Constants.IsSplat(c[0], 0) ? FoldResult.Of(op.Operand(1)) : (FoldResult?)null);

    // sub(c0, c1) -> c0 - c1;  sub(x, 0) -> x
    private static FoldResult? FoldSub(Operation op, Attribute?[] c) =>
        Constants.FoldBinary(op, c, (a, b) => a - b)
        ?? (Constants.IsSplat(c[1], 0) ? FoldResult.Of(op.Operand(0)) : (FoldResult?)null);

    // mul(c0, c1) -> c0 * c1;  mul(x, 1) -> x;  mul(1, x) -> x
    private static FoldResult? FoldMul(Operation op, Attribute?[] c) =>
        Constants.FoldBinary(op, c, (a, b) => a * b)
        ?? (Constants.IsSplat(c[1], 1) ? FoldResult.Of(op.Operand(0)) : (FoldResult?)null)
        ?? (Constants.IsSplat(c[0], 1) ? FoldResult.Of(op.Operand(1)) : (FoldResult?)null);

    // div(c0, c1) -> c0 / c1;  div(x, 1) -> x
    private static FoldResult? FoldDiv(Operation op, Attribute?[] c) =>
        Constants.FoldBinary(op, c, (a, b) => a / b)
        ?? (Constants.IsSplat(c[1], 1) ? FoldResult.Of(op.Operand(0)) : (FoldResult?)null);

    // neg(c) -> -c;  neg(neg(x)) -> x
    private static FoldResult? FoldNeg(Operation op, Attribute?[] c)
    {
        if (c[0] is DenseElementsAttr d) return FoldResult.Of(Constants.Map(op, d, x => -x));
        if (op.Operand(0).DefiningOp is { Name: "tensor.neg" } inner) return FoldResult.Of(inner.Operand(0));
        return null;
    }

    /// <summary>The error function, Abramowitz-Stegun 7.1.26 refined; |error| below 1.5e-7 (folding only).</summary>
    internal static double Erf(double x)
    {
        double t = 1.0 / (1.0 + 0.3275911 * Math.Abs(x));
        double y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.Exp(-x * x);
        return x >= 0 ? y : -y;
    }
}
