using System.Diagnostics;
using System.Text.Json;
using AutoSpIR.Dialects.Func;
using AutoSpIR.Runtime;
using AutoSpIR.Tests.AutoSp;
using AutoSpIR.Tests.Properties;
using FsCheck.Fluent;
using Xunit.Abstractions;
using AdamWOp = AutoSpIR.Dialects.Tensor.AdamW;
using FsGen = FsCheck.Fluent.Gen;

namespace AutoSpIR.Tests.Zero;

/// <summary>
/// Mixed-precision AdamW (<c>optimizer{master-dtype=f32}</c>): bf16 parameters, an f32 master copy
/// and f32 m, v. The one-device step is the formula (gradient cast to f32, tensor.adamw on the
/// master, the new parameter the master cast to bf16) bit for bit and PyTorch's mixed-precision
/// step to f32 rounding; zero{stage=1|3} changes no bit of what the ranks compute without it; the
/// ranks equal one device up to the bf16 gradients' summation order.
/// </summary>
public sealed class MasterWeightsTests(ITestOutputHelper output)
{
    public const string Optimizer = "optimizer{lr=0.01,beta1=0.8,beta2=0.95,eps=1e-6,weight-decay=0.1,step=3,master-dtype=f32}";
    private static readonly AdamWOp.Hyper H = new(0.01, 0.8, 0.95, 1e-6, 0.1, 3);
    private static readonly DecoderCase Case = new(8, 4, 2, 2, 10, 2, 11, 7, 2, false, true, 2, 2, 17);

    private static Operation OneDevice(DecoderCase c)
    {
        var module = AutoSpHarness.Joint(c, "bf16");
        AutoSpHarness.RunPipeline(module, Optimizer);
        return module;
    }

    private static Operation PerRank(DecoderCase c, string zero)
    {
        var module = AutoSpHarness.Partitioned(c, "bf16");
        AutoSpHarness.RunPipeline(module, Optimizer + zero);
        return module;
    }

    private static float F32(double x) => (float)x;

    /// <summary>bf16 of an f32 value, round to nearest even (what tensor.cast does).</summary>
    private static double Bf16(double x)
    {
        uint bits = BitConverter.SingleToUInt32Bits((float)x);
        bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000u;
        return BitConverter.UInt32BitsToSingle(bits);
    }

    [Fact]
    public void OneDeviceIsTheMixedPrecisionFormulaBitForBit()
    {
        var joint = AutoSpHarness.Joint(Case, "bf16");
        var opt = OneDevice(Case);
        var inputs = ZeroHarness.Inputs(opt, Case);
        var jointFunc = AutoSpHarness.Step(joint);
        int nJoint = FuncDialect.Signature(jointFunc).Inputs.Count;
        var grads = Interpreter.Run(jointFunc, inputs.Take(nJoint).ToArray()).Results;
        var func = AutoSpHarness.Step(opt);
        var got = Interpreter.Run(func, inputs).Results;

        int nParams = grads.Length - 1;
        Assert.Equal(1 + 4 * nParams, got.Length);
        Assert.Equal(grads[0].Get(0), got[0].Get(0));
        for (int j = 0; j < nParams; j++)
        {
            var name = (FuncDialect.ResAttrs(jointFunc, 1 + j).Get("aspir.grad") as StringAttr)!.Value;
            Assert.Equal(name, ZeroHarness.ResultName(func, 1 + 4 * j));
            Assert.Equal(name + ".master", ZeroHarness.ResultName(func, 2 + 4 * j));
            Assert.Equal(name + ".exp_avg", ZeroHarness.ResultName(func, 3 + 4 * j));
            Assert.Equal(name + ".exp_avg_sq", ZeroHarness.ResultName(func, 4 + 4 * j));
            Assert.Equal("bf16", got[1 + 4 * j].Type.Element.ToString());
            for (int r = 2; r <= 4; r++) Assert.Equal("f32", got[r + 4 * j].Type.Element.ToString());
            int wi = nJoint + 3 * j, mi = wi + 1, vi = wi + 2;
            Assert.Equal(name + ".master", (FuncDialect.ArgAttrs(func, wi).Get("aspir.name") as StringAttr)!.Value);
            for (long k = 0; k < grads[1 + j].Count; k++)
            {
                // The gradient (bf16) widened to f32 is exact; the update is tensor.adamw's in f32.
                var (w, m, v) = AdamWOp.Update(H, inputs[wi].Get(k), grads[1 + j].Get(k), inputs[mi].Get(k), inputs[vi].Get(k));
                Assert.Equal(Bf16(F32(w)), got[1 + 4 * j].Get(k));
                Assert.Equal(F32(w), got[2 + 4 * j].Get(k));
                Assert.Equal(F32(m), got[3 + 4 * j].Get(k));
                Assert.Equal(F32(v), got[4 + 4 * j].Get(k));
            }
        }
    }

