using System.Runtime.InteropServices;
using AutoSpIR.Lowering.Llvm;

namespace AutoSpIR.Lowering;

/// <summary>
/// Routes an LLVM context's diagnostics: errors to standard error, warnings and remarks dropped. Without a
/// handler LLVM prints every missed optimization remark (a reduction loop marked
/// <c>llvm.loop.vectorize.enable</c> that does not vectorize, say) to standard error of the process.
/// </summary>
public static unsafe partial class LlvmDiagnostics
{
    public static void Quiet(LlvmContext ctx) => ContextSetDiagnosticHandler(ctx.Handle, &Handle, 0);

    [UnmanagedCallersOnly]
    private static void Handle(nint info, nint context)
    {
        if (GetDiagInfoSeverity(info) != 0) return;   // LLVMDSError = 0; warnings, remarks and notes are dropped
        var text = LlvmApi.TakeMessage(GetDiagInfoDescription(info));
        Console.Error.WriteLine($"LLVM error: {text}");
    }

    [LibraryImport(LlvmApi.Lib, EntryPoint = "LLVMContextSetDiagnosticHandler")]
    private static partial void ContextSetDiagnosticHandler(LLVMContextRef c, delegate* unmanaged<nint, nint, void> handler, nint context);

    [LibraryImport(LlvmApi.Lib, EntryPoint = "LLVMGetDiagInfoSeverity")]
    private static partial int GetDiagInfoSeverity(nint info);

    [LibraryImport(LlvmApi.Lib, EntryPoint = "LLVMGetDiagInfoDescription")]
    private static partial nint GetDiagInfoDescription(nint info);
}
