using System.Numerics.Tensors;
using AutoSpIR.Dialects.Tensor;
using static AutoSpIR.Runtime.Kernels.KernelUtil;

namespace AutoSpIR.Runtime.Kernels;

/// <summary>
/// tensor.embedding (row gather; an id outside [0, V) is a runtime error) and
/// tensor.cross_entropy (mean or summed token cross-entropy with shift and ignore_index; a
/// counted target outside [0, V) is a runtime error), computed in double and rounded once.
/// </summary>
public sealed class EmbeddingKernels : IKernelSet
{
    public void Register(KernelTable table)
    {
        table.Add("tensor.embedding", Embedding);
        table.Add("tensor.cross_entropy", CrossEntropy);
    }

    // out[i..., :] = table[ids[i...], :]
    private static HostTensor[] Embedding(KernelContext k)
    {
        var table = k.Input(0);
        var ids = k.Input(1);
        var type = k.ResultType(0);
        long v = table.Type.Dim(0), h = table.Type.Dim(1);
        var r = new HostTensor(type);
        var idv = ids.Ints!;
        for (long i = 0; i < idv.LongLength; i++)
        {
            long id = idv[i];
            if (id < 0 || id >= v)
                throw k.Error($"id {id} at ids{IndexText(i, ids.Type.Shape)} is out of range [0, {v}) (the rows of operand #0 ('table'))");
            if (r.F64 is not null) Array.Copy(table.F64!, id * h, r.F64, i * h, h);
            else Array.Copy(table.F32!, id * h, r.F32!, i * h, h);
        }
        return new[] { r };
    }

    // sum over counted (b, s < S - shift) of -(z[t] - m - log(sum_c exp(z[c] - m))), t = labels[b, s + shift],
    // in row-major order; the mean divides that sum once by the count.
    private static HostTensor[] CrossEntropy(KernelContext k)
    {
        var logits = Read(k.Input(0));
        var labels = k.Input(1).Ints!;
        var lt = k.Input(0).Type;
        long b = lt.Dim(0), s = lt.Dim(1), v = lt.Dim(2);
        long shift = AutoSpIR.Dialects.Tensor.CrossEntropy.ShiftOf(k.Op);
        long ignore = AutoSpIR.Dialects.Tensor.CrossEntropy.IgnoreIndexOf(k.Op);
        var buf = new double[v];
        double total = 0;
        long counted = 0;
        for (long bi = 0; bi < b; bi++)
            for (long si = 0; si + shift < s; si++)
            {
                long target = labels[bi * s + si + shift];
                if (target == ignore) continue;
                if (target < 0 || target >= v)
                    throw k.Error($"target {target} at labels[{bi}, {si + shift}] is out of range [0, {v}) (the vocabulary of operand #0 ('logits')) and is not the ignore_index {ignore}");
                var z = new ReadOnlySpan<double>(logits, (int)((bi * s + si) * v), (int)v);
                double m = TensorPrimitives.Max(z);
                TensorPrimitives.Subtract(z, m, buf);
                TensorPrimitives.Exp(buf, buf);
                double logSum = Math.Log(TensorPrimitives.Sum(buf));
                total += -(z[(int)target] - m - logSum);
                counted++;
            }
        var type = k.ResultType(0);
        bool sum = AutoSpIR.Dialects.Tensor.CrossEntropy.IsSum(k.Op);
        return new[] { Write(type, new[] { sum ? total : total / counted }) };
    }
}