    /// <summary>reduce_scatter sums the bf16 partial gradients in the all_reduce's order and the cast and update are elementwise: zero changes no bit.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void ZeroIsBitIdenticalToTheRanksWithoutIt(int stage)
    {
        var c = new DecoderCase(6, 3, 1, 2, 5, 2, 7, 5, 2, false, true, 3, 2, 41);
        var inputs = ZeroHarness.Inputs(OneDevice(c), c);
        var (want, _) = AutoSpHarness.RunRanks(PerRank(c, ""), inputs, TimeSpan.FromSeconds(60));
        var zero = PerRank(c, $",zero{{stage={stage}}}");
        var (got, _) = AutoSpHarness.RunRanks(zero, inputs, TimeSpan.FromSeconds(60));
        Assert.Equal(want.Length, got.Length);
        for (int i = 0; i < want.Length; i++)
        {
            Assert.Equal(want[i].Type.ToString(), got[i].Type.ToString());
            for (long k = 0; k < want[i].Count; k++)
                Assert.True(BitConverter.DoubleToInt64Bits(want[i].Get(k)) == BitConverter.DoubleToInt64Bits(got[i].Get(k)),
                    $"{ZeroHarness.ResultName(AutoSpHarness.Step(zero), i)}[{k}]: {got[i].Get(k):R} with zero, {want[i].Get(k):R} without");
        }
    }

    private static readonly FsCheck.Gen<(DecoderCase Case, int Stage)> Cases =
        from sp in FsGen.Elements(1, 2, 4)
        from dp in FsGen.Elements(1, 2)
        where sp * dp >= 2
        from kv in FsGen.Elements(1, sp)
        from hidden in FsGen.Elements(6, 8)
        from inter in FsGen.Elements(5, 8)
        from layers in FsGen.Choose(1, 2)
        from vocab in FsGen.Elements(7, 16)
        from perRank in FsGen.Choose(1, 2)
        let seq = Math.Max(2, sp * perRank)
        from batch in FsGen.Elements(dp, 2 * dp)
        from tied in FsGen.Elements(false, true)
        from seed in FsGen.Choose(0, 1_000_000)
        from stage in FsGen.Elements(1, 3)
        select (new DecoderCase(hidden, sp, kv, 2, inter, layers, vocab, seq, batch, tied, false, sp, dp, seed), stage);

