using System.Diagnostics;
using AutoSpIR.Dialects.Func;
using AutoSpIR.Lowering;
using AutoSpIR.Lowering.Llvm;
using AutoSpIR.Tools;

// autosp-translate: lower a function to native code (MLIR's mlir-translate + llc): the tensor program through
// bufferize, memory-plan, convert-tensor-to-loops and convert-to-llvm, then LLVM's code generator.
return ToolIO.Guard("autosp-translate", () => TranslateTool.Run(args));

internal static class TranslateTool
{
    private const string Tool = "autosp-translate";

    /// <summary>The CPUs each target accepts (LLVM 16's names).</summary>
    private static readonly Dictionary<string, (string Triple, string[] Cpus, string Default, string Features)> Targets = new()
    {
        ["x86-64"] = ("x86_64-pc-linux-gnu", new[] { "x86-64", "x86-64-v2", "x86-64-v3", "x86-64-v4", "native" }, "x86-64-v3", ""),
        ["nvptx64"] = ("nvptx64-nvidia-cuda", new[] { "sm_80", "sm_86", "sm_89", "sm_90" }, "sm_80", "+ptx78"),
        ["amdgcn"] = ("amdgcn-amd-amdhsa", new[] { "gfx90a", "gfx940", "gfx1100" }, "gfx90a", ""),
    };

    public static int Run(string[] args)
    {
        var cl = new CommandLine(Tool, "autosp-translate FILE.aspir --target x86-64|nvptx64|amdgcn [--mcpu CPU] [--emit KIND] -o OUT");
        cl.Value("target", "x86-64 (the default: an ELF object, assembly or LLVM IR for the host), nvptx64 (PTX), amdgcn (an HSA code object linked with ld.lld)");
        cl.Value("mcpu", "x86-64: x86-64, x86-64-v2, x86-64-v3 (default), x86-64-v4, native; nvptx64: sm_80 (default), sm_86, sm_89, sm_90; amdgcn: gfx90a (default), gfx940, gfx1100 (LLVM 16 has no gfx941 or gfx942: use gfx940, its ISA sibling)");
        cl.Value("emit", "what to write: x86-64 obj (default), asm, llvm; nvptx64 ptx (default), llvm; amdgcn hsaco (default), obj, asm, llvm; any target: loops (the loop-dialect program)");
        cl.Value("host-out", "GPU targets: where to write the host launcher's LLVM IR (kernel launches, cuBLAS/hipBLAS calls, collectives); default OUT.host.ll");
        cl.Value("entry", "the function to translate (default: the module's only function, else @train_step)");
        cl.Value("output", "the output file ('-' for standard output, text kinds only)", shortName: "o");
        cl.Flag("no-threads", "x86-64: keep parallel loops on the calling thread (no OpenMP outlining)");
        if (!cl.ParseOrExit(args, out var exit)) return exit;
        if (cl.Positional.Count != 1) return Fail($"expected one program file, got {cl.Positional.Count} (see {Tool} --help)");
        var targetName = cl.Get("target") ?? "x86-64";
        if (!Targets.TryGetValue(targetName, out var target))
            return Fail($"unknown --target '{targetName}'; choose x86-64, nvptx64 or amdgcn");
        var cpu = cl.Get("mcpu") ?? target.Default;
        if (!target.Cpus.Contains(cpu))
            return Fail($"--mcpu '{cpu}' is not one of the {targetName} CPUs this tool targets; choose {string.Join(", ", target.Cpus)}" +
                        (cpu == "gfx942" ? " (LLVM 16, Debian's, predates gfx942; gfx940 has its instruction set)" : ""));
        var emit = cl.Get("emit") ?? (targetName switch { "x86-64" => "obj", "nvptx64" => "ptx", _ => "hsaco" });
        var kinds = targetName switch
        {
            "x86-64" => new[] { "obj", "asm", "llvm", "loops" },
            "nvptx64" => new[] { "ptx", "llvm", "loops" },
            _ => new[] { "hsaco", "obj", "asm", "llvm", "loops" },
        };
        if (!kinds.Contains(emit)) return Fail($"--emit {emit} is not available for {targetName}; choose {string.Join(", ", kinds)}");
        var output = cl.Get("output") ?? Fail<string>("-o OUT is required");
        if (output is null) return 1;
        if (output == "-" && emit is "obj" or "hsaco") return Fail($"--emit {emit} is binary; give a file with -o");

        var module = ToolIO.ReadProgram(Tool, cl.Positional[0]);
        if (module is null) return 1;
        var func = ToolIO.FindEntry(module, cl.Get("entry"), out var entryError);
        if (func is null) return Fail(entryError);

        try
        {
            var loops = LoweringPipeline.LowerToLoops(func);
            if (emit == "loops") return Write(output, loops.Block!.ParentOp is { } m ? m.ToString() : loops.ToString()) ? 0 : 1;
            AutoSpIR.Lowering.Llvm.Targets.InitializeAll();
            using var tm = TargetMachine.Create(target.Triple, cpu == "native" ? TargetMachine.Host().Cpu : cpu, target.Features);
            using var llctx = new LlvmContext();
            LlvmDiagnostics.Quiet(llctx);
            if (targetName == "x86-64")
            {
                using var m = new LlvmModule(llctx, FuncDialect.SymName(func));
                ConvertToLlvm.Translate(loops, llctx, m, threads: !cl.GetFlag("no-threads"));
                return Finish(m, tm, emit, output);
            }
            using var device = new LlvmModule(llctx, FuncDialect.SymName(func) + ".device");
            using var host = new LlvmModule(llctx, FuncDialect.SymName(func) + ".host");
            var gpu = ConvertToLlvm.TranslateGpu(loops, llctx, device, host, targetName == "nvptx64" ? GpuTarget.Nvptx : GpuTarget.Amdgpu);
            if (!host.Verify(out var herr)) return Fail($"internal error: the host launcher is invalid LLVM IR: {herr}");
            var hostOut = cl.Get("host-out") ?? (output == "-" ? null : output + ".host.ll");
            if (hostOut is not null && !Write(hostOut, host.Print())) return 1;
            Console.Error.WriteLine($"{Tool}: {gpu.Kernels.Count} kernel{(gpu.Kernels.Count == 1 ? "" : "s")} for {targetName} {cpu}" +
                                    (hostOut is null ? "" : $"; host launcher in {hostOut}"));
            return Finish(device, tm, emit, output);
        }
        catch (LoweringException e)
        {
            Console.Error.WriteLine($"{e.Location}: error: {e.Message}");
        }
        catch (LlvmException e)
        {
            Console.Error.WriteLine($"{Tool}: error: {e.Message}");
        }
        catch (IOException e)
        {
            Console.Error.WriteLine($"{Tool}: error: {e.Message}");
        }
        return 1;
    }

