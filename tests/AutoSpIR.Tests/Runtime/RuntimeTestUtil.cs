using System.Globalization;
using AutoSpIR.Dialects;
using AutoSpIR.Grammar;
using AutoSpIR.Runtime;

namespace AutoSpIR.Tests.Runtime;

/// <summary>
/// Shared helpers of the runtime tests: parse a program, make deterministic inputs, run it,
/// and compare with expectations computed in the test by plain loops in double. Expected
/// values are rounded with <see cref="Context.RoundTo"/> (the IR's rounding, not the runtime's).
/// </summary>
internal static class RT
{
    /// <summary>Parses and verifies <paramref name="text"/>, returning its first func.func.</summary>
    public static Operation Func(string text)
    {
        var diag = new DiagnosticEngine();
        var module = AspIRParserDriver.ParseAndVerify(text, "t.aspir", AllDialects.NewContext(), diag);
        Assert.True(module is not null, "the test program does not parse:\n" + string.Join("\n", diag.All) + "\n" + text);
        return module!.Region(0).Ops.First(o => o.Name == "func.func");
    }

    /// <summary>Type of argument #i of a function.</summary>
    public static TensorType ArgType(Operation func, int i) => (TensorType)func.Region(0).Blocks[0].Arguments[i].Type;

    /// <summary>A one-op program in the generic form: <c>@f(%a0: T0, ...) -> R { %r = "op"(%a0, ...) {attrs} ... }</c>.</summary>
    public static string OneOp(string op, string[] operandTypes, string resultType, string attrs = "")
    {
        var args = string.Join(", ", operandTypes.Select((t, i) => $"%a{i}: {t}"));
        var uses = string.Join(", ", operandTypes.Select((_, i) => $"%a{i}"));
        var attrText = attrs.Length == 0 ? "" : $" {{{attrs}}}";
        return $"func.func @f({args}) -> {resultType} {{\n"
               + $"  %r = \"{op}\"({uses}){attrText} : ({string.Join(", ", operandTypes)}) -> {resultType}\n"
               + $"  func.return %r : {resultType}\n}}\n";
    }

    /// <summary>Runs a one-op program on the given inputs and returns its result.</summary>
    public static HostTensor RunOne(string op, string[] operandTypes, string resultType, string attrs, params HostTensor[] inputs) =>
        Interpreter.Run(Func(OneOp(op, operandTypes, resultType, attrs)), inputs).Results[0];

    /// <summary>A tensor type from text (<c>2x3xf32</c> or <c>f32</c>), in a fresh context.</summary>
    public static TensorType T(string spec)
    {
        var ctx = AllDialects.NewContext();
        var parts = spec.Split('x');
        var elem = ctx.LookupScalar(parts[^1]) ?? throw new ArgumentException(spec);
        return ctx.Tensor(parts[..^1].Select(long.Parse).ToArray(), elem);
    }

    /// <summary>Deterministic values in [lo, hi), rounded to the element type (integers: floor).</summary>
    public static HostTensor Random(string spec, int seed, double lo = -2, double hi = 2)
    {
        var type = T(spec);
        var rng = new System.Random(seed);
        var t = new HostTensor(type);
        for (long i = 0; i < t.Count; i++)
        {
            double v = lo + (hi - lo) * rng.NextDouble();
            if (t.Ints is not null) t.Ints[i] = (long)Math.Floor(v);
            else if (t.F64 is not null) t.F64[i] = v;
            else t.F32![i] = (float)Context.RoundTo(v, type.Element);
        }
        return t;
    }

    /// <summary>A tensor from explicit values (rounded with the IR's rounding).</summary>
    public static HostTensor Of(string spec, params double[] values)
    {
        var type = T(spec);
        Assert.Equal(type.NumElements, values.LongLength);
        var t = new HostTensor(type);
        for (long i = 0; i < t.Count; i++)
        {
            if (t.Ints is not null) t.Ints[i] = (long)values[i];
            else if (t.F64 is not null) t.F64[i] = values[i];
            else t.F32![i] = (float)Context.RoundTo(values[i], type.Element);
        }
        return t;
    }

    /// <summary>
    /// Checks <paramref name="actual"/> against exact values computed in double: f64 within a relative
    /// <paramref name="rtol"/> (plus <paramref name="atol"/>); f32/bf16/f16 equal to the once-rounded value, or
    /// within <paramref name="ulps"/> units in the last place of the element type. Every stored value must be
    /// a value of the element type.
    /// </summary>
    public static void Check(double[] expected, HostTensor actual, int ulps = 0, double rtol = 1e-13, double atol = 1e-300)
    {
        Assert.Equal(expected.LongLength, actual.Count);
        var elem = actual.Type.Element;
        for (long i = 0; i < expected.LongLength; i++)
        {
            double a = actual.Get(i), e = expected[i];
            if (double.IsNaN(e))
            {
                Assert.True(double.IsNaN(a), $"element {i}: expected NaN, got {a}");
                continue;
            }
            if (elem.Kind == ScalarKind.F64 || elem.IsInteger)
            {
                Assert.True(a == e || Math.Abs(a - e) <= rtol * Math.Abs(e) + atol,
                    $"element {i}: expected {e:R}, got {a:R} (difference {Math.Abs(a - e):E3}, allowed {rtol * Math.Abs(e) + atol:E3})");
                continue;
            }
            Assert.True(Context.RoundTo(a, elem) == a, $"element {i}: {a:R} is not a value of {elem}");
            double r = Context.RoundTo(e, elem);
            if (ulps == 0)
                Assert.True(r == a, $"element {i}: expected {r:R} ({e:R} rounded to {elem}), got {a:R}");
            else
                Assert.True(Math.Abs(a - r) <= ulps * Ulp(r, elem), $"element {i}: expected {r:R} within {ulps} ulp of {elem}, got {a:R}");
        }
    }

    /// <summary>The spacing of <paramref name="elem"/> values at <paramref name="v"/>.</summary>
    public static double Ulp(double v, ScalarType elem)
    {
        int mant = elem.Kind switch { ScalarKind.F32 => 23, ScalarKind.BF16 => 7, ScalarKind.F16 => 10, _ => 52 };
        int minExp = elem.Kind switch { ScalarKind.F16 => -14, ScalarKind.F64 => -1022, _ => -126 };
        int e = v == 0 || double.IsInfinity(v) ? minExp : Math.Max(minExp, Math.ILogB(v));
        return Math.ScaleB(1.0, e - mant);
    }

    /// <summary>The row-major multi-index of a flat position.</summary>
    public static long[] Unflatten(long flat, long[] shape)
    {
        var idx = new long[shape.Length];
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            idx[i] = flat % shape[i];
            flat /= shape[i];
        }
        return idx;
    }

    /// <summary>The flat position of a multi-index.</summary>
    public static long Flatten(long[] idx, long[] shape)
    {
        long f = 0;
        for (int i = 0; i < shape.Length; i++) f = f * shape[i] + idx[i];
        return f;
    }

    public static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>The element types the numeric tests run in.</summary>
    public static readonly string[] FloatTypes = { "f64", "f32", "bf16", "f16" };
}