    /// <summary>
    /// <c>autodiff,autosp{sp,dp},optimizer{master-dtype=f32},zero{stage}</c> on the ranks against the
    /// one-device <c>autodiff,optimizer{master-dtype=f32}</c>, bf16 parameters and activations.
    /// The only difference is where the bf16 gradients are rounded: one device rounds each weight
    /// gradient's sum over all tokens once, the ranks round their partial sums and the all_reduce's
    /// (reduce_scatter's) total, so a gradient may differ by a few bf16 ulps (2^-8 relative each).
    /// What that does to the f32 state, compared per tensor (the largest difference over the largest
    /// value, AutoSpHarness.RelativeError): m' = beta1 m + (1 - beta1) g and v' = beta2 v + (1 - beta2) g^2
    /// move by (1 - beta1) dg and 2 (1 - beta2) g dg, a few bf16 ulps of the tensor's scale (measured
    /// up to 1.6e-2 over 30 cases, so f32-level tolerances such as 1e-5 cannot hold here);
    /// the master moves by lr times the change of m^/(sqrt(v^) + eps), at most 2 lr = 0.02 absolute
    /// where a gradient's sign flips, a few % of a master whose largest element is about 1 (the
    /// norms' weights); the loss and the new bf16 parameters round the same way. 5e-2 is checked,
    /// with the measured errors printed: a broken shard, cast or gather is off by the parameter's
    /// size (order 1), not by bf16 rounding.
    /// The exact statement, that the f32 state is the formula applied to the ranks' gradients, is
    /// ZeroIsBitIdenticalToTheRanksWithoutIt with OneDeviceIsTheMixedPrecisionFormulaBitForBit
    /// (the per-rank program without zero is the one-device formula on the all-reduced gradient).
    /// </summary>
    [Fact]
    public void ZeroEqualsOneDeviceUpToBf16GradientRounding() =>
        PropertyRunner.ForAll(output, "zero with master weights = one device", Arb.From(Cases), 30, 20261123, c => Check(c.Case, c.Stage));

