using System.Globalization;
using System.Text;
using System.Text.Json;
using AutoSpIR.Dialects.Mem;
using AutoSpIR.Passes.Memory;
using AutoSpIR.Tools;
using AutoSpIR.Tools.Gen;
using AutoSpIR.Tools.Plan;

// autosp-plan: the longest context each strategy trains on N GPUs, from the compiled training step.
return ToolIO.Guard(PlanTool.Tool, () => PlanTool.Run(args));

namespace AutoSpIR.Tools.Plan
{
    public static class PlanTool
    {
        public const string Tool = "autosp-plan";

        private const string Notes = """

            For each strategy, compiles the model's real training step (autosp-gen -> autodiff ->
            the strategy's passes -> bufferize -> memory-plan) at candidate sequence lengths,
            doubling from --granularity while the per-GPU peak fits and then bisecting, and prints
            the longest context that fits with the memory breakdown at that length and an
            estimated step time. Strategies (--strategy, comma-separated; default all):
              zero3     data parallel (one sequence per GPU), ZeRO-3, PyTorch's default checkpointing
              ulysses   sequence over the N GPUs (DeepSpeed-Ulysses), ZeRO-1, PyTorch's default checkpointing
              autosp    sequence over the N GPUs, sequence-aware checkpointing (as DeepSpeed AutoSP), ZeRO-1
              autospir  sequence, sequence-aware checkpointing, ZeRO-3 and a peak-lowering schedule
            The peak per GPU is the planned arena (every value of the step at its planned offset)
            plus the fixed overheads the program does not show: --cuda-context, --comm-buffers,
            --allocator-slack (a fraction of the arena) and --reserve. The step time is FLOPs at
            the GPU's dense bf16 rate plus bytes sent at its link bandwidth, without overlap: a
            rough lower bound, not a measurement.

            EXAMPLES:
              autosp-plan --hf-config ../shared/models/llama-3.1-8b.json --gpus 8 --gpu-memory 80GiB
              autosp-plan --hf-config ../shared/models/llama-3.1-8b.json --gpus 8 --gpu h100 --strategy autosp --json
            """;

