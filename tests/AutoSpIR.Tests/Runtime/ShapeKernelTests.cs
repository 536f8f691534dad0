using AutoSpIR.Runtime;

namespace AutoSpIR.Tests.Runtime;

/// <summary>reshape, transpose, broadcast, slice, concat, shift, cast, constant: index formulas of the dialect, checked element by element.</summary>
public class ShapeKernelTests
{
    public static TheoryData<string> AllTypes() => new() { "f64", "f32", "bf16", "f16", "i64", "i32", "i8" };

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void ReshapeKeepsRowMajorOrder(string elem)
    {
        var x = RT.Random($"2x3x4x{elem}", 30, -50, 50);
        var y = RT.RunOne("tensor.reshape", new[] { $"tensor<2x3x4x{elem}>" }, $"tensor<6x4x{elem}>", "", x);
        Assert.Equal(new long[] { 6, 4 }, y.Type.Shape.ToArray());
        Assert.Equal(x.ToDoubles(), y.ToDoubles());
        Assert.NotSame(x.F64 ?? (object?)x.F32 ?? x.Ints, y.F64 ?? (object?)y.F32 ?? y.Ints);
    }

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void Transpose(string elem)
    {
        long[] xs = { 2, 3, 4, 5 };
        long[] perm = { 0, 2, 3, 1 };
        long[] ys = perm.Select(p => xs[p]).ToArray();
        var x = RT.Random($"2x3x4x5x{elem}", 31, -50, 50);
        var y = RT.RunOne("tensor.transpose", new[] { $"tensor<2x3x4x5x{elem}>" }, $"tensor<{string.Join("x", ys)}x{elem}>", "perm = [0, 2, 3, 1]", x);
        for (long f = 0; f < y.Count; f++)
        {
            var j = RT.Unflatten(f, ys);
            var k = new long[4];
            for (int i = 0; i < 4; i++) k[perm[i]] = j[i];
            Assert.Equal(x.Get(RT.Flatten(k, xs)), y.Get(f));
        }
    }

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void Broadcast(string elem)
    {
        // x [3, 1] -> y [2, 3, 4] with dims = [1, -1]: x dim 0 -> y dim 1, x dim 1 (size 1) repeated along y dim 2.
        var x = RT.Random($"3x1x{elem}", 32, -50, 50);
        var y = RT.RunOne("tensor.broadcast", new[] { $"tensor<3x1x{elem}>" }, $"tensor<2x3x4x{elem}>", "dims = [1, -1], shape = [2, 3, 4]", x);
        long[] ys = { 2, 3, 4 };
        for (long f = 0; f < y.Count; f++)
        {
            var j = RT.Unflatten(f, ys);
            Assert.Equal(x.Get(j[1]), y.Get(f));
        }
        var s = RT.RunOne("tensor.broadcast", new[] { $"tensor<{elem}>" }, $"tensor<2x2x{elem}>", "dims = [], shape = [2, 2]", RT.Of(elem, 7));
        Assert.Equal(new[] { 7.0, 7, 7, 7 }, s.ToDoubles());
    }

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void Slice(string elem)
    {
        var x = RT.Random($"4x5x6x{elem}", 33, -50, 50);
        var y = RT.RunOne("tensor.slice", new[] { $"tensor<4x5x6x{elem}>" }, $"tensor<2x3x1x{elem}>", "offsets = [1, 2, 5], sizes = [2, 3, 1]", x);
        long[] xs = { 4, 5, 6 }, ys = { 2, 3, 1 }, off = { 1, 2, 5 };
        for (long f = 0; f < y.Count; f++)
        {
            var j = RT.Unflatten(f, ys);
            Assert.Equal(x.Get(RT.Flatten(j.Select((v, i) => v + off[i]).ToArray(), xs)), y.Get(f));
        }
    }

