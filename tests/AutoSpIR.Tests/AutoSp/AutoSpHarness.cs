using System.Globalization;
using AutoSpIR.Dialects;
using AutoSpIR.Tools.Gen;
using AutoSpIR.Passes;
using AutoSpIR.Runtime;
using AutoSpIR.Runtime.Comm;
using FsCheck.Fluent;
using FsGen = FsCheck.Fluent.Gen;

namespace AutoSpIR.Tests.AutoSp;

/// <summary>
/// A decoder training step, generated from a config (autosp-gen's generator) and differentiated
/// (autodiff), run on one device and, through <c>autosp{sp=P,dp=D}</c>, on D*P in-process ranks;
/// both from the same random weights and batch.
/// </summary>
public sealed record DecoderCase(
    long Hidden, long Heads, long KvHeads, long HeadDim, long Intermediate, long Layers, long Vocab,
    long Seq, long Batch, bool Tied, bool QkvBias, int Sp, int Dp, int Seed)
{
    public override string ToString() =>
        $"hidden={Hidden} heads={Heads}/{KvHeads}x{HeadDim} inter={Intermediate} layers={Layers} vocab={Vocab} seq={Seq} batch={Batch} " +
        $"tied={Tied} bias={QkvBias} sp={Sp} dp={Dp} seed={Seed}";

    public HfConfig Config() => HfConfig.Parse(string.Create(CultureInfo.InvariantCulture, $$"""
        {"model_type": "{{(QkvBias ? "qwen2" : "llama")}}", "hidden_size": {{Hidden}}, "intermediate_size": {{Intermediate}},
         "num_hidden_layers": {{Layers}}, "num_attention_heads": {{Heads}}, "num_key_value_heads": {{KvHeads}},
         "head_dim": {{HeadDim}}, "vocab_size": {{Vocab}}, "rope_theta": 10000.0, "rms_norm_eps": 1e-5,
         "tie_word_embeddings": {{(Tied ? "true" : "false")}}, "hidden_act": "silu"}
        """));
}

public static class AutoSpHarness
{
    /// <summary>The meshes (sp, dp) drawn from <paramref name="sps"/> x <paramref name="dps"/> that <paramref name="keep"/> accepts.</summary>
    public static FsCheck.Gen<(int Sp, int Dp)> Meshes(int[] sps, int[] dps, Func<int, int, bool>? keep = null) =>
        from sp in FsGen.Elements(sps)
        from dp in FsGen.Elements(dps)
        where keep?.Invoke(sp, dp) ?? true
        select (sp, dp);

    /// <summary>
    /// Random small decoders on a mesh from <paramref name="meshes"/>: query heads a multiple of sp
    /// (plus 1 or 2 more, unevenly split, with <paramref name="unevenHeads"/>), KV heads any divisor,
    /// head size 2 or 4, 1 or 2 layers, vocabulary 7 or 16, tied embeddings and q/k/v bias either way,
    /// a sequence of up to <paramref name="maxPerRank"/> positions per rank that sp often does not
    /// divide, and a batch of one or two per dp rank.
    /// </summary>
    public static FsCheck.Gen<DecoderCase> Decoders(FsCheck.Gen<(int Sp, int Dp)> meshes, bool unevenHeads = false,
        long[]? hiddens = null, long[]? intermediates = null, int maxPerRank = 3) =>
        from m in meshes
        from extraHeads in unevenHeads && m.Sp > 1 ? FsGen.Elements(0, 0, 1, 2) : FsGen.Constant(0)
        from mult in FsGen.Elements(1, 2)
        let heads = m.Sp * mult + extraHeads
        from kv in FsGen.Elements(Enumerable.Range(1, heads).Where(k => heads % k == 0).ToArray())
        from headDim in FsGen.Elements(2, 4)
        from hidden in FsGen.Elements(hiddens ?? new long[] { 8, 12 })
        from inter in FsGen.Elements(intermediates ?? new long[] { 8, 10 })
        from layers in FsGen.Choose(1, 2)
        from vocab in FsGen.Elements(7, 16)
        from perRank in FsGen.Choose(1, maxPerRank)
        from tail in FsGen.Choose(0, m.Sp - 1)
        let seq = Math.Max(2, m.Sp * perRank - tail)
        from batch in FsGen.Elements(m.Dp, 2 * m.Dp)
        from tied in FsGen.Elements(false, true)
        from bias in FsGen.Elements(false, true)
        from seed in FsGen.Choose(0, 1_000_000)
        select new DecoderCase(hidden, heads, kv, headDim, inter, layers, vocab, seq, batch, tied, bias, m.Sp, m.Dp, seed);

    /// <summary>
    /// The bytes the ranks sent against the program's CommBytes: CommBytes is what one rank sends; for
    /// dist.shift it is the most any rank sends (the end of the ring sends nothing), so the busiest rank
    /// matches the count exactly and the others fall short by at most the shifts.
    /// </summary>
    public static void AssertCommBytes(Operation perRank, RunResult[] ranks, string label)
    {
        long commBytes = 0, shiftBytes = 0;
        Step(perRank).Walk(op =>
        {
            long b = op.Def?.CommBytesOf(op) ?? 0;
            commBytes += b;
            if (op.Name == "dist.shift") shiftBytes += b;
        });
        Assert.True(ranks.Max(r => r.BytesSent) == commBytes, $"{label}: the busiest rank sent {ranks.Max(r => r.BytesSent)} bytes, the program's CommBytes say {commBytes}");
        foreach (var r in ranks)
            Assert.True(r.BytesSent >= commBytes - shiftBytes, $"{label}: a rank sent {r.BytesSent} bytes, less than the {commBytes - shiftBytes} every rank sends");
    }

