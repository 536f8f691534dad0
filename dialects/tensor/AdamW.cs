namespace AutoSpIR.Dialects.Tensor;

/// <summary>
/// <c>%p2, %m2, %v2 = tensor.adamw %p, %g, %m, %v {beta1 = 0.9, beta2 = 0.999, eps = 1.0e-08, lr = 1.0e-03, step = 1, weight_decay = 0.01} : tensor&lt;64x64xf32&gt;</c>:
/// one AdamW step for one parameter, as <c>torch.optim.AdamW</c> (amsgrad = False,
/// maximize = False) computes it.
/// <para>
/// Operands: <c>param</c>, <c>grad</c>, <c>exp_avg</c> (m), <c>exp_avg_sq</c> (v), all of one
/// tensor type with a floating-point element type (any shape: the update is elementwise).
/// Attributes (all required): <c>lr</c>, <c>beta1</c>, <c>beta2</c>, <c>eps</c>,
/// <c>weight_decay</c> (numbers; lr, eps, weight_decay &gt;= 0, 0 &lt;= beta &lt; 1) and
/// <c>step</c> (integer &gt;= 1: the step number after this update, used for bias correction;
/// PyTorch's <c>state["step"]</c> after its increment). Results: the new param, m and v, of the
/// operand type.
/// </para>
/// <para>
/// Semantics, per element, in double precision, each result rounded once to T (decoupled
/// weight decay: the decay multiplies the parameter, it is not added to the gradient):
/// <code>
/// p1  = p * (1 - lr * weight_decay)
/// m'  = beta1 * m + (1 - beta1) * g
/// v'  = beta2 * v + (1 - beta2) * g * g
/// p'  = p1 - (lr / (1 - beta1^step)) * m' / (sqrt(v') / sqrt(1 - beta2^step) + eps)
/// </code>
/// </para>
/// <para>Costs: 15 * numel(param) FLOPs (decay 2, m 3, v 4, denominator 3, update 3).</para>
/// <para>Sharding rule: elementwise: every dimension is one Parallel factor shared by the four
/// operands and the three results, so the update runs unchanged on any shard of the operands
/// (ZeRO runs it on flattened 1/G shards).</para>
/// <para>Gradient: none. The update is the end of a training step, after the gradients were taken;
/// nothing differentiates through it (autodiff fails on it rather than guessing).</para>
/// </summary>
public static class AdamW
{
    public static readonly OpDef Def = new()
    {
        Name = "tensor.adamw",
        Summary = "One AdamW step (torch.optim.AdamW, decoupled weight decay): (param, grad, m, v) -> (param, m, v).",
        Operands = new[] { "param", "grad", "exp_avg", "exp_avg_sq" },
        NumResults = 3,
        Attributes = new[]
        {
            new AttrSpec("lr", AttrKind.Float, Required: true, Doc: "learning rate, >= 0"),
            new AttrSpec("beta1", AttrKind.Float, Required: true, Doc: "decay of the first moment, in [0, 1)"),
            new AttrSpec("beta2", AttrKind.Float, Required: true, Doc: "decay of the second moment, in [0, 1)"),
            new AttrSpec("eps", AttrKind.Float, Required: true, Doc: "added to the bias-corrected sqrt(v), >= 0"),
            new AttrSpec("weight_decay", AttrKind.Float, Required: true, Doc: "decoupled weight decay, >= 0"),
            new AttrSpec("step", AttrKind.Integer, Required: true, Doc: "the step number after this update (>= 1), for bias correction"),
        },
        Traits = OpTraits.Pure | OpTraits.SameOperandsAndResultType,
        InferResultTypes = Infer,
        Flops = s => 15 * (s.Tensor(0) is { } t ? Dims.Numel(t) : 0),
        ShardingRule = Sharding,
    };

    /// <summary>The hyperparameters of one op, read from its attributes.</summary>
    public readonly record struct Hyper(double Lr, double Beta1, double Beta2, double Eps, double WeightDecay, long Step);

    public static Hyper Read(Operation op) => new(
        op.GetFloat("lr") ?? 0, op.GetFloat("beta1") ?? 0, op.GetFloat("beta2") ?? 0,
        op.GetFloat("eps") ?? 0, op.GetFloat("weight_decay") ?? 0, op.GetInt("step") ?? 1);

    /// <summary>The update of one element (the reference semantics): returns (p', m', v').</summary>
    public static (double P, double M, double V) Update(in Hyper h, double p, double g, double m, double v)
    {
        double bc1 = 1 - Math.Pow(h.Beta1, h.Step);
        double bc2 = 1 - Math.Pow(h.Beta2, h.Step);
        double p1 = p * (1 - h.Lr * h.WeightDecay);
        double m2 = h.Beta1 * m + (1 - h.Beta1) * g;
        double v2 = h.Beta2 * v + (1 - h.Beta2) * g * g;
        double denom = Math.Sqrt(v2) / Math.Sqrt(bc2) + h.Eps;
        return (p1 - h.Lr / bc1 * m2 / denom, m2, v2);
    }

    // ([i, j], [i, j], [i, j], [i, j]) -> ([i, j], [i, j], [i, j]): every dimension one Parallel factor.
    private static ShardingRule? Sharding(OpState s)
    {
        if (s.Tensor(0) is not { } t || s.OperandTypes.Count != 4 || s.ResultTypes.Count != 3) return null;
        var b = new ShardingRuleBuilder();
        var fs = b.FactorsOf(t);
        for (int i = 0; i < 4; i++) b.Operand(fs);
        for (int i = 0; i < 3; i++) b.Result(fs);
        return b.Build();
    }

    private static Type[]? Infer(OpState s)
    {
        if (!Dims.RequireFloatTensor(s, 0, out var p)) return null;
        for (int i = 1; i < 4; i++)
        {
            if (!s.RequireTensor(i, out var t)) return null;
            if (!ReferenceEquals(t, p))
                return s.Fail($"{Dims.Operand(s, i)} has type {t}, expected {p} (the type of operand #0 ('param'))");
        }
        foreach (var name in new[] { "lr", "eps", "weight_decay" })
        {
            if (!Dims.RequireFloat(s, name, out var x)) return null;
            if (!(x >= 0) || double.IsInfinity(x)) return s.Fail($"'{name}' must be a finite number >= 0, but is {Attribute.FormatFloat(x)}");
        }
        foreach (var name in new[] { "beta1", "beta2" })
        {
            if (!Dims.RequireFloat(s, name, out var b)) return null;
            if (!(b >= 0 && b < 1)) return s.Fail($"'{name}' must be in [0, 1), but is {Attribute.FormatFloat(b)}");
        }
        if (!Dims.RequireInt(s, "step", out long step)) return null;
        if (step < 1) return s.Fail($"'step' must be >= 1 (the step number after this update), but is {step}");
        return new Type[] { p, p, p };
    }
}
