using AutoSpIR.Runtime;

namespace AutoSpIR.Tests.Runtime;

/// <summary>rms_norm, rope and softmax against the dialect's formulas written out as loops.</summary>
public class NormKernelTests
{
    [Theory]
    [InlineData("f64")]
    [InlineData("f32")]
    [InlineData("bf16")]
    [InlineData("f16")]
    public void RmsNorm(string elem)
    {
        long rows = 6, h = 8;
        double eps = 1e-5;
        var x = RT.Random($"2x3x{h}x{elem}", 60, -3, 3);
        var w = RT.Random($"{h}x{elem}", 61, 0.5, 1.5);
        var y = RT.RunOne("tensor.rms_norm", new[] { $"tensor<2x3x{h}x{elem}>", $"tensor<{h}x{elem}>" }, $"tensor<2x3x{h}x{elem}>", "eps = 1.0e-05", x, w);
        var expected = new double[x.Count];
        for (long r = 0; r < rows; r++)
        {
            double ss = 0;
            for (long k = 0; k < h; k++) ss += x.Get(r * h + k) * x.Get(r * h + k);
            double inv = 1.0 / Math.Sqrt(ss / h + eps);
            for (long k = 0; k < h; k++) expected[r * h + k] = x.Get(r * h + k) * inv * w.Get(k);
        }
        RT.Check(expected, y, rtol: 1e-14);
    }

    [Fact]
    public void RmsNormHandComputed()
    {
        // Row [3, 4]: mean square 12.5, eps 0 -> scale 1/sqrt(12.5); weight [1, 2].
        var y = RT.RunOne("tensor.rms_norm", new[] { "tensor<2xf64>", "tensor<2xf64>" }, "tensor<2xf64>", "eps = 0.0",
            RT.Of("2xf64", 3, 4), RT.Of("2xf64", 1, 2));
        RT.Check(new[] { 3 / Math.Sqrt(12.5), 8 / Math.Sqrt(12.5) }, y);
    }

    [Theory]
    [InlineData("f64", 0)]
    [InlineData("f32", 5)]
    [InlineData("bf16", 0)]
    [InlineData("f16", 100)]
    public void Rope(string elem, long offset)
    {
        long b = 2, s = 3, n = 2, d = 8;
        double theta = 500000.0;
        string type = $"{b}x{s}x{n}x{d}x{elem}";
        var x = RT.Random(type, 62, -2, 2);
        var attrs = offset == 0 ? "theta = 500000.0" : $"offset = {offset}, theta = 500000.0";
        var y = RT.RunOne("tensor.rope", new[] { $"tensor<{type}>" }, $"tensor<{type}>", attrs, x);
        var expected = new double[x.Count];
        for (long bi = 0; bi < b; bi++)
            for (long si = 0; si < s; si++)
                for (long ni = 0; ni < n; ni++)
                {
                    long o = ((bi * s + si) * n + ni) * d;
                    long p = offset + si;
                    for (long dd = 0; dd < d; dd++)
                    {
                        // cos/sin of angle[p, dd mod D/2]; rotate_half(v) = concat(-v[D/2:], v[:D/2]).
                        long i = dd % (d / 2);
                        double angle = p * Math.Pow(theta, -2.0 * i / d);
                        double rot = dd < d / 2 ? -x.Get(o + dd + d / 2) : x.Get(o + dd - d / 2);
                        expected[o + dd] = x.Get(o + dd) * Math.Cos(angle) + rot * Math.Sin(angle);
                    }
                }
        RT.Check(expected, y, rtol: 1e-13, atol: 1e-15);
    }

