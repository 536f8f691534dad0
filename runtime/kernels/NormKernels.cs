using System.Numerics.Tensors;
using AutoSpIR.Dialects.Tensor;
using static AutoSpIR.Runtime.Kernels.KernelUtil;

namespace AutoSpIR.Runtime.Kernels;

/// <summary>
/// tensor.rms_norm, tensor.rope and tensor.softmax (float types), computed in double per row
/// and rounded once to the result type.
/// </summary>
public sealed class NormKernels : IKernelSet
{
    public void Register(KernelTable table)
    {
        table.Add("tensor.rms_norm", RmsNorm);
        table.Add("tensor.rope", Rope);
        table.Add("tensor.softmax", Softmax);
    }

    // y[i..., h] = x[h] * rsqrt(mean_k(x[k]^2) + eps) * weight[h], per row of the last dimension.
    private static HostTensor[] RmsNorm(KernelContext k)
    {
        var x = Read(k.Input(0));
        var w = Read(k.Input(1));
        var type = k.ResultType(0);
        double eps = k.Op.GetFloat("eps") ?? 0;
        int h = (int)type.Dim(type.Rank - 1);
        var y = new double[x.Length];
        if (h > 0)
            for (int o = 0; o < x.Length; o += h)
            {
                var row = new ReadOnlySpan<double>(x, o, h);
                var dst = new Span<double>(y, o, h);
                double scale = 1.0 / Math.Sqrt(TensorPrimitives.SumOfSquares(row) / h + eps);
                TensorPrimitives.Multiply(row, scale, dst);
                TensorPrimitives.Multiply(dst, w, dst);
            }
        return new[] { Write(type, y) };
    }

    // Rotate-half RoPE over [B, S, N, D] at positions offset + s (the attribute plus the optional offset operand).
    private static HostTensor[] Rope(KernelContext k)
    {
        var x = Read(k.Input(0));
        var type = k.ResultType(0);
        long b = type.Dim(0), s = type.Dim(1), n = type.Dim(2), d = type.Dim(3);
        int half = (int)(d / 2);
        double theta = k.Op.GetFloat("theta") ?? 10000.0;
        long offset = RopeOffset(k);
        // cos/sin of the D/2 angles of each position, shared by batches and heads.
        var cos = new double[s * half];
        var sin = new double[s * half];
        for (long p = 0; p < s; p++)
            for (int i = 0; i < half; i++)
            {
                double angle = AutoSpIR.Dialects.Tensor.Rope.Angle(offset + p, i, d, theta);
                cos[p * half + i] = Math.Cos(angle);
                sin[p * half + i] = Math.Sin(angle);
            }
        var y = new double[x.Length];
        for (long bi = 0; bi < b; bi++)
            for (long si = 0; si < s; si++)
            {
                var c = new ReadOnlySpan<double>(cos, (int)(si * half), half);
                var sn = new ReadOnlySpan<double>(sin, (int)(si * half), half);
                for (long ni = 0; ni < n; ni++)
                {
                    int o = (int)(((bi * s + si) * n + ni) * d);
                    for (int i = 0; i < half; i++)
                    {
                        double lo = x[o + i], hi = x[o + i + half];
                        y[o + i] = lo * c[i] - hi * sn[i];
                        y[o + i + half] = hi * c[i] + lo * sn[i];
                    }
                }
            }
        return new[] { Write(type, y) };
    }

    // y = exp(x - max) / sum(exp(x - max)) along dim.
    private static HostTensor[] Softmax(KernelContext k)
    {
        var x = Read(k.Input(0));
        var type = k.ResultType(0);
        int dim = AutoSpIR.Dialects.Tensor.Softmax.DimOf(k.Op, type.Rank);
        long outer = Product(type.Shape, 0, dim), len = type.Dim(dim), inner = Product(type.Shape, dim + 1, type.Rank);
        var y = new double[x.Length];
        if (len == 0) return new[] { Write(type, y) };
        if (inner == 1)
        {
            for (long o = 0; o < outer; o++)
                SoftmaxRow(new ReadOnlySpan<double>(x, (int)(o * len), (int)len), new Span<double>(y, (int)(o * len), (int)len));
            return new[] { Write(type, y) };
        }
        var row = new double[len];
        var res = new double[len];
        for (long o = 0; o < outer; o++)
            for (long i = 0; i < inner; i++)
            {
                long start = o * len * inner + i;
                for (long j = 0; j < len; j++) row[j] = x[start + j * inner];
                SoftmaxRow(row, res);
                for (long j = 0; j < len; j++) y[start + j * inner] = res[j];
            }
        return new[] { Write(type, y) };
    }

    /// <summary>The numerically stable softmax of one contiguous row (shared with attention).</summary>
    internal static void SoftmaxRow(ReadOnlySpan<double> x, Span<double> y)
    {
        double m = TensorPrimitives.Max(x);
        TensorPrimitives.Subtract(x, m, y);
        TensorPrimitives.Exp(y, y);
        double sum = TensorPrimitives.Sum(y);
        TensorPrimitives.Divide(y, sum, y);
    }
}
