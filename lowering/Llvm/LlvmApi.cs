// Raw LLVM-C 16 entry points (Debian's libLLVM-16.so.1), one per C function, each
// named as the C function without its "LLVM" prefix. Nothing here owns anything:
// the safe wrappers (LlvmContext, LlvmModule, LlvmBuilder, TargetMachine, LlvmJit)
// do the disposing. char* results that LLVM allocates come back as nint; TakeMessage
// and TakeError turn them into strings and free them.
using System.Runtime.InteropServices;
using System.Text;

namespace AutoSpIR.Lowering.Llvm;

/// <summary>The LLVM-C API bound with LibraryImport. Strings are passed as UTF-8.</summary>
public static unsafe partial class LlvmApi
{
    /// <summary>The shared library every entry point comes from.</summary>
    public const string Lib = "libLLVM-16.so.1";

    // ---- Context and module

    /// <summary>LLVMContextCreate.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMContextCreate", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMContextRef ContextCreate();

    /// <summary>LLVMContextDispose. Frees the context and every module still in it.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMContextDispose", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void ContextDispose(LLVMContextRef c);

    /// <summary>LLVMModuleCreateWithNameInContext.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMModuleCreateWithNameInContext", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMModuleRef ModuleCreateWithNameInContext(string moduleId, LLVMContextRef c);

    /// <summary>LLVMDisposeModule.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMDisposeModule", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void DisposeModule(LLVMModuleRef m);

    /// <summary>LLVMGetModuleContext.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMGetModuleContext", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMContextRef GetModuleContext(LLVMModuleRef m);

    /// <summary>LLVMSetTarget.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMSetTarget", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void SetTarget(LLVMModuleRef m, string triple);

    /// <summary>LLVMGetTarget. The module's triple; owned by the module, do not free.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMGetTarget", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint GetTarget(LLVMModuleRef m);

    /// <summary>LLVMSetDataLayout.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMSetDataLayout", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void SetDataLayout(LLVMModuleRef m, string dataLayoutStr);

    /// <summary>LLVMGetDataLayoutStr. The module's data layout; owned by the module, do not free.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMGetDataLayoutStr", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint GetDataLayoutStr(LLVMModuleRef m);

    /// <summary>LLVMPrintModuleToString. The module as text; free with DisposeMessage.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMPrintModuleToString", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint PrintModuleToString(LLVMModuleRef m);

    /// <summary>LLVMPrintValueToString.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMPrintValueToString", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint PrintValueToString(LLVMValueRef v);

    /// <summary>LLVMDisposeMessage. Frees a message LLVM returned (PrintModuleToString, VerifyModule, GetHostCPUName, ...).</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMDisposeMessage", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void DisposeMessage(nint message);

    /// <summary>LLVMVerifyModule. Returns 1 when the module is broken; with ReturnStatusAction <paramref name="outMessage"/> holds the report (free it with DisposeMessage).</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMVerifyModule", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int VerifyModule(LLVMModuleRef m, LLVMVerifierFailureAction action, out nint outMessage);

    // ---- Types

    /// <summary>LLVMInt1TypeInContext.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMInt1TypeInContext", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMTypeRef Int1TypeInContext(LLVMContextRef c);

    /// <summary>LLVMInt8TypeInContext.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMInt8TypeInContext", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMTypeRef Int8TypeInContext(LLVMContextRef c);

    /// <summary>LLVMInt16TypeInContext.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMInt16TypeInContext", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMTypeRef Int16TypeInContext(LLVMContextRef c);

    /// <summary>LLVMInt32TypeInContext.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMInt32TypeInContext", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMTypeRef Int32TypeInContext(LLVMContextRef c);

    /// <summary>LLVMInt64TypeInContext.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMInt64TypeInContext", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMTypeRef Int64TypeInContext(LLVMContextRef c);

    /// <summary>LLVMIntTypeInContext.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMIntTypeInContext", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMTypeRef IntTypeInContext(LLVMContextRef c, uint numBits);

    /// <summary>LLVMHalfTypeInContext.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMHalfTypeInContext", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMTypeRef HalfTypeInContext(LLVMContextRef c);

    /// <summary>LLVMBFloatTypeInContext.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBFloatTypeInContext", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMTypeRef BFloatTypeInContext(LLVMContextRef c);

    /// <summary>LLVMFloatTypeInContext.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMFloatTypeInContext", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMTypeRef FloatTypeInContext(LLVMContextRef c);

    /// <summary>LLVMDoubleTypeInContext.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMDoubleTypeInContext", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMTypeRef DoubleTypeInContext(LLVMContextRef c);

    /// <summary>LLVMVoidTypeInContext.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMVoidTypeInContext", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMTypeRef VoidTypeInContext(LLVMContextRef c);

    /// <summary>LLVMPointerTypeInContext. The opaque pointer type <c>ptr addrspace(N)</c>.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMPointerTypeInContext", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMTypeRef PointerTypeInContext(LLVMContextRef c, uint addressSpace);

