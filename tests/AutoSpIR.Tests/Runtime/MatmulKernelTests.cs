using System.Numerics;
using AutoSpIR.Runtime;
using AutoSpIR.Runtime.Kernels;

namespace AutoSpIR.Tests.Runtime;

/// <summary>tensor.matmul, tensor.linear and tensor.linear_wgrad against textbook loops, through OpenBLAS and the C# fallback.</summary>
public class MatmulKernelTests
{
    private static KernelTable Table(Blas.Backend backend)
    {
        var t = new KernelTable();
        new MatmulKernels(backend).Register(t);
        return t;
    }

    /// <summary>f64: relative to the sum of |products|; f32 (sgemm accumulates in f32) likewise, looser; bf16/f16: exact after one rounding.</summary>
    private static void CheckDot(double expected, double absSum, double actual, ScalarType elem, string where)
    {
        switch (elem.Kind)
        {
            case ScalarKind.F64:
                Assert.True(Math.Abs(actual - expected) <= 1e-14 * absSum + 1e-300, $"{where}: expected {expected:R}, got {actual:R}");
                break;
            case ScalarKind.F32:
                Assert.True(Math.Abs(actual - expected) <= 1e-6 * absSum + 1e-30, $"{where}: expected {expected:R}, got {actual:R}");
                Assert.Equal((double)(float)actual, actual);
                break;
            default:
                Assert.True(Context.RoundTo(expected, elem) == actual, $"{where}: expected {Context.RoundTo(expected, elem):R} ({expected:R} rounded to {elem}), got {actual:R}");
                break;
        }
    }

    public static TheoryData<string, bool, Blas.Backend> MatmulCases()
    {
        var d = new TheoryData<string, bool, Blas.Backend>();
        foreach (var t in RT.FloatTypes)
            foreach (var tb in new[] { false, true })
                foreach (var be in new[] { Blas.Backend.OpenBlas, Blas.Backend.Fallback })
                    d.Add(t, tb, be);
        return d;
    }

    [Theory]
    [MemberData(nameof(MatmulCases))]
    public void BatchedMatmul(string elem, bool transposeB, Blas.Backend backend)
    {
        long batch = 2, m = 3, k = 5, n = 4;
        string at = $"{batch}x{m}x{k}x{elem}", bt = transposeB ? $"{batch}x{n}x{k}x{elem}" : $"{batch}x{k}x{n}x{elem}", ct = $"{batch}x{m}x{n}x{elem}";
        var a = RT.Random(at, 10);
        var b = RT.Random(bt, 11);
        var func = RT.Func(RT.OneOp("tensor.matmul", new[] { $"tensor<{at}>", $"tensor<{bt}>" }, $"tensor<{ct}>", transposeB ? "transpose_b" : ""));
        var c = Interpreter.Run(func, new[] { a, b }, Table(backend)).Results[0];
        for (long bi = 0; bi < batch; bi++)
            for (long i = 0; i < m; i++)
                for (long j = 0; j < n; j++)
                {
                    double sum = 0, abs = 0;
                    for (long p = 0; p < k; p++)
                    {
                        double x = a.Get((bi * m + i) * k + p);
                        double y = transposeB ? b.Get((bi * n + j) * k + p) : b.Get((bi * k + p) * n + j);
                        sum += x * y;
                        abs += Math.Abs(x * y);
                    }
                    CheckDot(sum, abs, c.Get((bi * m + i) * n + j), c.Type.Element, $"c[{bi}, {i}, {j}]");
                }
    }

    public static TheoryData<string, bool, Blas.Backend> LinearCases() => MatmulCases();