    /// <summary>Verifies, optimizes and writes <paramref name="m"/> as <paramref name="emit"/>.</summary>
    private static int Finish(LlvmModule m, TargetMachine tm, string emit, string output)
    {
        m.SetTarget(tm);
        if (!m.Verify(out var error)) return Fail($"internal error: convert-to-llvm produced invalid LLVM IR: {error}");
        m.Optimize(tm);
        switch (emit)
        {
            case "llvm": return Write(output, m.Print()) ? 0 : 1;
            case "asm" or "ptx": return Write(output, tm.EmitAssembly(m)) ? 0 : 1;
            case "obj":
                File.WriteAllBytes(output, tm.EmitObject(m));
                return 0;
            default:   // hsaco: the relocatable object linked into a shared code object, as ROCm's toolchain does
            {
                var obj = Path.GetTempFileName();
                try
                {
                    File.WriteAllBytes(obj, tm.EmitObject(m));
                    return Link(obj, output);
                }
                finally { File.Delete(obj); }
            }
        }
    }

    private static int Link(string obj, string output)
    {
        var psi = new ProcessStartInfo("ld.lld-16") { RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-shared", obj, "-o", output }) psi.ArgumentList.Add(a);
        try
        {
            using var p = Process.Start(psi)!;
            var err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            return p.ExitCode == 0 ? 0 : Fail($"ld.lld-16 failed: {err.Trim()}");
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return Fail("linking an amdgcn code object needs ld.lld-16 (Debian package lld-16; bin/setup installs it), or use --emit obj");
        }
    }

    private static bool Write(string path, string text) => ToolIO.WriteOutput(Tool, path, w => { w.Write(text); return true; });

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"{Tool}: error: {message}");
        return 1;
    }

    private static T? Fail<T>(string message) where T : class
    {
        Fail(message);
        return null;
    }
}
