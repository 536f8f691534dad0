using System.Diagnostics;
using AutoSpIR.Dialects;
using AutoSpIR.Dialects.Mem;
using AutoSpIR.Passes;
using AutoSpIR.Passes.Memory;
using AutoSpIR.Tools.Gen;

namespace AutoSpIR.Tools.Plan;

/// <summary>
/// A way to train on N GPUs, as the pipeline the planner compiles the model's real training
/// step with: <see cref="Pipeline"/> is run after <c>autodiff</c> on the step that
/// <c>autosp-gen</c> writes for <see cref="Batch"/> sequences of the candidate length.
/// </summary>
public sealed record Strategy(string Name, string Summary, Func<int, int> Batch, Func<int, string> Pipeline)
{
    /// <summary>
    /// The pipeline for <paramref name="dtype"/>: bf16 and f16 steps train as mixed precision does,
    /// <c>optimizer{master-dtype=f32}</c> (an f32 master copy and f32 m and v per parameter).
    /// </summary>
    public string PipelineFor(int gpus, string dtype) =>
        dtype is "bf16" or "f16" ? Pipeline(gpus).Replace("optimizer,", "optimizer{master-dtype=f32},", StringComparison.Ordinal) : Pipeline(gpus);

    /// <summary>
    /// The strategies, from the baselines to the best this compiler does (see README.md):
    /// checkpointing policies are <c>sac</c>'s, ZeRO stages the <c>zero</c> pass's.
    /// </summary>
    public static readonly Strategy[] All =
    {
        new("zero3", "data parallel, one sequence per GPU, ZeRO-3, PyTorch's default checkpointing",
            n => n, n => $"autosp{{sp=1,dp={n}}},sac{{policy=torch-default}},optimizer,zero{{stage=3}}"),
        new("ulysses", "hand-written Ulysses as DeepSpeed ships it: sequence over the N GPUs, ZeRO-1, PyTorch's default checkpointing",
            _ => 1, n => $"autosp{{sp={n}}},sac{{policy=torch-default}},optimizer,zero{{stage=1}}"),
        new("autosp", "DeepSpeed AutoSP: sequence over the N GPUs, sequence-aware checkpointing, ZeRO-1",
            _ => 1, n => $"autosp{{sp={n}}},sac{{policy=sac}},optimizer,zero{{stage=1}}"),
        new("autospir", "the best this compiler does: sequence over the N GPUs, sequence-aware checkpointing, ZeRO-3, peak-lowering schedule",
            _ => 1, n => $"autosp{{sp={n}}},sac{{policy=sac}},optimizer,zero{{stage=3}},mem-schedule"),
    };

    public static Strategy? Lookup(string name) => All.FirstOrDefault(s => s.Name == name);
}

/// <summary>Fixed per-GPU overheads the compiled program does not show, added to its planned arena.</summary>
public sealed record Overheads(long CudaContext, long CommBuffers, double AllocatorSlack, long Reserve)
{
    public long Of(long arena) => CudaContext + CommBuffers + (long)Math.Ceiling(arena * AllocatorSlack) + Reserve;
}

/// <summary>What one compile of one strategy at one sequence length gave: the per-rank plan and its costs.</summary>
public sealed record Probe(long SeqLen, long Arena, long Overhead, long[] Breakdown, long Flops, long CommBytes, BufferProgram Program, TimeSpan CompileTime)
{
    public long PeakBytes => Arena + Overhead;
}

public sealed class Planner(HfConfig config, long? layers, string dtype, int gpus, Overheads overheads)
{
    /// <summary>
    /// Compiles the training step of <paramref name="seqLen"/> tokens per sequence with
    /// <paramref name="strategy"/> and plans its memory; throws <see cref="PlanException"/> when a
    /// pass refuses the model (with its errors).
    /// </summary>
    public Probe Compile(Strategy strategy, long seqLen)
    {
        var clock = Stopwatch.StartNew();
        var ctx = AllDialects.NewContext();
        var module = LlamaGenerator.Generate(config, new GenOptions(seqLen, strategy.Batch(gpus), layers, dtype, "plan"), ctx);
        var diag = new DiagnosticEngine();
        var pc = new PassContext(ctx, diag, TextWriter.Null);
        var pipeline = PassPipelineParser.Parse($"autodiff,{strategy.PipelineFor(gpus, dtype)},bufferize", out var error)
                       ?? throw new PlanException($"strategy {strategy.Name}: {error}");
        if (!new PassManager(pc, pipeline) { VerifyEach = false }.Run(module))
            throw new PlanException($"strategy {strategy.Name} at {seqLen} tokens: " + string.Join("; ", diag.All.Take(3).Select(d => d.Message)));
        var func = module.Region(0).Ops.Single(o => o.Name == "func.func");
        var program = MemoryPlan.Plan(func, pc, inplace: true)
                      ?? throw new PlanException($"strategy {strategy.Name} at {seqLen} tokens: memory-plan failed: " + string.Join("; ", diag.All.Take(3).Select(d => d.Message)));
        long flops = 0, comm = 0;
        foreach (var op in program.Ops)
        {
            if (op.Def is not { } def) continue;
            flops += def.FlopsOf(OpState.Of(op));
            comm += def.CommBytesOf(op);
        }
        var split = program.BreakdownAt(program.PeakStep);
        return new Probe(seqLen, program.ArenaEnd, overheads.Of(program.ArenaEnd), split, flops, comm, program, clock.Elapsed);
    }

    /// <summary>
    /// The longest sequence (a multiple of <paramref name="granularity"/>, at most <paramref name="maxSeq"/>)
    /// whose compiled step fits in <paramref name="memory"/> bytes per GPU: doubling from the granularity
    /// while it fits, then bisecting. Null when even the shortest does not fit.
    /// </summary>
    public Probe? LongestFitting(Strategy strategy, long memory, long granularity, long maxSeq, Action<Probe, bool>? progress = null)
    {
        Probe? best = null;
        long lo = 0, hi = -1;   // lo: longest known to fit (0: none); hi: shortest known not to fit (-1: none yet)
        for (long s = granularity; s <= maxSeq; s *= 2)
        {
            var p = Compile(strategy, s);
            bool fits = p.PeakBytes <= memory;
            progress?.Invoke(p, fits);
            if (!fits) { hi = s; break; }
            (lo, best) = (s, p);
        }
        if (hi < 0) return best;
        while (hi - lo > granularity)
        {
            long mid = (lo + hi) / 2 / granularity * granularity;
            if (mid <= lo) break;
            var p = Compile(strategy, mid);
            bool fits = p.PeakBytes <= memory;
            progress?.Invoke(p, fits);
            if (fits) (lo, best) = (mid, p);
            else hi = mid;
        }
        return best;
    }
}

public sealed class PlanException(string message) : Exception(message);
