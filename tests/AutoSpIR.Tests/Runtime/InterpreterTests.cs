using AutoSpIR.Dialects.Tensor;
using AutoSpIR.Runtime;

namespace AutoSpIR.Tests.Runtime;

/// <summary>The interpreter: argument checks, kernel coverage, memory accounting, errors with locations.</summary>
public class InterpreterTests
{
    private const string Program = """
        func.func @f(%a: tensor<16xf32>, %b: tensor<16xbf16>) -> (tensor<bf16>, tensor<16xf32>) {
          %c = tensor.cast %b : tensor<16xbf16> -> tensor<16xf32>
          %d = tensor.add %a, %c : tensor<16xf32>
          %e = tensor.broadcast %d {dims = [1], shape = [4, 16]} : tensor<16xf32> -> tensor<4x16xf32>
          %e2 = tensor.reshape %e : tensor<4x16xf32> -> tensor<64xf32>
          %g = tensor.neg %e2 : tensor<64xf32>
          %f = tensor.reduce_sum %e2 {dims = [0]} : tensor<64xf32> -> tensor<f32>
          %r = tensor.cast %f : tensor<f32> -> tensor<bf16>
          func.return %r, %a : tensor<bf16>, tensor<16xf32>
        }
        """;

    [Fact]
    public void PeakBytesByHand()
    {
        var func = RT.Func(Program);
        var a = RT.Of("16xf32", Enumerable.Range(0, 16).Select(i => (double)i).ToArray());
        var b = RT.Of("16xbf16", Enumerable.Repeat(0.5, 16).ToArray());
        var run = Interpreter.Run(func, new[] { a, b });
        // live bytes after each op's results are allocated (before its dead operands are freed):
        //   arguments a 64 + b 32 = 96 (never freed)
        //   %c  +64 -> 160, %c stays
        //   %d  +64 -> 224, then %c is freed -> 160
        //   %e  +256 -> 416, then %d is freed -> 352
        //   %e2 +256 -> 608 (a reshape counts as a new buffer), then %e is freed -> 352
        //   %g  +256 -> 608, unused: freed at once -> 352
        //   %f  +4 -> 356, then %e2 is freed -> 100
        //   %r  +2 (bf16) -> 102, then %f is freed -> 100 - 4 + 2 = 98
        Assert.Equal(608, run.PeakBytes);
        // sum over 4 copies of (i + 0.5) for i < 16 = 4 * 128 = 512, exact in bf16.
        Assert.Equal(new[] { 512.0 }, run.Results[0].ToDoubles());
        Assert.Same(a, run.Results[1]);
        Assert.True(run.Elapsed > TimeSpan.Zero);
    }

    [Fact]
    public void ArgumentsAreCheckedAndNamed()
    {
        var func = RT.Func(Program);
        var e1 = Assert.Throws<ArgumentException>(() => Interpreter.Run(func, new[] { RT.Of("16xf32", new double[16]) }));
        Assert.StartsWith("function @f takes 2 arguments, but 1 was given", e1.Message);
        var e2 = Assert.Throws<ArgumentException>(() => Interpreter.Run(func, new[] { RT.Of("16xf32", new double[16]), RT.Of("16xf32", new double[16]) }));
        Assert.StartsWith("argument #1 (%b) of @f has type tensor<16xf32>, but the function expects tensor<16xbf16>", e2.Message);
        var e3 = Assert.Throws<ArgumentException>(() => Interpreter.Run(func, new[] { RT.Of("4x4xf32", new double[16]), RT.Of("16xbf16", new double[16]) }));
        Assert.StartsWith("argument #0 (%a) of @f has type tensor<4x4xf32>, but the function expects tensor<16xf32>", e3.Message);
    }

    [Fact]
    public void ArgumentMessagesNameParameters()
    {
        var func = RT.Func("""
            func.func @g(%w: tensor<2x3xf32> {aspir.param = "model.norm.weight"}) -> tensor<2x3xf32> {
              func.return %w : tensor<2x3xf32>
            }
            """);
        var e = Assert.Throws<ArgumentException>(() => Interpreter.Run(func, new[] { RT.Of("3x2xf32", new double[6]) }));
        Assert.StartsWith("argument #0 (%w, 'model.norm.weight') of @g has type tensor<3x2xf32>, but the function expects tensor<2x3xf32>", e.Message);
        var ok = Interpreter.Run(func, new[] { RT.Of("2x3xf32", new double[6]) });
        Assert.Equal(24, ok.PeakBytes);
    }

    [Fact]
    public void OpWithoutKernelIsARuntimeErrorAtItsLine()
    {
        var table = new KernelTable();
        new ShapeKernelsProbe().Register(table);
        var func = RT.Func(Program);
        var e = Assert.Throws<RuntimeErrorException>(() => Interpreter.Run(func, new[] { RT.Of("16xf32", new double[16]), RT.Of("16xbf16", new double[16]) }, table));
        Assert.Equal("no kernel for 'tensor.add'", e.Message);
        Assert.Equal(3, e.Location.Line);
    }

    /// <summary>A table with only tensor.cast, to reach the op after it.</summary>
    private sealed class ShapeKernelsProbe
    {
        public void Register(KernelTable t)
        {
            var all = KernelTable.Default;
            t.Add("tensor.cast", all.Lookup("tensor.cast")!);
        }
    }

    [Fact]
    public void DataErrorsCarryTheOpLocation()
    {
        var func = RT.Func("""
            func.func @f(%t: tensor<4x2xf32>, %ids: tensor<3xi64>) -> tensor<3x2xf32> {
              %s = tensor.exp %t : tensor<4x2xf32>

              %e = tensor.embedding %s, %ids : (tensor<4x2xf32>, tensor<3xi64>) -> tensor<3x2xf32>
              func.return %e : tensor<3x2xf32>
            }
            """);
        var e = Assert.Throws<RuntimeErrorException>(() => Interpreter.Run(func, new[] { RT.Random("4x2xf32", 1), RT.Of("3xi64", 0, 4, 1) }));
        Assert.Equal(4, e.Location.Line);
        Assert.Equal("t.aspir", e.Location.File);
        Assert.Contains("id 4 at ids[1] is out of range [0, 4)", e.Message);
    }

    [Fact]
    public void EveryTensorOpHasAKernel()
    {
        var missing = TensorDialect.Ops.Select(o => o.Name).Where(n => KernelTable.Default.Lookup(n) is null).ToList();
        Assert.True(missing.Count == 0, "ops without a kernel: " + string.Join(", ", missing));
    }

    [Fact]
    public void RunsTheLlamaLayerExample()
    {
        var text = File.ReadAllText(Repo.PathOf("examples", "llama-layer.aspir"));
        var func = RT.Func(text);
        var args = new List<HostTensor>();
        for (int i = 0; i < func.Region(0).Blocks[0].Arguments.Count; i++)
        {
            var t = RT.ArgType(func, i);
            var spec = string.Join("x", t.Shape.ToArray()) + "x" + t.Element.Name;
            args.Add(t.Element.IsInteger ? RT.Random(spec, 100 + i, 0, 128) : RT.Random(spec, 100 + i, -0.2, 0.2));
        }
        var run = Interpreter.Run(func, args);
        double loss = run.Results[0].Get(0);
        // Small random weights give nearly uniform predictions: the loss is close to ln 128 = 4.85.
        Assert.InRange(loss, 4.0, 6.0);
        long argBytes = args.Sum(a => a.ByteSize);
        Assert.InRange(run.PeakBytes, argBytes + 1, argBytes + 64 * 1024);
    }
}
