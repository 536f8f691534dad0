using AutoSpIR.Runtime;
using AutoSpIR.Runtime.Comm;
using AutoSpIR.Runtime.Native;
using AutoSpIR.Tests.AutoSp;
using FsCheck;
using FsCheck.Fluent;
using AutoSpIR.Tests.Properties;
using Xunit;
using Xunit.Abstractions;

namespace AutoSpIR.Tests.Lowering;

/// <summary>
/// Whole training steps on the native backend against the interpreter: the joint forward+backward of
/// generated decoders on one device and, through autosp, on P in-process ranks (the JIT'd code of one rank
/// program run by P threads, collectives through the threads communicator), plus the AdamW step.
/// </summary>
public class NativeModelTests(ITestOutputHelper output)
{
    private static DecoderCase Tiny(int sp = 1, int dp = 1, long seq = 16) =>
        new(Hidden: 32, Heads: 4, KvHeads: 2, HeadDim: 8, Intermediate: 48, Layers: 2, Vocab: 64, Seq: seq, Batch: 2,
            Tied: false, QkvBias: false, Sp: sp, Dp: dp, Seed: 1);

    [Theory]
    [InlineData("f64", 1e-10)]
    [InlineData("f32", 1e-5)]
    public void OneDeviceJointStepMatchesTheInterpreter(string dtype, double rtol)
    {
        var c = Tiny();
        var module = AutoSpHarness.Joint(c, dtype);
        var func = AutoSpHarness.Step(module);
        var args = Cast(AutoSpHarness.Inputs(module, c), func);
        var expected = Interpreter.Run(func, args).Results;
        using var native = NativeProgram.Compile(func);
        NativeHarness.AssertClose(expected, native.Run(args).Results, rtol, c.ToString());
    }

    [Theory]
    [InlineData(4, 1)]
    [InlineData(2, 2)]
    public void PartitionedStepOnRanksMatchesTheInterpreter(int sp, int dp)
    {
        var c = Tiny(sp, dp, seq: 18);
        var module = AutoSpHarness.Partitioned(c);
        var func = AutoSpHarness.Step(module);
        var inputs = AutoSpHarness.Inputs(AutoSpHarness.Joint(c), c);
        var (expected, _) = AutoSpHarness.RunRanks(module, inputs);
        using var native = NativeProgram.Compile(func);
        var runs = native.RunSpmd(sp * dp, r => SpmdIO.ArgumentsOf(func, inputs, r));
        NativeHarness.AssertClose(expected, SpmdIO.Assemble(func, runs), 1e-10, c.ToString());
    }

    [Fact]
    public void AdamWStepAfterAutoSpMatchesTheInterpreter()
    {
        var c = Tiny(sp: 2);
        var global = AutoSpHarness.Joint(c);
        AutoSpHarness.RunPipeline(global, "optimizer{lr=0.01}");
        var module = AutoSpHarness.Joint(c);
        AutoSpHarness.RunPipeline(module, "autosp{sp=2},optimizer{lr=0.01}");
        var func = AutoSpHarness.Step(module);
        // Global inputs in the argument order both programs share; v (exp_avg_sq) must be >= 0.
        var inputs = NativeHarness.Prepare(global.ToString(), intHigh: c.Vocab).Args;
        var sig = Dialects.Func.FuncDialect.Signature(func);
        for (int i = 0; i < inputs.Length; i++)
            if ((Dialects.Func.FuncDialect.ArgAttrs(func, i).Get("aspir.opt_state") as StringAttr)?.Value == "v")
                inputs[i] = HostTensor.FromDoubles(inputs[i].Type, inputs[i].ToDoubles().Select(Math.Abs).ToArray());
        var expected = SpmdIO.Assemble(func, Interpreter.RunSpmd(func, 2, r => SpmdIO.ArgumentsOf(func, inputs, r)));
        using var native = NativeProgram.Compile(func);
        var actual = SpmdIO.Assemble(func, native.RunSpmd(2, r => SpmdIO.ArgumentsOf(func, inputs, r)));
        NativeHarness.AssertClose(expected, actual, 1e-10, c.ToString());
    }

    /// <summary>Random decoders (GQA, uneven heads over P, tied, qkv bias, seq not divisible by P) at sp 1, 2, 4: native == interpreter in f64.</summary>
    [Fact]
    public void RandomDecodersMatchTheInterpreter()
    {
        var gen = AutoSpHarness.Decoders(AutoSpHarness.Meshes(new[] { 1, 2, 4 }, new[] { 1 }), unevenHeads: true);
        PropertyRunner.ForAll(output, "native = interpreter", Arb.From(gen), 12, 20261122, c =>
        {
            var module = c.Sp == 1 ? AutoSpHarness.Joint(c) : AutoSpHarness.Partitioned(c);
            var func = AutoSpHarness.Step(module);
            var inputs = AutoSpHarness.Inputs(c.Sp == 1 ? module : AutoSpHarness.Joint(c), c);
            var (expected, _) = c.Sp == 1 ? (Interpreter.Run(func, inputs).Results, Array.Empty<RunResult>()) : AutoSpHarness.RunRanks(module, inputs);
            using var native = NativeProgram.Compile(func);
            var actual = c.Sp == 1 ? native.Run(inputs).Results : SpmdIO.Assemble(func, native.RunSpmd(c.Sp, r => SpmdIO.ArgumentsOf(func, inputs, r)));
            NativeHarness.AssertClose(expected, actual, 1e-10, c.ToString());
        });
    }

    /// <summary>The harness draws f64 inputs; an f32 program gets them rounded.</summary>
    private static HostTensor[] Cast(HostTensor[] inputs, Operation func)
    {
        var types = Dialects.Func.FuncDialect.Signature(func).Inputs;
        return inputs.Select((t, i) => Interpreter.SameType(t.Type, (TensorType)types[i]) ? t
            : HostTensor.FromDoubles((TensorType)types[i], t.ToDoubles())).ToArray();
    }
}