    [Theory]
    [InlineData("f32", 1)]
    [InlineData("bf16", -1)]
    [InlineData("i64", 0)]
    [InlineData("f64", -3)]
    public void Concat(string elem, int dim)
    {
        long[][] shapes = dim switch
        {
            0 or -3 => new[] { new long[] { 1, 2, 3 }, new long[] { 2, 2, 3 }, new long[] { 3, 2, 3 } },
            1 => new[] { new long[] { 2, 1, 3 }, new long[] { 2, 4, 3 }, new long[] { 2, 2, 3 } },
            _ => new[] { new long[] { 2, 2, 1 }, new long[] { 2, 2, 3 }, new long[] { 2, 2, 2 } },
        };
        int d = dim < 0 ? dim + 3 : dim;
        var inputs = shapes.Select((s, i) => RT.Random($"{string.Join("x", s)}x{elem}", 40 + i, -50, 50)).ToArray();
        var ys = (long[])shapes[0].Clone();
        ys[d] = shapes.Sum(s => s[d]);
        var y = RT.RunOne("tensor.concat", shapes.Select(s => $"tensor<{string.Join("x", s)}x{elem}>").ToArray(),
            $"tensor<{string.Join("x", ys)}x{elem}>", $"dim = {dim}", inputs);
        for (long f = 0; f < y.Count; f++)
        {
            var j = RT.Unflatten(f, ys);
            int k = 0;
            while (j[d] >= shapes[k][d]) j[d] -= shapes[k++][d];
            Assert.Equal(inputs[k].Get(RT.Flatten(j, shapes[k])), y.Get(f));
        }
    }

    [Fact]
    public void ConstantSplatDenseAndInt()
    {
        var text = """
            func.func @f() -> (tensor<2x2xbf16>, tensor<2x2xi32>, tensor<3xf64>, tensor<i1>) {
              %a = tensor.constant dense<0.1> : tensor<2x2xbf16>
              %b = tensor.constant dense<[[1, -2], [3, 4]]> : tensor<2x2xi32>
              %c = tensor.constant dense<[1.5, -2.0, 0.1]> : tensor<3xf64>
              %d = tensor.constant dense<true> : tensor<i1>
              func.return %a, %b, %c, %d : tensor<2x2xbf16>, tensor<2x2xi32>, tensor<3xf64>, tensor<i1>
            }
            """;
        var r = Interpreter.Run(RT.Func(text), Array.Empty<HostTensor>()).Results;
        double bf = 0.10009765625;   // the bf16 nearest to 0.1
        Assert.Equal(new[] { bf, bf, bf, bf }, r[0].ToDoubles());
        Assert.Equal(new long[] { 1, -2, 3, 4 }, r[1].Ints);
        Assert.Equal(new[] { 1.5, -2.0, 0.1 }, r[2].F64);
        Assert.Equal(new long[] { 1 }, r[3].Ints);
    }

    // ------------------------------------------------------------------ cast

    [Fact]
    public void CastFloatToFloatRoundsToNearestEven()
    {
        // f32 values: 1 + 2^-8 (bf16 tie -> 1; exact in f16), 1 + 3*2^-8 (bf16 tie -> 1 + 2^-6), 65520 (a tie -> 65536, inf in f16), 1/3.
        var x = RT.Of("4xf32", 1 + Math.ScaleB(1, -8), 1 + 3 * Math.ScaleB(1, -8), 65520, 1.0 / 3);
        var bf = RT.RunOne("tensor.cast", new[] { "tensor<4xf32>" }, "tensor<4xbf16>", "", x);
        Assert.Equal(new[] { 1.0, 1 + Math.ScaleB(1, -6), 65536, 0.333984375 }, bf.ToDoubles());
        var h = RT.RunOne("tensor.cast", new[] { "tensor<4xf32>" }, "tensor<4xf16>", "", x);
        Assert.Equal(new[] { 1 + Math.ScaleB(1, -8), 1 + 3 * Math.ScaleB(1, -8), double.PositiveInfinity, 0.333251953125 }, h.ToDoubles());
        var d = RT.RunOne("tensor.cast", new[] { "tensor<4xbf16>" }, "tensor<4xf64>", "", bf);
        Assert.Equal(bf.ToDoubles(), d.F64);
        var f = RT.RunOne("tensor.cast", new[] { "tensor<2xf64>" }, "tensor<2xf32>", "", RT.Of("2xf64", 0.1, 1e300));
        Assert.Equal(new[] { (double)0.1f, double.PositiveInfinity }, f.ToDoubles());
    }

