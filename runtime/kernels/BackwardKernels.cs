using AutoSpIR.Dialects.Tensor;
using static AutoSpIR.Runtime.Kernels.KernelUtil;

namespace AutoSpIR.Runtime.Kernels;

/// <summary>
/// The backward ops autodiff builds (dialects/tensor/*Grad.cs and Pad.cs): tensor.pad,
/// silu_grad, gelu_grad, softmax_grad, reduce_max_grad, rms_norm_grad, rope_grad,
/// attention_grad, cross_entropy_grad, embedding_grad. Float element types f64, f32, bf16
/// (and f16): every result element is computed in double from the exact operand values and
/// rounded once to the result type, as the forward kernels do. Each kernel follows the
/// semantics in its op's doc comment.
/// </summary>
public sealed class BackwardKernels : IKernelSet
{
    public void Register(KernelTable table)
    {
        table.Add("tensor.pad", PadKernel);
        table.Add("tensor.silu_grad", Elementwise((x, dy) =>
        {
            double s = 1.0 / (1.0 + Math.Exp(-x));
            return dy * s * (1.0 + x * (1.0 - s));
        }));
        table.Add("tensor.gelu_grad", Elementwise((x, dy) =>
        {
            double cdf = 0.5 * (1.0 + Numerics.Erf(x / Math.Sqrt(2.0)));
            double pdf = Math.Exp(-0.5 * x * x) / Math.Sqrt(2.0 * Math.PI);
            return dy * (cdf + x * pdf);
        }));
        table.Add("tensor.softmax_grad", SoftmaxGradKernel);
        table.Add("tensor.reduce_max_grad", ReduceMaxGradKernel);
        table.Add("tensor.rms_norm_grad", RmsNormGradKernel);
        table.Add("tensor.rope_grad", RopeGradKernel);
        table.Add("tensor.attention_grad", AttentionGradKernel);
        table.Add("tensor.cross_entropy_grad", CrossEntropyGradKernel);
        table.Add("tensor.embedding_grad", EmbeddingGradKernel);
    }

    // ------------------------------------------------------------------ pad

    /// <summary>y[j...] = x[j - low...] inside the box, 0 outside; any element type.</summary>
    private static HostTensor[] PadKernel(KernelContext k)
    {
        var x = k.Input(0);
        var r = k.NewResult();
        var low = Ints(k.Op, "low");
        var outStrides = Strides(r.Type.Shape);
        // The flat result position of each input element, in input row-major order.
        var inShape = x.Type.Shape.ToArray();
        long n = x.Count;
        var idx = new long[inShape.Length];
        long pos = 0;
        for (int d = 0; d < inShape.Length; d++) pos += low[d] * outStrides[d];
        for (long i = 0; i < n; i++)
        {
            if (x.F64 is not null) r.F64![pos] = x.F64[i];
            else if (x.F32 is not null) r.F32![pos] = x.F32[i];
            else r.Ints![pos] = x.Ints![i];
            for (int d = inShape.Length - 1; d >= 0; d--)
            {
                pos += outStrides[d];
                if (++idx[d] < inShape[d]) break;
                pos -= outStrides[d] * inShape[d];
                idx[d] = 0;
            }
        }
        return new[] { r };
    }

    // ------------------------------------------------------------------ elementwise

    /// <summary>dx[i] = f(x[i], dy[i]).</summary>
    private static Kernel Elementwise(Func<double, double, double> f) => k =>
    {
        var x = Read(k.Input(0));
        var dy = Read(k.Input(1));
        var dx = new double[x.Length];
        for (int i = 0; i < dx.Length; i++) dx[i] = f(x[i], dy[i]);
        return new[] { Write(k.ResultType(0), dx) };
    };

    // ------------------------------------------------------------------ softmax, reduce_max

