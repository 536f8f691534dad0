using AutoSpIR.Runtime;

namespace AutoSpIR.Tests.Runtime;

/// <summary>tensor.attention against a textbook version that builds the full masked score matrix.</summary>
public class AttentionKernelTests
{
    /// <summary>Full-matrix attention: scores for all (i, j), -inf where masked, softmax per row, times V.</summary>
    private static double[] Reference(HostTensor q, HostTensor k, HostTensor v, bool causal, double scale)
    {
        long b = q.Type.Dim(0), s = q.Type.Dim(1), hq = q.Type.Dim(2), d = q.Type.Dim(3);
        long t = k.Type.Dim(1), hkv = k.Type.Dim(2), dv = v.Type.Dim(3);
        var o = new double[b * s * hq * dv];
        for (long bi = 0; bi < b; bi++)
            for (long h = 0; h < hq; h++)
            {
                long g = h / (hq / hkv);
                var p = new double[s, t];
                for (long i = 0; i < s; i++)
                {
                    double m = double.NegativeInfinity;
                    for (long j = 0; j < t; j++)
                    {
                        if (causal && j > i + (t - s))
                        {
                            p[i, j] = double.NegativeInfinity;
                            continue;
                        }
                        double dot = 0;
                        for (long e = 0; e < d; e++) dot += q.Get(((bi * s + i) * hq + h) * d + e) * k.Get(((bi * t + j) * hkv + g) * d + e);
                        p[i, j] = scale * dot;
                        m = Math.Max(m, p[i, j]);
                    }
                    double sum = 0;
                    for (long j = 0; j < t; j++) sum += p[i, j] = Math.Exp(p[i, j] - m);
                    for (long j = 0; j < t; j++) p[i, j] /= sum;
                    for (long e = 0; e < dv; e++)
                    {
                        double acc = 0;
                        for (long j = 0; j < t; j++) acc += p[i, j] * v.Get(((bi * t + j) * hkv + g) * dv + e);
                        o[((bi * s + i) * hq + h) * dv + e] = acc;
                    }
                }
            }
        return o;
    }

    [Theory]
    [InlineData("f64", false, false, 4, 4)]
    [InlineData("f64", true, false, 4, 4)]
    [InlineData("f64", true, false, 3, 6)]      // S < T: the mask is aligned to the bottom-right corner
    [InlineData("f32", true, true, 5, 5)]
    [InlineData("f32", false, false, 2, 7)]
    [InlineData("bf16", true, false, 4, 6)]
    [InlineData("f16", false, true, 3, 3)]
    public void GroupedQueryAttention(string elem, bool causal, bool explicitScale, long s, long t)
    {
        long b = 2, hq = 4, hkv = 2, d = 8, dv = 6;
        string qt = $"{b}x{s}x{hq}x{d}x{elem}", kt = $"{b}x{t}x{hkv}x{d}x{elem}", vt = $"{b}x{t}x{hkv}x{dv}x{elem}", ot = $"{b}x{s}x{hq}x{dv}x{elem}";
        var q = RT.Random(qt, 70, -1.5, 1.5);
        var k = RT.Random(kt, 71, -1.5, 1.5);
        var v = RT.Random(vt, 72, -1, 1);
        var attrs = string.Join(", ", new[] { causal ? "causal" : null, explicitScale ? "scale = 0.3" : null }.Where(a => a is not null));
        var o = RT.RunOne("tensor.attention", new[] { $"tensor<{qt}>", $"tensor<{kt}>", $"tensor<{vt}>" }, $"tensor<{ot}>", attrs, q, k, v);
        RT.Check(Reference(q, k, v, causal, explicitScale ? 0.3 : 1 / Math.Sqrt(d)), o, rtol: 1e-13, atol: 1e-15);
    }

    [Fact]
    public void HandComputedCausalMultiQuery()
    {
        // B = 1, S = T = 2, Hq = 2, Hkv = 1, D = Dv = 1, scale 1. q = [[1, 2], [0, 1]] (positions x heads), k = [0, ln 3], v = [10, 20].
        // Row 0 sees only key 0: o = 10 (both heads). Row 1, head 0 (q = 0): equal weights -> 15;
        // head 1 (q = 1): scores [0, ln 3] -> weights [1/4, 3/4] -> 17.5.
        var q = RT.Of("1x2x2x1xf64", 1, 2, 0, 1);
        var k = RT.Of("1x2x1x1xf64", 0, Math.Log(3));
        var v = RT.Of("1x2x1x1xf64", 10, 20);
        var o = RT.RunOne("tensor.attention", new[] { "tensor<1x2x2x1xf64>", "tensor<1x2x1x1xf64>", "tensor<1x2x1x1xf64>" },
            "tensor<1x2x2x1xf64>", "causal, scale = 1.0", q, k, v);
        RT.Check(new[] { 10, 10, 15, 17.5 }, o, rtol: 1e-15);
    }
}
