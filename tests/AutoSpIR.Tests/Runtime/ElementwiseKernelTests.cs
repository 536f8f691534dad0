using AutoSpIR.Runtime;

namespace AutoSpIR.Tests.Runtime;

/// <summary>tensor.add ... tensor.gelu against per-element formulas in double, rounded once.</summary>
public class ElementwiseKernelTests
{
    public static TheoryData<string, string> BinaryCases()
    {
        var d = new TheoryData<string, string>();
        foreach (var op in new[] { "add", "sub", "mul", "div" })
            foreach (var t in RT.FloatTypes) d.Add(op, t);
        return d;
    }

    [Theory]
    [MemberData(nameof(BinaryCases))]
    public void Binary(string op, string elem)
    {
        string type = $"3x5x{elem}";
        var a = RT.Random(type, 1);
        var b = RT.Random(type, 2, 0.25, 3);
        var r = RT.RunOne("tensor." + op, new[] { $"tensor<{type}>", $"tensor<{type}>" }, $"tensor<{type}>", "", a, b);
        var expected = new double[a.Count];
        for (int i = 0; i < expected.Length; i++)
        {
            double x = a.Get(i), y = b.Get(i);
            expected[i] = op switch { "add" => x + y, "sub" => x - y, "mul" => x * y, _ => x / y };
        }
        RT.Check(expected, r);
    }

    public static TheoryData<string, string> UnaryCases()
    {
        var d = new TheoryData<string, string>();
        foreach (var op in new[] { "neg", "exp", "log", "rsqrt", "silu" })
            foreach (var t in RT.FloatTypes) d.Add(op, t);
        return d;
    }

    [Theory]
    [MemberData(nameof(UnaryCases))]
    public void Unary(string op, string elem)
    {
        string type = $"4x6x{elem}";
        bool positive = op is "log" or "rsqrt";
        var x = RT.Random(type, 3, positive ? 0.01 : -6, positive ? 20 : 6);
        var r = RT.RunOne("tensor." + op, new[] { $"tensor<{type}>" }, $"tensor<{type}>", "", x);
        var expected = new double[x.Count];
        for (int i = 0; i < expected.Length; i++)
        {
            double v = x.Get(i);
            expected[i] = op switch
            {
                "neg" => -v,
                "exp" => Math.Exp(v),
                "log" => Math.Log(v),
                "rsqrt" => 1.0 / Math.Sqrt(v),
                _ => v / (1.0 + Math.Exp(-v)),
            };
        }
        // Vectorized exp/log may differ from Math's by an ulp of double; f64 gets a relative tolerance.
        RT.Check(expected, r, rtol: 1e-14);
    }

    [Fact]
    public void ExpLogEdgeValues()
    {
        var x = RT.Of("4xf64", 0, double.NegativeInfinity, 1000, -1000);
        RT.Check(new[] { 1, 0, double.PositiveInfinity, 0 }, RT.RunOne("tensor.exp", new[] { "tensor<4xf64>" }, "tensor<4xf64>", "", x));
        var y = RT.Of("4xf32", 1, 0, -1, double.PositiveInfinity);
        RT.Check(new[] { 0, double.NegativeInfinity, double.NaN, double.PositiveInfinity }, RT.RunOne("tensor.log", new[] { "tensor<4xf32>" }, "tensor<4xf32>", "", y));
        var z = RT.Of("3xf64", -800, 800, 0);
        RT.Check(new[] { -0.0, 800, 0 }, RT.RunOne("tensor.silu", new[] { "tensor<3xf64>" }, "tensor<3xf64>", "", z));
    }

    // gelu(x) = 0.5 x (1 + erf(x / sqrt 2)); the constants come from Python's math.erf (libm).
    private static readonly (double X, double Gelu)[] GeluTable =
    {
        (-3.0, -0.00404969409489031), (-1.0, -0.15865525393145707), (-0.5, -0.15426876936299344), (0.0, 0.0),
        (0.5, 0.34573123063700656), (1.0, 0.8413447460685429), (2.0, 1.9544997361036416), (3.5, 3.4991857982233756),
        (7.0, 6.999999999991041), (0.0009765625, 0.0004886617109460747), (-6.5, -2.610399119085116e-10),
    };

