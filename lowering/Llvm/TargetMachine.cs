using System.Runtime.InteropServices;
using System.Text;

namespace AutoSpIR.Lowering.Llvm;

/// <summary>
/// Owns an llvm::TargetMachine (and caches its triple, CPU, features and data layout). Dispose frees it.
/// The targets are registered on first use (<see cref="Targets.InitializeAll"/>).
/// </summary>
public sealed partial class TargetMachine : IDisposable
{
    private readonly LLVMTargetMachineRef handle;
    private bool disposed;

    private TargetMachine(LLVMTargetMachineRef handle, string triple, string cpu, string features)
    {
        this.handle = handle;
        Triple = triple;
        Cpu = cpu;
        Features = features;
        var td = LlvmApi.CreateTargetDataLayout(handle);
        try { DataLayout = LlvmApi.TakeMessage(LlvmApi.CopyStringRepOfTargetData(td)); }
        finally { LlvmApi.DisposeTargetData(td); }
    }

    /// <summary>The target triple, e.g. x86_64-pc-linux-gnu, nvptx64-nvidia-cuda, amdgcn-amd-amdhsa.</summary>
    public string Triple { get; }

    /// <summary>The CPU, e.g. znver3, sm_90, gfx90a.</summary>
    public string Cpu { get; }

    /// <summary>The feature string, e.g. +avx2,+fma or +ptx78.</summary>
    public string Features { get; }

    /// <summary>The machine's data layout string.</summary>
    public string DataLayout { get; }

    /// <summary>The raw target machine (owned by this wrapper).</summary>
    public LLVMTargetMachineRef Handle
    {
        get { ObjectDisposedException.ThrowIf(disposed, this); return handle; }
    }

    /// <summary>The machine this process runs on (host triple, LLVMGetHostCPUName, LLVMGetHostCPUFeatures),
    /// PIC, JIT code model.</summary>
    public static TargetMachine Host(int optLevel = 3)
    {
        Targets.InitializeAll();
        var triple = LlvmApi.TakeMessage(LlvmApi.GetDefaultTargetTriple());
        var cpu = LlvmApi.TakeMessage(LlvmApi.GetHostCPUName());
        var features = LlvmApi.TakeMessage(LlvmApi.GetHostCPUFeatures());
        return Make(triple, cpu, features, optLevel, LLVMRelocMode.RelocPIC, LLVMCodeModel.CodeModelJITDefault);
    }

    /// <summary>A machine for <paramref name="triple"/>/<paramref name="cpu"/>/<paramref name="features"/> (PIC,
    /// default code model). An unknown triple or CPU is an <see cref="LlvmException"/> naming it.</summary>
    public static TargetMachine Create(string triple, string cpu, string features, int optLevel = 3)
    {
        Targets.InitializeAll();
        return Make(triple, cpu, features, optLevel, LLVMRelocMode.RelocPIC, LLVMCodeModel.CodeModelDefault);
    }

    private static TargetMachine Make(string triple, string cpu, string features, int optLevel, LLVMRelocMode reloc, LLVMCodeModel model)
    {
        if (optLevel is < 0 or > 3) throw new ArgumentOutOfRangeException(nameof(optLevel), optLevel, "0..3");
        if (LlvmApi.GetTargetFromTriple(triple, out var target, out var err) != 0)
            throw new LlvmException($"unknown target triple '{triple}': {LlvmApi.TakeMessage(err)}");
        LlvmApi.TakeMessage(err);
        // LLVM does not fail on an unknown CPU or feature: it writes "'x' is not a recognized processor for
        // this target (ignoring processor)" to stderr and carries on. Catch that warning and make it an error.
        var (tm, warnings) = StderrCapture.Run(() =>
            LlvmApi.CreateTargetMachine(target, triple, cpu, features, (LLVMCodeGenOptLevel)optLevel, reloc, model));
        if (tm.IsNull) throw new LlvmException($"LLVMCreateTargetMachine failed for '{triple}' cpu '{cpu}'");
        if (warnings.Contains("is not a recognized", StringComparison.Ordinal))
        {
            LlvmApi.DisposeTargetMachine(tm);
            throw new LlvmException($"target '{triple}' cpu '{cpu}' features '{features}': {warnings.Trim()}");
        }
        return new TargetMachine(tm, triple, cpu, features);
    }

    /// <summary>Compiles <paramref name="m"/> to an object file (ELF here). Sets the module's triple and data
    /// layout to this machine's first; code generation may rewrite the module's IR.</summary>
    public byte[] EmitObject(LlvmModule m) => Emit(m, LLVMCodeGenFileType.ObjectFile);

    /// <summary>Compiles <paramref name="m"/> to assembly text (PTX for NVPTX). Same effects as <see cref="EmitObject"/>.</summary>
    public string EmitAssembly(LlvmModule m) => Encoding.UTF8.GetString(Emit(m, LLVMCodeGenFileType.AssemblyFile));

    private byte[] Emit(LlvmModule m, LLVMCodeGenFileType kind)
    {
        m.SetTarget(this);
        if (LlvmApi.TargetMachineEmitToMemoryBuffer(Handle, m.Handle, kind, out var err, out var buf) != 0)
            throw new LlvmException($"code generation for {Triple} ({Cpu}) failed: {LlvmApi.TakeMessage(err)}");
        LlvmApi.TakeMessage(err);
        try
        {
            var bytes = new byte[(int)LlvmApi.GetBufferSize(buf)];
            Marshal.Copy(LlvmApi.GetBufferStart(buf), bytes, 0, bytes.Length);
            return bytes;
        }
        finally
        {
            LlvmApi.DisposeMemoryBuffer(buf);
        }
    }

    /// <summary>Frees the target machine (once).</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        LlvmApi.DisposeTargetMachine(handle);
    }

    /// <summary>Runs a native call with file descriptor 2 redirected into a pipe and returns what it wrote;
    /// whatever else landed there meanwhile (other threads) is passed on to the real stderr.</summary>
    private static partial class StderrCapture
    {
        private static readonly object Gate = new();
        private const int O_NONBLOCK = 0x800, O_CLOEXEC = 0x80000;

        public static (T Result, string Text) Run<T>(Func<T> call)
        {
            lock (Gate)
            {
                Span<int> fds = stackalloc int[2];
                if (pipe2(ref fds[0], O_NONBLOCK | O_CLOEXEC) != 0) return (call(), "");
                var saved = dup(2);
                if (saved < 0) { close(fds[0]); close(fds[1]); return (call(), ""); }
                T result;
                try
                {
                    dup2(fds[1], 2);
                    result = call();
                }
                finally
                {
                    dup2(saved, 2);
                    close(saved);
                    close(fds[1]);
                }
                var text = new StringBuilder();
                var chunk = new byte[4096];
                while (true)
                {
                    var n = read(fds[0], chunk, (nint)chunk.Length);
                    if (n <= 0) break;
                    text.Append(Encoding.UTF8.GetString(chunk, 0, (int)n));
                }
                close(fds[0]);
                var s = text.ToString();
                if (s.Length > 0 && !s.Contains("is not a recognized", StringComparison.Ordinal)) Console.Error.Write(s);
                return (result, s);
            }
        }

        [LibraryImport("libc.so.6")] private static partial int pipe2(ref int fds, int flags);
        [LibraryImport("libc.so.6")] private static partial int dup(int fd);
        [LibraryImport("libc.so.6")] private static partial int dup2(int fd, int fd2);
        [LibraryImport("libc.so.6")] private static partial int close(int fd);
        [LibraryImport("libc.so.6")] private static partial nint read(int fd, [Out] byte[] buf, nint count);
    }
}