    /// <summary>The offset operand adds to the attribute: rope and rope_grad at attr + value equal them at that attribute, bit for bit.</summary>
    [Theory]
    [InlineData("f64", "i64", 0L, 7L)]
    [InlineData("f32", "i32", 3L, 5L)]
    [InlineData("bf16", "i64", 100L, 0L)]
    [InlineData("f64", "i32", 9L, -4L)]
    public void RopeOffsetOperandAddsToTheAttribute(string elem, string offsetType, long attr, long value)
    {
        string type = $"2x3x2x8x{elem}";
        var x = RT.Random(type, 64, -2, 2);
        var off = RT.Of(offsetType, value);
        foreach (var op in new[] { "tensor.rope", "tensor.rope_grad" })
        {
            var attrs = attr == 0 ? "theta = 10000.0" : $"offset = {attr}, theta = 10000.0";
            var withOperand = RT.RunOne(op, new[] { $"tensor<{type}>", $"tensor<{offsetType}>" }, $"tensor<{type}>", attrs, x, off);
            var withAttr = RT.RunOne(op, new[] { $"tensor<{type}>" }, $"tensor<{type}>", $"offset = {attr + value}, theta = 10000.0", x);
            Assert.Equal(withAttr.ToDoubles(), withOperand.ToDoubles());
        }
    }

    [Theory]
    [InlineData("tensor.rope")]
    [InlineData("tensor.rope_grad")]
    public void RopeNegativePositionIsARuntimeError(string op)
    {
        var func = RT.Func(RT.OneOp(op, new[] { "tensor<1x2x1x2xf32>", "tensor<i64>" }, "tensor<1x2x1x2xf32>", "offset = 2, theta = 10000.0"));
        var e = Assert.Throws<RuntimeErrorException>(() => Interpreter.Run(func, new[] { RT.Random("1x2x1x2xf32", 65), RT.Of("i64", -3) }));
        Assert.Equal($"'{op}' op has position offset 2 (attribute) + -3 (operand #1 ('offset')), which is negative", e.Message);
        // -2 is fine: row 0 is position 0.
        Interpreter.Run(func, new[] { RT.Random("1x2x1x2xf32", 65), RT.Of("i64", -2) });
    }

    [Fact]
    public void RopeHandComputed()
    {
        // D = 2, theta irrelevant for i = 0: angle = p. Position 1 rotates [1, 0] to [cos 1, sin 1].
        var x = RT.Of("1x2x1x2xf64", 1, 0, 1, 0);
        var y = RT.RunOne("tensor.rope", new[] { "tensor<1x2x1x2xf64>" }, "tensor<1x2x1x2xf64>", "theta = 10000.0", x);
        RT.Check(new[] { 1, 0, Math.Cos(1), Math.Sin(1) }, y);
    }

    [Theory]
    [InlineData("f64", -1)]
    [InlineData("f32", -1)]
    [InlineData("bf16", 1)]
    [InlineData("f16", 0)]
    [InlineData("f64", 1)]
    public void Softmax(string elem, int dim)
    {
        long[] xs = { 3, 4, 5 };
        int d = (dim + 3) % 3;
        var x = RT.Random($"3x4x5x{elem}", 63, -4, 4);
        var y = RT.RunOne("tensor.softmax", new[] { $"tensor<3x4x5x{elem}>" }, $"tensor<3x4x5x{elem}>", dim == -1 ? "" : $"dim = {dim}", x);
        var expected = new double[x.Count];
        for (long f = 0; f < x.Count; f++)
        {
            var idx = RT.Unflatten(f, xs);
            double m = double.NegativeInfinity;
            for (long j = 0; j < xs[d]; j++)
            {
                idx[d] = j;
                m = Math.Max(m, x.Get(RT.Flatten(idx, xs)));
            }
            double sum = 0;
            for (long j = 0; j < xs[d]; j++)
            {
                idx[d] = j;
                sum += Math.Exp(x.Get(RT.Flatten(idx, xs)) - m);
            }
            expected[f] = Math.Exp(x.Get(f) - m) / sum;
        }
        RT.Check(expected, y, rtol: 1e-14);
    }

    [Fact]
    public void SoftmaxIsStableForLargeInputs()
    {
        var y = RT.RunOne("tensor.softmax", new[] { "tensor<3xf64>" }, "tensor<3xf64>", "", RT.Of("3xf64", 1000, 1000, double.NegativeInfinity));
        Assert.Equal(new[] { 0.5, 0.5, 0 }, y.F64);
    }
}
