using AutoSpIR.Dialects.Func;
using AutoSpIR.Runtime;
using AutoSpIR.Tests.AutoSp;

namespace AutoSpIR.Tests.Zero;

/// <summary>
/// Training steps with an optimizer: AutoSpHarness's decoders through <c>autodiff,optimizer</c>
/// (one device) and <c>autodiff,autosp{sp,dp},optimizer[,zero{stage}]</c> (D*P ranks), with
/// AutoSpHarness's inputs plus optimizer state (m small, v >= 0) drawn from the case's seed.
/// </summary>
public static class ZeroHarness
{
    public const string Optimizer = "optimizer{lr=0.01,beta1=0.8,beta2=0.95,eps=1e-6,weight-decay=0.1,step=3}";

    /// <summary>The one-device program: autodiff, then the optimizer.</summary>
    public static Operation OneDevice(DecoderCase c)
    {
        var module = AutoSpHarness.Joint(c);
        AutoSpHarness.RunPipeline(module, Optimizer);
        return module;
    }

    /// <summary>The per-rank program: autosp{sp,dp}, the optimizer, then <paramref name="zero"/> (e.g. "zero{stage=1}", or "" for none).</summary>
    public static Operation PerRank(DecoderCase c, string zero)
    {
        var module = AutoSpHarness.Partitioned(c);
        AutoSpHarness.RunPipeline(module, Optimizer + (zero.Length > 0 ? "," + zero : ""));
        return module;
    }

    /// <summary>
    /// Global arguments of <paramref name="module"/> (one-device or per-rank; both have the same
    /// arguments in the same order at global shapes): AutoSpHarness.Inputs for the model's, and for
    /// each optimizer state argument m in [-0.01, 0.01) or v in [0, 1e-3), from the case's seed, and
    /// a master copy equal to its parameter.
    /// </summary>
    public static HostTensor[] Inputs(Operation oneDevice, DecoderCase c)
    {
        var inputs = AutoSpHarness.Inputs(oneDevice, c);
        var func = AutoSpHarness.Step(oneDevice);
        var rng = new Random(c.Seed ^ 0x2E60);
        for (int i = 0; i < inputs.Length; i++)
        {
            if (FuncDialect.ArgAttrs(func, i).Get("aspir.opt_state") is not StringAttr which) continue;
            var t = inputs[i].Type;
            if (which.Value == "master")
            {
                // A master copy (optimizer{master-dtype=f32}): the parameter it copies, converted (exact).
                var name = FuncDialect.ArgAttrs(func, i).Get("aspir.param");
                int pi = Enumerable.Range(0, inputs.Length).First(j => FuncDialect.ArgAttrs(func, j) is var a && a.Get("aspir.opt_state") is null && Equals(a.Get("aspir.param"), name));
                inputs[i] = HostTensor.FromDoubles(t, inputs[pi].ToDoubles());
                continue;
            }
            var values = new double[t.NumElements];
            for (int k = 0; k < values.Length; k++)
                values[k] = which.Value == "m" ? (rng.NextDouble() * 2 - 1) * 0.01 : rng.NextDouble() * 1e-3;
            inputs[i] = HostTensor.FromDoubles(t, values);
        }
        return inputs;
    }

    /// <summary>How a result is named: loss, grad.P, P (updated), P.exp_avg, P.exp_avg_sq, P.master.</summary>
    public static string ResultName(Operation func, int i)
    {
        var d = FuncDialect.ResAttrs(func, i);
        return d.Get("aspir.grad") is StringAttr g ? "grad." + g.Value
            : d.Get("aspir.updated") is StringAttr u ? u.Value
            : d.Get("aspir.opt_state") is StringAttr s && d.Get("aspir.param") is StringAttr p ? AutoSpIR.Passes.Optimizer.OptimizerPass.StateName(p.Value, s.Value)
            : (d.Get("aspir.name") as StringAttr)?.Value ?? $"result.{i}";
    }
}