    [Theory]
    [MemberData(nameof(LinearCases))]
    public void Linear(string elem, bool bias, Blas.Backend backend)
    {
        long rows0 = 2, rows1 = 3, inF = 6, outF = 4;
        string xt = $"{rows0}x{rows1}x{inF}x{elem}", wt = $"{outF}x{inF}x{elem}", bt = $"{outF}x{elem}", yt = $"{rows0}x{rows1}x{outF}x{elem}";
        var x = RT.Random(xt, 20);
        var w = RT.Random(wt, 21);
        var b = RT.Random(bt, 22);
        var types = bias ? new[] { $"tensor<{xt}>", $"tensor<{wt}>", $"tensor<{bt}>" } : new[] { $"tensor<{xt}>", $"tensor<{wt}>" };
        var func = RT.Func(RT.OneOp("tensor.linear", types, $"tensor<{yt}>"));
        var y = Interpreter.Run(func, bias ? new[] { x, w, b } : new[] { x, w }, Table(backend)).Results[0];
        for (long r = 0; r < rows0 * rows1; r++)
            for (long o = 0; o < outF; o++)
            {
                double sum = bias ? b.Get(o) : 0, abs = Math.Abs(sum);
                for (long p = 0; p < inF; p++)
                {
                    sum += x.Get(r * inF + p) * w.Get(o * inF + p);
                    abs += Math.Abs(x.Get(r * inF + p) * w.Get(o * inF + p));
                }
                CheckDot(sum, abs, y.Get(r * outF + o), y.Type.Element, $"y[{r}, {o}]");
            }
    }

    public static TheoryData<string, int, Blas.Backend> LinearWgradCases()
    {
        var d = new TheoryData<string, int, Blas.Backend>();
        foreach (var t in RT.FloatTypes)
            foreach (var rank in new[] { 2, 3, 4 })
                foreach (var be in new[] { Blas.Backend.OpenBlas, Blas.Backend.Fallback })
                    d.Add(t, rank, be);
        return d;
    }

    /// <summary>dw[n, k] = sum over every leading position m of dy[m, n] * x[m, k], by the loop.</summary>
    [Theory]
    [MemberData(nameof(LinearWgradCases))]
    public void LinearWgrad(string elem, int rank, Blas.Backend backend)
    {
        var lead = new long[] { 2, 3, 2 }[..(rank - 1)];
        long n = 4, kk = 5, m = lead.Aggregate(1L, (a, b) => a * b);
        string l = string.Join("x", lead), dyt = $"{l}x{n}x{elem}", xt = $"{l}x{kk}x{elem}", wt = $"{n}x{kk}x{elem}";
        var dy = RT.Random(dyt, 30);
        var x = RT.Random(xt, 31);
        var func = RT.Func(RT.OneOp("tensor.linear_wgrad", new[] { $"tensor<{dyt}>", $"tensor<{xt}>" }, $"tensor<{wt}>"));
        var dw = Interpreter.Run(func, new[] { dy, x }, Table(backend)).Results[0];
        for (long o = 0; o < n; o++)
            for (long i = 0; i < kk; i++)
            {
                double sum = 0, abs = 0;
                for (long p = 0; p < m; p++)
                {
                    double prod = dy.Get(p * n + o) * x.Get(p * kk + i);
                    sum += prod;
                    abs += Math.Abs(prod);
                }
                CheckDot(sum, abs, dw.Get(o * kk + i), dw.Type.Element, $"dw[{o}, {i}]");
            }
    }

    [Fact]
    public void LinearWgradHandComputed()
    {
        // dy = [[1, 2], [3, 4]] (rows m), x = [[1, 0, -1], [2, 1, 0]]: dw = dy^T x = [[7, 3, -1], [10, 4, -2]].
        var dw = RT.RunOne("tensor.linear_wgrad", new[] { "tensor<1x2x2xf64>", "tensor<1x2x3xf64>" }, "tensor<2x3xf64>", "",
            RT.Of("1x2x2xf64", 1, 2, 3, 4), RT.Of("1x2x3xf64", 1, 0, -1, 2, 1, 0));
        Assert.Equal(new[] { 7.0, 3, -1, 10, 4, -2 }, dw.ToDoubles());
        // No rows: zeros.
        var empty = RT.RunOne("tensor.linear_wgrad", new[] { "tensor<0x2xf32>", "tensor<0x3xf32>" }, "tensor<2x3xf32>", "",
            RT.Of("0x2xf32"), RT.Of("0x3xf32"));
        Assert.All(empty.ToDoubles(), v => Assert.Equal(0.0, v));
    }