    /// <summary>LLVMFunctionType.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMFunctionType", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMTypeRef FunctionType(LLVMTypeRef returnType, LLVMTypeRef* paramTypes, uint paramCount, int isVarArg);

    /// <summary>LLVMArrayType.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMArrayType", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMTypeRef ArrayType(LLVMTypeRef elementType, uint elementCount);

    /// <summary>LLVMVectorType.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMVectorType", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMTypeRef VectorType(LLVMTypeRef elementType, uint elementCount);

    /// <summary>LLVMStructTypeInContext.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMStructTypeInContext", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMTypeRef StructTypeInContext(LLVMContextRef c, LLVMTypeRef* elementTypes, uint elementCount, int packed);

    /// <summary>LLVMTypeOf.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMTypeOf", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMTypeRef TypeOf(LLVMValueRef v);

    /// <summary>LLVMGlobalGetValueType.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMGlobalGetValueType", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMTypeRef GlobalGetValueType(LLVMValueRef global);

    // ---- Constants

    /// <summary>LLVMConstInt.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMConstInt", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef ConstInt(LLVMTypeRef intTy, ulong n, int signExtend);

    /// <summary>LLVMConstReal.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMConstReal", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef ConstReal(LLVMTypeRef realTy, double n);

    /// <summary>LLVMConstNull.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMConstNull", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef ConstNull(LLVMTypeRef ty);

    /// <summary>LLVMConstPointerNull.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMConstPointerNull", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef ConstPointerNull(LLVMTypeRef ty);

    /// <summary>LLVMGetUndef.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMGetUndef", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef GetUndef(LLVMTypeRef ty);

    // ---- Functions, attributes, names, metadata

    /// <summary>LLVMAddFunction.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMAddFunction", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef AddFunction(LLVMModuleRef m, string name, LLVMTypeRef functionTy);

    /// <summary>LLVMGetNamedFunction.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMGetNamedFunction", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef GetNamedFunction(LLVMModuleRef m, string name);

    /// <summary>LLVMCountParams.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMCountParams", StringMarshalling = StringMarshalling.Utf8)]
    public static partial uint CountParams(LLVMValueRef fn);

    /// <summary>LLVMGetParam.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMGetParam", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef GetParam(LLVMValueRef fn, uint index);

    /// <summary>LLVMSetLinkage.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMSetLinkage", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void SetLinkage(LLVMValueRef global, LLVMLinkage linkage);

    /// <summary>LLVMGetLinkage.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMGetLinkage", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMLinkage GetLinkage(LLVMValueRef global);

    /// <summary>LLVMSetFunctionCallConv.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMSetFunctionCallConv", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void SetFunctionCallConv(LLVMValueRef fn, uint cc);

    /// <summary>LLVMGetFunctionCallConv.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMGetFunctionCallConv", StringMarshalling = StringMarshalling.Utf8)]
    public static partial uint GetFunctionCallConv(LLVMValueRef fn);

    /// <summary>LLVMAddAttributeAtIndex.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMAddAttributeAtIndex", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void AddAttributeAtIndex(LLVMValueRef fn, uint idx, LLVMAttributeRef a);

    /// <summary>LLVMCreateEnumAttribute.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMCreateEnumAttribute", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMAttributeRef CreateEnumAttribute(LLVMContextRef c, uint kindId, ulong val);

    /// <summary>LLVMGetEnumAttributeKindForName.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMGetEnumAttributeKindForName", StringMarshalling = StringMarshalling.Utf8)]
    public static partial uint GetEnumAttributeKindForName(string name, nuint sLen);

    /// <summary>LLVMSetValueName2.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMSetValueName2", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void SetValueName2(LLVMValueRef val, string name, nuint nameLen);

    /// <summary>LLVMGetNamedMetadata.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMGetNamedMetadata", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMNamedMDNodeRef GetNamedMetadata(LLVMModuleRef m, string name, nuint nameLen);

    /// <summary>LLVMAddNamedMetadataOperand.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMAddNamedMetadataOperand", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void AddNamedMetadataOperand(LLVMModuleRef m, string name, LLVMValueRef val);

    /// <summary>LLVMMDStringInContext2.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMMDStringInContext2", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMMetadataRef MDStringInContext2(LLVMContextRef c, string str, nuint sLen);

    /// <summary>LLVMMDNodeInContext2.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMMDNodeInContext2", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMMetadataRef MDNodeInContext2(LLVMContextRef c, LLVMMetadataRef* mds, nuint count);

    /// <summary>LLVMValueAsMetadata.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMValueAsMetadata", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMMetadataRef ValueAsMetadata(LLVMValueRef val);

    /// <summary>LLVMMetadataAsValue.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMMetadataAsValue", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef MetadataAsValue(LLVMContextRef c, LLVMMetadataRef md);

    // ---- Basic blocks

    /// <summary>LLVMAppendBasicBlockInContext.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMAppendBasicBlockInContext", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMBasicBlockRef AppendBasicBlockInContext(LLVMContextRef c, LLVMValueRef fn, string name);

