using System.Numerics.Tensors;
using AutoSpIR.Dialects.Tensor;
using static AutoSpIR.Runtime.Kernels.KernelUtil;

namespace AutoSpIR.Runtime.Kernels;

/// <summary>
/// tensor.reduce_sum, reduce_mean, reduce_max over any set of dimensions (float types): the
/// operand is permuted (when needed) so that the reduced dimensions are innermost, then every
/// contiguous row is reduced in double and rounded once. Empty reductions: sum 0, mean NaN,
/// max -inf; max propagates NaN (torch.amax). Also tensor.count_valid: the labels that are not
/// ignore_index, counted exactly and converted once to the float result type.
/// </summary>
public sealed class ReduceKernels : IKernelSet
{
    private enum Kind { Sum, Mean, Max }

    public void Register(KernelTable table)
    {
        table.Add("tensor.reduce_sum", k => Reduce(k, Kind.Sum));
        table.Add("tensor.reduce_mean", k => Reduce(k, Kind.Mean));
        table.Add("tensor.reduce_max", k => Reduce(k, Kind.Max));
        table.Add("tensor.count_valid", CountValid);
    }

    private static HostTensor[] CountValid(KernelContext k)
    {
        var labels = k.Input(0).Ints!;
        long ignore = AutoSpIR.Dialects.Tensor.CountValid.IgnoreIndexOf(k.Op);
        long n = 0;
        foreach (var t in labels)
            if (t != ignore) n++;
        var r = k.NewResult();
        r.Set(0, n);
        return new[] { r };
    }

    private static HostTensor[] Reduce(KernelContext k, Kind kind)
    {
        var x = k.Input(0);
        var type = k.ResultType(0);
        int rank = x.Type.Rank;
        var reduced = new bool[rank];
        foreach (var d in Ints(k.Op, "dims")) reduced[Dims.Normalize(d, rank)] = true;

        // Kept dimensions first, then the reduced ones, each in their order.
        var perm = new List<int>(rank);
        for (int i = 0; i < rank; i++) if (!reduced[i]) perm.Add(i);
        for (int i = 0; i < rank; i++) if (reduced[i]) perm.Add(i);
        long len = 1;
        for (int i = 0; i < rank; i++) if (reduced[i]) len *= x.Type.Dim(i);

        var data = Read(x);
        bool identity = true;
        for (int i = 0; i < rank; i++) identity &= perm[i] == i;
        if (!identity)
        {
            var xs = Strides(x.Type.Shape);
            var shape = perm.Select(p => x.Type.Dim(p)).ToArray();
            var strides = perm.Select(p => xs[p]).ToArray();
            var moved = new double[data.Length];
            Gather(data, 0, strides, shape, moved);
            data = moved;
        }

        long rows = type.NumElements;
        var y = new double[rows];
        for (long o = 0; o < rows; o++)
        {
            var row = new ReadOnlySpan<double>(data, (int)(o * len), (int)len);
            y[o] = kind switch
            {
                Kind.Sum => TensorPrimitives.Sum(row),
                Kind.Mean => TensorPrimitives.Sum(row) / len,
                _ => row.Length == 0 ? double.NegativeInfinity : TensorPrimitives.Max(row),
            };
        }
        return new[] { Write(type, y) };
    }
}