    /// <summary>linear_wgrad runs the GEMM the flattened reshape + transpose + matmul ran: the same bits.</summary>
    [Theory]
    [InlineData("f64")]
    [InlineData("f32")]
    [InlineData("bf16")]
    public void LinearWgradEqualsTheFlattenedMatmul(string elem)
    {
        var func = RT.Func($$"""
            func.func @f(%dy: tensor<2x5x6x{{elem}}>, %x: tensor<2x5x7x{{elem}}>) -> (tensor<6x7x{{elem}}>, tensor<6x7x{{elem}}>) {
              %w = tensor.linear_wgrad %dy, %x : (tensor<2x5x6x{{elem}}>, tensor<2x5x7x{{elem}}>) -> tensor<6x7x{{elem}}>
              %dy2 = tensor.reshape %dy : tensor<2x5x6x{{elem}}> -> tensor<10x6x{{elem}}>
              %x2 = tensor.reshape %x : tensor<2x5x7x{{elem}}> -> tensor<10x7x{{elem}}>
              %t = tensor.transpose %dy2 {perm = [1, 0]} : tensor<10x6x{{elem}}> -> tensor<6x10x{{elem}}>
              %m = tensor.matmul %t, %x2 : (tensor<6x10x{{elem}}>, tensor<10x7x{{elem}}>) -> tensor<6x7x{{elem}}>
              func.return %w, %m : tensor<6x7x{{elem}}>, tensor<6x7x{{elem}}>
            }
            """);
        var r = Interpreter.Run(func, new[] { RT.Random($"2x5x6x{elem}", 32), RT.Random($"2x5x7x{elem}", 33) }).Results;
        Assert.Equal(r[1].ToDoubles(), r[0].ToDoubles());
    }

    [Fact]
    public void LinearHandComputed()
    {
        // x = [[1, 2]], W = [[1, 0], [3, -1], [0.5, 0.5]], b = [10, 20, 30]: y = [11, 21, 31.5].
        var y = RT.RunOne("tensor.linear", new[] { "tensor<1x2xf64>", "tensor<3x2xf64>", "tensor<3xf64>" }, "tensor<1x3xf64>", "",
            RT.Of("1x2xf64", 1, 2), RT.Of("3x2xf64", 1, 0, 3, -1, 0.5, 0.5), RT.Of("3xf64", 10, 20, 30));
        Assert.Equal(new[] { 11.0, 21.0, 31.5 }, y.ToDoubles());
    }