    /// <summary>LLVMGetInsertBlock.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMGetInsertBlock", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMBasicBlockRef GetInsertBlock(LLVMBuilderRef b);

    /// <summary>LLVMPositionBuilderAtEnd.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMPositionBuilderAtEnd", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void PositionBuilderAtEnd(LLVMBuilderRef b, LLVMBasicBlockRef block);

    /// <summary>LLVMGetBasicBlockParent.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMGetBasicBlockParent", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef GetBasicBlockParent(LLVMBasicBlockRef bb);

    // ---- Builder

    /// <summary>LLVMCreateBuilderInContext.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMCreateBuilderInContext", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMBuilderRef CreateBuilderInContext(LLVMContextRef c);

    /// <summary>LLVMDisposeBuilder.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMDisposeBuilder", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void DisposeBuilder(LLVMBuilderRef b);

    /// <summary>LLVMBuildRet.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildRet", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildRet(LLVMBuilderRef b, LLVMValueRef v);

    /// <summary>LLVMBuildRetVoid.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildRetVoid", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildRetVoid(LLVMBuilderRef b);

    /// <summary>LLVMBuildBr.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildBr", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildBr(LLVMBuilderRef b, LLVMBasicBlockRef dest);

    /// <summary>LLVMBuildCondBr.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildCondBr", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildCondBr(LLVMBuilderRef b, LLVMValueRef cond, LLVMBasicBlockRef then, LLVMBasicBlockRef @else);

    /// <summary>LLVMBuildAdd.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildAdd", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildAdd(LLVMBuilderRef b, LLVMValueRef lhs, LLVMValueRef rhs, string name);

    /// <summary>LLVMBuildSub.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildSub", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildSub(LLVMBuilderRef b, LLVMValueRef lhs, LLVMValueRef rhs, string name);

    /// <summary>LLVMBuildMul.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildMul", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildMul(LLVMBuilderRef b, LLVMValueRef lhs, LLVMValueRef rhs, string name);

    /// <summary>LLVMBuildSDiv.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildSDiv", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildSDiv(LLVMBuilderRef b, LLVMValueRef lhs, LLVMValueRef rhs, string name);

    /// <summary>LLVMBuildUDiv.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildUDiv", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildUDiv(LLVMBuilderRef b, LLVMValueRef lhs, LLVMValueRef rhs, string name);

    /// <summary>LLVMBuildSRem.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildSRem", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildSRem(LLVMBuilderRef b, LLVMValueRef lhs, LLVMValueRef rhs, string name);

    /// <summary>LLVMBuildURem.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildURem", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildURem(LLVMBuilderRef b, LLVMValueRef lhs, LLVMValueRef rhs, string name);

    /// <summary>LLVMBuildAnd.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildAnd", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildAnd(LLVMBuilderRef b, LLVMValueRef lhs, LLVMValueRef rhs, string name);

    /// <summary>LLVMBuildOr.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildOr", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildOr(LLVMBuilderRef b, LLVMValueRef lhs, LLVMValueRef rhs, string name);

    /// <summary>LLVMBuildXor.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildXor", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildXor(LLVMBuilderRef b, LLVMValueRef lhs, LLVMValueRef rhs, string name);

    /// <summary>LLVMBuildShl.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildShl", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildShl(LLVMBuilderRef b, LLVMValueRef lhs, LLVMValueRef rhs, string name);

    /// <summary>LLVMBuildLShr.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildLShr", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildLShr(LLVMBuilderRef b, LLVMValueRef lhs, LLVMValueRef rhs, string name);

    /// <summary>LLVMBuildAShr.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildAShr", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildAShr(LLVMBuilderRef b, LLVMValueRef lhs, LLVMValueRef rhs, string name);

    /// <summary>LLVMBuildNSWAdd.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildNSWAdd", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildNSWAdd(LLVMBuilderRef b, LLVMValueRef lhs, LLVMValueRef rhs, string name);

    /// <summary>LLVMBuildNSWSub.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildNSWSub", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildNSWSub(LLVMBuilderRef b, LLVMValueRef lhs, LLVMValueRef rhs, string name);

    /// <summary>LLVMBuildNSWMul.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildNSWMul", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildNSWMul(LLVMBuilderRef b, LLVMValueRef lhs, LLVMValueRef rhs, string name);

    /// <summary>LLVMBuildNUWAdd.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildNUWAdd", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildNUWAdd(LLVMBuilderRef b, LLVMValueRef lhs, LLVMValueRef rhs, string name);

    /// <summary>LLVMBuildNUWMul.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildNUWMul", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildNUWMul(LLVMBuilderRef b, LLVMValueRef lhs, LLVMValueRef rhs, string name);

    /// <summary>LLVMBuildFAdd.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildFAdd", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildFAdd(LLVMBuilderRef b, LLVMValueRef lhs, LLVMValueRef rhs, string name);

    /// <summary>LLVMBuildFSub.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildFSub", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildFSub(LLVMBuilderRef b, LLVMValueRef lhs, LLVMValueRef rhs, string name);

