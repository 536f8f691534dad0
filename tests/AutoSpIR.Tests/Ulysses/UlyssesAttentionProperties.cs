using System.Globalization;
using AutoSpIR.Dialects;
using AutoSpIR.Dialects.Dist;
using AutoSpIR.Grammar;
using AutoSpIR.Passes.AutoSp;
using AutoSpIR.Runtime;
using AutoSpIR.Runtime.Comm;
using Mesh = AutoSpIR.Runtime.Comm.Mesh;
using AutoSpIR.Tests.Properties;
using FsCheck.Fluent;
using Xunit.Abstractions;
using FsGen = FsCheck.Fluent.Gen;

namespace AutoSpIR.Tests.Ulysses;

/// <summary>
/// The Ulysses lowering of attention and of its gradient, run on P in-process ranks, equals
/// attention and attention_grad on one device (f64, relative error below 1e-12), for random
/// batch, sequence, query and key/value head counts (grouped-query, with fewer KV heads than
/// ranks too), head size, causality and P in {1, 2, 3, 4, 8}; and the bytes each rank sent,
/// as the communicator counted them, equal the compiler's CommBytes of the emitted collectives.
/// </summary>
public class UlyssesAttentionProperties(ITestOutputHelper output)
{
    public sealed record Case(int P, int B, int LocalSeq, int Hq, int Hkv, int D, bool Causal, int Seed)
    {
        public override string ToString() =>
            $"P={P} B={B} S={P * LocalSeq} Hq={Hq} Hkv={Hkv} D={D} causal={Causal} seed={Seed}";
    }

    private static readonly FsCheck.Gen<Case> Cases =
        from p in FsGen.Elements(1, 2, 3, 4, 8)
        from b in FsGen.Choose(1, 2)
        from s in FsGen.Choose(1, 3)
        from m in FsGen.Choose(1, 2)                 // Hq = P * m: query heads split evenly
        let hq = p * m
        from hkv in FsGen.Elements(Divisors(hq).Where(h => h % p == 0 || p % h == 0).ToArray())
        from d in FsGen.Elements(2, 4)
        from causal in FsGen.Elements(true, false)
        from seed in FsGen.Choose(0, 1_000_000)
        select new Case(p, b, s, hq, hkv, d, causal, seed);

    private static IEnumerable<int> Divisors(int n) => Enumerable.Range(1, n).Where(k => n % k == 0);

    [Fact]
    public void UlyssesAttentionEqualsOneDevice() =>
        PropertyRunner.ForAll(output, "ulysses attention = one device", Arb.From(Cases), 300, 20261122, Check);

    private static void Check(Case c)
    {
        long S = c.P * c.LocalSeq;
        var global = Module(c, perRank: false, out _);
        var perRank = Module(c, perRank: true, out long commBytes);

        var rng = new Random(c.Seed);
        var ctx = new Context();
        var qType = ctx.Tensor(new long[] { c.B, S, c.Hq, c.D }, ctx.F64);
        var kType = ctx.Tensor(new long[] { c.B, S, c.Hkv, c.D }, ctx.F64);
        var inputs = new[] { qType, kType, kType, qType }
            .Select(t => HostTensor.FromDoubles(t, Enumerable.Range(0, (int)t.NumElements).Select(_ => rng.NextDouble() * 2 - 1).ToArray()))
            .ToArray();

        var expected = Interpreter.Run(Func(global), inputs).Results;

        var mesh = new Mesh("mesh", new[] { "sp" }, new[] { c.P });
        var bySeq = new IReadOnlyList<string>[] { Array.Empty<string>(), new[] { "sp" }, Array.Empty<string>(), Array.Empty<string>() };
        var runs = Interpreter.RunSpmd(Func(perRank), c.P,
            r => inputs.Select(x => Sharding.SliceForRank(x, mesh, bySeq, r)).ToArray());

        for (int i = 0; i < expected.Length; i++)
        {
            var got = Sharding.AssembleFromRanks(runs.Select(r => r.Results[i]).ToList(), mesh, bySeq);
            double maxDiff = 0, maxRef = 0;
            for (long k = 0; k < got.Count; k++)
            {
                maxDiff = Math.Max(maxDiff, Math.Abs(got.Get(k) - expected[i].Get(k)));
                maxRef = Math.Max(maxRef, Math.Abs(expected[i].Get(k)));
            }
            double rel = maxRef == 0 ? maxDiff : maxDiff / maxRef;
            Assert.True(rel < 1e-12, $"{c}: result #{i} (o, dq, dk, dv) differs from one device by {rel:E2}");
        }
        foreach (var r in runs)
            Assert.True(r.BytesSent == commBytes, $"{c}: a rank sent {r.BytesSent} bytes, CommBytes of the program say {commBytes}");
    }

