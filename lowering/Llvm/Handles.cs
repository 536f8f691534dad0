// Typed handles, enums and structs of the LLVM-C 16 API (llvm-c/*.h).
using System.Runtime.InteropServices;

namespace AutoSpIR.Lowering.Llvm;

/// <summary>An llvm::LLVMContext. A raw, non-owning handle: nothing is freed when it goes out of scope.</summary>
public readonly record struct LLVMContextRef(nint Handle)
{
    /// <summary>True when the handle is null.</summary>
    public bool IsNull => Handle == 0;
}

/// <summary>An llvm::Module. A raw, non-owning handle: nothing is freed when it goes out of scope.</summary>
public readonly record struct LLVMModuleRef(nint Handle)
{
    /// <summary>True when the handle is null.</summary>
    public bool IsNull => Handle == 0;
}

/// <summary>An llvm::Type (owned by its context). A raw, non-owning handle: nothing is freed when it goes out of scope.</summary>
public readonly record struct LLVMTypeRef(nint Handle)
{
    /// <summary>True when the handle is null.</summary>
    public bool IsNull => Handle == 0;
}

/// <summary>An llvm::Value (owned by its module or context). A raw, non-owning handle: nothing is freed when it goes out of scope.</summary>
public readonly record struct LLVMValueRef(nint Handle)
{
    /// <summary>True when the handle is null.</summary>
    public bool IsNull => Handle == 0;
}

/// <summary>An llvm::BasicBlock (owned by its function). A raw, non-owning handle: nothing is freed when it goes out of scope.</summary>
public readonly record struct LLVMBasicBlockRef(nint Handle)
{
    /// <summary>True when the handle is null.</summary>
    public bool IsNull => Handle == 0;
}

/// <summary>An llvm::IRBuilder. A raw, non-owning handle: nothing is freed when it goes out of scope.</summary>
public readonly record struct LLVMBuilderRef(nint Handle)
{
    /// <summary>True when the handle is null.</summary>
    public bool IsNull => Handle == 0;
}

/// <summary>An llvm::TargetMachine. A raw, non-owning handle: nothing is freed when it goes out of scope.</summary>
public readonly record struct LLVMTargetMachineRef(nint Handle)
{
    /// <summary>True when the handle is null.</summary>
    public bool IsNull => Handle == 0;
}

/// <summary>An llvm::Target (a static registry entry, never disposed). A raw, non-owning handle: nothing is freed when it goes out of scope.</summary>
public readonly record struct LLVMTargetRef(nint Handle)
{
    /// <summary>True when the handle is null.</summary>
    public bool IsNull => Handle == 0;
}

/// <summary>An llvm::DataLayout. A raw, non-owning handle: nothing is freed when it goes out of scope.</summary>
public readonly record struct LLVMTargetDataRef(nint Handle)
{
    /// <summary>True when the handle is null.</summary>
    public bool IsNull => Handle == 0;
}

/// <summary>An llvm::MemoryBuffer. A raw, non-owning handle: nothing is freed when it goes out of scope.</summary>
public readonly record struct LLVMMemoryBufferRef(nint Handle)
{
    /// <summary>True when the handle is null.</summary>
    public bool IsNull => Handle == 0;
}

/// <summary>An llvm::Attribute (owned by its context). A raw, non-owning handle: nothing is freed when it goes out of scope.</summary>
public readonly record struct LLVMAttributeRef(nint Handle)
{
    /// <summary>True when the handle is null.</summary>
    public bool IsNull => Handle == 0;
}

/// <summary>An llvm::Metadata (owned by its context). A raw, non-owning handle: nothing is freed when it goes out of scope.</summary>
public readonly record struct LLVMMetadataRef(nint Handle)
{
    /// <summary>True when the handle is null.</summary>
    public bool IsNull => Handle == 0;
}