    /// <summary>LLVMBuildFMul.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildFMul", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildFMul(LLVMBuilderRef b, LLVMValueRef lhs, LLVMValueRef rhs, string name);

    /// <summary>LLVMBuildFDiv.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildFDiv", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildFDiv(LLVMBuilderRef b, LLVMValueRef lhs, LLVMValueRef rhs, string name);

    /// <summary>LLVMBuildFRem.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildFRem", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildFRem(LLVMBuilderRef b, LLVMValueRef lhs, LLVMValueRef rhs, string name);

    /// <summary>LLVMBuildFNeg.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildFNeg", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildFNeg(LLVMBuilderRef b, LLVMValueRef v, string name);

    /// <summary>LLVMBuildNeg.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildNeg", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildNeg(LLVMBuilderRef b, LLVMValueRef v, string name);

    /// <summary>LLVMBuildNot.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildNot", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildNot(LLVMBuilderRef b, LLVMValueRef v, string name);

    /// <summary>LLVMBuildICmp.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildICmp", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildICmp(LLVMBuilderRef b, LLVMIntPredicate op, LLVMValueRef lhs, LLVMValueRef rhs, string name);

    /// <summary>LLVMBuildFCmp.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildFCmp", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildFCmp(LLVMBuilderRef b, LLVMRealPredicate op, LLVMValueRef lhs, LLVMValueRef rhs, string name);

    /// <summary>LLVMBuildSelect.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildSelect", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildSelect(LLVMBuilderRef b, LLVMValueRef cond, LLVMValueRef then, LLVMValueRef @else, string name);

    /// <summary>LLVMBuildSIToFP.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildSIToFP", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildSIToFP(LLVMBuilderRef b, LLVMValueRef val, LLVMTypeRef destTy, string name);

    /// <summary>LLVMBuildUIToFP.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildUIToFP", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildUIToFP(LLVMBuilderRef b, LLVMValueRef val, LLVMTypeRef destTy, string name);

    /// <summary>LLVMBuildFPToSI.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildFPToSI", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildFPToSI(LLVMBuilderRef b, LLVMValueRef val, LLVMTypeRef destTy, string name);

    /// <summary>LLVMBuildFPToUI.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildFPToUI", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildFPToUI(LLVMBuilderRef b, LLVMValueRef val, LLVMTypeRef destTy, string name);

    /// <summary>LLVMBuildFPExt.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildFPExt", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildFPExt(LLVMBuilderRef b, LLVMValueRef val, LLVMTypeRef destTy, string name);

    /// <summary>LLVMBuildFPTrunc.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildFPTrunc", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildFPTrunc(LLVMBuilderRef b, LLVMValueRef val, LLVMTypeRef destTy, string name);

    /// <summary>LLVMBuildSExt.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildSExt", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildSExt(LLVMBuilderRef b, LLVMValueRef val, LLVMTypeRef destTy, string name);

    /// <summary>LLVMBuildZExt.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildZExt", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildZExt(LLVMBuilderRef b, LLVMValueRef val, LLVMTypeRef destTy, string name);

    /// <summary>LLVMBuildTrunc.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildTrunc", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildTrunc(LLVMBuilderRef b, LLVMValueRef val, LLVMTypeRef destTy, string name);

    /// <summary>LLVMBuildBitCast.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildBitCast", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildBitCast(LLVMBuilderRef b, LLVMValueRef val, LLVMTypeRef destTy, string name);

    /// <summary>LLVMBuildPtrToInt.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildPtrToInt", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildPtrToInt(LLVMBuilderRef b, LLVMValueRef val, LLVMTypeRef destTy, string name);

    /// <summary>LLVMBuildIntToPtr.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildIntToPtr", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildIntToPtr(LLVMBuilderRef b, LLVMValueRef val, LLVMTypeRef destTy, string name);

    /// <summary>LLVMBuildAddrSpaceCast.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildAddrSpaceCast", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildAddrSpaceCast(LLVMBuilderRef b, LLVMValueRef val, LLVMTypeRef destTy, string name);

    /// <summary>LLVMBuildLoad2.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildLoad2", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildLoad2(LLVMBuilderRef b, LLVMTypeRef ty, LLVMValueRef pointerVal, string name);

    /// <summary>LLVMBuildStore.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildStore", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildStore(LLVMBuilderRef b, LLVMValueRef val, LLVMValueRef ptr);

    /// <summary>LLVMBuildGEP2.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildGEP2", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildGEP2(LLVMBuilderRef b, LLVMTypeRef ty, LLVMValueRef pointer, LLVMValueRef* indices, uint numIndices, string name);

    /// <summary>LLVMBuildInBoundsGEP2.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildInBoundsGEP2", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildInBoundsGEP2(LLVMBuilderRef b, LLVMTypeRef ty, LLVMValueRef pointer, LLVMValueRef* indices, uint numIndices, string name);

