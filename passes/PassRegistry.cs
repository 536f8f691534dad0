using AutodiffPass = AutoSpIR.Passes.Autodiff.Autodiff;
using AutoSpIR.Passes.Generic;

namespace AutoSpIR.Passes;

/// <summary>Every pass autosp-opt knows, with its name, summary and options: the one table to extend.</summary>
public static class PassRegistry
{
    private static readonly List<PassInfo> s_all = new()
    {
        new("canonicalize", "Fold constants and simplify ops with their folders and canonicalization patterns; erase dead pure ops",
            new[] { new PassOption("max-iterations", "int", "10", "rounds over the whole IR before giving up on reaching a fixed point") },
            o => new Canonicalize((int)o.GetInt("max-iterations"))),
        new("cse", "Eliminate common subexpressions: pure ops with equal operands and attributes",
            Array.Empty<PassOption>(), _ => new Cse()),
        new("dce", "Erase pure ops whose results are unused",
            Array.Empty<PassOption>(), _ => new Dce()),
        new("cost-report", "Print the FLOPs and bytes of each op and their totals (to standard error)",
            new[] { new PassOption("per-op", "bool", "true", "list every op, not only the totals per function") },
            o => new CostReport(o.GetBool("per-op"))),
        new("autodiff", "Reverse-mode autodiff: a function returning a scalar loss becomes the joint forward+backward function returning the loss and the gradient of every aspir.param argument",
            new[] { new PassOption("entry", "string", "", "the function to differentiate; default: every function with one rank-0 float result and an aspir.param argument") },
            o => new AutodiffPass(o.Get("entry"))),
        new("sp-discover", "Find the sequence dimension of every non-parameter input (aspir.seq_dim), kept where given, else inferred from the ops' sharding rules: the dimension that reaches an attention op's query sequence",
            new[] { new PassOption("entry", "string", "", "the function to classify; default: every function with an aspir.param or aspir.seq_dim argument") },
            o => new AutoSp.SpDiscover(o.Get("entry"))),
        new("sp-legalize", "Rewrite cross_entropy losses into shardable pieces: labels shifted to their targets (tensor.shift), a sum of token losses over a count of counted tokens (exact on one device)",
            Array.Empty<PassOption>(), _ => new AutoSp.SpLegalize()),
        new("ulysses", "Place reshards sequence-sharded -> head-sharded -> back around every attention and attention gradient (DeepSpeed-Ulysses), repeating KV heads only up to P",
            AutoSp.SpMesh.Options, o => new AutoSp.Ulysses(o.GetInt("sp"), o.GetInt("dp"))),
        new("sharding-propagation", "Give every value a #dist.sharding from the ops' factor rules, starting from the sequence (and batch) dimensions of the inputs; conflicts become dist.reshard",
            AutoSp.SpMesh.Options, o => new AutoSp.ShardingPropagation(o.GetInt("sp"), o.GetInt("dp"))),
        new("dist-partition", "Global sharded program -> the per-rank program: local shapes, every dist.reshard lowered to collectives, positions for rope and label shifts",
            Array.Empty<PassOption>(), _ => new AutoSp.DistPartition()),
        new("autosp", "Automatic sequence parallelism: sp-discover, sp-legalize, ulysses, sharding-propagation, dist-partition, canonicalize, cse, dce; the mesh is [\"dp\"=D, \"sp\"=P], rank = dp*P + sp",
            AutoSp.SpMesh.Options, o => new AutoSp.AutoSpPipeline(o.GetInt("sp"), o.GetInt("dp"))),
        new("optimizer", "Append one AdamW step (tensor.adamw) to every joint training step: m, v arguments per parameter (aspir.opt_state), new param, m, v returned after the loss (passes/optimizer/Optimizer.cs)",
            Optimizer.OptimizerPass.Options, o => new Optimizer.OptimizerPass(o.Get("lr"), o.Get("beta1"), o.Get("beta2"), o.Get("eps"), o.Get("weight-decay"), o.GetInt("step"), o.GetBool("keep-grads"), o.Get("master-dtype"))),
        new("zero", "ZeRO over the whole mesh on the per-rank step (after autosp and optimizer): stage=1 shards m, v (gradient all_reduce -> reduce_scatter, update on the shard, all_gather of the new parameter); stage=3 also shards parameters (all_gather before forward and backward use) (passes/zero/Zero.cs)",
            Zero.ZeroPass.Options, o => new Zero.ZeroPass(o.GetInt("stage"))),
        new("comm-report", "Print the bytes each rank sends per collective and per step (to standard error)",
            new[] { new PassOption("per-op", "bool", "true", "list every collective, not only the totals") },
            o => new AutoSp.CommReport(o.GetBool("per-op"))),
        new("sac", "Sequence-aware activation checkpointing of a joint step: keep saved activations that are costly to recompute (attention at long context), recompute cheap ones (linears, norms, elementwise) before their first backward use; policy=sac|torch-default|none; reports saved bytes and recomputed FLOPs", Sac.Sac.Options, Sac.Sac.Create),
        new("remat", "Optimal rematerialization under a memory budget (the yardstick for sac): the sac decision set (keep or recompute each saved activation, sac's legality and cloning) with the fewest recomputed FLOPs whose peak bytes live (interpreter accounting) are at most budget, by exact branch and bound; reports FLOPs and peak, fails when nothing fits (passes/sac/Remat.cs)",
            Sac.Remat.Options, Sac.Remat.Create),
        new("bufferize", "Give every tensor value a buffer and make lifetimes explicit as mem attributes (mem.buffer on arguments, mem.buffers and mem.free on ops)",
            Array.Empty<PassOption>(), _ => new Memory.Bufferize()),
        new("memory-plan", "Plan a bufferized function's per-rank arena: in-place reuse, best-fit offsets (mem.offset(s), mem.arena_size), and print the peak bytes split into parameters, gradients, activations, communication, workspace (to standard error)",
            new[] { new PassOption("inplace", "bool", "true", "write elementwise results into the buffer of an operand that dies at the op (same size)") },
            o => new Memory.MemoryPlan(o.GetBool("inplace"))),
        new("mem-schedule", "Reorder each function body (topologically, collectives in their order) to lower the live peak: the best of the given, sink-to-first-user and greedy freed-bytes orders; run before bufferize",
            Array.Empty<PassOption>(), _ => new Memory.Schedule()),
        new("mem-verify", "Check the mem attributes: buffers, exact lifetimes, in-place writes, non-overlapping offsets and the arena size",
            Array.Empty<PassOption>(), _ => new Memory.MemVerify()),
    };

    /// <summary>Every registered pass: this table's, then those of assemblies above passes/ (lowering/) added with <see cref="Add"/>.</summary>
    public static IReadOnlyList<PassInfo> All
    {
        get { lock (s_all) return s_all.ToArray(); }
    }

    public static PassInfo? Lookup(string name) => All.FirstOrDefault(p => p.Name == name);

    /// <summary>
    /// Registers a pass of a project that depends on this one (dependencies point one way, so the
    /// lowering passes cannot be named in the table above); a name already registered is left alone.
    /// </summary>
    public static void Add(PassInfo pass)
    {
        lock (s_all)
            if (!s_all.Any(p => p.Name == pass.Name)) s_all.Add(pass);
    }
}
