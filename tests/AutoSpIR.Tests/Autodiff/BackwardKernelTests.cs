using AutoSpIR.Dialects;
using AutoSpIR.Grammar;
using AutoSpIR.Runtime;

namespace AutoSpIR.Tests.Autodiff;

/// <summary>
/// The kernels of the backward ops (runtime/kernels/BackwardKernels.cs) beyond what the
/// finite-difference properties reach: the narrow float types (each result is the f64 result
/// rounded once), ties of reduce_max, ignored and out-of-range labels and ids, integer pads.
/// </summary>
public class BackwardKernelTests
{
    /// <summary>One backward op: operand types (E is the element type), result types, attributes.</summary>
    public static TheoryData<string, string[], string[], string, string> Ops() => new()
    {
        { "tensor.silu_grad", new[] { "4x5xE", "4x5xE" }, new[] { "4x5xE" }, "", "f32" },
        { "tensor.gelu_grad", new[] { "4x5xE", "4x5xE" }, new[] { "4x5xE" }, "", "bf16" },
        { "tensor.softmax_grad", new[] { "3x4xE", "3x4xE" }, new[] { "3x4xE" }, "dim = 0", "f32" },
        { "tensor.reduce_max_grad", new[] { "3x4xE", "3xE", "3xE" }, new[] { "3x4xE" }, "dims = [1]", "bf16" },
        { "tensor.rms_norm_grad", new[] { "2x3x8xE", "8xE", "2x3x8xE" }, new[] { "2x3x8xE", "8xE" }, "eps = 1.0e-05", "bf16" },
        { "tensor.rope_grad", new[] { "1x3x2x4xE" }, new[] { "1x3x2x4xE" }, "offset = 2, theta = 10000.0", "f32" },
        { "tensor.attention_grad", new[] { "1x3x4x2xE", "1x5x2x2xE", "1x5x2x3xE", "1x3x4x3xE" }, new[] { "1x3x4x2xE", "1x5x2x2xE", "1x5x2x3xE" }, "causal", "bf16" },
        { "tensor.cross_entropy_grad", new[] { "2x3x5xE", "2x3xi64", "E" }, new[] { "2x3x5xE" }, "shift = 1", "f32" },
        { "tensor.cross_entropy_grad", new[] { "2x3x5xE", "2x3xi64", "E" }, new[] { "2x3x5xE" }, "reduction = \"sum\", shift = 0", "bf16" },
        { "tensor.embedding_grad", new[] { "2x3x4xE", "2x3xi64" }, new[] { "5x4xE" }, "num_embeddings = 5", "bf16" },
        { "tensor.pad", new[] { "2x3xE" }, new[] { "3x5xE" }, "high = [0, 2], low = [1, 0]", "f16" },
    };

    [Theory]
    [MemberData(nameof(Ops))]
    public void NarrowTypesRoundTheF64ResultOnce(string op, string[] operands, string[] results, string attrs, string narrow)
    {
        var wide = Run(op, operands, results, attrs, "f64", seed: 7, roundTo: narrow);
        var small = Run(op, operands, results, attrs, narrow, seed: 7, roundTo: narrow);
        for (int r = 0; r < wide.Length; r++)
        {
            var kind = small[r].Type.Element.Kind;
            for (long i = 0; i < wide[r].Count; i++)
            {
                double want = Numerics.RoundToFloat(wide[r].Get(i), kind);
                Assert.True(want.Equals(small[r].Get(i)), $"{op} result #{r} element {i} in {narrow}: {small[r].Get(i)}, expected {want} (the f64 result {wide[r].Get(i)} rounded once)");
            }
        }
    }

    [Fact]
    public void ReduceMaxGradSharesTiesEvenly()
    {
        var dx = RunText("""
            func.func @f(%x: tensor<2x3xf64>, %y: tensor<2xf64>, %dy: tensor<2xf64>) -> tensor<2x3xf64> {
              %dx = tensor.reduce_max_grad %x, %y, %dy {dims = [1]} : (tensor<2x3xf64>, tensor<2xf64>, tensor<2xf64>) -> tensor<2x3xf64>
              func.return %dx : tensor<2x3xf64>
            }
            """, new[] { 1.0, 5.0, 5.0, 2.0, 7.0, 3.0 }, new[] { 5.0, 7.0 }, new[] { 3.0, 4.0 });
        Assert.Equal(new[] { 0.0, 1.5, 1.5, 0.0, 4.0, 0.0 }, dx[0].ToDoubles());
    }

    [Fact]
    public void CrossEntropyGradIsZeroWhenEveryLabelIsIgnored()
    {
        var func = Func("""
            func.func @f(%l: tensor<1x3x2xf64>, %t: tensor<1x3xi64>, %d: tensor<f64>) -> tensor<1x3x2xf64> {
              %g = tensor.cross_entropy_grad %l, %t, %d : (tensor<1x3x2xf64>, tensor<1x3xi64>, tensor<f64>) -> tensor<1x3x2xf64>
              func.return %g : tensor<1x3x2xf64>
            }
            """);
        var g = Interpreter.Run(func, new[]
        {
            Tensor(func, 0, new[] { 1.0, 2, 3, 4, 5, 6 }), new HostTensor(ArgType(func, 1), ints: new long[] { 0, -100, -100 }), Tensor(func, 2, new[] { 1.0 }),
        }).Results[0];
        Assert.All(g.ToDoubles(), v => Assert.Equal(0.0, v));
    }

