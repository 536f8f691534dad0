using AutoSpIR.Dialects.Func;
using AutoSpIR.Runtime;
using AutoSpIR.Tests.AutoSp;
using AdamWOp = AutoSpIR.Dialects.Tensor.AdamW;

namespace AutoSpIR.Tests.Zero;

/// <summary>
/// The optimizer pass on a generated decoder step: its results are the loss of the joint step and,
/// per parameter, exactly tensor.adamw's formula applied to the joint step's gradient and the
/// given state; autosp{sp,dp},optimizer on D*P ranks gives the same (f64, 1e-9).
/// </summary>
public sealed class OptimizerTests
{
    private static readonly DecoderCase Case = new(8, 4, 2, 2, 10, 2, 11, 7, 2, false, true, 2, 2, 17);

    [Fact]
    public void UpdatesEveryParameterWithAdamWOfItsGradient()
    {
        var joint = AutoSpHarness.Joint(Case);
        var opt = ZeroHarness.OneDevice(Case);
        var inputs = ZeroHarness.Inputs(opt, Case);
        var jointFunc = AutoSpHarness.Step(joint);
        int nJoint = FuncDialect.Signature(jointFunc).Inputs.Count;
        var grads = Interpreter.Run(jointFunc, inputs.Take(nJoint).ToArray()).Results;
        var func = AutoSpHarness.Step(opt);
        var got = Interpreter.Run(func, inputs).Results;

        int nParams = grads.Length - 1;
        Assert.Equal(1 + 3 * nParams, got.Length);
        Assert.Equal(grads[0].Get(0), got[0].Get(0));
        var h = new AdamWOp.Hyper(0.01, 0.8, 0.95, 1e-6, 0.1, 3);
        for (int j = 0; j < nParams; j++)
        {
            var name = (FuncDialect.ResAttrs(jointFunc, 1 + j).Get("aspir.grad") as StringAttr)!.Value;
            Assert.Equal(name, ZeroHarness.ResultName(func, 1 + 3 * j));
            Assert.Equal(name + ".exp_avg", ZeroHarness.ResultName(func, 2 + 3 * j));
            Assert.Equal(name + ".exp_avg_sq", ZeroHarness.ResultName(func, 3 + 3 * j));
            int pi = Enumerable.Range(0, nJoint).Single(i => FuncDialect.ArgAttrs(func, i).Get("aspir.param") is StringAttr p && p.Value == name);
            int mi = nJoint + 2 * j, vi = mi + 1;
            Assert.Equal(name + ".exp_avg", (FuncDialect.ArgAttrs(func, mi).Get("aspir.name") as StringAttr)!.Value);
            Assert.Equal(name + ".exp_avg_sq", (FuncDialect.ArgAttrs(func, vi).Get("aspir.name") as StringAttr)!.Value);
            for (long k = 0; k < grads[1 + j].Count; k++)
            {
                var (p, m, v) = AdamWOp.Update(h, inputs[pi].Get(k), grads[1 + j].Get(k), inputs[mi].Get(k), inputs[vi].Get(k));
                Assert.Equal(p, got[1 + 3 * j].Get(k));
                Assert.Equal(m, got[2 + 3 * j].Get(k));
                Assert.Equal(v, got[3 + 3 * j].Get(k));
            }
        }
    }

    /// <summary>The optimizer may also run before autosp (its update is elementwise, its state replicated like the parameters); zero then works the same.</summary>
    [Theory]
    [InlineData("")]
    [InlineData(",zero{stage=1}")]
    [InlineData(",zero{stage=3}")]
    public void BeforeAutoSpOnRanksEqualsOneDevice(string zero)
    {
        var one = ZeroHarness.OneDevice(Case);
        var inputs = ZeroHarness.Inputs(one, Case);
        var expected = Interpreter.Run(AutoSpHarness.Step(one), inputs).Results;
        var module = AutoSpHarness.Joint(Case);
        AutoSpHarness.RunPipeline(module, $"{ZeroHarness.Optimizer},autosp{{sp={Case.Sp},dp={Case.Dp}}}{zero}");
        var (got, _) = AutoSpHarness.RunRanks(module, inputs, TimeSpan.FromSeconds(60));
        Assert.Equal(expected.Length, got.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(AutoSpHarness.RelativeError(got[i], expected[i]) < 1e-9, $"{ZeroHarness.ResultName(AutoSpHarness.Step(one), i)}: {AutoSpHarness.RelativeError(got[i], expected[i]):E2}");
    }

    [Fact]
    public void AfterAutoSpOnRanksEqualsOneDevice()
    {
        var one = ZeroHarness.OneDevice(Case);
        var inputs = ZeroHarness.Inputs(one, Case);
        var expected = Interpreter.Run(AutoSpHarness.Step(one), inputs).Results;
        var (got, ranks) = AutoSpHarness.RunRanks(ZeroHarness.PerRank(Case, ""), inputs, TimeSpan.FromSeconds(60));
        Assert.Equal(4, ranks.Length);
        Assert.Equal(expected.Length, got.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(AutoSpHarness.RelativeError(got[i], expected[i]) < 1e-9, $"{ZeroHarness.ResultName(AutoSpHarness.Step(one), i)}: {AutoSpHarness.RelativeError(got[i], expected[i]):E2}");
    }
}
