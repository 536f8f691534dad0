using AutoSpIR.Dialects.Mem;
using AutoSpIR.Runtime;
using AutoSpIR.Tests.AutoSp;
using AutoSpIR.Tests.Runtime;

namespace AutoSpIR.Tests.Memory;

/// <summary>The interpreter's planned mode (<see cref="ArenaMemory"/>) on hand-written programs.</summary>
public class PlannedRunTests
{
    private const string Program = """
        func.func @g(%x: tensor<4x8xf32>, %w: tensor<8x8xf32> {aspir.param = "w"}) -> (tensor<f32>, tensor<4x8xf32>) {
          %a = tensor.matmul %x, %w : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32>
          %b = tensor.exp %a : tensor<4x8xf32>
          %c = tensor.add %b, %x : tensor<4x8xf32>
          %d = tensor.mul %c, %c : tensor<4x8xf32>
          %s = tensor.reduce_sum %d {dims = [0, 1]} : tensor<4x8xf32> -> tensor<f32>
          func.return %s, %c : tensor<f32>, tensor<4x8xf32>
        }
        """;

    private static HostTensor[] Inputs(Operation func) =>
        Enumerable.Range(0, 2).Select(i =>
        {
            var t = RT.ArgType(func, i);
            return HostTensor.FromDoubles(t, Enumerable.Range(0, (int)t.NumElements).Select(k => Math.Sin(k + 7 * i) * 0.3).ToArray());
        }).ToArray();

    [Fact]
    public void APlannedRunMeasuresThePlannedArenaAndGivesTheSameBits()
    {
        var func = RT.Func(Program);
        var module = func.ParentOp!;
        var m = MemoryHarness.Check(module, Inputs(func), spmd: false, "@g");
        // Hand-computed in tests/lit/mem/memory-plan-inplace.aspir.
        Assert.Equal(new MemoryHarness.Measured(644, 644, 644, 644, 644), m);
    }

    [Fact]
    public void DetectionByAttributeAndExplicitOptOut()
    {
        var func = RT.Func(Program);
        AutoSpHarness.RunPipeline(func.ParentOp!, "bufferize,memory-plan");
        Assert.True(MemDialect.IsPlanned(func));
        Assert.Equal(644, Interpreter.Run(func, Inputs(func)).ArenaPeakBytes);
        Assert.Equal(0, Interpreter.Run(func, Inputs(func), planned: false).ArenaPeakBytes);
    }

    [Fact]
    public void AnOverlappingPlanIsARuntimeError()
    {
        var func = RT.Func(Program);
        AutoSpHarness.RunPipeline(func.ParentOp!, "bufferize,memory-plan");
        var d = func.Region(0).Blocks[0].Ops.First(o => o.Name == "tensor.mul");
        d.SetAttr(MemDialect.Offsets, func.Context.IntArray(new long[] { 400 }));   // onto %c at [384, 512)
        var e = Assert.Throws<RuntimeErrorException>(() => Interpreter.Run(func, Inputs(func)));
        Assert.Contains("overlaps live buffer 2 [384, 512)", e.Message);
    }

    [Fact]
    public void AnUnplannedFunctionCannotBeRunPlanned()
    {
        var func = RT.Func(Program);
        Assert.Throws<ArgumentException>(() => Interpreter.Run(func, Inputs(func), planned: true));
    }

    [Fact]
    public void TheBreakdownFollowsTheValueABufferHoldsAtTheStep()
    {
        var func = RT.Func("""
            module {
              dist.mesh @mesh {axes = ["sp"], shape = [4]}
              func.func @step(%x: tensor<2x8xf32>, %w: tensor<2x8xf32> {aspir.param = "w"}) -> (tensor<2x8xf32> {aspir.grad = "w"}) {
                %g = dist.all_gather %w {mesh = @mesh, axes = ["sp"], dim = 0} : tensor<2x8xf32> -> tensor<8x8xf32>
                %y = tensor.matmul %x, %g : (tensor<2x8xf32>, tensor<8x8xf32>) -> tensor<2x8xf32>
                %e = tensor.exp %y : tensor<2x8xf32>
                %r = dist.all_reduce %e {mesh = @mesh, axes = ["sp"], reduction = "sum"} : tensor<2x8xf32>
                func.return %r : tensor<2x8xf32>
              }
            }
            """);
        AutoSpHarness.RunPipeline(func.ParentOp!, "bufferize,memory-plan");
        var p = BufferProgram.Read(func, new DiagnosticEngine())!;
        Assert.Equal(1, p.InPlaceWrites);   // %e into %y's buffer
        string At(int step)
        {
            var r = p.BreakdownAt(step);
            return string.Join(" ", new[] { MemCategory.Parameters, MemCategory.Gradients, MemCategory.Activations, MemCategory.Communication, MemCategory.Workspace }
                .Select(c => $"{c}={r[(int)c]}"));
        }
        Assert.Equal("Parameters=64 Gradients=0 Activations=64 Communication=0 Workspace=0", At(-1));
        Assert.Equal("Parameters=64 Gradients=0 Activations=64 Communication=256 Workspace=0", At(0));
        Assert.Equal("Parameters=64 Gradients=0 Activations=128 Communication=256 Workspace=0", At(1));
        Assert.Equal("Parameters=64 Gradients=0 Activations=128 Communication=0 Workspace=0", At(2));   // %e holds %y's buffer
        Assert.Equal("Parameters=64 Gradients=64 Activations=128 Communication=0 Workspace=0", At(3));  // %r: a returned gradient
        Assert.Equal(448, p.LivePeak);
        Assert.Equal(1, p.PeakStep);
    }
}