    [Fact]
    public void OutOfRangeIdsAndLabelsAreRuntimeErrors()
    {
        var emb = Func("""
            func.func @f(%d: tensor<2x3xf32>, %ids: tensor<2xi64>) -> tensor<4x3xf32> {
              %t = tensor.embedding_grad %d, %ids {num_embeddings = 4} : (tensor<2x3xf32>, tensor<2xi64>) -> tensor<4x3xf32>
              func.return %t : tensor<4x3xf32>
            }
            """);
        var e = Assert.Throws<RuntimeErrorException>(() => Interpreter.Run(emb, new[]
        {
            new HostTensor(ArgType(emb, 0)), new HostTensor(ArgType(emb, 1), ints: new long[] { 1, 4 }),
        }));
        Assert.Contains("'tensor.embedding_grad' op id 4 at [1] is out of range [0, 4)", e.Message);

        var ce = Func("""
            func.func @f(%l: tensor<1x2x3xf32>, %t: tensor<1x2xi32>, %d: tensor<f32>) -> tensor<1x2x3xf32> {
              %g = tensor.cross_entropy_grad %l, %t, %d {shift = 0} : (tensor<1x2x3xf32>, tensor<1x2xi32>, tensor<f32>) -> tensor<1x2x3xf32>
              func.return %g : tensor<1x2x3xf32>
            }
            """);
        e = Assert.Throws<RuntimeErrorException>(() => Interpreter.Run(ce, new[]
        {
            new HostTensor(ArgType(ce, 0)), new HostTensor(ArgType(ce, 1), ints: new long[] { 0, -1 }), new HostTensor(ArgType(ce, 2)),
        }));
        Assert.Contains("label -1 at [0, 1] is out of range [0, 3)", e.Message);
    }

    [Fact]
    public void PadKeepsIntegersAndFillsZeros()
    {
        var func = Func("""
            func.func @f(%x: tensor<2xi32>) -> tensor<2x4xi32> {
              %r = tensor.reshape %x : tensor<2xi32> -> tensor<1x2xi32>
              %y = tensor.pad %r {high = [1, 1], low = [0, 1]} : tensor<1x2xi32> -> tensor<2x4xi32>
              func.return %y : tensor<2x4xi32>
            }
            """);
        var y = Interpreter.Run(func, new[] { new HostTensor(ArgType(func, 0), ints: new long[] { 7, -3 }) }).Results[0];
        Assert.Equal(new long[] { 0, 7, -3, 0, 0, 0, 0, 0 }, y.Ints);
    }

    // ------------------------------------------------------------------ helpers

    private static Operation Func(string text)
    {
        var diag = new DiagnosticEngine();
        var module = AspIRParserDriver.ParseAndVerify(text, "t.aspir", AllDialects.NewContext(), diag);
        Assert.True(module is not null, string.Join("\n", diag.All) + "\n" + text);
        return module!.Region(0).Ops.First(o => o.Name == "func.func");
    }

    private static TensorType ArgType(Operation func, int i) => (TensorType)func.Region(0).Blocks[0].Arguments[i].Type;

    private static HostTensor Tensor(Operation func, int i, double[] values) => HostTensor.FromDoubles(ArgType(func, i), values);

    private static HostTensor[] RunText(string text, params double[][] args)
    {
        var func = Func(text);
        return Interpreter.Run(func, args.Select((a, i) => Tensor(func, i, a)).ToArray()).Results;
    }

    private static string Type(string spec, string element)
    {
        var s = spec.Replace("E", element);
        return $"tensor<{s}>";
    }

    /// <summary>Runs <paramref name="op"/> in element type <paramref name="element"/> on seeded inputs that are exact in <paramref name="roundTo"/>.</summary>
    private static HostTensor[] Run(string op, string[] operands, string[] results, string attrs, string element, int seed, string roundTo)
    {
        var ot = operands.Select(o => Type(o, element)).ToArray();
        var rt = results.Select(r => Type(r, element)).ToArray();
        var args = string.Join(", ", ot.Select((t, i) => $"%a{i}: {t}"));
        var uses = string.Join(", ", ot.Select((_, i) => $"%a{i}"));
        var lhs = rt.Length == 1 ? "%r" : $"%r:{rt.Length}";
        var rets = rt.Length == 1 ? "%r" : string.Join(", ", rt.Select((_, i) => $"%r#{i}"));
        var text = $"func.func @f({args}) -> ({string.Join(", ", rt)}) {{\n"
                   + $"  {lhs} = \"{op}\"({uses}){(attrs.Length > 0 ? $" {{{attrs}}}" : "")} : ({string.Join(", ", ot)}) -> ({string.Join(", ", rt)})\n"
                   + $"  func.return {rets} : {string.Join(", ", rt)}\n}}\n";
        var func = Func(text);
        var rng = new Random(seed);
        var kind = AllDialects.NewContext().LookupScalar(roundTo)!.Kind;
        var inputs = new HostTensor[ot.Length];
        for (int i = 0; i < inputs.Length; i++)
        {
            var type = ArgType(func, i);
            var t = new HostTensor(type);
            for (long j = 0; j < t.Count; j++)
            {
                if (t.Ints is not null) t.Ints[j] = op == "tensor.cross_entropy_grad" && j % 4 == 3 ? -100 : rng.Next(5);   // ids and labels in [0, 5), a few ignored labels
                else t.Set(j, Numerics.RoundToFloat(rng.NextDouble() * 4 - 2, kind));
            }
            inputs[i] = t;
        }
        // reduce_max_grad needs the real maxima as its output operand.
        if (op == "tensor.reduce_max_grad")
            for (long r = 0; r < inputs[1].Count; r++)
            {
                double m = double.NegativeInfinity;
                for (long c = 0; c < 4; c++) m = Math.Max(m, inputs[0].Get(r * 4 + c));
                inputs[1].Set(r, m);
            }
        return Interpreter.Run(func, inputs).Results;
    }
}
