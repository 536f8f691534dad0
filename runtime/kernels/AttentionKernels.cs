using System.Numerics.Tensors;
using AutoSpIR.Dialects.Tensor;
using static AutoSpIR.Runtime.Kernels.KernelUtil;

namespace AutoSpIR.Runtime.Kernels;

/// <summary>
/// tensor.attention: scaled dot-product attention over [B, S, H, D] with grouped-query heads
/// and the bottom-right-aligned causal mask. One query row at a time: the scores of that row
/// (a buffer of T doubles, only the attended prefix under <c>causal</c>) are softmaxed and
/// used to accumulate the output row; no S x T matrix is built. Computed in double, rounded once.
/// </summary>
public sealed class AttentionKernels : IKernelSet
{
    public void Register(KernelTable table) => table.Add("tensor.attention", Run);

    private static HostTensor[] Run(KernelContext k)
    {
        var q = Read(k.Input(0));
        var kk = Read(k.Input(1));
        var v = Read(k.Input(2));
        var qt = k.Input(0).Type;
        var type = k.ResultType(0);
        long b = qt.Dim(0), s = qt.Dim(1), hq = qt.Dim(2), d = qt.Dim(3);
        long t = k.Input(1).Type.Dim(1), hkv = k.Input(1).Type.Dim(2), dv = k.Input(2).Type.Dim(3);
        bool causal = k.Op.HasAttr("causal");
        double scale = Attention.ScaleOf(k.Op);
        long group = hq / hkv;

        var scores = new double[t];
        var o = new double[type.NumElements];
        for (long bi = 0; bi < b; bi++)
            for (long h = 0; h < hq; h++)
            {
                long g = h / group;
                for (long i = 0; i < s; i++)
                {
                    // Keys 0..last are attended: all of them, or j <= i + (T - S) under causal.
                    long count = causal ? i + (t - s) + 1 : t;
                    var qrow = new ReadOnlySpan<double>(q, (int)(((bi * s + i) * hq + h) * d), (int)d);
                    var sc = new Span<double>(scores, 0, (int)count);
                    for (long j = 0; j < count; j++)
                        sc[(int)j] = scale * TensorPrimitives.Dot(qrow, new ReadOnlySpan<double>(kk, (int)(((bi * t + j) * hkv + g) * d), (int)d));
                    NormKernels.SoftmaxRow(sc, sc);
                    var orow = new Span<double>(o, (int)(((bi * s + i) * hq + h) * dv), (int)dv);
                    for (long j = 0; j < count; j++)
                        TensorPrimitives.MultiplyAdd(new ReadOnlySpan<double>(v, (int)(((bi * t + j) * hkv + g) * dv), (int)dv), sc[(int)j], orow, orow);
                }
            }
        return new[] { Write(type, o) };
    }
}
