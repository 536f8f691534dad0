using AutoSpIR.Runtime.Native;
using Xunit;

namespace AutoSpIR.Tests.Lowering;

/// <summary>The native backend end to end on small programs (elementwise, linear with bias, constants, matmul).</summary>
public class NativeBackendTests
{
    private const string Mlp = """
        func.func @mlp(%x: tensor<5x8xT> {aspir.name = "x"}, %w: tensor<16x8xT> {aspir.param = "w"}, %b: tensor<16xT> {aspir.param = "b"}) -> (tensor<5x16xT>, tensor<16x8xT>) {
          %y = tensor.linear %x, %w, %b : (tensor<5x8xT>, tensor<16x8xT>, tensor<16xT>) -> tensor<5x16xT>
          %a = tensor.silu %y : tensor<5x16xT>
          %c = tensor.constant dense<2.0> : tensor<5x16xT>
          %z = tensor.mul %a, %c : tensor<5x16xT>
          %g = tensor.gelu %z : tensor<5x16xT>
          %s = tensor.silu_grad %y, %g : tensor<5x16xT>
          %dw = tensor.linear_wgrad %s, %x : (tensor<5x16xT>, tensor<5x8xT>) -> tensor<16x8xT>
          func.return %s, %dw : tensor<5x16xT>, tensor<16x8xT>
        }
        """;

    [Theory]
    [InlineData("f32", 1e-5)]
    [InlineData("f64", 1e-12)]
    public void LinearActivationsAndWeightGradientMatchTheInterpreter(string t, double rtol) =>
        NativeHarness.AssertMatchesInterpreter(Mlp.Replace("xT>", "x" + t + ">").Replace("<16xT>", "<16x" + t + ">"), rtol);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void BatchedMatmulMatchesTheInterpreter(bool transposeB)
    {
        var bType = transposeB ? "3x7x6xf64" : "3x6x7xf64";
        NativeHarness.AssertMatchesInterpreter($$"""
            func.func @mm(%a: tensor<3x5x6xf64> {aspir.name = "a"}, %b: tensor<{{bType}}> {aspir.name = "b"}) -> tensor<3x5x7xf64> {
              %c = tensor.matmul %a, %b {{(transposeB ? "{transpose_b}" : "")}} : (tensor<3x5x6xf64>, tensor<{{bType}}>) -> tensor<3x5x7xf64>
              func.return %c : tensor<3x5x7xf64>
            }
            """, 1e-12);
    }

    [Fact]
    public void LargeElementwiseLoopsRunOnThreadsAndMatch()
    {
        // 2^18 elements: above ConvertToLlvm.ParallelGrain, so the loops are outlined onto OpenMP threads.
        const string p = """
            func.func @big(%x: tensor<512x512xf32> {aspir.name = "x"}, %y: tensor<512x512xf32> {aspir.name = "y"}) -> tensor<512x512xf32> {
              %a = tensor.exp %x : tensor<512x512xf32>
              %b = tensor.mul %a, %y : tensor<512x512xf32>
              func.return %b : tensor<512x512xf32>
            }
            """;
        NativeHarness.AssertMatchesInterpreter(p);
        var (func, args) = NativeHarness.Prepare(p);
        using var native = NativeProgram.Compile(func);
        Assert.Contains("GOMP_parallel", native.LlvmIr);
        Assert.Contains("@big.par.0", native.LlvmIr);
    }
}
