namespace AutoSpIR.Dialects.Tensor;

/// <summary>
/// <c>%loss = tensor.cross_entropy %logits, %labels : (tensor&lt;BxSxVxT&gt;, tensor&lt;BxSxi64&gt;) -&gt; tensor&lt;T&gt;</c>,
/// <c>... {ignore_index = -1, reduction = "sum", shift = 0} ...</c>: the mean (or summed) token
/// cross-entropy of a causal language model (Hugging Face <c>ForCausalLMLoss</c>).
/// <para>
/// Operands: <c>logits</c> [B, S, V] with a floating-point element type T and <c>labels</c>
/// [B, S] of i32 or i64, given unshifted. Attributes: <c>shift</c> (integer, optional,
/// default 1, 0 &lt;= shift &lt; S); <c>ignore_index</c> (integer, optional, default -100);
/// <c>reduction</c> (string, optional): <c>"mean"</c> (the default) or <c>"sum"</c>.
/// Result: <c>tensor&lt;T&gt;</c> (rank 0).
/// </para>
/// <para>
/// Semantics: position (b, s) with s &lt; S - shift predicts target t = labels[b, s + shift];
/// it counts when t != ignore_index, and then t must lie in [0, V) (otherwise the program is
/// in error). With <c>logsoftmax(z)[t] = z[t] - m - log(sum_c exp(z[c] - m))</c>,
/// m = max(z), the sum is <c>sum over counted (b, s) of -logsoftmax(logits[b, s, :])[t]</c>, added
/// in row-major order of (b, s). With <c>reduction = "sum"</c> the result is that sum (0 when none
/// counts, as PyTorch's sum); with <c>"mean"</c> it is the same sum divided once by the number of
/// counted positions (NaN when none counts, as PyTorch's mean), so that in f64 the mean equals
/// <c>cross_entropy {reduction = "sum"} / count</c> exactly. Shifting the labels first gives the
/// same result: <c>cross_entropy {shift = k}(z, l) = cross_entropy {shift = 0}(z, tensor.shift(l,
/// dim = 1, amount = k, fill = ignore_index))</c>, bit for bit.
/// </para>
/// <para>Costs: 5 * B * S * V FLOPs.</para>
/// <para>Gradient: the logits' is <c>tensor.cross_entropy_grad</c>; the labels get none.</para>
/// <para>
/// Sharding rule: logits = [b, s, v], labels = [b, s], the result [] (a scalar). b and s are
/// Reduction factors: the loss is a mean over the counted positions, so sharded, each shard holds
/// its sum of losses and its count, combined as <see cref="PartialCombine.CountedMean"/> (the sum of
/// the sums over the sum of the counts). s also has positional semantics, from the shift: position
/// s reads labels[s + shift], so a sequence shard needs the first <c>shift</c> labels of the next
/// shard (halo = shift), and the last shard drops its last <c>shift</c> positions (it must know it
/// holds the global end). v is NeedReplication (the log-softmax runs over the vocabulary):
/// <c>([i, j, k], [i, j])-&gt;([]) reduction={i, j} need_replication={k} halo={j=1} combine=counted_mean</c>.
/// With <c>reduction = "sum"</c> the shards' partial losses simply add (combine by sum); the halo
/// stays = shift.
/// </para>
/// </summary>
public static class CrossEntropy
{
    public static readonly OpDef Def = new()
    {
        Name = "tensor.cross_entropy",
        Summary = "Mean (or summed) next-token cross-entropy of logits against (unshifted) labels.",
        Operands = new[] { "logits", "labels" },
        Attributes = new[]
        {
            new AttrSpec("shift", AttrKind.Integer, Doc: "position s predicts labels[s + shift]; default 1"),
            new AttrSpec("ignore_index", AttrKind.Integer, Doc: "targets with this value are not counted; default -100"),
            new AttrSpec("reduction", AttrKind.String, Doc: "\"mean\" (default) or \"sum\" of the counted positions' losses"),
        },
        Traits = OpTraits.Pure,
        InferResultTypes = Infer,
        Flops = s => 5 * Dims.Numel(s.Tensor(0)!),
        ShardingRule = s => Sharding(s, backward: false),
        Gradient = g => new Value?[]
        {
            Grad.Op(g.Builder, CrossEntropyGrad.Def, new[] { g.Operand(0), g.Operand(1), g.Grad()! },
                Grad.CopyAttrs(g.Op, "shift", "ignore_index", "reduction")),
            null,
        },
    };