    private static Operation Func(Operation module) => module.Region(0).Ops.Single(o => o.Name == "func.func");

    /// <summary>
    /// The program (o, dq, dk, dv) = (attention, attention_grad)(q, k, v, dout): on one device, or
    /// per rank with sequence-sharded arguments and results through the Ulysses lowering.
    /// </summary>
    private static Operation Module(Case c, bool perRank, out long commBytes)
    {
        long s = perRank ? c.LocalSeq : c.P * c.LocalSeq;
        string T(long heads) => $"tensor<{c.B}x{s}x{heads}x{c.D}xf64>";
        string mesh = perRank ? $"dist.mesh @mesh {{axes = [\"sp\"], shape = [{c.P}]}}\n" : "";
        string attrs = c.Causal ? " {causal}" : "";
        var text = string.Create(CultureInfo.InvariantCulture, $$"""
            module {
              {{mesh}}func.func @f(%q: {{T(c.Hq)}}, %k: {{T(c.Hkv)}}, %v: {{T(c.Hkv)}}, %dout: {{T(c.Hq)}})
                  -> ({{T(c.Hq)}}, {{T(c.Hq)}}, {{T(c.Hkv)}}, {{T(c.Hkv)}}) {
                func.return %q, %q, %k, %v : {{T(c.Hq)}}, {{T(c.Hq)}}, {{T(c.Hkv)}}, {{T(c.Hkv)}}
              }
            }
            """);
        var ctx = AllDialects.NewContext();
        var diag = new DiagnosticEngine();
        var module = AspIRParserDriver.ParseAndVerify(text, "ulysses.aspir", ctx, diag)
                     ?? throw new InvalidOperationException(string.Join("\n", diag.All));
        var func = Func(module);
        var entry = func.Region(0).EntryBlock!;
        var ret = entry.Terminator!;
        var (q, k, v, dout) = (entry.Arguments[0], entry.Arguments[1], entry.Arguments[2], entry.Arguments[3]);
        var b = new Builder(ctx);
        b.SetInsertionPoint(ret);
        var attentionAttrs = c.Causal ? b.Attrs(("causal", ctx.Unit)) : ctx.EmptyDictionary;
        Value[] results;
        if (perRank)
        {
            var group = Group.Get(DeviceMesh.Lookup(func, "mesh")!, new[] { "sp" });
            var o = UlyssesAttention.Forward(b, group, q, k, v, attentionAttrs);
            var (dq, dk, dv) = UlyssesAttention.Backward(b, group, q, k, v, dout, attentionAttrs);
            results = new[] { o, dq, dk, dv };
        }
        else
        {
            var o = b.Create(AutoSpIR.Dialects.Tensor.Attention.Def, new Value[] { q, k, v }, attentionAttrs).Result(0);
            var grads = b.Create(AutoSpIR.Dialects.Tensor.AttentionGrad.Def, new Value[] { q, k, v, dout }, attentionAttrs);
            results = new[] { o, grads.Result(0), grads.Result(1), grads.Result(2) };
        }
        ret.SetOperands(results);
        Assert.True(Verifier.Verify(module, diag), string.Join("\n", diag.All) + "\n" + Printer.Print(module));
        long bytes = 0;
        func.Walk(op => bytes += op.Def?.CommBytesOf(op) ?? 0);
        commBytes = bytes;
        return module;
    }
}