    /// <summary>LLVMBuildCall2.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildCall2", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildCall2(LLVMBuilderRef b, LLVMTypeRef fnTy, LLVMValueRef fn, LLVMValueRef* args, uint numArgs, string name);

    /// <summary>LLVMBuildPhi.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildPhi", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildPhi(LLVMBuilderRef b, LLVMTypeRef ty, string name);

    /// <summary>LLVMAddIncoming.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMAddIncoming", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void AddIncoming(LLVMValueRef phiNode, LLVMValueRef* incomingValues, LLVMBasicBlockRef* incomingBlocks, uint count);

    /// <summary>LLVMBuildAlloca.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildAlloca", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildAlloca(LLVMBuilderRef b, LLVMTypeRef ty, string name);

    /// <summary>LLVMBuildMemCpy.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMBuildMemCpy", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef BuildMemCpy(LLVMBuilderRef b, LLVMValueRef dst, uint dstAlign, LLVMValueRef src, uint srcAlign, LLVMValueRef size);

    // ---- Intrinsics

    /// <summary>LLVMLookupIntrinsicID.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMLookupIntrinsicID", StringMarshalling = StringMarshalling.Utf8)]
    public static partial uint LookupIntrinsicID(string name, nuint nameLen);

    /// <summary>LLVMGetIntrinsicDeclaration.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMGetIntrinsicDeclaration", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMValueRef GetIntrinsicDeclaration(LLVMModuleRef mod, uint id, LLVMTypeRef* paramTypes, nuint paramCount);

    /// <summary>LLVMIntrinsicGetType.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMIntrinsicGetType", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMTypeRef IntrinsicGetType(LLVMContextRef ctx, uint id, LLVMTypeRef* paramTypes, nuint paramCount);

    // ---- Targets

    /// <summary>LLVMInitializeX86TargetInfo.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMInitializeX86TargetInfo", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void InitializeX86TargetInfo();

    /// <summary>LLVMInitializeX86Target.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMInitializeX86Target", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void InitializeX86Target();

    /// <summary>LLVMInitializeX86TargetMC.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMInitializeX86TargetMC", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void InitializeX86TargetMC();

    /// <summary>LLVMInitializeX86AsmPrinter.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMInitializeX86AsmPrinter", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void InitializeX86AsmPrinter();

    /// <summary>LLVMInitializeX86AsmParser.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMInitializeX86AsmParser", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void InitializeX86AsmParser();

    /// <summary>LLVMInitializeNVPTXTargetInfo.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMInitializeNVPTXTargetInfo", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void InitializeNVPTXTargetInfo();

    /// <summary>LLVMInitializeNVPTXTarget.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMInitializeNVPTXTarget", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void InitializeNVPTXTarget();

    /// <summary>LLVMInitializeNVPTXTargetMC.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMInitializeNVPTXTargetMC", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void InitializeNVPTXTargetMC();

    /// <summary>LLVMInitializeNVPTXAsmPrinter.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMInitializeNVPTXAsmPrinter", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void InitializeNVPTXAsmPrinter();

    /// <summary>LLVMInitializeAMDGPUTargetInfo.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMInitializeAMDGPUTargetInfo", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void InitializeAMDGPUTargetInfo();

    /// <summary>LLVMInitializeAMDGPUTarget.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMInitializeAMDGPUTarget", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void InitializeAMDGPUTarget();

    /// <summary>LLVMInitializeAMDGPUTargetMC.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMInitializeAMDGPUTargetMC", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void InitializeAMDGPUTargetMC();

    /// <summary>LLVMInitializeAMDGPUAsmPrinter.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMInitializeAMDGPUAsmPrinter", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void InitializeAMDGPUAsmPrinter();

    /// <summary>LLVMInitializeAMDGPUAsmParser.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMInitializeAMDGPUAsmParser", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void InitializeAMDGPUAsmParser();

    /// <summary>LLVMGetTargetFromTriple.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMGetTargetFromTriple", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int GetTargetFromTriple(string triple, out LLVMTargetRef t, out nint errorMessage);

    /// <summary>LLVMCreateTargetMachine. Unknown CPUs are not an error here: LLVM warns on stderr and ignores them (TargetMachine.Create checks).</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMCreateTargetMachine", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMTargetMachineRef CreateTargetMachine(LLVMTargetRef t, string triple, string cpu, string features, LLVMCodeGenOptLevel level, LLVMRelocMode reloc, LLVMCodeModel codeModel);

    /// <summary>LLVMDisposeTargetMachine.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMDisposeTargetMachine", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void DisposeTargetMachine(LLVMTargetMachineRef t);

    /// <summary>LLVMGetDefaultTargetTriple. Free with DisposeMessage.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMGetDefaultTargetTriple", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint GetDefaultTargetTriple();

    /// <summary>LLVMNormalizeTargetTriple.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMNormalizeTargetTriple", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint NormalizeTargetTriple(string triple);

