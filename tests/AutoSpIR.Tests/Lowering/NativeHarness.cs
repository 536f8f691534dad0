using AutoSpIR.Dialects;
using AutoSpIR.Dialects.Func;
using AutoSpIR.Grammar;
using AutoSpIR.Runtime;
using AutoSpIR.Runtime.Native;
using Xunit;

namespace AutoSpIR.Tests.Lowering;

/// <summary>
/// Differential checks of the native backend against the reference interpreter: the same function, the
/// same seeded arguments, every result compared (floats within a relative tolerance of the largest
/// expected magnitude, integers exactly).
/// </summary>
public static class NativeHarness
{
    /// <summary>
    /// Parses <paramref name="program"/> (its first function with a body runs), fills the arguments with seeded
    /// random values (floats in [-1, 1), integers in [0, <paramref name="intHigh"/>); an argument whose
    /// aspir.name or aspir.param is a key of <paramref name="inputs"/> gets that tensor), runs the interpreter
    /// and the native code (bufferize, memory-plan, convert-tensor-to-loops, convert-to-llvm, LLJIT) and
    /// asserts every result equal within <paramref name="rtol"/>.
    /// </summary>
    public static void AssertMatchesInterpreter(string program, double rtol = 1e-5, long intHigh = 4,
        IReadOnlyDictionary<string, HostTensor>? inputs = null, int seed = 0, bool threads = true)
    {
        var (func, args) = Prepare(program, intHigh, inputs, seed);
        var expected = Interpreter.Run(func, args).Results;
        using var native = NativeProgram.Compile(func, threads);
        var actual = native.Run(args).Results;
        AssertClose(expected, actual, rtol, FuncDialect.SymName(func));
    }

    /// <summary>The program's function and seeded arguments for it.</summary>
    public static (Operation Func, HostTensor[] Args) Prepare(string program, long intHigh = 4,
        IReadOnlyDictionary<string, HostTensor>? inputs = null, int seed = 0)
    {
        var diag = new DiagnosticEngine();
        var module = AspIRParserDriver.ParseAndVerify(program, "native-test.aspir", AllDialects.NewContext(), diag);
        Assert.True(module is not null, string.Join("\n", diag.All.Select(d => d.ToString())));
        var func = module!.Region(0).Ops.First(o => o.Name == "func.func" && !o.Region(0).IsEmpty);
        var rng = new Random(seed);
        var sig = FuncDialect.Signature(func);
        var args = new HostTensor[sig.Inputs.Count];
        for (int i = 0; i < args.Length; i++)
        {
            var attrs = FuncDialect.ArgAttrs(func, i);
            var key = (attrs.Get("aspir.name") as StringAttr)?.Value ?? (attrs.Get("aspir.param") as StringAttr)?.Value;
            if (key is not null && inputs is not null && inputs.TryGetValue(key, out var given))
            {
                args[i] = given;
                continue;
            }
            var type = (TensorType)sig.Inputs[i];
            if (type.Encoding is not null) type = func.Context.Tensor(type.Shape, type.Element);
            var t = new HostTensor(type);
            for (long k = 0; k < t.Count; k++)
                t.Set(k, type.Element.IsFloat ? rng.NextDouble() * 2 - 1 : rng.NextInt64(0, intHigh));
            t.RoundToElementType();
            args[i] = t;
        }
        return (func, args);
    }

    /// <summary>Asserts two result lists equal: floats within rtol of the largest |expected| of each result, integers exactly.</summary>
    public static void AssertClose(IReadOnlyList<HostTensor> expected, IReadOnlyList<HostTensor> actual, double rtol, string what)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int r = 0; r < expected.Count; r++)
        {
            var (e, a) = (expected[r], actual[r]);
            Assert.Equal(e.Type.ToString(), a.Type.ToString());
            double scale = 0, worst = 0;
            long worstAt = -1;
            for (long k = 0; k < e.Count; k++) scale = Math.Max(scale, Math.Abs(e.Get(k)));
            for (long k = 0; k < e.Count; k++)
            {
                double d = Math.Abs(e.Get(k) - a.Get(k));
                if (double.IsNaN(a.Get(k)) != double.IsNaN(e.Get(k))) d = double.PositiveInfinity;
                if (d > worst) (worst, worstAt) = (d, k);
            }
            double rel = worst / Math.Max(scale, 1e-300);
            bool ok = e.Type.Element.IsFloat ? rel <= rtol || worst == 0 : worst == 0;
            Assert.True(ok, $"{what}: result #{r} ({e.Type}) differs from the interpreter by {worst:G3} at element {worstAt} " +
                            $"(expected {(worstAt >= 0 ? e.Get(worstAt) : 0):G9}, got {(worstAt >= 0 ? a.Get(worstAt) : 0):G9}; relative {rel:G3} > {rtol:G3})");
        }
    }
}