        public static int Run(string[] args)
        {
            var cl = new CommandLine(Tool, "autosp-plan --hf-config CONFIG.json --gpus N [options]");
            cl.Value("hf-config", "the Hugging Face config.json of the model (required)");
            cl.Value("gpus", "GPUs to train on, N >= 1 (required)");
            cl.Value("gpu", "the GPU: a100-80gb, h100, h200 or mi250x (memory, bf16 rate and link bandwidth)", defaultValue: "h100");
            cl.Value("gpu-memory", "memory per GPU, e.g. 80GiB or 80GB (default: the --gpu's)");
            cl.Value("strategy", "strategies to plan, comma-separated: zero3, ulysses, autosp, autospir (default: all)");
            cl.Value("layers", "decoder layers to compile (default: num_hidden_layers of the config)");
            cl.Value("dtype", "element type of parameters and activations: bf16, f32", defaultValue: "bf16");
            cl.Value("granularity", "sequence lengths tried are multiples of this", defaultValue: "1024");
            cl.Value("max-seq", "the longest sequence length tried", defaultValue: "16777216");
            cl.Value("cuda-context", "per-GPU memory of the CUDA/HIP context and kernels", defaultValue: "1GiB");
            cl.Value("comm-buffers", "per-GPU memory of the collective library's buffers (NCCL/RCCL)", defaultValue: "512MiB");
            cl.Value("allocator-slack", "caching-allocator fragmentation, as a fraction of the planned arena", defaultValue: "0.05");
            cl.Value("reserve", "further bytes per GPU to leave free", defaultValue: "0");
            cl.Flag("json", "print the results as JSON (no progress display)");
            cl.Value("trace", "write a Chrome trace (Perfetto) of each strategy's memory timeline and op schedule at its longest context");
            if (!cl.ParseOrExit(args, out int exit)) return exit;
            if (cl.GetFlag("help"))
            {
                Console.Write(cl.HelpText() + Notes.Replace("\r", "") + "\n");
                return 0;
            }
            if (cl.Positional.Count > 0) return Fail($"unexpected argument '{cl.Positional[0]}' (see --help)");

            var configPath = cl.Get("hf-config");
            if (configPath is null) return Fail("missing --hf-config CONFIG.json (see --help)");
            if (cl.Get("gpus") is not { } gpusText) return Fail("missing --gpus N (see --help)");
            if (!int.TryParse(gpusText, NumberStyles.None, CultureInfo.InvariantCulture, out int gpus) || gpus < 1)
                return Fail($"--gpus takes a positive number, not '{gpusText}'");
            var gpu = Gpu.Lookup(cl.Get("gpu")!);
            if (gpu is null) return Fail($"unknown --gpu '{cl.Get("gpu")}' (one of {string.Join(", ", Gpu.Known.Select(g => g.Name))})");
            long memory = gpu.MemoryBytes;
            if (cl.Get("gpu-memory") is { } memText && !Gpu.TryParseBytes(memText, out memory))
                return Fail($"--gpu-memory takes a size like 80GiB or 80GB, not '{memText}'");
            if (!Bytes(cl, "cuda-context", out var cudaContext) || !Bytes(cl, "comm-buffers", out var commBuffers) || !Bytes(cl, "reserve", out var reserve))
                return 1;
            if (!double.TryParse(cl.Get("allocator-slack"), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var slack) || slack < 0)
                return Fail($"--allocator-slack takes a fraction >= 0, not '{cl.Get("allocator-slack")}'");
            if (!Count(cl, "granularity", out var granularity) || !Count(cl, "max-seq", out var maxSeq)) return 1;
            long? layers = null;
            if (cl.Get("layers") is not null)
            {
                if (!Count(cl, "layers", out var l)) return 1;
                layers = l;
            }
            var dtype = cl.Get("dtype")!;
            if (dtype is not ("bf16" or "f32")) return Fail($"--dtype must be bf16 or f32, not '{dtype}'");

            var strategies = new List<Strategy>();
            foreach (var name in (cl.Get("strategy") ?? string.Join(",", Strategy.All.Select(s => s.Name))).Split(',', StringSplitOptions.TrimEntries))
            {
                if (Strategy.Lookup(name) is not { } s)
                    return Fail($"unknown strategy '{name}' (one of {string.Join(", ", Strategy.All.Select(x => x.Name))})");
                strategies.Add(s);
            }

            HfConfig config;
            try
            {
                config = HfConfig.Parse(File.ReadAllText(configPath));
            }
            catch (Exception e) when (e is ConfigException or IOException or UnauthorizedAccessException or JsonException)
            {
                return Fail($"{configPath}: {e.Message}");
            }

            bool json = cl.GetFlag("json");
            var planner = new Planner(config, layers, dtype, gpus, new Overheads(cudaContext, commBuffers, slack, reserve));
            var results = new List<(Strategy Strategy, Probe? Best, string? Error)>();
            foreach (var s in strategies)
            {
                try
                {
                    var best = planner.LongestFitting(s, memory, granularity, maxSeq, json ? null : (p, fits) =>
                        Console.Error.WriteLine($"{Tool}: {s.Name,-9} {p.SeqLen,10:N0} tokens: {Gpu.GiB(p.PeakBytes),10} {(fits ? "fits" : "does not fit")} (compiled in {p.CompileTime.TotalSeconds:0.00} s)"));
                    results.Add((s, best, null));
                }
                catch (Exception e) when (e is PlanException or ConfigException)
                {
                    results.Add((s, null, e.Message));
                    if (!json) Console.Error.WriteLine($"{Tool}: {s.Name}: {e.Message}");
                }
            }

            var title = $"{Path.GetFileName(configPath)} on {gpus} x {gpu.Name}, {Gpu.GiB(memory)} each, {dtype}";
            if (json) Console.Write(Json(title, gpu, gpus, memory, results));
            else Console.Write(Table(title, gpu, results));
            if (cl.Get("trace") is { } tracePath)
            {
                if (!ToolIO.WriteOutput(Tool, tracePath, w => { w.Write(Trace(results)); return true; })) return 1;
            }
            return results.Any(r => r.Error is not null) ? 1 : 0;
        }

        private static int Fail(string message)
        {
            Console.Error.WriteLine($"{Tool}: {message}");
            return 1;
        }

        private static bool Bytes(CommandLine cl, string name, out long bytes)
        {
            if (Gpu.TryParseBytes(cl.Get(name)!, out bytes)) return true;
            Fail($"--{name} takes a size like 512MiB, not '{cl.Get(name)}'");
            return false;
        }

        private static bool Count(CommandLine cl, string name, out long value)
        {
            if (long.TryParse(cl.Get(name), NumberStyles.None, CultureInfo.InvariantCulture, out value) && value >= 1) return true;
            Fail($"--{name} takes a positive number, not '{cl.Get(name)}'");
            return false;
        }

        private static double StepSeconds(Gpu gpu, Probe p) => p.Flops / (gpu.Bf16TeraFlops * 1e12) + p.CommBytes / (gpu.LinkGigaBytes * 1e9);