/// <summary>An llvm::NamedMDNode (owned by its module). A raw, non-owning handle: nothing is freed when it goes out of scope.</summary>
public readonly record struct LLVMNamedMDNodeRef(nint Handle)
{
    /// <summary>True when the handle is null.</summary>
    public bool IsNull => Handle == 0;
}

/// <summary>Options of the new pass manager's LLVMRunPasses. A raw, non-owning handle: nothing is freed when it goes out of scope.</summary>
public readonly record struct LLVMPassBuilderOptionsRef(nint Handle)
{
    /// <summary>True when the handle is null.</summary>
    public bool IsNull => Handle == 0;
}

/// <summary>An llvm::Error; consumed by LLVMGetErrorMessage or LLVMConsumeError. A raw, non-owning handle: nothing is freed when it goes out of scope.</summary>
public readonly record struct LLVMErrorRef(nint Handle)
{
    /// <summary>True when the handle is null.</summary>
    public bool IsNull => Handle == 0;
}

/// <summary>An orc::LLJITBuilder. A raw, non-owning handle: nothing is freed when it goes out of scope.</summary>
public readonly record struct LLVMOrcLLJITBuilderRef(nint Handle)
{
    /// <summary>True when the handle is null.</summary>
    public bool IsNull => Handle == 0;
}

/// <summary>An orc::LLJIT. A raw, non-owning handle: nothing is freed when it goes out of scope.</summary>
public readonly record struct LLVMOrcLLJITRef(nint Handle)
{
    /// <summary>True when the handle is null.</summary>
    public bool IsNull => Handle == 0;
}

/// <summary>An orc::JITDylib (owned by its execution session). A raw, non-owning handle: nothing is freed when it goes out of scope.</summary>
public readonly record struct LLVMOrcJITDylibRef(nint Handle)
{
    /// <summary>True when the handle is null.</summary>
    public bool IsNull => Handle == 0;
}

/// <summary>An orc::ThreadSafeContext (reference counted). A raw, non-owning handle: nothing is freed when it goes out of scope.</summary>
public readonly record struct LLVMOrcThreadSafeContextRef(nint Handle)
{
    /// <summary>True when the handle is null.</summary>
    public bool IsNull => Handle == 0;
}

/// <summary>An orc::ThreadSafeModule. A raw, non-owning handle: nothing is freed when it goes out of scope.</summary>
public readonly record struct LLVMOrcThreadSafeModuleRef(nint Handle)
{
    /// <summary>True when the handle is null.</summary>
    public bool IsNull => Handle == 0;
}

/// <summary>An interned symbol name (reference counted). A raw, non-owning handle: nothing is freed when it goes out of scope.</summary>
public readonly record struct LLVMOrcSymbolStringPoolEntryRef(nint Handle)
{
    /// <summary>True when the handle is null.</summary>
    public bool IsNull => Handle == 0;
}

/// <summary>An orc::MaterializationUnit. A raw, non-owning handle: nothing is freed when it goes out of scope.</summary>
public readonly record struct LLVMOrcMaterializationUnitRef(nint Handle)
{
    /// <summary>True when the handle is null.</summary>
    public bool IsNull => Handle == 0;
}

/// <summary>An orc::DefinitionGenerator. A raw, non-owning handle: nothing is freed when it goes out of scope.</summary>
public readonly record struct LLVMOrcDefinitionGeneratorRef(nint Handle)
{
    /// <summary>True when the handle is null.</summary>
    public bool IsNull => Handle == 0;
}
/// <summary>LLVMVerifierFailureAction.</summary>
public enum LLVMVerifierFailureAction
{
    AbortProcessAction = 0,
    PrintMessageAction = 1,
    ReturnStatusAction = 2,
}

