using AutoSpIR.Dialects.Dist;
using AutoSpIR.Dialects.Tensor;

namespace AutoSpIR.Passes.AutoSp;

/// <summary>
/// The Ulysses lowering of one attention (and of its gradient) in the per-rank view: the
/// building block the `ulysses` pass applies to every attention of a sequence-sharded
/// program. Before and after, q, k, v and the output are sharded along the sequence
/// (rank p holds rows [p*s, (p+1)*s) of S = P*s, all heads); in between, an all-to-all
/// trades sequence for heads, so each rank runs the whole sequence for Hq/P heads:
/// <code>
///   q [B, s, Hq, D]  --all_to_all(split heads, concat seq)-->  [B, S, Hq/P, D]
///   k, v [B, s, Hkv, D]  (Hkv &lt; P: each KV head first repeated P/Hkv times, so that
///                         every rank receives exactly the one KV head its queries use)
///   attention (causal masks stay right: each rank sees every position)
///   o [B, S, Hq/P, Dv]  --all_to_all(split seq, concat heads)-->  [B, s, Hq, Dv]
/// </code>
/// Query heads are split evenly (Hq % P == 0); KV heads either split evenly (Hkv % P == 0)
/// or are repeated (P % Hkv == 0), never expanded to all Hq query heads. The gradient runs
/// the same exchanges around tensor.attention_grad and sums the gradients of repeated KV
/// heads back onto their original head.
/// </summary>
public static class UlyssesAttention
{
    /// <summary>Why this attention cannot be lowered over <paramref name="p"/> ranks, or null when it can.</summary>
    public static string? Unsupported(long hq, long hkv, long p)
    {
        if (hq % p != 0)
            return $"{hq} query heads do not split evenly over {p} ranks (uneven head splits are not supported yet)";
        if (hkv % p != 0 && p % hkv != 0)
            return $"{hkv} key/value heads neither split evenly over {p} ranks nor divide it";
        return null;
    }

    /// <summary>Emits the per-rank attention; <paramref name="q"/>, <paramref name="k"/>, <paramref name="v"/> are local sequence shards.</summary>
    public static Value Forward(Builder b, Group group, Value q, Value k, Value v, DictionaryAttr attentionAttrs)
    {
        var (qh, kh, vh) = ToHeads(b, group, q, k, v);
        var oh = b.Create(Attention.Def, new[] { qh, kh, vh }, attentionAttrs).Result(0);
        return AllToAll.Create(b, oh, group, splitDim: 1, concatDim: 2);
    }

    /// <summary>Emits the per-rank gradient: (dq, dk, dv) as local sequence shards, like q, k, v.</summary>
    public static (Value Dq, Value Dk, Value Dv) Backward(Builder b, Group group, Value q, Value k, Value v, Value dOut, DictionaryAttr attentionAttrs)
    {
        var (qh, kh, vh) = ToHeads(b, group, q, k, v);
        var doh = AllToAll.Create(b, dOut, group, splitDim: 2, concatDim: 1);
        var grads = b.Create(AttentionGrad.Def, new[] { qh, kh, vh, doh }, attentionAttrs);
        var dq = AllToAll.Create(b, grads.Result(0), group, splitDim: 1, concatDim: 2);
        var dk = FromHeadsSummingRepeats(b, group, grads.Result(1), (TensorType)k.Type);
        var dv = FromHeadsSummingRepeats(b, group, grads.Result(2), (TensorType)v.Type);
        return (dq, dk, dv);
    }

    private static (Value Q, Value K, Value V) ToHeads(Builder b, Group group, Value q, Value k, Value v)
    {
        var qt = (TensorType)q.Type;
        var kt = (TensorType)k.Type;
        if (Unsupported(qt.Dim(2), kt.Dim(2), group.Size) is { } why)
            throw new InvalidOperationException(why);
        var qh = AllToAll.Create(b, q, group, splitDim: 2, concatDim: 1);
        var kh = AllToAll.Create(b, RepeatHeads(b, k, group.Size), group, splitDim: 2, concatDim: 1);
        var vh = AllToAll.Create(b, RepeatHeads(b, v, group.Size), group, splitDim: 2, concatDim: 1);
        return (qh, kh, vh);
    }

    /// <summary>[B, s, Hkv, D] -> [B, s, P, D] with head h' = h * (P/Hkv) + j a copy of head h (when Hkv &lt; P).</summary>
    private static Value RepeatHeads(Builder b, Value x, long p)
    {
        var t = (TensorType)x.Type;
        long h = t.Dim(2);
        if (h % p == 0) return x;
        long f = p / h;
        var repeated = Grad.Broadcast(b, x, new[] { t.Dim(0), t.Dim(1), h, f, t.Dim(3) }, new[] { 0, 1, 2, 4 });
        return Grad.Reshape(b, repeated, b.Context.Tensor(new[] { t.Dim(0), t.Dim(1), h * f, t.Dim(3) }, t.Element));
    }

    /// <summary>The inverse exchange of a K/V gradient, summing the gradients of repeated heads onto the original.</summary>
    private static Value FromHeadsSummingRepeats(Builder b, Group group, Value gradHeads, TensorType original)
    {
        var local = AllToAll.Create(b, gradHeads, group, splitDim: 1, concatDim: 2);   // [B, s, Hkv or P, D]
        long h = original.Dim(2);
        if (h % group.Size == 0) return local;
        long f = group.Size / h;
        var split = Grad.Reshape(b, local, b.Context.Tensor(new[] { original.Dim(0), original.Dim(1), h, f, original.Dim(3) }, original.Element));
        return Grad.ReduceSum(b, split, new[] { 3 });
    }
}