    /// <summary>LLVMGetHostCPUName. Free with DisposeMessage.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMGetHostCPUName", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint GetHostCPUName();

    /// <summary>LLVMGetHostCPUFeatures. Free with DisposeMessage.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMGetHostCPUFeatures", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint GetHostCPUFeatures();

    /// <summary>LLVMCreateTargetDataLayout.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMCreateTargetDataLayout", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMTargetDataRef CreateTargetDataLayout(LLVMTargetMachineRef t);

    /// <summary>LLVMCopyStringRepOfTargetData. Free with DisposeMessage.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMCopyStringRepOfTargetData", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint CopyStringRepOfTargetData(LLVMTargetDataRef td);

    /// <summary>LLVMDisposeTargetData.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMDisposeTargetData", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void DisposeTargetData(LLVMTargetDataRef td);

    /// <summary>LLVMTargetMachineEmitToMemoryBuffer.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMTargetMachineEmitToMemoryBuffer", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int TargetMachineEmitToMemoryBuffer(LLVMTargetMachineRef t, LLVMModuleRef m, LLVMCodeGenFileType codegen, out nint errorMessage, out LLVMMemoryBufferRef outMemBuf);

    /// <summary>LLVMGetBufferStart.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMGetBufferStart", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint GetBufferStart(LLVMMemoryBufferRef buf);

    /// <summary>LLVMGetBufferSize.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMGetBufferSize", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nuint GetBufferSize(LLVMMemoryBufferRef buf);

    /// <summary>LLVMDisposeMemoryBuffer.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMDisposeMemoryBuffer", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void DisposeMemoryBuffer(LLVMMemoryBufferRef buf);

    // ---- New pass manager (llvm-c/Transforms/PassBuilder.h)

    /// <summary>LLVMRunPasses. Runs a new-pass-manager pipeline string such as default&lt;O3&gt;; returns a null error on success.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMRunPasses", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMErrorRef RunPasses(LLVMModuleRef m, string passes, LLVMTargetMachineRef tm, LLVMPassBuilderOptionsRef options);

    /// <summary>LLVMCreatePassBuilderOptions.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMCreatePassBuilderOptions", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMPassBuilderOptionsRef CreatePassBuilderOptions();

    /// <summary>LLVMDisposePassBuilderOptions.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMDisposePassBuilderOptions", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void DisposePassBuilderOptions(LLVMPassBuilderOptionsRef options);

    // ---- Errors (llvm-c/Error.h)

    /// <summary>LLVMGetErrorMessage. Consumes the error; free the message with DisposeErrorMessage.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMGetErrorMessage", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint GetErrorMessage(LLVMErrorRef err);

    /// <summary>LLVMDisposeErrorMessage.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMDisposeErrorMessage", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void DisposeErrorMessage(nint errMsg);

    /// <summary>LLVMConsumeError.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMConsumeError", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void ConsumeError(LLVMErrorRef err);

    // ---- ORC (llvm-c/Orc.h, llvm-c/LLJIT.h)

    /// <summary>LLVMOrcCreateLLJITBuilder.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMOrcCreateLLJITBuilder", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMOrcLLJITBuilderRef OrcCreateLLJITBuilder();

    /// <summary>LLVMOrcDisposeLLJITBuilder.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMOrcDisposeLLJITBuilder", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void OrcDisposeLLJITBuilder(LLVMOrcLLJITBuilderRef builder);

    /// <summary>LLVMOrcCreateLLJIT. Takes ownership of the builder (even on failure).</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMOrcCreateLLJIT", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMErrorRef OrcCreateLLJIT(out LLVMOrcLLJITRef result, LLVMOrcLLJITBuilderRef builder);

    /// <summary>LLVMOrcDisposeLLJIT. Frees the JIT with all code it holds.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMOrcDisposeLLJIT", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMErrorRef OrcDisposeLLJIT(LLVMOrcLLJITRef j);

    /// <summary>LLVMOrcLLJITGetMainJITDylib.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMOrcLLJITGetMainJITDylib", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMOrcJITDylibRef OrcLLJITGetMainJITDylib(LLVMOrcLLJITRef j);

    /// <summary>LLVMOrcLLJITGetTripleString.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMOrcLLJITGetTripleString", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint OrcLLJITGetTripleString(LLVMOrcLLJITRef j);

    /// <summary>LLVMOrcLLJITGetDataLayoutStr.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMOrcLLJITGetDataLayoutStr", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint OrcLLJITGetDataLayoutStr(LLVMOrcLLJITRef j);

    /// <summary>LLVMOrcLLJITGetGlobalPrefix.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMOrcLLJITGetGlobalPrefix", StringMarshalling = StringMarshalling.Utf8)]
    public static partial byte OrcLLJITGetGlobalPrefix(LLVMOrcLLJITRef j);

    /// <summary>LLVMOrcLLJITMangleAndIntern. Returns a retained pool entry; release it or hand it to OrcAbsoluteSymbols, which takes it over.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMOrcLLJITMangleAndIntern", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMOrcSymbolStringPoolEntryRef OrcLLJITMangleAndIntern(LLVMOrcLLJITRef j, string unmangledName);

