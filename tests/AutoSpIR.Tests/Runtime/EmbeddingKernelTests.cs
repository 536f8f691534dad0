using AutoSpIR.Runtime;

namespace AutoSpIR.Tests.Runtime;

/// <summary>tensor.embedding and tensor.cross_entropy, including their runtime data errors.</summary>
public class EmbeddingKernelTests
{
    [Theory]
    [InlineData("f64", "i64")]
    [InlineData("f32", "i32")]
    [InlineData("bf16", "i64")]
    [InlineData("f16", "i32")]
    public void EmbeddingGathersRows(string elem, string idType)
    {
        long v = 7, h = 3;
        var table = RT.Random($"{v}x{h}x{elem}", 80);
        var ids = RT.Of($"2x3x{idType}", 6, 0, 3, 3, 1, 6);
        var y = RT.RunOne("tensor.embedding", new[] { $"tensor<{v}x{h}x{elem}>", $"tensor<2x3x{idType}>" }, $"tensor<2x3x{h}x{elem}>", "", table, ids);
        for (long i = 0; i < 6; i++)
            for (long c = 0; c < h; c++)
                Assert.Equal(table.Get(ids.Ints![i] * h + c), y.Get(i * h + c));
        var scalar = RT.RunOne("tensor.embedding", new[] { $"tensor<{v}x{h}x{elem}>", $"tensor<{idType}>" }, $"tensor<{h}x{elem}>", "", table, RT.Of(idType, 2));
        Assert.Equal(Enumerable.Range(0, (int)h).Select(c => table.Get(2 * h + c)).ToArray(), scalar.ToDoubles());
    }

    [Theory]
    [InlineData(7)]
    [InlineData(-1)]
    public void EmbeddingIdOutOfRangeIsARuntimeError(long bad)
    {
        var func = RT.Func(RT.OneOp("tensor.embedding", new[] { "tensor<7x2xf32>", "tensor<2x2xi64>" }, "tensor<2x2x2xf32>"));
        var e = Assert.Throws<RuntimeErrorException>(() => Interpreter.Run(func, new[] { RT.Random("7x2xf32", 1), RT.Of("2x2xi64", 0, 1, bad, 2) }));
        Assert.Equal($"'tensor.embedding' op id {bad} at ids[1, 0] is out of range [0, 7) (the rows of operand #0 ('table'))", e.Message);
        Assert.Equal(new Location("t.aspir", 2, 8), e.Location);   // the op name
    }

    /// <summary>The loss by the book: -log(softmax(z)[t]) averaged (or summed) over counted positions.</summary>
    private static double Reference(HostTensor logits, HostTensor labels, long shift, long ignore, bool sum = false)
    {
        long b = logits.Type.Dim(0), s = logits.Type.Dim(1), v = logits.Type.Dim(2);
        double total = 0;
        long n = 0;
        for (long bi = 0; bi < b; bi++)
            for (long si = 0; si < s - shift; si++)
            {
                long t = labels.Ints![bi * s + si + shift];
                if (t == ignore) continue;
                double sumExp = 0;
                for (long c = 0; c < v; c++) sumExp += Math.Exp(logits.Get((bi * s + si) * v + c));
                total += -Math.Log(Math.Exp(logits.Get((bi * s + si) * v + t)) / sumExp);
                n++;
            }
        return sum ? total : total / n;
    }