    [Fact]
    public void CastFloatToIntTruncatesTowardZero()
    {
        var x = RT.Of("6xf64", 2.9, -2.9, 0.5, -0.5, 2147483647.9, -2147483648.7);
        var y = RT.RunOne("tensor.cast", new[] { "tensor<6xf64>" }, "tensor<6xi32>", "", x);
        Assert.Equal(new long[] { 2, -2, 0, 0, 2147483647, -2147483648 }, y.Ints);
        var z = RT.RunOne("tensor.cast", new[] { "tensor<3xf32>" }, "tensor<3xi64>", "", RT.Of("3xf32", 1e18, -9.2233720368547758e18, 3.5));
        Assert.Equal(new long[] { 999999984306749440, long.MinValue, 3 }, z.Ints);
        var b = RT.RunOne("tensor.cast", new[] { "tensor<4xf32>" }, "tensor<4xi1>", "", RT.Of("4xf32", 0, -0.0, 0.25, -3));
        Assert.Equal(new long[] { 0, 0, 1, 1 }, b.Ints);
    }

    [Theory]
    [InlineData(double.NaN, "i32", "NaN")]
    [InlineData(double.PositiveInfinity, "i64", "inf")]
    [InlineData(2147483648.0, "i32", "out of its range")]
    [InlineData(128.0, "i8", "out of its range")]
    [InlineData(9.2233720368547758e18, "i64", "out of its range")]
    public void CastOfUnrepresentableFloatIsARuntimeError(double value, string to, string what)
    {
        var func = RT.Func(RT.OneOp("tensor.cast", new[] { "tensor<2xf64>" }, $"tensor<2x{to}>"));
        var e = Assert.Throws<RuntimeErrorException>(() => Interpreter.Run(func, new[] { RT.Of("2xf64", 1, value) }));
        Assert.Contains("'tensor.cast' op", e.Message);
        Assert.Contains("element [1]", e.Message);
        Assert.Contains(what, e.Message);
        Assert.Equal(2, e.Location.Line);
    }

    [Fact]
    public void CastIntegers()
    {
        var x = RT.Of("5xi64", 300, -129, 4294967297, 0, -1);
        Assert.Equal(new long[] { 44, 127, 1, 0, -1 }, RT.RunOne("tensor.cast", new[] { "tensor<5xi64>" }, "tensor<5xi8>", "", x).Ints);
        Assert.Equal(new long[] { 300, -129, 1, 0, -1 }, RT.RunOne("tensor.cast", new[] { "tensor<5xi64>" }, "tensor<5xi32>", "", x).Ints);
        Assert.Equal(new long[] { 1, 1, 1, 0, 1 }, RT.RunOne("tensor.cast", new[] { "tensor<5xi64>" }, "tensor<5xi1>", "", x).Ints);
        var b = RT.Of("2xi1", 1, 0);
        Assert.Equal(new[] { 1.0, 0 }, RT.RunOne("tensor.cast", new[] { "tensor<2xi1>" }, "tensor<2xf32>", "", b).ToDoubles());
        Assert.Equal(new long[] { 1, 0 }, RT.RunOne("tensor.cast", new[] { "tensor<2xi1>" }, "tensor<2xi64>", "", b).Ints);
    }

    [Fact]
    public void CastIntegerToFloatRoundsOnce()
    {
        // 2^53 + 1 -> f64 2^53 (tie to even); 257 -> bf16 256 (tie to even); 259 -> bf16 260; 2049 -> f16 2048;
        // 16777217 -> f32 16777216; 65520 -> f16 inf; i64 max -> f32 2^63.
        var x = RT.Of("2xi64", 0, 0);
        x.Ints![0] = (1L << 53) + 1;
        x.Ints[1] = long.MaxValue;
        Assert.Equal(new[] { Math.ScaleB(1, 53), Math.ScaleB(1, 63) }, RT.RunOne("tensor.cast", new[] { "tensor<2xi64>" }, "tensor<2xf64>", "", x).F64);
        Assert.Equal(new[] { Math.ScaleB(1, 53), Math.ScaleB(1, 63) }, RT.RunOne("tensor.cast", new[] { "tensor<2xi64>" }, "tensor<2xf32>", "", x).ToDoubles());
        var y = RT.Of("3xi32", 257, 259, -16777217);
        Assert.Equal(new[] { 256.0, 260, -16777216 }, RT.RunOne("tensor.cast", new[] { "tensor<3xi32>" }, "tensor<3xbf16>", "", y).ToDoubles());
        var z = RT.Of("3xi32", 2049, 2051, 65520);
        Assert.Equal(new[] { 2048.0, 2052, double.PositiveInfinity }, RT.RunOne("tensor.cast", new[] { "tensor<3xi32>" }, "tensor<3xf16>", "", z).ToDoubles());
    }