/// <summary>LLVMLinkage.</summary>
public enum LLVMLinkage
{
    ExternalLinkage = 0,
    AvailableExternallyLinkage,
    LinkOnceAnyLinkage,
    LinkOnceODRLinkage,
    LinkOnceODRAutoHideLinkage,
    WeakAnyLinkage,
    WeakODRLinkage,
    AppendingLinkage,
    InternalLinkage,
    PrivateLinkage,
    DLLImportLinkage,
    DLLExportLinkage,
    ExternalWeakLinkage,
    GhostLinkage,
    CommonLinkage,
    LinkerPrivateLinkage,
    LinkerPrivateWeakLinkage,
}

/// <summary>LLVMCallConv (the ones AutoSpIR uses; any other number can be passed as a uint).</summary>
public enum LLVMCallConv : uint
{
    CCallConv = 0,
    FastCallConv = 8,
    ColdCallConv = 9,
    X86_64_SysVCallConv = 78,
    PTXKernelCallConv = 71,
    PTXDeviceCallConv = 72,
    AMDGPUKERNELCallConv = 91,
}

/// <summary>LLVMIntPredicate.</summary>
public enum LLVMIntPredicate
{
    IntEQ = 32,
    IntNE,
    IntUGT,
    IntUGE,
    IntULT,
    IntULE,
    IntSGT,
    IntSGE,
    IntSLT,
    IntSLE,
}

/// <summary>LLVMRealPredicate.</summary>
public enum LLVMRealPredicate
{
    RealPredicateFalse = 0,
    RealOEQ,
    RealOGT,
    RealOGE,
    RealOLT,
    RealOLE,
    RealONE,
    RealORD,
    RealUNO,
    RealUEQ,
    RealUGT,
    RealUGE,
    RealULT,
    RealULE,
    RealUNE,
    RealPredicateTrue,
}

/// <summary>LLVMCodeGenOptLevel.</summary>
public enum LLVMCodeGenOptLevel
{
    CodeGenLevelNone = 0,
    CodeGenLevelLess,
    CodeGenLevelDefault,
    CodeGenLevelAggressive,
}

/// <summary>LLVMRelocMode.</summary>
public enum LLVMRelocMode
{
    RelocDefault = 0,
    RelocStatic,
    RelocPIC,
    RelocDynamicNoPic,
    RelocROPI,
    RelocRWPI,
    RelocROPI_RWPI,
}

/// <summary>LLVMCodeModel.</summary>
public enum LLVMCodeModel
{
    CodeModelDefault = 0,
    CodeModelJITDefault,
    CodeModelTiny,
    CodeModelSmall,
    CodeModelKernel,
    CodeModelMedium,
    CodeModelLarge,
}

/// <summary>LLVMCodeGenFileType.</summary>
public enum LLVMCodeGenFileType
{
    AssemblyFile = 0,
    ObjectFile,
}

/// <summary>LLVMJITSymbolGenericFlags (bits of <see cref="LLVMJITSymbolFlags.GenericFlags"/>).</summary>
[Flags]
public enum LLVMJITSymbolGenericFlags : byte
{
    None = 0,
    Exported = 1,
    Weak = 2,
    Callable = 4,
    MaterializationSideEffectsOnly = 8,
}

/// <summary>LLVMJITSymbolFlags: <c>{ uint8_t GenericFlags; uint8_t TargetFlags; }</c> (llvm-c/Orc.h).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct LLVMJITSymbolFlags
{
    public byte GenericFlags;
    public byte TargetFlags;
}

/// <summary>LLVMJITEvaluatedSymbol: <c>{ uint64_t Address; LLVMJITSymbolFlags Flags; }</c> (16 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct LLVMJITEvaluatedSymbol
{
    public ulong Address;
    public LLVMJITSymbolFlags Flags;
}

/// <summary>LLVMOrcCSymbolMapPair: <c>{ LLVMOrcSymbolStringPoolEntryRef Name; LLVMJITEvaluatedSymbol Sym; }</c> (24 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct LLVMOrcCSymbolMapPair
{
    public LLVMOrcSymbolStringPoolEntryRef Name;
    public LLVMJITEvaluatedSymbol Sym;
}