    [Theory]
    [InlineData("f64", "i64", null, null)]
    [InlineData("f64", "i32", 0L, -1L)]
    [InlineData("f32", "i64", 2L, -100L)]
    [InlineData("bf16", "i64", null, 5L)]
    [InlineData("f16", "i32", 1L, null)]
    public void CrossEntropy(string elem, string labelType, long? shift, long? ignore)
    {
        long b = 2, s = 5, v = 6;
        var logits = RT.Random($"{b}x{s}x{v}x{elem}", 81, -3, 3);
        var labels = RT.Of($"{b}x{s}x{labelType}", 1, 5, -100, 0, 3, 2, -1, 5, 4, 5);
        long sh = shift ?? 1, ig = ignore ?? -100;
        // Make every counted target valid for this case (ignored ones stay as they are).
        for (long i = 0; i < labels.Count; i++)
            if (labels.Ints![i] != ig && (labels.Ints[i] < 0 || labels.Ints[i] >= v)) labels.Ints[i] = i % v;
        var attrs = string.Join(", ", new[] { ignore is null ? null : $"ignore_index = {ignore}", shift is null ? null : $"shift = {shift}" }.Where(a => a is not null));
        var loss = RT.RunOne("tensor.cross_entropy", new[] { $"tensor<{b}x{s}x{v}x{elem}>", $"tensor<{b}x{s}x{labelType}>" }, $"tensor<{elem}>", attrs, logits, labels);
        RT.Check(new[] { Reference(logits, labels, sh, ig) }, loss, rtol: 1e-14);
    }

    [Theory]
    [InlineData("f64", "i64", null)]
    [InlineData("f32", "i32", 0L)]
    [InlineData("bf16", "i64", 2L)]
    public void CrossEntropySum(string elem, string labelType, long? shift)
    {
        long b = 2, s = 5, v = 6;
        var logits = RT.Random($"{b}x{s}x{v}x{elem}", 82, -3, 3);
        var labels = RT.Of($"{b}x{s}x{labelType}", 1, 5, -100, 0, 3, 2, -100, 5, 4, 5);
        var attrs = "reduction = \"sum\"" + (shift is null ? "" : $", shift = {shift}");
        var loss = RT.RunOne("tensor.cross_entropy", new[] { $"tensor<{b}x{s}x{v}x{elem}>", $"tensor<{b}x{s}x{labelType}>" }, $"tensor<{elem}>", attrs, logits, labels);
        RT.Check(new[] { Reference(logits, labels, shift ?? 1, -100, sum: true) }, loss, rtol: 1e-14);
        // Nothing counted: a sum of no terms is 0 (the mean's NaN is 0 / 0).
        var none = RT.RunOne("tensor.cross_entropy", new[] { "tensor<1x2x2xf32>", "tensor<1x2xi64>" }, "tensor<f32>", "reduction = \"sum\"",
            RT.Of("1x2x2xf32", 0, 0, 5, 5), RT.Of("1x2xi64", 0, -100));
        Assert.Equal(0.0, none.Get(0));
    }

