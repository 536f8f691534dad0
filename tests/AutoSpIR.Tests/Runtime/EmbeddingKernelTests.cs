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

    /// <summary>The loss by the book: -log(softmax(z)[t]) averaged over counted positions.</summary>
    private static double Reference(HostTensor logits, HostTensor labels, long shift, long ignore)
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
        return total / n;
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