    /// <summary>The joint forward+backward module of <paramref name="c"/> (f64), verified.</summary>
    public static Operation Joint(DecoderCase c, string dtype = "f64")
    {
        var ctx = AllDialects.NewContext();
        var module = LlamaGenerator.Generate(c.Config(), new GenOptions(c.Seq, c.Batch, c.Layers, dtype, "case"), ctx);
        RunPipeline(module, "autodiff");
        return module;
    }

    /// <summary>
    /// Runs <paramref name="pipeline"/> on <paramref name="module"/> with verification, throwing with the diagnostics on failure;
    /// returns what the passes wrote to the report stream (comm-report's tables).
    /// </summary>
    public static string RunPipeline(Operation module, string pipeline)
    {
        var diag = new DiagnosticEngine();
        var report = new StringWriter();
        var parsed = PassPipelineParser.Parse(pipeline, out var error) ?? throw new InvalidOperationException(error);
        var pm = new PassManager(new PassContext(module.Context, diag, report), parsed);
        if (!pm.Run(module))
            throw new PipelineFailed(string.Join("\n", diag.All.Select(d => d.ToString())));
        return report.ToString();
    }

    public sealed class PipelineFailed(string message) : Exception(message);

    public static Operation Step(Operation module) =>
        module.Region(0).Ops.Single(o => o.Name == "func.func");

    /// <summary>Arguments in order: ids, labels (about one in six ignored), then the parameters, drawn from <paramref name="seed"/>.</summary>
    public static HostTensor[] Inputs(Operation joint, DecoderCase c)
    {
        var rng = new Random(c.Seed);
        var func = Step(joint);
        var args = func.Region(0).EntryBlock!.Arguments;
        var inputs = new HostTensor[args.Count];
        for (int i = 0; i < args.Count; i++)
        {
            var t = (TensorType)args[i].Type;
            var attrs = Dialects.Func.FuncDialect.ArgAttrs(func, i);
            var name = (attrs.Get("aspir.name") as StringAttr)?.Value ?? (attrs.Get("aspir.param") as StringAttr)?.Value ?? "";
            var values = new double[t.NumElements];
            for (int k = 0; k < values.Length; k++)
                values[k] = name switch
                {
                    "input_ids" => rng.Next((int)c.Vocab),
                    // Position 1 always counts (it is the first target), so no batch is all ignored (a NaN loss).
                    "labels" => k % t.Dim(1) != 1 && rng.Next(6) == 0 ? -100 : rng.Next((int)c.Vocab),
                    _ when name.EndsWith("norm.weight", StringComparison.Ordinal) || name.EndsWith("layernorm.weight", StringComparison.Ordinal)
                        => 1 + 0.2 * (rng.NextDouble() * 2 - 1),
                    _ => (rng.NextDouble() * 2 - 1) / Math.Sqrt(c.Hidden),
                };
            inputs[i] = HostTensor.FromDoubles(t, values);
        }
        return inputs;
    }

    /// <summary>The per-rank module: <c>autosp{sp,dp}</c> of a fresh copy of the joint program.</summary>
    public static Operation Partitioned(DecoderCase c, string dtype = "f64")
    {
        var module = Joint(c, dtype);
        RunPipeline(module, $"autosp{{sp={c.Sp},dp={c.Dp}}}");
        return module;
    }

    /// <summary>Runs the per-rank module on its ranks from the global inputs; the global results and each rank's run.</summary>
    public static (HostTensor[] Results, RunResult[] Ranks) RunRanks(Operation partitioned, HostTensor[] inputs, TimeSpan? timeout = null)
    {
        var func = Step(partitioned);
        int ranks = SpmdIO.RankCount(func);
        var runs = Interpreter.RunSpmd(func, ranks, r => SpmdIO.ArgumentsOf(func, inputs, r), timeout: timeout);
        return (SpmdIO.Assemble(func, runs), runs);
    }

    /// <summary>
    /// The largest |a - b| over the largest |b| of two tensors of one shape, the scale floored at
    /// <paramref name="floor"/>: a gradient that is zero in exact arithmetic (a causal attention
    /// whose only counted query sees only itself has dq = dk = 0) comes out as rounding noise of
    /// about 1e-17 whose digits depend on the summation order, so it is compared absolutely.
    /// </summary>
    public static double RelativeError(HostTensor a, HostTensor b, double floor = 1e-6)
    {
        double diff = 0, scale = 0;
        for (long k = 0; k < b.Count; k++)
        {
            diff = Math.Max(diff, Math.Abs(a.Get(k) - b.Get(k)));
            scale = Math.Max(scale, Math.Abs(b.Get(k)));
        }
        return diff / Math.Max(scale, floor);
    }
}
