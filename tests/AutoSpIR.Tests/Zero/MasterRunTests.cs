using AutoSpIR.Runtime;
using AutoSpIR.Tests.AutoSp;
using AdamWOp = AutoSpIR.Dialects.Tensor.AdamW;

namespace AutoSpIR.Tests.Zero;

/// <summary>
/// autosp-run on optimizer{master-dtype=f32} steps: --init-opt-state starts the master at the bf16
/// parameter (m, v at zero), the results are written as p, p.master, p.exp_avg, p.exp_avg_sq, and
/// that file is the next step's --params (the master read back, not re-made from p); under
/// zero{stage=1|3} on 4 ranks the flat master shards start from the parameter the same way.
/// </summary>
public sealed class MasterRunTests
{
    // A per-rank step (as autosp{sp=2,dp=2} leaves one), bf16, gradients all-reduced over the mesh.
    private const string Step = """
        module {
          dist.mesh @mesh {axes = ["dp", "sp"], shape = [2, 2]}
          func.func @step(%x: tensor<2x4xbf16> {aspir.name = "x"}, %w: tensor<3x4xbf16> {aspir.param = "w"}, %b: tensor<3xbf16> {aspir.param = "b"})
              -> (tensor<bf16> {aspir.name = "loss"}, tensor<3x4xbf16> {aspir.grad = "w"}, tensor<3xbf16> {aspir.grad = "b"}) {
            %h = tensor.linear %x, %w, %b : (tensor<2x4xbf16>, tensor<3x4xbf16>, tensor<3xbf16>) -> tensor<2x3xbf16>
            %l = tensor.reduce_sum %h {dims = [0, 1]} : tensor<2x3xbf16> -> tensor<bf16>
            %loss = dist.all_reduce %l {axes = ["dp", "sp"], mesh = @mesh, reduction = "sum"} : tensor<bf16>
            %pw = tensor.mul %w, %w : tensor<3x4xbf16>
            %dw = dist.all_reduce %pw {axes = ["dp", "sp"], mesh = @mesh, reduction = "sum"} : tensor<3x4xbf16>
            %pb = tensor.neg %b : tensor<3xbf16>
            %db = dist.all_reduce %pb {axes = ["dp", "sp"], mesh = @mesh, reduction = "sum"} : tensor<3xbf16>
            func.return %loss, %dw, %db : tensor<bf16>, tensor<3x4xbf16>, tensor<3xbf16>
          }
        }
        """;

    private static string Compile(string zero)
    {
        var module = Runtime.RT.Func(Step).ParentOp!;
        AutoSpHarness.RunPipeline(module, "optimizer{lr=0.01,weight-decay=0.1,master-dtype=f32}" + zero);
        return Printer.Print(module);
    }

    /// <summary>Runs two steps (the first with --init-opt-state, the second from its output); both outputs.</summary>
    private static (SafetensorsFile First, SafetensorsFile Second) TwoSteps(string program) => TwoSteps(program, out _);

    private static (SafetensorsFile First, SafetensorsFile Second) TwoSteps(string program, out double[] b0)
    {
        var dir = Directory.CreateTempSubdirectory("aspir-master-");
        try
        {
            var ctx = new Context();
            var rng = new Random(3);
            double[] Draw(int n) => Enumerable.Range(0, n).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
            SafetensorsFile.Write(Path.Combine(dir.FullName, "x.safetensors"), new[] { ("x", HostTensor.FromDoubles(ctx.Tensor(new long[] { 2, 4 }, ctx.BF16), Draw(8))) });
            var b = HostTensor.FromDoubles(ctx.Tensor(new long[] { 3 }, ctx.BF16), Draw(3));
            b0 = b.ToDoubles();
            SafetensorsFile.Write(Path.Combine(dir.FullName, "p.safetensors"), new[]
            {
                ("w", HostTensor.FromDoubles(ctx.Tensor(new long[] { 3, 4 }, ctx.BF16), Draw(12))),
                ("b", b),
            });
            File.WriteAllText(Path.Combine(dir.FullName, "step.aspir"), program);
            string run = $"dotnet '{Repo.ToolDll("autosp-run")}' step.aspir --ranks 4 --inputs x.safetensors";
            var (code, stdout, stderr) = Repo.Bash($"{run} --params p.safetensors --init-opt-state --out s1.safetensors && {run} --params s1.safetensors --out s2.safetensors",
                dir.FullName, TimeSpan.FromSeconds(120));
            Assert.True(code == 0, stdout + stderr);
            return (SafetensorsFile.Read(Path.Combine(dir.FullName, "s1.safetensors")), SafetensorsFile.Read(Path.Combine(dir.FullName, "s2.safetensors")));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static double[] Values(SafetensorsFile f, string name, string dtype, params long[] shape)
    {
        var ctx = new Context();
        Assert.Equal(dtype, f[name].Dtype);
        return SafetensorsFile.ToHostTensor(f[name], ctx.Tensor(shape, dtype == "BF16" ? ctx.BF16 : ctx.F32), name, f.Path).ToDoubles();
    }

    [Fact]
    public void InitialisesTheMasterFromTheParameterAndReadsItBackNextStep()
    {
        var (s1, s2) = TwoSteps(Compile(""), out var b0);
        Assert.Equal(new[] { "b", "b.exp_avg", "b.exp_avg_sq", "b.master", "loss", "w", "w.exp_avg", "w.exp_avg_sq", "w.master" },
            s1.Keys.Order(StringComparer.Ordinal).ToArray());
        var h = new AdamWOp.Hyper(0.01, 0.9, 0.999, 1e-8, 0.1, 1);
        var (b1, b1w, b1m, b1v) = (Values(s1, "b", "BF16", 3), Values(s1, "b.master", "F32", 3), Values(s1, "b.exp_avg", "F32", 3), Values(s1, "b.exp_avg_sq", "F32", 3));
        var (b2, b2w) = (Values(s2, "b", "BF16", 3), Values(s2, "b.master", "F32", 3));
        for (int k = 0; k < 3; k++)
        {
            // b's gradient is -b summed over the 4 ranks: exact in bf16 (times 4) and in f32.
            // Step 1: master = b (the parameter, --init-opt-state), m = v = 0.
            var (w1, m1, v1) = AdamWOp.Update(h, b0[k], -4 * b0[k], 0, 0);
            Assert.Equal((double)(float)w1, b1w[k]);
            Assert.Equal((double)(float)m1, b1m[k]);
            Assert.Equal((double)(float)v1, b1v[k]);
            Assert.Equal(b1w[k], b1[k], Math.Abs(b1w[k]) / 256);   // the bf16 parameter: the master rounded
            // Step 2 (the program's step = 1 again) starts from step 1's master, m and v, read from its output.
            var (w2, _, _) = AdamWOp.Update(h, b1w[k], -4 * b1[k], b1m[k], b1v[k]);
            Assert.Equal((double)(float)w2, b2w[k]);
            Assert.Equal(b2w[k], b2[k], Math.Abs(b2w[k]) / 256);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void ZeroShardsStartFromTheParameterAsTheReplicatedStateDoes(int stage)
    {
        var (want1, want2) = TwoSteps(Compile(""));
        var (got1, got2) = TwoSteps(Compile($",zero{{stage={stage}}}"));
        foreach (var (want, got) in new[] { (want1, got1), (want2, got2) })
            foreach (var name in want.Keys)
            {
                var shape = want[name].Shape;
                var dtype = want[name].Dtype;
                Assert.Equal(shape, got[name].Shape);
                Assert.Equal(Values(want, name, dtype, shape), Values(got, name, dtype, shape));
            }
    }
}