    /// <summary>LLVMOrcReleaseSymbolStringPoolEntry.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMOrcReleaseSymbolStringPoolEntry", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void OrcReleaseSymbolStringPoolEntry(LLVMOrcSymbolStringPoolEntryRef s);

    /// <summary>LLVMOrcLLJITAddLLVMIRModule. Takes ownership of the ThreadSafeModule (even on failure).</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMOrcLLJITAddLLVMIRModule", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMErrorRef OrcLLJITAddLLVMIRModule(LLVMOrcLLJITRef j, LLVMOrcJITDylibRef jd, LLVMOrcThreadSafeModuleRef tsm);

    /// <summary>LLVMOrcLLJITLookup. Takes the unmangled name; the JIT mangles it.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMOrcLLJITLookup", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMErrorRef OrcLLJITLookup(LLVMOrcLLJITRef j, out ulong result, string name);

    /// <summary>LLVMOrcCreateNewThreadSafeContext.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMOrcCreateNewThreadSafeContext", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMOrcThreadSafeContextRef OrcCreateNewThreadSafeContext();

    /// <summary>LLVMOrcThreadSafeContextGetContext. The context is owned by the ThreadSafeContext.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMOrcThreadSafeContextGetContext", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMContextRef OrcThreadSafeContextGetContext(LLVMOrcThreadSafeContextRef tsCtx);

    /// <summary>LLVMOrcDisposeThreadSafeContext. Drops the caller's reference; the context lives on while modules/JIT hold it.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMOrcDisposeThreadSafeContext", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void OrcDisposeThreadSafeContext(LLVMOrcThreadSafeContextRef tsCtx);

    /// <summary>LLVMOrcCreateNewThreadSafeModule. Takes ownership of the module.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMOrcCreateNewThreadSafeModule", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMOrcThreadSafeModuleRef OrcCreateNewThreadSafeModule(LLVMModuleRef m, LLVMOrcThreadSafeContextRef tsCtx);

    /// <summary>LLVMOrcDisposeThreadSafeModule.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMOrcDisposeThreadSafeModule", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void OrcDisposeThreadSafeModule(LLVMOrcThreadSafeModuleRef tsm);

    /// <summary>LLVMOrcAbsoluteSymbols. Takes ownership of each pair's Name; the array itself stays the caller's.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMOrcAbsoluteSymbols", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMOrcMaterializationUnitRef OrcAbsoluteSymbols(LLVMOrcCSymbolMapPair* syms, nuint numPairs);

    /// <summary>LLVMOrcDisposeMaterializationUnit.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMOrcDisposeMaterializationUnit", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void OrcDisposeMaterializationUnit(LLVMOrcMaterializationUnitRef mu);

    /// <summary>LLVMOrcJITDylibDefine. On success the JITDylib owns the unit; on failure the caller disposes it.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMOrcJITDylibDefine", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMErrorRef OrcJITDylibDefine(LLVMOrcJITDylibRef jd, LLVMOrcMaterializationUnitRef mu);

    /// <summary>LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess", StringMarshalling = StringMarshalling.Utf8)]
    public static partial LLVMErrorRef OrcCreateDynamicLibrarySearchGeneratorForProcess(out LLVMOrcDefinitionGeneratorRef result, byte globalPrefix, nint filter, nint filterCtx);

