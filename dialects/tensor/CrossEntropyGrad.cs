namespace AutoSpIR.Dialects.Tensor;

/// <summary>
/// <c>%dlogits = tensor.cross_entropy_grad %logits, %labels, %dloss : (tensor&lt;BxSxVxT&gt;, tensor&lt;BxSxi64&gt;, tensor&lt;T&gt;) -&gt; tensor&lt;BxSxVxT&gt;</c>,
/// <c>... {ignore_index = -1, reduction = "sum", shift = 0} ...</c>: the gradient of <c>tensor.cross_entropy</c>
/// with respect to its logits, given the scalar gradient of the loss.
/// <para>
/// Operands: the forward <c>logits</c> [B, S, V] (floating-point T) and <c>labels</c> [B, S]
/// (i32 or i64), and <c>grad_output</c> dloss of type <c>tensor&lt;T&gt;</c> (rank 0).
/// Attributes <c>shift</c> (default 1, 0 &lt;= shift &lt; S), <c>ignore_index</c> (default
/// -100) and <c>reduction</c> (<c>"mean"</c>, the default, or <c>"sum"</c>): the forward op's.
/// Result: the logits' type.
/// </para>
/// <para>
/// Semantics: with the counted positions and targets t of the forward op (position (b, s),
/// s &lt; S - shift, counts when t = labels[b, s + shift] != ignore_index; t must then lie in
/// [0, V)) and N their number, for a counted position
/// <c>dlogits[b, s, c] = coef * (softmax(logits[b, s, :])[c] - (c == t ? 1 : 0))</c>
/// (softmax computed stably, as the forward op) with coef = dloss / N (computed once) for
/// <c>reduction = "mean"</c> and coef = dloss for <c>"sum"</c>, and 0 at every other position,
/// including all of them when N = 0. So the mean's gradient equals the sum's given dloss / N.
/// </para>
/// <para>Costs: 5 * B * S * V FLOPs.</para>
/// <para>
/// Sharding rule: logits, labels and the result share b (Parallel), s (Positional, halo = shift:
/// position s reads labels[s + shift], and the last <c>shift</c> global positions get 0; Parallel
/// when shift = 0) and v
/// (NeedReplication: the softmax over the vocabulary); dloss is a scalar. N, the number of counted
/// positions, is global: a shard of b or s must be given the global N (the sum of the shards'
/// counts), as the forward op's <see cref="PartialCombine.CountedMean"/> (with <c>reduction = "sum"</c>
/// there is no N, and the shards need nothing but their halo):
/// <c>([i, j, k], [i, j], [])-&gt;([i, j, k]) need_replication={k} positional={j} halo={j=1}</c>.
/// </para>
/// </summary>
public static class CrossEntropyGrad
{
    public static readonly OpDef Def = new()
    {
        Name = "tensor.cross_entropy_grad",
        Summary = "dloss / N (or dloss, for a sum) * (softmax(logits) - onehot(target)) at the counted positions: the gradient of cross_entropy.",
        Operands = new[] { "logits", "labels", "grad_output" },
        Attributes = new[]
        {
            new AttrSpec("shift", AttrKind.Integer, Doc: "the forward op's shift; default 1"),
            new AttrSpec("ignore_index", AttrKind.Integer, Doc: "the forward op's ignore_index; default -100"),
            new AttrSpec("reduction", AttrKind.String, Doc: "the forward op's reduction: \"mean\" (default) or \"sum\""),
        },
        Traits = OpTraits.Pure,
        InferResultTypes = Infer,
        Flops = s => 5 * Dims.Numel(s.Tensor(0)!),
        ShardingRule = s => CrossEntropy.Sharding(s, backward: true),
    };

    private static Type[]? Infer(OpState s)
    {
        if (!Dims.RequireFloatTensor(s, 0, out var logits) || !Dims.RequireRank(s, 0, logits, 3)) return null;
        if (!Dims.RequireIndexTensor(s, 1, out var labels) || !Dims.RequireRank(s, 1, labels, 2)) return null;
        if (labels.Dim(0) != logits.Dim(0) || labels.Dim(1) != logits.Dim(1))
            return s.Fail($"operand #1 ('labels') has shape {labels.ShapeString}, expected {Dims.Text(logits.Dim(0))}x{Dims.Text(logits.Dim(1))} (the batch and sequence dimensions of operand #0 ('logits'))");
        if (!s.RequireTensor(2, out var dloss)) return null;
        if (dloss.Rank != 0 || dloss.Element != logits.Element)
            return s.Fail($"operand #2 ('grad_output') has type {dloss}, expected tensor<{logits.Element}> (a scalar of the element type of operand #0 ('logits'))");
        if (!Dims.OptionalInt(s, "shift", 1, out var shift) || !Dims.OptionalInt(s, "ignore_index", -100, out _) || !CrossEntropy.CheckReduction(s)) return null;
        long seq = logits.Dim(1);
        if (shift < 0 || (seq != TensorType.Dynamic && shift >= seq))
            return s.Fail($"'shift' is {shift}, expected 0 <= shift < {Dims.Text(seq)} (the sequence length of operand #0 ('logits'))");
        return new Type[] { logits };
    }
}