    public static TheoryData<string, int, long> ShiftCases()
    {
        var d = new TheoryData<string, int, long>();
        foreach (var elem in new[] { "f64", "f32", "bf16", "i64", "i32", "i8" })
            foreach (var (dim, amount) in new[] { (1, 1L), (1, -2L), (0, 1L), (-1, 3L), (2, -5L), (1, 4L), (1, 0L), (0, -9L) })
                d.Add(elem, dim, amount);
        return d;
    }

    /// <summary>y[.., s, ..] = x[.., s + amount, ..] inside the dimension, fill outside, over a [3, 4, 5] tensor.</summary>
    [Theory]
    [MemberData(nameof(ShiftCases))]
    public void Shift(string elem, int dim, long amount)
    {
        long[] shape = { 3, 4, 5 };
        bool isFloat = elem.StartsWith('f') || elem == "bf16";
        var fill = isFloat ? "-2.75" : "-100";
        var x = RT.Random($"3x4x5x{elem}", 40, -50, 50);
        var y = RT.RunOne("tensor.shift", new[] { $"tensor<3x4x5x{elem}>" }, $"tensor<3x4x5x{elem}>", $"amount = {amount}, dim = {dim}, fill = {fill}", x);
        int d = dim < 0 ? dim + 3 : dim;
        for (long f = 0; f < y.Count; f++)
        {
            var j = RT.Unflatten(f, shape);
            long src = j[d] + amount;
            if (src < 0 || src >= shape[d])
            {
                Assert.Equal(isFloat ? -2.75 : -100, y.Get(f));
                continue;
            }
            j[d] = src;
            Assert.Equal(x.Get(RT.Flatten(j, shape)), y.Get(f));
        }
    }

    [Fact]
    public void ShiftLabelsForNextTokenPrediction()
    {
        // labels[:, 1:] padded with ignore_index, as the sequence-parallel rewrite of cross_entropy{shift = 1} uses it.
        var labels = RT.Of("2x4xi64", 11, 12, 13, 14, 21, 22, 23, 24);
        var y = RT.RunOne("tensor.shift", new[] { "tensor<2x4xi64>" }, "tensor<2x4xi64>", "amount = 1, dim = 1, fill = -100", labels);
        Assert.Equal(new long[] { 12, 13, 14, -100, 22, 23, 24, -100 }, y.Ints);
        // Negative: toward the back, default fill 0; i1 with fill 1; a float fill rounded once to bf16; everything shifted out.
        var back = RT.RunOne("tensor.shift", new[] { "tensor<4xi32>" }, "tensor<4xi32>", "amount = -1, dim = 0", RT.Of("4xi32", 1, 2, 3, 4));
        Assert.Equal(new long[] { 0, 1, 2, 3 }, back.Ints);
        var bits = RT.RunOne("tensor.shift", new[] { "tensor<3xi1>" }, "tensor<3xi1>", "amount = 2, dim = 0, fill = 1", RT.Of("3xi1", 0, 0, 0));
        Assert.Equal(new long[] { 0, 1, 1 }, bits.Ints);
        var h = RT.RunOne("tensor.shift", new[] { "tensor<2xbf16>" }, "tensor<2xbf16>", "amount = 1, dim = 0, fill = 0.1", RT.Of("2xbf16", 1, 2));
        Assert.Equal(new[] { 2.0, Context.RoundTo(0.1, new Context().BF16) }, h.ToDoubles());
        var all = RT.RunOne("tensor.shift", new[] { "tensor<2x3xf32>" }, "tensor<2x3xf32>", "amount = 9223372036854775807, dim = 1, fill = 7", RT.Random("2x3xf32", 41));
        Assert.All(all.ToDoubles(), v => Assert.Equal(7.0, v));
        var none = RT.RunOne("tensor.shift", new[] { "tensor<2x3xf32>" }, "tensor<2x3xf32>", "amount = -9223372036854775807, dim = 1", RT.Random("2x3xf32", 42));
        Assert.All(none.ToDoubles(), v => Assert.Equal(0.0, v));
    }
}
