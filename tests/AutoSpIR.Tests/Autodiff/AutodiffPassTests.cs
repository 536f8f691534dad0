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
}
