namespace AutoSpIR.Dialects.Tensor;

/// <summary>
/// The <c>tensor</c> dialect: value-semantics ops of decoder training. Each op is
/// declared once, in the file named after it (or its family), with its verifier,
/// shape rule, costs and folds.
/// <para>
/// Conventions shared by every op: tensors are row-major; dimension attributes
/// (<c>dim</c>, <c>dims</c>) may be negative and count from the end (<see cref="Dims.Normalize"/>);
/// there is no implicit broadcasting. The reference semantics of a floating-point op
/// compute each result element in double precision from the exact operand values and
/// round it once to the result element type (round to nearest, ties to even).
/// </para>
/// </summary>
public static class TensorDialect
{
    /// <summary>Every op of the dialect, grouped as the files declare them.</summary>
    public static readonly OpDef[] Ops = Elementwise.All
        .Concat(new[]
        {
            Constant.Def, Cast.Def,
            Matmul.Def, Linear.Def, Embedding.Def,
            Broadcast.Def, Reshape.Def, Transpose.Def, Slice.Def, Concat.Def, Shift.Def,
        })
        .Concat(Reduce.All)
        .Concat(new[] { Softmax.Def, RmsNorm.Def, Rope.Def, Attention.Def, CrossEntropy.Def, CountValid.Def })
        // Backward ops: what the gradient rules (OpDef.Gradient) build.
        .Concat(ActivationGrad.All)
        .Concat(new[]
        {
            Pad.Def, ReduceMaxGrad.Def, SoftmaxGrad.Def, RmsNormGrad.Def, RopeGrad.Def,
            AttentionGrad.Def, CrossEntropyGrad.Def, EmbeddingGrad.Def, LinearWgrad.Def,
        })
        .Append(AdamW.Def)   // the optimizer update (dialects/tensor/AdamW.cs)
        .ToArray();

    public static readonly Dialect Dialect = new("tensor", "Value-semantics tensor ops of decoder training.", Ops);
}