    /// <summary>
    /// The identities the sequence-parallel rewrite relies on, bit for bit in f64: the mean is the sum
    /// divided once by count_valid of the shifted labels; cross_entropy {shift = 1} is cross_entropy
    /// {shift = 0} of labels shifted by tensor.shift with fill = ignore_index, and so are their gradients.
    /// </summary>
    [Theory]
    [InlineData(-100L)]
    [InlineData(3L)]
    public void MeanIsTheSumOverTheCountOfTheShiftedLabels(long ignore)
    {
        var func = RT.Func($$"""
            func.func @f(%z: tensor<2x6x7xf64>, %l: tensor<2x6xi64>, %d: tensor<f64>)
                -> (tensor<f64>, tensor<f64>, tensor<f64>, tensor<f64>, tensor<2x6x7xf64>, tensor<2x6x7xf64>, tensor<2x6x7xf64>) {
              %mean = tensor.cross_entropy %z, %l {ignore_index = {{ignore}}} : (tensor<2x6x7xf64>, tensor<2x6xi64>) -> tensor<f64>
              %t = tensor.shift %l {amount = 1, dim = 1, fill = {{ignore}}} : tensor<2x6xi64>
              %sum = tensor.cross_entropy %z, %t {ignore_index = {{ignore}}, reduction = "sum", shift = 0} : (tensor<2x6x7xf64>, tensor<2x6xi64>) -> tensor<f64>
              %n = tensor.count_valid %t {ignore_index = {{ignore}}} : tensor<2x6xi64> -> tensor<f64>
              %q = tensor.div %sum, %n : tensor<f64>
              %m0 = tensor.cross_entropy %z, %t {ignore_index = {{ignore}}, shift = 0} : (tensor<2x6x7xf64>, tensor<2x6xi64>) -> tensor<f64>
              %g = tensor.cross_entropy_grad %z, %l, %d {ignore_index = {{ignore}}} : (tensor<2x6x7xf64>, tensor<2x6xi64>, tensor<f64>) -> tensor<2x6x7xf64>
              %g0 = tensor.cross_entropy_grad %z, %t, %d {ignore_index = {{ignore}}, shift = 0} : (tensor<2x6x7xf64>, tensor<2x6xi64>, tensor<f64>) -> tensor<2x6x7xf64>
              %dn = tensor.div %d, %n : tensor<f64>
              %gs = tensor.cross_entropy_grad %z, %t, %dn {ignore_index = {{ignore}}, reduction = "sum", shift = 0} : (tensor<2x6x7xf64>, tensor<2x6xi64>, tensor<f64>) -> tensor<2x6x7xf64>
              func.return %mean, %q, %m0, %n, %g, %g0, %gs : tensor<f64>, tensor<f64>, tensor<f64>, tensor<f64>, tensor<2x6x7xf64>, tensor<2x6x7xf64>, tensor<2x6x7xf64>
            }
            """);
        var labels = RT.Of("2x6xi64", 4, 6, ignore, 0, 2, 1, 5, ignore, 3, 3, 6, ignore);
        var r = Interpreter.Run(func, new[] { RT.Random("2x6x7xf64", 83, -4, 4), labels, RT.Of("f64", 0.7) }).Results;
        double expectedCount = labels.Ints!.Where((t, i) => i % 6 != 0 && t != ignore).Count();
        Assert.Equal(expectedCount, r[3].Get(0));
        Assert.Equal(r[0].Get(0), r[1].Get(0));
        Assert.Equal(r[0].Get(0), r[2].Get(0));
        Assert.Equal(r[4].F64, r[5].F64);
        Assert.Equal(r[4].F64, r[6].F64);
    }

    [Fact]
    public void CrossEntropyHandComputed()
    {
        // One position counts (shift 1): logits [0, 0] and target 1 -> ln 2. The last label is never a target.
        var loss = RT.RunOne("tensor.cross_entropy", new[] { "tensor<1x2x2xf64>", "tensor<1x2xi64>" }, "tensor<f64>", "",
            RT.Of("1x2x2xf64", 0, 0, 5, 5), RT.Of("1x2xi64", 77, 1));
        RT.Check(new[] { Math.Log(2) }, loss, rtol: 1e-15);
        // Nothing counts: NaN, as PyTorch's mean over no elements.
        var none = RT.RunOne("tensor.cross_entropy", new[] { "tensor<1x2x2xf32>", "tensor<1x2xi64>" }, "tensor<f32>", "",
            RT.Of("1x2x2xf32", 0, 0, 5, 5), RT.Of("1x2xi64", 0, -100));
        Assert.True(double.IsNaN(none.Get(0)));
    }

    [Theory]
    [InlineData(6)]
    [InlineData(-5)]
    public void CrossEntropyTargetOutOfRangeIsARuntimeError(long bad)
    {
        var func = RT.Func(RT.OneOp("tensor.cross_entropy", new[] { "tensor<1x3x6xf32>", "tensor<1x3xi64>" }, "tensor<f32>"));
        var e = Assert.Throws<RuntimeErrorException>(() => Interpreter.Run(func, new[] { RT.Random("1x3x6xf32", 2), RT.Of("1x3xi64", 99, 2, bad) }));
        Assert.Equal($"'tensor.cross_entropy' op target {bad} at labels[0, 2] is out of range [0, 6) (the vocabulary of operand #0 ('logits')) and is not the ignore_index -100", e.Message);
        Assert.Equal(2, e.Location.Line);
    }
}
