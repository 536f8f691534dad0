namespace AutoSpIR.Dialects.Tensor;

/// <summary>
/// <c>%n = tensor.count_valid %labels {ignore_index = -100} : tensor&lt;2x8xi64&gt; -&gt; tensor&lt;f32&gt;</c>:
/// the number of labels that are not <c>ignore_index</c>, as a float scalar (the divisor of a mean
/// token loss that is computed as a sum).
/// <para>
/// Operand: <c>labels</c>, a tensor of rank 1 or more with an integer element type. Attribute:
/// <c>ignore_index</c> (integer, optional, default -100). Result: a rank-0 tensor of a
/// floating-point type (f64, f32, bf16 or f16), written in the IR (there is no shape rule: the
/// operand does not imply it).
/// </para>
/// <para>
/// Semantics: <c>n = #{ i... : labels[i...] != ignore_index }</c>, converted to the result type
/// (rounded once: exact up to 2^53 in f64, 2^24 in f32, 2^11 in f16, 2^8 in bf16). With
/// <c>cross_entropy {shift = 0}</c> over labels already shifted, count_valid of those labels is
/// that loss's count N, so <c>cross_entropy {reduction = "sum"} / count_valid</c> is its mean.
/// </para>
/// <para>Costs: 0 FLOPs (integer compares); bytes = the labels read + the result written.</para>
/// <para>Gradient: none (the labels are integers: the count is a constant of the differentiable values).</para>
/// <para>Sharding rule: every dimension is a Reduction factor, combined by sum (each shard counts its
/// labels): <c>([i, j])-&gt;([]) reduction={i, j}</c>.</para>
/// </summary>
public static class CountValid
{
    public static readonly OpDef Def = new()
    {
        Name = "tensor.count_valid",
        Summary = "The number of labels != ignore_index, as a float scalar.",
        Operands = new[] { "labels" },
        Attributes = new[]
        {
            new AttrSpec("ignore_index", AttrKind.Integer, Doc: "labels with this value are not counted; default -100"),
        },
        Traits = OpTraits.Pure,
        InferResultTypes = null,
        Verify = Check,
        Flops = _ => 0,
        ShardingRule = Sharding,
        Gradient = _ => new Value?[] { null },
    };

    /// <summary>The <c>ignore_index</c> of a count_valid op (default -100).</summary>
    public static long IgnoreIndexOf(Operation op) => op.GetInt("ignore_index") ?? -100;

    private static ShardingRule? Sharding(OpState s)
    {
        if (s.Tensor(0) is not { } labels || s.ResultTypes.Count != 1) return null;
        var b = new ShardingRuleBuilder();
        return b.Operand(b.FactorsOf(labels, FactorKind.Reduction)).Result(Array.Empty<int[]>()).Build();
    }

    private static bool Check(Operation op, OpState s)
    {
        if (!s.RequireTensor(0, out var labels) || !Dims.RequireMinRank(s, 0, labels, 1)) return false;
        if (!labels.Element.IsInteger)
            return s.Error($"operand #0 ('labels') must have an integer element type, but has {labels.Element}");
        if (!Dims.OptionalInt(s, "ignore_index", -100, out _)) return false;
        if (s.ResultTypes[0] is not TensorType { Rank: 0, Element.IsFloat: true })
            return s.Error($"result has type {s.ResultTypes[0]}, expected a rank-0 tensor of a floating-point type (tensor<f32>, ...)");
        return true;
    }
}