    [Theory]
    [InlineData("f64")]
    [InlineData("f32")]
    [InlineData("bf16")]
    [InlineData("f16")]
    public void Gelu(string elem)
    {
        string type = $"{GeluTable.Length}x{elem}";
        var x = RT.Of(type, GeluTable.Select(g => g.X).ToArray());
        var r = RT.RunOne("tensor.gelu", new[] { $"tensor<{type}>" }, $"tensor<{type}>", "", x);
        // -6.5 loses digits to cancellation in 1 + erf (in libm too): an absolute tolerance covers it.
        RT.Check(GeluTable.Select(g => g.Gelu).ToArray(), r, rtol: 1e-14, atol: 1e-16);
    }

    [Fact]
    public void ErfMatchesLibm()
    {
        (double X, double Erf)[] table =
        {
            (0.1, 0.1124629160182849), (0.5, 0.5204998778130465), (0.9, 0.7969082124228322), (1.0, 0.8427007929497149),
            (1.2, 0.9103139782296353), (2.0, 0.9953222650189527), (3.0, 0.9999779095030014), (4.5, 0.9999999998033839),
            (-2.5, -0.999593047982555), (5.9, 0.9999999999999999), (0, 0), (1e-10, 1.1283791670955126e-10),
        };
        foreach (var (x, e) in table) Assert.True(Math.Abs(Numerics.Erf(x) - e) <= 4.5e-16 * Math.Abs(e) + 1e-300, $"erf({x}) = {Numerics.Erf(x):R}, expected {e:R}");
        Assert.Equal(1.0, Numerics.Erf(double.PositiveInfinity));
        Assert.Equal(-1.0, Numerics.Erf(-30));
        Assert.True(double.IsNaN(Numerics.Erf(double.NaN)));
    }

    [Fact]
    public void Bf16RoundsOnceToNearestEven()
    {
        // 1 + 2^-8 is the midpoint between the bf16 values 1 and 1 + 2^-7: ties go to even (1).
        var a = RT.Of("4xf64", 1, 1, 1 + Math.ScaleB(1, -7), 1);
        var b = RT.Of("4xf64", Math.ScaleB(1, -8), Math.ScaleB(1, -8) + Math.ScaleB(1, -40), Math.ScaleB(1, -8), Math.ScaleB(1, -9));
        var r = RT.RunOne("tensor.add", new[] { "tensor<4xf64>", "tensor<4xf64>" }, "tensor<4xf64>", "", a, b);
        var cast = RT.RunOne("tensor.cast", new[] { "tensor<4xf64>" }, "tensor<4xbf16>", "", r);
        // tie -> even 1; just above the tie -> up (a double-rounding through f32 would give 1);
        // tie above an odd value -> up to 1 + 2^-6; below the midpoint -> down.
        Assert.Equal(new[] { 1.0, 1 + Math.ScaleB(1, -7), 1 + Math.ScaleB(1, -6), 1.0 }, cast.ToDoubles());
    }

    [Fact]
    public void F16RoundsOnceFromDouble()
    {
        double u = Math.ScaleB(1, -11);   // half an f16 ulp at 1
        var x = RT.Of("8xf64", 1 + u, 1 + u + Math.ScaleB(1, -40), 1 + 3 * u, 65520, 65519.99, Math.ScaleB(1, -25),
            Math.ScaleB(1, -25) + Math.ScaleB(1, -50), -(1 + u + Math.ScaleB(1, -40)));
        var h = RT.RunOne("tensor.cast", new[] { "tensor<8xf64>" }, "tensor<8xf16>", "", x);
        Assert.Equal(new[] { 1.0, 1 + 2 * u, 1 + 4 * u, double.PositiveInfinity, 65504, 0, Math.ScaleB(1, -24), -(1 + 2 * u) }, h.ToDoubles());
        Assert.Equal(1 + 2 * u, (double)Numerics.RoundToFloat(1 + u + Math.ScaleB(1, -40), ScalarKind.F16));
    }
}