        private static string Table(string title, Gpu gpu, List<(Strategy Strategy, Probe? Best, string? Error)> results)
        {
            var sb = new StringBuilder();
            sb.AppendLine(title);
            sb.AppendLine($"{"strategy",-10}{"max context",14}{"peak/GPU",12}{"params",11}{"grads",11}{"optimizer",11}{"activations",13}{"comm",11}{"overhead",11}{"step (est.)",13}");
            foreach (var (s, p, error) in results)
            {
                if (error is not null) { sb.AppendLine($"{s.Name,-10}  error: {error}"); continue; }
                if (p is null) { sb.AppendLine($"{s.Name,-10}{"none fits",14}"); continue; }
                long B(MemCategory c) => p.Breakdown[(int)c];
                sb.AppendLine($"{s.Name,-10}{p.SeqLen,14:N0}{Gpu.GiB(p.PeakBytes),12}{Gpu.GiB(B(MemCategory.Parameters)),11}{Gpu.GiB(B(MemCategory.Gradients)),11}"
                              + $"{Gpu.GiB(B(MemCategory.OptimizerState)),11}{Gpu.GiB(B(MemCategory.Activations)),13}{Gpu.GiB(B(MemCategory.Communication)),11}"
                              + $"{Gpu.GiB(p.Overhead),11}{StepSeconds(gpu, p),11:0.00} s");
            }
            sb.AppendLine("peak/GPU = planned arena + overhead at the longest context; the columns split the live bytes at the arena's peak step.");
            return sb.ToString();
        }

        private static string Json(string title, Gpu gpu, int gpus, long memory, List<(Strategy Strategy, Probe? Best, string? Error)> results)
        {
            using var stream = new MemoryStream();
            using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
            {
                w.WriteStartObject();
                w.WriteString("title", title);
                w.WriteString("gpu", gpu.Name);
                w.WriteNumber("gpus", gpus);
                w.WriteNumber("gpu_memory_bytes", memory);
                w.WriteStartArray("strategies");
                foreach (var (s, p, error) in results)
                {
                    w.WriteStartObject();
                    w.WriteString("name", s.Name);
                    w.WriteString("summary", s.Summary);
                    if (error is not null) w.WriteString("error", error);
                    if (p is null) w.WriteNull("max_context");
                    else
                    {
                        w.WriteNumber("max_context", p.SeqLen);
                        w.WriteNumber("peak_bytes", p.PeakBytes);
                        w.WriteStartObject("breakdown");
                        w.WriteNumber("parameters", p.Breakdown[(int)MemCategory.Parameters]);
                        w.WriteNumber("gradients", p.Breakdown[(int)MemCategory.Gradients]);
                        w.WriteNumber("optimizer_state", p.Breakdown[(int)MemCategory.OptimizerState]);
                        w.WriteNumber("activations", p.Breakdown[(int)MemCategory.Activations]);
                        w.WriteNumber("communication", p.Breakdown[(int)MemCategory.Communication]);
                        w.WriteNumber("workspace", p.Breakdown[(int)MemCategory.Workspace]);
                        w.WriteNumber("fragmentation", p.Arena - p.Program.LivePeak);
                        w.WriteNumber("overhead", p.Overhead);
                        w.WriteEndObject();
                        w.WriteNumber("flops_per_gpu", p.Flops);
                        w.WriteNumber("comm_bytes_per_gpu", p.CommBytes);
                        w.WriteNumber("step_seconds_estimate", StepSeconds(gpu, p));
                    }
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
        }

        /// <summary>
        /// Chrome trace events: per strategy (a process), the ops in schedule order as complete
        /// events one microsecond a step apart, and a counter of the live bytes at each step.
        /// </summary>
        private static string Trace(List<(Strategy Strategy, Probe? Best, string? Error)> results)
        {
            using var stream = new MemoryStream();
            using (var w = new Utf8JsonWriter(stream))
            {
                w.WriteStartObject();
                w.WriteStartArray("traceEvents");
                int pid = 0;
                foreach (var (s, p, _) in results)
                {
                    pid++;
                    if (p is null) continue;
                    w.WriteStartObject();
                    w.WriteString("name", "process_name"); w.WriteString("ph", "M"); w.WriteNumber("pid", pid);
                    w.WriteStartObject("args"); w.WriteString("name", $"{s.Name} at {p.SeqLen} tokens"); w.WriteEndObject();
                    w.WriteEndObject();
                    for (int i = 0; i < p.Program.Ops.Count; i++)
                    {
                        w.WriteStartObject();
                        w.WriteString("name", p.Program.Ops[i].Name); w.WriteString("ph", "X");
                        w.WriteNumber("ts", i); w.WriteNumber("dur", 1); w.WriteNumber("pid", pid); w.WriteNumber("tid", 1);
                        w.WriteEndObject();
                        w.WriteStartObject();
                        w.WriteString("name", "live bytes"); w.WriteString("ph", "C");
                        w.WriteNumber("ts", i); w.WriteNumber("pid", pid);
                        w.WriteStartObject("args"); w.WriteNumber("bytes", p.Program.LiveBytesAt[i]); w.WriteEndObject();
                        w.WriteEndObject();
                    }
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
        }
    }
}