    private void Check(DecoderCase c, int stage)
    {
        var one = OneDevice(c);
        var inputs = ZeroHarness.Inputs(one, c);
        var func = AutoSpHarness.Step(one);
        var expected = Interpreter.Run(func, inputs).Results;
        var (got, _) = AutoSpHarness.RunRanks(PerRank(c, $",zero{{stage={stage}}}"), inputs, TimeSpan.FromSeconds(60));
        Assert.Equal(expected.Length, got.Length);
        var wrong = new List<string>();
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i].Type.ToString(), got[i].Type.ToString());
            double rel = AutoSpHarness.RelativeError(got[i], expected[i]);
            worst = Math.Max(worst, rel);
            if (!(rel < 5e-2)) wrong.Add($"{ZeroHarness.ResultName(func, i)} differs from one device by {rel:E2}");
        }
        output.WriteLine($"{c} stage={stage}: largest relative difference {worst:E2}");
        Assert.True(wrong.Count == 0, $"{c} stage={stage}:\n" + string.Join("\n", wrong));
    }

    private const string TorchScript = """
        import json, sys, torch
        d = json.load(sys.stdin)
        p = torch.tensor(d['p'], dtype=torch.float32).to(torch.bfloat16)        # the bf16 parameter
        master = torch.nn.Parameter(p.float())                                  # its f32 master copy
        opt = torch.optim.AdamW([master], lr=d['lr'], betas=(d['beta1'], d['beta2']), eps=d['eps'], weight_decay=d['wd'], foreach=False)
        g = torch.tensor(d['g'], dtype=torch.float32).to(torch.bfloat16)        # the bf16 gradient
        master.grad = g.float()
        opt.step()
        with torch.no_grad():
            p.copy_(master)                                                     # the new bf16 parameter
        s = opt.state[master]
        json.dump({'p': p.float().tolist(), 'master': master.detach().tolist(), 'm': s['exp_avg'].tolist(), 'v': s['exp_avg_sq'].tolist()}, sys.stdout)
        """;

    /// <summary>
    /// One step from scratch (--init-opt-state: master = the bf16 parameter, m = v = 0) against
    /// PyTorch's mixed-precision recipe: a bf16 tensor, an f32 master copy, torch.optim.AdamW on
    /// the master with the bf16 gradient widened, the parameter copied back (rounded to bf16).
    /// PyTorch computes the update in f32 op by op (lerp, mul/addcmul, sqrt, div, add, addcdiv: a
    /// rounding each), tensor.adamw in double rounded once, so master, m and v agree to a few f32
    /// ulps (below 1e-6 of the tensor's scale); the bf16 parameter is equal except where the master
    /// lies within those ulps of a bf16 rounding boundary, where it may differ by one bf16 ulp.
    /// </summary>
    [Fact]
    public void OneStepMatchesTorchMixedPrecisionAdamW()
    {
        const int n = 64;
        var rng = new Random(7);
        var p0 = Enumerable.Range(0, n).Select(_ => Bf16(rng.NextDouble() * 2 - 1)).ToArray();
        var g0 = Enumerable.Range(0, n).Select(_ => Bf16((rng.NextDouble() * 2 - 1) * 0.1)).ToArray();
        const string program = """
            func.func @step(%w: tensor<8x8xbf16> {aspir.param = "w"}, %dw: tensor<8x8xbf16> {aspir.name = "dw"})
                -> (tensor<8x8xbf16> {aspir.grad = "w"}) {
              func.return %dw : tensor<8x8xbf16>
            }
            """;
        var func = Runtime.RT.Func(program);
        AutoSpHarness.RunPipeline(func.ParentOp!, "optimizer{lr=0.01,weight-decay=0.1,master-dtype=f32}");
        var sig = FuncDialect.Signature(func);
        Assert.Equal(5, sig.Inputs.Count);
        var args = new HostTensor[5];
        args[0] = HostTensor.FromDoubles((TensorType)sig.Inputs[0], p0);
        args[1] = HostTensor.FromDoubles((TensorType)sig.Inputs[1], g0);
        args[2] = HostTensor.FromDoubles((TensorType)sig.Inputs[2], p0);          // the master, from the parameter
        args[3] = new HostTensor((TensorType)sig.Inputs[3]);
        args[4] = new HostTensor((TensorType)sig.Inputs[4]);
        var got = Interpreter.Run(func, args).Results;
        Assert.Equal(4, got.Length);

        var request = JsonSerializer.Serialize(new { p = p0, g = g0, lr = 0.01, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, wd = 0.1 });
        var psi = new ProcessStartInfo("/usr/bin/python3", new[] { "-c", TorchScript })
        { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        using var proc = Process.Start(psi)!;
        proc.StandardInput.Write(request);
        proc.StandardInput.Close();
        var stdout = proc.StandardOutput.ReadToEnd();
        var stderr = proc.StandardError.ReadToEnd();
        proc.WaitForExit();
        Assert.True(proc.ExitCode == 0, "python3 failed:\n" + stderr);
        using var doc = JsonDocument.Parse(stdout);
        string[] names = { "p", "master", "m", "v" };
        for (int r = 0; r < 4; r++)
        {
            var want = doc.RootElement.GetProperty(names[r]).EnumerateArray().Select(e => e.GetDouble()).ToArray();
            double diff = 0, scale = 0;
            int bf16Off = 0;
            for (int i = 0; i < n; i++)
            {
                double d = Math.Abs(got[r].Get(i) - want[i]);
                if (r == 0 && d > 0)
                {
                    bf16Off++;
                    Assert.True(d <= Math.Abs(want[i]) * Math.Pow(2, -7), $"p[{i}]: {got[r].Get(i):R}, torch {want[i]:R}: more than one bf16 ulp apart");
                    continue;
                }
                diff = Math.Max(diff, d);
                scale = Math.Max(scale, Math.Abs(want[i]));
            }
            output.WriteLine($"{names[r]}: relative difference {diff / scale:E2}" + (r == 0 ? $", {bf16Off} of {n} elements one bf16 ulp apart" : ""));
            Assert.True(diff / scale < 1e-6, $"{names[r]}: relative difference {diff / scale:E2} against PyTorch");
            if (r == 0) Assert.True(bf16Off <= 2, $"{bf16Off} of {n} bf16 parameters differ from PyTorch's");
        }
    }
}