    [Theory]
    [InlineData("i64")]
    [InlineData("i32")]
    [InlineData("i8")]
    public void IntegerMatmulWraps(string elem)
    {
        string at = $"2x3x{elem}", bt = $"3x2x{elem}", ct = $"2x2x{elem}";
        var a = RT.Of(at, 100, -7, 3, 2_000_000, 5, -1);
        var b = RT.Of(bt, 90, 1, 2, 3_000_000, -4, 6);
        if (elem == "i8")
        {
            a = RT.Of(at, 100, -7, 3, 20, 5, -1);
            b = RT.Of(bt, 90, 1, 2, 30, -4, 6);
        }
        var c = RT.RunOne("tensor.matmul", new[] { $"tensor<{at}>", $"tensor<{bt}>" }, $"tensor<{ct}>", "", a, b);
        int bits = elem switch { "i64" => 64, "i32" => 32, _ => 8 };
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++)
            {
                BigInteger s = 0;
                for (int p = 0; p < 3; p++) s += (BigInteger)a.Ints![i * 3 + p] * b.Ints![p * 2 + j];
                var mod = BigInteger.One << bits;
                var wrapped = ((s % mod) + mod) % mod;
                if (wrapped >= mod / 2) wrapped -= mod;
                Assert.Equal((long)wrapped, c.Ints![i * 2 + j]);
            }
    }

    [Fact]
    public void EmptyContractionGivesZerosOrBias()
    {
        var c = RT.RunOne("tensor.matmul", new[] { "tensor<2x0xf32>", "tensor<0x3xf32>" }, "tensor<2x3xf32>", "",
            RT.Of("2x0xf32"), RT.Of("0x3xf32"));
        Assert.All(c.ToDoubles(), v => Assert.Equal(0.0, v));
        var y = RT.RunOne("tensor.linear", new[] { "tensor<2x0xf64>", "tensor<3x0xf64>", "tensor<3xf64>" }, "tensor<2x3xf64>", "",
            RT.Of("2x0xf64"), RT.Of("3x0xf64"), RT.Of("3xf64", 1, 2, 3));
        Assert.Equal(new[] { 1.0, 2, 3, 1, 2, 3 }, y.ToDoubles());
    }

    [Fact]
    public void OpenBlasIsLoaded() =>
        Assert.True(Blas.Available, $"{Blas.LibraryName} cannot be loaded: run bin/setup (it installs libopenblas0-pthread)");

    [Fact]
    public void MissingLibraryFallsBackWithAClearMessage()
    {
        var log = new StringWriter();
        Assert.False(Blas.Probe("libautospir-no-such-blas.so.0", log));
        var text = log.ToString();
        Assert.Contains("cannot load libautospir-no-such-blas.so.0", text);
        Assert.Contains("fall back to a slower C# loop", text);
        Assert.Contains("libopenblas0-pthread", text);
        Assert.Single(text.Trim().Split('\n'));
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(7, 13, 9)]
    [InlineData(33, 65, 130)]
    [InlineData(70, 520, 129)]
    public void BlasAndFallbackAgree(int m, int n, int k)
    {
        var rng = new System.Random(m * 1000 + n * 10 + k);
        foreach (var transB in new[] { false, true })
        {
            var a = Enumerable.Range(0, m * k).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
            var b = Enumerable.Range(0, k * n).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
            var c0 = Enumerable.Range(0, m * n).Select(_ => rng.NextDouble()).ToArray();
            foreach (var accumulate in new[] { false, true })
            {
                var blas = (double[])c0.Clone();
                var fb = (double[])c0.Clone();
                Blas.Gemm(transB, m, n, k, a, b, blas, accumulate, Blas.Backend.OpenBlas);
                Blas.Gemm(transB, m, n, k, a, b, fb, accumulate, Blas.Backend.Fallback);
                var af = a.Select(v => (float)v).ToArray();
                var bf = b.Select(v => (float)v).ToArray();
                var blasF = c0.Select(v => (float)v).ToArray();
                var fbF = c0.Select(v => (float)v).ToArray();
                Blas.Gemm(transB, m, n, k, af, bf, blasF, accumulate, Blas.Backend.OpenBlas);
                Blas.Gemm(transB, m, n, k, af, bf, fbF, accumulate, Blas.Backend.Fallback);
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++)
                    {
                        // An independent loop for the scale of the rounding error.
                        double exact = accumulate ? c0[i * n + j] : 0, abs = Math.Abs(exact);
                        for (int p = 0; p < k; p++)
                        {
                            double prod = a[i * k + p] * (transB ? b[j * k + p] : b[p * n + j]);
                            exact += prod;
                            abs += Math.Abs(prod);
                        }
                        int at = i * n + j;
                        Assert.True(Math.Abs(blas[at] - exact) <= 1e-14 * abs, $"BLAS f64 [{i}, {j}]");
                        Assert.True(Math.Abs(fb[at] - exact) <= 1e-14 * abs, $"fallback f64 [{i}, {j}]");
                        Assert.True(Math.Abs(blasF[at] - exact) <= 2e-6 * abs, $"BLAS f32 [{i}, {j}]");
                        Assert.True(Math.Abs(fbF[at] - exact) <= 2e-6 * abs, $"fallback f32 [{i}, {j}]");
                    }
            }
        }
    }
}
