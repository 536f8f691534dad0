namespace AutoSpIR.Lowering.Llvm;

/// <summary>Registers the LLVM backends AutoSpIR emits code for: X86 (host and JIT), NVPTX and AMDGPU.</summary>
public static class Targets
{
    private static readonly object Gate = new();
    private static bool initialized;

    /// <summary>Initializes the X86, NVPTX and AMDGPU targets (info, target, MC, asm printer, asm parser
    /// where one exists). Idempotent and thread-safe; every wrapper that needs a target calls it.</summary>
    public static void InitializeAll()
    {
        lock (Gate)
        {
            if (initialized) return;
            LlvmApi.InitializeX86TargetInfo();
            LlvmApi.InitializeX86Target();
            LlvmApi.InitializeX86TargetMC();
            LlvmApi.InitializeX86AsmPrinter();
            LlvmApi.InitializeX86AsmParser();
            LlvmApi.InitializeNVPTXTargetInfo();
            LlvmApi.InitializeNVPTXTarget();
            LlvmApi.InitializeNVPTXTargetMC();
            LlvmApi.InitializeNVPTXAsmPrinter();
            LlvmApi.InitializeAMDGPUTargetInfo();
            LlvmApi.InitializeAMDGPUTarget();
            LlvmApi.InitializeAMDGPUTargetMC();
            LlvmApi.InitializeAMDGPUAsmPrinter();
            LlvmApi.InitializeAMDGPUAsmParser();
            initialized = true;
        }
    }
}