    /// <summary>LLVMOrcJITDylibAddGenerator. The JITDylib takes ownership of the generator.</summary>
    [LibraryImport(Lib, EntryPoint = "LLVMOrcJITDylibAddGenerator", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void OrcJITDylibAddGenerator(LLVMOrcJITDylibRef jd, LLVMOrcDefinitionGeneratorRef dg);

    // ---- Convenience overloads (spans instead of pointer + count)

    /// <summary>LLVMFunctionType over a span of parameter types.</summary>
    public static LLVMTypeRef FunctionType(LLVMTypeRef returnType, ReadOnlySpan<LLVMTypeRef> paramTypes, bool isVarArg = false)
    {
        fixed (LLVMTypeRef* p = paramTypes) return FunctionType(returnType, p, (uint)paramTypes.Length, isVarArg ? 1 : 0);
    }

    /// <summary>LLVMStructTypeInContext over a span of element types.</summary>
    public static LLVMTypeRef StructTypeInContext(LLVMContextRef c, ReadOnlySpan<LLVMTypeRef> elementTypes, bool packed = false)
    {
        fixed (LLVMTypeRef* p = elementTypes) return StructTypeInContext(c, p, (uint)elementTypes.Length, packed ? 1 : 0);
    }

    /// <summary>LLVMBuildCall2 over a span of arguments.</summary>
    public static LLVMValueRef BuildCall2(LLVMBuilderRef b, LLVMTypeRef fnTy, LLVMValueRef fn, ReadOnlySpan<LLVMValueRef> args, string name = "")
    {
        fixed (LLVMValueRef* p = args) return BuildCall2(b, fnTy, fn, p, (uint)args.Length, name);
    }

    /// <summary>LLVMBuildGEP2 over a span of indices.</summary>
    public static LLVMValueRef BuildGEP2(LLVMBuilderRef b, LLVMTypeRef ty, LLVMValueRef pointer, ReadOnlySpan<LLVMValueRef> indices, string name = "")
    {
        fixed (LLVMValueRef* p = indices) return BuildGEP2(b, ty, pointer, p, (uint)indices.Length, name);
    }

    /// <summary>LLVMBuildInBoundsGEP2 over a span of indices.</summary>
    public static LLVMValueRef BuildInBoundsGEP2(LLVMBuilderRef b, LLVMTypeRef ty, LLVMValueRef pointer, ReadOnlySpan<LLVMValueRef> indices, string name = "")
    {
        fixed (LLVMValueRef* p = indices) return BuildInBoundsGEP2(b, ty, pointer, p, (uint)indices.Length, name);
    }

    /// <summary>LLVMAddIncoming over parallel spans of values and blocks.</summary>
    public static void AddIncoming(LLVMValueRef phiNode, ReadOnlySpan<LLVMValueRef> values, ReadOnlySpan<LLVMBasicBlockRef> blocks)
    {
        if (values.Length != blocks.Length) throw new ArgumentException("AddIncoming: as many values as blocks");
        fixed (LLVMValueRef* v = values)
        fixed (LLVMBasicBlockRef* bb = blocks)
            AddIncoming(phiNode, v, bb, (uint)values.Length);
    }

    /// <summary>LLVMMDNodeInContext2 over a span of operands.</summary>
    public static LLVMMetadataRef MDNodeInContext2(LLVMContextRef c, ReadOnlySpan<LLVMMetadataRef> mds)
    {
        fixed (LLVMMetadataRef* p = mds) return MDNodeInContext2(c, p, (nuint)mds.Length);
    }

    /// <summary>LLVMMDStringInContext2 with the UTF-8 length computed.</summary>
    public static LLVMMetadataRef MDStringInContext2(LLVMContextRef c, string str) =>
        MDStringInContext2(c, str, (nuint)Encoding.UTF8.GetByteCount(str));

    /// <summary>LLVMSetValueName2 with the UTF-8 length computed.</summary>
    public static void SetValueName2(LLVMValueRef val, string name) =>
        SetValueName2(val, name, (nuint)Encoding.UTF8.GetByteCount(name));

    /// <summary>LLVMGetNamedMetadata with the UTF-8 length computed.</summary>
    public static LLVMNamedMDNodeRef GetNamedMetadata(LLVMModuleRef m, string name) =>
        GetNamedMetadata(m, name, (nuint)Encoding.UTF8.GetByteCount(name));

    /// <summary>LLVMGetEnumAttributeKindForName with the UTF-8 length computed (0 when unknown).</summary>
    public static uint GetEnumAttributeKindForName(string name) =>
        GetEnumAttributeKindForName(name, (nuint)Encoding.UTF8.GetByteCount(name));

    /// <summary>LLVMLookupIntrinsicID with the UTF-8 length computed (0 when unknown).</summary>
    public static uint LookupIntrinsicID(string name) =>
        LookupIntrinsicID(name, (nuint)Encoding.UTF8.GetByteCount(name));

    /// <summary>LLVMGetIntrinsicDeclaration over a span of overload types (e.g. [float] for llvm.exp.f32).</summary>
    public static LLVMValueRef GetIntrinsicDeclaration(LLVMModuleRef mod, uint id, ReadOnlySpan<LLVMTypeRef> paramTypes)
    {
        fixed (LLVMTypeRef* p = paramTypes) return GetIntrinsicDeclaration(mod, id, p, (nuint)paramTypes.Length);
    }

    /// <summary>LLVMIntrinsicGetType over a span of overload types.</summary>
    public static LLVMTypeRef IntrinsicGetType(LLVMContextRef ctx, uint id, ReadOnlySpan<LLVMTypeRef> paramTypes)
    {
        fixed (LLVMTypeRef* p = paramTypes) return IntrinsicGetType(ctx, id, p, (nuint)paramTypes.Length);
    }

    // ---- Owned-string helpers

    /// <summary>Reads a char* LLVM allocated and frees it with DisposeMessage (null -> "").</summary>
    public static string TakeMessage(nint message)
    {
        if (message == 0) return "";
        try { return Marshal.PtrToStringUTF8(message) ?? ""; }
        finally { DisposeMessage(message); }
    }

    /// <summary>Reads a char* LLVM does not want freed (owned by a module or JIT).</summary>
    public static string BorrowString(nint s) => s == 0 ? "" : Marshal.PtrToStringUTF8(s) ?? "";

    /// <summary>Consumes an LLVMErrorRef: null when it is success, its message otherwise.</summary>
    public static string? TakeError(LLVMErrorRef err)
    {
        if (err.IsNull) return null;
        var msg = GetErrorMessage(err);
        try { return Marshal.PtrToStringUTF8(msg) ?? ""; }
        finally { DisposeErrorMessage(msg); }
    }
}
