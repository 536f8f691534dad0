using AutoSpIR.Dialects;
using AutoSpIR.Grammar;
using AutoSpIR.Passes;

namespace AutoSpIR.Tests.Autodiff;

/// <summary>What the autodiff pass does beyond what the lit test shows: it leaves a function it cannot differentiate unchanged.</summary>
public class AutodiffPassTests
{
    [Theory]
    // The failure comes after backward ops were built for the ops after the call.
    [InlineData("""
        func.func private @helper(tensor<4xf32>) -> tensor<4xf32>
        func.func @f(%w: tensor<4xf32> {aspir.param = "w"}) -> tensor<f32> {
          %y = func.call @helper(%w) : (tensor<4xf32>) -> tensor<4xf32>
          %e = tensor.exp %y : tensor<4xf32>
          %m = tensor.mul %e, %w : tensor<4xf32>
          %loss = tensor.reduce_sum %m {dims = [0]} : tensor<4xf32> -> tensor<f32>
          func.return %loss : tensor<f32>
        }
        """, "'func.call' op has no gradient rule")]
    [InlineData("""
        func.func @f(%w: tensor<?x4xf32> {aspir.param = "w"}, %v: tensor<2xf32> {aspir.param = "v"}) -> tensor<f32> {
          %s = tensor.reduce_sum %w {dims = [0, 1]} : tensor<?x4xf32> -> tensor<f32>
          %t = tensor.reduce_sum %v {dims = [0]} : tensor<2xf32> -> tensor<f32>
          %loss = tensor.add %s, %t : tensor<f32>
          func.return %loss : tensor<f32>
        }
        """, "of the dynamic type tensor<?x4xf32>")]
    public void AFailureLeavesTheFunctionUnchanged(string text, string error)
    {
        var ctx = AllDialects.NewContext();
        var diag = new DiagnosticEngine();
        var module = AspIRParserDriver.ParseAndVerify(text, "t.aspir", ctx, diag)!;
        Assert.NotNull(module);
        var before = Printer.Print(module);
        var pm = new PassManager(new PassContext(ctx, diag, TextWriter.Null), PassPipelineParser.Parse("autodiff", out _)!);
        Assert.False(pm.Run(module));
        Assert.Contains(diag.All, d => d.Message.Contains(error));
        Assert.Equal(before, Printer.Print(module));
        Assert.True(Verifier.Verify(module, new DiagnosticEngine()));
    }

    /// <summary>
    /// Integer operands get no gradient: tensor.shift of labels and tensor.count_valid return null for
    /// them (autodiff never calls those rules, the values depending on no parameter, but the rules agree),
    /// and rope passes its offset operand to rope_grad and gives it none.
    /// </summary>
    [Fact]
    public void IntegerOperandsGetNoGradient()
    {
        var ctx = AllDialects.NewContext();
        var diag = new DiagnosticEngine();
        var module = AspIRParserDriver.ParseAndVerify("""
            func.func @f(%l: tensor<2x8xi64>, %g: tensor<f32>, %x: tensor<1x2x1x2xf32>, %off: tensor<i64>) -> (tensor<2x8xi64>, tensor<f32>, tensor<1x2x1x2xf32>) {
              %t = tensor.shift %l {amount = 1, dim = 1, fill = -100} : tensor<2x8xi64>
              %n = tensor.count_valid %l : tensor<2x8xi64> -> tensor<f32>
              %y = tensor.rope %x, %off {theta = 10000.0} : (tensor<1x2x1x2xf32>, tensor<i64>) -> tensor<1x2x1x2xf32>
              func.return %t, %n, %y : tensor<2x8xi64>, tensor<f32>, tensor<1x2x1x2xf32>
            }
            """, "t.aspir", ctx, diag);
        Assert.True(module is not null, string.Join("\n", diag.All));
        var block = module!.Region(0).Ops.Single(o => o.Name == "func.func").Region(0).Blocks[0];
        var ops = block.Ops.ToList();
        var b = new Builder(ctx);
        b.SetInsertionPoint(ops[^1]);
        Value?[] Rule(Operation op, Value dy) => op.Def!.Gradient!(new GradientContext(op, new Value?[] { dy }, b));
        Assert.Equal(new Value?[] { null }, Rule(ops[0], ops[0].Result(0)));
        Assert.Equal(new Value?[] { null }, Rule(ops[1], block.Arguments[1]));
        var rope = Rule(ops[2], block.Arguments[2]);
        Assert.Equal(2, rope.Length);
        Assert.Null(rope[1]);
        Assert.Equal("tensor.rope_grad", rope[0]!.DefiningOp!.Name);
        Assert.Same(block.Arguments[3], rope[0]!.DefiningOp!.Operand(1));
    }
}
