namespace AutoSpIR.Dialects.Tensor;

/// <summary>
/// <c>%c = tensor.constant dense&lt;1.0&gt; : tensor&lt;4xf32&gt;</c>,
/// <c>%c = tensor.constant dense&lt;[[1, 2], [3, 4]]&gt; : tensor&lt;2x2xi32&gt;</c>:
/// a constant tensor.
/// <para>
/// Semantics: the result is the value of the required attribute <c>value</c>, a
/// <see cref="DenseElementsAttr"/> (row-major elements, or one splat element repeated),
/// whose type is the result type. The custom form writes the attribute positionally,
/// without its type, which the result type gives; the generic form is
/// <c>"tensor.constant"() {value = dense&lt;1.0&gt; : tensor&lt;4xf32&gt;} : () -&gt; tensor&lt;4xf32&gt;</c>.
/// </para>
/// <para>Costs: 0 FLOPs; bytes = the result written. Folds to its value attribute.
/// Gradient: none to propagate (no operands).</para>
/// <para>Sharding rule: none (the rule function returns null): with no operands there is nothing to
/// relate, and every rank can materialize whatever slice its users want.</para>
/// </summary>
public static class Constant
{
    public static readonly OpDef Def = new()
    {
        Name = "tensor.constant",
        Summary = "A constant tensor given by a dense elements attribute.",
        PositionalAttribute = "value",
        Attributes = new[] { new AttrSpec("value", AttrKind.Dense, Required: true, Doc: "the elements; its type is the result type") },
        Traits = OpTraits.Pure,
        InferResultTypes = s => s.Attr("value") is DenseElementsAttr d
            ? new Type[] { d.Type }
            : s.Fail(s.Attr("value") is null ? "requires attribute 'value'" : $"attribute 'value' must be dense elements, but got {s.Attr("value")}"),
        Flops = _ => 0,
        Fold = (op, _) => op.GetAttr("value") is DenseElementsAttr d ? FoldResult.Of(d) : null,
        Gradient = _ => Array.Empty<Value?>(),
        ShardingRule = _ => null,
    };

    /// <summary>The value of a tensor.constant op, or null for any other op.</summary>
    public static DenseElementsAttr? ValueOf(Operation? op) =>
        op is { Name: "tensor.constant" } ? op.GetAttr("value") as DenseElementsAttr : null;
}
