using System.Runtime.InteropServices;
using AutoSpIR.Lowering.Llvm;

namespace AutoSpIR.Lowering;

/// <summary>
/// <c>!llvm.loop</c> metadata on a loop's back edge. LLVM-C 16 has no fast-math flags, so a float
/// reduction loop gets <c>llvm.loop.vectorize.enable = true</c> instead, which lets the loop vectorizer
/// reorder its additions (LoopVectorizeHints::allowReordering). A loop ID must refer to itself: it is
/// built from a temporary node replaced by the node that holds it (the C API of llvm-c/DebugInfo.h).
/// </summary>
internal static unsafe partial class LoopMetadata
{
    public static void MarkVectorize(LLVMContextRef c, LLVMValueRef backEdge)
    {
        var temp = TemporaryMDNode(c, null, 0);
        var enable = LlvmApi.MDNodeInContext2(c, new[]
        {
            LlvmApi.MDStringInContext2(c, "llvm.loop.vectorize.enable"),
            LlvmApi.ValueAsMetadata(LlvmApi.ConstInt(LlvmApi.Int1TypeInContext(c), 1, 0)),
        });
        var id = LlvmApi.MDNodeInContext2(c, new[] { temp, enable });
        MetadataReplaceAllUsesWith(temp, id);
        SetMetadata(backEdge, GetMDKindIDInContext(c, "llvm.loop", 9), LlvmApi.MetadataAsValue(c, id));
    }

    [LibraryImport(LlvmApi.Lib, EntryPoint = "LLVMTemporaryMDNode")]
    private static partial LLVMMetadataRef TemporaryMDNode(LLVMContextRef c, LLVMMetadataRef* mds, nuint count);

    /// <summary>Replaces every use of the temporary node and deletes it.</summary>
    [LibraryImport(LlvmApi.Lib, EntryPoint = "LLVMMetadataReplaceAllUsesWith")]
    private static partial void MetadataReplaceAllUsesWith(LLVMMetadataRef temporary, LLVMMetadataRef replacement);

    [LibraryImport(LlvmApi.Lib, EntryPoint = "LLVMGetMDKindIDInContext", StringMarshalling = StringMarshalling.Utf8)]
    private static partial uint GetMDKindIDInContext(LLVMContextRef c, string name, uint length);

    [LibraryImport(LlvmApi.Lib, EntryPoint = "LLVMSetMetadata")]
    private static partial void SetMetadata(LLVMValueRef instruction, uint kind, LLVMValueRef node);
}