    /// <summary>dx = y * (dy - sum(dy * y)) along dim.</summary>
    private static HostTensor[] SoftmaxGradKernel(KernelContext k)
    {
        var type = k.ResultType(0);
        var y = Read(k.Input(0));
        var dy = Read(k.Input(1));
        int dim = Dims.Normalize(Int(k.Op, "dim", -1), type.Rank);
        long n = type.Dim(dim), inner = Product(type.Shape, dim + 1, type.Rank), outer = Product(type.Shape, 0, dim);
        var dx = new double[y.Length];
        for (long o = 0; o < outer; o++)
            for (long i = 0; i < inner; i++)
            {
                long base0 = o * n * inner + i;
                double dot = 0;
                for (long j = 0; j < n; j++) dot += y[base0 + j * inner] * dy[base0 + j * inner];
                for (long j = 0; j < n; j++)
                {
                    long at = base0 + j * inner;
                    dx[at] = y[at] * (dy[at] - dot);
                }
            }
        return new[] { Write(type, dx) };
    }

    /// <summary>dx[i] = dy[o] / ties[o] where x[i] is the maximum y[o] of its group, else 0.</summary>
    private static HostTensor[] ReduceMaxGradKernel(KernelContext k)
    {
        var type = k.ResultType(0);
        var x = Read(k.Input(0));
        var y = Read(k.Input(1));
        var dy = Read(k.Input(2));
        var shape = type.Shape.ToArray();
        var reduced = Reduce.ReducedDims(Ints(k.Op, "dims"), type.Rank)!;
        // Output strides over the kept dimensions (size-1 kept dimensions do not move the flat index).
        var outStride = new long[shape.Length];
        long acc = 1;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            if (Array.IndexOf(reduced, d) >= 0) continue;
            outStride[d] = acc;
            acc *= shape[d];
        }
        var group = new long[x.Length];
        var idx = new long[shape.Length];
        long pos = 0;
        for (long i = 0; i < x.Length; i++)
        {
            group[i] = pos;
            for (int d = shape.Length - 1; d >= 0; d--)
            {
                pos += outStride[d];
                if (++idx[d] < shape[d]) break;
                pos -= outStride[d] * shape[d];
                idx[d] = 0;
            }
        }
        bool IsMax(long i) => x[i] == y[group[i]] || (double.IsNaN(x[i]) && double.IsNaN(y[group[i]]));
        var ties = new long[y.Length];
        for (long i = 0; i < x.Length; i++)
            if (IsMax(i)) ties[group[i]]++;
        var dx = new double[x.Length];
        for (long i = 0; i < x.Length; i++)
            if (IsMax(i)) dx[i] = dy[group[i]] / ties[group[i]];
        return new[] { Write(type, dx) };
    }

    // ------------------------------------------------------------------ rms_norm

    /// <summary>Per row, r = rsqrt(mean(x^2) + eps): dx = r w dy - x r^3 / H * sum(dy w x); dw += dy x r.</summary>
    private static HostTensor[] RmsNormGradKernel(KernelContext k)
    {
        var x = Read(k.Input(0));
        var w = Read(k.Input(1));
        var dy = Read(k.Input(2));
        double eps = k.Op.GetFloat("eps") ?? 0;
        int h = w.Length;
        long rows = h == 0 ? 0 : x.Length / h;
        var dx = new double[x.Length];
        var dw = new double[h];
        for (long row = 0; row < rows; row++)
        {
            long at = row * h;
            double ms = 0, dot = 0;
            for (int j = 0; j < h; j++)
            {
                ms += x[at + j] * x[at + j];
                dot += dy[at + j] * w[j] * x[at + j];
            }
            double r = 1.0 / Math.Sqrt(ms / h + eps);
            double c = r * r * r / h * dot;
            for (int j = 0; j < h; j++)
            {
                dx[at + j] = r * w[j] * dy[at + j] - x[at + j] * c;
                dw[j] += dy[at + j] * x[at + j] * r;
            }
        }
        return new[] { Write(k.ResultType(0), dx), Write(k.ResultType(1), dw) };
    }

    // ------------------------------------------------------------------ rope

    /// <summary>Each pair (d, d + D/2) rotated by -angle: dx[d] = dy[d] cos + dy[d+D/2] sin, dx[d+D/2] = dy[d+D/2] cos - dy[d] sin.</summary>
    private static HostTensor[] RopeGradKernel(KernelContext k)
    {
        var type = k.ResultType(0);
        var dy = Read(k.Input(0));
        double theta = k.Op.GetFloat("theta") ?? 10000.0;
        long offset = RopeOffset(k);
        long b = type.Dim(0), s = type.Dim(1), n = type.Dim(2), d = type.Dim(3), half = d / 2;
        var dx = new double[dy.Length];
        var cos = new double[half];
        var sin = new double[half];
        for (long si = 0; si < s; si++)
        {
            for (int i = 0; i < half; i++)
            {
                double angle = Rope.Angle(offset + si, i, d, theta);
                cos[i] = Math.Cos(angle);
                sin[i] = Math.Sin(angle);
            }
            for (long bi = 0; bi < b; bi++)
                for (long ni = 0; ni < n; ni++)
                {
                    long at = ((bi * s + si) * n + ni) * d;
                    for (int i = 0; i < half; i++)
                    {
                        double lo = dy[at + i], hi = dy[at + i + half];
                        dx[at + i] = lo * cos[i] + hi * sin[i];
                        dx[at + i + half] = hi * cos[i] - lo * sin[i];
                    }
                }
        }
        return new[] { Write(type, dx) };
    }

    // ------------------------------------------------------------------ attention

    /// <summary>
    /// Flash-style backward: for each (b, h, i) the softmax row p is recomputed (a buffer of T,
    /// not S x T), then dp = dO . v, ds = p (dp - p . dp), dq = scale ds k, dk += scale ds q, dv += p dO.
    /// </summary>
    private static HostTensor[] AttentionGradKernel(KernelContext k)
    {
        var qt = (TensorType)k.Op.Operand(0).Type;
        var kt = (TensorType)k.Op.Operand(1).Type;
        var vt = (TensorType)k.Op.Operand(2).Type;
        var q = Read(k.Input(0));
        var kk = Read(k.Input(1));
        var v = Read(k.Input(2));
        var dO = Read(k.Input(3));
        long B = qt.Dim(0), S = qt.Dim(1), Hq = qt.Dim(2), D = qt.Dim(3), T = kt.Dim(1), Hkv = kt.Dim(2), Dv = vt.Dim(3);
        bool causal = k.Op.HasAttr("causal");
        double scale = Attention.ScaleOf(k.Op);
        long group = Hq / Hkv;
        var dq = new double[q.Length];
        var dk = new double[kk.Length];
        var dv = new double[v.Length];
        var p = new double[T];
        var dp = new double[T];
        for (long b = 0; b < B; b++)
            for (long h = 0; h < Hq; h++)
            {
                long g = h / group;
                for (long i = 0; i < S; i++)
                {
                    long qi = ((b * S + i) * Hq + h) * D;
                    long oi = ((b * S + i) * Hq + h) * Dv;
                    long last = causal ? Math.Min(T - 1, i + (T - S)) : T - 1;
                    double max = double.NegativeInfinity;
                    for (long j = 0; j <= last; j++)
                    {
                        long kj = ((b * T + j) * Hkv + g) * D;
                        double sc = 0;
                        for (long e = 0; e < D; e++) sc += q[qi + e] * kk[kj + e];
                        p[j] = scale * sc;
                        if (p[j] > max) max = p[j];
                    }
                    double sum = 0;
                    for (long j = 0; j <= last; j++) sum += p[j] = Math.Exp(p[j] - max);
                    double pdp = 0;
                    for (long j = 0; j <= last; j++)
                    {
                        p[j] /= sum;
                        long vj = ((b * T + j) * Hkv + g) * Dv;
                        double acc = 0;
                        for (long e = 0; e < Dv; e++) acc += dO[oi + e] * v[vj + e];
                        dp[j] = acc;
                        pdp += p[j] * acc;
                    }
                    for (long j = 0; j <= last; j++)
                    {
                        long kj = ((b * T + j) * Hkv + g) * D;
                        long vj = ((b * T + j) * Hkv + g) * Dv;
                        double ds = scale * p[j] * (dp[j] - pdp);
                        for (long e = 0; e < D; e++)
                        {
                            dq[qi + e] += ds * kk[kj + e];
                            dk[kj + e] += ds * q[qi + e];
                        }
                        for (long e = 0; e < Dv; e++) dv[vj + e] += p[j] * dO[oi + e];
                    }
                }
            }
        return new[] { Write(k.ResultType(0), dq), Write(k.ResultType(1), dk), Write(k.ResultType(2), dv) };
    }

    // ------------------------------------------------------------------ cross_entropy

    /// <summary>dlogits[b, s, :] = coef * (softmax(logits[b, s, :]) - onehot(t)) at the counted positions, else 0; coef = dloss / N (mean) or dloss (sum).</summary>
    private static HostTensor[] CrossEntropyGradKernel(KernelContext k)
    {
        var type = k.ResultType(0);
        var z = Read(k.Input(0));
        var labels = k.Input(1).Ints!;
        double dloss = k.Input(2).Get(0);
        long shift = Int(k.Op, "shift", 1), ignore = Int(k.Op, "ignore_index", -100);
        long B = type.Dim(0), S = type.Dim(1), V = type.Dim(2);
        long counted = 0;
        for (long b = 0; b < B; b++)
            for (long s = 0; s + shift < S; s++)
            {
                long t = labels[b * S + s + shift];
                if (t == ignore) continue;
                if (t < 0 || t >= V)
                    throw k.Error($"label {t} at {IndexText(b * S + s + shift, new[] { B, S })} is out of range [0, {V}) (and is not the ignore_index {ignore})");
                counted++;
            }
        var dz = new double[z.Length];
        if (counted == 0) return new[] { Write(type, dz) };
        double coef = CrossEntropy.IsSum(k.Op) ? dloss : dloss / counted;
        for (long b = 0; b < B; b++)
            for (long s = 0; s + shift < S; s++)
            {
                long t = labels[b * S + s + shift];
                if (t == ignore) continue;
                long at = (b * S + s) * V;
                double max = double.NegativeInfinity;
                for (long c = 0; c < V; c++) max = Math.Max(max, z[at + c]);
                double sum = 0;
                for (long c = 0; c < V; c++) sum += Math.Exp(z[at + c] - max);
                for (long c = 0; c < V; c++)
                    dz[at + c] = coef * (Math.Exp(z[at + c] - max) / sum - (c == t ? 1.0 : 0.0));
            }
        return new[] { Write(type, dz) };
    }

    // ------------------------------------------------------------------ embedding

    /// <summary>dtable[ids[r], :] += grad_output[r, :] for every row r, in order, into a [V, H] zero table.</summary>
    private static HostTensor[] EmbeddingGradKernel(KernelContext k)
    {
        var type = k.ResultType(0);
        var dout = Read(k.Input(0));
        var ids = k.Input(1);
        long V = type.Dim(0), H = type.Dim(1);
        var table = new double[type.NumElements];
        for (long r = 0; r < ids.Count; r++)
        {
            long id = ids.Ints![r];
            if (id < 0 || id >= V)
                throw k.Error($"id {id} at {IndexText(r, ids.Type.Shape)} is out of range [0, {V})");
            for (long h = 0; h < H; h++) table[id * H + h] += dout[r * H + h];
        }
        return new[] { Write(type, table) };
    }
}