    /// <summary>The rule of cross_entropy and (<paramref name="backward"/>) cross_entropy_grad.</summary>
    internal static ShardingRule? Sharding(OpState s, bool backward)
    {
        if (s.Tensor(0) is not { Rank: 3 } logits || s.Tensor(1) is not { Rank: 2 }) return null;
        long shift = s.Int("shift") ?? 1;
        if (shift < 0) return null;
        var fb = new ShardingRuleBuilder();
        int b = fb.Factor(logits.Dim(0), backward ? FactorKind.Parallel : FactorKind.Reduction);
        // Backward with shift 0: every position reads its own label, nothing depends on where it is.
        var seqKind = !backward ? FactorKind.Reduction : shift > 0 ? FactorKind.Positional : FactorKind.Parallel;
        int sq = fb.Factor(logits.Dim(1), seqKind, halo: shift);
        int v = fb.Factor(logits.Dim(2), FactorKind.NeedReplication);
        fb.Operand(b, sq, v).Operand(b, sq);
        if (!backward) return fb.Result(Array.Empty<int[]>()).Build(s.Attr("reduction") is StringAttr { Value: "sum" } ? PartialCombine.Sum : PartialCombine.CountedMean);
        if (s.Tensor(2) is not { Rank: 0 }) return null;
        return fb.Operand(Array.Empty<int[]>()).Result(b, sq, v).Build();
    }

    /// <summary>The <c>shift</c> of a cross_entropy op (default 1).</summary>
    public static long ShiftOf(Operation op) => op.GetInt("shift") ?? 1;

    /// <summary>The <c>ignore_index</c> of a cross_entropy op (default -100).</summary>
    public static long IgnoreIndexOf(Operation op) => op.GetInt("ignore_index") ?? -100;

    /// <summary>True when a cross_entropy or cross_entropy_grad op sums the losses (<c>reduction = "sum"</c>), false for the mean.</summary>
    public static bool IsSum(Operation op) => op.GetString("reduction") == "sum";

    /// <summary>The <c>reduction</c> check of cross_entropy and cross_entropy_grad: absent, "mean" or "sum".</summary>
    internal static bool CheckReduction(OpState s)
    {
        switch (s.Attr("reduction"))
        {
            case null or StringAttr { Value: "mean" or "sum" }:
                return true;
            case StringAttr other:
                return s.Error($"'reduction' is \"{other.Value}\", expected \"mean\" or \"sum\"");
            case var other:
                return s.Error($"attribute 'reduction' must be a string, but got {other}");
        }
    }

    private static Type[]? Infer(OpState s)
    {
        if (!Dims.RequireFloatTensor(s, 0, out var logits) || !Dims.RequireRank(s, 0, logits, 3)) return null;
        if (!Dims.RequireIndexTensor(s, 1, out var labels) || !Dims.RequireRank(s, 1, labels, 2)) return null;
        if (labels.Dim(0) != logits.Dim(0) || labels.Dim(1) != logits.Dim(1))
            return s.Fail($"operand #1 ('labels') has shape {labels.ShapeString}, expected {Dims.Text(logits.Dim(0))}x{Dims.Text(logits.Dim(1))} (the batch and sequence dimensions of operand #0 ('logits'))");
        if (!Dims.OptionalInt(s, "shift", 1, out var shift) || !Dims.OptionalInt(s, "ignore_index", -100, out _) || !CheckReduction(s)) return null;
        long seq = logits.Dim(1);
        if (shift < 0 || (seq != TensorType.Dynamic && shift >= seq))
            return s.Fail($"'shift' is {shift}, expected 0 <= shift < {Dims.Text(seq)} (the sequence length of operand #0 ('logits'))");
        return new Type[] { s.Context.Tensor(ReadOnlySpan<long>.Empty, logits.Element) };
    }
}
