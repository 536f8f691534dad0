using AutoSpIR.Runtime;

namespace AutoSpIR.Tests.Runtime;

/// <summary>reduce_sum, reduce_mean, reduce_max over dimension sets, against a loop that visits every input element.</summary>
public class ReduceKernelTests
{
    public static TheoryData<string, string, string, bool> Cases()
    {
        var d = new TheoryData<string, string, string, bool>();
        foreach (var op in new[] { "sum", "mean", "max" })
            foreach (var t in new[] { "f64", "f32", "bf16" })
            {
                d.Add(op, t, "[0, 2]", false);
                d.Add(op, t, "[-1]", true);
                d.Add(op, t, "[2, 0, 1]", false);
                d.Add(op, t, "[1]", false);
            }
        d.Add("sum", "f16", "[]", false);
        return d;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Reduce(string op, string elem, string dimsText, bool keepdim)
    {
        long[] xs = { 3, 4, 5 };
        var dims = dimsText.Trim('[', ']').Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => (int.Parse(s) + 3) % 3).ToHashSet();
        var ys = new List<long>();
        for (int i = 0; i < 3; i++)
            if (!dims.Contains(i)) ys.Add(xs[i]);
            else if (keepdim) ys.Add(1);
        string yt = ys.Count == 0 ? $"tensor<{elem}>" : $"tensor<{string.Join("x", ys)}x{elem}>";
        var x = RT.Random($"3x4x5x{elem}", 50, -3, 3);
        var y = RT.RunOne("tensor.reduce_" + op, new[] { $"tensor<3x4x5x{elem}>" }, yt, $"dims = {dimsText}{(keepdim ? ", keepdim" : "")}", x);

        // Accumulate every input element into its output position.
        var sum = new double[y.Count];
        var max = Enumerable.Repeat(double.NegativeInfinity, (int)y.Count).ToArray();
        var count = new long[y.Count];
        for (long f = 0; f < x.Count; f++)
        {
            var idx = RT.Unflatten(f, xs);
            long o = 0;
            for (int i = 0; i < 3; i++)
                if (!dims.Contains(i)) o = o * xs[i] + idx[i];
            double v = x.Get(f);
            sum[o] += v;
            max[o] = Math.Max(max[o], v);
            count[o]++;
        }
        var expected = op switch
        {
            "sum" => sum,
            "mean" => sum.Select((s, i) => s / count[i]).ToArray(),
            _ => max,
        };
        RT.Check(expected, y, rtol: 1e-14);
    }

    [Fact]
    public void MaxPropagatesNaNAndEmptyReductionsFollowTheDialect()
    {
        var x = RT.Of("2x3xf32", 1, double.NaN, 2, -1, -5, double.NegativeInfinity);
        var m = RT.RunOne("tensor.reduce_max", new[] { "tensor<2x3xf32>" }, "tensor<2xf32>", "dims = [1]", x);
        Assert.True(double.IsNaN(m.Get(0)));
        Assert.Equal(-1.0, m.Get(1));

        var empty = RT.Of("2x0xf64");
        Assert.Equal(new[] { 0.0, 0.0 }, RT.RunOne("tensor.reduce_sum", new[] { "tensor<2x0xf64>" }, "tensor<2xf64>", "dims = [1]", empty).F64);
        Assert.All(RT.RunOne("tensor.reduce_mean", new[] { "tensor<2x0xf64>" }, "tensor<2xf64>", "dims = [1]", empty).F64!, v => Assert.True(double.IsNaN(v)));
        Assert.Equal(new[] { double.NegativeInfinity, double.NegativeInfinity },
            RT.RunOne("tensor.reduce_max", new[] { "tensor<2x0xf64>" }, "tensor<2xf64>", "dims = [1]", empty).F64);
    }

    [Fact]
    public void HandComputedMean()
    {
        // [[1, 2], [3, 6]]: mean over everything 3, over dim 0 [2, 4], sum over dim 1 keepdim [[3], [9]].
        var x = RT.Of("2x2xbf16", 1, 2, 3, 6);
        Assert.Equal(new[] { 3.0 }, RT.RunOne("tensor.reduce_mean", new[] { "tensor<2x2xbf16>" }, "tensor<bf16>", "dims = [0, 1]", x).ToDoubles());
        Assert.Equal(new[] { 2.0, 4.0 }, RT.RunOne("tensor.reduce_mean", new[] { "tensor<2x2xbf16>" }, "tensor<2xbf16>", "dims = [0]", x).ToDoubles());
        Assert.Equal(new[] { 3.0, 9.0 }, RT.RunOne("tensor.reduce_sum", new[] { "tensor<2x2xbf16>" }, "tensor<2x1xbf16>", "dims = [1], keepdim", x).ToDoubles());
    }

    [Theory]
    [InlineData("i64", "f64", null)]
    [InlineData("i32", "f32", -1L)]
    [InlineData("i8", "bf16", 0L)]
    [InlineData("i64", "f16", 5L)]
    public void CountValidCountsWhatIsNotIgnored(string labelType, string result, long? ignore)
    {
        var labels = RT.Random($"3x4x5x{labelType}", 50, -3, 8);
        long ig = ignore ?? -100;
        for (long i = 0; i < labels.Count; i += 7) labels.Ints![i] = ig;
        var n = RT.RunOne("tensor.count_valid", new[] { $"tensor<3x4x5x{labelType}>" }, $"tensor<{result}>",
            ignore is null ? "" : $"ignore_index = {ignore}", labels);
        Assert.Equal((double)labels.Ints!.Count(t => t != ig), n.Get(0));
        Assert.Equal(result, n.Type.Element.Name);
    }

    [Fact]
    public void CountValidHandComputedAndRounded()
    {
        // [[1, -100, 3], [-100, -100, 0]]: 3 labels count; with ignore_index = 0, 5 do.
        var labels = RT.Of("2x3xi64", 1, -100, 3, -100, -100, 0);
        Assert.Equal(new[] { 3.0 }, RT.RunOne("tensor.count_valid", new[] { "tensor<2x3xi64>" }, "tensor<f32>", "", labels).ToDoubles());
        Assert.Equal(new[] { 5.0 }, RT.RunOne("tensor.count_valid", new[] { "tensor<2x3xi64>" }, "tensor<f64>", "ignore_index = 0", labels).ToDoubles());
        Assert.Equal(new[] { 0.0 }, RT.RunOne("tensor.count_valid", new[] { "tensor<0xi32>" }, "tensor<f32>", "", RT.Of("0xi32")).ToDoubles());
        // 257 counted labels: bf16 has no 257, the count rounds once (to even: 256).
        var many = RT.Of("257xi64", new double[257]);
        Assert.Equal(new[] { 256.0 }, RT.RunOne("tensor.count_valid", new[] { "tensor<257xi64>" }, "tensor<bf16>", "", many).ToDoubles());
    }
}
